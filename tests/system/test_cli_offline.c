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

int main(void)
{
    setenv("RUCKUS_SERVER_URL", "http://127.0.0.1:1", 1);
    unsetenv("RUCKUS_SERVER_API_TOKEN");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
