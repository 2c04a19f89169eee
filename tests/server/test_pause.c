/* Pause and resume in the job manager (issue 11), driven step by step
 * (mgr_fixture.h): a queued job is held in its place and comes back to it;
 * a job on its agent is paused there and stored paused only once the
 * agent confirms; other states are 409; a failed commit changes nothing;
 * a paused job can be cancelled (force reaches the agent); after a restart
 * a paused job stays paused, asking its agent as running jobs do.
 */
/* Helpers of the shared fixture this file does not need. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mgr_fixture.h"

typedef int (*cmd_fn)(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id);

/* Runs cmd on job_id with w (reset first), then settles. */
static void run(fx_t *f, waiter_t *w, cmd_fn cmd, const char *job_id)
{
    json_decref(w->body);
    *w = (waiter_t){0};
    assert_int_equal(cmd(f->m, (rk_http_wait_t *)w, job_id), 0);
    settle(f);
}

static void queue_order(srv_agent_t *a, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (srv_job_t *j = srv__queue_first(a); j; j = srv__queue_next(j))
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", j->job_id);
}

/* Has the agent say job_id is running (the watch's poll answered). */
static void now_running(fx_t *f, const char *job_id)
{
    char part[64], body[256];
    snprintf(part, sizeof part, "/status/%s", job_id);
    snprintf(body, sizeof body,
             "{\"job_id\":\"%s\",\"status\":\"running\",\"timestamp\":\"2026-01-01T00:00:01Z\"}",
             job_id);
    answer(pending(&f->script, "status", part), 200, body);
    settle(f);
    assert_int_equal(stored(f, job_id, NULL, 0), RK_JOB_RUNNING);
}

static void a_queued_job_is_held_in_its_place(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    f->agent->hold_until = INT64_MAX;
    create(f, &f->w[0], "job_a", "a1");
    create(f, &f->w[1], "job_b", "a1");
    create(f, &f->w[2], "job_c", "a1");
    run(f, w, rk_srv_mgr_pause, "job_b");
    assert_int_equal(w->status, 200);
    assert_string_equal(answer_status(w), "paused");
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_PAUSED);
    char order[128];
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_a,job_c");
    assert_int_equal(f->agent->n_held, 1);
    /* Resumed: back between a and c, queued again. */
    run(f, w, rk_srv_mgr_resume, "job_b");
    assert_int_equal(w->status, 200);
    assert_string_equal(answer_status(w), "queued");
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_QUEUED);
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_a,job_b,job_c");
    assert_int_equal(f->agent->n_held, 0);
    /* Held, it is skipped by dispatch: the others go, it stays. */
    run(f, w, rk_srv_mgr_pause, "job_b");
    f->agent->slots = 3;
    f->agent->hold_until = 0;
    settle(f);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
    assert_int_equal(stored(f, "job_a", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(stored(f, "job_c", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_PAUSED);
    run(f, w, rk_srv_mgr_resume, "job_b");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 3);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_ASSIGNED);
}

static void a_running_job_is_paused_once_its_agent_confirms(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    accepted(f, "job_r");
    now_running(f, "job_r");
    run(f, w, rk_srv_mgr_pause, "job_r");
    rec_t *r = pending(&f->script, "control", "/api/v1/jobs/job_r/pause");
    assert_non_null(r);
    assert_int_equal(w->status, 0); /* waits for the agent */
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_RUNNING);
    answer(r, 200, "{\"job_id\":\"job_r\",\"status\":\"paused\"}");
    settle(f);
    assert_int_equal(w->status, 200);
    assert_string_equal(answer_status(w), "paused");
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_PAUSED);
    assert_int_equal(f->agent->n_running, 1); /* it keeps its slot */
    /* A poll answer from before the pause does not make it running. */
    answer(pending(&f->script, "status", "/status/job_r"), 200,
           "{\"job_id\":\"job_r\",\"status\":\"running\",\"timestamp\":\"2026-01-01T00:00:01Z\"}");
    settle(f);
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_PAUSED);
    /* A second pause is refused; resume asks the agent too. */
    run(f, w, rk_srv_mgr_pause, "job_r");
    assert_int_equal(w->status, 409);
    run(f, w, rk_srv_mgr_resume, "job_r");
    r = pending(&f->script, "control", "/api/v1/jobs/job_r/resume");
    assert_non_null(r);
    answer(r, 200, "{\"job_id\":\"job_r\",\"status\":\"running\"}");
    settle(f);
    assert_int_equal(w->status, 200);
    assert_string_equal(answer_status(w), "running");
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_RUNNING);
}

