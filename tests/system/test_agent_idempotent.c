/* ruckus-agent slots and idempotency: the same job_id twice (also on a full
 * agent, also concurrently) runs once; a full agent answers 409 and
 * accepts again once a slot frees; a later attempt of a job the agent
 * holds finished runs anew, once, also after a kill -9 of the agent; long
 * polls answer within milliseconds of a change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/time.h"
#include "rk_test_agent.h"

static void release(rk_test_agent_t *a, const char *id)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/jobs/%s/release", a->data, id);
    assert_int_equal(rk_test_write_file(path, "", 0644), 0);
}

static int count_lines(rk_test_agent_t *a, const char *id)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/jobs/%s/count", a->data, id);
    char *s = rk_test_read_file(path, NULL);
    int n = 0;
    for (char *p = s; p && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

#define WAIT_RELEASE "echo run >> count; while [ ! -f release ]; do sleep 0.005; done"

static void test_same_job_twice_and_full(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    json_t *job = rk_test_job_sh("job_twice", WAIT_RELEASE);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    char *st = rk_test_agent_wait(&a, "job_twice", "running", 5000);
    assert_non_null(st);
    free(st);
    /* Full now: the same id is still accepted, another one is not. */
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_t *other = rk_test_job_sh("job_other", "true");
    rk_test_resp_t r;
    rk_test_req_json(&a.p, "POST", "/api/v1/jobs", other, NULL, &r);
    assert_int_equal(r.status, 409);
    assert_non_null(json_object_get(r.json, "detail"));
    rk_test_resp_cleanup(&r);
    rk_test_req(&a.p, "GET", "/api/v1/status", NULL, NULL, &r);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "active");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r.json, "running_jobs"), 0)), "job_twice");
    rk_test_resp_cleanup(&r);
    release(&a, "job_twice");
    st = rk_test_agent_wait(&a, "job_twice", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    /* The slot is free as soon as the job reads finished. */
    assert_int_equal(rk_test_agent_submit(&a, other), 200);
    /* And after it finished, the same id is answered the same way. */
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    st = rk_test_agent_wait(&a, "job_other", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    assert_int_equal(count_lines(&a, "job_twice"), 1);
    json_decref(job);
    json_decref(other);
    rk_test_agent_cleanup(&a);
}

typedef struct poster {
    rk_test_agent_t *a;
    json_t *job;
    long status;
} poster_t;

static void *post_main(void *arg)
{
    poster_t *p = arg;
    p->status = rk_test_agent_submit(p->a, p->job);
    return NULL;
}

static void test_concurrent_same_id(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, NULL, NULL), 0);
    json_t *job = rk_test_job_sh("job_race", WAIT_RELEASE);
    enum { N = 8 };
    pthread_t th[N];
    poster_t ps[N];
    for (int i = 0; i < N; i++) {
        ps[i] = (poster_t){&a, job, 0};
        assert_int_equal(pthread_create(&th[i], NULL, post_main, &ps[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(ps[i].status, 200);
    }
    char *st = rk_test_agent_wait(&a, "job_race", "running", 5000);
    free(st);
    release(&a, "job_race");
    st = rk_test_agent_wait(&a, "job_race", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    assert_int_equal(count_lines(&a, "job_race"), 1);
    json_decref(job);
    rk_test_agent_cleanup(&a);
}

typedef struct poll {
    rk_test_agent_t *a;
    rk_test_resp_t r;
    rk_time_t answered;
} poll_t;

static void *poll_main(void *arg)
{
    poll_t *p = arg;
    rk_test_req(&p->a->p, "GET", "/api/v1/status/job_poll?wait=30&known=running", NULL, NULL,
                &p->r);
    p->answered = rk_time_now_us();
    return NULL;
}

static void test_long_poll(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    json_t *job = rk_test_job_sh("job_poll", WAIT_RELEASE);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(&a, "job_poll", "running", 5000);
    free(st);

    /* A known status that already differs answers at once. */
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status/job_poll?wait=30&known=assigned", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.seconds < 0.5);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "running");
    rk_test_resp_cleanup(&r);
    /* An unchanged status is held for the wait, then answered as it is. */
    rk_test_req(&a.p, "GET", "/api/v1/status/job_poll?wait=0.3&known=running", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.seconds >= 0.25 && r.seconds < 2);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "running");
    rk_test_resp_cleanup(&r);
    rk_test_req(&a.p, "GET", "/api/v1/status/job_poll?wait=abc", NULL, NULL, &r);
    assert_int_equal(r.status, 422);
    rk_test_resp_cleanup(&r);

    poll_t p = {.a = &a};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_main, &p), 0);
    rk_test_sleep_ms(200);
    release(&a, "job_poll");
    pthread_join(th, NULL);
    assert_int_equal(p.r.status, 200);
    assert_string_equal(json_string_value(json_object_get(p.r.json, "status")), "completed");
    rk_time_t changed = 0;
    assert_int_equal(
        rk_time_parse(json_string_value(json_object_get(p.r.json, "timestamp")), &changed), 0);
    /* Answered within milliseconds of the change. */
    assert_true(p.answered - changed < 50000);
    assert_true(p.answered >= changed);
    rk_test_resp_cleanup(&p.r);
    rk_test_agent_cleanup(&a);
}

