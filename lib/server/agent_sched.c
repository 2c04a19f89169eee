/* An agent's scheduling (agents layer, manager thread; issue 11): POST
 * /agents/{id}/pause stops new dispatches to it (its running jobs go on),
 * /resume starts them again, /drain pauses it and, past its deadline,
 * stops its running jobs and puts them back in its queue (stored queued,
 * the attempt noted in the history), not failed.
 *
 * The scheduling is a store record of its own (RK_SRV_SCHED_DOC, absent
 * for enabled), committed on its own before memory changes and the answer
 * leaves, so it survives a restart and a re-registration of the agent. A drain's deadline is
 * stored as wall time and re-armed at recovery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

const char *const rk_srv_sched_names[RK_SRV_SCHED_COUNT] = {"enabled", "paused", "draining"};

int rk_srv_sched_read(rk_store_t *store, const char *agent_id, rk_srv_sched_t *out,
                      rk_time_t *deadline)
{
    *out = RK_SRV_SCHED_ENABLED;
    if (deadline)
        *deadline = 0;
    char *text = NULL;
    int rc = rk_store_doc_get(store, RK_SRV_SCHED_DOC, agent_id, &text);
    if (rc)
        return rc == RK_ENOENT || rc == RK_EUNSUP ? 0 : rc;
    json_t *v = json_loads(text, 0, NULL);
    free(text);
    const char *name = json_string_value(json_object_get(v, "scheduling"));
    for (int i = 0; name && i < RK_SRV_SCHED_COUNT; i++)
        if (strcmp(name, rk_srv_sched_names[i]) == 0)
            *out = (rk_srv_sched_t)i;
    const char *d = json_string_value(json_object_get(v, "drain_deadline"));
    if (deadline && d && rk_time_parse(d, deadline))
        *deadline = 0;
    json_decref(v);
    return 0;
}

/* The mono µs of wall time t from now (t 0: 0). */
static int64_t mono_of(rk_time_t t)
{
    if (!t)
        return 0;
    int64_t left = t - rk_time_now_us();
    return rk_time_mono_us() + (left > 0 ? left : 0);
}

int srv__agent_sched_load(rk_srv_mgr_t *m, srv_agent_t *a)
{
    rk_time_t deadline = 0;
    int rc = rk_srv_sched_read(m->store, a->id, &a->sched, &deadline);
    a->drain_at = a->sched == RK_SRV_SCHED_DRAINING ? mono_of(deadline) : 0;
    return rc;
}

void srv__agent_schedule(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id,
                         rk_srv_sched_t to, double deadline_s)
{
    srv_agent_t *a = srv__agent_find(m, agent_id);
    rk_registered_agent_t reg = {0};
    int rc = a ? rk_store_agent_get(m->store, agent_id, &reg) : RK_ENOENT;
    if (rc) {
        char what[160];
        snprintf(what, sizeof what, "agent %.128s", agent_id);
        srv__answer_store_error(m, w, rc, what);
        return;
    }
    rk_time_t deadline = to == RK_SRV_SCHED_DRAINING && deadline_s >= 0
                             ? rk_time_now_us() + (rk_time_t)(deadline_s * 1e6)
                             : 0;
    /* Its own commit, as a registration: memory follows a stored change. */
    srv__flush(m);
    rc = srv__txn(m);
    if (!rc && to == RK_SRV_SCHED_ENABLED) {
        rc = rk_store_doc_delete(m->store, RK_SRV_SCHED_DOC, agent_id);
        rc = rc == RK_ENOENT ? 0 : rc;
    } else if (!rc) {
        json_t *v = json_pack("{s:s}", "scheduling", rk_srv_sched_names[to]);
        if (v && deadline)
            rk_json_set_time(v, "drain_deadline", deadline);
        char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
        rc = text ? rk_store_doc_put(m->store, RK_SRV_SCHED_DOC, agent_id, text) : RK_ENOMEM;
        free(text);
        json_decref(v);
    }
    srv__batch_error(m, rc);
    rc = srv__flush(m);
    if (rc) {
        rk_log_error("storing an agent's scheduling failed", "agent_id", agent_id, "error",
                     rk_strerror(rc));
        srv__answer_store_error(m, w, rc, "agent scheduling");
        rk_registered_agent_cleanup(&reg);
        return;
    }
    a->sched = to;
    a->drain_at = to == RK_SRV_SCHED_DRAINING ? (deadline ? mono_of(deadline) : 0) : 0;
    json_t *body = rk_registered_agent_encode(&reg);
    if (body) {
        json_object_del(body, RK_SRV_TOKEN_KEY);
        json_object_set_new(body, "scheduling", json_string(rk_srv_sched_names[to]));
    }
    rk_log_info("agent scheduling", "agent_id", agent_id, "scheduling", rk_srv_sched_names[to]);
    srv__event(m, "agent",
               json_pack("{s:s,s:s,s:s}", "agent_id", agent_id, "event", rk_srv_sched_names[to],
                         "agent_url", a->url));
    srv__answer_json(m, w, 200, body);
    m->again = true;
    rk_registered_agent_cleanup(&reg);
}

void srv__agents_drain_tick(rk_srv_mgr_t *m, int64_t now)
{
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        if (a->sched != RK_SRV_SCHED_DRAINING || !a->drain_at || now < a->drain_at)
            continue;
        srv_job_t *prev;
        bool later = false; /* a job to take back at the next tick */
        /* Backwards, as an agent's loss does: each goes back to its place. */
        for (srv_job_t *j = a->r_tail; j; j = prev) {
            prev = j->prev;
            if (j->st == SRV_J_RELEASING || srv__job_ended_here(j) || j->st == SRV_J_FETCHING ||
                j->st == SRV_J_SEND_CANCEL || j->st == SRV_J_STOPPING)
                continue;
            char msg[200];
            snprintf(msg, sizeof msg,
                     "agent %.64s drained past its deadline: stopped there, back in the queue",
                     a->id);
            /* A POST in flight: whether the agent took the job is not
             * known yet, and a DELETE could overtake the POST; once it is
             * answered, the next tick takes the job back. */
            int64_t attempt = j->st == SRV_J_SENDING && j->call ? -1 : srv__job_attempt(m, j);
            if (attempt < 0) { /* or the store cannot say now */
                later = true;
                continue;
            }
            srv__call_cancel(m, j->call);
            /* Sent again later as the next attempt, which the agent runs
             * anew where it still holds this one stopped. */
            char doc[48];
            snprintf(doc, sizeof doc, "{\"attempt\":%lld}", (long long)attempt + 1);
            srv__journal_touch(m, j);
            int rc = srv__txn(m);
            if (!rc)
                rc = rk_store_doc_put(m->store, RK_SRV_ATTEMPT_DOC, j->job_id, doc);
            srv__batch_error(m, rc);
            j->attempt = attempt + 1;
            if (j->st != SRV_J_SENDING)
                srv__job_cancel_after_commit(m, j, true); /* the agent stops it */
            srv__job_store_status(m, j, RK_JOB_QUEUED, msg);
            srv__job_requeue(m, j);
            j->running_mono = 0;
            j->paused_mono = 0;
        }
        if (!later)
            a->drain_at = 0; /* done: it stays draining (paused) until resumed */
    }
}
