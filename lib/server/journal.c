/* The batch's undo (jobs layer, manager thread). A batch's store writes
 * commit together; when the commit fails (or one of its writes did),
 * memory must go back to what the store holds, so no one is told of a
 * change and no slot is reused that the store does not know of
 * (docs/architecture.md, "When a commit fails").
 *
 * Every job records, at its first store write in a batch, what it was:
 * its state, its priority, its stored status and which list it sat in. That record
 * lives in the job itself, so keeping it cannot fail. On a failed commit
 * the batch's jobs are put back, newest change first, so jobs a schedule
 * took from the front of a queue return to it in their order. A job put
 * back owes its state's request again (re-sent, re-polled, re-fetched: the
 * agent answers the same job_id the same way), so none is kept in flight.
 * Jobs created in the batch are dropped and their POST /jobs answered 503.
 * A DELETE a change asks of the agent (a stored cancel, a timeout) rides
 * on the same record and leaves after the commit, or never.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

void srv__journal_touch(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (j->journaled)
        return;
    j->journaled = true;
    j->snap_new = false;
    j->snap_st = j->st;
    j->snap_agent = j->agent;
    j->snap_prio = j->prio;
    j->snap_status = j->status;
    j->snap_time = j->status_time;
    j->snap_message = NULL; /* taken from j->message at the first change */
    j->jnext = m->journal;
    m->journal = j;
}

void srv__journal_new(rk_srv_mgr_t *m, srv_job_t *j)
{
    srv__journal_touch(m, j);
    j->snap_new = true;
}

void srv__job_cancel_after_commit(rk_srv_mgr_t *m, srv_job_t *j, bool forget)
{
    srv__journal_touch(m, j);
    j->tell = forget ? SRV_TELL_FORGET : SRV_TELL_CANCEL;
    j->tell_agent = j->agent;
}

void srv__journal_committed(rk_srv_mgr_t *m)
{
    while (m->journal) {
        srv_job_t *j = m->journal;
        m->journal = j->jnext;
        j->jnext = NULL;
        j->journaled = false;
        free(j->snap_message);
        j->snap_message = NULL;
        /* The agent hears of a stored cancel or timeout now, before the
         * job's slot is freed. */
        if (j->tell)
            srv__job_send_cancel(m, j, j->tell_agent, j->tell == SRV_TELL_FORGET);
        j->tell = SRV_TELL_NONE;
    }
}

static void put_back(rk_srv_mgr_t *m, srv_job_t *j)
{
    srv__call_cancel(m, j->call);
    j->retry_at = 0;
    /* An undo, not a transition: the table's arrows do not run backwards. */
    j->st = j->snap_st;
    j->status = j->snap_status;
    j->status_time = j->snap_time;
    if (j->snap_message) {
        free(j->message);
        j->message = j->snap_message;
        j->snap_message = NULL;
    }
    unsigned char want = j->st == SRV_J_QUEUED ? SRV_L_QUEUE
                         : j->st == SRV_J_HELD ? SRV_L_HELD
                                               : SRV_L_RUNNING;
    if (want == SRV_L_QUEUE && srv__delay_holds(j)) {
        /* Still waiting for its not_before (retry_mgr.c): out of the queue. */
        srv__list_unlink(j);
        j->agent = j->snap_agent;
        j->prio = j->snap_prio;
    } else if (j->list != want || j->prio != j->snap_prio || j->agent != j->snap_agent) {
        srv__list_unlink(j);
        j->agent = j->snap_agent; /* placed from its pool, or back to it */
        j->prio = j->snap_prio;
        if (want == SRV_L_QUEUE)
            srv__queue_add(j);
        else if (want == SRV_L_HELD)
            srv__held_add(j);
        else
            srv__running_add(j);
    }
    /* An agent whose loss could not be stored is lost again at its next
     * tick (its first failure is still known). */
    if (!j->agent->pool && j->agent->unavailable && want == SRV_L_RUNNING)
        j->agent->unavailable = false;
}

void srv__journal_failed(rk_srv_mgr_t *m, int err)
{
    /* Released slots of the batch are not freed: drop them from the list
     * before the jobs go back (a job created in the batch is freed). */
    srv_job_t *keep_head = NULL, *keep_tail = NULL;
    for (srv_job_t *j = m->rel_head, *next; j; j = next) {
        next = j->rel_next;
        j->rel_next = NULL;
        if (j->journaled)
            continue;
        if (keep_tail)
            keep_tail->rel_next = j;
        else
            keep_head = j;
        keep_tail = j;
    }
    m->rel_head = keep_head;
    m->rel_tail = keep_tail;

    size_t n = 0;
    while (m->journal) {
        srv_job_t *j = m->journal;
        m->journal = j->jnext;
        j->jnext = NULL;
        j->journaled = false;
        j->tell = SRV_TELL_NONE; /* the agent hears of nothing uncommitted */
        n++;
        if (j->snap_new) {
            if (j->waiter)
                j->waiter->store_err = err;
            srv__list_unlink(j);
            free(j->snap_message);
            j->snap_message = NULL;
            srv__job_free(m, j);
            continue;
        }
        put_back(m, j);
    }
    char nj[24];
    snprintf(nj, sizeof nj, "%zu", n);
    rk_log_error("store commit failed: the batch is rolled back and its jobs put back", "jobs", nj,
                 "error", rk_strerror(err));
}
