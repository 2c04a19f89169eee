/* Response building: bodies, headers, the error shape, and streams. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "http/server_int.h"

#define JSON_TYPE "application/json"
#define STREAM_BLOCK (32 * 1024)

void resp_init(rk_http_resp_t *resp)
{
    memset(resp, 0, sizeof *resp);
}

/* Drops the body (buffer or stream), keeping extra headers. */
static void resp_clear_body(rk_http_resp_t *resp)
{
    free(resp->body);
    free(resp->ctype);
    resp->body = resp->ctype = NULL;
    resp->len = 0;
    if (resp->stream) {
        rk_http_stream_t *st = resp->stream;
        resp->stream = NULL;
        /* Never queued: the context is dropped with the response. */
        if (st->free_ctx)
            st->free_ctx(st->ctx);
        st->ended = true;
        rk_http_stream_release(st);
    }
    resp->kind = RESP_NONE;
}

void resp_cleanup(rk_http_resp_t *resp)
{
    resp_clear_body(resp);
    for (size_t i = 0; i < resp->nhdrs; i++) {
        free(resp->hdrs[i][0]);
        free(resp->hdrs[i][1]);
    }
    resp->nhdrs = 0;
}

int rk_http_resp_new(rk_http_resp_t **out)
{
    *out = malloc(sizeof **out);
    if (!*out)
        return RK_ENOMEM;
    resp_init(*out);
    return 0;
}

void rk_http_resp_free(rk_http_resp_t *resp)
{
    if (!resp)
        return;
    resp_cleanup(resp);
    free(resp);
}

/* Takes body (malloc'd, may be NULL only with len 0). */
static int set_buf(rk_http_resp_t *resp, int status, const char *ctype, char *body, size_t len)
{
    if (status < 100 || status > 599) {
        free(body);
        return RK_EINVAL;
    }
    char *ct = strdup(ctype);
    if (!ct) {
        free(body);
        return RK_ENOMEM;
    }
    resp_clear_body(resp);
    resp->kind = RESP_BUF;
    resp->status = status;
    resp->ctype = ct;
    resp->body = body;
    resp->len = len;
    return 0;
}

/* Last resort when we cannot even build the answer: a static 500. */
static int set_oom(rk_http_resp_t *resp)
{
    resp_clear_body(resp);
    resp->kind = RESP_BUF;
    resp->status = 500;
    return RK_ENOMEM;
}

int rk_http_resp_bytes(rk_http_resp_t *resp, int status, const char *content_type, const void *data,
                       size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return set_oom(resp);
    if (len)
        memcpy(copy, data, len);
    int err = set_buf(resp, status, content_type, copy, len);
    return err == RK_ENOMEM ? set_oom(resp) : err;
}

int rk_http_resp_text(rk_http_resp_t *resp, int status, const char *text)
{
    return rk_http_resp_bytes(resp, status, "text/plain; charset=utf-8", text, strlen(text));
}

int rk_http_resp_json(rk_http_resp_t *resp, int status, const json_t *body)
{
    if (!body)
        return rk_http_resp_error(resp, 500, "internal error: no response body");
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return set_oom(resp);
    int err = set_buf(resp, status, JSON_TYPE, s, strlen(s));
    return err == RK_ENOMEM ? set_oom(resp) : err;
}

int rk_http_resp_json_take(rk_http_resp_t *resp, int status, json_t *body)
{
    int err = rk_http_resp_json(resp, status, body);
    json_decref(body);
    return err;
}

int rk_http_resp_error(rk_http_resp_t *resp, int status, const char *detail)
{
    json_t *o = json_object();
    json_t *d = json_string(detail);
    if (!d && o) {
        /* Not UTF-8 (a detail may quote client input): keep the ASCII. */
        char safe[1024];
        size_t i = 0;
        for (; detail[i] && i < sizeof safe - 1; i++)
            safe[i] = (unsigned char)detail[i] < 0x80 ? detail[i] : '?';
        safe[i] = '\0';
        d = json_string(safe);
    }
    if (!o || !d || json_object_set_new(o, "detail", d) != 0) {
        json_decref(d);
        json_decref(o);
        return set_oom(resp);
    }
    return rk_http_resp_json_take(resp, status, o);
}

int rk_http_resp_errorf(rk_http_resp_t *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rk_http_resp_error(resp, status, msg);
}

