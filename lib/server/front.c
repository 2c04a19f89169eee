/* A standby's front: what a server that stands by (standby.c) answers.
 *
 * Several servers on one PostgreSQL sit behind one load balancer, and
 * only one of them dispatches: its manager holds every unfinished job in
 * memory, so every request about jobs, agents or experiments must reach
 * it. A standby therefore listens too and forwards each API request to
 * the dispatcher, whose URL the dispatcher wrote into the store when it
 * began to listen (srv__publish_dispatcher; --advertise-url). Any server
 * answers any request; only the dispatcher does the work.
 *
 * Forwarding is one libcurl multi client on one thread (http/client.h),
 * the request suspended meanwhile, so a long poll holds no worker. The
 * answer comes back as it was (status, body, headers but the hop-by-hop
 * ones). A dispatcher that cannot be reached (killed, its standby not yet
 * listening in its place) is a 503 with Retry-After: the client tries
 * again, as it does for any 503 of ours. What the standby answers itself:
 * /health (role "standby" and the dispatcher's URL), /metrics (its own
 * HTTP counters), the dashboard's files, and GET /api/v1/events from
 * the server's own bus, which relay.c feeds with the dispatcher's events.
 *
 * The front lives from the first refused dispatch lock until the server
 * it belongs to listens itself (rk_server_start): through the takeover's
 * recovery it still answers, 503 for what it cannot reach.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"
#include "http/client.h"
#include "server/internal.h"
#include "server/webui.h"

/* A forwarded answer may be this big (logs, artifacts). */
#define FWD_BODY_MAX (64u * 1024u * 1024u)
/* Longest a forwarded request may take: over every long poll's wait. */
#define FWD_TIMEOUT_MS (10 * 60 * 1000)
#define FWD_CONNECT_MS 2000

struct srv_front {
    rk_http_server_t *http;
    rk_http_client_t *client;
    rk_store_t *store;  /* borrowed: the server's */
    srv_relay_t *relay; /* the dispatcher's events into the server's bus */
    pthread_t thread;
    bool thread_up;
    _Atomic bool stop;
    pthread_mutex_t lock;
    char *dispatcher;     /* its URL, or NULL while none is known; under lock */
    struct fwd *inflight; /* owner thread only */
};

typedef struct fwd {
    srv_front_t *f;
    rk_http_wait_t *wait;
    char *method, *url, *ctype, *auth, *body;
    size_t body_len;
    rk_http_handle_t *h;
    struct fwd *prev, *next;
} fwd_t;

static void fwd_free(fwd_t *fw)
{
    free(fw->method);
    free(fw->url);
    free(fw->ctype);
    if (fw->auth)
        memset(fw->auth, 0, strlen(fw->auth));
    free(fw->auth);
    free(fw->body);
    free(fw);
}

static void fwd_unlink(fwd_t *fw)
{
    srv_front_t *f = fw->f;
    if (fw->prev)
        fw->prev->next = fw->next;
    else if (f->inflight == fw)
        f->inflight = fw->next;
    if (fw->next)
        fw->next->prev = fw->prev;
    fw->prev = fw->next = NULL;
}

/* Answers fw's client with an error of ours (with Retry-After) and frees
 * fw. */
static void fwd_fail(fwd_t *fw, int status, const char *detail)
{
    rk_http_resp_t *r = NULL;
    if (rk_http_resp_new(&r) == 0) {
        rk_http_resp_error(r, status, detail);
        rk_http_resp_header(r, "Retry-After", "1");
        rk_http_wait_finish(fw->wait, r);
    } else {
        rk_http_wait_release(fw->wait);
    }
    fwd_free(fw);
}

/* Hop-by-hop headers, and those libmicrohttpd sets itself. */
static bool hop_header(const char *name, size_t n)
{
    static const char *const skip[] = {
        "connection", "keep-alive", "transfer-encoding",  "content-length", "date", "te",
        "trailer",    "upgrade",    "proxy-authenticate", "content-type",   NULL};
    for (size_t i = 0; skip[i]; i++)
        if (strlen(skip[i]) == n && strncasecmp(skip[i], name, n) == 0)
            return true;
    return false;
}

int srv__front_copy_headers(rk_http_resp_t *r, const char *lines)
{
    int kept = 0;
    for (const char *p = lines; p && *p && kept < FRONT_HEADERS_MAX;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon && colon > p && !hop_header(p, (size_t)(colon - p))) {
            char name[128], value[1024];
            const char *v = colon + 1;
            while (v < p + len && *v == ' ')
                v++;
            size_t vlen = (size_t)(p + len - v);
            if (vlen && v[vlen - 1] == '\r')
                vlen--;
            snprintf(name, sizeof name, "%.*s", (int)(colon - p), p);
            snprintf(value, sizeof value, "%.*s", (int)vlen, v);
            if (rk_http_resp_header(r, name, value) == 0)
                kept++;
        }
        p = eol ? eol + 1 : NULL;
    }
    return kept;
}

