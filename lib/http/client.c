#include "http/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"

#ifndef RK_VERSION
#define RK_VERSION "dev"
#endif

/* A request lives in exactly one of the client's two lists: active (its easy
 * handle is in the multi handle) or waiting (between attempts, due at
 * due_us). The easy handle is kept across attempts so its options are set
 * once. */
struct rk_http_handle {
    rk_http_client_t *client;
    rk_http_handle_t *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    char *method;
    char *url; /* for log lines only */
    rk_http_cb cb;
    void *ud;
    rk_http_retry_t retry;
    bool retryable; /* the method (or the caller) says a retry is safe */
    bool waiting;
    bool in_cb;
    bool over_cap;
    int timeout_ms;
    int64_t deadline_us; /* monotonic; 0: none */
    int64_t due_us;
    rk_http_response_t resp;
    char *keep_headers; /* name prefix of answer headers to keep, or NULL */
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct task {
    struct task *next;
    rk_http_task_fn fn;
    void *ud;
} task_t;

typedef struct list {
    rk_http_handle_t *head;
    int n;
} list_t;

struct rk_http_client {
    CURLM *multi;
    char *user_agent;
    list_t active;
    list_t waiting;
    uint64_t rng;
    pthread_mutex_t lock; /* guards inbox only */
    task_t *inbox_head, *inbox_tail;
};

int rk_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : RK_EIO;
}

static char *g_ca_file;

void rk_http_global_cleanup(void)
{
    curl_global_cleanup();
    free(g_ca_file);
    g_ca_file = NULL;
}

int rk_http_set_ca_file(const char *path)
{
    char *p = path ? strdup(path) : NULL;
    if (path && !p)
        return RK_ENOMEM;
    free(g_ca_file);
    g_ca_file = p;
    return 0;
}

const char *rk_http_ca_file(void)
{
    return g_ca_file;
}

static void list_add(list_t *l, rk_http_handle_t *h)
{
    h->prev = NULL;
    h->next = l->head;
    if (l->head)
        l->head->prev = h;
    l->head = h;
    l->n++;
}

static void list_del(list_t *l, rk_http_handle_t *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        l->head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
    l->n--;
}

/* xorshift64*: jitter only needs to spread retries, not be unpredictable. */
static uint64_t rng_next(rk_http_client_t *c)
{
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ULL;
}

static bool has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

static bool method_valid(const char *m)
{
    if (!*m || strlen(m) > 16)
        return false;
    for (const char *p = m; *p; p++)
        if (*p < 'A' || *p > 'Z')
            return false;
    return true;
}

