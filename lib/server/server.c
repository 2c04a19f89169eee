/* rk_server_t: opens the store, wires the routes, owns the job manager and
 * the event bus, and stops them in the right order (HTTP first, so every
 * waiting request is answered; then the manager; storage last).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/lockfile.h"
#include "base/log.h"
#include "base/tokenfile.h"
#include "server/internal.h"
#include "server/mgr.h"
#include "server/openapi.h"
#include "server/webhooks.h"
#include "server/webui.h"

#define EVENT_RING 4096

/* ---- helpers shared by the route files ---- */

/* The one place a store error becomes an answer. What the client named is
 * missing (404), clashes (409) or is refused (422); anything else is the
 * storage failing, which nothing the client sent caused: 503 with the
 * reason, nothing done, try again (docs/architecture.md, "When a commit
 * fails"). */
void rk_srv_store_errorf(rk_http_resp_t *resp, int rc, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    switch (rc) {
    case RK_ENOENT:
        rk_http_resp_errorf(resp, 404, "%s not found", what);
        break;
    case RK_EEXIST:
        rk_http_resp_errorf(resp, 409, "%s already exists", what);
        break;
    case RK_ESTATE:
        rk_http_resp_errorf(resp, 409, "%s: refused in its current state", what);
        break;
    case RK_EINVAL:
        rk_http_resp_errorf(resp, 422, "%s: invalid", what);
        break;
    default:
        rk_http_resp_errorf(resp, 503, "%s: storage failed (%s); nothing was changed, try again",
                            what, rk_strerror(rc));
    }
}

void rk_srv_store_error(rk_http_resp_t *resp, int rc, const char *what)
{
    rk_srv_store_errorf(resp, rc, "%s", what);
}

char *rk_srv_agent_token(rk_server_t *srv, const rk_registered_agent_t *a)
{
    char *text = NULL, *token = NULL;
    if (rk_store_doc_get(srv->store, RK_SRV_TOKEN_DOC, a->info.agent_id, &text) == 0) {
        json_t *v = json_loads(text, 0, NULL);
        const char *t = json_string_value(json_object_get(v, "token"));
        token = t && *t ? strdup(t) : NULL;
        json_decref(v);
        if (text)
            memset(text, 0, strlen(text));
        free(text);
        return token;
    }
    /* A database written before the token had its own record. */
    const char *t = json_string_value(json_object_get(a->info.extra, RK_SRV_TOKEN_KEY));
    return t && *t ? strdup(t) : NULL;
}

int rk_srv_agent_token_put(rk_store_t *store, const char *agent_id, const char *token)
{
    if (!token || !*token) {
        int rc = rk_store_doc_delete(store, RK_SRV_TOKEN_DOC, agent_id);
        return rc == RK_ENOENT ? 0 : rc;
    }
    json_t *v = json_pack("{s:s}", "token", token);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    int rc = text ? rk_store_doc_put(store, RK_SRV_TOKEN_DOC, agent_id, text) : RK_ENOMEM;
    if (text)
        memset(text, 0, strlen(text));
    free(text);
    return rc;
}

json_t *rk_srv_agent_public(rk_store_t *store, const rk_registered_agent_t *a)
{
    json_t *v = rk_registered_agent_encode(a);
    if (!v)
        return NULL;
    json_object_del(v, RK_SRV_TOKEN_KEY);
    rk_srv_sched_t sched = RK_SRV_SCHED_ENABLED;
    rk_srv_sched_read(store, a->info.agent_id, &sched, NULL); /* unreadable: enabled */
    json_object_set_new(v, "scheduling", json_string(rk_srv_sched_names[sched]));
    return v;
}

int rk_srv_page_parse(rk_http_req_t *req, rk_http_resp_t *resp, size_t def, size_t max,
                      rk_page_t *page)
{
    memset(page, 0, sizeof *page);
    page->limit = def;
    const char *l = rk_http_req_query(req, "limit");
    const char *c = rk_http_req_query(req, "cursor");
    char *end;
    if (l) {
        errno = 0;
        long long v = strtoll(l, &end, 10);
        if (errno || *end || end == l || v < 1 || (unsigned long long)v > max) {
            rk_http_resp_errorf(resp, 422, "limit: expected an integer from 1 to %zu", max);
            return RK_EINVAL;
        }
        page->limit = (size_t)v;
    }
    if (c && *c) {
        errno = 0;
        long long v = strtoll(c, &end, 10);
        if (errno || *end || v < 0) {
            rk_http_resp_error(resp, 422, "cursor: expected a cursor from a previous page");
            return RK_EINVAL;
        }
        page->cursor = v;
    }
    return 0;
}

