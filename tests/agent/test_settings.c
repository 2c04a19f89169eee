/* ruckus-agent's option table, and the program's entry point run for real. */
#include <fcntl.h>
#include <limits.h>
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

#include "agent/settings.h"
#include "base/err.h"
#include "base/log.h"
#include "rk_test_run.h"

static const char *const envs[] = {"RUCKUS_AGENT_HOST",          "RUCKUS_AGENT_PORT",
                                   "RUCKUS_AGENT_DATA_DIR",      "RUCKUS_AGENT_SLOTS",
                                   "RUCKUS_AGENT_NAME",          "RUCKUS_AGENT_TOKEN",
                                   "RUCKUS_AGENT_REGISTER_WITH", "RUCKUS_AGENT_SERVER_TOKEN",
                                   "RUCKUS_AGENT_MODELS_DIR",    "RUCKUS_AGENT_RETENTION_DAYS",
                                   "RUCKUS_AGENT_GRACE_SECONDS", "RUCKUS_AGENT_LOG_CAP_BYTES",
                                   "RUCKUS_LOG_LEVEL",           "RUCKUS_AGENT_SYNC",
                                   "RUCKUS_AGENT_LABELS",        NULL};

static int setup(void **state)
{
    for (size_t i = 0; envs[i]; i++)
        unsetenv(envs[i]);
    return 0;
}

static int load(rk_agent_settings_t *s, char *err, int argc, char **argv)
{
    rk_config_result_t res;
    int rc = rk_agent_settings_load(argc, argv, s, &res, err, RK_CONFIG_ERRLEN);
    if (!rc)
        assert_int_equal(res.action, RK_CONFIG_RUN);
    return rc;
}

static void test_defaults(void **state)
{
    rk_agent_settings_t s;
    char err[RK_CONFIG_ERRLEN];
    char *argv[] = {"ruckus-agent"};
    char host[HOST_NAME_MAX + 1] = "";
    assert_int_equal(gethostname(host, sizeof host), 0);
    assert_int_equal(load(&s, err, 1, argv), 0);
    assert_string_equal(s.host, "127.0.0.1");
    assert_int_equal(s.port, 8081);
    assert_string_equal(s.data_dir, "./agent-data");
    assert_int_equal(s.slots, 1);
    assert_string_equal(s.name, host);
    assert_null(s.token);
    assert_null(s.register_with);
    assert_null(s.server_token);
    assert_string_equal(s.models_dir, "./agent-data/models");
    assert_int_equal(s.retention_days, 7);
    assert_true(s.grace == 10.0);
    assert_int_equal(s.log_cap, 16 * 1024 * 1024);
    assert_int_equal(s.log_level, RK_LOG_INFO);
    assert_int_equal(s.sync, RK_AGENT_SYNC_NORMAL);
    rk_agent_settings_cleanup(&s);
}

static void test_environment(void **state)
{
    rk_agent_settings_t s;
    char err[RK_CONFIG_ERRLEN];
    char *argv[] = {"ruckus-agent", "--slots=16", "--data-dir", "/srv/agent"};
    setenv("RUCKUS_AGENT_HOST", "::", 1);
    setenv("RUCKUS_AGENT_PORT", "9100", 1);
    setenv("RUCKUS_AGENT_DATA_DIR", "/ignored", 1);
    setenv("RUCKUS_AGENT_SLOTS", "4", 1);
    setenv("RUCKUS_AGENT_NAME", "gpu box 1", 1);
    setenv("RUCKUS_AGENT_TOKEN", "agent-tok", 1);
    setenv("RUCKUS_AGENT_REGISTER_WITH", "https://server.example.com:8000", 1);
    setenv("RUCKUS_AGENT_SERVER_TOKEN", "server-tok", 1);
    setenv("RUCKUS_AGENT_RETENTION_DAYS", "30", 1);
    setenv("RUCKUS_AGENT_GRACE_SECONDS", "2.5", 1);
    setenv("RUCKUS_AGENT_LOG_CAP_BYTES", "65536", 1);
    setenv("RUCKUS_LOG_LEVEL", "warn", 1);
    setenv("RUCKUS_AGENT_SYNC", "full", 1);
    assert_int_equal(load(&s, err, 4, argv), 0);
    assert_string_equal(s.host, "::");
    assert_int_equal(s.port, 9100);
    assert_string_equal(s.data_dir, "/srv/agent");
    assert_int_equal(s.slots, 16);
    assert_string_equal(s.name, "gpu box 1");
    assert_string_equal(s.token, "agent-tok");
    assert_string_equal(s.register_with, "https://server.example.com:8000");
    assert_string_equal(s.server_token, "server-tok");
    assert_string_equal(s.models_dir, "/srv/agent/models"); /* follows --data-dir */
    assert_int_equal(s.retention_days, 30);
    assert_true(s.grace == 2.5);
    assert_int_equal(s.log_cap, 65536);
    assert_int_equal(s.log_level, RK_LOG_WARN);
    assert_int_equal(s.sync, RK_AGENT_SYNC_FULL);
    rk_agent_settings_cleanup(&s);

    setenv("RUCKUS_AGENT_MODELS_DIR", "/models", 1);
    assert_int_equal(load(&s, err, 4, argv), 0);
    assert_string_equal(s.models_dir, "/models");
    rk_agent_settings_cleanup(&s);
}

