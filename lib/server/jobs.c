/* One job's life in the manager (manager thread): its state and the only
 * function that changes it, the agent's queue and running list it sits
 * in, its stored status, the POST /jobs that waits for its first outcome,
 * cancellation, scheduling, and what happens to it when its agent is lost
 * or unregistered. Its traffic with the agent (what each answer does) is
 * in dispatch.c.
 *
 * Transitions (srv__job_to refuses any other):
 *
 *   QUEUED ──schedule (stored assigned)──> SENDING
 *   SENDING ──2xx──> WATCHING
 *           ──409 / 503 / unreachable (stored queued)──> QUEUED, at the front
 *           ──422 or other refusal, experiment gone (stored failed)──> RELEASING
 *           ──cancel, POST in flight (stored cancelled)──> SEND_CANCEL
 *           ──cancel, nothing sent yet (stored cancelled)──> RELEASING
 *   SEND_CANCEL ──2xx: DELETE sent──> STOPPING
 *               ──not taken──> RELEASING
 *   ASKING (recovered) ──status 404──> SENDING
 *                      ──status terminal──> FETCHING
 *                      ──status otherwise──> WATCHING
 *                      ──cancel failed on the agent (stored cancelled)──> STOPPING
 *   WATCHING ──status terminal──> FETCHING
 *            ──status 404: the agent lost it──> SENDING
 *            ──cancel of an assigned job (stored cancelled)──> STOPPING
 *            ──backstop timeout (stored timeout)──> RELEASING
 *   STOPPING ──status terminal──> FETCHING (result kept, status too)
 *            ──404, or the agent cannot be told──> RELEASING
 *   FETCHING ──result stored (status stored)──> RELEASING
 *   SENDING, ASKING, WATCHING, FETCHING ──attempt failed, retried
 *            (retry_mgr.c; stored queued)──> QUEUED, waiting for its backoff
 *   any but RELEASING ──agent lost (stored failed)──> RELEASING
 *   RELEASING ──after the commit──> slot free, job freed
 *
 *   QUEUED ──cancel, agent unregistered (stored cancelled)──> RELEASING
 *
 * Pause and resume (pause.c): a job not on its agent yet is held there:
 *   QUEUED, SENDING not sent ──pause (stored paused)──> HELD
 *   ASKING a recovered paused job ──status 404──> HELD
 *   HELD ──resume (stored queued)──> QUEUED, in its old place
 *        ──cancel, agent unregistered (stored cancelled)──> RELEASING
 * A job on its agent keeps its state (WATCHING): only its stored status
 * goes running <-> paused once the agent confirms.
 *
 * Dependencies (depend.c): a new or recovered job with unfinished ones
 * waits out of the queue, in the held list:
 *   (created, recovered) WAITING ──its last dependency ended──> QUEUED
 *   WAITING ──a dependency ended badly (afterok), cancel, agent
 *             unregistered (stored cancelled)──> RELEASING
 *   WAITING ──pause (stored paused)──> HELD ──resume, still waiting──> WAITING
 *
 * Drain (agent_sched.c): past a draining agent's deadline its jobs there
 *   SENDING, ASKING, WATCHING ──(stored queued; agent told to stop)──> QUEUED
 *
 * A RELEASING job keeps its place (queue or running list) until the
 * commit; if the commit fails it goes back to what it was (journal.c). A
 * job whose stored status
 * is terminal "ended here": a later report from the agent keeps it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/depend.h"
#include "server/mgr.h"

#define B(s) (1u << (s))
static const unsigned allowed[SRV_J_N] = {
    [SRV_J_QUEUED] = B(SRV_J_SENDING) | B(SRV_J_RELEASING) | B(SRV_J_HELD),
    [SRV_J_SENDING] = B(SRV_J_QUEUED) | B(SRV_J_WATCHING) | B(SRV_J_SEND_CANCEL) |
                      B(SRV_J_RELEASING) | B(SRV_J_HELD),
    [SRV_J_SEND_CANCEL] = B(SRV_J_STOPPING) | B(SRV_J_RELEASING),
    [SRV_J_ASKING] = B(SRV_J_SENDING) | B(SRV_J_FETCHING) | B(SRV_J_WATCHING) | B(SRV_J_STOPPING) |
                     B(SRV_J_RELEASING) | B(SRV_J_HELD) | B(SRV_J_QUEUED),
    [SRV_J_WATCHING] = B(SRV_J_FETCHING) | B(SRV_J_SENDING) | B(SRV_J_STOPPING) |
                       B(SRV_J_RELEASING) | B(SRV_J_QUEUED),
    [SRV_J_STOPPING] = B(SRV_J_FETCHING) | B(SRV_J_RELEASING),
    [SRV_J_FETCHING] = B(SRV_J_RELEASING) | B(SRV_J_QUEUED),
    [SRV_J_RELEASING] = 0,
    [SRV_J_HELD] = B(SRV_J_QUEUED) | B(SRV_J_RELEASING) | B(SRV_J_WAITING),
    [SRV_J_WAITING] = B(SRV_J_QUEUED) | B(SRV_J_RELEASING) | B(SRV_J_HELD),
};
#undef B

static const char *const names[SRV_J_N] = {
    "queued",   "sending",  "send_cancel", "asking", "watching",
    "fetching", "stopping", "releasing",   "held",   "waiting",
};

const char *srv__jstate_name(srv_jstate_t s)
{
    return s < SRV_J_N ? names[s] : "?";
}

void srv__job_to(srv_job_t *j, srv_jstate_t to)
{
    if (j->st == to)
        return;
    if (!(allowed[j->st] & (1u << to))) {
        rk_log_error("job manager: transition not allowed", "job_id", j->job_id, "from",
                     srv__jstate_name(j->st), "to", srv__jstate_name(to));
        abort();
    }
    j->st = to;
}

/* From the running list back to its place in its agent's queue, or in
 * its pool, unplaced. */
