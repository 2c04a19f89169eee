/* Server lifecycle, per-request handling (auth, CORS, routing, body cap),
 * suspended requests and the access log. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "http/router.h"
#include "http/server_int.h"
#include "http/url.h"

/* A chunked body past the cap is read and dropped so the client still gets
 * its 413; beyond this many times the cap we just close the connection. */
#define DISCARD_FACTOR 16

void rk_http_config_init(rk_http_config_t *c)
{
    *c = (rk_http_config_t){
        .host = "127.0.0.1",
        .threads = 2,
        .max_conns = 256,
        .conn_timeout_s = 60,
        .max_body = 1024 * 1024,
        .stop_timeout_ms = 10000,
        .auth_prefix = "/api/v1",
        .name = "http",
    };
}

/* ---- setup ---- */

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

static bool host_is_loopback(const char *h)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (strcasecmp(h, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

static void wipe_free(char *p);

int rk_http_read_pem(const char *what, const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rbe");
    if (!f) {
        rk_log_error("cannot read a TLS file", "file", what, "path", path, "error",
                     strerror(errno));
        return RK_EIO;
    }
    rk_buf_t b;
    rk_buf_init(&b, 1u << 20);
    char chunk[4096];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = rk_buf_add(&b, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (rc == RK_ENOMEM) {
        rk_buf_cleanup(&b);
        return RK_ENOMEM;
    }
    if (rc || bad || b.len == 0 || !strstr(rk_buf_str(&b), "-----BEGIN ")) {
        rk_log_error("not a PEM file", "file", what, "path", path, "error",
                     rc    ? "over 1 MiB"
                     : bad ? "read error"
                           : "expected -----BEGIN ...");
        if (b.data)
            explicit_bzero(b.data, b.len);
        rk_buf_cleanup(&b);
        return RK_EIO;
    }
    if (!(*out = rk_buf_take(&b)))
        return RK_ENOMEM;
    return 0;
}

int rk_http_server_new(const rk_http_config_t *cfg, rk_http_server_t **out)
{
    *out = NULL;
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    bool has_token = cfg->token && *cfg->token;
    if (!has_token && !host_is_loopback(host)) {
        rk_log_error("refusing to listen on a non-loopback address without a token", "server",
                     cfg->name, "host", host);
        return RK_EINVAL;
    }
    bool has_read = cfg->read_token && *cfg->read_token;
    if (has_read && (!has_token || strcmp(cfg->read_token, cfg->token) == 0)) {
        rk_log_error("a read-only token needs a different full token", "server", cfg->name);
        return RK_EINVAL;
    }
    if (cfg->threads == 0 || cfg->max_body == 0 || (cfg->n_cors_origins && !cfg->cors_origins))
        return RK_EINVAL;
    bool tls = (cfg->tls_cert && *cfg->tls_cert) || (cfg->tls_key && *cfg->tls_key);
    if (tls && !(cfg->tls_cert && *cfg->tls_cert && cfg->tls_key && *cfg->tls_key)) {
        rk_log_error("a TLS certificate needs its key and a key its certificate", "server",
                     cfg->name);
        return RK_EINVAL;
    }
    if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        rk_log_error("this libmicrohttpd has no TLS support", "server", cfg->name);
        return RK_EIO;
    }
    rk_http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return RK_ENOMEM;
    bool failed = false;
    s->cfg = *cfg;
    s->host = dup_or_null(host, &failed);
    s->token = has_token ? dup_or_null(cfg->token, &failed) : NULL;
    s->read_token = has_read ? dup_or_null(cfg->read_token, &failed) : NULL;
    s->has_token = has_token;
    s->prefix = dup_or_null(cfg->auth_prefix ? cfg->auth_prefix : "/api/v1", &failed);
    s->name = dup_or_null(cfg->name ? cfg->name : "http", &failed);
    if (cfg->n_cors_origins) {
        s->origins = calloc(cfg->n_cors_origins, sizeof *s->origins);
        failed |= !s->origins;
        for (size_t i = 0; s->origins && i < cfg->n_cors_origins; i++)
            s->origins[i] = dup_or_null(cfg->cors_origins[i], &failed);
    }
    s->cfg.host = s->host;
    s->cfg.token = NULL; /* may change: only s->token under tok_lock */
    s->cfg.read_token = NULL;
    s->cfg.auth_prefix = s->prefix;
    s->cfg.name = s->name;
    s->cfg.cors_origins = NULL;
    if (!s->origins)
        s->cfg.n_cors_origins = 0;
    s->cfg.tls_cert = s->cfg.tls_key = NULL;
    rk_cond_init_mono(&s->cond);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_mutex_init(&s->tok_lock, NULL);
    if (failed || rk_router_new(&s->router) != 0) {
        rk_http_server_free(s);
        return RK_ENOMEM;
    }
    int trc = 0;
    char *cert_pem = NULL, *key_pem = NULL, terr[256] = "";
    if (tls && !(trc = rk_http_read_pem("certificate", cfg->tls_cert, &cert_pem)) &&
        !(trc = rk_http_read_pem("key", cfg->tls_key, &key_pem)) &&
        (trc = rk_tls_creds_new(cert_pem, key_pem, &s->tls, terr, sizeof terr)))
        rk_log_error("the TLS certificate and key cannot be used (do they belong together?)",
                     "server", s->name, "detail", terr);
    free(cert_pem);
    wipe_free(key_pem);
    if (trc) {
        rk_http_server_free(s);
        return trc;
    }
    rk_router_set_check(s->router, s->cfg.param_check);
    if (s->cfg.metrics) {
        static const double secs[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
        s->m_requests = rk_prom_family(
            s->cfg.metrics, "ruckus_http_requests_total", "HTTP requests answered, by route",
            RK_PROM_COUNTER, (const char *const[]){"route", "method", "code", NULL}, NULL, 0);
        s->m_seconds = rk_prom_family(
            s->cfg.metrics, "ruckus_http_request_duration_seconds",
            "Time from a request's first byte to its answer's last, by route", RK_PROM_HISTOGRAM,
            (const char *const[]){"route", "method", NULL}, secs, sizeof secs / sizeof *secs);
    }
    *out = s;
    return 0;
}

typedef struct each_ctx {
    rk_http_route_each_fn fn;
    void *ud;
} each_ctx_t;

static int each_route(const char *method, const char *pattern, void *target, void *ud)
{
    (void)target;
    const each_ctx_t *c = ud;
    return c->fn(method, pattern, c->ud);
}

int rk_http_server_each_route(const rk_http_server_t *s, rk_http_route_each_fn fn, void *ud)
{
    each_ctx_t c = {fn, ud};
    return rk_router_each(s->router, each_route, &c);
}

int rk_http_server_route(rk_http_server_t *s, const char *method, const char *pattern,
                         rk_http_handler_fn fn, void *userdata)
{
    if (s->daemon)
        return RK_ESTATE;
    if (!fn)
        return RK_EINVAL;
    target_t *t = calloc(1, sizeof *t);
    if (!t)
        return RK_ENOMEM;
    t->fn = fn;
    t->userdata = userdata;
    t->pattern = strdup(pattern ? pattern : "");
    int err = t->pattern ? rk_router_add(s->router, method, pattern, t) : RK_ENOMEM;
    if (err) {
        free(t->pattern);
        free(t);
        return err;
    }
    t->next = s->targets;
    s->targets = t;
    return 0;
}

int rk_http_server_fallback(rk_http_server_t *s, rk_http_handler_fn fn, void *userdata)
{
    if (s->daemon)
        return RK_ESTATE;
    if (!fn || s->fallback)
        return fn ? RK_EEXIST : RK_EINVAL;
    target_t *t = calloc(1, sizeof *t);
    if (!t || !(t->pattern = strdup("fallback"))) {
        free(t);
        return RK_ENOMEM;
    }
    t->fn = fn;
    t->userdata = userdata;
    t->next = s->targets;
    s->targets = s->fallback = t;
    return 0;
}

/* ---- suspended requests ---- */

static void wait_put(rk_http_wait_t *w)
{
    if (atomic_fetch_sub(&w->refs, 1) != 1)
        return;
    rk_http_resp_free(w->resp);
    free(w);
}

static void wait_unlink(rk_http_server_t *s, rk_http_wait_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else if (s->waits == w)
        s->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

int rk_http_req_suspend(rk_http_req_t *r, rk_http_on_stop_fn on_stop, void *ctx,
                        rk_http_wait_t **out)
{
    *out = NULL;
    if (r->wait)
        return RK_ESTATE;
    rk_http_wait_t *w = calloc(1, sizeof *w);
    if (!w)
        return RK_ENOMEM;
    atomic_init(&w->refs, 2);
    w->srv = r->srv;
    w->conn = r->conn;
    w->on_stop = on_stop;
    w->ctx = ctx;
    rk_http_server_t *s = r->srv;
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        free(w);
        return RK_ESTATE;
    }
    w->next = s->waits;
    if (s->waits)
        s->waits->prev = w;
    s->waits = w;
    pthread_mutex_unlock(&s->lock);
    r->wait = w;
    *out = w;
    return 0;
}

/* Sets the answer of a waiting or claimed wait and resumes its connection
 * if it is parked. Called with s->lock held; drops and retakes it around
 * the resume (a suspended connection cannot go away meanwhile, and stop
 * waits for `resuming` to drain before destroying the daemon). */
static void wait_answer_locked(rk_http_server_t *s, rk_http_wait_t *w, rk_http_resp_t *resp)
{
    w->state = WAIT_ANSWERED;
    w->resp = resp;
    wait_unlink(s, w);
    if (!w->suspended)
        return; /* the request thread has not parked yet; it will see ANSWERED */
    w->suspended = false;
    s->resuming++;
    pthread_mutex_unlock(&s->lock);
    MHD_resume_connection(w->conn);
    pthread_mutex_lock(&s->lock);
    if (--s->resuming == 0)
        pthread_cond_broadcast(&s->cond);
}

int rk_http_wait_finish(rk_http_wait_t *w, rk_http_resp_t *resp)
{
    rk_http_server_t *s = w->srv;
    int err = 0;
    pthread_mutex_lock(&s->lock);
    if (w->state != WAIT_WAITING) {
        err = RK_ESTATE;
        rk_http_resp_free(resp);
    } else {
        wait_answer_locked(s, w, resp);
    }
    pthread_mutex_unlock(&s->lock);
    wait_put(w);
    return err;
}

void rk_http_wait_release(rk_http_wait_t *w)
{
    rk_http_resp_t *resp = NULL;
    if (w && rk_http_resp_new(&resp) == 0)
        rk_http_resp_error(resp, 503, "request abandoned");
    if (w)
        rk_http_wait_finish(w, resp);
}

/* Access-handler side: park the connection unless the answer is already
 * there. */
static void wait_park(rk_http_req_t *r)
{
    rk_http_server_t *s = r->srv;
    rk_http_wait_t *w = r->wait;
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&s->lock);
    bool answered = w->state == WAIT_ANSWERED;
    if (!answered)
        w->suspended = true;
    pthread_mutex_unlock(&s->lock);
    if (answered)
        MHD_resume_connection(r->conn); /* we are its thread: it is ours to resume */
}

/* ---- streams ---- */

void server_stream_link(rk_http_server_t *s, rk_http_stream_t *st)
{
    pthread_mutex_lock(&s->lock);
    st->next = s->streams;
    if (s->streams)
        s->streams->prev = st;
    s->streams = st;
    bool stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    if (stopping)
        stream_stop(st);
}

void server_stream_unlink(rk_http_server_t *s, rk_http_stream_t *st)
{
    pthread_mutex_lock(&s->lock);
    if (st->prev)
        st->prev->next = st->next;
    else if (s->streams == st)
        s->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->prev = st->next = NULL;
    pthread_mutex_unlock(&s->lock);
}

/* ---- per request ---- */

static bool token_ok(const char *hdr, const char *token)
{
    if (!hdr || strncasecmp(hdr, "Bearer ", 7) != 0)
        return false;
    const char *got = hdr + 7;
    size_t gl = strlen(got), tl = strlen(token);
    /* Time depends on the token's length only, never on where they differ. */
    unsigned char diff = gl != tl;
    for (size_t i = 0; i < tl; i++)
        diff |= (unsigned char)token[i] ^ (unsigned char)(i < gl ? got[i] : 0);
    return diff == 0;
}

/* What the Authorization header allows for method: 0 (go on), 401 (no
 * valid token) or 403 (the read-only token asking to change something). */
static int auth_check(rk_http_server_t *s, const char *hdr, const char *method)
{
    if (!s->has_token)
        return 0;
    int code = 401;
    pthread_mutex_lock(&s->tok_lock);
    if (token_ok(hdr, s->token))
        code = 0;
    else if (s->read_token && token_ok(hdr, s->read_token))
        code = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ? 0 : 403;
    pthread_mutex_unlock(&s->tok_lock);
    return code;
}

static void wipe_free(char *p)
{
    if (p)
        explicit_bzero(p, strlen(p));
    free(p);
}

int rk_http_server_set_tokens(rk_http_server_t *s, const char *token, const char *read_token)
{
    bool has = token && *token, has_read = read_token && *read_token;
    if (!has || !s->has_token || (has_read && strcmp(token, read_token) == 0))
        return RK_EINVAL;
    char *t = strdup(token), *rt = has_read ? strdup(read_token) : NULL;
    if (!t || (has_read && !rt)) {
        wipe_free(t);
        wipe_free(rt);
        return RK_ENOMEM;
    }
    pthread_mutex_lock(&s->tok_lock);
    char *old = s->token, *old_read = s->read_token;
    s->token = t;
    s->read_token = rt;
    pthread_mutex_unlock(&s->tok_lock);
    wipe_free(old);
    wipe_free(old_read);
    return 0;
}

static bool under_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return n && strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void remote_addr(struct MHD_Connection *conn, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, size, "-");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)size);
}