static void test_refusals(void **state)
{
    rk_agent_settings_t s;
    char err[RK_CONFIG_ERRLEN];
    char *a1[] = {"ruckus-agent", "--slots", "0"};
    assert_int_equal(load(&s, err, 3, a1), RK_EINVAL);
    assert_string_equal(err, "ruckus-agent: --slots (RUCKUS_AGENT_SLOTS): expected an integer from "
                             "1 to 1024, got \"0\"");
    rk_agent_settings_cleanup(&s);
    char *a2[] = {"ruckus-agent", "--slots=1025"};
    assert_int_equal(load(&s, err, 2, a2), RK_EINVAL);
    rk_agent_settings_cleanup(&s);
    char *a3[] = {"ruckus-agent", "--register-with", "server:8000"};
    assert_int_equal(load(&s, err, 3, a3), RK_EINVAL);
    assert_string_equal(err, "ruckus-agent: --register-with (RUCKUS_AGENT_REGISTER_WITH): expected "
                             "an http:// or https:// URL, got \"server:8000\"");
    rk_agent_settings_cleanup(&s);
    char *a4[] = {"ruckus-agent", "--name", "bad\nname"};
    assert_int_equal(load(&s, err, 3, a4), RK_EINVAL);
    rk_agent_settings_cleanup(&s);
    char *a5[] = {"ruckus-agent", "--host=10.0.0.5"};
    assert_int_equal(load(&s, err, 2, a5), RK_EINVAL);
    assert_non_null(strstr(err, "needs a token (--token or RUCKUS_AGENT_TOKEN)"));
    rk_agent_settings_cleanup(&s);
    char *a6[] = {"ruckus-agent", "--grace=-1"};
    assert_int_equal(load(&s, err, 2, a6), RK_EINVAL);
    rk_agent_settings_cleanup(&s);
    char *a7[] = {"ruckus-agent", "--log-cap=100"};
    assert_int_equal(load(&s, err, 2, a7), RK_EINVAL);
    rk_agent_settings_cleanup(&s);
    char *a8[] = {"ruckus-agent", "--server-token=hunter2x", "--slots=x"};
    assert_int_equal(load(&s, err, 3, a8), RK_EINVAL);
    rk_agent_settings_cleanup(&s);
    char *a9[] = {"ruckus-agent", "--sync=off"};
    assert_int_equal(load(&s, err, 2, a9), RK_EINVAL);
    assert_non_null(strstr(err, "--sync"));
    rk_agent_settings_cleanup(&s);
}

/* --label key=value, repeatable; the first flag replaces the environment's
 * comma-separated list; a bad label is refused naming the option. */
