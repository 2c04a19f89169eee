/* The agent registry of the job manager (manager thread): reachability,
 * the background health check, and the register and unregister commands.
 * An agent's jobs are not edited here: when an agent is lost or goes, its
 * jobs are handed to jobs.c.
 *
 * Failure detection (shared/design.md): one failed call means nothing. An
 * agent whose calls have failed for longer than the agent timeout becomes
 * unavailable: its running jobs fail ("agent unreachable"), its queue
 * waits, and it comes back by itself when it answers a health check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

srv_agent_t *srv__agent_find(rk_srv_mgr_t *m, const char *id)
{
    for (srv_agent_t *a = m->agents; a; a = a->next)
        if (strcmp(a->id, id) == 0)
            return a;
    return NULL;
}

static void wipe_free(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    free(s);
}

/* tok: the agent's token (copied; NULL for none). */
static int agent_set(srv_agent_t *a, const rk_registered_agent_t *r, const char *tok)
{
    char *url = strdup(r->agent_url);
    char *token = tok ? strdup(tok) : NULL;
    if (!url || (tok && !token)) {
        free(url);
        wipe_free(token);
        return RK_ENOMEM;
    }
    free(a->url);
    wipe_free(a->token);
    a->url = url;
    a->token = token;
    a->slots = r->info.capabilities.slots > 0 ? r->info.capabilities.slots : 1;
    return 0;
}

srv_agent_t *srv__agent_add(rk_srv_mgr_t *m, const rk_registered_agent_t *r, const char *token)
{
    srv_agent_t *a = calloc(1, sizeof *a);
    if (!a || !(a->id = strdup(r->info.agent_id)) || agent_set(a, r, token)) {
        if (a)
            free(a->id);
        free(a);
        return NULL;
    }
    a->ord = m->agent_ords++;
    m->elig_gen++; /* the pools work out who can run what again */
    if (m->srv)
        rk_srv_agents_changed(m->srv);
    srv_agent_t **p = &m->agents;
    while (*p)
        p = &(*p)->next;
    *p = a;
    return a;
}

static void agent_free(rk_srv_mgr_t *m, srv_agent_t *a)
{
    srv__release(m, a->leaving);
    srv__call_cancel(m, a->health);
    srv__jobs_free_all(m, a);
    free(a->id);
    free(a->url);
    wipe_free(a->token);
    free(a);
}

void srv__agents_free_all(rk_srv_mgr_t *m)
{
    while (m->agents) {
        srv_agent_t *a = m->agents;
        m->agents = a->next;
        agent_free(m, a);
    }
}

static void agent_event(rk_srv_mgr_t *m, const srv_agent_t *a, const char *what)
{
    srv__event(m, "agent",
               json_pack("{s:s,s:s,s:s}", "agent_id", a->id, "event", what, "agent_url", a->url));
}

void srv__agent_ok(rk_srv_mgr_t *m, srv_agent_t *a)
{
    if (a->first_fail || a->unavailable) {
        rk_log_info("agent reachable again", "agent_id", a->id);
        m->again = true;
    }
    a->first_fail = 0;
    if (a->unavailable) {
        a->unavailable = false;
        agent_event(m, a, "available");
    }
}

/* The agent stayed silent too long: its running jobs end here. */
static void mark_unavailable(rk_srv_mgr_t *m, srv_agent_t *a)
{
    char msg[200];
    snprintf(msg, sizeof msg, "agent unreachable for more than %g s", m->cfg.agent_timeout_s);
    a->unavailable = true;
    rk_log_warn("agent unavailable", "agent_id", a->id, "reason", msg);
    agent_event(m, a, "unavailable");
    srv__jobs_agent_lost(m, a, msg);
}

void srv__agent_failed(rk_srv_mgr_t *m, srv_agent_t *a, const char *why)
{
    int64_t now = rk_time_mono_us();
    if (!a->first_fail) {
        a->first_fail = now;
        rk_log_warn("agent call failed", "agent_id", a->id, "reason", why);
    }
    if (!a->unavailable && now - a->first_fail >= (int64_t)(m->cfg.agent_timeout_s * 1e6))
        mark_unavailable(m, a);
}

static void health_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    srv_agent_t *a = c->ud;
    if (r->err) {
        srv__agent_failed(m, a, r->msg);
        return;
    }
    srv__agent_ok(m, a);
    json_t *v = NULL;
    rk_agent_status_t st = {0};
    if (r->status == 200 && rk_http_response_json(r, &v, NULL) == 0 &&
        rk_agent_status_decode(v, "", &st, NULL) == 0) {
        bool err = st.status == RK_AGENT_ERROR;
        if (err != a->known_error)
            rk_log_info("agent status", "agent_id", a->id, "status",
                        rk_agent_state_name(st.status));
        a->known_error = err;
        if (st.status == RK_AGENT_IDLE)
            a->hold_until = 0;
    }
    rk_agent_status_cleanup(&st);
    json_decref(v);
}

