/* The ruckus CLI where no server answers: help, usage errors (exit 2), bad
 * spec files (2 unreadable, 6 invalid) and an unreachable server (4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk_test.h"
#include "rk_test_run.h"

static rk_test_run_t r;

/* Runs ruckus with args (RUCKUS_SERVER_URL names an address nothing listens
 * on, see main) and fails the test unless it exits with code and prints
 * in_out / in_err (NULL: anything). */
static void expect(int code, const char *in_out, const char *in_err, const char *const *args)
{
    assert_int_equal(rk_test_run(&r, "ruckus", args, 0), 0);
    if (r.code != code || (in_out && !strstr(r.out, in_out)) || (in_err && !strstr(r.err, in_err)))
        fail_msg("ruckus %s...: exit %d (want %d)\nstdout: %s\nstderr: %s", args[0], r.code, code,
                 r.out, r.err);
}

static void test_help(void **state)
{
    expect(0, "Commands:", NULL, (const char *[]){"--help", NULL});
    assert_non_null(strstr(r.out, "Exit codes"));
    expect(0, "Examples:", NULL, (const char *[]){"job", "--help", NULL});
    expect(0, "ruckus job submit exp_1a2b3c worker1 --wait", NULL,
           (const char *[]){"job", "submit", "--help", NULL});
    expect(0, "Usage: ruckus result export", NULL,
           (const char *[]){"result", "export", "-h", NULL});
    expect(0, "ruckus " RK_VERSION, NULL, (const char *[]){"--version", NULL});
}

static void test_usage_errors(void **state)
{
    expect(2, NULL, "unknown command \"frob\"", (const char *[]){"frob", NULL});
    expect(2, NULL, "unknown job command \"frob\"", (const char *[]){"job", "frob", NULL});
    expect(2, NULL, "missing agent command", (const char *[]){"agent", NULL});
    expect(2, NULL, "unknown option --frob", (const char *[]){"job", "list", "--frob", NULL});
    expect(2, NULL, "--limit needs a value", (const char *[]){"job", "list", "--limit", NULL});
    expect(2, NULL, "--limit: expected", (const char *[]){"job", "list", "--limit", "0", NULL});
    expect(2, NULL, "--status: expected",
           (const char *[]){"job", "list", "--status", "done", NULL});
    expect(2, NULL, "missing argument", (const char *[]){"job", "show", NULL});
    expect(2, NULL, "too many arguments", (const char *[]){"job", "show", "a", "b", NULL});
    expect(2, NULL, "not a valid id", (const char *[]){"job", "show", "../etc", NULL});
    expect(2, NULL, "-o FILE is required", (const char *[]){"job", "artifacts", "job_1", NULL});
    /* Queue control (cmd_queue.c, job submit's new options). */
    expect(2, NULL, "LEVEL: expected one of low, medium, high, critical",
           (const char *[]){"job", "priority", "job_1", "urgent", NULL});
    expect(2, NULL, "give one or more job ids, or filters",
           (const char *[]){"job", "cancel", NULL});
    expect(2, NULL, "give job ids or filters, not both",
           (const char *[]){"job", "cancel", "job_1", "--status", "queued", NULL});
    expect(2, NULL, "--priority: expected one of",
           (const char *[]){"job", "cancel", "--priority", "top", NULL});
    expect(2, NULL, "--count: expected a number from 1 to 10000",
           (const char *[]){"job", "submit", "exp_1", "--count", "0", NULL});
    expect(2, NULL, "--count: expected a number from 1 to 10000",
           (const char *[]){"job", "submit", "exp_1", "--count", "10001", NULL});
    expect(2, NULL, "--label: expected KEY=VALUE",
           (const char *[]){"job", "submit", "exp_1", "--label", "gpu", NULL});
    expect(2, NULL, "--label: expected KEY=VALUE",
           (const char *[]){"job", "submit", "exp_1", "--label", "=x", NULL});
    expect(2, NULL, "--priority: expected one of",
           (const char *[]){"job", "submit", "exp_1", "--priority", "urgent", NULL});
    expect(2, NULL, "give an AGENT or --any, not both",
           (const char *[]){"job", "submit", "exp_1", "worker1", "--any", NULL});
    expect(2, NULL, "--wait follows one job",
           (const char *[]){"job", "submit", "exp_1", "--count", "3", "--wait", NULL});
    expect(2, NULL, "--after-any: give the jobs with --after",
           (const char *[]){"job", "submit", "exp_1", "--after-any", NULL});
    expect(2, NULL, "--after: expected job ids separated by commas",
           (const char *[]){"job", "submit", "exp_1", "--after", "job_1,,job_2", NULL});
    expect(2, NULL, "--deadline: expected seconds",
           (const char *[]){"agent", "drain", "a1", "--deadline", "-1", NULL});
    expect(2, NULL, "missing argument", (const char *[]){"agent", "pause", NULL});
    expect(2, NULL, "--format: expected csv or json",
           (const char *[]){"result", "export", "--format", "xml", NULL});
    expect(2, NULL, "not an http:// or https:// URL",
           (const char *[]){"agent", "register", "ftp://x", NULL});
    expect(2, NULL, "--server (RUCKUS_SERVER_URL)",
           (const char *[]){"--server", "nope", "agent", "list", NULL});
}