static void test_labels(void **state)
{
    rk_agent_settings_t s;
    char err[RK_CONFIG_ERRLEN];
    char *a0[] = {"ruckus-agent"};
    assert_int_equal(load(&s, err, 1, a0), RK_OK);
    assert_int_equal(s.labels.count, 0);
    rk_agent_settings_cleanup(&s);

    char *a1[] = {"ruckus-agent", "--label", "gpu=a100", "--label=zone=eu-1,b"};
    assert_int_equal(load(&s, err, 4, a1), RK_OK);
    assert_int_equal(s.labels.count, 2);
    assert_string_equal(s.labels.items[0], "gpu=a100");
    assert_string_equal(s.labels.items[1], "zone=eu-1,b"); /* a flag's item is whole */
    rk_agent_settings_cleanup(&s);

    setenv("RUCKUS_AGENT_LABELS", "rack=r1, os=linux", 1);
    assert_int_equal(load(&s, err, 1, a0), RK_OK);
    assert_int_equal(s.labels.count, 2);
    assert_string_equal(s.labels.items[1], "os=linux");
    rk_agent_settings_cleanup(&s);
    char *a2[] = {"ruckus-agent", "--label", "gpu=none"};
    assert_int_equal(load(&s, err, 3, a2), RK_OK);
    assert_int_equal(s.labels.count, 1); /* the flag wins over the environment */
    assert_string_equal(s.labels.items[0], "gpu=none");
    rk_agent_settings_cleanup(&s);
    unsetenv("RUCKUS_AGENT_LABELS");

    char value[300];
    memset(value, 'v', sizeof value);
    memcpy(value, "k=", 2);
    value[2 + 256] = '\0'; /* a value of 256 bytes */
    static const struct {
        const char *arg, *why;
    } bad[] = {
        {"novalue", "expected key=value with a key of 1 to 63 characters"},
        {"=x", "expected key=value"},
        {"bad key=x", "expected key=value"},
        {"", "expected a value"},
        {NULL, "a label value is at most 255 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *a[] = {"ruckus-agent", "--label", (char *)(bad[i].arg ? bad[i].arg : value)};
        assert_int_equal(load(&s, err, 3, a), RK_EINVAL);
        assert_non_null(strstr(err, "ruckus-agent: --label (RUCKUS_AGENT_LABELS): "));
        assert_non_null(strstr(err, bad[i].why));
        rk_agent_settings_cleanup(&s);
    }
    char *a3[] = {"ruckus-agent", "--label", "gpu=a", "--label", "gpu=b"};
    assert_int_equal(load(&s, err, 5, a3), RK_EINVAL);
    assert_non_null(strstr(err, "a label key is given twice, got \"gpu=b\""));
    rk_agent_settings_cleanup(&s);
    setenv("RUCKUS_AGENT_LABELS", "ok=1,no good=2", 1);
    assert_int_equal(load(&s, err, 1, a0), RK_EINVAL);
    assert_non_null(strstr(err, "--label (RUCKUS_AGENT_LABELS)"));
    rk_agent_settings_cleanup(&s);
    unsetenv("RUCKUS_AGENT_LABELS");
}

/* ---- the program itself ------------------------------------------------ */

static void test_program(void **state)
{
    static rk_test_run_t r;
    assert_int_equal(rk_test_run(&r, "ruckus-agent", (const char *[]){"--version", NULL}, 0), 0);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_string_equal(r.out, "ruckus-agent " RK_VERSION "\n");

    assert_int_equal(rk_test_run(&r, "ruckus-agent", (const char *[]){"-h", NULL}, 0), 0);
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_true(strncmp(r.out, "Usage: ruckus-agent [OPTIONS]\n", 30) == 0);

    setenv("RUCKUS_AGENT_SLOTS", "many", 1);
    assert_int_equal(rk_test_run(&r, "ruckus-agent", NULL, 0), 0);
    unsetenv("RUCKUS_AGENT_SLOTS");
    assert_int_equal(WEXITSTATUS(r.status), 2);
    assert_string_equal(r.err, "ruckus-agent: --slots (RUCKUS_AGENT_SLOTS): expected an integer "
                               "from 1 to 1024, got \"many\"\n");

    assert_int_equal(
        rk_test_run(&r, "ruckus-agent",
                    (const char *[]){"--name", "a1", "--server-token", "srv-never-logged", NULL},
                    SIGINT),
        0);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 0);
    assert_non_null(strstr(r.err, " starting host=127.0.0.1 port=8081 "));
    assert_non_null(strstr(r.err, " name=a1 token=(unset) token_file=\"\" register_with=\"\" "
                                  "tls_cert=\"\" tls_key=\"\" ca_file=\"\" server_token=(set) "));
    assert_non_null(strstr(r.err, " stopped signal=SIGINT\n"));
    assert_null(strstr(r.err, "srv-never-logged"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_environment, setup),
        cmocka_unit_test_setup(test_refusals, setup),
        cmocka_unit_test_setup(test_labels, setup),
        cmocka_unit_test_setup(test_program, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
