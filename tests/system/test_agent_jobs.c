/* ruckus-agent running real workloads: metrics and progress files, a
 * failing program, runs_per_job statistics, the log cap, logs by offset,
 * the artifacts zip and the built-in benchmarks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_test_agent.h"

static int setup(void **state)
{
    rk_test_agent_t *a = calloc(1, sizeof *a);
    const char *args[] = {"--log-cap", "4096", NULL};
    if (!a || rk_test_agent_start(a, 4, args, NULL) != 0) {
        if (a)
            rk_test_agent_cleanup(a);
        free(a);
        return -1;
    }
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    rk_test_agent_t *a = *state;
    rk_test_agent_cleanup(a);
    free(a);
    return 0;
}

static json_t *run_to_end(rk_test_agent_t *a, json_t *job, const char *want)
{
    const char *id = json_string_value(json_object_get(job, "job_id"));
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    char *st = rk_test_agent_wait(a, id, NULL, 20000);
    assert_non_null(st);
    assert_string_equal(st, want);
    free(st);
    json_t *r = rk_test_agent_result(a, id);
    assert_non_null(r);
    json_decref(job);
    return r;
}

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* The workload writes metrics and progress, then waits for the test. */
static void test_metrics_and_progress(void **state)
{
    rk_test_agent_t *a = *state;
    json_t *job = rk_test_job_sh(
        "job_metrics1",
        "echo '{\"answer\": 42, \"label\": \"x\", \"nested\": {}}' > \"$RUCKUS_METRICS_FILE\";"
        "echo 0.25 > \"$RUCKUS_PROGRESS_FILE\";"
        "echo \"$RUCKUS_JOB_ID\" > \"$RUCKUS_OUTPUT_DIR/id.txt\";"
        "while [ ! -f release ]; do sleep 0.01; done");
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    char *st = rk_test_agent_wait(a, "job_metrics1", "running", 5000);
    assert_non_null(st);
    free(st);
    double progress = -1;
    double end = rk_test_now_ms() + 5000;
    while (progress < 0 && rk_test_now_ms() < end) {
        rk_test_resp_t r;
        rk_test_req(&a->p, "GET", "/api/v1/status/job_metrics1", NULL, NULL, &r);
        json_t *p = json_object_get(r.json, "progress");
        if (p)
            progress = json_number_value(p);
        rk_test_resp_cleanup(&r);
        if (progress < 0)
            rk_test_sleep_ms(10);
    }
    assert_true(fabs(progress - 0.25) < 1e-9);
    char rel[PATH_MAX + 64];
    snprintf(rel, sizeof rel, "%s/jobs/job_metrics1/release", a->data);
    assert_int_equal(rk_test_write_file(rel, "", 0644), 0);
    json_decref(job); /* run_to_end would submit again: check the end here */
    st = rk_test_agent_wait(a, "job_metrics1", NULL, 10000);
    assert_string_equal(st, "completed");
    free(st);
    json_t *r = rk_test_agent_result(a, "job_metrics1");
    assert_non_null(r);
    json_t *m = json_object_get(r, "metrics");
    assert_int_equal((int)num(m, "answer"), 42);
    assert_string_equal(json_string_value(json_object_get(m, "label")), "x");
    assert_null(json_object_get(m, "nested"));
    assert_true(num(m, "wall_time_s") > 0);
    assert_true(num(m, "user_time_s") >= 0);
    assert_true(num(m, "sys_time_s") >= 0);
    assert_true(num(m, "max_rss_kib") > 0);
    assert_int_equal((int)num(m, "exit_status"), 0);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "completed");
    json_t *arts = json_object_get(r, "artifacts");
    assert_int_equal(json_array_size(arts), 1);
    assert_string_equal(json_string_value(json_array_get(arts, 0)), "id.txt");
    json_decref(r);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs/job_metrics1/output/id.txt", a->data);
    char *idtxt = rk_test_read_file(path, NULL);
    assert_non_null(idtxt);
    assert_string_equal(idtxt, "job_metrics1\n");
    free(idtxt);
}

