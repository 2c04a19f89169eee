/* ruckus-server's option table, and the program's entry point run for real. */
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
#include "base/log.h"
#include "rk_test_run.h"
#include "server/settings.h"

static const char *const envs[] = {"RUCKUS_SERVER_HOST",
                                   "RUCKUS_SERVER_PORT",
                                   "RUCKUS_STORAGE_STORAGE_BACKEND",
                                   "RUCKUS_SQLITE_DATABASE_PATH",
                                   "RUCKUS_JOB_MANAGER_JOB_STATUS_POLLING_INTERVAL",
                                   "RUCKUS_SERVER_API_TOKEN",
                                   "RUCKUS_SERVER_CORS_ORIGINS",
                                   "RUCKUS_SERVER_AGENT_TIMEOUT",
                                   "RUCKUS_SERVER_THREADS",
                                   "RUCKUS_SERVER_MAX_BODY_BYTES",
                                   "RUCKUS_LOG_LEVEL",
                                   "RUCKUS_JOB_MANAGER_TIMEOUT_GRACE",
                                   NULL};

static int setup(void **state)
{
    for (size_t i = 0; envs[i]; i++)
        unsetenv(envs[i]);
    return 0;
}

static int load(rk_server_settings_t *s, char *err, int argc, char **argv)
{
    rk_config_result_t res;
    int rc = rk_server_settings_load(argc, argv, s, &res, err, RK_CONFIG_ERRLEN);
    if (!rc)
        assert_int_equal(res.action, RK_CONFIG_RUN);
    return rc;
}

static void test_defaults(void **state)
{
    rk_server_settings_t s;
    char err[RK_CONFIG_ERRLEN];
    char *argv[] = {"ruckus-server"};
    assert_int_equal(load(&s, err, 1, argv), 0);
    assert_string_equal(s.host, "127.0.0.1");
    assert_int_equal(s.port, 8000);
    assert_int_equal(s.storage, RK_SERVER_STORAGE_SQLITE);
    assert_string_equal(rk_server_storage_name(s.storage), "sqlite");
    assert_string_equal(s.db_path, "datastore/ruckus.db");
    assert_true(s.poll_interval == 5.0);
    assert_null(s.token);
    assert_int_equal(s.cors_origins.count, 0);
    assert_true(s.agent_timeout == 30.0);
    assert_int_equal(s.threads, 2);
    assert_int_equal(s.max_body, 1048576);
    assert_int_equal(s.log_level, RK_LOG_INFO);
    rk_server_settings_cleanup(&s);
}

static void test_environment(void **state)
{
    rk_server_settings_t s;
    char err[RK_CONFIG_ERRLEN];
    char *argv[] = {"ruckus-server", "--port", "9001", "--log-level=debug"};
    setenv("RUCKUS_SERVER_HOST", "0.0.0.0", 1);
    setenv("RUCKUS_SERVER_PORT", "9000", 1);
    setenv("RUCKUS_STORAGE_STORAGE_BACKEND", "memory", 1);
    setenv("RUCKUS_SQLITE_DATABASE_PATH", "/tmp/x.db", 1);
    setenv("RUCKUS_JOB_MANAGER_JOB_STATUS_POLLING_INTERVAL", "0.25", 1);
    setenv("RUCKUS_SERVER_API_TOKEN", "s3cret", 1);
    setenv("RUCKUS_SERVER_CORS_ORIGINS", "https://ui.example.com, http://localhost:3000", 1);
    setenv("RUCKUS_SERVER_AGENT_TIMEOUT", "12.5", 1);
    setenv("RUCKUS_SERVER_THREADS", "8", 1);
    setenv("RUCKUS_SERVER_MAX_BODY_BYTES", "2048", 1);
    setenv("RUCKUS_LOG_LEVEL", "error", 1);
    assert_int_equal(load(&s, err, 4, argv), 0);
    assert_string_equal(s.host, "0.0.0.0");
    assert_int_equal(s.port, 9001);
    assert_int_equal(s.storage, RK_SERVER_STORAGE_MEMORY);
    assert_string_equal(s.db_path, "/tmp/x.db");
    assert_true(s.poll_interval == 0.25);
    assert_string_equal(s.token, "s3cret");
    assert_int_equal(s.cors_origins.count, 2);
    assert_string_equal(s.cors_origins.items[1], "http://localhost:3000");
    assert_true(s.agent_timeout == 12.5);
    assert_int_equal(s.threads, 8);
    assert_int_equal(s.max_body, 2048);
    assert_int_equal(s.log_level, RK_LOG_DEBUG);
    rk_server_settings_cleanup(&s);
}