static int runs(rk_test_agent_t *a)
{
    char path[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/runs", a->data);
    char *s = rk_test_read_file(path, NULL);
    int n = 0;
    for (char *p = s; p && *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

/* "running" is reported once the process is spawned, before its shell has
 * written anything: wait (bounded) for the line a run writes first. */
static int wait_runs(rk_test_agent_t *a, int n)
{
    for (int waited = 0; runs(a) < n && waited < 5000; waited += 5)
        rk_test_sleep_ms(5);
    return runs(a);
}

static long submit_attempt(rk_test_agent_t *a, json_t *job, int attempt, char *detail, size_t n)
{
    json_object_set_new(job, "attempt", json_integer(attempt));
    rk_test_resp_t r;
    rk_test_req_json(&a->p, "POST", "/api/v1/jobs", job, NULL, &r);
    long st = r.status;
    snprintf(detail, n, "%s", json_string_value(json_object_get(r.json, "detail")) ?: "");
    rk_test_resp_cleanup(&r);
    return st;
}

static void test_later_attempt_runs_anew(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    char script[PATH_MAX + 256], detail[512];
    snprintf(script, sizeof script,
             "echo run >> %s/runs; while [ ! -f release ]; do sleep 0.005; done", a.data);
    json_t *job = rk_test_job_sh("job_again", script);
    assert_int_equal(submit_attempt(&a, job, 0, detail, sizeof detail), 200);
    char *st = rk_test_agent_wait(&a, "job_again", "running", 5000);
    free(st);
    assert_int_equal(wait_runs(&a, 1), 1);
    /* A later attempt while this one runs: not now. */
    assert_int_equal(submit_attempt(&a, job, 1, detail, sizeof detail), 409);
    assert_non_null(strstr(detail, "waits for attempt 0"));
    /* Stopped here (as a drain does), it ends cancelled. */
    rk_test_resp_t r;
    rk_test_req(&a.p, "DELETE", "/api/v1/jobs/job_again", NULL, NULL, &r);
    rk_test_resp_cleanup(&r);
    st = rk_test_agent_wait(&a, "job_again", NULL, 10000);
    assert_string_equal(st, "cancelled");
    free(st);
    /* The same attempt again: answered as before, not run. */
    assert_int_equal(submit_attempt(&a, job, 0, detail, sizeof detail), 200);
    st = rk_test_agent_wait(&a, "job_again", NULL, 5000);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_int_equal(runs(&a), 1);
    /* The next attempt runs anew, once. */
    assert_int_equal(submit_attempt(&a, job, 1, detail, sizeof detail), 200);
    st = rk_test_agent_wait(&a, "job_again", "running", 5000);
    assert_non_null(st);
    free(st);
    assert_int_equal(wait_runs(&a, 2), 2);
    assert_int_equal(submit_attempt(&a, job, 1, detail, sizeof detail), 200);
    release(&a, "job_again");
    st = rk_test_agent_wait(&a, "job_again", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    /* The attempt is kept on disk: after a kill -9 and a restart, attempt
     * 1 is still the one it has. */
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_int_equal(rk_test_agent_restart(&a, 1, NULL, NULL), 0);
    assert_int_equal(submit_attempt(&a, job, 1, detail, sizeof detail), 200);
    st = rk_test_agent_wait(&a, "job_again", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    assert_int_equal(runs(&a), 2);
    json_decref(job);
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_job_twice_and_full),
        cmocka_unit_test(test_later_attempt_runs_anew),
        cmocka_unit_test(test_concurrent_same_id),
        cmocka_unit_test(test_long_poll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
