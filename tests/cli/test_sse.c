/* The event-stream parser: fields, multi-line data, line ends split across
 * chunks, comments, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "cli/sse.h"

typedef struct {
    char log[4096];
    int n;
    int stop_after; /* return 7 from the nth event; 0: never */
} seen_t;

static int on_event(const rk_cli_sse_event_t *ev, void *ud)
{
    seen_t *s = ud;
    size_t len = strlen(s->log);
    snprintf(s->log + len, sizeof s->log - len, "[%s|%s|%s]", ev->id, ev->event, ev->data);
    s->n++;
    return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

static void feed_all(const char *text, size_t chunk, seen_t *s)
{
    rk_cli_sse_t p;
    rk_cli_sse_init(&p, on_event, s);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += chunk)
        assert_int_equal(rk_cli_sse_feed(&p, text + i, i + chunk > n ? n - i : chunk), 0);
    rk_cli_sse_cleanup(&p);
}

static void test_events(void **state)
{
    const char *stream = ": keep-alive\n"
                         "id: 1\nevent: job\ndata: {\"job_id\":\"job_1\"}\n\n"
                         "data:first\r\ndata: second\r\n\r\n"
                         "id: 3\rdata\r\r"
                         "event: ignored-without-data\n\n"
                         "retry: 100\nunknown: x\ndata: tail\n"; /* no blank line: not dispatched */
    const char *want = "[1|job|{\"job_id\":\"job_1\"}][1|message|first\nsecond][3|message|]";
    /* Whole, byte by byte and in odd chunks: the same events. */
    size_t chunks[] = {4096, 1, 3, 7};
    for (size_t i = 0; i < 4; i++) {
        seen_t s = {0};
        feed_all(stream, chunks[i], &s);
        assert_string_equal(s.log, want);
        assert_int_equal(s.n, 3);
    }
}

static void test_stop_and_cap(void **state)
{
    seen_t s = {.stop_after = 1};
    rk_cli_sse_t p;
    rk_cli_sse_init(&p, on_event, &s);
    const char *two = "data: a\n\ndata: b\n\n";
    assert_int_equal(rk_cli_sse_feed(&p, two, strlen(two)), 7);
    assert_int_equal(s.n, 1);
    rk_cli_sse_cleanup(&p);

    rk_cli_sse_init(&p, on_event, &s);
    static char big[RK_CLI_SSE_LINE_CAP + 16];
    memset(big, 'x', sizeof big);
    assert_int_equal(rk_cli_sse_feed(&p, big, sizeof big), RK_ETOOBIG);
    rk_cli_sse_cleanup(&p);
}

static void test_unreachable_stream(void **state)
{
    rk_cli_sse_t p;
    seen_t s = {0};
    long status = -1;
    rk_cli_sse_init(&p, on_event, &s);
    assert_int_equal(
        rk_cli_sse_stream("http://127.0.0.1:1/api/v1/events", NULL, &p, NULL, NULL, &status),
        RK_ECONN);
    assert_int_equal(status, 0);
    rk_cli_sse_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_stop_and_cap),
        cmocka_unit_test(test_unreachable_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