static void fwd_done(const rk_http_response_t *resp, void *ud)
{
    fwd_t *fw = ud;
    fwd_unlink(fw);
    if (resp->err) {
        char detail[768];
        snprintf(detail, sizeof detail,
                 "this server stands by and forwards to the dispatcher, which did not answer "
                 "(%s); try again",
                 resp->msg);
        fwd_fail(fw, resp->err == RK_ETIMEDOUT ? 504 : resp->err == RK_ETOOBIG ? 502 : 503, detail);
        return;
    }
    rk_http_resp_t *r = NULL;
    if (rk_http_resp_new(&r) != 0) {
        rk_http_wait_release(fw->wait);
        fwd_free(fw);
        return;
    }
    const char *lines = rk_buf_str((rk_buf_t *)&resp->headers);
    char ctype[256];
    bool typed = rk_http_response_header(resp, "Content-Type", ctype, sizeof ctype);
    rk_http_resp_bytes(r, (int)resp->status, typed ? ctype : "application/octet-stream",
                       rk_buf_str((rk_buf_t *)&resp->body), resp->body.len);
    srv__front_copy_headers(r, lines);
    rk_http_resp_header(r, "Via", "1.1 ruckus-standby");
    rk_http_wait_finish(fw->wait, r);
    fwd_free(fw);
}

