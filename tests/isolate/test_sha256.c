/* The image verifier's SHA-256 against FIPS 180-4's vectors, fed whole and
 * in uneven pieces (block boundaries are where such code goes wrong). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "isolate/internal.h"

static void hex_of(const char *data, size_t n, size_t piece, char hex[65])
{
    isolate__sha256_t s;
    isolate__sha256_init(&s);
    for (size_t off = 0; off < n; off += piece)
        isolate__sha256_update(&s, data + off, n - off < piece ? n - off : piece);
    isolate__sha256_hex(&s, hex);
}

static void test_known_vectors(void **state)
{
    static const struct {
        const char *in;
        const char *hex;
    } rows[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char hex[65];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (size_t piece = 1; piece <= 64; piece += 7) {
            hex_of(rows[i].in, strlen(rows[i].in), piece, hex);
            assert_string_equal(hex, rows[i].hex);
        }
}

static void test_million_a(void **state)
{
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    char hex[65];
    hex_of(a, n, 4099, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    char path[] = "/tmp/rk-sha256-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, a, n), (ssize_t)n);
    close(fd);
    assert_int_equal(isolate__sha256_file(path, hex), 0);
    unlink(path);
    free(a);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_million_a),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
