/* Log line format, quoting and level filtering, read back through a pipe. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/log.h"

static int fds[2];

static int setup(void **state)
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    rk_log_set_fd(fds[1]);
    rk_log_set_level(RK_LOG_INFO);
    return 0;
}

static int teardown(void **state)
{
    rk_log_set_fd(2);
    rk_log_set_level(RK_LOG_INFO);
    close(fds[0]);
    close(fds[1]);
    return 0;
}

/* Everything written so far; "" when nothing was. */
static const char *drain(void)
{
    static char buf[65536];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Checks the timestamp prefix "YYYY-MM-DDTHH:MM:SS.mmmZ " and returns the rest. */
static const char *after_stamp(const char *line)
{
    assert_true(strlen(line) > 25);
    for (int i = 0; i < 24; i++) {
        char c = line[i];
        if (i == 4 || i == 7)
            assert_int_equal(c, '-');
        else if (i == 10)
            assert_int_equal(c, 'T');
        else if (i == 13 || i == 16)
            assert_int_equal(c, ':');
        else if (i == 19)
            assert_int_equal(c, '.');
        else if (i == 23)
            assert_int_equal(c, 'Z');
        else
            assert_true(c >= '0' && c <= '9');
    }
    assert_int_equal(line[24], ' ');
    return line + 25;
}

static void test_line_format(void **state)
{
    rk_log_info("job dispatched", "job_id", "job_1a2b3c4d", "agent_id", "a1");
    assert_string_equal(after_stamp(drain()),
                        "info  job dispatched job_id=job_1a2b3c4d agent_id=a1\n");
    rk_log_error("boom");
    assert_string_equal(after_stamp(drain()), "error boom\n");
    rk_log_warn("careful", "n", "3");
    assert_string_equal(after_stamp(drain()), "warn  careful n=3\n");
}

static void test_quoting(void **state)
{
    rk_log_info("q", "a", "two words", "b", "say \"hi\"", "c", "back\\slash", "d", "k=v", "e", "",
                "f", (const char *)NULL, "g", "line1\nline2", "h", "tab\there");
    assert_string_equal(after_stamp(drain()),
                        "info  q a=\"two words\" b=\"say \\\"hi\\\"\" c=\"back\\\\slash\" "
                        "d=\"k=v\" e=\"\" f=- g=\"line1\\nline2\" h=\"tab here\"\n");
}

static void test_levels(void **state)
{
    rk_log_debug("hidden");
    assert_string_equal(drain(), "");
    rk_log_set_level(RK_LOG_DEBUG);
    rk_log_debug("shown");
    assert_string_equal(after_stamp(drain()), "debug shown\n");
    rk_log_set_level(RK_LOG_WARN);
    assert_int_equal(rk_log_get_level(), RK_LOG_WARN);
    rk_log_info("hidden");
    assert_string_equal(drain(), "");
    rk_log_warn("w");
    rk_log_error("e");
    const char *both = drain();
    assert_non_null(strstr(both, " warn  w\n"));
    assert_non_null(strstr(both, " error e\n"));
    rk_log_set_level(RK_LOG_OFF);
    rk_log_error("nothing");
    rk_log(RK_LOG_OFF, "nothing either", (const char *)NULL);
    assert_string_equal(drain(), "");

    rk_log_level_t l;
    assert_int_equal(rk_log_level_parse("debug", &l), 0);
    assert_int_equal(l, RK_LOG_DEBUG);
    assert_int_equal(rk_log_level_parse("error", &l), 0);
    assert_int_equal(l, RK_LOG_ERROR);
    assert_int_equal(rk_log_level_parse("off", &l), 0);
    assert_int_equal(l, RK_LOG_OFF);
    assert_int_equal(rk_log_level_parse("INFO", &l), RK_EINVAL);
    assert_int_equal(rk_log_level_parse("", &l), RK_EINVAL);
}

static void test_kv_and_truncation(void **state)
{
    const char *kv[] = {"host", "127.0.0.1", "token", "(set)", "list", "a b"};
    rk_log_kv(RK_LOG_INFO, "starting", kv, 3);
    assert_string_equal(after_stamp(drain()),
                        "info  starting host=127.0.0.1 token=(set) list=\"a b\"\n");

    char big[10000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rk_log_info("big", "v", big);
    const char *line = drain();
    size_t n = strlen(line);
    assert_true(n <= 4096);
    assert_true(n > 4000);
    assert_int_equal(line[n - 1], '\n'); /* still one whole line */
    assert_ptr_equal(strchr(line, '\n'), line + n - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kv_and_truncation, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
