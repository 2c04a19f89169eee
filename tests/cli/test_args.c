/* Command argument parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "cli/args.h"

static const rk_cli_opt_t opts[] = {
    {"status", 's', true}, {"wait", 'w', false}, {"limit", 0, true}};

static void test_forms(void **state)
{
    char *argv[] = {"exp_1", "--status", "failed", "-w", "agent1", "--limit=5", "--json"};
    rk_cli_args_t a;
    char err[128];
    assert_int_equal(rk_cli_args_parse(7, argv, opts, 3, &a, err, sizeof err), 0);
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[0], "exp_1");
    assert_string_equal(a.pos[1], "agent1");
    assert_string_equal(a.val[0], "failed");
    assert_string_equal(a.val[1], "");
    assert_string_equal(a.val[2], "5");
    assert_true(a.json);
    assert_false(a.help);

    char *argv2[] = {"-s", "x", "--", "--status", "-h"};
    assert_int_equal(rk_cli_args_parse(5, argv2, opts, 3, &a, err, sizeof err), 0);
    assert_string_equal(a.val[0], "x");
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[0], "--status");
    assert_false(a.help);

    char *argv3[] = {"-", "--help"};
    assert_int_equal(rk_cli_args_parse(2, argv3, opts, 3, &a, err, sizeof err), 0);
    assert_true(a.help);
    assert_string_equal(a.pos[0], "-");
    assert_null(a.val[0]);
}

static void test_errors(void **state)
{
    rk_cli_args_t a;
    char err[128];
    char *a1[] = {"--frob"};
    assert_int_equal(rk_cli_args_parse(1, a1, opts, 3, &a, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "unknown option --frob");
    char *a2[] = {"--status"};
    assert_int_equal(rk_cli_args_parse(1, a2, opts, 3, &a, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "--status needs a value");
    char *a3[] = {"--wait=yes"};
    assert_int_equal(rk_cli_args_parse(1, a3, opts, 3, &a, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "--wait takes no value");
    char *a4[] = {"-x"};
    assert_int_equal(rk_cli_args_parse(1, a4, opts, 3, &a, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "unknown option -x");
    char *a5[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    assert_int_equal(rk_cli_args_parse(9, a5, opts, 3, &a, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "too many arguments");
}

static void test_int(void **state)
{
    long v = 0;
    assert_int_equal(rk_cli_args_int("42", 1, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(rk_cli_args_int("0", 1, 100, &v), RK_EINVAL);
    assert_int_equal(rk_cli_args_int("12x", 1, 100, &v), RK_EINVAL);
    assert_int_equal(rk_cli_args_int("", 1, 100, &v), RK_EINVAL);
    assert_int_equal(rk_cli_args_int("99999999999999999999", 1, 100, &v), RK_EINVAL);
}

/* Every value of a repeated option is kept in order (--label a --label b),
 * the last one in val. */
static void test_repeated(void **state)
{
    char *argv[] = {"--status", "a", "-w", "--status=b", "--limit", "3", "-s", "c"};
    rk_cli_args_t a;
    char err[128];
    assert_int_equal(rk_cli_args_parse(8, argv, opts, 3, &a, err, sizeof err), 0);
    const char *all[4];
    assert_int_equal(rk_cli_args_all(&a, 0, all, 4), 3);
    assert_string_equal(all[0], "a");
    assert_string_equal(all[1], "b");
    assert_string_equal(all[2], "c");
    assert_string_equal(a.val[0], "c");
    assert_int_equal(rk_cli_args_all(&a, 0, all, 2), 2);
    assert_int_equal(rk_cli_args_all(&a, 1, all, 4), 0);
    assert_int_equal(rk_cli_args_all(&a, 2, all, 4), 1);
    assert_string_equal(all[0], "3");

    char *many[2 * RK_CLI_MAX_VALS + 2];
    for (int i = 0; i < RK_CLI_MAX_VALS + 1; i++) {
        many[2 * i] = "--limit";
        many[2 * i + 1] = "1";
    }
    assert_int_equal(rk_cli_args_parse(2 * RK_CLI_MAX_VALS + 2, many, opts, 3, &a, err, sizeof err),
                     RK_EINVAL);
    assert_non_null(strstr(err, "too many options"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_repeated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
