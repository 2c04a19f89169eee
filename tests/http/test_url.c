/* Unit tests of strict percent-decoding (lib/http/url.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/url.h"

static rk_url_err_t dec(const char *in, bool plus, char *out, size_t *len)
{
    strcpy(out, in);
    return rk_url_decode(out, strlen(out), plus, len);
}

static void test_decode(void **state)
{
    (void)state;
    char b[64];
    size_t n;
    assert_int_equal(dec("abc", false, b, &n), RK_URL_OK);
    assert_string_equal(b, "abc");
    assert_int_equal(dec("a%2Fb%2fc%41", false, b, &n), RK_URL_OK);
    assert_string_equal(b, "a/b/cA");
    assert_int_equal(n, 6);
    assert_int_equal(dec("a+b", false, b, &n), RK_URL_OK);
    assert_string_equal(b, "a+b");
    assert_int_equal(dec("a+b%2B", true, b, &n), RK_URL_OK);
    assert_string_equal(b, "a b+");
    /* Overlong UTF-8 is just bytes here: the id check refuses it later. */
    assert_int_equal(dec("%c0%af", false, b, &n), RK_URL_OK);
    assert_int_equal(n, 2);
    assert_int_equal((unsigned char)b[0], 0xc0);
}

static void test_refused(void **state)
{
    (void)state;
    char b[64];
    const char *nul[] = {"%00", "abc%00", "%00def", "a%00b"};
    for (size_t i = 0; i < sizeof nul / sizeof *nul; i++)
        assert_int_equal(dec(nul[i], false, b, NULL), RK_URL_NUL);
    const char *esc[] = {"%", "%4", "a%zz", "%g0", "%%41", "abc%"};
    for (size_t i = 0; i < sizeof esc / sizeof *esc; i++)
        assert_int_equal(dec(esc[i], false, b, NULL), RK_URL_ESCAPE);
    assert_string_equal(rk_url_strerror(RK_URL_NUL), "encoded NUL byte");
}

static void test_query(void **state)
{
    (void)state;
    char name[16];
    assert_int_equal(rk_url_query_check("", name, sizeof name), RK_URL_OK);
    assert_int_equal(rk_url_query_check("a=1&b=%41&flag&&c=", name, sizeof name), RK_URL_OK);
    assert_int_equal(rk_url_query_check("a=1&status=x%00y", name, sizeof name), RK_URL_NUL);
    assert_string_equal(name, "status");
    assert_int_equal(rk_url_query_check("na%00me=1", name, sizeof name), RK_URL_NUL);
    assert_string_equal(name, "na");
    assert_int_equal(rk_url_query_check("limit=%z", name, sizeof name), RK_URL_ESCAPE);
    assert_string_equal(name, "limit");
    /* A long name is cut to fit. */
    assert_int_equal(rk_url_query_check("abcdefghijklmnopqrstuvwxyz=%00", name, sizeof name),
                     RK_URL_NUL);
    assert_int_equal(strlen(name), sizeof name - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
