/* Job dependencies in the job manager (lib/server/depend.c), driven step
 * by step against the failing-on-command store: a waiting job takes no
 * slot and is not sent; a dependency's end and its dependents' changes
 * commit together, and a failed commit leaves the dependent waiting as
 * stored until the end is stored for real; afterok cancels down a chain
 * in one commit, each naming its own dependency; a paused waiting job
 * stays held when its dependencies end and runs on resume.
 */
#include "mgr_fixture.h"
#include "server/depend.h"

/* POST /jobs of job_id on a1 after deps (a JSON array text) with how. */
static void create_after(fx_t *f, waiter_t *w, const char *job_id, const char *deps,
                         const char *how)
{
    rk_job_info_t *jobs = calloc(1, sizeof *jobs);
    int64_t *timeouts = calloc(1, sizeof *timeouts);
    jobs[0].job_id = strdup(job_id);
    jobs[0].experiment_id = strdup(f->exp_id);
    jobs[0].agent_id = strdup("a1");
    jobs[0].created_time = rk_time_now_us();
    jobs[0].extra = json_pack("{s:o,s:s}", "depends_on", load(deps), "dependency", how);
    timeouts[0] = 60;
    assert_int_equal(rk_srv_mgr_create(f->m, (rk_http_wait_t *)w, jobs, timeouts, 1, true), 0);
    settle(f);
}

static srv_job_t *job(fx_t *f, const char *id)
{
    srv_job_t *j = srv__index_get(&f->m->index, id);
    assert_non_null(j);
    return j;
}

static size_t waiting_n(fx_t *f, const char *id)
{
    return json_array_size(json_object_get(srv__deps_extra(job(f, id)), "waiting_for"));
}

static size_t stored_waiting(fx_t *f, const char *id)
{
    rk_job_info_t ji = {0};
    assert_int_equal(rk_store_job_get(f->store, id, false, &ji), 0);
    size_t n = json_array_size(json_object_get(ji.extra, "waiting_for"));
    rk_job_info_cleanup(&ji);
    return n;
}

/* The agent reports job_id ended as state, and hands its result. */
static void ends(fx_t *f, const char *job_id, const char *state)
{
    char url[64], body[512];
    snprintf(url, sizeof url, "/status/%s", job_id);
    snprintf(body, sizeof body,
             "{\"job_id\":\"%s\",\"status\":\"%s\",\"timestamp\":\"2026-01-01T00:00:02Z\"}", job_id,
             state);
    answer(pending(&f->script, "status", url), 200, body);
    settle(f);
    snprintf(url, sizeof url, "/results/%s", job_id);
    result_body(body, sizeof body, job_id, f->exp_id);
    answer(pending(&f->script, "result", url), 200, body);
}

static void a_waiting_job_takes_no_slot_and_is_not_sent(void **state)
{
    fx_t *f = *state;
    f->agent->slots = 2;
    accepted(f, "job_a");
    create_after(f, &f->w[0], "job_b", "[\"job_a\"]", "afterok");
    assert_int_equal(f->w[0].status, 201);
    assert_string_equal(answer_status(&f->w[0]), "queued");
    assert_int_equal(json_array_size(json_object_get(f->w[0].body, "waiting_for")), 1);
    assert_int_equal(job(f, "job_b")->st, SRV_J_WAITING);
    assert_null(srv__queue_first(f->agent)); /* a free slot, and nothing to send */
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_QUEUED);
    assert_int_equal(stored_waiting(f, "job_b"), 1);
    ends(f, "job_a", "completed");
    settle(f);
    assert_int_equal(waiting_n(f, "job_b"), 0);
    assert_int_equal(stored_waiting(f, "job_b"), 0);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_ASSIGNED);
}

