/* ruckus-agent refusing what it must refuse: every 4xx case of POST /jobs
 * and of the job paths, the token, and the `error` status of an agent
 * whose data dir is full (a tiny tmpfs in a private mount namespace). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "rk_test.h"
#include "rk_test_agent.h"
#include "rk_test_run.h"

static long post_text(rk_test_agent_t *a, const char *body, const char *want_in_detail)
{
    rk_test_resp_t r;
    rk_test_req(&a->p, "POST", "/api/v1/jobs", body, NULL, &r);
    long st = r.status;
    if (want_in_detail) {
        const char *d = json_string_value(json_object_get(r.json, "detail"));
        if (!d || !strstr(d, want_in_detail))
            fail_msg("detail %s lacks %s", d ? d : "(none)", want_in_detail);
    }
    rk_test_resp_cleanup(&r);
    return st;
}

static long post_job(rk_test_agent_t *a, json_t *job, const char *want_in_detail)
{
    char *text = json_dumps(job, JSON_COMPACT);
    long st = post_text(a, text, want_in_detail);
    free(text);
    json_decref(job);
    return st;
}

static long get(rk_test_agent_t *a, const char *method, const char *path)
{
    rk_test_resp_t r;
    rk_test_req(&a->p, method, path, NULL, NULL, &r);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

static void test_bad_requests(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    assert_int_equal(post_text(&a, "{not json", NULL), 400);
    assert_int_equal(post_text(&a, "[1,2]", NULL), 422);
    assert_int_equal(post_text(&a, "{\"job_id\": \"job_1\"}", "experiment_spec"), 422);
    assert_int_equal(post_job(&a, rk_test_job("job_1", "no_such_type", NULL, NULL), "task.type"),
                     422);
    assert_int_equal(
        post_job(&a, rk_test_job("job_1", "llm_generation", NULL, NULL), "task.params.endpoint"),
        422);
    assert_int_equal(
        post_job(&a, rk_test_job("job_1", "gpu_benchmark", NULL, NULL), "not supported"), 422);
    assert_int_equal(
        post_job(&a, rk_test_job("job_1", "command", json_pack("{s:s}", "argv", "ls"), NULL),
                 "task.params.argv"),
        422);
    assert_int_equal(post_job(&a, rk_test_job("job_1", "command", json_object(), NULL), "argv"),
                     422);
    const char *argv[] = {"true", NULL};
    assert_int_equal(post_job(&a, rk_test_job_cmd("../escape", argv, NULL), "job_id"), 422);
    assert_int_equal(post_job(&a, rk_test_job_cmd("a/b", argv, NULL), "job_id"), 422);
    assert_int_equal(post_job(&a, rk_test_job_cmd("..", argv, NULL), "job_id"), 422);
    assert_int_equal(post_job(&a,
                              rk_test_job_cmd("job_1", argv, json_pack("{s:s}", "workdir", "../x")),
                              "workdir"),
                     422);
    assert_int_equal(post_job(&a,
                              rk_test_job_cmd("job_1", argv, json_pack("{s:i}", "runs_per_job", 0)),
                              "runs_per_job"),
                     422);
    /* Oversized body: 413, the agent keeps running. */
    size_t big = 2u << 20;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = '\0';
    assert_int_equal(post_text(&a, body, NULL), 413);
    free(body);
    /* Nothing of the above was stored. */
    assert_int_equal(get(&a, "GET", "/api/v1/status/job_1"), 404);
    /* Unknown ids and ids that try to leave the job folder. */
    assert_int_equal(get(&a, "GET", "/api/v1/status/job_nope"), 404);
    assert_int_equal(get(&a, "GET", "/api/v1/results/job_nope"), 404);
    assert_int_equal(get(&a, "GET", "/api/v1/jobs/job_nope/logs"), 404);
    assert_int_equal(get(&a, "GET", "/api/v1/jobs/job_nope/artifacts"), 404);
    assert_int_equal(get(&a, "DELETE", "/api/v1/jobs/job_nope"), 404);
    assert_int_equal(get(&a, "GET", "/api/v1/status/.."), 404);
    assert_int_equal(get(&a, "GET", "/api/v1/jobs/../logs"), 404);
    assert_int_equal(get(&a, "GET", "/api/v1/jobs/%2e%2e/artifacts"), 400);
    assert_int_equal(get(&a, "GET", "/api/v1/results/a%2Fb"), 400);
    /* A result before the job finished: 409. */
    json_t *slow = rk_test_job_sh("job_slow", "sleep 5");
    assert_int_equal(rk_test_agent_submit(&a, slow), 200);
    json_decref(slow);
    assert_int_equal(get(&a, "GET", "/api/v1/results/job_slow"), 409);
    assert_int_equal(get(&a, "DELETE", "/api/v1/jobs/job_slow"), 202);
    char *st = rk_test_agent_wait(&a, "job_slow", NULL, 15000);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(rk_test_proc_log_has(&a.p, "listening"));
    rk_test_agent_cleanup(&a);
}

