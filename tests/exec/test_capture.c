/* Log sinks: the file stops exactly at the cap, the tail ring keeps the
 * newest bytes in order across wraps, draining a pipe reads to EOF, and a
 * lazy sink creates its file only at the first byte. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "exec/capture.h"

static void test_cap_exact(void **state)
{
    char path[] = "/tmp/rk-capture-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    rk_exec_sink_t s;
    assert_int_equal(rk_exec_sink_open(&s, path, 10, false), RK_OK);
    rk_exec_sink_feed(&s, "abcdef", 6);
    assert_false(s.truncated);
    rk_exec_sink_feed(&s, "ghijkl", 6); /* crosses the cap: 4 of 6 kept */
    rk_exec_sink_feed(&s, "mn", 2);
    assert_true(s.truncated);
    assert_int_equal(s.total, 14);
    assert_int_equal(s.written, 10);
    char tail[8];
    assert_int_equal(rk_exec_sink_tail(&s, tail, sizeof tail), 0); /* no tail kept */
    rk_exec_sink_close(&s);
    rk_exec_sink_close(&s); /* twice is safe */

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 10);
    char buf[16] = {0};
    fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, buf, sizeof buf), 10);
    close(fd);
    assert_string_equal(buf, "abcdefghij");
    unlink(path);
}

/* Append keeps the earlier content and the cap bounds the whole file. */
static void test_append_caps_whole_file(void **state)
{
    char path[] = "/tmp/rk-capture-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    rk_exec_sink_t s;
    assert_int_equal(rk_exec_sink_open_ex(&s, path, 10, false, true), RK_OK);
    rk_exec_sink_feed(&s, "run0\n", 5);
    rk_exec_sink_close(&s);
    assert_int_equal(rk_exec_sink_open_ex(&s, path, 10, false, true), RK_OK);
    assert_int_equal(s.base, 5);
    rk_exec_sink_feed(&s, "run1\nmore", 9); /* 5 of 9 fit under the cap */
    assert_true(s.truncated);
    assert_int_equal(s.total, 9);
    assert_int_equal(s.written, 5);
    rk_exec_sink_close(&s);
    char buf[32] = {0};
    fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, buf, sizeof buf), 10);
    close(fd);
    assert_string_equal(buf, "run0\nrun1\n");
    /* Without append the file starts over. */
    assert_int_equal(rk_exec_sink_open_ex(&s, path, 10, false, false), RK_OK);
    assert_int_equal(s.base, 0);
    rk_exec_sink_feed(&s, "x", 1);
    rk_exec_sink_close(&s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1);
    unlink(path);
}

static void test_tail_ring(void **state)
{
    rk_exec_sink_t s;
    assert_int_equal(rk_exec_sink_open(&s, NULL, 0, true), RK_OK);
    char out[RK_EXEC_TAIL_MAX + 1];
    rk_exec_sink_feed(&s, "hello ", 6);
    rk_exec_sink_feed(&s, "world", 5);
    assert_int_equal(rk_exec_sink_tail(&s, out, sizeof out), 11);
    assert_string_equal(out, "hello world");
    assert_true(s.truncated); /* cap 0 with no file: everything past it */

    /* Wrap many times with chunks of odd sizes; the tail is the last 4 KiB. */
    char chunk[777];
    unsigned long n = 0;
    for (int i = 0; i < 40; i++) {
        for (size_t k = 0; k < sizeof chunk; k++)
            chunk[k] = (char)('a' + (n + k) % 26);
        n += sizeof chunk;
        rk_exec_sink_feed(&s, chunk, sizeof chunk);
    }
    assert_int_equal(rk_exec_sink_tail(&s, out, sizeof out), RK_EXEC_TAIL_MAX);
    for (size_t k = 0; k < RK_EXEC_TAIL_MAX; k++)
        assert_int_equal(out[k], 'a' + (n - RK_EXEC_TAIL_MAX + k) % 26);

    /* A small out gets the newest bytes. */
    char small[5];
    assert_int_equal(rk_exec_sink_tail(&s, small, sizeof small), 4);
    assert_memory_equal(small, out + RK_EXEC_TAIL_MAX - 4, 4);
    rk_exec_sink_close(&s);
}