/* ---- routes of this file ---- */

static void h_health(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    json_t *v =
        json_pack("{s:s,s:s,s:s}", "status", "ok", "version", RK_VERSION, "role", "dispatcher");
    rk_http_resp_json_take(resp, 200, v);
}

static int routes(rk_server_t *srv)
{
    int rc = 0;
    rc = rc ? rc : rk_http_server_route(srv->http, "GET", "/health", h_health, srv);
    rc = rc ? rc : rk_http_server_route(srv->http, "GET", "/api/v1/health", h_health, srv);
    rc = rc ? rc : rk_http_server_route(srv->http, "GET", "/api/v1/events", rk_srv_h_events, srv);
    rc = rc ? rc
            : rk_http_server_route(srv->http, "POST", "/api/v1/agents/compatibility/check",
                                   rk_srv_h_compat, srv);
    rc = rc ? rc
            : rk_http_server_route(srv->http, "GET", "/api/v1/agents/compatibility/matrix",
                                   rk_srv_h_compat_matrix, srv);
    rc = rc ? rc : rk_srv_routes_jobs(srv);
    rc = rc ? rc : rk_srv_routes_bulk(srv);
    rc = rc ? rc : rk_srv_routes_agents(srv);
    rc = rc ? rc : rk_srv_routes_experiments(srv);
    rc = rc ? rc : rk_srv_routes_compare(srv);
    rc = rc ? rc : rk_srv_routes_baselines(srv);
    rc = rc ? rc : rk_srv_routes_retry(srv);
    rc = rc ? rc : rk_srv_routes_schedules(srv);
    rc = rc ? rc : rk_srv_routes_retention(srv);
    rc = rc ? rc : rk_http_server_metrics_route(srv->http, "/metrics");
    rc = rc ? rc : rk_srv_openapi_register(srv->http);
    /* The API does not depend on the dashboard: serve without it. */
    if (rc == 0 && rk_webui_register(srv->http) != 0)
        rk_log_warn("web UI not served: its files are missing from this build");
    return rc;
}

/* A test hook's whole number from the environment: def when unset or not
 * a positive whole number. */
static int64_t test_hook(const char *env, int64_t def)
{
    const char *v = getenv(env);
    char *end;
    errno = 0;
    long long n = v && *v ? strtoll(v, &end, 10) : 0;
    return v && *v && !*end && !errno && n > 0 ? n : def;
}

/* The webhooks of s, or none (srv->hooks NULL) when no URL is given. */
static int hooks_new(rk_server_t *srv, const rk_server_settings_t *s)
{
    if (!s->webhooks.count)
        return 0;
    char err[RK_CONFIG_ERRLEN];
    char *secret = NULL;
    int rc = rk_server_settings_webhook_secret(s, &secret, err, sizeof err);
    if (rc) {
        if (rc != RK_ENOMEM)
            rk_log_error("cannot read the webhook secret", "detail", err);
        return rc;
    }
    srv_hooks_config_t hc = {
        .urls = (const char *const *)s->webhooks.items,
        .n_urls = s->webhooks.count,
        .secret = secret,
        .queue = (size_t)test_hook("RUCKUS_TEST_WEBHOOK_QUEUE", 0),
        .give_up_s = test_hook("RUCKUS_TEST_WEBHOOK_GIVE_UP_S", 0),
    };
    rc = srv__hooks_new(srv->store, srv->metrics, &hc, &srv->hooks);
    rk_token_free(secret);
    return rc;
}

/* The database's folder is created if missing (one level), as the default
 * path datastore/ruckus.db sits in a folder of its own. */
static void make_parent(const char *path)
{
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            rk_log_warn("could not create the database folder", "path", dir, "error",
                        strerror(errno));
    }
    free(dir);
}