static bool method_idempotent(const char *m)
{
    static const char *const safe[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (strcmp(m, safe[i]) == 0)
            return true;
    return false;
}

/* The Authorization line holds the token: wipe it before it goes back to
 * the allocator. */
static void headers_free(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static void handle_free(rk_http_handle_t *h)
{
    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    headers_free(h->headers);
    free(h->method);
    free(h->url);
    rk_buf_cleanup(&h->resp.body);
    rk_buf_cleanup(&h->resp.headers);
    free(h->keep_headers);
    free(h);
}

/* Unlinks h from its list (and its easy handle from the multi handle). */
static void handle_detach(rk_http_client_t *c, rk_http_handle_t *h)
{
    if (h->waiting) {
        list_del(&c->waiting, h);
    } else {
        curl_multi_remove_handle(c->multi, h->easy);
        list_del(&c->active, h);
    }
}

int rk_http_client_new(const rk_http_client_opts_t *opts, rk_http_client_t **out)
{
    int rc = RK_ENOMEM;
    *out = NULL;
    rk_http_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return RK_ENOMEM;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return RK_EIO;
    }
    const char *ua = opts && opts->user_agent ? opts->user_agent : "ruckus/" RK_VERSION;
    c->user_agent = strdup(ua);
    c->multi = curl_multi_init();
    if (!c->user_agent || !c->multi)
        goto fail;
    if (opts && opts->max_host_connections > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, opts->max_host_connections);
    if (opts && opts->max_total_connections > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, opts->max_total_connections);
    c->rng = (uint64_t)rk_time_mono_us() ^ ((uint64_t)(uintptr_t)c << 16) ^ 0x9e3779b97f4a7c15ULL;
    if (!c->rng)
        c->rng = 1;
    *out = c;
    return 0;
fail:
    rk_http_client_free(c);
    return rc;
}

static task_t *inbox_take(rk_http_client_t *c)
{
    pthread_mutex_lock(&c->lock);
    task_t *t = c->inbox_head;
    c->inbox_head = c->inbox_tail = NULL;
    pthread_mutex_unlock(&c->lock);
    return t;
}

static void run_tasks(rk_http_client_t *c)
{
    for (task_t *t = inbox_take(c); t;) {
        task_t *next = t->next;
        t->fn(t->ud);
        free(t);
        t = next;
    }
}

void rk_http_client_free(rk_http_client_t *c)
{
    if (!c)
        return;
    run_tasks(c);
    while (c->active.head || c->waiting.head) {
        rk_http_handle_t *h = c->active.head ? c->active.head : c->waiting.head;
        handle_detach(c, h);
        handle_free(h);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    pthread_mutex_destroy(&c->lock);
    free(c->user_agent);
    free(c);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    rk_http_handle_t *h = ud;
    size_t n = size * nmemb;
    int rc = rk_buf_add(&h->resp.body, data, n);
    if (rc == RK_ETOOBIG)
        h->over_cap = true;
    return rc ? 0 : n; /* a short count makes curl fail with CURLE_WRITE_ERROR */
}

#define KEPT_HEADERS_MAX 8192

/* Keeps "Name: value" header lines whose name starts with h->keep_headers;
 * a line that does not fit is dropped, never the transfer. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    rk_http_handle_t *h = ud;
    size_t n = size * nmemb;
    size_t plen = strlen(h->keep_headers);
    if (n > plen && strncasecmp(data, h->keep_headers, plen) == 0 && memchr(data, ':', n)) {
        size_t len = n;
        while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
            len--;
        if (rk_buf_add(&h->resp.headers, data, len) == 0 &&
            rk_buf_add(&h->resp.headers, "\n", 1) != 0)
            h->resp.headers.len -= len; /* no half lines */
    }
    return n;
}

static int headers_build(rk_http_handle_t *h, const rk_http_request_t *req)
{
    struct curl_slist *l = NULL, *n;
    char line[512];
    /* Disable "Expect: 100-continue": bodies are small and the wait costs a
     * round trip (or a second) per request. */
    if (!(n = curl_slist_append(l, "Expect:")))
        goto nomem;
    l = n;
    if (req->body) {
        const char *ct = req->content_type ? req->content_type : "application/json";
        if (has_crlf(ct) || snprintf(line, sizeof line, "Content-Type: %s", ct) >= (int)sizeof line)
            goto inval;
        if (!(n = curl_slist_append(l, line)))
            goto nomem;
        l = n;
    }
    if (req->token && *req->token) {
        rk_buf_t auth;
        rk_buf_init(&auth, 64 * 1024);
        if (has_crlf(req->token) || rk_buf_printf(&auth, "Authorization: Bearer %s", req->token)) {
            rk_buf_cleanup(&auth);
            goto inval;
        }
        n = curl_slist_append(l, auth.data);
        explicit_bzero(auth.data, auth.len);
        rk_buf_cleanup(&auth);
        if (!n)
            goto nomem;
        l = n;
    }
    for (const char *const *p = req->headers; p && *p; p++) {
        if (has_crlf(*p) || !strchr(*p, ':'))
            goto inval;
        if (!(n = curl_slist_append(l, *p)))
            goto nomem;
        l = n;
    }
    h->headers = l;
    return 0;
nomem:
    headers_free(l);
    return RK_ENOMEM;
inval:
    headers_free(l);
    return RK_EINVAL;
}