static void test_drain_pipe(void **state)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    rk_exec_sink_t s;
    assert_int_equal(rk_exec_sink_open(&s, NULL, 100, true), RK_OK);
    char buf[4];
    assert_int_equal(rk_exec_sink_drain(&s, p[0], buf, sizeof buf), 0); /* nothing yet */
    assert_int_equal(write(p[1], "0123456789", 10), 10);
    assert_int_equal(rk_exec_sink_drain(&s, p[0], buf, sizeof buf), 0);
    assert_int_equal(s.total, 10);
    close(p[1]);
    assert_int_equal(rk_exec_sink_drain(&s, p[0], buf, sizeof buf), 1); /* EOF */
    char out[32];
    rk_exec_sink_tail(&s, out, sizeof out);
    assert_string_equal(out, "0123456789");
    close(p[0]);
    rk_exec_sink_close(&s);
}

static void test_open_fails(void **state)
{
    rk_exec_sink_t s;
    assert_int_equal(rk_exec_sink_open(&s, "/nonexistent/dir/log", 10, true), RK_EIO);
    assert_null(s.tail);
    rk_exec_sink_close(&s);
}

/* A lazy sink with no output leaves no file (nor touches one); the first
 * byte creates it, and with append the cap still bounds the whole file. */
static void test_lazy(void **state)
{
    char dir[] = "/tmp/rk-capture-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out.log", dir);
    rk_exec_sink_t s;
    assert_int_equal(rk_exec_sink_open_lazy(&s, path, 10, true, false), RK_OK);
    rk_exec_sink_feed(&s, "", 0);
    rk_exec_sink_close(&s);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);

    assert_int_equal(rk_exec_sink_open_lazy(&s, path, 10, true, false), RK_OK);
    assert_int_equal(stat(path, &st), -1); /* not yet */
    rk_exec_sink_feed(&s, "run0\n", 5);
    assert_int_equal(stat(path, &st), 0);
    rk_exec_sink_close(&s);

    /* Append: base is what the file held when the first byte came. */
    assert_int_equal(rk_exec_sink_open_lazy(&s, path, 10, false, true), RK_OK);
    assert_int_equal(s.base, 0);
    rk_exec_sink_feed(&s, "run1\nmore", 9);
    assert_int_equal(s.base, 5);
    assert_true(s.truncated);
    assert_int_equal(s.written, 5);
    rk_exec_sink_close(&s);
    char buf[32] = {0};
    int fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, buf, sizeof buf), 10);
    close(fd);
    assert_string_equal(buf, "run0\nrun1\n");

    /* Silent, without append: the existing file is left as it is. */
    assert_int_equal(rk_exec_sink_open_lazy(&s, path, 10, false, false), RK_OK);
    rk_exec_sink_close(&s);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 10);
    unlink(path);
    rmdir(dir);
}

/* A lazy sink whose file cannot be created drains and drops the output,
 * keeping the tail (the job's error message still has it). */
static void test_lazy_open_fails(void **state)
{
    rk_exec_sink_t s;
    assert_int_equal(rk_exec_sink_open_lazy(&s, "/nonexistent/dir/log", 10, true, false), RK_OK);
    assert_false(s.write_failed);
    rk_exec_sink_feed(&s, "oops", 4);
    assert_true(s.write_failed);
    assert_int_equal(s.fd, -1);
    assert_int_equal(s.written, 0);
    char tail[8];
    assert_int_equal(rk_exec_sink_tail(&s, tail, sizeof tail), 4);
    assert_string_equal(tail, "oops");
    rk_exec_sink_feed(&s, "more", 4); /* no second try */
    assert_int_equal(s.total, 8);
    rk_exec_sink_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_exact),       cmocka_unit_test(test_append_caps_whole_file),
        cmocka_unit_test(test_tail_ring),       cmocka_unit_test(test_drain_pipe),
        cmocka_unit_test(test_open_fails),      cmocka_unit_test(test_lazy),
        cmocka_unit_test(test_lazy_open_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
