/* ruckus-agent crash recovery: kill -9 during a job (failed, leftovers
 * killed), after a job (result still served, same agent id), and between
 * accept and start (started after the restart, run once); each at both
 * --sync levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk_test_agent.h"

static char *agent_id(rk_test_agent_t *a)
{
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", "/api/v1/info", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    const char *id =
        json_string_value(json_object_get(json_object_get(r.json, "agent_info"), "agent_id"));
    assert_non_null(id);
    char *out = strdup(id);
    rk_test_resp_cleanup(&r);
    return out;
}

/* Run once per --sync level (the prestate): a kill -9 keeps the page
 * cache, so both must recover the same way. */
static void test_kill9_during_job(void **state)
{
    const char *args[] = {"--sync", *state, NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    json_t *job = rk_test_job_sh("job_crash", "sleep 300 & touch ready; wait");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    char ready[PATH_MAX + 64];
    snprintf(ready, sizeof ready, "%s/jobs/job_crash/ready", a.data);
    char *s = NULL;
    for (double end = rk_test_now_ms() + 5000;
         !(s = rk_test_read_file(ready, NULL)) && rk_test_now_ms() < end;)
        rk_test_sleep_ms(5);
    assert_non_null(s);
    free(s);
    /* The running record names the job's process group (its leader, the
     * shell, is alive and leads it). */
    char rec[PATH_MAX + 64];
    snprintf(rec, sizeof rec, "%s/jobs/job_crash/job.json", a.data);
    json_t *jr = json_load_file(rec, 0, NULL);
    json_int_t pgid = json_integer_value(json_object_get(jr, "pgid"));
    json_decref(jr);
    assert_true(pgid > 1);
    assert_int_equal(getpgid((pid_t)pgid), (pid_t)pgid);
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    /* The workload outlived the agent... */
    assert_true(rk_test_job_procs_alive(&a, "job_crash"));
    assert_int_equal(rk_test_agent_restart(&a, 1, args, NULL), 0);
    /* ...until the restarted agent found and killed it, through the
     * recorded group. */
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_crash"}, 3000));
    char *log = rk_test_proc_log(&a.p);
    assert_non_null(log);
    char want[64];
    snprintf(want, sizeof want, "pgid=%lld", (long long)pgid);
    assert_non_null(strstr(log, "killed the leftover process group of a job"));
    assert_non_null(strstr(log, want));
    free(log);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status/job_crash", NULL, NULL, &r);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(r.json, "message")),
                        "agent restarted during the job");
    rk_test_resp_cleanup(&r);
    json_t *res = rk_test_agent_result(&a, "job_crash");
    assert_string_equal(json_string_value(json_object_get(res, "status")), "failed");
    json_decref(res);
    /* Re-sent: answered accepted, never run again. */
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    char *st = rk_test_agent_state(&a, "job_crash");
    assert_string_equal(st, "failed");
    free(st);
    json_decref(job);
    rk_test_agent_cleanup(&a);
}

static void test_kill9_after_job(void **state)
{
    const char *args[] = {"--sync", *state, NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    char *id1 = agent_id(&a);
    assert_non_null(strstr(id1, "agent-"));
    json_t *job = rk_test_job_sh("job_done", "echo '{\"x\": 7}' > \"$RUCKUS_METRICS_FILE\"");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    char *st = rk_test_agent_wait(&a, "job_done", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    json_t *before = rk_test_agent_result(&a, "job_done");
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_int_equal(rk_test_agent_restart(&a, 1, args, NULL), 0);
    char *id2 = agent_id(&a);
    assert_string_equal(id1, id2);
    json_t *after = rk_test_agent_result(&a, "job_done");
    assert_non_null(after);
    assert_true(json_equal(before, after));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(after, "metrics"), "x")),
                     7);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status", NULL, NULL, &r);
    json_t *avail = json_object_get(r.json, "available_results");
    assert_int_equal(json_array_size(avail), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(avail, 0), "job_id")),
                        "job_done");
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "idle");
    rk_test_resp_cleanup(&r);
    /* job.json was not rewritten at the end (result.json is the finished
     * record): the status still reads the result's, with its end time. */
    rk_test_req(&a.p, "GET", "/api/v1/status/job_done", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "completed");
    rk_test_resp_cleanup(&r);
    json_decref(before);
    json_decref(after);
    json_decref(job);
    free(id1);
    free(id2);
    rk_test_agent_cleanup(&a);
}

static void test_kill9_between_accept_and_start(void **state)
{
    rk_test_agent_t a;
    /* The level from the environment this time (RUCKUS_AGENT_SYNC). */
    char sync[32];
    snprintf(sync, sizeof sync, "RUCKUS_AGENT_SYNC=%s", (const char *)*state);
    const char *delay[] = {"RUCKUS_AGENT_TEST_START_DELAY_MS=60000", sync, NULL};
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, delay), 0);
    json_t *job = rk_test_job_sh("job_window", "echo run >> count");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    char *st = rk_test_agent_state(&a, "job_window");
    assert_string_equal(st, "assigned");
    free(st);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status", NULL, NULL, &r);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r.json, "queued_jobs"), 0)), "job_window");
    rk_test_resp_cleanup(&r);
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    const char *env[] = {sync, NULL};
    assert_int_equal(rk_test_agent_restart(&a, 1, NULL, env), 0);
    /* Re-sent by a recovering server: the same job, not a second one. */
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    st = rk_test_agent_wait(&a, "job_window", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs/job_window/count", a.data);
    char *count = rk_test_read_file(path, NULL);
    assert_non_null(count);
    assert_string_equal(count, "run\n");
    free(count);
    json_decref(job);
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(test_kill9_during_job, "normal"),
        cmocka_unit_test_prestate(test_kill9_during_job, "full"),
        cmocka_unit_test_prestate(test_kill9_after_job, "normal"),
        cmocka_unit_test_prestate(test_kill9_after_job, "full"),
        cmocka_unit_test_prestate(test_kill9_between_accept_and_start, "normal"),
        cmocka_unit_test_prestate(test_kill9_between_accept_and_start, "full"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
