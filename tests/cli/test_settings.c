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
    assert_string_equal(err, "ruckus: --server (RUCKUS_SERVER_URL): expected an http:// or https:// URL, got \"localhost:8000\"");
    rk_cli_settings_cleanup(&s);
    char *a2[] = {"ruckus", "--timeout=0"};
    assert_int_equal(rk_cli_settings_load(2, a2, &s, &res, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "ruckus: --timeout (RUCKUS_CLI_TIMEOUT): expected a number greater than 0 and at most 86400, got \"0\"");
    rk_cli_settings_cleanup(&s);
    char *a3[] = {"ruckus", "--token"};
    assert_int_equal(rk_cli_settings_load(2, a3, &s, &res, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "ruckus: --token (RUCKUS_SERVER_API_TOKEN): missing value");
    rk_cli_settings_cleanup(&s);
}

/* ---- the program itself ------------------------------------------------ */

typedef struct {
    int status;
    char out[65536];
    char err[65536];
} run_t;

static void read_all(int fd, char *buf, size_t size)
{
    size_t n = 0;
    ssize_t r;
    while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

/* Runs the program with args; with a stop_signal, sends it once the program
 * has logged "starting". */
static void run(run_t *r, int stop_signal, char *const *args)
{
    char path[1024];
    const char *bin = getenv("RK_BIN_DIR");
    snprintf(path, sizeof path, "%s/ruckus", bin ? bin : "bin");
    int po[2], pe[2];
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        execv(path, args);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t n = 0;
    if (stop_signal) {
        ssize_t got;
        while (!strstr(r->err, "starting") && (got = read(pe[0], r->err + n, 4096)) > 0) {
            n += (size_t)got;
            r->err[n] = '\0';
        }
        kill(pid, stop_signal);
    }
    read_all(po[0], r->out, sizeof r->out);
    read_all(pe[0], r->err + n, sizeof r->err - n);
    close(po[0]);
    close(pe[0]);
    assert_int_equal(waitpid(pid, &r->status, 0), pid);
}

static void test_program(void **state)
{
    static run_t r;
    memset(&r, 0, sizeof r);
    run(&r, 0, (char *[]){"ruckus", "--version", NULL});
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_string_equal(r.out, "ruckus " RK_VERSION "\n");

    memset(&r, 0, sizeof r);
    run(&r, 0, (char *[]){"ruckus", NULL});
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_true(strncmp(r.out, "Usage: ruckus [OPTIONS] COMMAND [ARGS...]\n", 42) == 0);

    memset(&r, 0, sizeof r);
    run(&r, 0, (char *[]){"ruckus", "--json", "frobnicate", NULL});
    assert_int_equal(WEXITSTATUS(r.status), 2);
    assert_string_equal(r.err, "ruckus: unknown command \"frobnicate\" (see --help)\n");

    memset(&r, 0, sizeof r);
    run(&r, 0, (char *[]){"ruckus", "--timeout", "soon", NULL});
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
