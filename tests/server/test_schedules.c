/* Schedules in the job manager, driven step by step over the failing store
 * (mgr_fixture.h): a due schedule fires once, its claim and its jobs in one
 * commit; a failed commit (or a failed write of the schedule) leaves
 * neither, and the firing is tried again; a paused or moved schedule's old
 * heap entry fires nothing; a restart with a slot long past fires once.
 */
/* The fixture's helpers are shared; this file uses some of them. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mgr_fixture.h"
#include "rk_test.h"
#include "server/schedules.h"

/* Stores schedule id of the fixture's experiment, `* * * * *`, due at
 * next (µs), enabled or not. */
static void put_schedule(fx_t *f, const char *id, rk_time_t next, bool enabled)
{
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "schedule_id", id, "name", "t", "cron",
                            "* * * * *", "experiment_id", f->exp_id, "priority", "medium",
                            "exclusive", 0, "enabled", enabled);
    rk_json_set_time(doc, "created_at", next - 60000000);
    rk_json_set_time(doc, "next_run_at", next);
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_int_equal(rk_store_doc_put(f->store, RK_SRV_SCHEDULE_DOC, id, text), 0);
    free(text);
    json_decref(doc);
}

static json_t *get_schedule(fx_t *f, const char *id)
{
    char *text = NULL;
    assert_int_equal(rk_store_doc_get(f->store, RK_SRV_SCHEDULE_DOC, id, &text), 0);
    json_t *v = load(text);
    free(text);
    return v;
}

static rk_time_t doc_time(const json_t *doc, const char *key)
{
    rk_time_t t = 0;
    const char *s = json_string_value(json_object_get(doc, key));
    if (!s || rk_time_parse(s, &t))
        return 0;
    return t;
}

static size_t stored_jobs(fx_t *f)
{
    rk_page_t page = {.limit = 1000};
    rk_job_info_t *v = NULL;
    size_t n = 0;
    assert_int_equal(rk_store_job_list(f->store, &(rk_job_filter_t){0}, &page, &v, &n), 0);
    rk_store_jobs_free(v, n);
    return n;
}

/* Due: one firing, the jobs and the advanced schedule stored together;
 * the next tick fires nothing more. */
static void a_due_schedule_fires_once(void **state)
{
    fx_t *f = *state;
    rk_time_t now = rk_time_now_us();
    put_schedule(f, "sch_00000001", now - 5 * 60000000LL, true); /* five minutes missed */
    assert_int_equal(srv__schedules_load(f->m), 0);
    settle(f);
    assert_int_equal(stored_jobs(f), 1);
    json_t *doc = get_schedule(f, "sch_00000001");
    json_t *ids = json_object_get(doc, "last_job_ids");
    assert_int_equal(json_array_size(ids), 1);
    rk_job_info_t ji = {0};
    assert_int_equal(
        rk_store_job_get(f->store, json_string_value(json_array_get(ids, 0)), false, &ji), 0);
    assert_string_equal(ji.agent_id, "a1");
    rk_job_info_cleanup(&ji);
    /* once for the missed minutes, next slot after now */
    rk_time_t next = doc_time(doc, "next_run_at");
    assert_true(next > now && next <= now + 61000000LL);
    assert_true(doc_time(doc, "last_run_at") >= now);
    json_decref(doc);
    settle(f);
    assert_int_equal(stored_jobs(f), 1);
}

/* The commit of the firing fails: no job and no claim are stored, nothing
 * is tracked; the firing is tried again (after RK_SRV_SCHEDULE_RETRY_US)
 * and then happens once. */
static void a_failed_commit_fires_nothing_then_retries(void **state)
{
    fx_t *f = *state;
    rk_time_t due = rk_time_now_us() - 1000;
    put_schedule(f, "sch_00000002", due, true);
    assert_int_equal(srv__schedules_load(f->m), 0);
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    settle(f);
    assert_int_equal(stored_jobs(f), 0);
    json_t *doc = get_schedule(f, "sch_00000002");
    assert_int_equal(doc_time(doc, "next_run_at"), due); /* not claimed */
    assert_null(json_object_get(doc, "last_run_at"));
    json_decref(doc);
    assert_null(srv__queue_first(f->agent));
    assert_int_equal(f->agent->n_running, 0);
    rk_test_sleep_ms(RK_SRV_SCHEDULE_RETRY_US / 1000 + 100);
    settle(f);
    assert_int_equal(stored_jobs(f), 1);
    doc = get_schedule(f, "sch_00000002");
    assert_true(doc_time(doc, "next_run_at") > due);
    json_decref(doc);
}

