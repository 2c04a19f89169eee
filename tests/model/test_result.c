/* JobResult / ExperimentResult: decode, validation messages, unknown
 * fields and round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/result.h"

static const char *const single =
    "{\"job_id\": \"job_0000abcd\", \"experiment_id\": \"exp_44ba5c\", \"status\": \"completed\","
    " \"started_at\": \"2026-11-23T13:07:37Z\", \"completed_at\": \"2026-11-23T13:07:39.5Z\","
    " \"duration_seconds\": 2.5, \"output\": [1, {\"a\": null}],"
    " \"metrics\": {\"wall_time_s\": 2.5, \"exit_status\": 0, \"host\": \"box\"},"
    " \"model_actual\": \"m1\", \"framework_version\": \"1.2\","
    " \"hardware_info\": {\"cpu\": \"x\"}, \"artifacts\": [\"out.txt\"],"
    " \"error\": \"bad\", \"error_type\": \"ExitStatus\", \"traceback\": \"tb\","
    " \"new_field\": {\"kept\": true}}";

static const char *const multi =
    "{\"job_id\": \"job_1\", \"experiment_id\": \"exp_1\", \"agent_id\": \"agent-7\","
    " \"status\": \"completed\", \"started_at\": \"2026-11-23T13:07:37Z\","
    " \"completed_at\": \"2026-11-23T13:07:40Z\", \"duration_seconds\": 3,"
    " \"metrics\": {\"t_s\": 1.5},"
    " \"runs\": [{\"run_id\": 0, \"is_cold_start\": true, \"started_at\": \"2026-11-23T13:07:37Z\","
    "   \"duration_seconds\": 1, \"metrics\": {\"t_s\": 1}, \"extra_run\": 1},"
    "  {\"run_id\": 1, \"is_cold_start\": false, \"started_at\": \"2026-11-23T13:07:38Z\","
    "   \"duration_seconds\": 1, \"metrics\": {\"t_s\": 1.5}}],"
    " \"metric_statistics\": {\"t_s\": {\"mean\": 1.5, \"std\": 0, \"min\": 1.5, \"max\": 1.5,"
    "   \"median\": 1.5, \"count\": 1, \"raw_values\": [1.5], \"outliers\": [], \"p99\": 1.5}},"
    " \"cold_start_metrics\": {\"t_s\": 1}}";

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    return v;
}

/* Decodes base with obj[key] replaced by repl (NULL deletes); must fail
 * with msg. obj is the top level, or runs[0] when in_run. */
static void expect_error_in(const char *base, bool in_run, const char *key, const char *repl,
                            const char *msg)
{
    json_t *v = load(base);
    json_t *target = in_run ? json_array_get(json_object_get(v, "runs"), 0) : v;
    if (repl)
        json_object_set_new(target, key, load(repl));
    else
        json_object_del(target, key);
    rk_result_t r;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_result_decode(v, "result", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, msg);
    rk_result_cleanup(&r);
    json_decref(v);
}

static void expect_error(const char *key, const char *repl, const char *msg)
{
    expect_error_in(single, false, key, repl, msg);
}

/* decode → encode → decode → encode gives the same document twice. */
static json_t *round_trip(const char *text, rk_result_t *r)
{
    json_t *v = load(text);
    rk_verr_t e = {{0}};
    rk_result_t r2;
    assert_int_equal(rk_result_decode(v, "", r, &e), RK_OK);
    json_t *enc = rk_result_encode(r);
    assert_non_null(enc);
    assert_int_equal(rk_result_decode(enc, "", &r2, &e), RK_OK);
    json_t *enc2 = rk_result_encode(&r2);
    assert_true(json_equal(enc, enc2));
    json_decref(enc2);
    rk_result_cleanup(&r2);
    json_decref(v);
    return enc;
}

static void test_single_run(void **state)
{
    (void)state;
    rk_result_t r;
    json_t *enc = round_trip(single, &r);
    assert_string_equal(r.job_id, "job_0000abcd");
    assert_string_equal(r.experiment_id, "exp_44ba5c");
    assert_null(r.agent_id);
    assert_int_equal(r.status, RK_JOB_COMPLETED);
    assert_int_equal(r.completed_at - r.started_at, 2500000);
    assert_true(r.duration_seconds == 2.5);
    assert_string_equal(r.model_actual, "m1");
    assert_string_equal(r.framework_version, "1.2");
    assert_int_equal(r.n_artifacts, 1);
    assert_string_equal(r.artifacts[0], "out.txt");
    assert_string_equal(r.error, "bad");
    assert_string_equal(r.error_type, "ExitStatus");
    assert_string_equal(r.traceback, "tb");
    assert_false(r.has_runs);
    assert_null(r.cold_start_metrics);

    /* Everything came back, unknown fields and any-JSON output included. */
    json_t *orig = load(single);
    assert_true(json_equal(json_object_get(enc, "output"), json_object_get(orig, "output")));
    assert_true(json_equal(json_object_get(enc, "metrics"), json_object_get(orig, "metrics")));
    assert_true(json_equal(json_object_get(enc, "new_field"), json_object_get(orig, "new_field")));
    assert_string_equal(json_string_value(json_object_get(enc, "completed_at")),
                        "2026-11-23T13:07:39.500000Z");
    assert_null(json_object_get(enc, "runs"));
    assert_null(json_object_get(enc, "agent_id"));
    json_decref(orig);
    json_decref(enc);
    rk_result_cleanup(&r);
}