static void test_bad_files(void **state)
{
    char *dir = rk_test_tmpdir();
    assert_non_null(dir);
    char bad_json[1200], bad_spec[1200], missing[1200];
    snprintf(bad_json, sizeof bad_json, "%s/bad.json", dir);
    snprintf(bad_spec, sizeof bad_spec, "%s/spec.json", dir);
    snprintf(missing, sizeof missing, "%s/missing.json", dir);
    assert_int_equal(rk_test_write_file(bad_json, "{\"name\": ", 0644), 0);
    assert_int_equal(
        rk_test_write_file(
            bad_spec,
            "{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":\"command\","
            "\"params\":{\"argv\":\"not a list\"}},\"framework\":{\"name\":\"f\"},"
            "\"metrics\":{\"metrics\":{}}}",
            0644),
        0);
    expect(2, NULL, "cannot read", (const char *[]){"experiment", "create", missing, NULL});
    expect(6, NULL, "invalid JSON", (const char *[]){"experiment", "create", bad_json, NULL});
    expect(6, NULL, "task.params.argv", (const char *[]){"experiment", "create", bad_spec, NULL});
    assert_int_equal(rk_test_rmrf(dir), 0);
    free(dir);
}

static void test_unreachable(void **state)
{
    expect(4, NULL, "cannot reach the server at http://127.0.0.1:1",
           (const char *[]){"agent", "list", NULL});
    expect(4, NULL, "cannot reach",
           (const char *[]){"--json", "job", "show", "job_00000000", NULL});
    expect(4, NULL, "cannot reach", (const char *[]){"job", "watch", "job_00000000", NULL});
    expect(4, NULL, "cannot reach", (const char *[]){"result", "export", "--format", "csv", NULL});
    assert_string_equal(r.out, "");
}

/* ruckus slurm submit without a cluster: help, usage errors, the script
 * printed, sbatch missing, and sbatch (a stand-in on PATH, for the CLI's
 * side only: tests/system/test_slurm.c runs the real one) failing or
 * answering, with the token in its environment and not in the script. */