/* Queues resp (cleaned up afterwards) with the headers every answer gets. */
static enum MHD_Result answer(rk_http_req_t *r, rk_http_resp_t *resp)
{
    if (resp->kind == RESP_NONE)
        rk_http_resp_error(resp, 500, "handler produced no response");
    if (r->cors_origin) {
        rk_http_resp_header(resp, "Access-Control-Allow-Origin", r->cors_origin);
        rk_http_resp_header(resp, "Vary", "Origin");
    }
    pthread_mutex_lock(&r->srv->lock);
    bool stopping = r->srv->stopping;
    pthread_mutex_unlock(&r->srv->lock);
    if (stopping)
        rk_http_resp_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = resp->status;
    struct MHD_Response *mr = resp_to_mhd(resp, r->conn, &r->bytes_out, r->srv);
    resp_cleanup(resp);
    if (!mr)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* Decisions made from the headers alone, before any body is read. Returns
 * true when resp holds the answer. */
static bool precheck(rk_http_req_t *r, rk_http_resp_t *resp)
{
    rk_http_server_t *s = r->srv;
    const char *origin = rk_http_req_header(r, "Origin");
    for (size_t i = 0; origin && i < s->cfg.n_cors_origins; i++)
        if (s->origins[i] && strcmp(s->origins[i], origin) == 0)
            r->cors_origin = s->origins[i];

    /* The raw target is read before anything else: no route, and no
     * handler, ever sees a path or query value cut at an encoded NUL. */
    rk_route_result_t rr = rk_router_match(s->router, r->method, r->path, &r->match);
    if (rr == RK_ROUTE_BAD_PATH) {
        rk_http_resp_errorf(resp, 400, "bad request path: %s", r->match.why);
        return true;
    }
    if (r->query) {
        char name[64];
        rk_url_err_t qerr = rk_url_query_check(r->query, name, sizeof name);
        if (qerr != RK_URL_OK) {
            rk_http_resp_errorf(resp, 422, "query parameter '%s': %s", name, rk_url_strerror(qerr));
            return true;
        }
    }
    /* A preflight from an allowed origin is answered on any path, known or
     * not, so the browser goes on to send the request and can read the real
     * answer (a 404 included) instead of a CORS failure. */
    if (rr == RK_ROUTE_NO_PATH && r->cors_origin && strcmp(r->method, "OPTIONS") == 0) {
        rk_http_resp_bytes(resp, 204, "text/plain", "", 0);
        rk_http_resp_header(resp, "Access-Control-Allow-Methods",
                            "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        rk_http_resp_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        rk_http_resp_header(resp, "Access-Control-Max-Age", "600");
        return true;
    }
    /* What no route takes goes to the fallback, through the same checks. */
    bool fallback = s->fallback && (rr == RK_ROUTE_NO_PATH || rr == RK_ROUTE_NO_METHOD) &&
                    strcmp(r->method, "OPTIONS") != 0;
    if (rr == RK_ROUTE_NO_PATH && !fallback) {
        if (under_prefix(r->path, s->prefix) &&
            auth_check(s, rk_http_req_header(r, "Authorization"), r->method) == 401)
            goto unauthorized; /* don't reveal which protected paths exist */
        rk_http_resp_error(resp, 404, "Not Found");
        return true;
    }
    /* Preflights carry no credentials, so they are answered before auth. */
    if (rr == RK_ROUTE_NO_METHOD && strcmp(r->method, "OPTIONS") == 0) {
        rk_http_resp_bytes(resp, 204, "text/plain", "", 0);
        rk_http_resp_header(resp, "Allow", r->match.allow);
        if (r->cors_origin) {
            rk_http_resp_header(resp, "Access-Control-Allow-Methods", r->match.allow);
            rk_http_resp_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type");
            rk_http_resp_header(resp, "Access-Control-Max-Age", "600");
        }
        return true;
    }
    if (under_prefix(r->path, s->prefix)) {
        int code = auth_check(s, rk_http_req_header(r, "Authorization"), r->method);
        if (code == 401)
            goto unauthorized;
        if (code == 403) {
            rk_http_resp_errorf(resp, 403, "the read-only token may only GET or HEAD, not %s",
                                r->method);
            return true;
        }
    }
    if (rr == RK_ROUTE_NO_METHOD && !fallback) {
        rk_http_resp_error(resp, 405, "Method Not Allowed");
        rk_http_resp_header(resp, "Allow", r->match.allow);
        return true;
    }
    if (rr == RK_ROUTE_BAD_PARAM) {
        rk_http_resp_errorf(resp, 400, "path parameter %s: expected %s",
                            r->match.names[r->match.bad],
                            s->cfg.param_rule ? s->cfg.param_rule : "a valid value");
        return true;
    }
    r->target = fallback ? s->fallback : r->match.target;
    const char *cl = rk_http_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && *end == '\0' && n > s->cfg.max_body) {
            rk_http_resp_errorf(resp, 413, "request body over %zu bytes", s->cfg.max_body);
            return true;
        }
    }
    return false;
unauthorized:
    rk_http_resp_error(resp, 401, "missing or invalid token");
    rk_http_resp_header(resp, "WWW-Authenticate", "Bearer");
    return true;
}

