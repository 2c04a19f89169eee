/* Pause and resume of one job (jobs layer, manager thread; issue 11).
 *
 * A job its agent has not been sent yet (queued, or assigned with its POST
 * not out) is held here: stored paused, out of the queue and holding no
 * slot (SRV_J_HELD); resume stores it queued and puts it back in its old
 * place (the queue is ordered by priority, then arrival). A job on its
 * agent is paused there (POST /jobs/{id}/pause): its stored status turns
 * paused once the agent confirms, and the request waits for that; resume
 * likewise turns it running. The running clock of the server's backstop
 * timeout stops while it is paused. Both write ahead like every change: the
 * answer leaves after the commit that stores it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

/* The tracked job for a pause or resume, or NULL with w answered (404, or
 * 409 for a job that ended). */
static srv_job_t *find(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id, const char *verb)
{
    srv_job_t *j = srv__index_get(&m->index, job_id);
    if (j && !srv__job_ended_here(j))
        return j;
    rk_job_info_t ji = {0};
    int rc = j ? 0 : rk_store_job_get(m->store, job_id, false, &ji);
    if (rc) {
        char what[160];
        snprintf(what, sizeof what, "job %.128s", job_id);
        srv__answer_store_error(m, w, rc, what);
    } else {
        srv__answer_error(m, w, 409, "job %s cannot be %s: it is %s", job_id, verb,
                          rk_job_state_name(j ? j->status : ji.status.status));
    }
    rk_job_info_cleanup(&ji);
    return NULL;
}

static void control_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
static void control_dropped(rk_srv_mgr_t *m, srv_call_t *c);

/* Forwards a pause or resume of j to its agent; w waits for its answer. */
static void forward(rk_srv_mgr_t *m, rk_http_wait_t *w, srv_job_t *j, bool pause)
{
    char *url = srv__agent_url(j->agent, "/jobs/%s/%s", j->job_id, pause ? "pause" : "resume");
    rk_http_request_t req = {
        .method = "POST",
        .url = url,
        .token = j->agent->token,
        .connect_timeout_ms = 3000,
        .timeout_ms = 10000,
        .idempotent = true, /* the agent answers a repeat the same way */
        .retry = {.max_attempts = 2, .base_ms = 100, .max_ms = 1000},
    };
    srv_call_t *c = url ? srv__call_submit(m, m->tp->control, &req, control_answered,
                                           control_dropped, j, &j->control)
                        : NULL;
    free(url);
    if (!c) {
        srv__answer_error(m, w, 503, "cannot reach the agent of job %s now", j->job_id);
        return;
    }
    j->control_wait = w;
    j->control_pause = pause;
}

void srv__jobs_pause(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id)
{
    srv_job_t *j = find(m, w, job_id, "paused");
    if (!j)
        return;
    if (j->control) {
        srv__answer_error(m, w, 409, "job %s: a pause or resume is already under way", job_id);
        return;
    }
    bool unsent = j->st == SRV_J_QUEUED || (j->st == SRV_J_SENDING && !j->call);
    if (unsent) {
        srv__job_store_status(m, j, RK_JOB_PAUSED, "paused before it was sent to its agent");
        srv__job_to(j, SRV_J_HELD);
        srv__list_unlink(j);    /* a slot taken for it is free again */
        srv__job_unplace(m, j); /* placed from a pool: held there, unplaced */
        srv__held_add(j);
        srv__job_settle(m, j);
        srv__answer_change(m, w, 200, srv__job_info_json(j));
        m->again = true;
        return;
    }
    if (j->st == SRV_J_WATCHING && (j->status == RK_JOB_RUNNING || j->status == RK_JOB_ASSIGNED)) {
        forward(m, w, j, true);
        return;
    }
    srv__answer_error(m, w, 409, "job %s cannot be paused now: it is %s (%s)", job_id,
                      rk_job_state_name(j->status),
                      j->st == SRV_J_SENDING ? "being sent to its agent" : srv__jstate_name(j->st));
}

void srv__jobs_resume(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id)
{
    srv_job_t *j = find(m, w, job_id, "resumed");
    if (!j)
        return;
    if (j->control) {
        srv__answer_error(m, w, 409, "job %s: a pause or resume is already under way", job_id);
        return;
    }
    if (j->st == SRV_J_HELD) {
        srv__job_store_status(m, j, RK_JOB_QUEUED, "resumed: back in its place in the queue");
        srv__job_to(j, SRV_J_QUEUED);
        srv__list_unlink(j);
        if (!srv__delay_hold(m, j)) /* its not_before still ahead: it waits on */
            srv__queue_add(j);
        srv__answer_change(m, w, 200, srv__job_info_json(j));
        m->again = true;
        return;
    }
    if (j->status == RK_JOB_PAUSED && (j->st == SRV_J_WATCHING || j->st == SRV_J_ASKING)) {
        forward(m, w, j, false);
        return;
    }
    srv__answer_error(m, w, 409, "job %s is not paused: it is %s", job_id,
                      rk_job_state_name(j->status));
}

static void control_answered(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r)
{
    srv_job_t *j = c->ud;
    rk_http_wait_t *w = j->control_wait;
    bool pause = j->control_pause;
    j->control_wait = NULL;
    char detail[512];
    srv__answer_detail(r, detail, sizeof detail);
    if (r->err) {
        srv__agent_failed(m, j->agent, detail);
        srv__answer_error(m, w, 502, "the agent of job %s could not be reached: %s", j->job_id,
                          detail);
        return;
    }
    srv__agent_ok(m, j->agent);
    if (r->status < 200 || r->status >= 300) {
        int code = r->status == 404 || r->status == 409 ? 409 : 502;
        srv__answer_error(m, w, code, "job %s cannot be %s: the agent says %s", j->job_id,
                          pause ? "paused" : "resumed", detail);
        return;
    }
    if (srv__job_ended_here(j) || j->st == SRV_J_RELEASING || j->st == SRV_J_FETCHING) {
        srv__answer_error(m, w, 409, "job %s ended meanwhile: it is %s", j->job_id,
                          rk_job_state_name(j->status));
        return;
    }
    int64_t now = rk_time_mono_us();
    if (pause && j->status != RK_JOB_PAUSED) {
        srv__job_store_status(m, j, RK_JOB_PAUSED, "paused on its agent");
        j->paused_mono = now;
    } else if (!pause && j->status == RK_JOB_PAUSED) {
        srv__job_store_status(m, j, RK_JOB_RUNNING, "resumed on its agent");
        /* The backstop counts running time only. */
        if (j->paused_mono && j->running_mono)
            j->running_mono += now - j->paused_mono;
        j->paused_mono = 0;
    }
    srv__answer_change(m, w, 200, srv__job_info_json(j));
}

static void control_dropped(rk_srv_mgr_t *m, srv_call_t *c)
{
    srv_job_t *j = c->ud;
    srv__release(m, j->control_wait); /* 503: nothing was changed here */
    j->control_wait = NULL;
}