static int easy_setup(rk_http_client_t *c, rk_http_handle_t *h, const rk_http_request_t *req)
{
    CURL *e = h->easy;
    bool ok = true;
    int connect_ms =
        req->connect_timeout_ms > 0 ? req->connect_timeout_ms : RK_HTTP_CONNECT_TIMEOUT_DEFAULT_MS;
    size_t cap = req->max_body ? req->max_body : RK_HTTP_BODY_CAP_DEFAULT;
#define SET(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PRIVATE, h);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* Agents are reached directly: ignore http_proxy and friends. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NOPROXY, "*");
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (g_ca_file)
        SET(CURLOPT_CAINFO, g_ca_file);
    SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_HTTPHEADER, h->headers);
    SET(CURLOPT_ERRORBUFFER, h->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, h);
    if (h->keep_headers) {
        SET(CURLOPT_HEADERFUNCTION, on_header);
        SET(CURLOPT_HEADERDATA, h);
    }
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    if (req->body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_COPYPOSTFIELDS, (const char *)req->body);
    } else if (strcmp(h->method, "POST") == 0) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        SET(CURLOPT_COPYPOSTFIELDS, "");
    } else if (strcmp(h->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    }
    /* A body makes curl say POST; any other method is named explicitly. */
    bool plain_get = strcmp(h->method, "GET") == 0 && !req->body;
    if (!plain_get && strcmp(h->method, "POST") != 0 && strcmp(h->method, "HEAD") != 0)
        SET(CURLOPT_CUSTOMREQUEST, h->method);
#undef SET
    rk_buf_init(&h->resp.body, cap);
    return ok ? 0 : RK_ENOMEM;
}

/* Sets the attempt's timeout (cut to the retry deadline) and hands the easy
 * handle to the multi handle. */
static int attempt_start(rk_http_client_t *c, rk_http_handle_t *h)
{
    long timeout = h->timeout_ms;
    if (h->deadline_us) {
        int left_ms = rk_deadline_ms_left(h->deadline_us);
        if (left_ms < timeout)
            timeout = left_ms > 1 ? left_ms : 1;
    }
    curl_easy_setopt(h->easy, CURLOPT_TIMEOUT_MS, timeout);
    rk_buf_reset(&h->resp.body);
    rk_buf_reset(&h->resp.headers);
    h->over_cap = false;
    h->errbuf[0] = '\0';
    h->resp.status = 0;
    h->resp.attempts++;
    if (curl_multi_add_handle(c->multi, h->easy) != CURLM_OK)
        return RK_ENOMEM;
    list_add(&c->active, h);
    return 0;
}

int rk_http_client_submit(rk_http_client_t *c, const rk_http_request_t *req, rk_http_cb cb,
                          void *ud, rk_http_handle_t **handle)
{
    int rc = RK_EINVAL;
    if (handle)
        *handle = NULL;
    const char *method = req->method ? req->method : "GET";
    if (!req->url || !*req->url || !method_valid(method) || !cb)
        return RK_EINVAL;
    rk_http_handle_t *h = calloc(1, sizeof *h);
    if (!h)
        return RK_ENOMEM;
    rk_buf_init(&h->resp.body, 0);
    rk_buf_init(&h->resp.headers, KEPT_HEADERS_MAX);
    if (req->keep_headers && !(h->keep_headers = strdup(req->keep_headers))) {
        free(h);
        return RK_ENOMEM;
    }
    h->client = c;
    h->cb = cb;
    h->ud = ud;
    h->retry = req->retry;
    if (h->retry.base_ms <= 0)
        h->retry.base_ms = 100;
    if (h->retry.max_ms <= 0)
        h->retry.max_ms = 5000;
    h->retryable = req->idempotent || method_idempotent(method);
    h->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : RK_HTTP_TIMEOUT_DEFAULT_MS;
    if (req->retry.deadline_ms > 0)
        h->deadline_us = rk_time_mono_us() + (int64_t)req->retry.deadline_ms * 1000;
    if ((rc = headers_build(h, req)))
        goto fail;
    rc = RK_ENOMEM;
    h->method = strdup(method);
    h->url = strdup(req->url);
    h->easy = curl_easy_init();
    if (!h->method || !h->url || !h->easy)
        goto fail;
    if ((rc = easy_setup(c, h, req)) || (rc = attempt_start(c, h)))
        goto fail;
    if (handle)
        *handle = h;
    return 0;
fail:
    handle_free(h);
    return rc;
}

int rk_http_client_cancel(rk_http_client_t *c, rk_http_handle_t *h)
{
    if (!h || h->client != c)
        return RK_EINVAL;
    if (h->in_cb)
        return RK_ESTATE;
    handle_detach(c, h);
    handle_free(h);
    return 0;
}