void srv__job_requeue(rk_srv_mgr_t *m, srv_job_t *j)
{
    srv__job_to(j, SRV_J_QUEUED);
    srv__list_unlink(j);
    srv__job_unplace(m, j);
    srv__queue_add(j);
}

static srv_job_t *job_new(rk_srv_mgr_t *m, const char *job_id, const char *experiment_id,
                          srv_agent_t *a)
{
    srv_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->job_id = strdup(job_id);
    j->experiment_id = strdup(experiment_id);
    j->message = strdup("");
    j->agent = a;
    if (!j->job_id || !j->experiment_id || !j->message || srv__index_put(&m->index, j)) {
        free(j->job_id);
        free(j->experiment_id);
        free(j->message);
        free(j);
        return NULL;
    }
    return j;
}

void srv__job_free(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (!j)
        return;
    if (j->waiter)
        srv__job_settle(m, j);
    srv__call_cancel(m, j->call);
    srv__call_cancel(m, j->cancel);
    srv__call_cancel(m, j->control); /* its waiting request gets 503 */
    srv__index_del(&m->index, j);
    srv__retry_free(m, j);
    if (j->home)
        srv__pool_unref(m, j->home);
    srv__deps_forget(j);
    free(j->job_id);
    free(j->experiment_id);
    free(j->message);
    free(j->agent_message);
    free(j);
}

void srv__job_released(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (j->agent && j->list == SRV_L_RUNNING)
        j->agent->freed_mono = rk_time_mono_us(); /* the slot gap counts from here */
    srv__list_unlink(j);
    srv__job_free(m, j);
}

/* ---- the stored status ---- */

json_t *srv__job_info_json(const srv_job_t *j)
{
    rk_job_info_t info = {
        .job_id = j->job_id,
        .experiment_id = j->experiment_id,
        .agent_id = j->agent ? j->agent->id : NULL,
        .selector_labels = j->home ? j->home->pool->selector : NULL,
        .created_time = j->created,
        .priority = j->prio,
        .exclusive = j->exclusive,
        /* one extra: retry_mgr.c keeps depend.c's waiting_for in it */
        .extra = j->rt ? j->rt->extra : srv__deps_extra(j),
        .status = {.status = j->status,
                   .timestamp = j->status_time,
                   .message = j->message,
                   .has_progress = j->has_progress,
                   .progress = j->progress},
    };
    return rk_job_info_encode(&info);
}

