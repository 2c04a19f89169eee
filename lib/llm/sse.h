/* Incremental parser of a server-sent event stream, as OpenAI-compatible
 * servers stream completions: "data: {...}" events, sometimes an
 * "event: error" field, comment lines (":" keep-alives), LF or CRLF line
 * ends, several data lines joined with '\n'. An event is dispatched at its
 * blank line, and only when it has data. Lines are capped so a peer cannot
 * make us buffer without bound.
 *
 * Lines are read in place from the bytes given; only a line that straddles
 * two reads is copied, and the event's data is gathered in one buffer.
 */
#ifndef RK_LLM_SSE_H
#define RK_LLM_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Longest line, and longest event data, kept (a chunk of one token is far
 * below; a usage object too). */
#define RK_LLM_SSE_CAP (1u << 20)

/* Called per event. event is "" when the event had no "event:" field; data
 * is NUL-terminated, len bytes. Both live until the callback returns. A
 * non-zero return stops the parse and is returned by rk_llm_sse_feed. */
typedef int (*rk_llm_sse_cb)(const char *event, const char *data, size_t len, void *ud);

typedef struct rk_llm_sse {
    rk_buf_t line;  /* a line not yet ended */
    rk_buf_t data;  /* the event's data so far */
    rk_buf_t event; /* the event's "event:" field */
    bool has_data;
    bool skip_lf; /* the last byte was a CR: a following LF ends nothing */
    rk_llm_sse_cb cb;
    void *ud;
} rk_llm_sse_t;

/* Initializes p; rk_llm_sse_cleanup frees it. */
void rk_llm_sse_init(rk_llm_sse_t *p, rk_llm_sse_cb cb, void *ud);
/* Empties the state for a new stream, keeping the storage. */
void rk_llm_sse_reset(rk_llm_sse_t *p);
void rk_llm_sse_cleanup(rk_llm_sse_t *p);
/* Parses n more bytes. Returns 0, the callback's non-zero value, RK_ETOOBIG
 * for a line or event over the cap, or RK_ENOMEM. After a failure the
 * stream is unusable (reset it). */
int rk_llm_sse_feed(rk_llm_sse_t *p, const char *s, size_t n);

#endif
