/* Routes for agents: register and unregister (through the job manager,
 * which owns the registry), list and get (from the store), and live status
 * (every agent asked at once through the manager's client, each with a
 * timeout; one that cannot be reached reads `unavailable`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/internal.h"

#define STATUS_TIMEOUT_MS 3000

static void h_register(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    char *url = NULL, *token = NULL;
    rk_verr_t e;
    if (rk_http_req_json(req, resp, &body))
        return;
    if (rk_json_get_str(body, "", "agent_url", RK_REQUIRED, RK_AGENT_URL_MAX, &url, &e) ||
        rk_json_get_str(body, "", "agent_token", RK_OPTIONAL, 4096, &token, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        goto done;
    }
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/') /* one spelling per agent */
        url[--len] = '\0';
    if (!rk_agent_url_valid(url)) {
        rk_http_resp_error(resp, 422, "agent_url: expected an http:// or https:// URL");
        goto done;
    }
    if (token && (!*token || strpbrk(token, "\r\n"))) {
        rk_http_resp_error(resp, 422, "agent_token: expected a non-empty single-line string");
        goto done;
    }
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        goto done;
    }
    if (rk_srv_mgr_register(srv->mgr, w, url, token) != 0)
        rk_http_wait_release(w);
done:
    if (token)
        memset(token, 0, strlen(token));
    free(token);
    free(url);
    json_decref(body);
}

static void h_unregister(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    char *id = NULL;
    rk_verr_t e;
    rk_registered_agent_t a = {0};
    if (rk_http_req_json(req, resp, &body))
        return;
    if (rk_json_get_id(body, "", "agent_id", RK_REQUIRED, &id, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        goto done;
    }
    int rc = rk_store_agent_get(srv->store, id, &a);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "agent %s", id);
        goto done;
    }
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        goto done;
    }
    if (rk_srv_mgr_unregister(srv->mgr, w, id) != 0)
        rk_http_wait_release(w);
done:
    rk_registered_agent_cleanup(&a);
    free(id);
    json_decref(body);
}

static void h_list(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    rk_registered_agent_t *v = NULL;
    size_t n = 0;
    int rc = rk_store_agent_list(srv->store, &v, &n);
    if (rc) {
        rk_srv_store_error(resp, rc, "agents");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, rk_srv_agent_public(srv->store, &v[i]));
    rk_store_agents_free(v, n);
    rk_http_resp_json_take(resp, 200, json_pack("{s:o}", "agents", arr));
}

static void h_get(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "agent_id");
    rk_registered_agent_t a = {0};
    int rc = rk_store_agent_get(srv->store, id, &a);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "agent %s", id);
        return;
    }
    rk_http_resp_json_take(resp, 200,
                           json_pack("{s:o}", "agent", rk_srv_agent_public(srv->store, &a)));
    rk_registered_agent_cleanup(&a);
}

/* ---- live status ---- */

typedef struct status_ctx {
    char **ids;
    size_t n;
    bool single;
} status_ctx_t;

static void status_ctx_free(void *p)
{
    status_ctx_t *c = p;
    rk_strv_free(c->ids, c->n);
    free(c);
}

static json_t *unavailable(const char *id)
{
    rk_agent_status_t st = {
        .agent_id = (char *)id, .status = RK_AGENT_UNAVAILABLE, .timestamp = rk_time_now_us()};
    return rk_agent_status_encode(&st);
}

static void status_done(rk_srv_mgr_t *m, void *ctx, rk_srv_fan_reply_t *r, size_t n,
                        rk_http_resp_t *resp)
{
    status_ctx_t *c = ctx;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *v = NULL, *out = NULL;
        rk_agent_status_t st = {0};
        if (!r[i].err && r[i].status == 200 && (v = json_loadb(r[i].body, r[i].len, 0, NULL)) &&
            rk_agent_status_decode(v, "", &st, NULL) == 0)
            out = rk_agent_status_encode(&st);
        rk_agent_status_cleanup(&st);
        json_decref(v);
        json_array_append_new(arr, out ? out : unavailable(c->ids[i]));
    }
    if (c->single)
        rk_http_resp_json_take(resp, 200, json_pack("{s:O}", "agent", json_array_get(arr, 0)));
    else
        rk_http_resp_json_take(resp, 200, json_pack("{s:O}", "agents", arr));
    json_decref(arr);
}