static void test_token(void **state)
{
    (void)state;
    rk_test_agent_t a;
    const char *env[] = {"RUCKUS_AGENT_TOKEN=s3cret-token", NULL};
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, env), 0);
    static const char *const paths[] = {"/api/v1/status", "/api/v1/info", "/api/v1/status/job_x",
                                        "/api/v1/results/job_x", "/api/v1/jobs/job_x/logs"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        rk_test_resp_t r;
        rk_test_req(&a.p, "GET", paths[i], NULL, NULL, &r);
        assert_int_equal(r.status, 401);
        rk_test_resp_cleanup(&r);
        rk_test_req(&a.p, "GET", paths[i], NULL, "wrong", &r);
        assert_int_equal(r.status, 401);
        rk_test_resp_cleanup(&r);
    }
    const char *argv[] = {"true", NULL};
    json_t *job = rk_test_job_cmd("job_tok", argv, NULL);
    assert_int_equal(rk_test_agent_submit(&a, job), 401);
    a.token = "s3cret-token";
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    char *st = rk_test_agent_wait(&a, "job_tok", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    json_decref(job);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/health", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    rk_test_resp_cleanup(&r);
    assert_false(rk_test_proc_log_has(&a.p, "s3cret-token"));
    rk_test_agent_cleanup(&a);

    /* Not on loopback without a token: refused at start. */
    rk_test_proc_t p;
    const char *args[] = {"--host", "0.0.0.0", "--port", "0", "--data-dir", "d", NULL};
    assert_int_equal(rk_test_proc_start(&p, "ruckus-agent", args, NULL), RK_EIO);
    assert_int_not_equal(p.status, 0);
    rk_test_proc_cleanup(&p);
}

/* The agent's helper processes (lib/agent/helper.c) are the agent binary
 * run with --internal-helper: asked for anything else, it says so and
 * exits 2, and starts no agent. */
static void test_internal_helper_arg(void **state)
{
    (void)state;
    static rk_test_run_t r;
    const char *none[] = {"--internal-helper", NULL};
    assert_int_equal(rk_test_run(&r, "ruckus-agent", none, 0), 0);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "--internal-helper is for the agent's own use"));
    assert_null(strstr(r.err, "starting"));
    const char *bogus[] = {"--internal-helper", "format-disk", "/", NULL};
    assert_int_equal(rk_test_run(&r, "ruckus-agent", bogus, 0), 0);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "for the agent's own use"));
}

/* Runs "ruckus-agent --internal-helper bench" with stdin from the text
 * in (written to a file in dir) and RUCKUS_METRICS_FILE=dir/m.json; its
 * exit status, its stderr into err. */