static void test_minimal_defaults(void **state)
{
    (void)state;
    rk_result_t r;
    json_t *enc = round_trip("{\"job_id\": \"j\", \"experiment_id\": \"e\", \"status\": \"failed\","
                             " \"started_at\": \"2026-01-01T00:00:00Z\","
                             " \"completed_at\": \"2026-01-01T00:00:00Z\","
                             " \"duration_seconds\": 0, \"output\": null}",
                             &r);
    assert_int_equal(r.status, RK_JOB_FAILED);
    assert_null(r.output);
    assert_int_equal(json_object_size(r.metrics), 0);
    assert_int_equal(json_object_size(r.hardware_info), 0);
    assert_int_equal(r.n_artifacts, 0);
    assert_true(json_is_object(json_object_get(enc, "hardware_info")));
    assert_int_equal(json_array_size(json_object_get(enc, "artifacts")), 0);
    assert_null(json_object_get(enc, "output"));
    assert_null(json_object_get(enc, "error"));
    json_decref(enc);
    rk_result_cleanup(&r);
}

/* The log truncation flags: absent stays absent (results of older agents),
 * present round-trips as given, one alone brings the other as false. */
static void test_log_truncation_flags(void **state)
{
    (void)state;
    static const char *const base = "{\"job_id\": \"j\", \"experiment_id\": \"e\", "
                                    "\"status\": \"completed\", "
                                    "\"started_at\": \"2026-01-01T00:00:00Z\", "
                                    "\"completed_at\": \"2026-01-01T00:00:00Z\", "
                                    "\"duration_seconds\": 0";
    char text[512];
    rk_result_t r;
    snprintf(text, sizeof text, "%s}", base);
    json_t *enc = round_trip(text, &r);
    assert_false(r.has_logs);
    assert_null(json_object_get(enc, "stdout_truncated"));
    assert_null(json_object_get(enc, "stderr_truncated"));
    json_decref(enc);
    rk_result_cleanup(&r);
    snprintf(text, sizeof text, "%s, \"stdout_truncated\": true, \"stderr_truncated\": false}",
             base);
    enc = round_trip(text, &r);
    assert_true(r.has_logs && r.stdout_truncated && !r.stderr_truncated);
    assert_true(json_is_true(json_object_get(enc, "stdout_truncated")));
    assert_true(json_is_false(json_object_get(enc, "stderr_truncated")));
    assert_null(json_object_get(r.extra, "stdout_truncated")); /* a known field now */
    json_decref(enc);
    rk_result_cleanup(&r);
    snprintf(text, sizeof text, "%s, \"stderr_truncated\": true}", base);
    enc = round_trip(text, &r);
    assert_true(json_is_false(json_object_get(enc, "stdout_truncated")));
    assert_true(json_is_true(json_object_get(enc, "stderr_truncated")));
    json_decref(enc);
    rk_result_cleanup(&r);
    expect_error("stdout_truncated", "\"yes\"", "result.stdout_truncated: expected true or false");
}

static void test_multi_run(void **state)
{
    (void)state;
    rk_result_t r;
    json_t *enc = round_trip(multi, &r);
    assert_string_equal(r.agent_id, "agent-7");
    assert_true(r.has_runs);
    assert_int_equal(r.n_runs, 2);
    assert_true(r.runs[0].is_cold_start);
    assert_false(r.runs[1].is_cold_start);
    assert_int_equal(r.runs[1].run_id, 1);
    assert_int_equal(r.runs[1].started_at - r.runs[0].started_at, 1000000);
    assert_non_null(r.runs[0].extra);
    assert_int_equal(r.n_stats, 1);
    assert_string_equal(r.stats[0].name, "t_s");
    assert_int_equal(r.stats[0].count, 1);
    assert_int_equal(r.stats[0].n_raw, 1);
    assert_true(r.stats[0].raw_values[0] == 1.5);
    assert_int_equal(r.stats[0].n_outliers, 0);
    assert_true(json_real_value(json_object_get(r.cold_start_metrics, "t_s")) == 0 &&
                json_integer_value(json_object_get(r.cold_start_metrics, "t_s")) == 1);

    json_t *run0 = json_array_get(json_object_get(enc, "runs"), 0);
    assert_int_equal(json_integer_value(json_object_get(run0, "extra_run")), 1);
    json_t *st = json_object_get(json_object_get(enc, "metric_statistics"), "t_s");
    assert_true(json_real_value(json_object_get(st, "p99")) == 1.5);
    assert_true(json_real_value(json_object_get(st, "median")) == 1.5);
    assert_string_equal(json_string_value(json_object_get(enc, "agent_id")), "agent-7");
    json_decref(enc);
    rk_result_cleanup(&r);
}