int rk_http_resp_header(rk_http_resp_t *resp, const char *name, const char *value)
{
    if (!*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return RK_EINVAL;
    if (resp->nhdrs == RESP_MAX_HEADERS)
        return RK_EINVAL;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return RK_ENOMEM;
    }
    resp->hdrs[resp->nhdrs][0] = n;
    resp->hdrs[resp->nhdrs][1] = v;
    resp->nhdrs++;
    return 0;
}

/* ---- streams ---- */

void stream_get(rk_http_stream_t *st)
{
    atomic_fetch_add(&st->refs, 1);
}

void rk_http_stream_release(rk_http_stream_t *st)
{
    if (!st || atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&st->lock);
    free(st);
}

int rk_http_resp_stream(rk_http_resp_t *resp, int status, const char *content_type,
                        rk_http_read_fn read, void (*free_ctx)(void *ctx), void *ctx,
                        rk_http_stream_t **handle)
{
    int err = RK_EINVAL;
    rk_http_stream_t *st = NULL;
    char *ct = NULL;
    if (handle)
        *handle = NULL;
    if (status < 100 || status > 599 || !read)
        goto fail;
    err = RK_ENOMEM;
    st = calloc(1, sizeof *st);
    ct = strdup(content_type);
    if (!st || !ct || pthread_mutex_init(&st->lock, NULL) != 0)
        goto fail;
    atomic_init(&st->refs, handle ? 2 : 1);
    st->read = read;
    st->free_ctx = free_ctx;
    st->ctx = ctx;
    resp_clear_body(resp);
    resp->kind = RESP_STREAM;
    resp->status = status;
    resp->ctype = ct;
    resp->stream = st;
    if (handle)
        *handle = st;
    return 0;
fail:
    free(st);
    free(ct);
    if (free_ctx)
        free_ctx(ctx);
    return err;
}

void rk_http_stream_wake(rk_http_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    if (st->suspended) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    } else if (!st->ended) {
        st->wake_pending = true;
    }
    pthread_mutex_unlock(&st->lock);
}

void stream_stop(rk_http_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    st->stopping = true;
    if (st->suspended) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    pthread_mutex_unlock(&st->lock);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    rk_http_stream_t *st = cls;
    pthread_mutex_lock(&st->lock);
    bool stopping = st->stopping;
    pthread_mutex_unlock(&st->lock);
    if (stopping)
        return MHD_CONTENT_READER_END_OF_STREAM;
    ssize_t n = st->read(st->ctx, pos, buf, max);
    if (n > 0) {
        *st->bytes_out += (uint64_t)n;
        return n;
    }
    if (n == RK_HTTP_READ_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n != RK_HTTP_READ_WAIT)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    /* Nothing yet: park unless a wake or stop came in meanwhile, in which
     * case returning 0 makes libmicrohttpd ask again at once. */
    pthread_mutex_lock(&st->lock);
    if (st->stopping) {
        pthread_mutex_unlock(&st->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (st->wake_pending) {
        st->wake_pending = false;
    } else {
        st->suspended = true;
        MHD_suspend_connection(st->conn);
    }
    pthread_mutex_unlock(&st->lock);
    return 0;
}

static void stream_done(void *cls)
{
    rk_http_stream_t *st = cls;
    server_stream_unlink(st->srv, st);
    pthread_mutex_lock(&st->lock);
    st->ended = true;
    pthread_mutex_unlock(&st->lock);
    if (st->free_ctx)
        st->free_ctx(st->ctx);
    rk_http_stream_release(st);
}

struct MHD_Response *resp_to_mhd(rk_http_resp_t *resp, struct MHD_Connection *conn,
                                 uint64_t *bytes_out, rk_http_server_t *srv)
{
    struct MHD_Response *r = NULL;
    if (resp->kind == RESP_STREAM) {
        rk_http_stream_t *st = resp->stream;
        st->conn = conn;
        st->bytes_out = bytes_out;
        st->srv = srv;
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st,
                                              stream_done);
        if (!r)
            return NULL;
        resp->stream = NULL; /* the reference now belongs to libmicrohttpd */
        server_stream_link(srv, st);
    } else {
        r = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : "",
                                            resp->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (!r)
            return NULL;
        *bytes_out += resp->len;
        resp->body = NULL;
    }
    if (resp->ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->ctype);
    for (size_t i = 0; i < resp->nhdrs; i++)
        MHD_add_response_header(r, resp->hdrs[i][0], resp->hdrs[i][1]);
    return r;
}
