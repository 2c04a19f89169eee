/* The SSE parser and the HTTP/1.1 response decoder of the load generator:
 * every split of a stream gives the same events, CRLF and LF, comments,
 * multi-line data, caps, and chunked bodies cut anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "llm/resp.h"
#include "llm/sse.h"

typedef struct seen {
    char log[4096];
    int n;
} seen_t;

static int on_event(const char *event, const char *data, size_t len, void *ud)
{
    seen_t *s = ud;
    assert_int_equal(strlen(data), len);
    size_t l = strlen(s->log);
    snprintf(s->log + l, sizeof s->log - l, "[%s|%s]", event, data);
    s->n++;
    return 0;
}

static const char stream[] = ": keep-alive\r\n"
                             "data: {\"a\":1}\r\n\r\n"
                             "event: error\n"
                             "data: {\"error\":\"x\"}\n\n"
                             "data: line1\n"
                             "data:line2\n"
                             "id: 7\n\n"
                             "\n\n"
                             "data: [DONE]\r\n\r\n";
static const char want[] = "[|{\"a\":1}][error|{\"error\":\"x\"}][|line1\nline2][|[DONE]]";

static void test_every_split(void **state)
{
    (void)state;
    size_t n = strlen(stream);
    for (size_t cut = 0; cut <= n; cut++) {
        for (size_t cut2 = cut; cut2 <= n; cut2 += 7) {
            seen_t s = {{0}, 0};
            rk_llm_sse_t p;
            rk_llm_sse_init(&p, on_event, &s);
            assert_int_equal(rk_llm_sse_feed(&p, stream, cut), 0);
            assert_int_equal(rk_llm_sse_feed(&p, stream + cut, cut2 - cut), 0);
            assert_int_equal(rk_llm_sse_feed(&p, stream + cut2, n - cut2), 0);
            if (strcmp(s.log, want) != 0)
                fail_msg("cut %zu/%zu: %s", cut, cut2, s.log);
            rk_llm_sse_cleanup(&p);
        }
    }
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    seen_t s = {{0}, 0};
    rk_llm_sse_t p;
    rk_llm_sse_init(&p, on_event, &s);
    for (size_t i = 0; stream[i]; i++)
        assert_int_equal(rk_llm_sse_feed(&p, stream + i, 1), 0);
    assert_string_equal(s.log, want);
    assert_int_equal(s.n, 4);
    rk_llm_sse_cleanup(&p);
}

static void test_line_cap(void **state)
{
    (void)state;
    seen_t s = {{0}, 0};
    rk_llm_sse_t p;
    rk_llm_sse_init(&p, on_event, &s);
    static char big[64 << 10];
    memset(big, 'x', sizeof big);
    int rc = 0;
    for (size_t sent = 0; !rc && sent <= RK_LLM_SSE_CAP; sent += sizeof big)
        rc = rk_llm_sse_feed(&p, big, sizeof big);
    assert_int_equal(rc, RK_ETOOBIG);
    assert_int_equal(s.n, 0);
    rk_llm_sse_cleanup(&p);
}

static int stop_cb(const char *event, const char *data, size_t len, void *ud)
{
    (void)event;
    (void)data;
    (void)len;
    ++*(int *)ud;
    return 42;
}

static void test_callback_stops(void **state)
{
    (void)state;
    int calls = 0;
    rk_llm_sse_t p;
    rk_llm_sse_init(&p, stop_cb, &calls);
    assert_int_equal(rk_llm_sse_feed(&p, "data: a\n\ndata: b\n\n", 18), 42);
    assert_int_equal(calls, 1);
    rk_llm_sse_cleanup(&p);
}

static int body_cb(const char *p, size_t n, void *ud)
{
    char *out = ud;
    strncat(out, p, n);
    return 0;
}

static void test_chunked_any_cut(void **state)
{
    (void)state;
    const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "transfer-encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
    size_t n = strlen(r);
    for (size_t cut = 0; cut <= n; cut++) {
        char body[64] = "";
        rk_llm_resp_t d;
        rk_llm_resp_init(&d);
        assert_int_equal(rk_llm_resp_feed(&d, r, cut, body_cb, body), 0);
        assert_int_equal(rk_llm_resp_feed(&d, r + cut, n - cut, body_cb, body), 0);
        assert_true(d.done);
        assert_int_equal(d.status, 200);
        assert_string_equal(body, "hello 0123456789");
        rk_llm_resp_cleanup(&d);
    }
}

static void test_framing(void **state)
{
    (void)state;
    char body[64] = "";
    rk_llm_resp_t d;
    rk_llm_resp_init(&d);
    /* Content-Length: done after exactly that many bytes; more is an error. */
    const char a[] = "HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nboom";
    assert_int_equal(rk_llm_resp_feed(&d, a, strlen(a), body_cb, body), 0);
    assert_true(d.done);
    assert_int_equal(d.status, 500);
    assert_string_equal(body, "boom");
    assert_int_equal(rk_llm_resp_feed(&d, "x", 1, body_cb, body), RK_EPROTO);
    /* No length: the body ends with the connection. */
    rk_llm_resp_reset(&d);
    body[0] = '\0';
    const char b[] = "HTTP/1.0 200 OK\r\n\r\nabc";
    assert_int_equal(rk_llm_resp_feed(&d, b, strlen(b), body_cb, body), 0);
    assert_false(d.done);
    assert_int_equal(rk_llm_resp_eof(&d), 0);
    assert_string_equal(body, "abc");
    /* A chunked body cut short is a broken answer, not a complete one. */
    rk_llm_resp_reset(&d);
    const char c[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
    assert_int_equal(rk_llm_resp_feed(&d, c, strlen(c), body_cb, body), 0);
    assert_int_equal(rk_llm_resp_eof(&d), RK_EPROTO);
    /* Not HTTP. */
    rk_llm_resp_reset(&d);
    assert_int_equal(rk_llm_resp_feed(&d, "SSH-2.0-x\r\n\r\n", 13, body_cb, body), RK_EPROTO);
    /* 100 Continue is skipped. */
    rk_llm_resp_reset(&d);
    const char e[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(rk_llm_resp_feed(&d, e, strlen(e), body_cb, body), 0);
    assert_int_equal(d.status, 204);
    assert_true(d.done);
    /* Both framings named, the chunked one first and a short length after:
     * chunked wins (RFC 9112 6.3), and the length of one header is not read
     * as the other's (the fuzzer found that read past the head). */
    rk_llm_resp_reset(&d);
    body[0] = '\0';
    const char f[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
                     "2\r\nhi\r\n0\r\n\r\n";
    assert_int_equal(rk_llm_resp_feed(&d, f, strlen(f), body_cb, body), 0);
    assert_true(d.done);
    assert_string_equal(body, "hi");
    rk_llm_resp_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_split),     cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_line_cap),        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_chunked_any_cut), cmocka_unit_test(test_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