/* Long URLs and curl messages are cut to fit: msg is for people. */
static void __attribute__((format(printf, 2, 3)))
set_msg(rk_http_response_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

static int map_curl_error(CURLcode cc, rk_http_handle_t *h)
{
    switch (cc) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return RK_ECONN;
    case CURLE_OPERATION_TIMEDOUT: {
        /* No pretransfer time means the request was never sent: the peer
         * could not be reached in time, which is a connection failure. */
        curl_off_t pre = 0;
        curl_easy_getinfo(h->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        return pre == 0 ? RK_ECONN : RK_ETIMEDOUT;
    }
    case CURLE_FILESIZE_EXCEEDED:
        return RK_ETOOBIG;
    case CURLE_WRITE_ERROR:
        return h->over_cap ? RK_ETOOBIG : RK_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return RK_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return RK_ENOMEM;
    default:
        return RK_EPROTO;
    }
}

static bool should_retry(const rk_http_handle_t *h)
{
    if (!h->retryable || h->resp.attempts >= h->retry.max_attempts)
        return false;
    if (h->resp.err)
        return h->resp.err == RK_ECONN;
    return h->resp.status == 502 || h->resp.status == 503 || h->resp.status == 504;
}

/* Backoff before the next attempt, in microseconds: equal jitter over an
 * exponential ceiling. */
static int64_t backoff_us(rk_http_client_t *c, const rk_http_handle_t *h)
{
    int shift = h->resp.attempts - 1 < 20 ? h->resp.attempts - 1 : 20;
    int64_t d = (int64_t)h->retry.base_ms << shift;
    if (d > h->retry.max_ms)
        d = h->retry.max_ms;
    d *= 1000;
    return d / 2 + (int64_t)(rng_next(c) % (uint64_t)(d / 2 + 1));
}

/* Runs the callback and frees the request; in_cb makes a self-cancel from
 * inside the callback fail instead of freeing h twice. */
static void finish(rk_http_handle_t *h)
{
    h->in_cb = true;
    h->cb(&h->resp, h->ud);
    handle_free(h);
}

/* One attempt ended (the easy handle is already out of the multi handle):
 * either schedule the next attempt or complete the request. */
static void attempt_done(rk_http_client_t *c, rk_http_handle_t *h, CURLcode cc)
{
    rk_http_response_t *r = &h->resp;
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r->status);
    r->err = map_curl_error(cc, h);
    r->msg[0] = '\0';
    if (r->err) {
        const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
        if (r->err == RK_ETOOBIG)
            why = "response body over its size cap";
        set_msg(r, "%s %s: %s", h->method, h->url, why);
    }
    if (should_retry(h)) {
        int64_t now = rk_time_mono_us();
        h->due_us = now + backoff_us(c, h);
        if (!h->deadline_us || h->due_us < h->deadline_us) {
            rk_log_debug("http retry", "method", h->method, "url", h->url, "error",
                         r->err ? r->msg : "status 5xx");
            h->waiting = true;
            list_add(&c->waiting, h);
            return;
        }
    }
    finish(h);
}

static void start_due(rk_http_client_t *c)
{
    int64_t now = rk_time_mono_us();
    rk_http_handle_t *h = c->waiting.head;
    while (h) {
        rk_http_handle_t *next = h->next;
        if (h->due_us <= now) {
            list_del(&c->waiting, h);
            h->waiting = false;
            if (attempt_start(c, h)) {
                h->resp.err = RK_ENOMEM;
                set_msg(&h->resp, "%s %s: out of memory", h->method, h->url);
                finish(h);
                /* The callback may have cancelled anything: restart the scan. */
                next = c->waiting.head;
            }
        }
        h = next;
    }
}

static int poll_timeout(rk_http_client_t *c, int timeout_ms)
{
    int64_t now = rk_time_mono_us();
    for (rk_http_handle_t *h = c->waiting.head; h; h = h->next) {
        int64_t ms = h->due_us > now ? (h->due_us - now + 999) / 1000 : 0;
        if (ms < timeout_ms)
            timeout_ms = (int)ms;
    }
    return timeout_ms < 0 ? 0 : timeout_ms;
}

