/* Routes that act on many jobs at once (issue 11): DELETE /jobs with
 * filters. The handler validates the filters and hands them to the job
 * manager, which cancels every match in one batch and answers.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/internal.h"

#define FILTERS "status, agent_id, experiment_id, priority, created_before"

/* DELETE /jobs?status=&agent_id=&experiment_id=&priority=&created_before=
 * (at least one) or ?all=true; force=true kills at once. */
static void h_cancel_many(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *status = rk_http_req_query(req, "status"),
               *agent = rk_http_req_query(req, "agent_id"),
               *exp = rk_http_req_query(req, "experiment_id"),
               *prio = rk_http_req_query(req, "priority"),
               *before = rk_http_req_query(req, "created_before"),
               *all = rk_http_req_query(req, "all"), *force = rk_http_req_query(req, "force");
    rk_srv_cancel_filter_t *f = calloc(1, sizeof *f);
    if (!f) {
        rk_http_resp_error(resp, 500, "out of memory");
        return;
    }
    f->priority = -1;
    rk_job_priority_t p;
    if (status && (!*status || rk_srv_states_parse(status, &f->state_mask))) {
        rk_http_resp_error(resp, 422,
                           "status: expected one or more (comma-separated) of queued, assigned, "
                           "running, completed, failed, cancelled, timeout, paused");
    } else if (agent && !rk_id_valid(agent)) {
        rk_http_resp_error(resp, 422, "agent_id: expected " RK_ID_RULE);
    } else if (exp && !rk_id_valid(exp)) {
        rk_http_resp_error(resp, 422, "experiment_id: expected " RK_ID_RULE);
    } else if (prio && rk_job_priority_parse(prio, &p)) {
        rk_http_resp_error(resp, 422, "priority: expected one of low, medium, high, critical");
    } else if (before && rk_time_parse(before, &f->created_before)) {
        rk_http_resp_error(resp, 422, "created_before: expected an RFC 3339 timestamp");
    } else if (all && strcmp(all, "true") != 0) {
        rk_http_resp_error(resp, 422, "all: expected true");
    } else if (force && strcmp(force, "true") != 0 && strcmp(force, "false") != 0) {
        rk_http_resp_error(resp, 422, "force: expected true or false");
    } else if (!status && !agent && !exp && !prio && !before && !all) {
        rk_http_resp_error(resp, 422, "at least one filter (" FILTERS ") or all=true is required");
    } else {
        f->priority = prio ? (int)p : -1;
        f->force = force && strcmp(force, "true") == 0;
        if ((agent && !(f->agent_id = strdup(agent))) ||
            (exp && !(f->experiment_id = strdup(exp)))) {
            rk_http_resp_error(resp, 500, "out of memory");
            rk_srv_cancel_filter_free(f);
            return;
        }
        rk_http_wait_t *w = NULL;
        if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
            rk_http_resp_error(resp, 503, "server shutting down");
            rk_srv_cancel_filter_free(f);
            return;
        }
        if (rk_srv_mgr_cancel_many(srv->mgr, w, f) != 0) /* f taken either way */
            rk_http_wait_release(w);
        return;
    }
    rk_srv_cancel_filter_free(f);
}

int rk_srv_routes_bulk(rk_server_t *srv)
{
    return rk_http_server_route(srv->http, "DELETE", "/api/v1/jobs", h_cancel_many, srv);
}