/* Owner thread: sends fw on. */
static void fwd_start(void *ud)
{
    fwd_t *fw = ud;
    srv_front_t *f = fw->f;
    if (atomic_load(&f->stop)) {
        rk_http_wait_release(fw->wait);
        fwd_free(fw);
        return;
    }
    char auth[4200];
    const char *headers[2] = {NULL, NULL};
    if (fw->auth) {
        snprintf(auth, sizeof auth, "Authorization: %s", fw->auth);
        headers[0] = auth;
    }
    rk_http_request_t rq = {.method = fw->method,
                            .url = fw->url,
                            .body = fw->body_len ? fw->body : NULL,
                            .body_len = fw->body_len,
                            .content_type = fw->ctype,
                            .headers = headers,
                            .connect_timeout_ms = FWD_CONNECT_MS,
                            .timeout_ms = FWD_TIMEOUT_MS,
                            .max_body = FWD_BODY_MAX,
                            .keep_headers = ""};
    int rc = rk_http_client_submit(f->client, &rq, fwd_done, fw, &fw->h);
    memset(auth, 0, sizeof auth);
    if (rc) {
        fwd_fail(fw, rc == RK_EINVAL ? 400 : 503,
                 rc == RK_EINVAL ? "this request cannot be forwarded to the dispatcher"
                                 : "out of memory; try again");
        return;
    }
    fw->next = f->inflight;
    if (f->inflight)
        f->inflight->prev = fw;
    f->inflight = fw;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Every request no route of the front takes. */
static void h_forward(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    srv_front_t *f = ud;
    pthread_mutex_lock(&f->lock);
    char *base = f->dispatcher ? strdup(f->dispatcher) : NULL;
    pthread_mutex_unlock(&f->lock);
    if (!base) {
        rk_http_resp_error(resp, 503,
                           "this server stands by and no dispatcher has said where it listens "
                           "yet; try again");
        rk_http_resp_header(resp, "Retry-After", "1");
        return;
    }
    fwd_t *fw = calloc(1, sizeof *fw);
    const char *path = rk_http_req_path(req), *q = rk_http_req_query_string(req);
    size_t blen = 0;
    const char *body = rk_http_req_body(req, &blen);
    const char *ct = rk_http_req_header(req, "Content-Type");
    const char *auth = rk_http_req_header(req, "Authorization");
    size_t ulen = strlen(base) + strlen(path) + (q ? strlen(q) + 1 : 0) + 1;
    bool ok = fw && (fw->method = strdup(rk_http_req_method(req))) && (fw->url = malloc(ulen)) &&
              (!ct || (fw->ctype = strdup(ct))) && (!auth || (fw->auth = strdup(auth))) &&
              (!blen || (fw->body = dup_n(body, blen)));
    if (ok) {
        snprintf(fw->url, ulen, "%s%s%s%s", base, path, q ? "?" : "", q ? q : "");
        fw->body_len = blen;
        fw->f = f;
    }
    free(base);
    if (!ok) {
        if (fw)
            fwd_free(fw);
        rk_http_resp_error(resp, 503, "out of memory; try again");
        return;
    }
    if (rk_http_req_suspend(req, NULL, NULL, &fw->wait) != 0) {
        fwd_free(fw);
        rk_http_resp_error(resp, 503, "server shutting down");
        return;
    }
    if (rk_http_client_post_task(f->client, fwd_start, fw) != 0) {
        rk_http_wait_release(fw->wait); /* answered 503 */
        fwd_free(fw);
    }
}

static void h_health(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    srv_front_t *f = ud;
    pthread_mutex_lock(&f->lock);
    json_t *v = json_pack("{s:s,s:s,s:s,s:s?}", "status", "ok", "version", RK_VERSION, "role",
                          "standby", "dispatcher", f->dispatcher);
    pthread_mutex_unlock(&f->lock);
    rk_http_resp_json_take(resp, 200, v);
}

static void *front_loop(void *arg)
{
    srv_front_t *f = arg;
    while (!atomic_load(&f->stop))
        if (rk_http_client_run_once(f->client, 1000) < 0)
            break;
    return NULL;
}

void srv__front_refresh(srv_front_t *f)
{
    char *text = NULL;
    if (!f || rk_store_doc_get(f->store, RK_SRV_DISPATCHER_DOC, RK_SRV_DISPATCHER_KEY, &text))
        return; /* none yet, or unreadable now: keep what we knew */
    json_t *v = json_loads(text, 0, NULL);
    free(text);
    const char *url = json_string_value(json_object_get(v, "url"));
    char *copy = url && *url ? strdup(url) : NULL;
    json_decref(v);
    if (!copy)
        return;
    /* A trailing slash would double the paths' first one. */
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    pthread_mutex_lock(&f->lock);
    bool changed = !f->dispatcher || strcmp(f->dispatcher, copy) != 0;
    free(f->dispatcher);
    f->dispatcher = copy;
    pthread_mutex_unlock(&f->lock);
    if (changed)
        rk_log_info("standby: forwarding API requests to the dispatcher", "url", copy);
}

int srv__front_new(const rk_http_config_t *hc, rk_server_t *srv, srv_front_t **out)
{
    *out = NULL;
    srv_front_t *f = calloc(1, sizeof *f);
    if (!f)
        return RK_ENOMEM;
    pthread_mutex_init(&f->lock, NULL);
    f->store = srv->store;
    rk_http_config_t c = *hc;
    c.name = "standby";
    int rc = rk_http_client_new(NULL, &f->client);
    if (!rc)
        rc = rk_http_server_new(&c, &f->http);
    if (!rc)
        rc = rk_http_server_route(f->http, "GET", "/health", h_health, f);
    if (!rc)
        rc = rk_http_server_route(f->http, "GET", "/api/v1/health", h_health, f);
    if (!rc)
        rc = rk_http_server_route(f->http, "GET", "/api/v1/events", rk_srv_h_events, srv);
    if (!rc && srv->pg_url)
        rc = srv__relay_in_new(srv->pg_url, srv->events, &f->relay);
    if (!rc && c.metrics)
        rc = rk_http_server_metrics_route(f->http, "/metrics");
    if (!rc && rk_webui_register(f->http) != 0)
        rk_log_debug("standby: web UI not served: its files are missing from this build");
    if (!rc)
        rc = rk_http_server_fallback(f->http, h_forward, f);
    srv__front_refresh(f);
    if (!rc) {
        rc = pthread_create(&f->thread, NULL, front_loop, f) == 0 ? 0 : RK_ENOMEM;
        f->thread_up = rc == 0;
    }
    if (!rc)
        rc = rk_http_server_start(f->http);
    if (rc) {
        srv__front_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

rk_http_server_t *srv__front_http(srv_front_t *f)
{
    return f->http;
}

void srv__front_free(srv_front_t *f)
{
    if (!f)
        return;
    /* Stop answering first: every request still waiting is answered 503
     * (the client tries again, by then at the server taking over). */
    if (f->http)
        rk_http_server_stop(f->http);
    srv__relay_free(f->relay);
    atomic_store(&f->stop, true);
    if (f->thread_up) {
        rk_http_client_wakeup(f->client);
        pthread_join(f->thread, NULL);
    }
    /* The client drops what is in flight without callbacks: ours to free. */
    rk_http_client_free(f->client);
    for (fwd_t *fw = f->inflight, *next; fw; fw = next) {
        next = fw->next;
        rk_http_wait_release(fw->wait);
        fwd_free(fw);
    }
    rk_http_server_free(f->http);
    free(f->dispatcher);
    pthread_mutex_destroy(&f->lock);
    free(f);
}