static void test_false_fails(void **state)
{
    rk_test_agent_t *a = *state;
    const char *argv[] = {"false", NULL};
    json_t *r = run_to_end(a, rk_test_job_cmd("job_false1", argv, NULL), "failed");
    const char *err = json_string_value(json_object_get(r, "error"));
    assert_non_null(err);
    assert_non_null(strstr(err, "status 1"));
    assert_int_equal((int)num(json_object_get(r, "metrics"), "exit_status"), 1);
    json_decref(r);

    r = run_to_end(a, rk_test_job_sh("job_false2", "echo first >&2; echo boom-tail >&2; exit 3"),
                   "failed");
    err = json_string_value(json_object_get(r, "error"));
    assert_non_null(strstr(err, "status 3"));
    assert_non_null(strstr(err, "boom-tail"));
    json_decref(r);

    /* A program that does not exist fails with a reason, no crash. */
    const char *nope[] = {"/nonexistent/program", NULL};
    r = run_to_end(a, rk_test_job_cmd("job_false3", nope, NULL), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "/nonexistent/program"));
    json_decref(r);
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Five runs of v = n^2 (n = 1..5): statistics over the four warm runs,
 * computed here independently. */
static void test_runs_per_job(void **state)
{
    rk_test_agent_t *a = *state;
    const char *argv[] = {"/bin/sh", "-c",
                          "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count;"
                          "echo out-$n; echo err-$n >&2;"
                          "echo \"{\\\"v\\\": $((n*n))}\" > \"$RUCKUS_METRICS_FILE\"",
                          NULL};
    json_t *r = run_to_end(
        a, rk_test_job_cmd("job_runs5", argv, json_pack("{s:i}", "runs_per_job", 5)), "completed");
    json_t *runs = json_object_get(r, "runs");
    assert_int_equal(json_array_size(runs), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *run = json_array_get(runs, i);
        assert_int_equal(json_integer_value(json_object_get(run, "run_id")), (json_int_t)i);
        assert_int_equal(json_is_true(json_object_get(run, "is_cold_start")), i == 0);
        assert_int_equal((int)num(json_object_get(run, "metrics"), "v"), (int)((i + 1) * (i + 1)));
    }
    double warm[4] = {4, 9, 16, 25}, mean = 0, var = 0;
    for (int i = 0; i < 4; i++)
        mean += warm[i] / 4;
    for (int i = 0; i < 4; i++)
        var += (warm[i] - mean) * (warm[i] - mean) / 3;
    double sorted[4];
    memcpy(sorted, warm, sizeof sorted);
    qsort(sorted, 4, sizeof *sorted, cmp_d);
    double median = (sorted[1] + sorted[2]) / 2;
    json_t *v = json_object_get(json_object_get(r, "metric_statistics"), "v");
    assert_non_null(v);
    assert_true(fabs(num(v, "mean") - mean) < 1e-9);
    assert_true(fabs(num(v, "std") - sqrt(var)) < 1e-9);
    assert_true(fabs(num(v, "median") - median) < 1e-9);
    assert_true(num(v, "min") == 4 && num(v, "max") == 25);
    assert_int_equal((int)num(v, "count"), 4);
    json_t *raw = json_object_get(v, "raw_values");
    assert_int_equal(json_array_size(raw), 4);
    for (size_t i = 0; i < 4; i++)
        assert_true(json_number_value(json_array_get(raw, i)) == warm[i]);
    size_t n_out = 0;
    for (int i = 0; i < 4; i++)
        n_out += fabs(warm[i] - mean) > 2 * sqrt(var);
    assert_int_equal(json_array_size(json_object_get(v, "outliers")), n_out);
    assert_true(fabs(num(json_object_get(r, "metrics"), "v") - mean) < 1e-9);
    assert_int_equal((int)num(json_object_get(r, "cold_start_metrics"), "v"), 1);
    json_decref(r);
    /* Every run's output is kept, in order. */
    const char *streams[] = {"stdout", "stderr"}, *want[] = {"out-1\nout-2\nout-3\nout-4\nout-5\n",
                                                             "err-1\nerr-2\nerr-3\nerr-4\nerr-5\n"};
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/v1/jobs/job_runs5/logs?stream=%s", streams[i]);
        rk_test_resp_t lr;
        rk_test_req(&a->p, "GET", path, NULL, NULL, &lr);
        assert_int_equal(lr.status, 200);
        assert_string_equal(lr.body, want[i]);
        rk_test_resp_cleanup(&lr);
    }
}

