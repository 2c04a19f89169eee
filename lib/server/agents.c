/* The agent registry of the job manager (manager thread): reachability and
 * the background health check, registration and unregistration, and the
 * fan-out that lets handlers call agents through the manager's client.
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

srv_agent_t *agent_find(rk_srv_mgr_t *m, const char *id)
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

static int agent_set(srv_agent_t *a, const rk_registered_agent_t *r)
{
    const char *tok = rk_srv_agent_token(r);
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

srv_agent_t *agent_add(rk_srv_mgr_t *m, const rk_registered_agent_t *r)
{
    srv_agent_t *a = calloc(1, sizeof *a);
    if (!a || !(a->id = strdup(r->info.agent_id)) || agent_set(a, r)) {
        if (a)
            free(a->id);
        free(a);
        return NULL;
    }
    srv_agent_t **p = &m->agents;
    while (*p)
        p = &(*p)->next;
    *p = a;
    return a;
}

void agent_free(rk_srv_mgr_t *m, srv_agent_t *a)
{
    if (a->health)
        call_cancel(m, a->health);
    while (a->q_head) {
        srv_job_t *j = a->q_head;
        queue_remove(a, j);
        job_free(m, j);
    }
    while (a->r_head) {
        srv_job_t *j = a->r_head;
        running_remove(a, j);
        job_free(m, j);
    }
    free(a->id);
    free(a->url);
    wipe_free(a->token);
    free(a);
}

static void agent_event(rk_srv_mgr_t *m, const srv_agent_t *a, const char *what)
{
    mgr_event(m, "agent", json_pack("{s:s,s:s,s:s}", "agent_id", a->id, "event", what,
                                    "agent_url", a->url));
}

void agent_ok(rk_srv_mgr_t *m, srv_agent_t *a)
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
    /* Backwards, so jobs put back at the front keep their order. */
    srv_job_t *prev;
    for (srv_job_t *j = a->r_tail; j; j = prev) {
        prev = j->prev;
        if (j->phase == PH_RELEASE)
            continue;
        if (j->call)
            call_cancel(m, j->call);
        if (j->phase == PH_SEND && !j->local_terminal) {
            running_remove(a, j);
            queue_push_front(a, j);
            job_store_status(m, j, RK_JOB_QUEUED, "agent unreachable; back in the queue");
            job_settle(m, j);
            continue;
        }
        if (!j->local_terminal) {
            if (j->phase == PH_RESULT) {
                char m2[1200];
                snprintf(m2, sizeof m2, "%.900s; result not fetched: %s",
                         j->agent_message ? j->agent_message : "", msg);
                job_store_status(m, j, j->agent_state, m2);
            } else {
                job_store_status(m, j, RK_JOB_FAILED, msg);
            }
        }
        job_settle(m, j);
        job_release(m, j);
    }
}

void agent_failed(rk_srv_mgr_t *m, srv_agent_t *a, const char *why)
{
    int64_t now = rk_time_mono_us();
    if (!a->first_fail) {
        a->first_fail = now;
        rk_log_warn("agent call failed", "agent_id", a->id, "reason", why);
    }
    if (!a->unavailable && now - a->first_fail >= (int64_t)(m->cfg.agent_timeout_s * 1e6))
        mark_unavailable(m, a);
}

static void health_answered(rk_srv_mgr_t *m, srv_agent_t *a, const rk_http_response_t *r)
{
    if (r->err) {
        agent_failed(m, a, r->msg);
        return;
    }
    agent_ok(m, a);
    json_t *v = NULL;
    rk_agent_status_t st = {0};
    if (r->status == 200 && rk_http_response_json(r, &v, NULL) == 0 &&
        rk_agent_status_decode(v, "", &st, NULL) == 0) {
        bool err = st.status == RK_AGENT_ERROR;
        if (err != a->known_error)
            rk_log_info("agent status", "agent_id", a->id, "status", rk_agent_state_name(st.status));
        a->known_error = err;
        if (st.status == RK_AGENT_IDLE)
            a->hold_until = 0;
    }
    rk_agent_status_cleanup(&st);
    json_decref(v);
}

void agents_tick(rk_srv_mgr_t *m, int64_t now)
{
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        if (a->first_fail && !a->unavailable &&
            now - a->first_fail >= (int64_t)(m->cfg.agent_timeout_s * 1e6))
            mark_unavailable(m, a);
        if (a->health || now < a->health_at)
            continue;
        bool failing = a->first_fail || a->unavailable || a->known_error;
        a->health_at = now + (int64_t)((failing ? 0.5 : m->cfg.poll_interval_s) * 1e6);
        char *url = agent_url(a, "/status");
        if (!url)
            continue;
        rk_http_request_t req = {.url = url, .token = a->token, .connect_timeout_ms = 2000,
                                 .timeout_ms = 3000};
        a->health = call_submit(m, CALL_HEALTH, &req, NULL, a);
        free(url);
    }
}

