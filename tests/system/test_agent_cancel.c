/* ruckus-agent stopping jobs: DELETE of a job that ignores SIGTERM, of a
 * job with children (none survive), the timeout, and the agent's own
 * SIGTERM (jobs recorded failed "agent shut down"), also while a run is
 * being spawned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "rk_test_agent.h"

static const char *const grace_args[] = {"--grace", "0.3", NULL};

static void start(rk_test_agent_t *a)
{
    assert_int_equal(rk_test_agent_start(a, 2, grace_args, NULL), 0);
}

static void wait_running(rk_test_agent_t *a, const char *id)
{
    char *st = rk_test_agent_wait(a, id, "running", 5000);
    assert_non_null(st);
    free(st);
}

/* Waits until file `name` in the job's folder exists (the workload is
 * set up). */
static void wait_file(rk_test_agent_t *a, const char *id, const char *name)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/jobs/%s/%s", a->data, id, name);
    double end = rk_test_now_ms() + 5000;
    char *s;
    while (!(s = rk_test_read_file(path, NULL)) && rk_test_now_ms() < end)
        rk_test_sleep_ms(5);
    assert_non_null(s);
    free(s);
}

static long delete_job(rk_test_agent_t *a, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    rk_test_resp_t r;
    rk_test_req(&a->p, "DELETE", path, NULL, NULL, &r);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

static void test_cancel_ignores_sigterm(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a);
    json_t *job =
        rk_test_job_sh("job_stubborn", "trap '' TERM; touch ready; while :; do sleep 0.02; done");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    wait_running(&a, "job_stubborn");
    wait_file(&a, "job_stubborn", "ready");
    double t0 = rk_test_now_ms();
    assert_int_equal(delete_job(&a, "job_stubborn"), 202);
    char *st = rk_test_agent_wait(&a, "job_stubborn", NULL, 10000);
    double took = rk_test_now_ms() - t0;
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(took >= 250); /* the grace was given */
    assert_true(took < 5000); /* then SIGKILL */
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_stubborn"}, 3000));
    /* Finished: a second DELETE is a conflict; an unknown id is 404. */
    assert_int_equal(delete_job(&a, "job_stubborn"), 409);
    assert_int_equal(delete_job(&a, "job_nothere"), 404);
    json_t *r = rk_test_agent_result(&a, "job_stubborn");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "cancelled");
    json_decref(r);
    rk_test_agent_cleanup(&a);
}

static void test_cancel_kills_children(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a);
    json_t *job = rk_test_job_sh(
        "job_family", "sleep 300 & sleep 300 & (setsid sleep 300 &) ; "
                      "(trap '' TERM; while :; do sleep 0.05; done) & touch ready; wait");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    wait_running(&a, "job_family");
    wait_file(&a, "job_family", "ready");
    assert_true(rk_test_job_procs_alive(&a, "job_family"));
    assert_int_equal(delete_job(&a, "job_family"), 202);
    char *st = rk_test_agent_wait(&a, "job_family", NULL, 10000);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_family"}, 5000));
    rk_test_agent_cleanup(&a);
}

static void test_timeout(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a);
    json_t *job = rk_test_job("job_slow", "command", json_pack("{s:[ss]}", "argv", "sleep", "30"),
                              json_pack("{s:i}", "timeout_seconds", 1));
    double t0 = rk_test_now_ms();
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(&a, "job_slow", NULL, 10000);
    double took = rk_test_now_ms() - t0;
    assert_string_equal(st, "timeout");
    free(st);
    assert_true(took >= 900 && took < 5000);
    json_t *r = rk_test_agent_result(&a, "job_slow");
    assert_non_null(r);
    assert_non_null(json_string_value(json_object_get(r, "error")));
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "timed out"));
    json_decref(r);
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_slow"}, 3000));
    rk_test_agent_cleanup(&a);
}