static int bench_helper(const char *dir, const char *in, char *err, size_t errsz)
{
    char path[4096], cmd[16384];
    snprintf(path, sizeof path, "%s/in", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(in, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && RUCKUS_METRICS_FILE='%s/m.json' '%s/ruckus-agent' --internal-helper bench "
             "<in >out 2>err",
             dir, dir, getenv("RK_BIN_DIR"));
    unlink(strcat(strcpy(path, dir), "/m.json"));
    int st = system(cmd);
    snprintf(path, sizeof path, "%s/err", dir);
    err[0] = '\0';
    if ((f = fopen(path, "r"))) {
        size_t n = fread(err, 1, errsz - 1, f);
        err[n] = '\0';
        fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A built-in benchmark runs in the agent's binary started again, its
 * request on stdin: garbage or a command request is refused (exit 2, no
 * metrics), a memory benchmark's request writes its metrics. */
static void test_bench_helper(void **state)
{
    (void)state;
    char *dir = rk_test_tmpdir();
    char err[4096], path[4096];
    snprintf(path, sizeof path, "%s/m.json", dir);
    assert_int_equal(bench_helper(dir, "{not json", err, sizeof err), 2);
    assert_non_null(strstr(err, "not an ExecuteJobRequest"));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(bench_helper(dir, "{\"job_id\": \"j1\"}", err, sizeof err), 2);
    assert_non_null(strstr(err, "not an ExecuteJobRequest"));

    json_t *cmd =
        rk_test_job("job_cmd1", "command", json_pack("{s:[s]}", "argv", "/bin/true"), NULL);
    char *text = json_dumps(cmd, JSON_COMPACT);
    assert_int_equal(bench_helper(dir, text, err, sizeof err), 2);
    assert_non_null(strstr(err, "not a built-in benchmark"));
    assert_int_equal(access(path, F_OK), -1);
    free(text);
    json_decref(cmd);

    json_t *mem =
        rk_test_job("job_mem1", "memory_benchmark",
                    json_pack("{s:[i],s:i}", "test_sizes_mb", 1, "iterations_per_size", 1), NULL);
    text = json_dumps(mem, JSON_COMPACT);
    assert_int_equal(bench_helper(dir, text, err, sizeof err), 0);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    assert_non_null(m);
    assert_true(json_number_value(json_object_get(m, "mem_seq_read_1mb_gb_s")) > 0);
    json_decref(m);
    free(text);
    json_decref(mem);
    rk_test_rmrf(dir);
    free(dir);
}

static char *status_of(rk_test_agent_t *a)
{
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", "/api/v1/status", NULL, NULL, &r);
    const char *s = json_string_value(json_object_get(r.json, "status"));
    char *out = strdup(s ? s : "");
    rk_test_resp_cleanup(&r);
    return out;
}

static bool is_status(rk_test_agent_t *a, const char *want)
{
    char *s = status_of(a);
    bool eq = strcmp(s, want) == 0;
    free(s);
    return eq;
}

static bool is_error(void *a)
{
    return is_status(a, "error");
}

static bool is_idle(void *a)
{
    return is_status(a, "idle");
}

static void test_full_data_dir(void **state)
{
    (void)state;
    char *root = rk_test_tmpdir();
    assert_non_null(root);
    char script[PATH_MAX * 2];
    const char *bin = getenv("RK_BIN_DIR");
    snprintf(script, sizeof script,
             "mkdir -p data && mount -t tmpfs -o size=256k tmpfs data || exit 77; "
             "exec %s/ruckus-agent --port 0 --data-dir data --slots 1",
             bin ? bin : ".");
    const char *args[] = {geteuid() == 0 ? "-m" : "-rm", "/bin/sh", "-c", script, NULL};
    rk_test_proc_opts_t o = {.cwd = root};
    rk_test_proc_t p;
    int rc = rk_test_proc_start(&p, "/usr/bin/unshare", args, &o);
    if (rc != 0) {
        rk_test_proc_cleanup(&p);
        rk_test_rmrf(root);
        free(root);
        print_message("skipped: cannot mount a tmpfs in a private mount namespace here\n");
        skip();
    }
    rk_test_agent_t a = {.p = p};
    snprintf(a.root, sizeof a.root, "%s", root);
    assert_true(is_status(&a, "idle"));
    /* A job fills the disk. */
    json_t *job =
        rk_test_job_sh("job_fill", "head -c 1048576 /dev/zero > \"$RUCKUS_OUTPUT_DIR/fill\"");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(&a, "job_fill", NULL, 5000);
    assert_string_equal(st, "failed");
    free(st);
    assert_true(rk_test_wait_until(is_error, &a, 5000));
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status", NULL, NULL, &r);
    assert_non_null(json_string_value(json_object_get(r.json, "error")));
    rk_test_resp_cleanup(&r);
    const char *argv[] = {"true", NULL};
    json_t *next = rk_test_job_cmd("job_next", argv, NULL);
    rk_test_req_json(&a.p, "POST", "/api/v1/jobs", next, NULL, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(
        strstr(json_string_value(json_object_get(r.json, "detail")), "cannot store jobs"));
    rk_test_resp_cleanup(&r);
    /* Free the space (through the agent's view of its mounts): back to idle. */
    char fill[PATH_MAX * 2];
    snprintf(fill, sizeof fill, "/proc/%d/root%s/data/jobs/job_fill/output/fill", (int)a.p.pid,
             root);
    assert_int_equal(unlink(fill), 0);
    assert_true(rk_test_wait_until(is_idle, &a, 5000));
    assert_int_equal(rk_test_agent_submit(&a, next), 200);
    json_decref(next);
    rk_test_agent_cleanup(&a);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),        cmocka_unit_test(test_token),
        cmocka_unit_test(test_internal_helper_arg), cmocka_unit_test(test_bench_helper),
        cmocka_unit_test(test_full_data_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
