/* Requests to agents, on the manager thread. Each call carries its own
 * completion callback (and an optional drop callback for a call that ends
 * unanswered), so this file knows nothing of jobs or agents: it keeps the
 * list of calls in flight for shutdown, and the fan-out that lets
 * handlers ask agents through the manager is one of its users.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

static void unlink_call(rk_srv_mgr_t *m, srv_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        m->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->slot && *c->slot == c)
        *c->slot = NULL;
}

static void on_answer(const rk_http_response_t *r, void *ud)
{
    srv_call_t *c = ud;
    rk_srv_mgr_t *m = c->m;
    unlink_call(m, c);
    c->done(m, c, r);
    free(c);
}

static int curl_send(void *ctx, const rk_http_request_t *req, rk_http_cb cb, void *ud,
                     rk_http_handle_t **h)
{
    return rk_http_client_submit(ctx, req, cb, ud, h);
}

static void curl_drop(void *ctx, rk_http_handle_t *h)
{
    if (ctx)
        rk_http_client_cancel(ctx, h);
}

static const srv_transport_t curl_transport = {
    .submit = curl_send,
    .status = curl_send,
    .result = curl_send,
    .cancel = curl_send,
    .control = curl_send,
    .get = curl_send,
    .drop = curl_drop,
};

void srv__mgr_set_transport(rk_srv_mgr_t *m, const srv_transport_t *t, void *ctx)
{
    m->tp = t ? t : &curl_transport;
    m->tp_ctx = t ? ctx : m->client;
}

srv_call_t *srv__call_submit(rk_srv_mgr_t *m, srv_send_fn send, const rk_http_request_t *req,
                             srv__call_fn done, srv__call_drop_fn drop, void *ud, srv_call_t **slot)
{
    srv_call_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = (srv_call_t){
        .m = m, .done = done, .drop = drop, .ud = ud, .slot = slot, .sent_mono = rk_time_mono_us()};
    if (send(m->tp_ctx, req, on_answer, c, &c->h) != 0) {
        free(c);
        return NULL;
    }
    c->next = m->calls;
    if (m->calls)
        m->calls->prev = c;
    m->calls = c;
    if (slot)
        *slot = c;
    return c;
}

void srv__call_cancel(rk_srv_mgr_t *m, srv_call_t *c)
{
    if (!c)
        return;
    unlink_call(m, c);
    if (m->client || m->tp != &curl_transport)
        m->tp->drop(m->tp_ctx, c->h);
    if (c->drop)
        c->drop(m, c);
    free(c);
}

void srv__calls_drop_all(rk_srv_mgr_t *m)
{
    while (m->calls) {
        srv_call_t *c = m->calls;
        unlink_call(m, c);
        if (c->drop)
            c->drop(m, c);
        free(c);
    }
}

char *srv__agent_url(const srv_agent_t *a, const char *fmt, ...)
{
    rk_buf_t b;
    rk_buf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    int rc = rk_buf_printf(&b, "%s/api/v1", a->url);
    if (!rc)
        rc = rk_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (rc) {
        rk_buf_cleanup(&b);
        return NULL;
    }
    return rk_buf_take(&b);
}

void srv__answer_detail(const rk_http_response_t *r, char *out, size_t n)
{
    json_t *v = NULL;
    const char *d = NULL;
    if (rk_http_response_json(r, &v, NULL) == 0)
        d = json_string_value(json_object_get(v, "detail"));
    if (d)
        snprintf(out, n, "HTTP %ld: %.400s", r->status, d);
    else if (r->err)
        snprintf(out, n, "%.400s", r->msg[0] ? r->msg : rk_strerror(r->err));
    else
        snprintf(out, n, "HTTP %ld", r->status);
    json_decref(v);
}

/* ---- fan-out: n requests at once, one answer when all have ended ---- */

static void wipe_free(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    free(s);
}

void srv__fan_free(srv_fan_t *f)
{
    if (!f)
        return;
    if (f->wait)
        rk_http_wait_release(f->wait); /* handlers' fan-outs only: not seamed */
    if (f->free_ctx)
        f->free_ctx(f->ctx);
    for (size_t i = 0; i < f->n; i++) {
        if (f->urls)
            free(f->urls[i]);
        if (f->tokens)
            wipe_free(f->tokens[i]);
        if (f->replies) {
            free(f->replies[i].body);
            free(f->replies[i].headers);
        }
    }
    free(f->urls);
    free(f->tokens);
    free(f->replies);
    free(f);
}

static void fan_complete(rk_srv_mgr_t *m, srv_fan_t *f)
{
    rk_http_resp_t *resp = NULL;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->replies[i].body) { /* never submitted */
            f->replies[i].body = strdup("");
            if (!f->replies[i].err && !f->replies[i].status)
                f->replies[i].err = RK_ENOMEM;
        }
    }
    if (rk_http_resp_new(&resp) == 0) {
        f->done(m, f->ctx, f->replies, f->n, resp);
        srv__finish(m, f->wait, resp);
        f->wait = NULL;
    }
    srv__fan_free(f);
}

static void fan_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    srv_fan_t *f = c->ud;
    rk_srv_fan_reply_t *rep = &f->replies[c->idx];
    rep->err = r->err;
    rep->status = r->status;
    rep->len = r->body.len;
    rep->body = malloc(r->body.len + 1);
    if (r->headers.len)
        rep->headers = strndup(r->headers.data, r->headers.len); /* NULL: none passed on */
    if (rep->body) {
        memcpy(rep->body, rk_buf_str(&r->body), r->body.len + 1);
    } else {
        rep->err = RK_ENOMEM;
        rep->len = 0;
    }
    if (--f->left == 0)
        fan_complete(m, f);
}

/* Dropped unanswered: the fan-out is abandoned with its last call. */
static void fan_dropped(rk_srv_mgr_t *m, srv_call_t *c)
{
    (void)m;
    srv_fan_t *f = c->ud;
    if (--f->left == 0)
        srv__fan_free(f);
}

void srv__fan_start(rk_srv_mgr_t *m, srv_fan_t *f)
{
    f->left = 1; /* held while submitting, so a quick failure cannot complete it */
    for (size_t i = 0; i < f->n; i++) {
        rk_http_request_t req = {.url = f->urls[i],
                                 .token = f->tokens[i],
                                 .connect_timeout_ms = f->timeout_ms < 3000 ? f->timeout_ms : 3000,
                                 .timeout_ms = f->timeout_ms,
                                 .max_body = f->max_body,
                                 /* What an agent says about a log (next offset,
                                  * size, finished) travels with it. */
                                 .keep_headers = "X-Ruckus-"};
        srv_call_t *c = srv__call_submit(m, m->tp->get, &req, fan_answered, fan_dropped, f, NULL);
        if (!c) {
            f->replies[i].err = RK_EINVAL;
            continue;
        }
        c->idx = i;
        f->left++;
    }
    if (--f->left == 0)
        fan_complete(m, f);
}
