/* HTTP/1.1 response decoding for the load generator (resp.h). */
#include "llm/resp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

enum { HEAD, BODY, UNTIL_CLOSE, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILER, DONE };

void rk_llm_resp_init(rk_llm_resp_t *r)
{
    memset(r, 0, sizeof *r);
    rk_buf_init(&r->head, RK_LLM_RESP_HEAD_CAP);
    r->content_length = -1;
}

void rk_llm_resp_reset(rk_llm_resp_t *r)
{
    rk_buf_t keep = r->head;
    memset(r, 0, sizeof *r);
    r->head = keep;
    rk_buf_reset(&r->head);
    r->content_length = -1;
}

void rk_llm_resp_cleanup(rk_llm_resp_t *r)
{
    rk_buf_cleanup(&r->head);
}

/* Value of header name in head (lines after the status line), or NULL. */
static const char *header(const char *head, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            *vlen = e ? (size_t)(e - v) : strlen(v);
            return v;
        }
    }
    return NULL;
}

/* The head is complete in r->head: status and framing. */
static int parse_head(rk_llm_resp_t *r)
{
    const char *h = rk_buf_str(&r->head);
    if (strncmp(h, "HTTP/1.", 7) != 0 || h[8] != ' ')
        return RK_EPROTO;
    char *end;
    long st = strtol(h + 9, &end, 10);
    if (st < 100 || st > 999 || end != h + 12)
        return RK_EPROTO;
    if (st == 100) { /* an interim answer: the real one follows */
        rk_buf_reset(&r->head);
        return 0;
    }
    r->status = (int)st;
    r->headers_done = true;
    size_t tel = 0, cll = 0; /* one length each: te's must not be cl's */
    const char *te = header(h, "Transfer-Encoding", &tel);
    const char *cl = header(h, "Content-Length", &cll);
    if (te && tel >= 7 && strncasecmp(te + tel - 7, "chunked", 7) == 0) {
        r->chunked = true;
        r->state = CHUNK_SIZE;
    } else if (cl) {
        long long len = strtoll(cl, &end, 10);
        if (len < 0 || end == cl)
            return RK_EPROTO;
        r->content_length = r->left = len;
        r->state = len ? BODY : DONE;
    } else {
        r->state = UNTIL_CLOSE;
    }
    rk_buf_reset(&r->head);
    r->done = r->state == DONE;
    return 0;
}

/* Adds bytes up to and including the next LF to r->head; *used is what was
 * taken, *line whether a line (or the head, in HEAD) is now complete. */
static int take_line(rk_llm_resp_t *r, const char *p, size_t n, size_t *used, bool *line)
{
    const char *lf = memchr(p, '\n', n);
    size_t k = lf ? (size_t)(lf - p) + 1 : n;
    int rc = rk_buf_add(&r->head, p, k);
    *used = k;
    *line = lf != NULL;
    return rc;
}

int rk_llm_resp_feed(rk_llm_resp_t *r, const char *p, size_t n, rk_llm_body_cb cb, void *ud)
{
    while (n) {
        size_t used = 0;
        bool line = false;
        int rc = 0;
        switch (r->state) {
        case HEAD:
            if ((rc = take_line(r, p, n, &used, &line)))
                return rc;
            if (r->head.len >= 4 && memcmp(r->head.data + r->head.len - 4, "\r\n\r\n", 4) == 0)
                rc = parse_head(r);
            else if (r->head.len >= 2 && memcmp(r->head.data + r->head.len - 2, "\n\n", 2) == 0)
                rc = RK_EPROTO; /* bare LF heads are not HTTP/1.1 we need to read */
            break;
        case BODY:
            used = n < (size_t)r->left ? n : (size_t)r->left;
            rc = cb(p, used, ud);
            r->left -= (int64_t)used;
            if (r->left == 0)
                r->state = DONE;
            break;
        case UNTIL_CLOSE:
            used = n;
            rc = cb(p, n, ud);
            break;
        case CHUNK_SIZE:
            if ((rc = take_line(r, p, n, &used, &line)) || !line)
                break;
            {
                char *end;
                const char *s = rk_buf_str(&r->head);
                long long len = strtoll(s, &end, 16);
                if (len < 0 || end == s)
                    return RK_EPROTO;
                rk_buf_reset(&r->head);
                r->left = len;
                r->state = len ? CHUNK_DATA : TRAILER;
            }
            break;
        case CHUNK_DATA:
            used = n < (size_t)r->left ? n : (size_t)r->left;
            rc = cb(p, used, ud);
            r->left -= (int64_t)used;
            if (r->left == 0)
                r->state = CHUNK_END;
            break;
        case CHUNK_END:
            if ((rc = take_line(r, p, n, &used, &line)) || !line)
                break;
            if (strcmp(rk_buf_str(&r->head), "\r\n") != 0)
                return RK_EPROTO;
            rk_buf_reset(&r->head);
            r->state = CHUNK_SIZE;
            break;
        case TRAILER:
            if ((rc = take_line(r, p, n, &used, &line)) || !line)
                break;
            if (strcmp(rk_buf_str(&r->head), "\r\n") == 0)
                r->state = DONE;
            rk_buf_reset(&r->head);
            break;
        default:
            return RK_EPROTO; /* bytes after the end */
        }
        if (rc)
            return rc;
        p += used;
        n -= used;
        r->done = r->state == DONE;
    }
    return 0;
}

int rk_llm_resp_eof(rk_llm_resp_t *r)
{
    if (r->state == UNTIL_CLOSE)
        r->state = DONE;
    r->done = r->state == DONE;
    return r->done ? 0 : RK_EPROTO;
}