/* The schedule's own write fails: its jobs, in the same batch, go too. */
static void a_failed_claim_stores_no_job(void **state)
{
    fx_t *f = *state;
    rk_time_t due = rk_time_now_us() - 1000;
    put_schedule(f, "sch_00000003", due, true);
    assert_int_equal(srv__schedules_load(f->m), 0);
    rk_store_faulty_arm(f->store, RK_FAULTY_DOC_REPLACE, RK_EIO, 0, 1);
    settle(f);
    assert_int_equal(stored_jobs(f), 0);
    json_t *doc = get_schedule(f, "sch_00000003");
    assert_int_equal(doc_time(doc, "next_run_at"), due);
    json_decref(doc);
}

/* Another server claimed the slot first (the store's compare and swap
 * answers RK_ESTATE): no job here, nothing else in the batch harmed; the
 * schedule is read again later and fires at its next slot as usual. */
static void a_claim_lost_to_another_server_makes_no_job(void **state)
{
    fx_t *f = *state;
    rk_time_t due = rk_time_now_us() - 1000;
    put_schedule(f, "sch_00000005", due, true);
    assert_int_equal(srv__schedules_load(f->m), 0);
    rk_store_faulty_arm(f->store, RK_FAULTY_DOC_REPLACE, RK_ESTATE, 0, 1);
    settle(f);
    assert_int_equal(stored_jobs(f), 0);
    json_t *doc = get_schedule(f, "sch_00000005");
    assert_int_equal(doc_time(doc, "next_run_at"), due); /* this server wrote nothing */
    json_decref(doc);
    rk_test_sleep_ms(RK_SRV_SCHEDULE_RETRY_US / 1000 + 100);
    settle(f);
    assert_int_equal(stored_jobs(f), 1); /* still due here (the "other server" never wrote) */
}

/* A heap entry whose schedule was paused, moved or deleted since fires
 * nothing: the store decides. */
static void stale_entries_fire_nothing(void **state)
{
    fx_t *f = *state;
    rk_time_t now = rk_time_now_us();
    put_schedule(f, "sch_00000004", now - 1000, true);
    put_schedule(f, "sch_00000005", now - 1000, true);
    put_schedule(f, "sch_00000006", now - 1000, true);
    assert_int_equal(srv__schedules_load(f->m), 0);
    put_schedule(f, "sch_00000004", now - 1000, false);        /* paused */
    put_schedule(f, "sch_00000005", now + 3600000000LL, true); /* moved */
    assert_int_equal(rk_store_doc_delete(f->store, RK_SRV_SCHEDULE_DOC, "sch_00000006"), 0);
    settle(f);
    assert_int_equal(stored_jobs(f), 0);
}

/* Run now through the command queue: 201 {jobs}, next_run_at unchanged;
 * an unknown id is 404. */
static void run_now_answers_the_jobs(void **state)
{
    fx_t *f = *state;
    rk_time_t next = rk_time_now_us() + 3600000000LL;
    put_schedule(f, "sch_00000007", next, false);
    waiter_t *w = &f->w[0];
    assert_int_equal(
        rk_srv_mgr_schedule(f->m, (rk_http_wait_t *)w, RK_SRV_SCH_RUN, "sch_00000007", NULL), 0);
    settle(f);
    /* like any create, it answers once its job's dispatch is settled */
    answer(pending(&f->script, "submit", "/jobs"), 202, "{}");
    settle(f);
    assert_int_equal(w->status, 201);
    json_t *jobs = json_object_get(w->body, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 0), "schedule_id")),
                        "sch_00000007");
    json_t *doc = get_schedule(f, "sch_00000007");
    assert_int_equal(doc_time(doc, "next_run_at"), next);
    assert_false(json_is_true(json_object_get(doc, "enabled")));
    json_decref(doc);
    waiter_t *w2 = &f->w[1];
    assert_int_equal(
        rk_srv_mgr_schedule(f->m, (rk_http_wait_t *)w2, RK_SRV_SCH_RUN, "sch_0000dead", NULL), 0);
    settle(f);
    assert_int_equal(w2->status, 404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_due_schedule_fires_once, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_commit_fires_nothing_then_retries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failed_claim_stores_no_job, setup, teardown),
        cmocka_unit_test_setup_teardown(a_claim_lost_to_another_server_makes_no_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(stale_entries_fire_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(run_now_answers_the_jobs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
