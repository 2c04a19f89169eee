/* Built-in MD5 against the test suite of RFC 1321 (appendix A.5), plus
 * streaming in odd pieces and the padding boundaries (55/56/64 bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/experiment.h"
#include "model/md5.h"

static void hex(const unsigned char md[RK_MD5_SIZE], char out[33])
{
    for (int i = 0; i < RK_MD5_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void check(const char *msg, const char *want)
{
    unsigned char md[RK_MD5_SIZE];
    char got[33];
    rk_md5(msg, strlen(msg), md);
    hex(md, got);
    assert_string_equal(got, want);
}

static void test_rfc1321_suite(void **state)
{
    (void)state;
    check("", "d41d8cd98f00b204e9800998ecf8427e");
    check("a", "0cc175b9c0f1b6a831c399e269772661");
    check("abc", "900150983cd24fb0d6963f7d28e17f72");
    check("message digest", "f96b697d7cb7938d525a2f31aaf161d0");
    check("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b");
    check("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
          "d174ab98d277d9f5a5611c2c9f419d9f");
    check("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
          "57edf4a22be3c955ac49da2e2107b67a");
}

/* Lengths around the padding boundaries, checked against md5sum. */
static void test_padding_boundaries(void **state)
{
    (void)state;
    char buf[129];
    memset(buf, 'a', sizeof buf - 1);
    buf[128] = '\0';
    buf[55] = '\0';
    check(buf, "ef1772b6dff9a122358552954ad0df65");
    buf[55] = 'a';
    buf[56] = '\0';
    check(buf, "3b0c8ac703f828b04c6c197006d17218");
    buf[56] = 'a';
    buf[64] = '\0';
    check(buf, "014842d480b571495a4a0363793f7367");
    buf[64] = 'a';
    check(buf, "e510683b3f5ffe4093d021808bc6ff70");
}

static void test_streaming_matches_one_shot(void **state)
{
    (void)state;
    unsigned char data[1000], one[RK_MD5_SIZE], parts[RK_MD5_SIZE];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7 + 3);
    rk_md5(data, sizeof data, one);
    rk_md5_t c;
    rk_md5_init(&c);
    size_t off = 0, step = 1;
    while (off < sizeof data) {
        size_t n = step < sizeof data - off ? step : sizeof data - off;
        rk_md5_update(&c, data + off, n);
        off += n;
        step = step * 3 % 97 + 1;
    }
    rk_md5_final(&c, parts);
    assert_memory_equal(one, parts, RK_MD5_SIZE);
}

static void test_experiment_id_uses_it(void **state)
{
    (void)state;
    char id[RK_EXPERIMENT_ID_SIZE];
    assert_int_equal(rk_experiment_id("abc", id), 0);
    assert_string_equal(id, "exp_900150");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1321_suite),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_streaming_matches_one_shot),
        cmocka_unit_test(test_experiment_id_uses_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
