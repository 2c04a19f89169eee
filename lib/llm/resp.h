/* Incremental decoder of one HTTP/1.1 response: the status line, the
 * headers (Content-Length, Transfer-Encoding: chunked), then the body
 * handed on as it arrives, de-chunked. Enough HTTP for a streaming
 * completion over a connection of its own; no trailers kept, no 1xx other
 * than skipped "100 Continue".
 */
#ifndef RK_LLM_RESP_H
#define RK_LLM_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Status line plus headers, at most. */
#define RK_LLM_RESP_HEAD_CAP (64u << 10)

/* Body bytes, in order; a non-zero return stops the feed and is returned. */
typedef int (*rk_llm_body_cb)(const char *p, size_t n, void *ud);

typedef struct rk_llm_resp {
    int state;
    int status;             /* 0 until the status line is read */
    int64_t content_length; /* -1: not given */
    bool chunked;
    int64_t left; /* bytes left of the body (identity) or of the chunk */
    bool headers_done;
    bool done;     /* the whole response was read */
    rk_buf_t head; /* the head, then each chunk-size or trailer line */
} rk_llm_resp_t;

void rk_llm_resp_init(rk_llm_resp_t *r);
void rk_llm_resp_reset(rk_llm_resp_t *r);
void rk_llm_resp_cleanup(rk_llm_resp_t *r);
/* Decodes n more bytes, calling cb with the body's. Returns 0, cb's
 * non-zero value, RK_EPROTO for something that is not HTTP/1.x (or bytes
 * past the end of the response), RK_ETOOBIG for a head over the cap. */
int rk_llm_resp_feed(rk_llm_resp_t *r, const char *p, size_t n, rk_llm_body_cb cb, void *ud);
/* The peer closed the connection: 0 when that ends the response (a body
 * without a length ends so), RK_EPROTO when it cut the response short. */
int rk_llm_resp_eof(rk_llm_resp_t *r);

#endif