void srv__job_store_status(rk_srv_mgr_t *m, srv_job_t *j, rk_job_state_t st, const char *msg)
{
    rk_time_t now = rk_time_now_us();
    rk_job_status_t s = {.status = st, .timestamp = now, .message = (char *)msg};
    srv__journal_touch(m, j);
    int rc = srv__txn(m);
    if (!rc)
        rc = rk_store_job_set_status(m->store, j->job_id, &s);
    if (rc) { /* the whole batch fails: memory goes back at the flush */
        rk_log_error("storing a job status failed", "job_id", j->job_id, "error", rk_strerror(rc));
        srv__batch_error(m, rc);
    }
    char *copy = strdup(msg ? msg : "");
    if (copy) {
        if (j->journaled && !j->snap_message)
            j->snap_message = j->message; /* the stored one, kept for an undo */
        else
            free(j->message);
        j->message = copy;
    }
    j->status = st;
    j->status_time = now;
    rk_log_info("job status", "job_id", j->job_id, "agent_id", j->agent ? j->agent->id : NULL,
                "status", rk_job_state_name(st), "message", msg);
    srv__event(m, "job", srv__job_info_json(j));
    if (rk_job_state_terminal(st))
        srv__deps_ended(m, j); /* its dependents learn of it before the commit */
}

bool srv__job_ended_here(const srv_job_t *j)
{
    return rk_job_state_terminal(j->status);
}

/* ---- creation: the POST /jobs that waits for its jobs' first outcome ---- */

void srv__create_free(srv_create_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        rk_job_info_cleanup(&c->jobs[i]);
    free(c->jobs);
    free(c->timeouts);
    free(c->waiting);
    free(c);
}

/* Answers a create once none of its jobs waits any more; frees it. */
static void create_done(rk_srv_mgr_t *m, srv_create_t *c)
{
    if (--c->unsettled > 0)
        return;
    if (c->store_err) {
        srv__answer_store_error(m, c->wait, c->store_err, "jobs");
    } else if (c->key_busy) {
        srv__answer_error(m, c->wait, 409,
                          "Idempotency-Key: another request under this key created its job "
                          "meanwhile; retry to get that job");
    } else {
        json_t *body;
        if (c->single) {
            body = rk_job_info_encode(&c->jobs[0]);
        } else {
            json_t *arr = json_array();
            for (size_t i = 0; i < c->n; i++)
                json_array_append_new(arr, rk_job_info_encode(&c->jobs[i]));
            body = json_pack("{so}", "jobs", arr);
        }
        /* Its answer tells of this batch's changes when a job of it
         * changed in this batch: it then waits for the commit's outcome. */
        if (c->dirty_batch == m->batch + 1)
            srv__answer_change(m, c->wait, 201, body);
        else
            srv__answer_json(m, c->wait, 201, body);
    }
    for (srv_create_t **p = &m->fresh; *p; p = &(*p)->next_fresh) {
        if (*p == c) {
            *p = c->next_fresh;
            break;
        }
    }
    srv__create_free(c);
}

void srv__job_settle(rk_srv_mgr_t *m, srv_job_t *j)
{
    srv_create_t *c = j->waiter;
    if (!c)
        return;
    j->waiter = NULL;
    c->waiting[j->waiter_idx] = NULL;
    if (j->journaled)
        c->dirty_batch = m->batch + 1;
    rk_job_info_t *ji = &c->jobs[j->waiter_idx];
    if (!ji->agent_id && j->agent && j->agent->id) /* placed meanwhile */
        ji->agent_id = strdup(j->agent->id);
    rk_job_status_t *st = &ji->status;
    rk_job_status_cleanup(st);
    st->status = j->status;
    st->timestamp = j->status_time;
    st->message = strdup(j->message ? j->message : "");
    create_done(m, c);
}

/* 1 when a job (this batch's too: the lookup sees the open transaction)
 * holds ji's Idempotency-Key already, 0 when none does, else the store's
 * error. Another request under the key got past the handler's look
 * (idempotency.c) while this one did. */
static int key_taken(rk_srv_mgr_t *m, const rk_job_info_t *ji)
{
    char *id = NULL, *fp = NULL;
    int rc = rk_store_job_find_key(m->store, ji->idem_key, &id, &fp);
    free(id);
    free(fp);
    return rc == 0 ? 1 : rc == RK_ENOENT ? 0 : rc;
}