int rk_server_new(const rk_server_settings_t *s, rk_server_t **out)
{
    rk_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return RK_ENOMEM;
    srv->db_lock = -1;
    pthread_mutex_init(&srv->any_lock, NULL);
    int rc = RK_ENOMEM;
    if (!(srv->host = strdup(s->host)))
        goto fail;
    if ((rc = rk_srv_events_new(EVENT_RING, &srv->events)))
        goto fail;
    rc = RK_ENOMEM;
    if (!(srv->metrics = rk_prom_new()) || (rc = srv__metrics_init(srv)))
        goto fail;
    const char *backend = rk_server_storage_name(s->storage);
    if (s->storage == RK_SERVER_STORAGE_SQLITE)
        make_parent(s->db_path);
    const char *where = s->storage == RK_SERVER_STORAGE_POSTGRESQL ? s->postgres_url : s->db_path;
    rc = rk_store_open(backend, where, &srv->store);
    if (rc) {
        rk_log_error("could not open the store", "backend", backend, "path",
                     s->storage == RK_SERVER_STORAGE_POSTGRESQL ? "(postgres url)" : s->db_path,
                     "error", rk_strerror(rc));
        rc = rc == RK_ENOMEM ? rc : RK_EIO;
        goto fail;
    }
    /* One server per SQLite file: a second one would dispatch the same
     * queues (several servers share PostgreSQL instead). */
    char *file = s->storage == RK_SERVER_STORAGE_SQLITE ? rk_store_sqlite_file(s->db_path) : NULL;
    if (s->storage == RK_SERVER_STORAGE_SQLITE &&
        (rc = file ? rk_lockfile_take(file, &srv->db_lock) : RK_ENOMEM)) {
        free(file);
        rk_log_error(rc == RK_EBUSY ? "another ruckus-server is using this database file"
                                    : "could not lock the database file",
                     "path", s->db_path, "error", rk_strerror(rc));
        goto fail;
    }
    free(file);
    rk_http_config_t hc;
    rk_http_config_init(&hc);
    hc.host = s->host;
    hc.port = (uint16_t)s->port;
    hc.threads = (unsigned)s->threads;
    hc.max_body = (size_t)s->max_body;
    char terr[RK_CONFIG_ERRLEN];
    char *token = NULL, *read_token = NULL;
    if ((rc = rk_server_settings_tokens(s, &token, &read_token, terr, sizeof terr))) {
        if (rc != RK_ENOMEM)
            rk_log_error("cannot read the token", "detail", terr);
        goto fail;
    }
    hc.token = token;
    hc.read_token = read_token;
    hc.tls_cert = s->tls_cert;
    hc.tls_key = s->tls_key;
    hc.cors_origins = (const char *const *)s->cors_origins.items;
    hc.n_cors_origins = s->cors_origins.count;
    hc.name = "server";
    hc.max_conns = 1024;
    hc.param_check = rk_id_valid;
    hc.param_rule = RK_ID_RULE;
    hc.metrics = srv->metrics;
    srv->shared = s->storage == RK_SERVER_STORAGE_POSTGRESQL;
    srv->tls = s->tls_cert != NULL;
    if (s->advertise_url && *s->advertise_url && !(srv->advertise = strdup(s->advertise_url)))
        rc = RK_ENOMEM;
    if (srv->shared && !(srv->pg_url = strdup(s->postgres_url ? s->postgres_url : "")))
        rc = RK_ENOMEM;
    /* Several servers on one PostgreSQL: one dispatches, the others wait
     * here for their turn, forwarding what they are asked (standby.c). */
    if (!rc)
        rc = srv__take_dispatch(srv, s, &hc);
    /* A server that stood by (for days, maybe) listens with the token
     * files as they are now, not as they were at its start. */
    if (!rc && srv->front && (s->token_file || s->read_token_file)) {
        rk_token_free(token);
        rk_token_free(read_token);
        token = read_token = NULL;
        if ((rc = rk_server_settings_tokens(s, &token, &read_token, terr, sizeof terr)) &&
            rc != RK_ENOMEM)
            rk_log_error("cannot read the token", "detail", terr);
        hc.token = token;
        hc.read_token = read_token;
    }
    if (!rc)
        rc = rk_http_server_new(&hc, &srv->http);
    rk_token_free(token);
    rk_token_free(read_token);
    if (rc)
        goto fail;
    if ((rc = routes(srv)))
        goto fail;
    rk_srv_mgr_config_t mc = {.poll_interval_s = s->poll_interval,
                              .agent_timeout_s = s->agent_timeout,
                              .timeout_grace_s = s->timeout_grace};
    if ((rc = hooks_new(srv, s)) || (rc = rk_srv_mgr_new(srv, &mc, &srv->mgr)))
        goto fail;
    srv->mgr->hooks = srv->hooks;
    if ((rc = rk_srv_mgr_recover(srv->mgr))) {
        rk_log_error("could not rebuild the job manager from storage", "error", rk_strerror(rc));
        goto fail;
    }
    if ((rc = rk_srv_retention_new(srv, (double)s->retention_days, s->retention_period,
                                   (size_t)s->retention_batch, &srv->retention)))
        goto fail;
    *out = srv;
    return 0;
fail:
    rk_server_free(srv);
    return rc;
}

