/* Runs that settle themselves (task.params target_cv, min_runs, max_runs)
 * on a real agent: a workload that reports work_s with a noise level the
 * test sets converges in fewer runs when quieter, never takes more than
 * max_runs, and the result says which (converged, runs_used); bad
 * combinations are refused with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rk_test.h"
#include "rk_test_agent.h"

/* A job reporting work_s = 1 with Gaussian noise of sd `noise` (relative);
 * work_s is the declared metric it is judged by. */
static json_t *noisy_job(const char *id, double noise, double cv, int min, int max)
{
    char script[1024];
    snprintf(script, sizeof script,
             "awk -v n=%g -v s=$$ 'BEGIN { srand(s); u = rand(); v = rand(); "
             "if (u < 1e-12) u = 1e-12; z = sqrt(-2 * log(u)) * cos(6.283185307 * v); "
             "printf \"{\\\"work_s\\\": %%.9f}\", 1 + n * z }' > \"$RUCKUS_METRICS_FILE\"",
             noise);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    json_t *job = rk_test_job_cmd(
        id, argv, json_pack("{s:f,s:i,s:i}", "target_cv", cv, "min_runs", min, "max_runs", max));
    json_t *spec = json_object_get(job, "experiment_spec");
    json_object_set_new(json_object_get(spec, "metrics"), "metrics", json_pack("{s:{}}", "work_s"));
    return job;
}

static json_t *run(rk_test_agent_t *a, json_t *job)
{
    const char *id = json_string_value(json_object_get(job, "job_id"));
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    char *st = rk_test_agent_wait(a, id, NULL, 30000);
    assert_non_null(st);
    assert_string_equal(st, "completed");
    free(st);
    json_t *r = rk_test_agent_result(a, id);
    assert_non_null(r);
    json_decref(job);
    return r;
}

static long metric(const json_t *r, const char *k)
{
    return (long)json_number_value(json_object_get(json_object_get(r, "metrics"), k));
}

static void test_settles(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    /* Quiet (0.01 % noise) against a 1 % target: settled at min_runs. */
    json_t *quiet = run(&a, noisy_job("job_quiet", 0.0001, 0.01, 3, 12));
    assert_int_equal(metric(quiet, "converged"), 1);
    assert_int_equal(metric(quiet, "runs_used"), 3);
    assert_int_equal(json_array_size(json_object_get(quiet, "runs")), 3);
    /* Noisy (20 %) against the same target: never settles; stops at
     * max_runs exactly. */
    json_t *noisy = run(&a, noisy_job("job_noisy", 0.2, 0.01, 3, 12));
    assert_int_equal(metric(noisy, "converged"), 0);
    assert_int_equal(metric(noisy, "runs_used"), 12);
    assert_int_equal(json_array_size(json_object_get(noisy, "runs")), 12);
    /* Outliers stay among the raw values (all 11 warm runs), flagged. */
    json_t *st = json_object_get(json_object_get(noisy, "metric_statistics"), "work_s");
    assert_int_equal(json_array_size(json_object_get(st, "raw_values")), 11);
    assert_true(json_is_array(json_object_get(st, "outliers")));
    /* In between (0.5 % noise, 1 % target): more than the quiet one, and
     * within max_runs. */
    json_t *mid = run(&a, noisy_job("job_mid", 0.005, 0.01, 3, 40));
    long used = metric(mid, "runs_used");
    assert_true(used >= 3 && used <= 40);
    assert_true(metric(quiet, "runs_used") <= used);
    json_decref(quiet);
    json_decref(noisy);
    json_decref(mid);

    /* Refused with the field named, nothing run. */
    const char *argv[] = {"true", NULL};
    struct {
        json_t *extra;
        const char *field;
    } bad[] = {
        {json_pack("{s:f,s:i}", "target_cv", 0.05, "runs_per_job", 5), "runs_per_job"},
        {json_pack("{s:i}", "max_runs", 5), "target_cv"},
        {json_pack("{s:f}", "target_cv", 1.5), "target_cv"},
        {json_pack("{s:f,s:i,s:i}", "target_cv", 0.05, "min_runs", 8, "max_runs", 4), "max_runs"},
        {json_pack("{s:f,s:i}", "target_cv", 0.05, "max_runs", 1000), "max_runs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *job = rk_test_job_cmd("job_bad", argv, bad[i].extra);
        rk_test_resp_t r;
        rk_test_req_json(&a.p, "POST", "/api/v1/jobs", job, a.token, &r);
        assert_int_equal(r.status, 422);
        const char *d = json_string_value(json_object_get(r.json, "detail"));
        assert_non_null(d);
        assert_non_null(strstr(d, bad[i].field));
        rk_test_resp_cleanup(&r);
        json_decref(job);
    }
    char *st2 = rk_test_agent_state(&a, "job_bad");
    assert_null(st2);
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_settles)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