/* Called by libmicrohttpd with the request target exactly as it came on the
 * request line, before it decodes anything in place; what it returns is the
 * request's context. NULL (out of memory) makes on_request try again. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    rk_http_server_t *s = cls;
    rk_http_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t plen = strcspn(uri, "?");
    r->path = strndup(uri, plen);
    r->query = uri[plen] ? strdup(uri + plen + 1) : NULL;
    if (!r->path || (uri[plen] && !r->query)) {
        free(r->path);
        free(r->query);
        free(r);
        return NULL;
    }
    r->srv = s;
    r->conn = conn;
    r->t0 = rk_time_mono_us();
    rk_buf_init(&r->body, s->cfg.max_body);
    remote_addr(conn, r->remote, sizeof r->remote);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    rk_http_server_t *s = cls;
    rk_http_req_t *r = *con_cls;
    rk_http_resp_t resp;
    resp_init(&resp);
    (void)url; /* decoded in place, so cut at any NUL: on_uri kept the raw one */
    if (!r)
        return MHD_NO; /* on_uri had no memory */
    if (!r->begun) {
        r->begun = true;
        snprintf(r->method, sizeof r->method, "%s", method);
        pthread_mutex_lock(&s->lock);
        s->active++;
        bool stopping = s->stopping;
        pthread_mutex_unlock(&s->lock);
        if (stopping) { /* accepted while the server drains: no new work */
            rk_http_resp_error(&resp, 503, "server shutting down");
            return answer(r, &resp);
        }
        if (precheck(r, &resp))
            return answer(r, &resp);
        return MHD_YES;
    }
    if (r->wait) { /* resumed: the answer is in the wait */
        pthread_mutex_lock(&s->lock);
        bool answered = r->wait->state == WAIT_ANSWERED;
        rk_http_resp_t *wr = answered ? r->wait->resp : NULL;
        if (answered)
            r->wait->resp = NULL;
        pthread_mutex_unlock(&s->lock);
        if (!answered) {
            wait_park(r);
            return MHD_YES;
        }
        /* No response object (ENOMEM at the answerer) is answered 500. */
        enum MHD_Result ret = answer(r, wr ? wr : &resp);
        rk_http_resp_free(wr);
        return ret;
    }
    if (*upload_size) {
        if (!r->too_big && rk_buf_add(&r->body, upload_data, *upload_size) != 0) {
            r->too_big = true;
            rk_buf_cleanup(&r->body);
        }
        if (r->too_big) {
            r->discarded += *upload_size;
            if (r->discarded / DISCARD_FACTOR > s->cfg.max_body)
                return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big) {
        rk_http_resp_errorf(&resp, 413, "request body over %zu bytes", s->cfg.max_body);
        return answer(r, &resp);
    }
    r->target->fn(r, &resp, r->target->userdata);
    if (r->wait) {
        resp_cleanup(&resp);
        wait_park(r);
        return MHD_YES;
    }
    return answer(r, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    rk_http_server_t *s = cls;
    rk_http_req_t *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (!r->begun) { /* libmicrohttpd answered it alone (a malformed request) */
        rk_buf_cleanup(&r->body);
        free(r->path);
        free(r->query);
        free(r);
        return;
    }
    char status[16], ms[32], bytes[32];
    snprintf(status, sizeof status, "%d", r->status);
    snprintf(ms, sizeof ms, "%.3f", (double)(rk_time_mono_us() - r->t0) / 1000.0);
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)r->bytes_out);
    for (char *p = r->path; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?'; /* a decoded %0A must not forge log lines */
    if (s->m_requests) {
        /* Bounded labels: the registered pattern, never the raw path, and
         * a method outside the usual ones as "other". */
        static const char *const known[] = {"GET",    "POST", "PUT",    "PATCH",
                                            "DELETE", "HEAD", "OPTIONS"};
        const char *method = "other";
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            if (!strcmp(r->method, known[i]))
                method = known[i];
        const char *route = r->target ? r->target->pattern : "unmatched";
        rk_prom_add(s->m_requests, (const char *const[]){route, method, status}, 1);
        rk_prom_observe(s->m_seconds, (const char *const[]){route, method},
                        (double)(rk_time_mono_us() - r->t0) / 1e6);
    }
    /* Access lines are debug (a health check every 5 s must not flood the
     * terminal); a 5xx or a connection lost mid-answer is worth an info. */
    bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    rk_log(ok && r->status < 500 ? RK_LOG_DEBUG : RK_LOG_INFO, "http request", "server", s->name,
           "method", r->method, "path", r->path, "status", status, "ms", ms, "remote", r->remote,
           "bytes", bytes,
           /* a NULL key ends the list: the error field only when there is one */
           ok ? NULL : "error", "connection closed early", (const char *)NULL);
    if (r->wait)
        wait_put(r->wait);
    rk_buf_cleanup(&r->body);
    free(r->path);
    free(r->query);
    free(r);
    pthread_mutex_lock(&s->lock);
    if (--s->active == 0)
        pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    rk_http_server_t *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    rk_log_warn("libmicrohttpd", "server", s->name, "detail", msg);
}