static void test_slurm(void **state)
{
    expect(0, "--cpus-per-task C", NULL, (const char *[]){"slurm", "submit", "--help", NULL});
    expect(0, "submit --nodes N --partition P", NULL, (const char *[]){"slurm", "--help", NULL});
    expect(0, "slurm       submit", NULL, (const char *[]){"--help", NULL});
    expect(2, NULL, "missing slurm command", (const char *[]){"slurm", NULL});
    expect(2, NULL, "--nodes is required",
           (const char *[]){"slurm", "submit", "--partition", "debug", NULL});
    expect(2, NULL, "--nodes: expected a number from 1 to 1000",
           (const char *[]){"slurm", "submit", "--nodes", "0", "--partition", "debug", NULL});
    expect(2, NULL, "--partition is required",
           (const char *[]){"slurm", "submit", "--nodes", "2", NULL});
    expect(2, NULL, "--time: expected",
           (const char *[]){"slurm", "submit", "-N", "2", "-p", "debug", "--time", "1h", NULL});
    expect(2, NULL, "--cpus-per-task: expected",
           (const char *[]){"slurm", "submit", "-N", "2", "-p", "debug", "-c", "x", NULL});
    expect(2, NULL, "--exit-when-idle: expected seconds",
           (const char *[]){"slurm", "submit", "-N", "1", "-p", "debug", "--exit-when-idle", "0",
                            NULL});
    expect(
        2, NULL, "--label node: set by the batch script",
        (const char *[]){"slurm", "submit", "-N", "1", "-p", "debug", "--label", "node=x", NULL});
    expect(2, NULL, "--server: expected an http",
           (const char *[]){"slurm", "submit", "-N", "1", "-p", "debug", "--server", "head", NULL});
    expect(2, NULL, "too many arguments",
           (const char *[]){"slurm", "submit", "-N", "1", "-p", "debug", "extra", NULL});

    /* --script-only: the script, nothing submitted (no sbatch needed). */
    setenv("RUCKUS_SERVER_API_TOKEN", "s3cret-token", 1);
    expect(0, "#SBATCH --partition=debug\n", NULL,
           (const char *[]){"slurm", "submit", "-p", "debug", "--script-only", "--label", "a=b",
                            "--label", "c=d", "--server", "http://head:8000", NULL});
    assert_non_null(strstr(r.out, "--register-with 'http://head:8000'"));
    assert_non_null(strstr(r.out, "--label 'a=b' \\\n  --label 'c=d'"));
    assert_null(strstr(r.out, "s3cret-token"));
    expect(0, "\"script\": \"#!/bin/sh\\n", NULL,
           (const char *[]){"--json", "slurm", "submit", "-p", "debug", "--script-only", NULL});

    char *dir = rk_test_tmpdir();
    assert_non_null(dir);
    const char *old = getenv("PATH");
    char *saved = strdup(old ? old : "/usr/bin:/bin"), path[1200], sb[1200], body[4096];
    setenv("PATH", dir, 1);
    expect(1, NULL, "sbatch not found on PATH",
           (const char *[]){"slurm", "submit", "-N", "2", "-p", "debug", NULL});

    /* sbatch refusing: its own words are shown. */
    snprintf(sb, sizeof sb, "%s/sbatch", dir);
    assert_int_equal(rk_test_write_file(sb,
                                        "#!/bin/sh\necho 'sbatch: error: invalid partition "
                                        "specified: nope' >&2\nexit 1\n",
                                        0755),
                     0);
    snprintf(path, sizeof path, "%s:%s", dir, saved);
    setenv("PATH", path, 1);
    expect(1, NULL, "sbatch: error: invalid partition specified: nope",
           (const char *[]){"slurm", "submit", "-N", "2", "-p", "nope", NULL});
    assert_non_null(strstr(r.err, "sbatch failed (exit 1) for pilot agent 1 of 2"));

    /* sbatch answering: ids 100, 101, ... ("ID;cluster" as --parsable
     * prints on a multi-cluster site); it keeps the script and its
     * environment's tokens. */
    snprintf(body, sizeof body,
             "#!/bin/sh\n"
             "n=$(cat %s/n 2>/dev/null || echo 100); echo $((n + 1)) > %s/n\n"
             "echo \"$@\" > %s/args; cp \"$3\" %s/script\n"
             "echo \"$RUCKUS_AGENT_SERVER_TOKEN $RUCKUS_AGENT_TOKEN\" > %s/env\n"
             "echo \"$n;cluster1\"\n",
             dir, dir, dir, dir, dir);
    assert_int_equal(rk_test_write_file(sb, body, 0755), 0);
    expect(0, "submitted Slurm job 100 (pilot agent 1 of 3)\n", NULL,
           (const char *[]){"slurm", "submit", "-N", "3", "-p", "debug", "--server",
                            "http://head:8000", NULL});
    assert_non_null(strstr(r.out, "submitted Slurm job 102 (pilot agent 3 of 3)\n"));
    char f[1300];
    snprintf(f, sizeof f, "%s/env", dir);
    char *env = rk_test_read_file(f, NULL);
    assert_non_null(env);
    /* The server token, and a random agent token (it listens beyond loopback). */
    assert_int_equal(strncmp(env, "s3cret-token ", 13), 0);
    assert_int_equal(strspn(env + 13, "0123456789abcdef"), 32);
    free(env);
    snprintf(f, sizeof f, "%s/script", dir);
    char *script = rk_test_read_file(f, NULL);
    assert_non_null(script);
    assert_non_null(strstr(script, "#SBATCH --partition=debug"));
    assert_null(strstr(script, "s3cret-token"));
    free(script);
    snprintf(f, sizeof f, "%s/args", dir);
    char *args = rk_test_read_file(f, NULL);
    assert_non_null(args);
    assert_int_equal(strncmp(args, "--parsable --export=ALL ", 24), 0);
    free(args);
    expect(0, "\"slurm_job_ids\": [\n    \"103\",\n    \"104\"\n  ]", NULL,
           (const char *[]){"--json", "slurm", "submit", "-N", "2", "-p", "debug", NULL});

    setenv("PATH", saved, 1);
    free(saved);
    unsetenv("RUCKUS_SERVER_API_TOKEN");
    rk_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    setenv("RUCKUS_SERVER_URL", "http://127.0.0.1:1", 1);
    unsetenv("RUCKUS_SERVER_API_TOKEN");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),      cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_bad_files), cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_slurm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