static void test_top_level_errors(void **state)
{
    (void)state;
    expect_error("job_id", NULL, "result.job_id: field required");
    expect_error("job_id", "\"a/b\"",
                 "result.job_id: expected an id of 1 to 64 characters from [A-Za-z0-9_.-]");
    expect_error("experiment_id", NULL, "result.experiment_id: field required");
    expect_error("agent_id", "5", "result.agent_id: expected a string");
    expect_error("status", "\"done\"",
                 "result.status: expected one of queued, assigned, running, completed, failed, "
                 "cancelled, timeout, paused");
    expect_error("started_at", NULL, "result.started_at: field required");
    /* An offset that carries the instant past year 9999 could not be written back. */
    expect_error("started_at", "\"9999-12-31T23:59:59-01:00\"",
                 "result.started_at: expected an RFC 3339 timestamp");
    expect_error("completed_at", "\"soon\"", "result.completed_at: expected an RFC 3339 timestamp");
    expect_error("duration_seconds", "-0.5", "result.duration_seconds: expected a number >= 0");
    expect_error("duration_seconds", "\"1\"", "result.duration_seconds: expected a number");
    expect_error("metrics", "[]", "result.metrics: expected an object");
    expect_error("metrics", "{\"ok\": 1, \"bad\": [1]}",
                 "result.metrics.bad: expected a number or a string");
    expect_error("metrics", "{\"flag\": true}",
                 "result.metrics.flag: expected a number or a string");
    expect_error("model_actual", "{}", "result.model_actual: expected a string");
    expect_error("hardware_info", "\"x86\"", "result.hardware_info: expected an object");
    expect_error("artifacts", "[\"a\", 2]", "result.artifacts: expected an array of strings");
    expect_error("error", "1", "result.error: expected a string");
    expect_error("traceback", "[]", "result.traceback: expected a string");
    expect_error("runs", "{}", "result.runs: expected an array");
    expect_error("metric_statistics", "[]", "result.metric_statistics: expected an object");
    expect_error("cold_start_metrics", "{\"a\": null}",
                 "result.cold_start_metrics.a: expected a number or a string");
}

static void test_multi_run_errors(void **state)
{
    (void)state;
    expect_error_in(multi, true, "run_id", "-1",
                    "result.runs[0].run_id: expected an integer from 0 to 2147483647");
    expect_error_in(multi, true, "is_cold_start", "1",
                    "result.runs[0].is_cold_start: expected true or false");
    expect_error_in(multi, true, "started_at", NULL, "result.runs[0].started_at: field required");
    expect_error_in(multi, true, "duration_seconds", "-1",
                    "result.runs[0].duration_seconds: expected a number >= 0");
    expect_error_in(multi, true, "metrics", "{\"x\": {}}",
                    "result.runs[0].metrics.x: expected a number or a string");
    expect_error_in(multi, false, "runs", "[1]", "result.runs[0]: expected an object");

    json_t *v = load(multi);
    json_t *st = json_object_get(json_object_get(v, "metric_statistics"), "t_s");
    rk_result_t r;
    rk_verr_t e = {{0}};
    json_object_set_new(st, "raw_values", json_pack("[i, s]", 1, "2"));
    assert_int_equal(rk_result_decode(v, "", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, "metric_statistics.t_s.raw_values: expected an array of numbers");
    rk_result_cleanup(&r);
    json_object_del(st, "mean");
    assert_int_equal(rk_result_decode(v, "", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, "metric_statistics.t_s.mean: field required");
    rk_result_cleanup(&r);
    json_object_set_new(st, "mean", json_real(1));
    json_object_set_new(st, "std", json_real(-1));
    assert_int_equal(rk_result_decode(v, "", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, "metric_statistics.t_s.std: expected a number >= 0");
    rk_result_cleanup(&r);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_run),       cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_multi_run),        cmocka_unit_test(test_top_level_errors),
        cmocka_unit_test(test_multi_run_errors), cmocka_unit_test(test_log_truncation_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
