/* A job's traffic with its agent (part of the jobs layer, manager
 * thread): dispatch (POST /jobs), the status long poll, result fetches and
 * cancels, each with its own completion callback saying what the answer
 * does to the job (shared/design.md, "A job's life"; the transitions are
 * listed in jobs.c). Also the experiments kept for dispatch, and the
 * server's backstop timeout.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "model/execute.h"
#include "model/parse.h"
#include "model/result.h"
#include "server/mgr.h"

/* ---- requests ---- */

static void send_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
static void poll_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
static void result_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
static void cancel_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
static void forget_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);

/* Submits a request about j to agent a (url taken): j's agent, or the one
 * a commit's DELETE is for. slot: where the call is kept (NULL for a
 * request whose answer is only logged). */
static srv_call_t *job_call(rk_srv_mgr_t *m, srv_job_t *j, const srv_agent_t *a, srv_send_fn send,
                            srv__call_fn done, srv_call_t **slot, const char *method, char *url,
                            const char *body, int timeout_ms, int attempts)
{
    if (!url)
        return NULL;
    rk_http_request_t req = {
        .method = method,
        .url = url,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .token = a->token,
        .connect_timeout_ms = 3000,
        .timeout_ms = timeout_ms,
        .idempotent = true, /* POST /jobs is idempotent by job_id */
        .retry = {.max_attempts = attempts, .base_ms = 100, .max_ms = 1000},
    };
    srv_call_t *c = srv__call_submit(m, send, &req, done, NULL, slot ? j : NULL, slot);
    free(url);
    return c;
}

static void retry_later(rk_srv_mgr_t *m, srv_job_t *j)
{
    j->retry_at = rk_time_mono_us() + (int64_t)(m->cfg.poll_interval_s * 1e6);
}

/* ---- experiments kept for dispatch ---- */

const srv_xcache_t *srv__xcache_get(rk_srv_mgr_t *m, const char *id, int *rc)
{
    srv_xcache_t *victim = &m->xcache[0];
    for (size_t i = 0; i < SRV_XCACHE_SIZE; i++) {
        srv_xcache_t *e = &m->xcache[i];
        if (e->id && strcmp(e->id, id) == 0) {
            e->used = ++m->xcache_clock;
            return e;
        }
        if (!e->id || (victim->id && e->used < victim->used))
            victim = e;
    }
    rk_experiment_t x = {0};
    if ((*rc = rk_store_experiment_get(m->store, id, &x)))
        return NULL;
    json_t *v = rk_experiment_encode(&x);
    char *spec = v ? json_dumps(v, JSON_COMPACT) : NULL;
    char *copy = strdup(id);
    json_decref(v);
    if (!spec || !copy) {
        free(spec);
        free(copy);
        rk_experiment_cleanup(&x);
        *rc = RK_ENOMEM;
        return NULL;
    }
    free(victim->id);
    free(victim->spec);
    *victim = (srv_xcache_t){.id = copy,
                             .spec = spec,
                             .timeout_s = x.requirements.timeout_seconds,
                             .used = ++m->xcache_clock};
    rk_experiment_cleanup(&x);
    return victim;
}

void srv__xcache_drop(rk_srv_mgr_t *m, const char *id)
{
    for (size_t i = 0; i < SRV_XCACHE_SIZE; i++) {
        srv_xcache_t *e = &m->xcache[i];
        if (e->id && strcmp(e->id, id) == 0) {
            free(e->id);
            free(e->spec);
            *e = (srv_xcache_t){0};
        }
    }
}

int64_t srv__job_attempt(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (j->attempt_known)
        return j->attempt;
    char *doc = NULL;
    int rc = rk_store_doc_get(m->store, RK_SRV_ATTEMPT_DOC, j->job_id, &doc);
    if (rc && rc != RK_ENOENT) {
        rk_log_warn("reading a job's attempt failed", "job_id", j->job_id, "error",
                    rk_strerror(rc));
        return -1;
    }
    json_t *v = doc ? json_loads(doc, 0, NULL) : NULL;
    json_int_t n = json_integer_value(json_object_get(v, "attempt"));
    json_decref(v);
    free(doc);
    j->attempt = n > 0 && n <= RK_EXECUTE_ATTEMPT_MAX ? n : 0;
    j->attempt_known = true;
    return j->attempt;
}

