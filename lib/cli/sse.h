/* Server-sent events (the server's GET /api/v1/events) for `job watch`.
 *
 * The parser follows the WHATWG event-stream rules that matter here:
 * "field: value" lines (one optional space after the colon), comment lines
 * starting with ':', several data lines joined with '\n', an event
 * dispatched at a blank line (only when it has data), LF, CRLF or CR line
 * ends. Lines are capped so a peer cannot make us buffer without bound.
 */
#ifndef RK_CLI_SSE_H
#define RK_CLI_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Longest line and longest event data kept. */
#define RK_CLI_SSE_LINE_CAP (1u << 20)
#define RK_CLI_SSE_DATA_CAP (4u << 20)

typedef struct rk_cli_sse_event {
    const char *id;    /* "" when the event had none */
    const char *event; /* "message" when the event had none */
    const char *data;
} rk_cli_sse_event_t;

/* Called per event; the strings live until it returns. A non-zero return
 * stops the parse and is returned by rk_cli_sse_feed. */
typedef int (*rk_cli_sse_cb)(const rk_cli_sse_event_t *ev, void *ud);

typedef struct rk_cli_sse {
    rk_buf_t line;
    rk_buf_t data;
    rk_buf_t event;
    rk_buf_t id;
    bool has_data;
    bool skip_lf; /* the last byte was a CR: a following LF ends nothing */
    rk_cli_sse_cb cb;
    void *ud;
} rk_cli_sse_t;

/* Pair with rk_cli_sse_cleanup. */
void rk_cli_sse_init(rk_cli_sse_t *p, rk_cli_sse_cb cb, void *ud);
void rk_cli_sse_cleanup(rk_cli_sse_t *p);

/* Feeds n bytes. Returns 0, the callback's non-zero value, RK_ETOOBIG for a
 * line or event over its cap, or RK_ENOMEM. */
int rk_cli_sse_feed(rk_cli_sse_t *p, const char *bytes, size_t n);

/* Called about once a second while the stream is open (and after each
 * chunk); a non-zero return closes it and is returned. */
typedef int (*rk_cli_sse_tick_cb)(void *ud);

/* Opens url (with the bearer token when not NULL) and feeds the stream to
 * p until the callback or tick stops it or the server closes it. Returns
 * that non-zero value, 0 when the server ended the stream, RK_ECONN when it
 * cannot be reached, RK_EPROTO when it answered something other than a 200
 * event stream (*status then holds the HTTP status), RK_EIO otherwise. */
int rk_cli_sse_stream(const char *url, const char *token, rk_cli_sse_t *p, rk_cli_sse_tick_cb tick,
                      void *ud, long *status);

#endif
