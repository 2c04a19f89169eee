/* HTTP handlers of the agent API (protocol.md, "Agent API"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "agent/openapi.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "model/json.h"
#include "sysinfo/sysinfo.h"

static void h_health(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req;
    rk_agent_t *a = ud;
    rk_http_resp_json_take(resp, 200, json_pack("{s:s,s:s}", "status", "ok", "agent_id", a->id));
}

static void h_info(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req;
    rk_http_resp_json_take(resp, 200, rk_agent_info_json(ud));
}

static void h_status(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req;
    rk_agent_t *a = ud;
    rk_buf_t b;
    rk_buf_init(&b, SIZE_MAX); /* grows with the open jobs listed */
    pthread_mutex_lock(&a->mu);
    int rc = agent__status_text(a, &b);
    pthread_mutex_unlock(&a->mu);
    if (rc)
        rk_http_resp_error(resp, 503, "out of memory");
    else
        rk_http_resp_bytes(resp, 200, "application/json", rk_buf_str(&b), b.len);
    rk_buf_cleanup(&b);
}

static json_t *accepted(const char *id)
{
    return json_pack("{s:s,s:s}", "job_id", id, "status", "accepted");
}

/* Drops finished job old (its folder, then its record in memory) for a
 * later attempt of it. RK_EIO when its folder could not be removed (old is
 * kept). mu held. */
static int retire(rk_agent_t *a, job_t *old)
{
    if (agent__rmtree(old->dir) != RK_OK)
        return RK_EIO;
    rk_log_info("job sent again as a later attempt; the earlier one is dropped", "job_id", old->id);
    agent__job_remove(a, old);
    agent__job_free(old);
    agent__recent_settle(a);
    return RK_OK;
}

static void h_submit(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_agent_t *a = ud;
    json_t *body = NULL;
    rk_execute_request_t rq = {0};
    rk_verr_t e = {{0}};
    job_t *j = NULL;
    if (rk_http_req_json(req, resp, &body) != 0)
        return;
    if (rk_execute_request_decode(body, "", &rq, &e) != 0) {
        rk_http_resp_error(resp, 422, e.msg);
        goto out;
    }
    rk_task_type_t t = rq.spec.task.type;
    if (t != RK_TASK_COMMAND && t != RK_TASK_MEMORY_BENCHMARK && t != RK_TASK_COMPUTE_BENCHMARK &&
        t != RK_TASK_LLM_GENERATION) {
        rk_http_resp_errorf(resp, 422,
                            "experiment_spec.task.type: %s is not supported by this agent",
                            rk_task_type_name(t));
        goto out;
    }
    /* Isolation this agent cannot give (checked without mu: it lists the
     * images folder). */
    char why[768];
    int refused = agent__isolation_check(a, &rq.spec.params, why, sizeof why);
    pthread_mutex_lock(&a->mu);
    /* Idempotent before anything else: a re-sent job is never run twice.
     * Only a later attempt (the server stopped the job here itself and
     * sends it again) replaces a finished one; while the earlier attempt
     * is still stopping, the slot is not free. */
    job_t *old = agent__job_find(a, rq.job_id);
    bool again = old && rq.attempt > old->attempt;
    if (again && !rk_job_state_terminal(old->state)) {
        rk_http_resp_errorf(resp, 409,
                            "no free slot: attempt %lld of job %s waits for attempt %lld "
                            "to stop",
                            (long long)rq.attempt, rq.job_id, (long long)old->attempt);
    } else if (old && !again) {
        rk_http_resp_json_take(resp, 200, accepted(rq.job_id));
    } else if (refused) {
        rk_http_resp_error(resp, refused, why);
    } else if (a->stopping) {
        rk_http_resp_error(resp, 503, "agent is shutting down");
    } else if (!agent__writable(a)) {
        rk_http_resp_errorf(resp, 503, "agent cannot store jobs: %s", a->probe_reason);
    } else if (a->active >= a->s->slots) {
        rk_http_resp_errorf(resp, 409, "no free slot: %lld of %lld busy", (long long)a->active,
                            (long long)a->s->slots);
    } else if (again && retire(a, old) != RK_OK) {
        rk_http_resp_errorf(resp, 503, "cannot remove attempt %lld of job %s: %s",
                            (long long)old->attempt, rq.job_id, strerror(errno));
    } else if (!(j = calloc(1, sizeof *j)) ||
               asprintf(&j->dir, "%s/%s", a->jobs_dir, rq.job_id) < 0 ||
               !(j->experiment_id = strdup(rq.spec.id)) || !(j->message = strdup("accepted"))) {
        if (j)
            j->dir = NULL;
        rk_http_resp_error(resp, 503, "out of memory");
    } else {
        j->agent = a;
        snprintf(j->id, sizeof j->id, "%s", rq.job_id);
        j->type = t;
        j->attempt = rq.attempt;
        j->state = RK_JOB_ASSIGNED;
        j->accepted_at = j->changed_at = rk_time_now_us();
        j->request = json_incref(body);
        j->req = rq;
        j->has_req = true;
        memset(&rq, 0, sizeof rq);
        /* A job that starts at once is stored once, already running: that
         * record is both "stored before accepted" and "stored running
         * before spawned". */
        bool now = a->start_delay_ms <= 0;
        if (now)
            agent__job_mark_running(j);
        if (agent__job_dir_new(a, j->dir) != 0 || agent__job_persist_new(a, j) != 0 ||
            (a->s->sync == RK_AGENT_SYNC_FULL && agent__sync_dir(a->jobs_dir) != 0)) {
            rk_http_resp_errorf(resp, 503, "cannot store the job: %s", strerror(errno));
            a->probe_mono = 0; /* re-probe now: the disk may have filled */
            pthread_cond_broadcast(&a->cond);
            agent__rmtree(j->dir);
        } else {
            agent__job_insert(a, j);
            a->active++;
            rk_http_resp_json_take(resp, 200, accepted(j->id));
            if (now) {
                agent__job_spawn(a, j); /* logs "job started" */
            } else {
                rk_log_info("job accepted", "job_id", j->id, "type", rk_task_type_name(t));
                j->start_at_mono = rk_deadline_in_us(a->start_delay_ms * 1000);
                a->maybe_waiting = true;
                pthread_cond_broadcast(&a->cond);
            }
            j = NULL;
        }
    }
    pthread_mutex_unlock(&a->mu);
    agent__job_free(j);
out:
    rk_execute_request_cleanup(&rq);
    json_decref(body);
}