void srv__jobs_create(rk_srv_mgr_t *m, srv_create_t *c)
{
    /* One count per job plus one held until every job is placed. */
    c->unsettled = c->n + 1;
    c->next_fresh = m->fresh;
    m->fresh = c;
    srv__deps_prepare(m, c);
    for (size_t i = 0; i < c->n; i++) {
        rk_job_info_t *ji = &c->jobs[i];
        /* No agent: the job waits in the pool of jobs like it (pools.c). */
        srv_agent_t *a =
            ji->agent_id ? srv__agent_find(m, ji->agent_id)
                         : srv__pool_get(m, ji->experiment_id, ji->selector_labels, ji->exclusive);
        if (a && a->leaving) /* being unregistered: it takes no more jobs */
            a = NULL;
        ji->status.status = a ? RK_JOB_QUEUED : RK_JOB_FAILED;
        ji->status.timestamp = ji->created_time;
        free(ji->status.message);
        ji->status.message = strdup(a              ? "queued"
                                    : ji->agent_id ? "agent is not registered"
                                                   : "out of memory");
        int64_t seq = 0;
        int rc = srv__txn(m);
        if (!rc && ji->idem_key && (rc = key_taken(m, ji)) > 0) {
            c->key_busy = true;
            ji->status.status = RK_JOB_FAILED;
            c->unsettled--;
            continue;
        }
        /* Ids are 32 random bits: the store refuses one it holds, and the
         * job takes another (no read ahead of each insert). */
        for (int tries = 0;
             !rc && (rc = rk_store_job_insert(m->store, ji, &seq)) == RK_EEXIST && tries < 8;
             tries++) {
            char id[RK_JOB_ID_SIZE];
            if ((rc = rk_job_id_generate(id)) == 0) {
                free(ji->job_id);
                rc = (ji->job_id = strdup(id)) ? 0 : RK_ENOMEM;
            }
        }
        srv_job_t *j = rc == 0 && a ? job_new(m, ji->job_id, ji->experiment_id, a) : NULL;
        if (rc == 0 && a && !j)
            rc = RK_ENOMEM; /* stored queued but not tracked: undo it */
        if (rc) {           /* the batch fails; this create is answered 503 */
            rk_log_error("storing a new job failed", "job_id", ji->job_id, "error",
                         rk_strerror(rc));
            srv__batch_error(m, rc);
            c->store_err = rc;
        }
        if (!j) {
            ji->status.status = RK_JOB_FAILED;
            c->dirty_batch = m->batch + 1;
            c->unsettled--;
            continue;
        }
        j->seq = seq;
        if (a->pool) {
            j->home = a;
            srv__pool_ref(a);
        }
        j->prio = ji->priority;
        j->exclusive = ji->exclusive;
        j->created = ji->created_time;
        j->st = SRV_J_QUEUED;
        j->status = RK_JOB_QUEUED;
        j->created_mono = rk_time_mono_us(); /* dispatch latency counts from here */
        j->attempt_known = true;             /* a new job's first attempt: 0 */
        j->status_time = ji->created_time;
        free(j->message);
        j->message = strdup("queued");
        j->timeout_s = c->timeouts[i];
        if (srv__retry_attach(j, ji->extra)) /* it runs once, at once */
            rk_log_error("no memory for a job's retry policy", "job_id", j->job_id);
        j->waiter = c;
        j->waiter_idx = i;
        c->waiting[i] = j;
        srv__journal_new(m, j);
        srv__event(m, "job", srv__job_info_json(j));
        if (a->known_error) {
            srv__job_store_status(m, j, RK_JOB_FAILED,
                                  "agent reports status error: it cannot run jobs");
            srv__job_settle(m, j);
            srv__release_later(m, j); /* freed after the commit */
            continue;
        }
        /* Waiting for dependencies, or for a not_before ahead: not queued yet. */
        if (!srv__deps_hold(m, j, ji) && !srv__delay_hold(m, j))
            srv__queue_add(j);
    }
    srv__deps_created(m, c);
    m->again = true;
    create_done(m, c); /* the hold; answers now if nothing waits */
}

void srv__jobs_settle_fresh(rk_srv_mgr_t *m)
{
    /* Each create knows its own jobs: no walk over the (maybe huge) queues. */
    while (m->fresh) {
        srv_create_t *c = m->fresh;
        m->fresh = c->next_fresh;
        c->next_fresh = NULL;
        for (size_t i = 0, n = c->n; c && i < n; i++) {
            srv_job_t *j = c->waiting[i];
            if (!j || j->st != SRV_J_QUEUED) /* being sent: its answer settles it */
                continue;
            bool last = c->unsettled == 1;
            srv__job_settle(m, j);
            if (last)
                c = NULL;
        }
    }
}

