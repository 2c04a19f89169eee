/* The agent's job index keeps, as jobs finish, the latest RECENT_MAX
 * finished jobs in order (GET /status's available_results) and the open
 * jobs (running_jobs, queued_jobs), so the status never walks or sorts the
 * retained jobs. Each test builds an index by hand, no agent threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/internal.h"

static job_t *job(rk_agent_t *a, int n, rk_job_state_t st, rk_time_t finished_at)
{
    job_t *j = calloc(1, sizeof *j);
    assert_non_null(j);
    snprintf(j->id, sizeof j->id, "job_%d", n);
    j->agent = a;
    j->state = st;
    j->finished_at = finished_at;
    return j;
}

static void free_all(rk_agent_t *a)
{
    for (job_t *j = a->jobs, *next; j; j = next) {
        next = j->next;
        agent__job_remove(a, j);
        agent__job_free(j);
    }
    assert_null(a->jobs);
    assert_null(a->open);
    assert_int_equal(a->n_recent, 0);
    free(a->recent_text);
    a->recent_text = NULL;
}

/* GET /status's body for a, parsed. */
static json_t *status_of(rk_agent_t *a)
{
    rk_buf_t b;
    rk_buf_init(&b, SIZE_MAX);
    assert_int_equal(agent__status_text(a, &b), 0);
    json_error_t err;
    json_t *o = json_loads(rk_buf_str(&b), 0, &err);
    if (!o)
        fail_msg("status is not JSON (%s): %s", err.text, rk_buf_str(&b));
    rk_buf_cleanup(&b);
    return o;
}

static const char *result_id(json_t *o, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(o, "available_results"), i), "job_id"));
}

/* a->recent holds exactly the RECENT_MAX latest of the finished jobs
 * (by finished_at; times here are distinct), latest first. */
static void assert_recent_is_latest(const rk_agent_t *a)
{
    size_t n = 0;
    for (const job_t *j = a->jobs; j; j = j->next)
        n += j->state > RK_JOB_RUNNING;
    assert_int_equal(a->n_recent, n < RECENT_MAX ? (int)n : RECENT_MAX);
    for (int i = 1; i < a->n_recent; i++)
        assert_true(a->recent[i - 1]->finished_at > a->recent[i]->finished_at);
    if (a->n_recent == 0)
        return;
    /* Nothing left out is later than the last one kept. */
    rk_time_t last = a->recent[a->n_recent - 1]->finished_at;
    size_t later = 0;
    for (const job_t *j = a->jobs; j; j = j->next)
        later += j->state > RK_JOB_RUNNING && j->finished_at >= last;
    assert_int_equal(later, (size_t)a->n_recent);
}

/* Recovered jobs arrive in folder order, not in order of their end. */
static void test_recent_from_unordered_inserts(void **state)
{
    (void)state;
    rk_agent_t a = {0};
    for (int i = 0; i < 1000; i++) {
        /* Distinct times in a shuffled order: i * 7919 mod a prime. */
        rk_time_t t = 1000000 + (rk_time_t)((i * 7919) % 1009) * 1000;
        agent__job_insert(&a, job(&a, i, RK_JOB_COMPLETED, t));
        if (i < 3 || i == 99 || i == 100 || i == 999)
            assert_recent_is_latest(&a);
    }
    assert_int_equal(a.n_recent, RECENT_MAX);
    assert_int_equal(a.recent[0]->finished_at, 1000000 + 1008 * 1000);
    free_all(&a);
}

/* Jobs that finish one after another go to the front; the oldest of the
 * RECENT_MAX drops out; the open list loses each one as it finishes. */
static void test_recent_as_jobs_finish(void **state)
{
    (void)state;
    rk_agent_t a = {0};
    enum { N = 250 };
    job_t *js[N];
    for (int i = 0; i < N; i++) {
        js[i] = job(&a, i, i % 2 ? RK_JOB_RUNNING : RK_JOB_ASSIGNED, 0);
        agent__job_insert(&a, js[i]);
    }
    assert_int_equal(a.n_recent, 0);
    assert_ptr_equal(a.open, js[N - 1]); /* newest first */
    for (int i = 0; i < N; i++) {
        js[i]->state = i % 3 ? RK_JOB_COMPLETED : RK_JOB_FAILED;
        js[i]->finished_at = 5000000 + i;
        agent__job_finished(&a, js[i]);
        assert_ptr_equal(a.recent[0], js[i]);
    }
    assert_null(a.open);
    assert_int_equal(a.n_recent, RECENT_MAX);
    for (int i = 0; i < RECENT_MAX; i++)
        assert_ptr_equal(a.recent[i], js[N - 1 - i]);
    assert_recent_is_latest(&a);
    free_all(&a);
}

/* Removing a listed job (the retention sweep) takes it out of the list at
 * once; settling puts back the older job that now belongs in it. Removing
 * an unlisted one leaves the list alone. */