static void status_of(rk_http_req_t *req, rk_http_resp_t *resp, rk_server_t *srv,
                      rk_registered_agent_t *v, size_t n, bool single)
{
    status_ctx_t *c = calloc(1, sizeof *c);
    char **urls = calloc(n ? n : 1, sizeof *urls);
    char **tokens = calloc(n ? n : 1, sizeof *tokens);
    size_t made = 0;
    rk_http_wait_t *w = NULL;
    if (!c || !urls || !tokens || !(c->ids = calloc(n ? n : 1, sizeof *c->ids)))
        goto oom;
    c->single = single;
    for (; made < n; made++) {
        urls[made] = malloc(strlen(v[made].agent_url) + 16);
        c->ids[made] = strdup(v[made].info.agent_id);
        if (!urls[made] || !c->ids[made]) {
            c->n = made + 1;
            made++;
            goto oom;
        }
        sprintf(urls[made], "%s/api/v1/status", v[made].agent_url);
        tokens[made] = rk_srv_agent_token(srv, &v[made]); /* wiped and freed below */
    }
    c->n = n;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        status_ctx_free(c);
        goto done;
    }
    if (rk_srv_mgr_fan(srv->mgr, w, urls, tokens, n, STATUS_TIMEOUT_MS, 1u << 20, status_done, c,
                       status_ctx_free) != 0)
        rk_http_wait_release(w);
    goto done;
oom:
    rk_http_resp_error(resp, 500, "out of memory");
    if (c)
        status_ctx_free(c);
done:
    for (size_t i = 0; i < made; i++) {
        free(urls[i]);
        if (tokens[i]) /* the fan-out copied them */
            memset(tokens[i], 0, strlen(tokens[i]));
        free(tokens[i]);
    }
    free(urls);
    free(tokens);
}

/* The longest drain deadline taken: 30 days. */
#define DRAIN_DEADLINE_MAX_S (30.0 * 86400)

/* POST /agents/{id}/pause, /resume, /drain {deadline_s?}: the manager
 * answers with the RegisteredAgentInfo once the change is stored. */
static void schedule(rk_http_req_t *req, rk_http_resp_t *resp, rk_server_t *srv, rk_srv_sched_t to)
{
    const char *id = rk_http_req_param(req, "agent_id");
    double deadline_s = -1;
    size_t len = 0;
    rk_http_req_body(req, &len);
    if (to == RK_SRV_SCHED_DRAINING && len > 0) {
        json_t *body = NULL;
        rk_verr_t e;
        bool present = false;
        if (rk_http_req_json(req, resp, &body))
            return;
        int rc = rk_json_expect_obj(body, "", &e);
        if (!rc)
            rc = rk_json_get_num(body, "", "deadline_s", RK_OPTIONAL, 0, DRAIN_DEADLINE_MAX_S,
                                 &deadline_s, &present, &e);
        json_decref(body);
        if (rc) {
            rk_http_resp_error(resp, 422, e.msg);
            return;
        }
        if (!present)
            deadline_s = -1;
    }
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        return;
    }
    if (rk_srv_mgr_agent_schedule(srv->mgr, w, id, to, deadline_s) != 0)
        rk_http_wait_release(w);
}

static void h_pause(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    schedule(req, resp, ud, RK_SRV_SCHED_PAUSED);
}

static void h_resume(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    schedule(req, resp, ud, RK_SRV_SCHED_ENABLED);
}

static void h_drain(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    schedule(req, resp, ud, RK_SRV_SCHED_DRAINING);
}

static void h_status_all(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    rk_registered_agent_t *v = NULL;
    size_t n = 0;
    int rc = rk_store_agent_list(srv->store, &v, &n);
    if (rc) {
        rk_srv_store_error(resp, rc, "agents");
        return;
    }
    status_of(req, resp, srv, v, n, false);
    rk_store_agents_free(v, n);
}

static void h_status_one(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "agent_id");
    rk_registered_agent_t a = {0};
    int rc = rk_store_agent_get(srv->store, id, &a);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "agent %s", id);
        return;
    }
    status_of(req, resp, srv, &a, 1, true);
    rk_registered_agent_cleanup(&a);
}

int rk_srv_routes_agents(rk_server_t *srv)
{
    static const struct {
        const char *method, *path;
        rk_http_handler_fn fn;
    } r[] = {
        {"POST", "/api/v1/agents/register", h_register},
        {"POST", "/api/v1/agents/unregister", h_unregister},
        {"GET", "/api/v1/agents", h_list},
        {"GET", "/api/v1/agents/status", h_status_all},
        {"GET", "/api/v1/agents/{agent_id}", h_get},
        {"GET", "/api/v1/agents/{agent_id}/info", h_get},
        {"GET", "/api/v1/agents/{agent_id}/status", h_status_one},
        {"POST", "/api/v1/agents/{agent_id}/pause", h_pause},
        {"POST", "/api/v1/agents/{agent_id}/resume", h_resume},
        {"POST", "/api/v1/agents/{agent_id}/drain", h_drain},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        int rc = rk_http_server_route(srv->http, r[i].method, r[i].path, r[i].fn, srv);
        if (rc)
            return rc;
    }
    return 0;
}
