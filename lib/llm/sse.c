/* Server-sent event parsing for the load generator (sse.h). */
#include "llm/sse.h"

#include <string.h>

#include "base/err.h"

void rk_llm_sse_init(rk_llm_sse_t *p, rk_llm_sse_cb cb, void *ud)
{
    memset(p, 0, sizeof *p);
    rk_buf_init(&p->line, RK_LLM_SSE_CAP);
    rk_buf_init(&p->data, RK_LLM_SSE_CAP);
    rk_buf_init(&p->event, 256);
    p->cb = cb;
    p->ud = ud;
}

void rk_llm_sse_reset(rk_llm_sse_t *p)
{
    rk_buf_reset(&p->line);
    rk_buf_reset(&p->data);
    rk_buf_reset(&p->event);
    p->has_data = p->skip_lf = false;
}

void rk_llm_sse_cleanup(rk_llm_sse_t *p)
{
    rk_buf_cleanup(&p->line);
    rk_buf_cleanup(&p->data);
    rk_buf_cleanup(&p->event);
}

static int dispatch(rk_llm_sse_t *p)
{
    int rc = 0;
    if (p->has_data)
        rc = p->cb(rk_buf_str(&p->event), rk_buf_str(&p->data), p->data.len, p->ud);
    rk_buf_reset(&p->data);
    rk_buf_reset(&p->event);
    p->has_data = false;
    return rc;
}

/* One complete line, without its end. */
static int on_line(rk_llm_sse_t *p, const char *s, size_t n)
{
    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        return 0;
    const char *colon = memchr(s, ':', n);
    size_t nlen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    int rc = 0;
    if (nlen == 4 && memcmp(s, "data", 4) == 0) {
        if (p->has_data)
            rc = rk_buf_add(&p->data, "\n", 1);
        if (!rc)
            rc = rk_buf_add(&p->data, v, vlen);
        p->has_data = true;
    } else if (nlen == 5 && memcmp(s, "event", 5) == 0) {
        rk_buf_reset(&p->event);
        rc = rk_buf_add(&p->event, v, vlen);
    } /* id, retry and unknown fields mean nothing to a completion stream */
    return rc;
}

int rk_llm_sse_feed(rk_llm_sse_t *p, const char *s, size_t n)
{
    const char *end = s + n;
    while (s < end) {
        if (p->skip_lf) {
            p->skip_lf = false;
            if (*s == '\n') {
                s++;
                continue;
            }
        }
        const char *nl = s;
        while (nl < end && *nl != '\n' && *nl != '\r')
            nl++;
        if (nl == end) {
            return rk_buf_add(&p->line, s, (size_t)(end - s));
        }
        int rc;
        if (p->line.len) {
            if ((rc = rk_buf_add(&p->line, s, (size_t)(nl - s))))
                return rc;
            rc = on_line(p, p->line.data, p->line.len);
            rk_buf_reset(&p->line);
        } else if ((size_t)(nl - s) > RK_LLM_SSE_CAP) {
            return RK_ETOOBIG; /* as if it had come in pieces */
        } else {
            rc = on_line(p, s, (size_t)(nl - s));
        }
        if (rc)
            return rc;
        p->skip_lf = *nl == '\r';
        s = nl + 1;
    }
    return 0;
}