/* Looks the job up with mu held; answers 404 and returns NULL if unknown. */
static job_t *find_or_404(rk_agent_t *a, rk_http_req_t *req, rk_http_resp_t *resp)
{
    const char *id = rk_http_req_param(req, "job_id");
    job_t *j = id && rk_id_valid(id) ? agent__job_find(a, id) : NULL;
    if (!j)
        rk_http_resp_error(resp, 404, "unknown job");
    return j;
}

static void h_job_status(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_agent_t *a = ud;
    const char *ws = rk_http_req_query(req, "wait");
    const char *ks = rk_http_req_query(req, "known");
    double wait = 0;
    rk_job_state_t known = RK_JOB_QUEUED;
    if (ws) {
        char *end;
        wait = strtod(ws, &end);
        if (!*ws || *end || !(wait >= 0)) {
            rk_http_resp_error(resp, 422, "wait: expected seconds, 0 to 60");
            return;
        }
        if (wait > WAIT_MAX_S)
            wait = WAIT_MAX_S;
    }
    if (ks && rk_job_state_parse(ks, &known) != 0) {
        rk_http_resp_error(resp, 422, "known: expected a job status");
        return;
    }
    pthread_mutex_lock(&a->mu);
    job_t *j = find_or_404(a, req, resp);
    if (j) {
        rk_http_wait_t *w = NULL;
        if (wait > 0 && ks && j->state == known && rk_http_req_suspend(req, NULL, NULL, &w) == 0) {
            if (agent__waiter_add(a, j, known, rk_deadline_in_us((int64_t)(wait * 1e6)), w) != 0)
                rk_http_wait_release(w);
        } else {
            rk_http_resp_json_take(resp, 200, agent__job_status_json(j));
        }
    }
    pthread_mutex_unlock(&a->mu);
}

static void h_result(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_agent_t *a = ud;
    char path[4200] = "";
    pthread_mutex_lock(&a->mu);
    job_t *j = find_or_404(a, req, resp);
    if (j && !rk_job_state_terminal(j->state))
        rk_http_resp_errorf(resp, 409, "job is %s: no result yet", rk_job_state_name(j->state));
    else if (j)
        snprintf(path, sizeof path, "%s/result.json", j->dir);
    pthread_mutex_unlock(&a->mu);
    if (!path[0])
        return;
    json_t *r = json_load_file(path, 0, NULL);
    if (r) {
        pthread_mutex_lock(&a->mu);
        if ((j = agent__job_find(a, rk_http_req_param(req, "job_id"))))
            j->collected = true; /* --exit-when-idle waits for it */
        pthread_mutex_unlock(&a->mu);
        rk_http_resp_json_take(resp, 200, r);
    } else
        rk_http_resp_error(resp, 404, "the job's result is missing");
}

static json_t *job_state_json(const job_t *j)
{
    return json_pack("{s:s,s:s}", "job_id", j->id, "status", rk_job_state_name(j->state));
}