static void test_refusals(void **state)
{
    rk_server_settings_t s;
    char err[RK_CONFIG_ERRLEN];
    char *a1[] = {"ruckus-server", "--port", "abc"};
    assert_int_equal(load(&s, err, 3, a1), RK_EINVAL);
    assert_string_equal(err, "ruckus-server: --port (RUCKUS_SERVER_PORT): expected an integer from "
                             "0 to 65535, got \"abc\"");
    rk_server_settings_cleanup(&s);

    char *a2[] = {"ruckus-server", "--host", "0.0.0.0"};
    assert_int_equal(load(&s, err, 3, a2), RK_EINVAL);
    assert_non_null(strstr(err, "needs a token"));
    rk_server_settings_cleanup(&s);

    char *a3[] = {"ruckus-server", "--poll-interval=0"};
    assert_int_equal(load(&s, err, 2, a3), RK_EINVAL);
    rk_server_settings_cleanup(&s);
    char *a4[] = {"ruckus-server", "--storage=postgres"};
    assert_int_equal(load(&s, err, 2, a4), RK_EINVAL);
    assert_non_null(strstr(err, "expected one of sqlite, memory"));
    rk_server_settings_cleanup(&s);
    char *a5[] = {"ruckus-server", "--cors-origins=ui.example.com"};
    assert_int_equal(load(&s, err, 2, a5), RK_EINVAL);
    rk_server_settings_cleanup(&s);
    char *a6[] = {"ruckus-server", "--threads=0"};
    assert_int_equal(load(&s, err, 2, a6), RK_EINVAL);
    rk_server_settings_cleanup(&s);
    char *a7[] = {"ruckus-server", "serve"};
    assert_int_equal(load(&s, err, 2, a7), RK_EINVAL);
    rk_server_settings_cleanup(&s);
}

/* ---- the program itself ------------------------------------------------ */

static void test_program(void **state)
{
    static rk_test_run_t r;
    assert_int_equal(rk_test_run(&r, "ruckus-server", (const char *[]){"--version", NULL}, 0), 0);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_string_equal(r.out, "ruckus-server " RK_VERSION "\n");

    assert_int_equal(rk_test_run(&r, "ruckus-server", (const char *[]){"--help", NULL}, 0), 0);
    assert_int_equal(WEXITSTATUS(r.status), 0);
    const char *usage =
        "Usage: ruckus-server [OPTIONS]  |  migrate --from STORE --to STORE (see migrate --help)\n";
    assert_true(strncmp(r.out, usage, strlen(usage)) == 0);
    assert_non_null(strstr(r.out, "RUCKUS_SERVER_AGENT_TIMEOUT"));

    assert_int_equal(rk_test_run(&r, "ruckus-server", (const char *[]){"--port", "abc", NULL}, 0),
                     0);
    assert_int_equal(WEXITSTATUS(r.status), 2);
    assert_string_equal(r.err, "ruckus-server: --port (RUCKUS_SERVER_PORT): expected an integer "
                               "from 0 to 65535, got \"abc\"\n");

    assert_int_equal(rk_test_run(&r, "ruckus-server", (const char *[]){"--bogus", NULL}, 0), 0);
    assert_int_equal(WEXITSTATUS(r.status), 2);
    assert_string_equal(r.err, "ruckus-server: unknown option \"--bogus\" (see --help)\n");

    setenv("RUCKUS_SERVER_API_TOKEN", "tok-never-logged", 1);
    assert_int_equal(rk_test_run(&r, "ruckus-server",
                                 (const char *[]){"--storage", "memory", "--port", "0", NULL},
                                 SIGTERM),
                     0);
    unsetenv("RUCKUS_SERVER_API_TOKEN");
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_non_null(strstr(r.err, " starting host=127.0.0.1 port=0 storage=memory "));
    assert_non_null(strstr(r.err, " token=(set) "));
    assert_non_null(strstr(r.err, " stopped signal=SIGTERM\n"));
    assert_null(strstr(r.err, "tok-never-logged"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_environment, setup),
        cmocka_unit_test_setup(test_refusals, setup),
        cmocka_unit_test_setup(test_program, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