void srv__job_send(rk_srv_mgr_t *m, srv_job_t *j)
{
    int rc = 0;
    int64_t attempt = srv__job_attempt(m, j);
    if (attempt < 0) { /* the store cannot say now: try again later */
        retry_later(m, j);
        return;
    }
    if (j->agent && j->agent->freed_mono && m->srv) {
        rk_prom_observe(m->srv->m_gap, NULL,
                        (double)(rk_time_mono_us() - j->agent->freed_mono) / 1e6);
        j->agent->freed_mono = 0;
    }
    const srv_xcache_t *x = srv__xcache_get(m, j->experiment_id, &rc);
    if (!x && rc != RK_ENOMEM) {
        srv__job_store_status(m, j, RK_JOB_FAILED,
                              rc == RK_ENOENT ? "experiment not found"
                                              : "reading the experiment failed");
        srv__job_settle(m, j);
        srv__release_later(m, j);
        return;
    }
    if (x && !j->timeout_s)
        j->timeout_s = x->timeout_s;
    /* ExecuteJobRequest from the kept spec text: no JSON tree per job. The
     * job id is checked by the model (letters, digits, '_' and '-'), so it
     * needs no escaping. */
    rk_buf_t body;
    rk_buf_init(&body, 1u << 24);
    if (x &&
        rk_buf_printf(&body, "{\"experiment_spec\":%s,\"job_id\":\"%s\"", x->spec, j->job_id) ==
            0 &&
        (!attempt || rk_buf_printf(&body, ",\"attempt\":%lld", (long long)attempt) == 0) &&
        rk_buf_adds(&body, "}") == 0)
        job_call(m, j, j->agent, m->tp->submit, send_answered, &j->call, "POST",
                 srv__agent_url(j->agent, "/jobs"), rk_buf_str(&body), 15000, 3);
    rk_buf_cleanup(&body);
    if (!j->call)
        retry_later(m, j);
}

void srv__job_poll(rk_srv_mgr_t *m, srv_job_t *j, bool wait)
{
    char *url;
    /* A running job's long poll ends within the poll interval, so its
     * progress (which changes no state) is read that often. */
    int wait_s = RK_SRV_LONGPOLL_S;
    if (j->status == RK_JOB_RUNNING && m->cfg.poll_interval_s < wait_s)
        wait_s = m->cfg.poll_interval_s >= 1 ? (int)m->cfg.poll_interval_s : 1;
    if (wait)
        url =
            srv__agent_url(j->agent, "/status/%s?wait=%d&known=%s", j->job_id, wait_s,
                           rk_job_state_name(srv__job_ended_here(j) ? RK_JOB_ASSIGNED : j->status));
    else
        url = srv__agent_url(j->agent, "/status/%s", j->job_id);
    int timeout = wait ? wait_s * 1000 + RK_SRV_LONGPOLL_MARGIN_MS : 10000;
    job_call(m, j, j->agent, m->tp->status, poll_answered, &j->call, "GET", url, NULL, timeout, 1);
    if (!j->call)
        retry_later(m, j);
}

static void job_fetch_result(rk_srv_mgr_t *m, srv_job_t *j)
{
    job_call(m, j, j->agent, m->tp->result, result_answered, &j->call, "GET",
             srv__agent_url(j->agent, "/results/%s", j->job_id), NULL, 30000, 3);
    if (!j->call)
        retry_later(m, j);
}

void srv__job_send_cancel(rk_srv_mgr_t *m, srv_job_t *j, const srv_agent_t *a, bool forget)
{
    char *url = srv__agent_url(a, "/jobs/%s%s", j->job_id, j->force ? "?force=true" : "");
    if (forget)
        job_call(m, j, a, m->tp->cancel, forget_answered, NULL, "DELETE", url, NULL, 10000, 2);
    else
        job_call(m, j, a, m->tp->cancel, cancel_answered, &j->cancel, "DELETE", url, NULL, 10000,
                 2);
}

/* The agent's terminal report is in (with its result, when there is one):
 * stored in this batch, and the slot freed after the commit. A report on a
 * job we already ended keeps our status; the result is kept anyway. */
