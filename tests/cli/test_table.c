/* Aligned tables: widths from the widest cell, colours outside the padding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "cli/format.h"
#include "cli/table.h"

static void test_alignment(void **state)
{
    static const char *const hdr[] = {"JOB", "STATUS", "N"};
    rk_cli_table_t t;
    assert_int_equal(rk_cli_table_init(&t, 3, hdr), 0);
    t.right[2] = true;
    assert_int_equal(rk_cli_table_add(&t, (const char *[]){"job_1", "completed", "7"}), 0);
    assert_int_equal(rk_cli_table_add(&t, (const char *[]){"job_22222", NULL, "1234"}), 0);
    rk_buf_t b;
    rk_buf_init(&b, 4096);
    assert_int_equal(rk_cli_table_render(&t, false, &b), 0);
    assert_string_equal(rk_buf_str(&b), "JOB        STATUS        N\n"
                                        "job_1      completed     7\n"
                                        "job_22222  -          1234\n");
    rk_buf_cleanup(&b);
    rk_cli_table_cleanup(&t);
}

static void test_colour_keeps_alignment(void **state)
{
    static const char *const hdr[] = {"STATUS", "X"};
    rk_cli_table_t t;
    assert_int_equal(rk_cli_table_init(&t, 2, hdr), 0);
    assert_int_equal(rk_cli_table_add(&t, (const char *[]){"ok", "caf\xc3\xa9"}), 0);
    rk_cli_table_color(&t, 0, RK_CLI_GREEN);
    rk_buf_t b;
    rk_buf_init(&b, 4096);
    assert_int_equal(rk_cli_table_render(&t, true, &b), 0);
    assert_string_equal(rk_buf_str(&b),
                        RK_CLI_BOLD "STATUS" RK_CLI_RESET "  " RK_CLI_BOLD "X" RK_CLI_RESET
                                    "\n" RK_CLI_GREEN "ok" RK_CLI_RESET "      caf\xc3\xa9\n");
    rk_buf_reset(&b);
    assert_int_equal(rk_cli_table_render(&t, false, &b), 0);
    assert_string_equal(rk_buf_str(&b), "STATUS  X\nok      caf\xc3\xa9\n");
    rk_buf_cleanup(&b);
    rk_cli_table_cleanup(&t);
}

static void test_many_rows_and_limits(void **state)
{
    static const char *const hdr[] = {"I"};
    rk_cli_table_t t;
    assert_int_equal(rk_cli_table_init(&t, 0, hdr), RK_EINVAL);
    rk_cli_table_cleanup(&t);
    assert_int_equal(rk_cli_table_init(&t, 1, hdr), 0);
    for (int i = 0; i < 100; i++) {
        char s[16];
        snprintf(s, sizeof s, "%d", i);
        assert_int_equal(rk_cli_table_add(&t, (const char *[]){s}), 0);
    }
    assert_int_equal(t.nrows, 100);
    rk_buf_t b;
    rk_buf_init(&b, 4096);
    assert_int_equal(rk_cli_table_render(&t, false, &b), 0);
    assert_non_null(strstr(rk_buf_str(&b), "\n99\n"));
    assert_null(strstr(rk_buf_str(&b), " \n")); /* the last column is not padded */
    rk_buf_cleanup(&b);
    rk_cli_table_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_colour_keeps_alignment),
        cmocka_unit_test(test_many_rows_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
