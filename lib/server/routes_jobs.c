/* Routes for jobs and results: POST/GET /jobs, GET/DELETE /jobs/{id}, the
 * logs and artifacts passed through from the job's agent, GET /results and
 * GET /results/{job_id}. Reads go straight to the store; anything that
 * changes a job or talks to an agent goes through the job manager.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "model/result.h"
#include "server/depend.h"
#include "server/internal.h"
#include "server/job_page.h"

#define ARTIFACTS_MAX (256u << 20)
#define LOGS_MAX (16u << 20)
/* A GET /jobs or /results body written as text (the old encoder had no
 * cap). */
#define RESULTS_PAGE_MAX (1u << 30)

static void h_create(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    char *exp_id = NULL, *agent_id = NULL;
    rk_experiment_t x = {0};
    rk_registered_agent_t a = {0};
    rk_srv_job_opts_t opts = {0};
    rk_verr_t e;
    rk_srv_idem_t idem;
    if (rk_http_req_json(req, resp, &body))
        return;
    /* A repeat of a request that created its job: that job, nothing new. */
    if (rk_srv_idem_read(req, resp, body, &idem) || rk_srv_idem_replay(srv, resp, &idem))
        goto done;
    if (rk_json_get_id(body, "", "experiment_id", RK_REQUIRED, &exp_id, &e) ||
        rk_json_get_id(body, "", "agent_id", RK_OPTIONAL, &agent_id, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        goto done;
    }
    if (rk_srv_job_opts_parse(body, "", resp, &opts) ||
        rk_srv_deps_parse(srv, body, "", false, resp, &opts.extra))
        goto done;
    if (idem.key && opts.count != 1) {
        rk_http_resp_errorf(resp, 422,
                            "count: %zu jobs under one Idempotency-Key; a key covers one job "
                            "(send each under its own key)",
                            opts.count);
        goto done;
    }
    opts.idem_key = idem.key;
    opts.idem_fp = idem.fp;
    int rc = rk_store_experiment_get(srv->store, exp_id, &x);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "experiment %s", exp_id);
        goto done;
    }
    /* No agent_id, or "any": the first matching agent with a free slot. */
    bool any = !agent_id || strcmp(agent_id, "any") == 0;
    rc = any ? 0 : rk_store_agent_get(srv->store, agent_id, &a);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "agent %s", agent_id);
        goto done;
    }
    rk_srv_jobs_submit(srv, req, resp, &x, any ? NULL : &a, 1, &opts, true);
done:
    rk_registered_agent_cleanup(&a);
    rk_experiment_cleanup(&x);
    free(exp_id);
    free(agent_id);
    rk_srv_job_opts_cleanup(&opts);
    json_decref(body);
}

int rk_srv_states_parse(const char *s, unsigned *mask)
{
    *mask = 0;
    char *copy = strdup(s), *save = NULL;
    int rc = copy ? 0 : RK_ENOMEM;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !rc;
         t = strtok_r(NULL, ",", &save)) {
        rk_job_state_t st;
        if (rk_job_state_parse(t, &st))
            rc = RK_EINVAL;
        else
            *mask |= 1u << st;
    }
    free(copy);
    return rc;
}

static void h_list(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    /* Jobs not placed yet are stored under agent "" and shown under "any". */
    const char *agent = rk_http_req_query(req, "agent_id");
    rk_job_filter_t f = {.agent_id = agent && strcmp(agent, "any") == 0 ? "" : agent,
                         .experiment_id = rk_http_req_query(req, "experiment_id")};
    const char *status = rk_http_req_query(req, "status");
    if (status && rk_srv_states_parse(status, &f.state_mask)) {
        rk_http_resp_error(resp, 422,
                           "status: expected one or more (comma-separated) of queued, assigned, "
                           "running, completed, failed, cancelled, timeout, paused");
        return;
    }
    rk_page_t page;
    if (rk_srv_page_parse(req, resp, 1000, 10000, &page))
        return;
    rk_job_info_t *jobs = NULL;
    size_t n = 0;
    int rc = rk_store_job_list(srv->store, &f, &page, &jobs, &n);
    if (rc) {
        rk_srv_store_error(resp, rc, "jobs");
        return;
    }
    /* Written straight as text, not built as a jansson tree. */
    rk_buf_t b;
    rk_buf_init(&b, RESULTS_PAGE_MAX);
    rc = rk_srv_jobs_page(&b, jobs, n, page.total, page.next_cursor);
    rk_store_jobs_free(jobs, n);
    if (rc) {
        rk_buf_cleanup(&b);
        rk_http_resp_error(resp, 500, "out of memory");
        return;
    }
    rk_srv_resp_json_buf(resp, &b);
}

static void h_get(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "job_id");
    rk_job_info_t j = {0};
    int rc = rk_store_job_get(srv->store, id, true, &j);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "job %s", id);
        return;
    }
    j.has_history = true;
    rk_http_resp_json_take(resp, 200, rk_job_info_encode(&j));
    rk_job_info_cleanup(&j);
}