static void finish_terminal(rk_srv_mgr_t *m, srv_job_t *j, const char *note)
{
    char msg[1024];
    const char *am = j->agent_message && *j->agent_message ? j->agent_message : "finished";
    snprintf(msg, sizeof msg, "%.900s%s%s", am, note ? "; " : "", note ? note : "");
    /* A failed attempt its policy retries goes back to wait (retry_mgr.c).
     * The agent's own restart or shutdown lost the attempt: agent_lost. */
    bool lost = j->agent_state == RK_JOB_FAILED && (strncmp(am, "agent restarted", 15) == 0 ||
                                                    strncmp(am, "agent shut down", 15) == 0);
    if (srv__retry_take(m, j, j->agent_state, msg, lost))
        return;
    if (!srv__job_ended_here(j))
        srv__job_store_status(m, j, j->agent_state, msg);
    else
        rk_log_info("agent reported an end for a job already ended; status kept", "job_id",
                    j->job_id, "reported", rk_job_state_name(j->agent_state), "status",
                    rk_job_state_name(j->status));
    srv__job_settle(m, j);
    srv__release_later(m, j);
    j->agent->hold_until = 0;
}

/* ---- answers ---- */

static void send_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    srv_job_t *j = c->ud;
    if (j->st == SRV_J_RELEASING)
        return;
    srv_agent_t *a = j->agent;
    char detail[512], msg[700];
    srv__answer_detail(r, detail, sizeof detail);
    if (!r->err && r->status >= 200 && r->status < 300) {
        srv__agent_ok(m, a);
        if (j->created_mono && m->srv) {
            rk_prom_observe(m->srv->m_dispatch, NULL,
                            (double)(rk_time_mono_us() - j->created_mono) / 1e6);
            j->created_mono = 0;
        }
        if (j->st == SRV_J_SEND_CANCEL) {
            /* Cancelled while the POST was in flight: now that the agent
             * has the job, tell it to stop. */
            srv__job_to(j, SRV_J_STOPPING);
            srv__job_send_cancel(m, j, j->agent, false);
        } else {
            srv__job_to(j, SRV_J_WATCHING);
        }
        srv__job_settle(m, j);
        srv__job_poll(m, j, true);
        return;
    }
    /* Not taken, but not refused either: busy (409), or unable for now
     * (503: shutting down, its data dir failing, out of memory; the client
     * already retried it). The job keeps its place at the front. */
    if (r->err || r->status == 409 || r->status == 503) {
        if (r->err) {
            srv__agent_failed(m, a, detail);
            snprintf(msg, sizeof msg, "agent unreachable (%s); back in the queue", detail);
        } else if (r->status == 409) {
            srv__agent_ok(m, a);
            a->hold_until = rk_time_mono_us() + 1000000;
            snprintf(msg, sizeof msg, "agent busy; back at the front of the queue");
        } else {
            srv__agent_ok(m, a);
            a->hold_until = rk_time_mono_us() + 1000000;
            a->health_at = 0; /* learn its state (error, shutting down) soon */
            snprintf(msg, sizeof msg,
                     "agent cannot take jobs now (%s); back at the front of "
                     "the queue",
                     detail);
        }
        if (j->st == SRV_J_RELEASING) /* the agent was lost meanwhile */
            return;
        if (srv__job_ended_here(j)) { /* cancelled meanwhile */
            if (r->err)
                srv__job_send_cancel(m, j, j->agent, true);
            srv__release_later(m, j);
            return;
        }
        srv__job_store_status(m, j, RK_JOB_QUEUED, msg);
        srv__job_requeue(m, j);
        srv__job_settle(m, j);
        return;
    }
    srv__agent_ok(m, a);
    snprintf(msg, sizeof msg, "agent refused the job: %s", detail);
    if (!srv__job_ended_here(j))
        srv__job_store_status(m, j, RK_JOB_FAILED, msg);
    srv__job_settle(m, j);
    srv__release_later(m, j);
}