int rk_server_start(rk_server_t *srv)
{
    if (srv->started)
        return RK_ESTATE;
    /* A standby's front answered until now (its relay fed the bus); the
     * port is this server's now, and its events go out to the others. */
    srv__front_free(srv->front);
    srv->front = NULL;
    if (srv->shared) {
        int rrc = srv__relay_out_new(srv->pg_url, &srv->relay);
        if (rrc)
            return rrc;
        rk_srv_events_tap(srv->events, srv__relay_push, srv->relay);
    }
    /* The outbox is read back before the manager writes to it. */
    int rc = srv__hooks_start(srv->hooks);
    if (!rc)
        rc = rk_srv_mgr_start(srv->mgr);
    if (rc)
        return rc;
    srv->started = true;
    if ((rc = rk_srv_retention_start(srv->retention)))
        return rc;
    /* The HTTP server logs the one `listening host=H port=P` line. */
    if ((rc = rk_http_server_start(srv->http)))
        return rc;
    srv__publish_dispatcher(srv);
    return 0;
}

int rk_server_reload_tls(rk_server_t *srv, const rk_server_settings_t *s)
{
    return s->tls_cert ? rk_http_server_reload_tls(srv->http, s->tls_cert, s->tls_key) : RK_OK;
}

/* The SIGHUP of a --webhook-secret-file: the webhooks sign with its
 * content from now on; one that cannot be read keeps the old secret. */
static int reload_webhook_secret(rk_server_t *srv, const rk_server_settings_t *s)
{
    if (!srv->hooks || !s->webhook_secret_file)
        return RK_OK;
    char err[RK_CONFIG_ERRLEN];
    char *secret = NULL;
    int rc = rk_server_settings_webhook_secret(s, &secret, err, sizeof err);
    if (!rc)
        rc = srv__hooks_set_secret(srv->hooks, secret);
    rk_token_free(secret);
    if (rc)
        rk_log_warn("SIGHUP: keeping the old webhook secret", "detail",
                    err[0] ? err : rk_strerror(rc));
    else
        rk_log_info("SIGHUP: webhook secret re-read");
    return rc;
}

int rk_server_reload_tokens(rk_server_t *srv, const rk_server_settings_t *s)
{
    int hooks_rc = reload_webhook_secret(srv, s);
    if (!s->token_file && !s->read_token_file) {
        if (!srv->hooks || !s->webhook_secret_file)
            rk_log_info("SIGHUP: no token file to re-read");
        return hooks_rc;
    }
    int rc = srv__reload_tokens_on(srv->http, s);
    return rc ? rc : hooks_rc;
}

int srv__reload_tokens_on(rk_http_server_t *http, const rk_server_settings_t *s)
{
    char terr[RK_CONFIG_ERRLEN] = "";
    char *token = NULL, *read_token = NULL;
    int rc = rk_server_settings_tokens(s, &token, &read_token, terr, sizeof terr);
    if (!rc)
        rc = rk_http_server_set_tokens(http, token, read_token);
    if (rc)
        rk_log_warn("SIGHUP: keeping the old tokens", "detail", terr[0] ? terr : rk_strerror(rc));
    else
        rk_log_info("SIGHUP: tokens re-read", "read_token", read_token ? "yes" : "no");
    rk_token_free(token);
    rk_token_free(read_token);
    return rc;
}

uint16_t rk_server_port(const rk_server_t *srv)
{
    return srv->http ? rk_http_server_port(srv->http) : 0;
}

void rk_server_stop(rk_server_t *srv)
{
    if (!srv || srv->stopped)
        return;
    srv->stopped = true;
    srv__front_free(srv->front);
    srv->front = NULL;
    if (srv->http)
        rk_http_server_stop(srv->http);
    rk_srv_retention_stop(srv->retention);
    if (srv->mgr)
        rk_srv_mgr_stop(srv->mgr);
    if (srv->relay) {
        rk_srv_events_tap(srv->events, NULL, NULL);
        srv__relay_free(srv->relay);
        srv->relay = NULL;
    }
}

void rk_server_free(rk_server_t *srv)
{
    if (!srv)
        return;
    rk_server_stop(srv);
    /* The manager releases the waits it holds before the HTTP server goes. */
    rk_srv_retention_free(srv->retention);
    rk_srv_mgr_free(srv->mgr);
    rk_http_server_free(srv->http);
    srv__hooks_free(srv->hooks); /* after the manager and every scrape */
    rk_store_close(srv->store);
    rk_lockfile_release(srv->db_lock); /* after the close: SQLite is done with it */
    rk_srv_events_free(srv->events);
    rk_prom_free(srv->metrics);
    free(srv->host);
    free(srv->advertise);
    if (srv->pg_url)
        memset(srv->pg_url, 0, strlen(srv->pg_url));
    free(srv->pg_url);
    pthread_mutex_destroy(&srv->any_lock);
    free(srv);
}
