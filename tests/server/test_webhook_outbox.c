/* The webhooks' outbox on the manager's side, driven step by step with the
 * faulty store (tests/server/mgr_fixture.h): an event's record is written
 * in the batch of its change and handed to the worker only after the
 * commit; a failed commit leaves neither record nor hand-over; a record
 * that cannot be written fails the change itself; and without webhooks
 * the manager writes nothing more. */
#include "mgr_fixture.h"
#include "server/webhooks.h"

static srv_hooks_t *hooks;
static rk_prom_t *prom;

static int setup_hooks(void **state)
{
    setup(state);
    fx_t *f = *state;
    prom = rk_prom_new();
    assert_non_null(prom);
    const char *const urls[] = {"http://127.0.0.1:9/a", "http://127.0.0.1:9/b"};
    srv_hooks_config_t cfg = {.urls = urls, .n_urls = 2, .secret = "k"};
    assert_int_equal(srv__hooks_new(f->store, prom, &cfg, &hooks), 0);
    assert_non_null(hooks);
    f->m->hooks = hooks; /* the worker is not started: records stay handed over */
    return 0;
}

static int teardown_hooks(void **state)
{
    fx_t *f = *state;
    f->m->hooks = NULL;
    srv__hooks_free(hooks);
    hooks = NULL;
    teardown(state);
    rk_prom_free(prom);
    return 0;
}

/* The outbox's records: their event ids into ids (up to n), the count. */
static size_t outbox(fx_t *f, char ids[][128], size_t n)
{
    char **keys = NULL, **texts = NULL;
    size_t k = 0;
    assert_int_equal(rk_store_doc_list(f->store, SRV_HOOKS_DOC, &keys, &texts, &k), 0);
    for (size_t i = 0; i < k && i < n; i++) {
        json_t *v = json_loads(texts[i], 0, NULL);
        snprintf(ids[i], 128, "%s", json_string_value(json_object_get(v, "event_id")));
        /* the body is the exact text sent: a JSON object with the same id */
        json_t *body = json_loads(json_string_value(json_object_get(v, "body")), 0, NULL);
        assert_string_equal(json_string_value(json_object_get(body, "id")), ids[i]);
        json_decref(body);
        json_decref(v);
    }
    rk_store_docs_free(keys, texts, k);
    return k;
}

static void cancel(fx_t *f, waiter_t *w, const char *id)
{
    json_decref(w->body);
    *w = (waiter_t){0};
    assert_int_equal(rk_srv_mgr_cancel(f->m, (rk_http_wait_t *)w, id, false), 0);
    settle(f);
}

static void an_event_is_stored_with_its_change_and_handed_over_after(void **state)
{
    fx_t *f = *state;
    char ids[4][128];
    create(f, &f->w[0], "job_a", "a1");
    create(f, &f->w[1], "job_b", "a1");     /* queued behind job_a */
    assert_int_equal(outbox(f, ids, 4), 0); /* created, assigned: not sent */
    cancel(f, &f->w[2], "job_b");
    assert_int_equal(f->w[2].status, 200);
    assert_int_equal(outbox(f, ids, 4), 2); /* one per URL */
    assert_string_equal(ids[0], "job.job_b.cancelled");
    assert_string_equal(ids[1], "job.job_b.cancelled");
    assert_int_equal(srv__hooks_held(hooks), 2);
}

static void a_failed_commit_keeps_no_record_and_hands_none_over(void **state)
{
    fx_t *f = *state;
    char ids[4][128];
    create(f, &f->w[0], "job_a", "a1");
    create(f, &f->w[1], "job_b", "a1");
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    cancel(f, &f->w[2], "job_b");
    assert_int_equal(f->w[2].status, 503);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_QUEUED);
    assert_int_equal(outbox(f, ids, 4), 0);
    assert_int_equal(srv__hooks_held(hooks), 0);
    /* the change done again: its event with it */
    cancel(f, &f->w[2], "job_b");
    assert_int_equal(f->w[2].status, 200);
    assert_int_equal(outbox(f, ids, 4), 2);
    assert_int_equal(srv__hooks_held(hooks), 2);
}

static void a_record_that_cannot_be_written_fails_the_change(void **state)
{
    fx_t *f = *state;
    char ids[4][128];
    create(f, &f->w[0], "job_a", "a1");
    create(f, &f->w[1], "job_b", "a1");
    /* the second URL's record fails: nothing of the batch stays */
    rk_store_faulty_arm(f->store, RK_FAULTY_DOC_PUT, RK_EIO, 1, 1);
    cancel(f, &f->w[2], "job_b");
    assert_int_equal(f->w[2].status, 503);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_QUEUED);
    assert_int_equal(outbox(f, ids, 4), 0);
    assert_int_equal(srv__hooks_held(hooks), 0);
}

/* A job completed by its agent: the result, the status and the event in
 * one commit (and a failed one of them leaves no event either). */
static void a_completed_job_sends_its_event_with_its_result(void **state)
{
    fx_t *f = *state;
    char ids[4][128];
    accepted(f, "job_a");
    answer(
        pending(&f->script, "status", "/status/job_a"), 200,
        "{\"job_id\":\"job_a\",\"status\":\"completed\",\"timestamp\":\"2026-01-01T00:00:02Z\"}");
    settle(f);
    char body[512];
    result_body(body, sizeof body, "job_a", f->exp_id);
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    answer(pending(&f->script, "result", "/results/job_a"), 200, body);
    settle(f);
    assert_int_equal(outbox(f, ids, 4), 0);
    assert_int_equal(srv__hooks_held(hooks), 0);
    answer(pending(&f->script, "result", "/results/job_a"), 200, body);
    settle(f);
    assert_int_equal(stored(f, "job_a", NULL, 0), RK_JOB_COMPLETED);
    assert_int_equal(outbox(f, ids, 4), 2);
    assert_string_equal(ids[0], "job.job_a.completed");
    assert_int_equal(srv__hooks_held(hooks), 2);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
}

static void without_webhooks_nothing_more_is_written(void **state)
{
    fx_t *f = *state;
    f->m->hooks = NULL;
    char ids[4][128];
    unsigned long before = rk_store_faulty_calls(f->store, RK_FAULTY_DOC_PUT);
    create(f, &f->w[0], "job_a", "a1");
    create(f, &f->w[1], "job_b", "a1");
    cancel(f, &f->w[2], "job_b");
    assert_int_equal(f->w[2].status, 200);
    assert_int_equal(rk_store_faulty_calls(f->store, RK_FAULTY_DOC_PUT), before);
    assert_int_equal(outbox(f, ids, 4), 0);
    f->m->hooks = hooks;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_event_is_stored_with_its_change_and_handed_over_after,
                                        setup_hooks, teardown_hooks),
        cmocka_unit_test_setup_teardown(a_failed_commit_keeps_no_record_and_hands_none_over,
                                        setup_hooks, teardown_hooks),
        cmocka_unit_test_setup_teardown(a_record_that_cannot_be_written_fails_the_change,
                                        setup_hooks, teardown_hooks),
        cmocka_unit_test_setup_teardown(a_completed_job_sends_its_event_with_its_result,
                                        setup_hooks, teardown_hooks),
        cmocka_unit_test_setup_teardown(without_webhooks_nothing_more_is_written, setup_hooks,
                                        teardown_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