static void poll_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    srv_job_t *j = c->ud;
    if (j->st == SRV_J_RELEASING)
        return;
    srv_agent_t *a = j->agent;
    char detail[512];
    if (r->err || (r->status != 200 && r->status != 404)) {
        srv__answer_detail(r, detail, sizeof detail);
        if (r->err)
            srv__agent_failed(m, a, detail);
        /* One failed poll never fails a job: poll again later. */
        if (j->st != SRV_J_RELEASING)
            retry_later(m, j);
        return;
    }
    srv__agent_ok(m, a);
    if (r->status == 404) {
        if (srv__job_ended_here(j)) {
            srv__release_later(m, j);
            return;
        }
        if (j->st == SRV_J_ASKING && j->status == RK_JOB_PAUSED) {
            /* Recovered paused, and the agent never had it: it was held
             * before it was sent, and stays held (no slot). */
            srv__job_to(j, SRV_J_HELD);
            srv__list_unlink(j);
            srv__held_add(j);
            return;
        }
        rk_log_info("agent does not know the job; sending it again", "job_id", j->job_id,
                    "agent_id", a->id);
        srv__job_to(j, SRV_J_SENDING);
        j->retry_at = 0;
        m->again = true;
        return;
    }
    json_t *v = NULL;
    rk_job_status_t st = {0};
    rk_verr_t e;
    if (rk_http_response_json(r, &v, &e) || rk_job_status_decode(v, "", &st, &e)) {
        rk_log_warn("agent answered a status badly", "job_id", j->job_id, "error", e.msg);
        json_decref(v);
        retry_later(m, j);
        return;
    }
    json_decref(v);
    int64_t now = rk_time_mono_us();
    if (j->st == SRV_J_ASKING)
        srv__job_to(j, SRV_J_WATCHING);
    if (rk_job_state_terminal(st.status)) {
        j->agent_state = st.status;
        free(j->agent_message);
        j->agent_message = strdup(st.message ? st.message : "");
        srv__job_to(j, SRV_J_FETCHING);
        job_fetch_result(m, j);
    } else {
        bool changed = false;
        if (st.status == RK_JOB_RUNNING && !j->running_mono)
            j->running_mono = now;
        /* Started: assigned becomes running. A paused job is not made
         * running by a poll (its answer may predate the pause); only a
         * resume does that. A job the agent says is paused while we had it
         * running (the store write of a confirmed pause was lost) is
         * stored paused. */
        if (st.status == RK_JOB_RUNNING && j->status == RK_JOB_ASSIGNED) {
            srv__job_store_status(m, j, RK_JOB_RUNNING,
                                  st.message && *st.message ? st.message : "running");
            changed = true;
        } else if (st.status == RK_JOB_PAUSED && !j->control &&
                   (j->status == RK_JOB_RUNNING || j->status == RK_JOB_ASSIGNED)) {
            srv__job_store_status(m, j, RK_JOB_PAUSED, "paused on the agent");
            if (!j->paused_mono)
                j->paused_mono = now;
            changed = true;
        }
        /* Progress moved (by half a percent or more): kept in place in the
         * store, no history entry, and said as a job event. */
        if (st.has_progress && j->status == RK_JOB_RUNNING &&
            (!j->has_progress || st.progress - j->progress >= 0.005 ||
             j->progress - st.progress >= 0.005)) {
            j->has_progress = true;
            j->progress = st.progress < 0 ? 0 : st.progress > 1 ? 1 : st.progress;
            srv__journal_touch(m, j);
            int rc = srv__txn(m);
            if (!rc)
                rc = rk_store_job_set_progress(m->store, j->job_id, j->progress);
            if (rc)
                srv__batch_error(m, rc);
            srv__event(m, "job", srv__job_info_json(j));
            changed = true;
        }
        if (!j->timeout_s) {
            int rc = 0;
            const srv_xcache_t *x = srv__xcache_get(m, j->experiment_id, &rc);
            j->timeout_s = x ? x->timeout_s : 3600;
        }
        /* An agent that answers a long poll at once without news gets
         * plain polling at the configured interval. */
        if (!changed && now - c->sent_mono < 1000000 && j->status != RK_JOB_ASSIGNED)
            retry_later(m, j);
        else
            srv__job_poll(m, j, true);
    }
    rk_job_status_cleanup(&st);
}