static void a_failed_commit_leaves_the_dependent_waiting(void **state)
{
    fx_t *f = *state;
    accepted(f, "job_a");
    create_after(f, &f->w[0], "job_b", "[\"job_a\"]", "afterok");
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    ends(f, "job_a", "completed");
    settle(f);
    /* Nothing stored: A is not completed, so B still waits for it. */
    assert_int_equal(stored(f, "job_a", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(job(f, "job_b")->st, SRV_J_WAITING);
    assert_int_equal(waiting_n(f, "job_b"), 1);
    assert_int_equal(stored_waiting(f, "job_b"), 1);
    assert_null(srv__queue_first(f->agent));
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
    /* The result is asked for again; this time it is kept, and B goes. */
    char body[512];
    result_body(body, sizeof body, "job_a", f->exp_id);
    answer(pending(&f->script, "result", "/results/job_a"), 200, body);
    settle(f);
    assert_int_equal(stored(f, "job_a", NULL, 0), RK_JOB_COMPLETED);
    assert_int_equal(waiting_n(f, "job_b"), 0);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
    assert_non_null(pending(&f->script, "submit", "/jobs"));
    assert_non_null(strstr(pending(&f->script, "submit", "/jobs")->body, "job_b"));
}

static void afterok_cancels_down_the_chain_in_one_commit(void **state)
{
    fx_t *f = *state;
    accepted(f, "job_a");
    create_after(f, &f->w[0], "job_b", "[\"job_a\"]", "afterok");
    create_after(f, &f->w[1], "job_c", "[\"job_b\"]", "afterok");
    create_after(f, &f->w[2], "job_d", "[\"job_b\"]", "afterany");
    unsigned long commits = rk_store_faulty_calls(f->store, RK_FAULTY_COMMIT);
    ends(f, "job_a", "failed");
    srv__mgr_step(f->m, 0);
    char msg[256];
    assert_int_equal(stored(f, "job_b", msg, sizeof msg), RK_JOB_CANCELLED);
    assert_string_equal(msg, "dependency job_a failed");
    assert_int_equal(stored(f, "job_c", msg, sizeof msg), RK_JOB_CANCELLED);
    assert_string_equal(msg, "dependency job_b was cancelled");
    /* afterany: B's end lets D go. */
    assert_int_equal(stored(f, "job_d", NULL, 0), RK_JOB_ASSIGNED);
    assert_true(rk_store_faulty_calls(f->store, RK_FAULTY_COMMIT) - commits <= 3);
    settle(f);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2); /* A and D only */
}

static void a_paused_waiting_job_runs_on_resume(void **state)
{
    fx_t *f = *state;
    f->agent->slots = 2;
    accepted(f, "job_a");
    create_after(f, &f->w[0], "job_b", "[\"job_a\"]", "afterok");
    assert_int_equal(rk_srv_mgr_pause(f->m, (rk_http_wait_t *)&f->w[1], "job_b"), 0);
    settle(f);
    assert_int_equal(f->w[1].status, 200);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_PAUSED);
    ends(f, "job_a", "completed");
    settle(f);
    assert_int_equal(waiting_n(f, "job_b"), 0);
    assert_int_equal(job(f, "job_b")->st, SRV_J_HELD); /* paused: it stays */
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
    assert_int_equal(rk_srv_mgr_resume(f->m, (rk_http_wait_t *)&f->w[2], "job_b"), 0);
    settle(f);
    assert_int_equal(f->w[2].status, 200);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
}

static void a_resumed_job_still_waiting_goes_back_to_waiting(void **state)
{
    fx_t *f = *state;
    f->agent->slots = 2;
    accepted(f, "job_a");
    create_after(f, &f->w[0], "job_b", "[\"job_a\"]", "afterok");
    assert_int_equal(rk_srv_mgr_pause(f->m, (rk_http_wait_t *)&f->w[1], "job_b"), 0);
    settle(f);
    assert_int_equal(rk_srv_mgr_resume(f->m, (rk_http_wait_t *)&f->w[2], "job_b"), 0);
    settle(f);
    assert_int_equal(f->w[2].status, 200);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_QUEUED);
    assert_int_equal(job(f, "job_b")->st, SRV_J_WAITING);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
    /* Its priority may change while it waits. */
    assert_int_equal(rk_srv_mgr_priority(f->m, (rk_http_wait_t *)&f->w[3], "job_b", "high"), 0);
    settle(f);
    assert_int_equal(f->w[3].status, 200);
    assert_int_equal(job(f, "job_b")->st, SRV_J_WAITING);
    ends(f, "job_a", "completed");
    settle(f);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
}

/* Stores job id on a1 as state with extra (a JSON text, or NULL). */
static void put_job(fx_t *f, const char *id, rk_job_state_t state, const char *extra)
{
    rk_job_info_t ji = {.job_id = (char *)id,
                        .experiment_id = f->exp_id,
                        .agent_id = "a1",
                        .created_time = rk_time_now_us(),
                        .priority = RK_PRIO_MEDIUM,
                        .extra = extra ? load(extra) : NULL,
                        .status = {.status = state, .timestamp = rk_time_now_us(), .message = ""}};
    int64_t seq;
    assert_int_equal(rk_store_job_insert(f->store, &ji, &seq), 0);
    json_decref(ji.extra);
}

/* A restart: the waiting jobs come back waiting for what is unfinished,
 * and learn of what ended while the server was down. */
