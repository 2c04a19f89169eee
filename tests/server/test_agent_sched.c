/* An agent's scheduling in the job manager (issue 11), driven step by step
 * (mgr_fixture.h): a paused agent gets no new jobs (its running ones go
 * on) until resumed; a drain past its deadline puts the agent's running
 * jobs back in the queue (queued, not failed; the agent told to stop
 * them); the scheduling is stored before the answer, survives a restart,
 * and a failed commit changes nothing; an unknown agent is 404.
 */
/* Helpers of the shared fixture this file does not need. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mgr_fixture.h"

static void sched(fx_t *f, waiter_t *w, const char *agent, rk_srv_sched_t to, double deadline_s)
{
    json_decref(w->body);
    *w = (waiter_t){0};
    assert_int_equal(rk_srv_mgr_agent_schedule(f->m, (rk_http_wait_t *)w, agent, to, deadline_s),
                     0);
    settle(f);
}

static const char *stored_sched(fx_t *f)
{
    rk_srv_sched_t s;
    assert_int_equal(rk_srv_sched_read(f->store, "a1", &s, NULL), 0);
    return rk_srv_sched_names[s];
}

static void a_paused_agent_gets_no_new_jobs_until_resumed(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    sched(f, w, "a1", RK_SRV_SCHED_PAUSED, -1);
    assert_int_equal(w->status, 200);
    assert_string_equal(json_string_value(json_object_get(w->body, "scheduling")), "paused");
    assert_string_equal(json_string_value(json_object_get(w->body, "agent_id")), "a1");
    assert_string_equal(stored_sched(f), "paused");
    create(f, &f->w[0], "job_a", "a1");
    assert_string_equal(answer_status(&f->w[0]), "queued");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 0);
    sched(f, w, "a1", RK_SRV_SCHED_ENABLED, -1);
    assert_int_equal(w->status, 200);
    assert_string_equal(json_string_value(json_object_get(w->body, "scheduling")), "enabled");
    assert_string_equal(stored_sched(f), "enabled");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
    assert_int_equal(stored(f, "job_a", NULL, 0), RK_JOB_ASSIGNED);
}

static void a_drain_past_its_deadline_requeues_running_jobs(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    accepted(f, "job_r");
    answer(pending(&f->script, "status", "/status/job_r"), 200,
           "{\"job_id\":\"job_r\",\"status\":\"running\",\"timestamp\":\"2026-01-01T00:00:01Z\"}");
    settle(f);
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_RUNNING);
    /* A long deadline: nothing happens yet, and no new job goes there. */
    sched(f, w, "a1", RK_SRV_SCHED_DRAINING, 3600);
    assert_int_equal(w->status, 200);
    assert_string_equal(json_string_value(json_object_get(w->body, "scheduling")), "draining");
    settle(f);
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_RUNNING);
    /* Deadline 0: at once, back in the queue, the agent told to stop it. */
    sched(f, w, "a1", RK_SRV_SCHED_DRAINING, 0);
    settle(f);
    char msg[256];
    assert_int_equal(stored(f, "job_r", msg, sizeof msg), RK_JOB_QUEUED);
    assert_non_null(strstr(msg, "drained"));
    assert_int_equal(count(&f->script, "cancel", "/jobs/job_r"), 1);
    assert_int_equal(f->agent->n_running, 0);
    assert_string_equal(srv__queue_first(f->agent)->job_id, "job_r");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1); /* not sent again yet */
    /* The server restarts meanwhile: the attempt is kept. */
    rk_srv_mgr_free(f->m);
    rk_srv_mgr_config_t cfg = {
        .poll_interval_s = 0.2, .agent_timeout_s = 3600, .timeout_grace_s = 60};
    assert_int_equal(rk_srv_mgr_new(&f->srv, &cfg, &f->m), 0);
    srv__mgr_set_transport(f->m, &scripted, &f->script);
    f->m->reply_finish = reply_finish;
    f->m->reply_release = reply_release;
    assert_int_equal(rk_srv_mgr_recover(f->m), 0);
    f->agent = srv__agent_find(f->m, "a1");
    f->agent->health_at = INT64_MAX;
    /* Resumed: it goes out again, as its next attempt (the agent holds
     * attempt 0 stopped and would answer it as it did). */
    sched(f, w, "a1", RK_SRV_SCHED_ENABLED, -1);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
    assert_int_equal(stored(f, "job_r", NULL, 0), RK_JOB_ASSIGNED);
    rec_t *again = pending(&f->script, "submit", "/jobs");
    assert_non_null(again->body);
    assert_non_null(strstr(again->body, "\"attempt\":1"));
    assert_null(strstr(f->script.recs[0].body, "attempt")); /* the first had none */
}

static void scheduling_survives_a_restart(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    sched(f, w, "a1", RK_SRV_SCHED_PAUSED, -1);
    rk_srv_mgr_free(f->m);
    rk_srv_mgr_config_t cfg = {
        .poll_interval_s = 0.2, .agent_timeout_s = 3600, .timeout_grace_s = 60};
    assert_int_equal(rk_srv_mgr_new(&f->srv, &cfg, &f->m), 0);
    srv__mgr_set_transport(f->m, &scripted, &f->script);
    f->m->reply_finish = reply_finish;
    f->m->reply_release = reply_release;
    assert_int_equal(rk_srv_mgr_recover(f->m), 0);
    f->agent = srv__agent_find(f->m, "a1");
    f->agent->health_at = INT64_MAX;
    assert_int_equal(f->agent->sched, RK_SRV_SCHED_PAUSED);
    create(f, &f->w[0], "job_a", "a1");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 0);
}

static void failures_change_nothing(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    sched(f, w, "nobody", RK_SRV_SCHED_PAUSED, -1);
    assert_int_equal(w->status, 404);
    rk_store_faulty_arm(f->store, RK_FAULTY_DOC_PUT, RK_EIO, 0, 1);
    sched(f, w, "a1", RK_SRV_SCHED_PAUSED, -1);
    assert_int_equal(w->status, 503);
    assert_int_equal(f->agent->sched, RK_SRV_SCHED_ENABLED);
    assert_string_equal(stored_sched(f), "enabled");
    create(f, &f->w[0], "job_a", "a1");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_paused_agent_gets_no_new_jobs_until_resumed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_drain_past_its_deadline_requeues_running_jobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(scheduling_survives_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(failures_change_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