/* The result says which log stopped at --log-cap (4096 here). */
static void test_log_cap(void **state)
{
    rk_test_agent_t *a = *state;
    json_t *r = run_to_end(a, rk_test_job_sh("job_bigout", "head -c 100000 /dev/zero | tr '\\0' a"),
                           "completed");
    assert_true(json_is_true(json_object_get(r, "stdout_truncated")));
    assert_true(json_is_false(json_object_get(r, "stderr_truncated")));
    json_decref(r);
    r = run_to_end(a, rk_test_job_sh("job_bigerr", "echo small; head -c 5000 /dev/zero >&2"),
                   "completed");
    assert_true(json_is_false(json_object_get(r, "stdout_truncated")));
    assert_true(json_is_true(json_object_get(r, "stderr_truncated")));
    json_decref(r);
    /* Runs append to one log: the second of two 3000-byte runs passes it. */
    const char *argv[] = {"/bin/sh", "-c", "head -c 3000 /dev/zero", NULL};
    r = run_to_end(a, rk_test_job_cmd("job_runs_cap", argv, json_pack("{s:i}", "runs_per_job", 2)),
                   "completed");
    assert_true(json_is_true(json_object_get(r, "stdout_truncated")));
    json_decref(r);
    /* Exactly the cap is not cut. */
    r = run_to_end(a, rk_test_job_sh("job_atcap", "head -c 4096 /dev/zero"), "completed");
    assert_true(json_is_false(json_object_get(r, "stdout_truncated")));
    assert_true(json_is_false(json_object_get(r, "stderr_truncated")));
    json_decref(r);
    rk_test_resp_t lr;
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_bigout/logs?stream=stdout", NULL, NULL, &lr);
    assert_int_equal(lr.status, 200);
    assert_int_equal(lr.len, 4096); /* --log-cap 4096 */
    assert_int_equal(strspn(lr.body, "a"), 4096);
    char h[32];
    assert_true(rk_test_resp_header(&lr, "X-Ruckus-Log-Size", h, sizeof h));
    assert_string_equal(h, "4096");
    rk_test_resp_cleanup(&lr);
}

static void test_logs_by_offset(void **state)
{
    rk_test_agent_t *a = *state;
    json_decref(run_to_end(
        a, rk_test_job_sh("job_logs1", "printf 'hello world\\n'; printf oops >&2"), "completed"));
    rk_test_resp_t r;
    char h[32];
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_logs1/logs?stream=stdout&offset=6", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "world\n");
    assert_true(rk_test_resp_header(&r, "X-Ruckus-Next-Offset", h, sizeof h));
    assert_string_equal(h, "12");
    rk_test_resp_cleanup(&r);
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_logs1/logs?stream=stdout&offset=12", NULL, NULL,
                &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    rk_test_resp_cleanup(&r);
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_logs1/logs?stream=stderr", NULL, NULL, &r);
    assert_string_equal(r.body, "oops");
    rk_test_resp_cleanup(&r);
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_logs1/logs?stream=../job.json", NULL, NULL, &r);
    assert_int_equal(r.status, 422);
    rk_test_resp_cleanup(&r);
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_logs1/logs?offset=-1", NULL, NULL, &r);
    assert_int_equal(r.status, 422);
    rk_test_resp_cleanup(&r);
}