static void recovery_judges_what_ended_while_down(void **state)
{
    fx_t *f = *state;
    put_job(f, "job_done", RK_JOB_COMPLETED, NULL);
    put_job(f, "job_bad", RK_JOB_FAILED, NULL);
    put_job(f, "job_slow", RK_JOB_QUEUED, NULL);
    put_job(f, "job_b", RK_JOB_QUEUED,
            "{\"depends_on\":[\"job_done\"],\"dependency\":\"afterok\","
            "\"waiting_for\":[\"job_done\"]}");
    put_job(f, "job_c", RK_JOB_QUEUED,
            "{\"depends_on\":[\"job_bad\"],\"dependency\":\"afterok\","
            "\"waiting_for\":[\"job_bad\"]}");
    put_job(f, "job_d", RK_JOB_QUEUED,
            "{\"depends_on\":[\"job_slow\",\"job_c\"],\"dependency\":\"afterany\","
            "\"waiting_for\":[\"job_slow\",\"job_c\"]}");
    put_job(f, "job_e", RK_JOB_QUEUED,
            "{\"depends_on\":[\"job_c\"],\"dependency\":\"afterok\","
            "\"waiting_for\":[\"job_c\"]}");
    rk_srv_mgr_t *live = f->m; /* the manager that "crashed": freed at teardown */
    rk_srv_mgr_config_t cfg = live->cfg;
    assert_int_equal(rk_srv_mgr_new(&f->srv, &cfg, &f->m), 0);
    srv__mgr_set_transport(f->m, &scripted, &f->script);
    f->m->reply_finish = reply_finish;
    f->m->reply_release = reply_release;
    assert_int_equal(rk_srv_mgr_recover(f->m), 0);
    char msg[256];
    assert_int_equal(stored_waiting(f, "job_b"), 0); /* its dependency completed: queued */
    assert_int_equal(job(f, "job_b")->st, SRV_J_QUEUED);
    assert_int_equal(stored(f, "job_c", msg, sizeof msg), RK_JOB_CANCELLED);
    assert_string_equal(msg, "dependency job_bad failed");
    assert_int_equal(stored(f, "job_e", msg, sizeof msg), RK_JOB_CANCELLED);
    assert_string_equal(msg, "dependency job_c was cancelled");
    assert_int_equal(job(f, "job_d")->st, SRV_J_WAITING); /* afterany: job_slow still runs */
    assert_int_equal(stored_waiting(f, "job_d"), 1);
    f->agent = srv__agent_find(f->m, "a1");
    f->agent->health_at = INT64_MAX;
    settle(f);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1); /* job_slow (1 slot) */
    rk_srv_mgr_free(live);
}

/* A job paused while it waited comes back asked about (it was placed),
 * is found held, and still learns when its dependency ends. */
static void a_recovered_paused_waiting_job_still_learns(void **state)
{
    fx_t *f = *state;
    put_job(f, "job_slow", RK_JOB_QUEUED, NULL);
    put_job(f, "job_p", RK_JOB_PAUSED,
            "{\"depends_on\":[\"job_slow\"],\"dependency\":\"afterok\","
            "\"waiting_for\":[\"job_slow\"]}");
    rk_srv_mgr_t *live = f->m;
    rk_srv_mgr_config_t cfg = live->cfg;
    assert_int_equal(rk_srv_mgr_new(&f->srv, &cfg, &f->m), 0);
    srv__mgr_set_transport(f->m, &scripted, &f->script);
    f->m->reply_finish = reply_finish;
    f->m->reply_release = reply_release;
    assert_int_equal(rk_srv_mgr_recover(f->m), 0);
    f->agent = srv__agent_find(f->m, "a1");
    f->agent->health_at = INT64_MAX;
    f->agent->slots = 2;
    settle(f);
    answer(pending(&f->script, "status", "/status/job_p"), 404, "{\"detail\":\"not found\"}");
    settle(f);
    assert_int_equal(job(f, "job_p")->st, SRV_J_HELD);
    answer(pending(&f->script, "submit", "/jobs"), 202, "{}");
    settle(f);
    ends(f, "job_slow", "completed");
    settle(f);
    assert_int_equal(stored_waiting(f, "job_p"), 0);
    assert_int_equal(rk_srv_mgr_resume(f->m, (rk_http_wait_t *)&f->w[0], "job_p"), 0);
    settle(f);
    assert_int_equal(f->w[0].status, 200);
    assert_non_null(pending(&f->script, "submit", "/jobs"));
    assert_non_null(strstr(pending(&f->script, "submit", "/jobs")->body, "job_p"));
    rk_srv_mgr_free(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_waiting_job_takes_no_slot_and_is_not_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_failed_commit_leaves_the_dependent_waiting, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(afterok_cancels_down_the_chain_in_one_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_paused_waiting_job_runs_on_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(a_resumed_job_still_waiting_goes_back_to_waiting, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(recovery_judges_what_ended_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(a_recovered_paused_waiting_job_still_learns, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