static void the_agents_refusal_and_silence_change_nothing(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    accepted(f, "job_r");
    now_running(f, "job_r");
    run(f, w, rk_srv_mgr_pause, "job_r");
    answer(pending(&f->script, "control", "/pause"), 409, "{\"detail\":\"job finished\"}");
    settle(f);
    assert_int_equal(w->status, 409);
    assert_non_null(strstr(json_string_value(json_object_get(w->body, "detail")), "finished"));
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_RUNNING);
    run(f, w, rk_srv_mgr_pause, "job_r");
    rec_t *r = pending(&f->script, "control", "/pause");
    rk_http_response_t resp = {.err = RK_ECONN, .msg = "connection refused"};
    rk_buf_init(&resp.body, 1024);
    r->answered = true;
    r->cb(&resp, r->ud);
    rk_http_response_cleanup(&resp);
    settle(f);
    assert_int_equal(w->status, 502);
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_RUNNING);
}

static void other_states_are_409_and_unknown_jobs_404(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    f->agent->hold_until = INT64_MAX;
    create(f, &f->w[0], "job_q", "a1");
    run(f, w, rk_srv_mgr_resume, "job_q"); /* queued is not paused */
    assert_int_equal(w->status, 409);
    run(f, w, rk_srv_mgr_pause, "job_q");
    assert_int_equal(w->status, 200);
    run(f, w, rk_srv_mgr_pause, "job_q"); /* already paused */
    assert_int_equal(w->status, 409);
    run(f, w, rk_srv_mgr_pause, "job_nope");
    assert_int_equal(w->status, 404);
    /* Finished: 409 naming its state, nothing changed. */
    assert_int_equal(rk_srv_mgr_cancel(f->m, (rk_http_wait_t *)&f->w[1], "job_q", false), 0);
    settle(f);
    assert_int_equal(f->w[1].status, 200);
    assert_string_equal(answer_status(&f->w[1]), "cancelled"); /* a paused job can be cancelled */
    assert_int_equal(f->agent->n_held, 0);
    run(f, w, rk_srv_mgr_pause, "job_q");
    assert_int_equal(w->status, 409);
    assert_non_null(strstr(json_string_value(json_object_get(w->body, "detail")), "cancelled"));
    run(f, w, rk_srv_mgr_resume, "job_q");
    assert_int_equal(w->status, 409);
    assert_int_equal(stored(f, "job_q", NULL, 0), RK_JOB_CANCELLED);
}

static void a_failed_commit_leaves_the_job_queued(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    f->agent->hold_until = INT64_MAX;
    create(f, &f->w[0], "job_a", "a1");
    create(f, &f->w[1], "job_b", "a1");
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    run(f, w, rk_srv_mgr_pause, "job_a");
    assert_int_equal(w->status, 503);
    assert_int_equal(stored(f, "job_a", NULL, 0), RK_JOB_QUEUED);
    char order[128];
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_a,job_b");
    assert_int_equal(f->agent->n_held, 0);
    /* Held after all, then a failed resume leaves it held. */
    run(f, w, rk_srv_mgr_pause, "job_a");
    assert_int_equal(w->status, 200);
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    run(f, w, rk_srv_mgr_resume, "job_a");
    assert_int_equal(w->status, 503);
    assert_int_equal(stored(f, "job_a", NULL, 0), RK_JOB_PAUSED);
    assert_int_equal(f->agent->n_held, 1);
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_b");
}

