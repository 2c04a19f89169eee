/* The CLI's text pieces: relative times, durations, progress bars, metric
 * values, CSV fields, widths, key/value lines and hardware summaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/format.h"

#define SEC 1000000LL

static void test_reltime(void **state)
{
    const rk_time_t now = 1800000000 * SEC;
    char out[RK_CLI_TIMESTR];
    struct {
        int64_t ago;
        const char *want;
    } cases[] = {
        {0, "just now"},
        {4 * SEC, "just now"},
        {42 * SEC, "42 s ago"},
        {59 * SEC, "59 s ago"},
        {60 * SEC, "1 min ago"},
        {185 * SEC, "3 min ago"},
        {3600 * SEC, "1 h ago"},
        {86399 * SEC, "23 h ago"},
        {86400 * SEC, "1 day ago"},
        {5 * 86400 * SEC, "5 days ago"},
        {-180 * SEC, "in 3 min"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rk_cli_reltime(now - cases[i].ago, now, out);
        assert_string_equal(out, cases[i].want);
    }
    rk_cli_reltime(0, now, out);
    assert_string_equal(out, "-");
}

static void test_duration(void **state)
{
    char out[RK_CLI_TIMESTR];
    rk_cli_duration(0.85, out);
    assert_string_equal(out, "850 ms");
    rk_cli_duration(12.34, out);
    assert_string_equal(out, "12.3 s");
    rk_cli_duration(245, out);
    assert_string_equal(out, "4 min 05 s");
    rk_cli_duration(7620, out);
    assert_string_equal(out, "2 h 07 min");
    rk_cli_duration(-1, out);
    assert_string_equal(out, "-");
}

static void bar(double f, int w, const char *want)
{
    rk_buf_t b;
    rk_buf_init(&b, 1024);
    assert_int_equal(rk_cli_progress_bar(f, w, &b), 0);
    assert_string_equal(rk_buf_str(&b), want);
    rk_buf_cleanup(&b);
}

static void test_progress_bar(void **state)
{
    bar(0, 10, "[..........]   0%");
    bar(0.45, 10, "[####......]  45%");
    bar(0.5, 4, "[##..]  50%");
    bar(1, 10, "[##########] 100%");
    bar(1.7, 4, "[####] 100%");
    bar(-3, 4, "[....]   0%");
    bar(0.0 / 0.0, 4, "[....]   0%");
}

static void value(json_t *v, const char *want)
{
    rk_buf_t b;
    rk_buf_init(&b, 1024);
    assert_int_equal(rk_cli_value(v, &b), 0);
    assert_string_equal(rk_buf_str(&b), want);
    rk_buf_cleanup(&b);
    json_decref(v);
}

static void test_value(void **state)
{
    value(json_integer(42), "42");
    value(json_real(3.0), "3");
    value(json_real(12.345678), "12.3457");
    value(json_real(0.000123456), "0.0001235");
    value(json_real(0.5), "0.5");
    value(json_real(1.5e12), "1.5e+12");
    value(json_string("n/a"), "n/a");
    value(json_null(), "-");
    value(NULL, "-");
}

static void csv(const char *in, const char *want)
{
    rk_buf_t b;
    rk_buf_init(&b, 1024);
    assert_int_equal(rk_cli_csv_field(in, &b), 0);
    assert_string_equal(rk_buf_str(&b), want);
    rk_buf_cleanup(&b);
}

static void test_csv_field(void **state)
{
    csv("plain", "plain");
    csv("", "");
    csv(NULL, "");
    csv("a,b", "\"a,b\"");
    csv("say \"hi\"", "\"say \"\"hi\"\"\"");
    csv("two\nlines", "\"two\nlines\"");
    csv(" padded", "\" padded\"");
}

static void test_width_and_colors(void **state)
{
    assert_int_equal(rk_cli_width("abc"), 3);
    assert_int_equal(rk_cli_width("\033[32mok\033[0m"), 2);
    assert_int_equal(rk_cli_width("caf\xc3\xa9"), 4);
    assert_string_equal(rk_cli_job_color(RK_JOB_COMPLETED, false), "");
    assert_string_equal(rk_cli_job_color(RK_JOB_COMPLETED, true), RK_CLI_GREEN);
    assert_string_equal(rk_cli_job_color(RK_JOB_FAILED, true), RK_CLI_RED);
    assert_string_equal(rk_cli_agent_color(RK_AGENT_UNAVAILABLE, true), RK_CLI_RED);
    setenv("NO_COLOR", "1", 1);
    assert_false(rk_cli_color_wanted(1));
    unsetenv("NO_COLOR");
}

static void test_kv_and_hardware(void **state)
{
    rk_buf_t b;
    rk_buf_init(&b, 4096);
    assert_int_equal(rk_cli_kv(&b, "job", "job_1"), 0);
    assert_int_equal(rk_cli_kv(&b, "message", NULL), 0);
    assert_string_equal(rk_buf_str(&b), "job:            job_1\nmessage:        -\n");
    rk_buf_reset(&b);
    json_t *si = json_loads(
        "{\"cpu\":{\"model\":\"Xeon\",\"cores\":8,\"architecture\":\"x86_64\"},"
        "\"memory\":{\"total_mb\":16384},\"gpus\":[{\"name\":\"A100\"},{\"name\":\"A100\"}]}",
        0, NULL);
    assert_int_equal(rk_cli_hw_summary(si, &b), 0);
    assert_string_equal(rk_buf_str(&b), "Xeon, 8 cores, x86_64, 16.0 GiB, 2x A100");
    rk_buf_reset(&b);
    assert_int_equal(rk_cli_hw_summary(NULL, &b), 0);
    assert_string_equal(rk_buf_str(&b), "-");
    json_decref(si);
    rk_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reltime),         cmocka_unit_test(test_duration),
        cmocka_unit_test(test_progress_bar),    cmocka_unit_test(test_value),
        cmocka_unit_test(test_csv_field),       cmocka_unit_test(test_width_and_colors),
        cmocka_unit_test(test_kv_and_hardware),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