/* A silent stream creates no log file; its log reads empty (200, size 0),
 * and the other stream's file holds its output. */
static void test_silent_logs(void **state)
{
    rk_test_agent_t *a = *state;
    json_decref(run_to_end(a, rk_test_job_sh("job_quiet1", "printf only-err >&2"), "completed"));
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs/job_quiet1/stdout.log", a->data);
    assert_int_equal(access(path, F_OK), -1);
    snprintf(path, sizeof path, "%s/jobs/job_quiet1/output", a->data);
    assert_int_equal(access(path, F_OK), 0); /* RUCKUS_OUTPUT_DIR is always made */
    rk_test_resp_t r;
    char h[32];
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_quiet1/logs?stream=stdout", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_true(rk_test_resp_header(&r, "X-Ruckus-Next-Offset", h, sizeof h));
    assert_string_equal(h, "0");
    assert_true(rk_test_resp_header(&r, "X-Ruckus-Log-Size", h, sizeof h));
    assert_string_equal(h, "0");
    rk_test_resp_cleanup(&r);
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_quiet1/logs?stream=stderr", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "only-err");
    rk_test_resp_cleanup(&r);
}

static void test_artifacts_zip(void **state)
{
    rk_test_agent_t *a = *state;
    json_decref(run_to_end(a,
                           rk_test_job_sh("job_zip1",
                                          "cd \"$RUCKUS_OUTPUT_DIR\" && printf alpha > a.txt && "
                                          "mkdir sub && printf beta > sub/b.txt && "
                                          "ln -s /etc/passwd link"),
                           "completed"));
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", "/api/v1/jobs/job_zip1/artifacts", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    char ct[64];
    assert_true(rk_test_resp_header(&r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/zip");
    struct archive *ar = archive_read_new();
    archive_read_support_format_zip(ar);
    assert_int_equal(archive_read_open_memory(ar, r.body, r.len), ARCHIVE_OK);
    struct archive_entry *e;
    int seen = 0;
    while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
        char buf[64] = "";
        la_ssize_t n = archive_read_data(ar, buf, sizeof buf - 1);
        assert_true(n >= 0);
        const char *name = archive_entry_pathname(e);
        if (strcmp(name, "a.txt") == 0) {
            assert_string_equal(buf, "alpha");
            seen |= 1;
        } else if (strcmp(name, "sub/b.txt") == 0) {
            assert_string_equal(buf, "beta");
            seen |= 2;
        } else {
            fail_msg("unexpected zip entry %s", name); /* the symlink is never followed */
        }
    }
    assert_int_equal(seen, 3);
    archive_read_free(ar);
    rk_test_resp_cleanup(&r);
}

static void test_benchmarks(void **state)
{
    rk_test_agent_t *a = *state;
    json_t *r = run_to_end(
        a,
        rk_test_job("job_mem1", "memory_benchmark",
                    json_pack("{s:[i],s:i}", "test_sizes_mb", 1, "iterations_per_size", 1), NULL),
        "completed");
    json_t *m = json_object_get(r, "metrics");
    assert_true(num(m, "mem_seq_read_1mb_gb_s") > 0);
    assert_true(num(m, "mem_random_1mb_ns") > 0);
    assert_non_null(json_object_get(m, "mem_checksum"));
    assert_true(num(m, "wall_time_s") > 0);
    json_decref(r);
    r = run_to_end(a,
                   rk_test_job("job_gemm1", "compute_benchmark",
                               json_pack("{s:[i],s:[ss]}", "matrix_sizes", 32, "precision_types",
                                         "fp64", "fp32"),
                               NULL),
                   "completed");
    m = json_object_get(r, "metrics");
    assert_true(num(m, "gemm_fp64_32_gflops") > 0);
    assert_true(num(m, "gemm_fp32_32_gflops") > 0);
    assert_non_null(json_object_get(m, "gemm_fp64_32_checksum"));
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_and_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_false_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_per_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logs_by_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_logs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_artifacts_zip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_benchmarks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