int rk_http_client_run_once(rk_http_client_t *c, int timeout_ms)
{
    int running;
    run_tasks(c);
    if (curl_multi_poll(c->multi, NULL, 0, poll_timeout(c, timeout_ms), NULL) != CURLM_OK)
        return RK_EIO;
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
        return RK_EIO;
    CURLMsg *m;
    int left;
    /* One message at a time: a callback may cancel a request, and curl drops
     * a removed handle's pending message, so nothing stale is read. */
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        rk_http_handle_t *h = NULL;
        CURLcode cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&h);
        handle_detach(c, h);
        attempt_done(c, h, cc);
    }
    start_due(c);
    run_tasks(c);
    return c->active.n + c->waiting.n;
}

int rk_http_client_wakeup(rk_http_client_t *c)
{
    return curl_multi_wakeup(c->multi) == CURLM_OK ? 0 : RK_EIO;
}

int rk_http_client_post_task(rk_http_client_t *c, rk_http_task_fn fn, void *ud)
{
    task_t *t = malloc(sizeof *t);
    if (!t)
        return RK_ENOMEM;
    t->next = NULL;
    t->fn = fn;
    t->ud = ud;
    pthread_mutex_lock(&c->lock);
    if (c->inbox_tail)
        c->inbox_tail->next = t;
    else
        c->inbox_head = t;
    c->inbox_tail = t;
    pthread_mutex_unlock(&c->lock);
    rk_http_client_wakeup(c);
    return 0;
}

typedef struct sync_ctx {
    rk_http_response_t *out;
    bool done;
} sync_ctx_t;

static void sync_done(const rk_http_response_t *resp, void *ud)
{
    sync_ctx_t *s = ud;
    rk_http_response_t *o = s->out;
    o->err = resp->err;
    o->status = resp->status;
    o->attempts = resp->attempts;
    memcpy(o->msg, resp->msg, sizeof o->msg);
    if ((rk_buf_add(&o->body, resp->body.data, resp->body.len) ||
         rk_buf_add(&o->headers, resp->headers.data, resp->headers.len)) &&
        !o->err) {
        o->err = RK_ENOMEM;
        snprintf(o->msg, sizeof o->msg, "out of memory copying the response body");
    }
    s->done = true;
}

int rk_http_client_request_sync(const rk_http_request_t *req, rk_http_response_t *out)
{
    rk_http_client_t *c = NULL;
    sync_ctx_t s = {out, false};
    memset(out, 0, sizeof *out);
    rk_buf_init(&out->body, req->max_body ? req->max_body : RK_HTTP_BODY_CAP_DEFAULT);
    rk_buf_init(&out->headers, KEPT_HEADERS_MAX);
    int rc = rk_http_client_new(NULL, &c);
    if (!rc)
        rc = rk_http_client_submit(c, req, sync_done, &s, NULL);
    while (!rc && !s.done) {
        int n = rk_http_client_run_once(c, 1000);
        if (n < 0)
            rc = n;
    }
    rk_http_client_free(c);
    if (rc) {
        out->err = rc;
        snprintf(out->msg, sizeof out->msg, "request not started: %s", rk_strerror(rc));
    }
    return out->err;
}

void rk_http_response_cleanup(rk_http_response_t *resp)
{
    rk_buf_cleanup(&resp->body);
    rk_buf_cleanup(&resp->headers);
}

bool rk_http_response_header(const rk_http_response_t *resp, const char *name, char *out, size_t n)
{
    size_t nlen = strlen(name);
    const char *p = resp->headers.data;
    const char *end = p ? p + resp->headers.len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            if (n)
                snprintf(out, n, "%.*s", (int)(eol - v), v);
            return true;
        }
        p = eol + 1;
    }
    return false;
}

int rk_http_response_json(const rk_http_response_t *resp, json_t **out, rk_verr_t *e)
{
    *out = NULL;
    if (resp->err) {
        if (e)
            snprintf(e->msg, sizeof e->msg, "%s", resp->msg);
        return resp->err;
    }
    json_error_t je;
    json_t *v = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, &je);
    if (!v) {
        rk_verr_set(e, "response body", "invalid JSON (HTTP %ld) at line %d column %d: %s",
                    resp->status, je.line, je.column, je.text);
        return RK_EPROTO;
    }
    *out = v;
    return 0;
}