static bool leave_step(rk_srv_mgr_t *m, srv_agent_t *a);

void srv__agents_leave(rk_srv_mgr_t *m)
{
    for (srv_agent_t **p = &m->agents; *p;) {
        srv_agent_t *a = *p;
        if (a->leaving && leave_step(m, a)) {
            *p = a->next;
            agent_free(m, a);
            continue;
        }
        p = &a->next;
    }
}

void srv__agents_tick(rk_srv_mgr_t *m, int64_t now)
{
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        if (a->first_fail && !a->unavailable &&
            now - a->first_fail >= (int64_t)(m->cfg.agent_timeout_s * 1e6))
            mark_unavailable(m, a);
        if (a->health || now < a->health_at)
            continue;
        bool failing = a->first_fail || a->unavailable || a->known_error;
        a->health_at = now + (int64_t)((failing ? 0.5 : m->cfg.poll_interval_s) * 1e6);
        char *url = srv__agent_url(a, "/status");
        if (!url)
            continue;
        rk_http_request_t req = {
            .url = url, .token = a->token, .connect_timeout_ms = 2000, .timeout_ms = 3000};
        srv__call_submit(m, m->tp->get, &req, health_answered, NULL, a, &a->health);
        free(url);
    }
}

/* ---- registration: the agent's GET /info, then stored ---- */

typedef struct reg_ctx {
    rk_http_wait_t *wait;
    char *url, *token;
} reg_ctx_t;

static void reg_ctx_free(reg_ctx_t *rc)
{
    if (!rc)
        return;
    free(rc->url);
    wipe_free(rc->token);
    free(rc);
}

static void reg_dropped(rk_srv_mgr_t *m, srv_call_t *c)
{
    reg_ctx_t *rc = c->ud;
    srv__release(m, rc->wait);
    reg_ctx_free(rc);
}

/* The agent's answer to GET /info: what to store, or why not. */
static void register_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    reg_ctx_t *rc = c->ud;
    rk_http_wait_t *w = rc->wait;
    json_t *v = NULL;
    rk_registered_agent_t reg = {0};
    rk_verr_t e = {{0}};
    if (r->err == RK_ETIMEDOUT) {
        srv__answer_error(m, w, 504, "agent at %s did not answer in time", rc->url);
        goto done;
    }
    if (r->err) {
        srv__answer_error(m, w, 502, "agent at %s not reachable: %s%s%s", rc->url,
                          rk_strerror(r->err), r->msg[0] ? ": " : "", r->msg);
        goto done;
    }
    if (r->status == 401 || r->status == 403) {
        srv__answer_error(m, w, 502, "agent at %s refused the token (HTTP %ld)", rc->url,
                          r->status);
        goto done;
    }
    if (r->status != 200) {
        srv__answer_error(m, w, 502, "agent at %s answered HTTP %ld to GET /api/v1/info", rc->url,
                          r->status);
        goto done;
    }
    json_error_t je;
    v = json_loadb(rk_buf_str(&r->body), r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!v || rk_agent_info_decode(json_object_get(v, "agent_info"), "agent_info", &reg.info, &e)) {
        srv__answer_error(m, w, 502, "agent at %s answered badly: %s", rc->url,
                          v ? e.msg : je.text);
        goto done;
    }
    srv_agent_t *a = srv__agent_find(m, reg.info.agent_id);
    if (a && strcmp(a->url, rc->url) == 0) {
        srv__answer_error(m, w, 409, "agent %s is already registered at %s", a->id, a->url);
        goto done;
    }
    /* The token is a record of its own (RK_SRV_TOKEN_DOC), stored with the
     * agent; never in its AgentInfo (an old database's copy there goes). */
    json_object_del(reg.info.extra, RK_SRV_TOKEN_KEY);
    reg.agent_url = rc->url;
    reg.registered_at = rk_time_now_us();
    /* Its own commit: memory and the answer follow only a stored agent. */
    srv__flush(m);
    int rcode = srv__txn(m);
    if (!rcode)
        rcode = rk_store_agent_put(m->store, &reg);
    if (!rcode)
        rcode = rk_srv_agent_token_put(m->store, reg.info.agent_id, rc->token);
    srv__batch_error(m, rcode);
    if (!rcode)
        rcode = srv__flush(m);
    else
        srv__flush(m);
    if (rcode) {
        srv__answer_store_error(m, w, rcode, "agent");
        goto done;
    }
    bool moved = a != NULL;
    if (a) {
        agent_set(a, &reg, rc->token);
        m->elig_gen++; /* its AgentInfo may have changed */
        if (m->srv)
            rk_srv_agents_changed(m->srv);
        a->first_fail = 0;
        a->unavailable = false;
        a->health_at = 0;
    } else {
        a = srv__agent_add(m, &reg, rc->token);
    }
    if (a) {
        rk_log_info(moved ? "agent moved" : "agent registered", "agent_id", a->id, "url", a->url);
        agent_event(m, a, moved ? "moved" : "registered");
        m->again = true;
    }
    json_t *body = json_object();
    json_object_set_new(body, "agent_id", json_string(reg.info.agent_id));
    rk_json_set_time(body, "registered_at", reg.registered_at);
    srv__answer_json(m, w, 200, body);
    srv__flush(m); /* nothing to commit: out with the answer and event */
