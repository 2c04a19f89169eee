/* The CLI's global options, and the program's entry point run for real. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "cli/settings.h"
#include "rk_test_run.h"

static int setup(void **state)
{
    unsetenv("RUCKUS_SERVER_URL");
    unsetenv("RUCKUS_SERVER_API_TOKEN");
    unsetenv("RUCKUS_CLI_JSON");
    unsetenv("RUCKUS_CLI_TIMEOUT");
    return 0;
}

static void test_defaults_and_env(void **state)
{
    rk_cli_settings_t s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    char *a1[] = {"ruckus"};
    assert_int_equal(rk_cli_settings_load(1, a1, &s, &res, err, sizeof err), 0);
    assert_string_equal(s.server, "http://127.0.0.1:8000");
    assert_null(s.token);
    assert_false(s.json);
    assert_true(s.timeout == 30.0);
    assert_int_equal(res.argi, 1);
    rk_cli_settings_cleanup(&s);

    setenv("RUCKUS_SERVER_URL", "https://ruckus.example.com", 1);
    setenv("RUCKUS_SERVER_API_TOKEN", "tok", 1);
    setenv("RUCKUS_CLI_JSON", "1", 1);
    setenv("RUCKUS_CLI_TIMEOUT", "2.5", 1);
    char *a2[] = {"ruckus", "--timeout", "4", "jobs", "list", "--json=false"};
    assert_int_equal(rk_cli_settings_load(6, a2, &s, &res, err, sizeof err), 0);
    assert_string_equal(s.server, "https://ruckus.example.com");
    assert_string_equal(s.token, "tok");
    assert_true(s.json); /* the --json=false after the command is the command's */
    assert_true(s.timeout == 4.0);
    assert_int_equal(res.argi, 3);
    rk_cli_settings_cleanup(&s);
}

static void test_refusals(void **state)
{
    rk_cli_settings_t s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    char *a1[] = {"ruckus", "--server", "localhost:8000"};
    assert_int_equal(rk_cli_settings_load(3, a1, &s, &res, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "ruckus: --server (RUCKUS_SERVER_URL): expected an http:// or "
                             "https:// URL, got \"localhost:8000\"");
    rk_cli_settings_cleanup(&s);
    char *a2[] = {"ruckus", "--timeout=0"};
    assert_int_equal(rk_cli_settings_load(2, a2, &s, &res, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "ruckus: --timeout (RUCKUS_CLI_TIMEOUT): expected a number greater "
                             "than 0 and at most 86400, got \"0\"");
    rk_cli_settings_cleanup(&s);
    char *a3[] = {"ruckus", "--token"};
    assert_int_equal(rk_cli_settings_load(2, a3, &s, &res, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "ruckus: --token (RUCKUS_SERVER_API_TOKEN): missing value");
    rk_cli_settings_cleanup(&s);
}

/* ---- the program itself ------------------------------------------------ */

static void test_program(void **state)
{
    static rk_test_run_t r;
    assert_int_equal(rk_test_run(&r, "ruckus", (const char *[]){"--version", NULL}, 0), 0);
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_string_equal(r.out, "ruckus " RK_VERSION "\n");

    assert_int_equal(rk_test_run(&r, "ruckus", NULL, 0), 0);
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_true(strncmp(r.out, "Usage: ruckus [OPTIONS] COMMAND [ARGS...]\n", 42) == 0);

    assert_int_equal(rk_test_run(&r, "ruckus", (const char *[]){"--json", "frobnicate", NULL}, 0),
                     0);
    assert_int_equal(WEXITSTATUS(r.status), 2);
    assert_string_equal(r.err, "ruckus: unknown command \"frobnicate\" (see --help)\n");

    assert_int_equal(rk_test_run(&r, "ruckus", (const char *[]){"--timeout", "soon", NULL}, 0), 0);
    assert_int_equal(WEXITSTATUS(r.status), 2);
    assert_non_null(strstr(r.err, "--timeout (RUCKUS_CLI_TIMEOUT)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_and_env, setup),
        cmocka_unit_test_setup(test_refusals, setup),
        cmocka_unit_test_setup(test_program, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