static void h_cancel(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_agent_t *a = ud;
    /* purge: the server deleted this finished job; drop the copy here. */
    const char *ps = rk_http_req_query(req, "purge");
    if (ps && strcmp(ps, "true") == 0) {
        pthread_mutex_lock(&a->mu);
        job_t *j = find_or_404(a, req, resp);
        if (j && (!rk_job_state_terminal(j->state) || j->in_exec || j->spawning)) {
            rk_http_resp_errorf(resp, 409, "job is %s: only a finished job can be purged",
                                rk_job_state_name(j->state));
        } else if (j) {
            json_t *v = json_pack("{s:s,s:b}", "job_id", j->id, "purged", 1);
            agent__job_purge(a, j);
            rk_http_resp_json_take(resp, 200, v);
        }
        pthread_mutex_unlock(&a->mu);
        return;
    } else if (ps && strcmp(ps, "false") != 0) {
        rk_http_resp_error(resp, 422, "purge: expected true or false");
        return;
    }
    /* force: SIGKILL at once, no SIGTERM and grace. */
    const char *fs = rk_http_req_query(req, "force");
    bool force = fs && strcmp(fs, "true") == 0;
    if (fs && !force && strcmp(fs, "false") != 0) {
        rk_http_resp_error(resp, 422, "force: expected true or false");
        return;
    }
    pthread_mutex_lock(&a->mu);
    job_t *j = find_or_404(a, req, resp);
    if (j && rk_job_state_terminal(j->state)) {
        rk_http_resp_errorf(resp, 409, "job already %s", rk_job_state_name(j->state));
    } else if (j) {
        if (j->state == RK_JOB_ASSIGNED || (j->state == RK_JOB_PAUSED && !j->in_exec)) {
            /* Not started, or paused between two runs: nothing runs. */
            agent__job_finish(a, j, RK_JOB_CANCELLED,
                              j->started_at ? "cancelled" : "cancelled before it started", NULL);
        } else if (!j->cancel || force) {
            j->cancel = true;
            if (j->in_exec && !j->spawning) /* else the spawner cancels */
                rk_exec_cancel(a->sup, j->exec_id, force ? -1 : 0);
            if (j->state == RK_JOB_PAUSED) {
                /* The supervisor thaws it to stop it: it runs its end. */
                j->state = RK_JOB_RUNNING;
                j->paused_mono = 0;
                agent__job_changed(a, j);
            }
            rk_log_info("cancelling a job", "job_id", j->id, "force", force ? "yes" : "no");
        }
        rk_http_resp_json_take(resp, 202, job_state_json(j));
    }
    pthread_mutex_unlock(&a->mu);
}

/* POST /jobs/{id}/pause and /resume: 200 {job_id, status}, also for a
 * repeat; 409 for a finished job. */
static void pause_or_resume(rk_http_req_t *req, rk_http_resp_t *resp, rk_agent_t *a, bool pause)
{
    pthread_mutex_lock(&a->mu);
    job_t *j = find_or_404(a, req, resp);
    if (j) {
        int rc = pause ? agent__job_pause(a, j) : agent__job_resume(a, j);
        if (rc == RK_OK)
            rk_http_resp_json_take(resp, 200, job_state_json(j));
        else if (j->cancel || j->shutdown)
            rk_http_resp_errorf(resp, 409, "job is being stopped: cannot %s it",
                                pause ? "pause" : "resume");
        else
            rk_http_resp_errorf(resp, 409, "job already %s", rk_job_state_name(j->state));
    }
    pthread_mutex_unlock(&a->mu);
}

static void h_pause(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    pause_or_resume(req, resp, ud, true);
}

static void h_resume(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    pause_or_resume(req, resp, ud, false);
}

static void h_logs(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_agent_t *a = ud;
    char *dir = NULL;
    bool finished = false;
    pthread_mutex_lock(&a->mu);
    job_t *j = find_or_404(a, req, resp);
    if (j) {
        dir = strdup(j->dir);
        finished = rk_job_state_terminal(j->state);
    }
    pthread_mutex_unlock(&a->mu);
    if (j && !dir)
        rk_http_resp_error(resp, 503, "out of memory");
    else if (dir)
        agent__serve_logs(dir, finished, req, resp);
    free(dir);
}

static void h_artifacts(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_agent_t *a = ud;
    char *dir = NULL;
    pthread_mutex_lock(&a->mu);
    job_t *j = find_or_404(a, req, resp);
    if (j)
        dir = strdup(j->dir);
    pthread_mutex_unlock(&a->mu);
    if (j && !dir)
        rk_http_resp_error(resp, 503, "out of memory");
    else if (dir)
        agent__serve_artifacts(dir, resp);
    free(dir);
}

int agent__routes(rk_agent_t *a)
{
    static const struct {
        const char *method, *pattern;
        rk_http_handler_fn fn;
    } routes[] = {
        {"GET", "/health", h_health},
        {"GET", "/api/v1/health", h_health},
        {"GET", "/api/v1/info", h_info},
        {"GET", "/api/v1/status", h_status},
        {"POST", "/api/v1/jobs", h_submit},
        {"GET", "/api/v1/status/{job_id}", h_job_status},
        {"GET", "/api/v1/results/{job_id}", h_result},
        {"DELETE", "/api/v1/jobs/{job_id}", h_cancel},
        {"POST", "/api/v1/jobs/{job_id}/pause", h_pause},
        {"POST", "/api/v1/jobs/{job_id}/resume", h_resume},
        {"GET", "/api/v1/jobs/{job_id}/logs", h_logs},
        {"GET", "/api/v1/jobs/{job_id}/artifacts", h_artifacts},
        {"GET", "/api/v1/openapi.json", rk_agent_h_openapi},
        {"GET", "/api/v1/images", agent__h_images},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc =
            rk_http_server_route(a->http, routes[i].method, routes[i].pattern, routes[i].fn, a);
        if (rc)
            return rc;
    }
    return RK_OK;
}