done:
    reg.agent_url = NULL; /* rc's */
    json_decref(v);
    rk_agent_info_cleanup(&reg.info);
    reg_ctx_free(rc);
}

void srv__agent_register(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *url, const char *token)
{
    reg_ctx_t *rc = calloc(1, sizeof *rc);
    char *info = malloc(strlen(url) + 32);
    if (!rc || !info || !(rc->url = strdup(url)) || (token && !(rc->token = strdup(token)))) {
        free(info);
        reg_ctx_free(rc);
        srv__answer_error(m, w, 500, "out of memory");
        return;
    }
    rc->wait = w;
    sprintf(info, "%s/api/v1/info", url);
    rk_http_request_t req = {.url = info,
                             .token = rc->token,
                             .connect_timeout_ms = 3000,
                             .timeout_ms = 5000,
                             .max_body = 4u << 20};
    if (!srv__call_submit(m, m->tp->get, &req, register_answered, reg_dropped, rc, NULL)) {
        reg_ctx_free(rc);
        srv__answer_error(m, w, 502, "agent at %s not reachable: %s", url, rk_strerror(RK_EINVAL));
    }
    free(info);
}

void srv__agent_unregister(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id)
{
    srv_agent_t *a = srv__agent_find(m, agent_id);
    if (!a) {
        srv__answer_error(m, w, 404, "agent %s not found", agent_id);
        return;
    }
    if (a->leaving) {
        srv__answer_error(m, w, 409, "agent %s is already being unregistered", agent_id);
        return;
    }
    /* From now on it takes no jobs; leave_step cancels its jobs a batch
     * per iteration, then removes it and answers. */
    a->leaving = w;
    m->again = true;
}

/* One batch of an unregistration; true when the agent is gone (freed). */
static bool leave_step(rk_srv_mgr_t *m, srv_agent_t *a)
{
    char msg[200];
    snprintf(msg, sizeof msg, "cancelled: agent %.64s was unregistered", a->id);
    srv__flush(m); /* this batch is the unregistration's alone */
    srv__jobs_agent_gone(m, a, msg, SRV_LEAVE_BATCH);
    /* The jobs' ends are stored (and their slots freed) before the agent
     * goes; if that fails they are put back and the agent stays. */
    int r = srv__flush(m);
    if (!r && (a->n_queued || a->r_head || a->h_head)) {
        m->again = true; /* the next batch after other work */
        return false;
    }
    if (!r) {
        r = srv__txn(m);
        if (!r)
            r = rk_store_agent_delete(m->store, a->id);
        if (r == RK_ENOENT)
            r = 0;
        if (!r)
            r = rk_srv_agent_token_put(m->store, a->id, NULL);
        if (!r) { /* its scheduling goes with it */
            r = rk_store_doc_delete(m->store, RK_SRV_SCHED_DOC, a->id);
            r = r == RK_ENOENT || r == RK_EUNSUP ? 0 : r;
        }
        srv__batch_error(m, r);
        int c = srv__flush(m);
        if (!r)
            r = c;
    }
    rk_http_wait_t *w = a->leaving;
    a->leaving = NULL;
    if (r) { /* the agent stays, with the jobs not yet cancelled */
        srv__answer_store_error(m, w, r, "agent");
        m->again = true;
        return false;
    }
    if (m->srv) /* before anyone hears it is gone */
        rk_srv_agents_changed(m->srv);
    agent_event(m, a, "unregistered");
    rk_log_info("agent unregistered", "agent_id", a->id);
    json_t *body = json_object();
    json_object_set_new(body, "agent_id", json_string(a->id));
    rk_json_set_time(body, "unregistered_at", rk_time_now_us());
    srv__answer_json(m, w, 200, body);
    srv__flush(m); /* nothing to commit: out with the answer and event */
    return true;
}