/* ---- fan-out ---- */

void fan_free(srv_fan_t *f)
{
    if (!f)
        return;
    if (f->wait)
        rk_http_wait_release(f->wait);
    if (f->free_ctx)
        f->free_ctx(f->ctx);
    for (size_t i = 0; i < f->n; i++) {
        if (f->urls)
            free(f->urls[i]);
        if (f->tokens)
            wipe_free(f->tokens[i]);
        if (f->replies)
            free(f->replies[i].body);
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
        mgr_finish(m, f->wait, resp);
        f->wait = NULL;
    }
    fan_free(f);
}

void fan_start(rk_srv_mgr_t *m, srv_fan_t *f)
{
    f->left = 1; /* held while submitting, so a quick failure cannot complete it */
    for (size_t i = 0; i < f->n; i++) {
        rk_http_request_t req = {.url = f->urls[i], .token = f->tokens[i],
                                 .connect_timeout_ms = f->timeout_ms < 3000 ? f->timeout_ms : 3000,
                                 .timeout_ms = f->timeout_ms, .max_body = f->max_body};
        srv_call_t *c = call_submit(m, CALL_FAN, &req, NULL, NULL);
        if (!c) {
            f->replies[i].err = RK_EINVAL;
            continue;
        }
        c->fan = f;
        c->idx = i;
        f->left++;
    }
    if (--f->left == 0)
        fan_complete(m, f);
}

void call_done(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    if (c->kind == CALL_HEALTH) {
        if (c->agent)
            health_answered(m, c->agent, r);
        free(c);
        return;
    }
    srv_fan_t *f = c->fan;
    rk_srv_fan_reply_t *rep = &f->replies[c->idx];
    rep->err = r->err;
    rep->status = r->status;
    rep->len = r->body.len;
    rep->body = malloc(r->body.len + 1);
    if (rep->body) {
        memcpy(rep->body, rk_buf_str(&r->body), r->body.len + 1);
    } else {
        rep->err = RK_ENOMEM;
        rep->len = 0;
    }
    free(c);
    if (--f->left == 0)
        fan_complete(m, f);
}

/* ---- registration ---- */

typedef struct reg_ctx {
    char *url, *token, *agent_id;
} reg_ctx_t;

static void reg_ctx_free(void *p)
{
    reg_ctx_t *r = p;
    if (!r)
        return;
    free(r->url);
    wipe_free(r->token);
    free(r->agent_id);
    free(r);
}

static void register_done(rk_srv_mgr_t *m, void *ctx, rk_srv_fan_reply_t *rep, size_t n,
                          rk_http_resp_t *resp)
{
    reg_ctx_t *rc = ctx;
    json_t *v = NULL;
    rk_registered_agent_t reg = {0};
    rk_verr_t e = {{0}};
    if (rep->err == RK_ETIMEDOUT) {
        rk_http_resp_errorf(resp, 504, "agent at %s did not answer in time", rc->url);
        return;
    }
    if (rep->err) {
        rk_http_resp_errorf(resp, 502, "agent at %s not reachable: %s", rc->url,
                            rk_strerror(rep->err));
        return;
    }
    if (rep->status == 401 || rep->status == 403) {
        rk_http_resp_errorf(resp, 502, "agent at %s refused the token (HTTP %ld)", rc->url,
                            rep->status);
        return;
    }
    if (rep->status != 200) {
        rk_http_resp_errorf(resp, 502, "agent at %s answered HTTP %ld to GET /api/v1/info",
                            rc->url, rep->status);
        return;
    }
    json_error_t je;
    v = json_loadb(rep->body, rep->len, JSON_REJECT_DUPLICATES, &je);
    if (!v || rk_agent_info_decode(json_object_get(v, "agent_info"), "agent_info", &reg.info,
                                   &e)) {
        rk_http_resp_errorf(resp, 502, "agent at %s answered badly: %s", rc->url,
                            v ? e.msg : je.text);
        json_decref(v);
        return;
    }
    json_decref(v);
    srv_agent_t *a = agent_find(m, reg.info.agent_id);
    if (a && strcmp(a->url, rc->url) == 0) {
        rk_http_resp_errorf(resp, 409, "agent %s is already registered at %s", a->id, a->url);
        rk_agent_info_cleanup(&reg.info);
        return;
    }
    /* The token rides in the stored info (stripped from answers). */
    json_t *extra = reg.info.extra ? json_deep_copy(reg.info.extra) : json_object();
    json_decref(reg.info.extra);
    reg.info.extra = extra;
    if (!extra) {
        rk_http_resp_error(resp, 500, "out of memory");
        rk_agent_info_cleanup(&reg.info);
        return;
    }
    if (rc->token)
        json_object_set_new(reg.info.extra, RK_SRV_TOKEN_KEY, json_string(rc->token));
    else
        json_object_del(reg.info.extra, RK_SRV_TOKEN_KEY);
    reg.agent_url = rc->url;
    reg.registered_at = rk_time_now_us();
    mgr_txn(m);
    int rcode = rk_store_agent_put(m->store, &reg);
    if (rcode) {
        rk_srv_store_error(resp, rcode, "agent");
    } else {
        bool moved = a != NULL;
        if (a) {
            agent_set(a, &reg);
            a->first_fail = 0;
            a->unavailable = false;
            a->health_at = 0;
        } else {
            a = agent_add(m, &reg);
        }
        if (a) {
            rk_log_info(moved ? "agent moved" : "agent registered", "agent_id", a->id, "url",
                        a->url);
            agent_event(m, a, moved ? "moved" : "registered");
            m->again = true;
        }
        json_t *body = json_object();
        json_object_set_new(body, "agent_id", json_string(reg.info.agent_id));
        rk_json_set_time(body, "registered_at", reg.registered_at);
        rk_http_resp_json_take(resp, 200, body);
    }
    reg.agent_url = NULL;
    rk_agent_info_cleanup(&reg.info);
}

