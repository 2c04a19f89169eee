/* Token files: the token is the file's one line (trailing newline
 * stripped); empty, unreadable, multi-line or oversized files are refused
 * with a reason that never quotes the content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/tokenfile.h"

static char path[64];

static void put(const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/rk_tokfile_%ld", (long)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void test_good(void **state)
{
    (void)state;
    char *t = NULL, why[128];
    put("s3cret\n", 7);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_OK);
    assert_string_equal(t, "s3cret");
    rk_token_free(t);
    put("s3cret\r\n", 8);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_OK);
    assert_string_equal(t, "s3cret");
    rk_token_free(t);
    put("no-newline", 10);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_OK);
    assert_string_equal(t, "no-newline");
    rk_token_free(t);
}

static void test_bad(void **state)
{
    (void)state;
    char *t = (char *)"x", why[128];
    put("", 0);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_EINVAL);
    assert_null(t);
    assert_non_null(strstr(why, "empty"));
    put("\n", 1);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_EINVAL);
    put("line1\nline2\n", 12);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_EINVAL);
    assert_null(strstr(why, "line1"));
    put("a\0b", 3); /* garbage: a NUL inside */
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_EINVAL);
    char *big = malloc(RK_TOKEN_FILE_MAX + 10);
    assert_non_null(big);
    memset(big, 'a', RK_TOKEN_FILE_MAX + 10);
    put(big, RK_TOKEN_FILE_MAX + 10);
    free(big);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_EINVAL);
    assert_non_null(strstr(why, "longer"));
    unlink(path);
    assert_int_equal(rk_token_file_read(path, &t, why, sizeof why), RK_EIO);
    assert_non_null(strstr(why, "cannot open"));
    assert_int_equal(rk_token_file_read("/", &t, why, sizeof why), RK_EIO); /* a folder */
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