static void test_recent_after_remove(void **state)
{
    (void)state;
    rk_agent_t a = {0};
    enum { N = 150 };
    job_t *js[N];
    for (int i = 0; i < N; i++) {
        js[i] = job(&a, i, RK_JOB_COMPLETED, 1000 + i);
        agent__job_insert(&a, js[i]);
    }
    agent__job_remove(&a, js[10]); /* not listed: 50..149 are */
    agent__job_free(js[10]);
    assert_false(a.recent_stale);
    assert_ptr_equal(a.recent[RECENT_MAX - 1], js[50]);
    agent__job_remove(&a, js[149]); /* the latest */
    agent__job_free(js[149]);
    assert_true(a.recent_stale);
    assert_int_equal(a.n_recent, RECENT_MAX - 1);
    assert_ptr_equal(a.recent[0], js[148]);
    agent__recent_settle(&a);
    assert_false(a.recent_stale);
    assert_ptr_equal(a.recent[0], js[148]);
    assert_ptr_equal(a.recent[RECENT_MAX - 1], js[49]);
    assert_recent_is_latest(&a);
    free_all(&a);
}

/* A retention sweep after a long idle time removes every retained job,
 * newest first: each removal costs O(1) plus the bucket, one settle at the
 * end walks what is left. (Refilling the list at each removal made this
 * quadratic: about 5 * 10^9 job visits at 100,000.) */
static void test_mass_removal(void **state)
{
    (void)state;
    rk_agent_t a = {0};
    enum { N = 100000 };
    for (int i = 0; i < N; i++)
        agent__job_insert(&a, job(&a, i, RK_JOB_COMPLETED, 1000 + i));
    int removed = 0;
    for (job_t *j = a.jobs, *next; j; j = next) {
        next = j->next;
        if (j->finished_at >= 1000 + 50) { /* all but the 50 oldest */
            agent__job_remove(&a, j);
            agent__job_free(j);
            removed++;
        }
    }
    assert_int_equal(removed, N - 50);
    agent__recent_settle(&a);
    assert_int_equal(a.n_recent, 50);
    assert_int_equal(a.recent[0]->finished_at, 1000 + 49);
    assert_recent_is_latest(&a);
    free_all(&a);
}

/* What GET /status answers: open jobs by state, at most RECENT_MAX results,
 * latest first. */
static void test_status_json_lists(void **state)
{
    (void)state;
    char dir[] = "/tmp/rk-agent-index-XXXXXX";
    assert_non_null(mkdtemp(dir));
    rk_agent_settings_t s = {.slots = 4};
    rk_agent_t a = {.s = &s, .jobs_dir = dir};
    snprintf(a.id, sizeof a.id, "agent-test");
    for (int i = 0; i < 300; i++)
        agent__job_insert(&a, job(&a, i, RK_JOB_COMPLETED, 1700000000000000 + i * 1000000));
    agent__job_insert(&a, job(&a, 1000, RK_JOB_RUNNING, 0));
    agent__job_insert(&a, job(&a, 1001, RK_JOB_ASSIGNED, 0));
    json_t *o = status_of(&a);
    json_t *res = json_object_get(o, "available_results");
    assert_int_equal(json_array_size(res), RECENT_MAX);
    assert_string_equal(result_id(o, 0), "job_299");
    assert_string_equal(result_id(o, 99), "job_200");
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "completed_at")),
                        "2023-11-14T22:18:19.000000Z");
    assert_string_equal(json_string_value(json_object_get(json_array_get(res, 0), "result_type")),
                        rk_task_type_name(a.recent[0]->type));
    json_t *run = json_object_get(o, "running_jobs"), *q = json_object_get(o, "queued_jobs");
    assert_int_equal(json_array_size(run), 1);
    assert_string_equal(json_string_value(json_array_get(run, 0)), "job_1000");
    assert_int_equal(json_array_size(q), 1);
    assert_string_equal(json_string_value(json_array_get(q, 0)), "job_1001");
    assert_int_equal(json_array_size(json_object_get(o, "paused_jobs")), 0);
    assert_string_equal(json_string_value(json_object_get(o, "agent_id")), "agent-test");
    assert_int_equal(json_integer_value(json_object_get(o, "slots")), 4);
    assert_true(json_is_number(json_object_get(o, "uptime_seconds")));
    json_decref(o);
    /* The list is cached between answers and follows every change: a job
     * that finishes later comes first, a removed one leaves. */
    agent__job_insert(&a, job(&a, 300, RK_JOB_COMPLETED, 1700000000000000 + 300 * 1000000));
    o = status_of(&a);
    assert_string_equal(result_id(o, 0), "job_300");
    assert_string_equal(result_id(o, 99), "job_201");
    json_decref(o);
    job_t *j300 = agent__job_find(&a, "job_300");
    assert_non_null(j300);
    agent__job_remove(&a, j300);
    agent__job_free(j300);
    o = status_of(&a);
    assert_string_equal(result_id(o, 0), "job_299");
    assert_string_equal(result_id(o, 99), "job_200");
    json_decref(o);
    free_all(&a);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recent_from_unordered_inserts),
        cmocka_unit_test(test_recent_as_jobs_finish),
        cmocka_unit_test(test_recent_after_remove),
        cmocka_unit_test(test_mass_removal),
        cmocka_unit_test(test_status_json_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