static void h_cancel(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "job_id");
    const char *pq = rk_http_req_query(req, "purge");
    if (pq && strcmp(pq, "true") == 0) { /* retention: routes_retention.c */
        rk_srv_h_job_purge(req, resp, srv);
        return;
    } else if (pq && strcmp(pq, "false") != 0) {
        rk_http_resp_error(resp, 422, "purge: expected true or false");
        return;
    }
    const char *fq = rk_http_req_query(req, "force");
    bool force = false;
    if (fq && strcmp(fq, "true") == 0) {
        force = true;
    } else if (fq && strcmp(fq, "false") != 0) {
        rk_http_resp_error(resp, 422, "force: expected true or false");
        return;
    }
    rk_job_info_t j = {0};
    int rc = rk_store_job_get(srv->store, id, false, &j);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "job %s", id);
        return;
    }
    rk_job_state_t st = j.status.status;
    rk_job_info_cleanup(&j);
    if (rk_job_state_terminal(st)) {
        rk_http_resp_errorf(resp, 409, "job %s already finished: %s", id, rk_job_state_name(st));
        return;
    }
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        return;
    }
    if (rk_srv_mgr_cancel(srv->mgr, w, id, force) != 0)
        rk_http_wait_release(w);
}

/* POST /jobs/{id}/pause and /resume: the manager answers. */
static void control(rk_http_req_t *req, rk_http_resp_t *resp, rk_server_t *srv, bool pause)
{
    const char *id = rk_http_req_param(req, "job_id");
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        return;
    }
    int rc = pause ? rk_srv_mgr_pause(srv->mgr, w, id) : rk_srv_mgr_resume(srv->mgr, w, id);
    if (rc != 0)
        rk_http_wait_release(w);
}

static void h_pause(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    control(req, resp, ud, true);
}

static void h_resume(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    control(req, resp, ud, false);
}

/* PATCH /jobs/{id} {priority}: a job not started yet moves at once. */
static void h_patch(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "job_id");
    json_t *body = NULL;
    int prio = 0;
    rk_verr_t e;
    if (rk_http_req_json(req, resp, &body))
        return;
    if (rk_json_get_enum(body, "", "priority", RK_REQUIRED, rk_job_priority_names,
                         RK_PRIORITY_COUNT, &prio, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        json_decref(body);
        return;
    }
    json_decref(body);
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        return;
    }
    if (rk_srv_mgr_priority(srv->mgr, w, id, rk_job_priority_names[prio]) != 0)
        rk_http_wait_release(w);
}

/* ---- logs and artifacts: passed through from the agent ---- */

static void passthrough_done(rk_srv_mgr_t *m, void *ctx, rk_srv_fan_reply_t *r, size_t n,
                             rk_http_resp_t *resp)
{
    const char *ctype = ctx;
    if (r->err == RK_ETIMEDOUT) {
        rk_http_resp_error(resp, 504, "the job's agent did not answer in time");
    } else if (r->err == RK_ETOOBIG) {
        rk_http_resp_error(resp, 502, "the agent's answer is too large to pass through");
    } else if (r->err) {
        rk_http_resp_errorf(resp, 502, "the job's agent could not be reached: %s",
                            rk_strerror(r->err));
    } else if (r->status == 200) {
        rk_http_resp_bytes(resp, 200, ctype, r->body, r->len);
        /* The agent's X-Ruckus-* headers (log offsets, finished, artifacts
         * skipped) pass through unchanged. */
        for (char *line = r->headers, *eol; line && *line; line = eol + 1) {
            if (!(eol = strchr(line, '\n')))
                break;
            *eol = '\0';
            char *colon = strchr(line, ':');
            if (colon) {
                *colon = '\0';
                const char *v = colon + 1;
                while (*v == ' ')
                    v++;
                rk_http_resp_header(resp, line, v);
            }
        }
    } else {
        json_t *v = json_loadb(r->body, r->len, 0, NULL);
        const char *d = json_string_value(json_object_get(v, "detail"));
        rk_http_resp_errorf(resp, r->status >= 400 && r->status < 500 ? (int)r->status : 502,
                            "agent: %s", d ? d : "unexpected answer");
        json_decref(v);
    }
}