/* ---- cancellation ---- */

int srv__job_cancel(rk_srv_mgr_t *m, srv_job_t *j, bool force)
{
    j->force = j->force || force;
    if (j->st == SRV_J_QUEUED || j->st == SRV_J_HELD || j->st == SRV_J_WAITING) {
        /* It keeps its place until the commit frees it (or, if the commit
         * fails, stays queued or held). */
        srv__job_store_status(m, j, RK_JOB_CANCELLED,
                              j->st == SRV_J_HELD ? "cancelled by request while paused"
                                                  : "cancelled by request while queued");
        srv__release_later(m, j);
        return 200;
    }
    if (j->status == RK_JOB_ASSIGNED) {
        /* Not started: cancelled at once; the agent is told, and the slot
         * stays taken until it lets go of the job. */
        srv__job_store_status(m, j, RK_JOB_CANCELLED, "cancelled by request before it started");
        if (j->st == SRV_J_SENDING && j->call) {
            srv__job_to(j, SRV_J_SEND_CANCEL);
        } else if (j->st == SRV_J_SENDING) {
            srv__release_later(m, j); /* never reached the agent */
        } else {
            if (j->st == SRV_J_WATCHING || j->st == SRV_J_ASKING)
                srv__job_to(j, SRV_J_STOPPING);
            srv__job_cancel_after_commit(m, j, false);
        }
        return 200;
    }
    srv__job_send_cancel(m, j, j->agent, false);
    return 202;
}

void srv__jobs_cancel(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id, bool force)
{
    rk_job_info_t ji = {0};
    int rc = rk_store_job_get(m->store, job_id, false, &ji);
    if (rc) {
        char what[160];
        snprintf(what, sizeof what, "job %.128s", job_id);
        srv__answer_store_error(m, w, rc, what);
        return;
    }
    srv_job_t *j = srv__index_get(&m->index, job_id);
    if (!j || srv__job_ended_here(j)) {
        srv__answer_error(m, w, 409, "job %s already finished: %s", job_id,
                          rk_job_state_name(j ? j->status : ji.status.status));
        rk_job_info_cleanup(&ji);
        return;
    }
    rk_job_info_cleanup(&ji);
    int code = srv__job_cancel(m, j, force);
    if (code == 200)
        srv__answer_change(m, w, 200, srv__job_info_json(j));
    else
        srv__answer_json(m, w, 202, srv__job_info_json(j));
}

/* ---- priority ---- */

void srv__jobs_priority(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id,
                        rk_job_priority_t prio)
{
    srv_job_t *j = srv__index_get(&m->index, job_id);
    if (!j) {
        rk_job_info_t ji = {0};
        int rc = rk_store_job_get(m->store, job_id, false, &ji);
        char what[160];
        snprintf(what, sizeof what, "job %.128s", job_id);
        if (rc)
            srv__answer_store_error(m, w, rc, what);
        else
            srv__answer_error(m, w, 409, "job %s already started: %s", job_id,
                              rk_job_state_name(ji.status.status));
        rk_job_info_cleanup(&ji);
        return;
    }
    /* A paused job that never reached its agent (held) may change too:
     * resume puts it back at the place of its new priority. */
    bool held = (j->st == SRV_J_HELD && j->status == RK_JOB_PAUSED) || j->st == SRV_J_WAITING;
    if (!held && (j->st != SRV_J_QUEUED || j->status != RK_JOB_QUEUED)) {
        srv__answer_error(m, w, 409, "job %s already started: %s", job_id,
                          rk_job_state_name(j->status));
        return;
    }
    if (j->prio != prio) {
        srv__journal_touch(m, j); /* a failed commit puts it back where it was */
        int rc = srv__txn(m);
        if (!rc)
            rc = rk_store_job_set_priority(m->store, j->job_id, prio);
        if (rc) {
            rk_log_error("storing a job priority failed", "job_id", j->job_id, "error",
                         rk_strerror(rc));
            srv__batch_error(m, rc);
        }
        if (held || srv__delay_holds(j)) {
            j->prio = prio;
        } else {
            srv__list_unlink(j);
            j->prio = prio;
            srv__queue_add(j);
        }
        srv__event(m, "job", srv__job_info_json(j));
    }
    srv__answer_change(m, w, 200, srv__job_info_json(j));
}