/* ---- start / stop ---- */

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, bool *v6)
{
    char h[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof h) {
        memcpy(h, host + 1, n - 2); /* "[::1]" */
        h[n - 2] = '\0';
    } else {
        snprintf(h, sizeof h, "%s", host);
    }
    if (strcasecmp(h, "localhost") == 0)
        snprintf(h, sizeof h, "127.0.0.1");
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", port);
    if (getaddrinfo(h, ps, &hints, &ai) != 0 || !ai)
        return RK_EINVAL;
    memset(ss, 0, sizeof *ss);
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return 0;
}

int rk_http_server_start(rk_http_server_t *s)
{
    struct sockaddr_storage ss;
    bool v6 = false;
    int err = 0;
    pthread_mutex_lock(&s->stop_lock);
    if (s->daemon || s->stopping) {
        err = RK_ESTATE;
        goto out;
    }
    if (resolve(s->host, s->cfg.port, &ss, &v6) != 0) {
        rk_log_error("cannot resolve listen address", "server", s->name, "host", s->host);
        err = RK_EINVAL;
        goto out;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) |
                     (s->tls ? MHD_USE_TLS : 0);
    /* The pair is picked per handshake (tls.c), so a reload needs no restart. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)rk_tls_pick},
        {MHD_OPTION_END, 0, NULL},
    };
    if (s->tls)
        rk_tls_register(s, true);
    struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};
    s->daemon =
        MHD_start_daemon(flags, s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                         on_mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                         MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads, MHD_OPTION_CONNECTION_LIMIT,
                         s->cfg.max_conns, MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.conn_timeout_s,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_URI_LOG_CALLBACK,
                         on_uri, s, MHD_OPTION_ARRAY, s->tls ? tls_opts : no_opts, MHD_OPTION_END);
    if (!s->daemon) {
        if (s->tls)
            rk_tls_register(s, false);
        rk_log_error(s->tls ? "cannot start HTTPS server (is the port free?)"
                            : "cannot start HTTP server",
                     "server", s->name, "host", s->host);
        err = RK_EIO;
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->cfg.port;
    char port[8];
    snprintf(port, sizeof port, "%u", s->port);
    rk_log_info("listening", "server", s->name, "host", s->host, "port", port, "scheme",
                s->tls ? "https" : "http", "auth",
                !s->has_token   ? "none"
                : s->read_token ? "token+read-token"
                                : "token");
out:
    pthread_mutex_unlock(&s->stop_lock);
    return err;
}

uint16_t rk_http_server_port(const rk_http_server_t *s)
{
    return s->daemon ? s->port : 0;
}

/* Answers every waiting request and ends every stream. */
static void drain_waiters(rk_http_server_t *s)
{
    pthread_mutex_lock(&s->lock);
    rk_http_wait_t *claimed = NULL;
    for (rk_http_wait_t *w = s->waits, *next; w; w = next) {
        next = w->next;
        w->state = WAIT_CLAIMED; /* a finish racing us now gets RK_ESTATE */
        atomic_fetch_add(&w->refs, 1);
        w->prev = NULL;
        w->next = claimed;
        claimed = w;
    }
    s->waits = NULL;
    size_t nst = 0;
    for (rk_http_stream_t *st = s->streams; st; st = st->next)
        nst++;
    rk_http_stream_t **sts = nst ? calloc(nst, sizeof *sts) : NULL;
    size_t k = 0;
    for (rk_http_stream_t *st = s->streams; sts && st; st = st->next) {
        stream_get(st);
        sts[k++] = st;
    }
    pthread_mutex_unlock(&s->lock);

    while (claimed) {
        rk_http_wait_t *w = claimed;
        claimed = w->next;
        w->next = NULL;
        rk_http_resp_t *resp = NULL;
        if (rk_http_resp_new(&resp) == 0) {
            if (w->on_stop)
                w->on_stop(resp, w->ctx);
            if (resp->kind == RESP_NONE)
                rk_http_resp_error(resp, 503, "server shutting down");
        }
        pthread_mutex_lock(&s->lock);
        wait_answer_locked(s, w, resp); /* NULL resp: answered 500 */
        pthread_mutex_unlock(&s->lock);
        wait_put(w);
    }
    for (size_t i = 0; i < k; i++) {
        stream_stop(sts[i]);
        rk_http_stream_release(sts[i]);
    }
    free(sts);
}

void rk_http_server_stop(rk_http_server_t *s)
{
    pthread_mutex_lock(&s->stop_lock);
    if (!s->daemon) {
        pthread_mutex_unlock(&s->stop_lock);
        return;
    }
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_mutex_unlock(&s->lock);
    /* No MHD_quiesce_daemon: on an epoll daemon with worker threads it
     * races the workers' own removal of the listen socket from their epoll
     * sets and can abort the process ("Failed to remove listen FD from
     * epoll set", a libmicrohttpd defect seen in CI). A request accepted
     * from here on is answered 503 "server shutting down" (on_request). */
    drain_waiters(s);

    struct timespec deadline =
        rk_deadline_timespec(rk_deadline_in_us(s->cfg.stop_timeout_ms * INT64_C(1000)));
    pthread_mutex_lock(&s->lock);
    bool timed_out = false;
    while (s->resuming > 0 || (s->active > 0 && !timed_out))
        timed_out = pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT;
    size_t left = s->active;
    pthread_mutex_unlock(&s->lock);
    if (left) {
        char n[32];
        snprintf(n, sizeof n, "%zu", left);
        rk_log_warn("stopping with requests still in flight", "server", s->name, "requests", n);
    }
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    rk_log_info("stopped", "server", s->name);
    pthread_mutex_unlock(&s->stop_lock);
}

void rk_http_server_free(rk_http_server_t *s)
{
    if (!s)
        return;
    rk_http_server_stop(s);
    rk_router_free(s->router);
    for (target_t *t = s->targets, *next; t; t = next) {
        next = t->next;
        free(t->pattern);
        free(t);
    }
    for (size_t i = 0; s->origins && i < s->cfg.n_cors_origins; i++)
        free(s->origins[i]);
    free(s->origins);
    free(s->host);
    wipe_free(s->token);
    wipe_free(s->read_token);
    if (s->tls)
        rk_tls_register(s, false);
    rk_tls_creds_free(s->tls);
    free(s->prefix);
    free(s->name);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->stop_lock);
    pthread_mutex_destroy(&s->tok_lock);
    free(s);
}

/* ---- GET /metrics ---- */

static void h_metrics(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_http_server_t *s = ud;
    if (auth_check(s, rk_http_req_header(req, "Authorization"), "GET") != 0) {
        rk_http_resp_error(resp, 401, "missing or invalid token");
        rk_http_resp_header(resp, "WWW-Authenticate", "Bearer");
        return;
    }
    rk_buf_t b;
    rk_buf_init(&b, 64u << 20);
    if (rk_prom_render(s->cfg.metrics, &b) != 0) {
        rk_http_resp_error(resp, 500, "metrics could not be rendered");
    } else {
        rk_http_resp_bytes(resp, 200, RK_PROM_CONTENT_TYPE, b.data ? b.data : "", b.len);
    }
    rk_buf_cleanup(&b);
}

int rk_http_server_metrics_route(rk_http_server_t *s, const char *path)
{
    if (!s->cfg.metrics)
        return RK_EINVAL;
    return rk_http_server_route(s, "GET", path, h_metrics, s);
}