static void result_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    srv_job_t *j = c->ud;
    if (j->st == SRV_J_RELEASING)
        return;
    char detail[512];
    if (r->err || r->status >= 500) {
        srv__answer_detail(r, detail, sizeof detail);
        if (r->err)
            srv__agent_failed(m, j->agent, detail);
        if (j->st == SRV_J_RELEASING)
            return;
        j->result_tries++;
        retry_later(m, j);
        return;
    }
    srv__agent_ok(m, j->agent);
    if (r->status != 200) {
        srv__answer_detail(r, detail, sizeof detail);
        char note[600];
        snprintf(note, sizeof note, "no result (%s)", detail);
        finish_terminal(m, j, r->status == 404 ? NULL : note);
        return;
    }
    json_t *v = NULL;
    rk_result_t res = {0};
    rk_verr_t e = {{0}};
    if (rk_http_response_json(r, &v, &e) || rk_result_decode(v, "", &res, &e)) {
        rk_log_warn("agent answered a result badly", "job_id", j->job_id, "error", e.msg);
        json_decref(v);
        finish_terminal(m, j, "result unusable");
        return;
    }
    json_decref(v);
    free(res.agent_id);
    res.agent_id = strdup(j->agent->id);
    if (!res.job_id || strcmp(res.job_id, j->job_id) != 0) {
        free(res.job_id);
        res.job_id = strdup(j->job_id);
    }
    srv__journal_touch(m, j);
    int rc = res.agent_id && res.job_id ? srv__txn(m) : RK_ENOMEM;
    if (!rc)
        rc = rk_store_result_put(m->store, &res);
    /* Against its pinned baseline: a regression is an event of the batch. */
    json_t *regression = rc ? NULL : rk_srv_baseline_check(m->srv, &res);
    if (regression)
        srv__event(m, "regression", regression);
    rk_result_cleanup(&res);
    if (rc == RK_ENOENT) { /* purged meanwhile (retention): nothing to keep it for */
        rk_log_info("result of a purged job dropped", "job_id", j->job_id);
        rc = 0;
    }
    if (rc) { /* the batch fails: the result is fetched again */
        rk_log_error("storing a result failed", "job_id", j->job_id, "error", rk_strerror(rc));
        srv__batch_error(m, rc);
    }
    finish_terminal(m, j, NULL);
}

static void cancel_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    srv_job_t *j = c->ud;
    if (j->st == SRV_J_RELEASING)
        return;
    char detail[512], msg[700];
    srv__answer_detail(r, detail, sizeof detail);
    if (!r->err && (r->status == 202 || r->status == 200 || r->status == 409))
        return; /* being stopped, or already over: the poll sees the end */
    if (r->err)
        srv__agent_failed(m, j->agent, detail);
    else
        srv__agent_ok(m, j->agent);
    if (j->st == SRV_J_RELEASING)
        return;
    if (!srv__job_ended_here(j)) {
        snprintf(msg, sizeof msg, "cancelled by request; the agent could not stop it (%s)", detail);
        srv__job_store_status(m, j, RK_JOB_CANCELLED, msg);
        if (j->st == SRV_J_WATCHING || j->st == SRV_J_ASKING)
            srv__job_to(j, SRV_J_STOPPING);
        else if (j->st == SRV_J_SENDING && j->call)
            srv__job_to(j, SRV_J_SEND_CANCEL);
    }
    if (r->status == 404 || r->err)
        srv__release_later(m, j);
}

static void forget_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    (void)m;
    (void)c;
    if (r->err || r->status >= 300)
        rk_log_info("agent not told to stop a job", "status", r->err ? r->msg : "refused");
}

/* ---- periodic work ---- */

void srv__jobs_tick(rk_srv_mgr_t *m, int64_t now)
{
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        /* next read first: a retried job leaves the running list. */
        for (srv_job_t *j = a->r_head, *next; j; j = next) {
            next = j->next;
            if (j->st == SRV_J_RELEASING)
                continue;
            /* In µs from seconds: a fractional grace (0.5 s) counts whole. */
            int64_t limit = (int64_t)(((double)j->timeout_s + m->cfg.timeout_grace_s) * 1e6);
            if (j->status == RK_JOB_RUNNING && !srv__job_ended_here(j) && j->running_mono &&
                j->timeout_s && now - j->running_mono > limit) {
                char msg[200];
                snprintf(msg, sizeof msg,
                         "server backstop: no end reported within the %lld s timeout plus grace",
                         (long long)j->timeout_s);
                srv__job_cancel_after_commit(m, j, true);
                if (srv__retry_take(m, j, RK_JOB_TIMEOUT, msg, false))
                    continue; /* the agent stops this attempt; the next waits */
                srv__job_store_status(m, j, RK_JOB_TIMEOUT, msg);
                srv__release_later(m, j);
                continue;
            }
            if (j->call || j->retry_at > now || a->unavailable)
                continue;
            if (j->st == SRV_J_ASKING)
                srv__job_poll(m, j, false);
            else if (j->st == SRV_J_WATCHING || j->st == SRV_J_STOPPING)
                srv__job_poll(m, j, true);
            else if (j->st == SRV_J_FETCHING)
                job_fetch_result(m, j);
        }
    }
}