static void a_forced_cancel_of_a_paused_job_reaches_the_agent(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    accepted(f, "job_r");
    now_running(f, "job_r");
    run(f, w, rk_srv_mgr_pause, "job_r");
    answer(pending(&f->script, "control", "/pause"), 200, "{}");
    settle(f);
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_PAUSED);
    json_decref(w->body);
    *w = (waiter_t){0};
    assert_int_equal(rk_srv_mgr_cancel(f->m, (rk_http_wait_t *)w, "job_r", true), 0);
    settle(f);
    assert_int_equal(w->status, 202);
    assert_non_null(pending(&f->script, "cancel", "/api/v1/jobs/job_r?force=true"));
}

/* A new manager over the same store, as after kill -9 of the server. */
static void restart(fx_t *f)
{
    rk_srv_mgr_free(f->m);
    rk_srv_mgr_config_t cfg = {
        .poll_interval_s = 0.2, .agent_timeout_s = 3600, .timeout_grace_s = 60};
    assert_int_equal(rk_srv_mgr_new(&f->srv, &cfg, &f->m), 0);
    srv__mgr_set_transport(f->m, &scripted, &f->script);
    f->m->reply_finish = reply_finish;
    f->m->reply_release = reply_release;
    assert_int_equal(rk_srv_mgr_recover(f->m), 0);
    f->agent = srv__agent_find(f->m, "a1");
    assert_non_null(f->agent);
    f->agent->health_at = INT64_MAX;
}

static void paused_stays_paused_across_a_restart(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    accepted(f, "job_r");
    now_running(f, "job_r");
    run(f, w, rk_srv_mgr_pause, "job_r");
    answer(pending(&f->script, "control", "/pause"), 200, "{}");
    settle(f);
    create(f, &f->w[1], "job_h", "a1"); /* queued behind job_r's slot */
    run(f, w, rk_srv_mgr_pause, "job_h");
    assert_int_equal(stored(f, "job_h", NULL, 0), RK_JOB_PAUSED);

    restart(f);
    size_t asked = count(&f->script, "status", "/status/job_h");
    settle(f);
    /* Both are asked about; the agent has job_r (paused), not job_h. */
    answer(pending(&f->script, "status", "/status/job_r"), 200,
           "{\"job_id\":\"job_r\",\"status\":\"paused\",\"timestamp\":\"2026-01-01T00:00:01Z\"}");
    assert_true(count(&f->script, "status", "/status/job_h") > asked);
    answer(pending(&f->script, "status", "/status/job_h"), 404, "{\"detail\":\"unknown job\"}");
    settle(f);
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_PAUSED);
    assert_int_equal(stored(f, "job_h", NULL, 0), RK_JOB_PAUSED);
    assert_int_equal(f->agent->n_held, 1);
    assert_int_equal(f->agent->n_running, 1);
    size_t sent = count(&f->script, "submit", "/jobs");
    settle(f);
    assert_int_equal(count(&f->script, "submit", "/jobs"), sent); /* held: not sent */
    /* Resume after the restart: the held one queues (behind job_r's slot). */
    run(f, w, rk_srv_mgr_resume, "job_h");
    assert_int_equal(w->status, 200);
    assert_int_equal(stored(f, "job_h", NULL, 0), RK_JOB_QUEUED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_queued_job_is_held_in_its_place, setup, teardown),
        cmocka_unit_test_setup_teardown(a_running_job_is_paused_once_its_agent_confirms, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_agents_refusal_and_silence_change_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(other_states_are_409_and_unknown_jobs_404, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_commit_leaves_the_job_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(a_forced_cancel_of_a_paused_job_reaches_the_agent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(paused_stays_paused_across_a_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