static void passthrough(rk_http_req_t *req, rk_http_resp_t *resp, rk_server_t *srv,
                        const char *what)
{
    const char *id = rk_http_req_param(req, "job_id");
    rk_job_info_t j = {0};
    rk_registered_agent_t a = {0};
    rk_buf_t url;
    rk_buf_init(&url, 8192);
    int rc = rk_store_job_get(srv->store, id, false, &j);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "job %s", id);
        goto done;
    }
    rc = rk_store_agent_get(srv->store, j.agent_id, &a);
    if (rc == RK_ENOENT) {
        rk_http_resp_errorf(resp, 404, "agent %s of job %s is no longer registered", j.agent_id,
                            id);
        goto done;
    }
    if (rc) {
        rk_srv_store_errorf(resp, rc, "agent %s", j.agent_id);
        goto done;
    }
    rk_buf_printf(&url, "%s/api/v1/jobs/%s/%s", a.agent_url, id, what);
    bool logs = strcmp(what, "logs") == 0;
    if (logs) {
        const char *stream = rk_http_req_query(req, "stream");
        const char *offset = rk_http_req_query(req, "offset");
        if (stream && strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0) {
            rk_http_resp_error(resp, 422, "stream: expected stdout or stderr");
            goto done;
        }
        if (offset && (!*offset || strspn(offset, "0123456789") != strlen(offset))) {
            rk_http_resp_error(resp, 422, "offset: expected a non-negative integer");
            goto done;
        }
        char sep = '?';
        if (stream) {
            rk_buf_printf(&url, "?stream=%s", stream);
            sep = '&';
        }
        if (offset)
            rk_buf_printf(&url, "%coffset=%s", sep, offset);
    }
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        goto done;
    }
    char *urls[1] = {(char *)rk_buf_str(&url)};
    char *tokens[1] = {rk_srv_agent_token(srv, &a)};
    if (rk_srv_mgr_fan(srv->mgr, w, urls, tokens, 1, 60000, logs ? LOGS_MAX : ARTIFACTS_MAX,
                       passthrough_done,
                       (void *)(logs ? "text/plain; charset=utf-8" : "application/zip"), NULL) != 0)
        rk_http_wait_release(w);
    if (tokens[0]) /* the fan-out copied it */
        memset(tokens[0], 0, strlen(tokens[0]));
    free(tokens[0]);
done:
    rk_buf_cleanup(&url);
    rk_registered_agent_cleanup(&a);
    rk_job_info_cleanup(&j);
}

static void h_logs(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    passthrough(req, resp, ud, "logs");
}

static void h_artifacts(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    passthrough(req, resp, ud, "artifacts");
}

/* ---- results ---- */

static void h_results(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    rk_result_filter_t f = {.experiment_id = rk_http_req_query(req, "experiment_id"),
                            .agent_id = rk_http_req_query(req, "agent_id")};
    rk_page_t page;
    if (rk_srv_page_parse(req, resp, 1000, 10000, &page))
        return;
    char **v = NULL;
    size_t n = 0;
    int rc = rk_store_result_list_text(srv->store, &f, &page, &v, &n);
    if (rc) {
        rk_store_texts_free(v, n);
        rk_srv_store_error(resp, rc, "results");
        return;
    }
    /* The stored texts spliced in, not decoded and encoded again. */
    rk_buf_t b;
    rk_buf_init(&b, RESULTS_PAGE_MAX);
    rc = rk_srv_results_page(&b, v, n, page.next_cursor);
    rk_store_texts_free(v, n);
    if (rc) {
        rk_buf_cleanup(&b);
        rk_http_resp_error(resp, 500,
                           rc == RK_ETOOBIG ? "results page too large: ask a smaller limit"
                                            : "out of memory");
        return;
    }
    rk_srv_resp_json_buf(resp, &b);
}

static void h_result(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "job_id");
    const char *attempt = rk_http_req_query(req, "attempt");
    if (attempt) { /* an earlier attempt's result (retry.c) */
        rk_srv_result_attempt(srv, resp, id, attempt);
        return;
    }
    rk_result_t r = {0};
    int rc = rk_store_result_get(srv->store, id, &r);
    if (rc == RK_ENOENT) {
        rk_job_info_t j = {0};
        bool known = rk_store_job_get(srv->store, id, false, &j) == 0;
        rk_http_resp_errorf(resp, 404,
                            known ? "job %s has no result (yet): %s" : "job %s not found%s", id,
                            known ? rk_job_state_name(j.status.status) : "");
        rk_job_info_cleanup(&j);
        return;
    }
    if (rc) {
        rk_srv_store_error(resp, rc, "result");
        return;
    }
    rk_http_resp_json_take(resp, 200, json_pack("{s:o}", "result", rk_result_encode(&r)));
    rk_result_cleanup(&r);
}

int rk_srv_routes_jobs(rk_server_t *srv)
{
    static const struct {
        const char *method, *path;
        rk_http_handler_fn fn;
    } r[] = {
        {"POST", "/api/v1/jobs", h_create},
        {"GET", "/api/v1/jobs", h_list},
        {"GET", "/api/v1/jobs/{job_id}", h_get},
        {"DELETE", "/api/v1/jobs/{job_id}", h_cancel},
        {"PATCH", "/api/v1/jobs/{job_id}", h_patch},
        {"POST", "/api/v1/jobs/{job_id}/pause", h_pause},
        {"POST", "/api/v1/jobs/{job_id}/resume", h_resume},
        {"GET", "/api/v1/jobs/{job_id}/logs", h_logs},
        {"GET", "/api/v1/jobs/{job_id}/artifacts", h_artifacts},
        {"GET", "/api/v1/results", h_results},
        {"GET", "/api/v1/results/{job_id}", h_result},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        int rc = rk_http_server_route(srv->http, r[i].method, r[i].path, r[i].fn, srv);
        if (rc)
            return rc;
    }
    return 0;
}