int rk_srv_mgr_register(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *url, const char *token)
{
    reg_ctx_t *rc = calloc(1, sizeof *rc);
    if (!rc || !(rc->url = strdup(url)) || (token && !(rc->token = strdup(token)))) {
        reg_ctx_free(rc);
        return RK_ENOMEM;
    }
    char *info = malloc(strlen(url) + 32);
    if (!info) {
        reg_ctx_free(rc);
        return RK_ENOMEM;
    }
    sprintf(info, "%s/api/v1/info", url);
    char *tokens[1] = {rc->token};
    int r = rk_srv_mgr_fan(m, w, &info, tokens, 1, 5000, 4u << 20, register_done, rc,
                           reg_ctx_free);
    free(info);
    return r;
}

static void unregister_done(rk_srv_mgr_t *m, void *ctx, rk_srv_fan_reply_t *rep, size_t n,
                            rk_http_resp_t *resp)
{
    reg_ctx_t *rc = ctx;
    srv_agent_t *a = agent_find(m, rc->agent_id);
    if (!a) {
        rk_http_resp_errorf(resp, 404, "agent %s not found", rc->agent_id);
        return;
    }
    mgr_flush(m); /* no release of this agent's jobs may be pending */
    char msg[200];
    snprintf(msg, sizeof msg, "cancelled: agent %.64s was unregistered", a->id);
    while (a->q_head) {
        srv_job_t *j = a->q_head;
        queue_remove(a, j);
        job_store_status(m, j, RK_JOB_CANCELLED, msg);
        job_free(m, j);
    }
    while (a->r_head) {
        srv_job_t *j = a->r_head;
        if (!j->local_terminal && !rk_job_state_terminal(j->state))
            job_store_status(m, j, RK_JOB_CANCELLED, msg);
        if (!a->unavailable && j->phase != PH_SEND)
            job_send_cancel(m, j, true);
        running_remove(a, j);
        job_free(m, j);
    }
    mgr_txn(m);
    int r = rk_store_agent_delete(m->store, a->id);
    if (r && r != RK_ENOENT) {
        rk_srv_store_error(resp, r, "agent");
        return;
    }
    agent_event(m, a, "unregistered");
    rk_log_info("agent unregistered", "agent_id", a->id);
    for (srv_agent_t **p = &m->agents; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            break;
        }
    }
    json_t *body = json_object();
    json_object_set_new(body, "agent_id", json_string(rc->agent_id));
    rk_json_set_time(body, "unregistered_at", rk_time_now_us());
    rk_http_resp_json_take(resp, 200, body);
    agent_free(m, a);
}

int rk_srv_mgr_unregister(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id)
{
    reg_ctx_t *rc = calloc(1, sizeof *rc);
    if (!rc || !(rc->agent_id = strdup(agent_id))) {
        reg_ctx_free(rc);
        return RK_ENOMEM;
    }
    return rk_srv_mgr_fan(m, w, NULL, NULL, 0, 0, 0, unregister_done, rc, reg_ctx_free);
}