/* ---- scheduling: queued jobs go out as soon as their agent has a slot ---- */

/* Open with `freeing` of its running jobs ending in this batch. */
static bool open_but(const srv_agent_t *a, int64_t now, size_t freeing)
{
    return !a->unavailable && !a->first_fail && a->hold_until <= now && !a->leaving &&
           a->sched == RK_SRV_SCHED_ENABLED && (int64_t)(a->n_running - freeing) < a->slots &&
           !a->n_exclusive;
}

bool srv__agent_open(const srv_agent_t *a, int64_t now)
{
    return open_but(a, now, 0);
}

/* Assigns the first jobs of a's queue while a has a free slot, counting
 * `freeing` of its running jobs as gone (their ends are in this batch). An
 * exclusive job starts only on an idle agent, and nothing starts beside
 * one: the queue waits (in its order) until it is alone. A pool's better
 * job may keep the slot (srv__pools_beat). */
static void fill_agent(rk_srv_mgr_t *m, srv_agent_t *a, int64_t now, size_t freeing)
{
    srv_job_t *j;
    while (open_but(a, now, freeing) && (j = srv__queue_first(a)) && j->st == SRV_J_QUEUED &&
           !(j->exclusive && a->n_running > freeing) &&
           !(m->pools && srv__pools_beat(m, a, j, now)))
        srv__job_assign(m, j);
}

void srv__jobs_refill(rk_srv_mgr_t *m)
{
    if (!m->rel_head || m->batch_err || !m->in_txn)
        return;
    int64_t now = rk_time_mono_us();
    for (srv_job_t *r = m->rel_head; r; r = r->rel_next)
        if (r->agent && !r->agent->pool && r->list == SRV_L_RUNNING)
            r->agent->freeing++;
    for (srv_job_t *r = m->rel_head; r; r = r->rel_next) {
        srv_agent_t *a = r->agent;
        if (!a || a->pool || !a->freeing)
            continue;
        fill_agent(m, a, now, a->freeing);
        a->freeing = 0; /* each agent once */
    }
}

void srv__job_assign(rk_srv_mgr_t *m, srv_job_t *j)
{
    /* Write ahead: assigned is stored (in this batch, committed before the
     * request leaves) before the agent hears of it. */
    srv__job_store_status(m, j, RK_JOB_ASSIGNED, "sent to the agent");
    srv__job_to(j, SRV_J_SENDING);
    srv__list_unlink(j);
    srv__running_add(j);
    j->retry_at = 0;
}

void srv__jobs_schedule(rk_srv_mgr_t *m, int64_t now)
{
    /* Each agent's own queue, then the pools' jobs; a round of both until
     * the pools place nothing more (an agent's slot left for a pool's
     * better job may be its own queue's again once that job went
     * elsewhere). Each round places a job or ends: bounded by the slots. */
    do {
        for (srv_agent_t *a = m->agents; a; a = a->next)
            fill_agent(m, a, now, 0);
    } while (m->pools && srv__pools_place(m, now));
}

void srv__jobs_send_due(rk_srv_mgr_t *m, int64_t now)
{
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        for (srv_job_t *j = a->r_head; j; j = j->next) {
            if (j->call || j->retry_at > now)
                continue;
            if (j->st == SRV_J_SENDING)
                srv__job_send(m, j);
        }
    }
}

/* ---- when the agent goes ---- */

void srv__jobs_agent_lost(rk_srv_mgr_t *m, srv_agent_t *a, const char *msg)
{
    /* Backwards, so jobs put back at the front keep their order. */
    srv_job_t *prev;
    for (srv_job_t *j = a->r_tail; j; j = prev) {
        prev = j->prev;
        if (j->st == SRV_J_RELEASING)
            continue;
        srv__call_cancel(m, j->call);
        if (j->st == SRV_J_SENDING && !srv__job_ended_here(j)) {
            srv__job_store_status(m, j, RK_JOB_QUEUED, "agent unreachable; back in the queue");
            srv__job_requeue(m, j);
            srv__job_settle(m, j);
            continue;
        }
        /* Its policy may retry the attempt (retry_mgr.c): lost, or ended on
         * the agent as reported (a completed one is not retried). */
        bool fetching = j->st == SRV_J_FETCHING;
        if (!srv__job_ended_here(j) &&
            srv__retry_take(m, j, fetching ? j->agent_state : RK_JOB_FAILED, msg, !fetching))
            continue;
        if (!srv__job_ended_here(j)) {
            if (j->st == SRV_J_FETCHING) {
                char m2[1200];
                snprintf(m2, sizeof m2, "%.900s; result not fetched: %s",
                         j->agent_message ? j->agent_message : "", msg);
                srv__job_store_status(m, j, j->agent_state, m2);
            } else {
                srv__job_store_status(m, j, RK_JOB_FAILED, msg);
            }
        }
        srv__job_settle(m, j);
        srv__release_later(m, j);
    }
}

