/* rk_buf_t: the capped growable buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"

static void test_empty(void **state)
{
    rk_buf_t b;
    rk_buf_init(&b, 16);
    assert_string_equal(rk_buf_str(&b), "");
    assert_int_equal(b.len, 0);
    assert_int_equal(rk_buf_add(&b, "", 0), 0);
    assert_string_equal(rk_buf_str(&b), "");
    rk_buf_cleanup(&b);
    char *s = rk_buf_take(&b); /* never written: an empty allocated string */
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

static void test_cap_enforced(void **state)
{
    rk_buf_t b;
    rk_buf_init(&b, 10);
    assert_int_equal(rk_buf_adds(&b, "0123456789"), 0); /* exactly the cap */
    assert_int_equal(b.len, 10);
    assert_int_equal(rk_buf_add(&b, "x", 1), RK_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(rk_buf_str(&b), "0123456789");
    assert_int_equal(rk_buf_add(&b, "", 0), 0);
    rk_buf_reset(&b);
    assert_string_equal(rk_buf_str(&b), "");
    assert_int_equal(rk_buf_adds(&b, "abc"), 0);
    assert_int_equal(rk_buf_adds(&b, "defghijk"), RK_ETOOBIG); /* 11 > 10 */
    assert_string_equal(rk_buf_str(&b), "abc");                /* unchanged */
    assert_int_equal(b.len, 3);
    assert_true(b.size <= b.cap + 1); /* never allocates past cap + NUL */
    rk_buf_cleanup(&b);

    rk_buf_init(&b, 0);
    assert_int_equal(rk_buf_add(&b, "a", 1), RK_ETOOBIG);
    assert_int_equal(rk_buf_add(&b, "a", 0), 0);
    rk_buf_cleanup(&b);
}

static void test_huge_cap(void **state)
{
    /* An "unlimited" cap must not overflow the size arithmetic. */
    rk_buf_t b;
    rk_buf_init(&b, SIZE_MAX);
    assert_int_equal(rk_buf_adds(&b, "hello"), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rk_buf_adds(&b, "0123456789"), 0);
    assert_int_equal(b.len, 1005);
    assert_int_equal(rk_buf_add(&b, "x", SIZE_MAX), RK_ETOOBIG);
    assert_int_equal(b.len, 1005);
    rk_buf_cleanup(&b);
}

static void test_printf_growth(void **state)
{
    rk_buf_t b;
    rk_buf_init(&b, 100000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rk_buf_printf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(strlen(rk_buf_str(&b)), 2000);
    assert_memory_equal(rk_buf_str(&b), "0,1,2,", 6);
    assert_memory_equal(rk_buf_str(&b) + 1994, "7,8,9,", 6);
    assert_int_equal(rk_buf_printf(&b, "%s-%05.1f", "pi", 3.14159), 0);
    assert_string_equal(rk_buf_str(&b) + 2000, "pi-003.1");
    rk_buf_cleanup(&b);

    rk_buf_init(&b, 8);
    assert_int_equal(rk_buf_printf(&b, "%s", "12345"), 0);
    assert_int_equal(rk_buf_printf(&b, "%d", 1234), RK_ETOOBIG);
    assert_string_equal(rk_buf_str(&b), "12345");
    assert_int_equal(rk_buf_printf(&b, "%d", 123), 0);
    assert_string_equal(rk_buf_str(&b), "12345123");
    rk_buf_cleanup(&b);
}

static void test_binary_and_take(void **state)
{
    rk_buf_t b;
    rk_buf_init(&b, 64);
    assert_int_equal(rk_buf_add(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b\0", 4); /* always NUL-terminated */
    char *s = rk_buf_take(&b);
    assert_memory_equal(s, "a\0b", 3);
    free(s);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* Still usable with the same cap after a take. */
    assert_int_equal(rk_buf_adds(&b, "again"), 0);
    assert_string_equal(rk_buf_str(&b), "again");
    assert_int_equal(b.cap, 64);
    rk_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),           cmocka_unit_test(test_cap_enforced),
        cmocka_unit_test(test_huge_cap),        cmocka_unit_test(test_printf_growth),
        cmocka_unit_test(test_binary_and_take),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