static void test_agent_sigterm(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a);
    json_t *job =
        rk_test_job_sh("job_shut", "trap '' TERM; touch ready; while :; do sleep 0.02; done");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    wait_running(&a, "job_shut");
    wait_file(&a, "job_shut", "ready");
    int status = -1;
    double t0 = rk_test_now_ms();
    assert_int_equal(rk_test_proc_stop(&a.p, SIGTERM, 10000, &status), 0);
    assert_int_equal(status, 0);
    assert_true(rk_test_now_ms() - t0 >= 250);
    assert_false(rk_test_job_procs_alive(&a, "job_shut"));
    assert_int_equal(rk_test_agent_restart(&a, 2, grace_args, NULL), 0);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status/job_shut", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(r.json, "message")), "agent shut down");
    rk_test_resp_cleanup(&r);
    /* Re-sent after the restart: still the same job, not run again. */
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    char *st = rk_test_agent_state(&a, "job_shut");
    assert_string_equal(st, "failed");
    free(st);
    json_decref(job);
    rk_test_agent_cleanup(&a);
}

/* A job POSTed from another thread (the POST answers after the spawn). */
typedef struct poster {
    rk_test_agent_t *a;
    json_t *job;
    long status;
    pthread_t th;
} poster_t;

static void *post_thread(void *arg)
{
    poster_t *p = arg;
    p->status = rk_test_agent_submit(p->a, p->job);
    return NULL;
}

/* The spawn runs with the agent's lock dropped: a DELETE and a SIGTERM
 * that come while a run is being spawned are acted on once it is. The
 * test hook widens that window to 400 ms. */
static const char *const spawn_delay_env[] = {RK_AGENT_TEST_SPAWN_DELAY_ENV "=400", NULL};

/* Starts an agent with the widened window and POSTs `exec sleep 30` as id
 * from a thread; returns once the agent knows the job, which is stored
 * running before the spawn, so its status already says so. */
static void start_spawning(rk_test_agent_t *a, poster_t *p, const char *id)
{
    assert_int_equal(rk_test_agent_start(a, 2, grace_args, spawn_delay_env), 0);
    *p = (poster_t){.a = a, .job = rk_test_job_sh(id, "exec sleep 30")};
    assert_int_equal(pthread_create(&p->th, NULL, post_thread, p), 0);
    char *st = NULL;
    for (double end = rk_test_now_ms() + 5000; !st && rk_test_now_ms() < end;)
        if (!(st = rk_test_agent_state(a, id)))
            rk_test_sleep_ms(5);
    assert_non_null(st);
    assert_string_equal(st, "running");
    free(st);
}

static void test_cancel_while_spawning(void **state)
{
    (void)state;
    rk_test_agent_t a;
    poster_t p;
    start_spawning(&a, &p, "job_spawning");
    double t0 = rk_test_now_ms();
    assert_int_equal(delete_job(&a, "job_spawning"), 202);
    assert_true(rk_test_now_ms() - t0 < 300); /* not held up by the spawn */
    pthread_join(p.th, NULL);
    assert_int_equal(p.status, 200);
    char *st = rk_test_agent_wait(&a, "job_spawning", NULL, 10000);
    assert_non_null(st);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(rk_test_now_ms() - t0 < 5000); /* not the 30 s of sleep */
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_spawning"}, 3000));
    json_decref(p.job);
    rk_test_agent_cleanup(&a);
}

static void test_sigterm_while_spawning(void **state)
{
    (void)state;
    rk_test_agent_t a;
    poster_t p;
    start_spawning(&a, &p, "job_spawn_stop");
    int status = -1;
    double t0 = rk_test_now_ms();
    assert_int_equal(rk_test_proc_stop(&a.p, SIGTERM, 10000, &status), 0);
    assert_int_equal(status, 0);
    assert_true(rk_test_now_ms() - t0 < 5000);
    pthread_join(p.th, NULL);
    assert_false(rk_test_job_procs_alive(&a, "job_spawn_stop"));
    assert_int_equal(rk_test_agent_restart(&a, 2, grace_args, NULL), 0);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status/job_spawn_stop", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(r.json, "message")), "agent shut down");
    rk_test_resp_cleanup(&r);
    json_decref(p.job);
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_ignores_sigterm),
        cmocka_unit_test(test_cancel_while_spawning),
        cmocka_unit_test(test_sigterm_while_spawning),
        cmocka_unit_test(test_cancel_kills_children),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_agent_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