size_t srv__jobs_agent_gone(rk_srv_mgr_t *m, srv_agent_t *a, const char *msg, size_t max)
{
    /* RELEASING jobs sit at the front (taken by an earlier batch whose
     * commit is pending); the loop stops at the budget. */
    size_t n = 0;
    int64_t t0 = rk_time_mono_us();
    for (int pass = 0; pass < 3 && n < max; pass++) { /* held, queued, running */
        srv_job_t *first = pass == 0 ? a->h_head : pass == 1 ? srv__queue_first(a) : a->r_head;
        for (srv_job_t *j = first, *next; j && n < max; j = next) {
            next = pass == 1 ? srv__queue_next(j) : j->next;
            if (j->st == SRV_J_RELEASING)
                continue;
            if (!srv__job_ended_here(j))
                srv__job_store_status(m, j, RK_JOB_CANCELLED, msg);
            if (pass == 2 && !a->unavailable && j->st != SRV_J_SENDING &&
                j->st != SRV_J_SEND_CANCEL)
                srv__job_cancel_after_commit(m, j, true);
            srv__release_later(m, j);
            if (++n % 64 == 0 && rk_time_mono_us() - t0 > SRV_LEAVE_BUDGET_US)
                return n;
        }
    }
    if (n < max) /* jobs waiting for their not_before */
        n += srv__delay_agent_gone(m, a, msg);
    return n;
}

void srv__jobs_free_all(rk_srv_mgr_t *m, srv_agent_t *a)
{
    srv_job_t *j;
    while ((j = srv__queue_first(a))) {
        srv__list_unlink(j);
        srv__job_free(m, j);
    }
    while ((j = a->r_head) || (j = a->h_head)) {
        srv__list_unlink(j);
        srv__job_free(m, j);
    }
}

int srv__jobs_recover(rk_srv_mgr_t *m, srv_agent_t *a, const rk_job_brief_t *b)
{
    srv_job_t *j = job_new(m, b->job_id, b->experiment_id, a);
    if (!j)
        return RK_ENOMEM;
    j->seq = b->seq;
    j->status = b->state;
    j->prio = b->priority;
    j->exclusive = b->exclusive;
    /* Its policy and start time (retry_mgr.c), and the dependencies it
     * still waits for (depend.c: judged at the end of recovery). */
    if (srv__retry_attach(j, b->extra) || srv__deps_recovered(m, j, b->extra)) {
        srv__job_free(m, j);
        return RK_ENOMEM;
    }
    bool waits = b->state == RK_JOB_QUEUED && srv__deps_waiting(j);
    if (a->pool) {
        /* Unplaced: queued, or held (paused before it was placed). */
        j->home = a;
        srv__pool_ref(a);
        j->st = b->state == RK_JOB_PAUSED ? SRV_J_HELD : waits ? SRV_J_WAITING : SRV_J_QUEUED;
        if (j->st != SRV_J_QUEUED)
            srv__held_add(j);
        else if (!srv__delay_hold(m, j)) /* a not_before ahead: it waits on */
            srv__queue_add(j);
    } else if (b->state == RK_JOB_QUEUED) {
        j->st = waits ? SRV_J_WAITING : SRV_J_QUEUED;
        if (waits)
            srv__held_add(j);
        else if (!srv__delay_hold(m, j))
            srv__queue_add(j);
    } else {
        /* Assigned, running or paused before the restart: ask the agent
         * (a paused job it does not have was held here). */
        j->st = SRV_J_ASKING;
        srv__running_add(j);
    }
    return 0;
}
