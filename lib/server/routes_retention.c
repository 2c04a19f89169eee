/* Routes for retention (retention.c does the work): POST
 * /maintenance/cleanup {older_than_days} runs a sweep now and answers
 * {deleted_jobs, deleted_results}; DELETE /jobs/{id}?purge=true (reached
 * through routes_jobs.c's DELETE) deletes one finished job and answers
 * {job_id, deleted_at}. Both run on the HTTP worker, never the manager.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/internal.h"

static void h_cleanup(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    if (rk_http_req_json(req, resp, &body) != 0)
        return;
    json_t *d = json_is_object(body) ? json_object_get(body, "older_than_days") : NULL;
    double days = json_is_number(d) ? json_number_value(d) : -1;
    if (!json_is_object(body)) {
        rk_http_resp_error(resp, 422, "body: expected an object {older_than_days}");
    } else if (!d) {
        rk_http_resp_error(resp, 422, "older_than_days: required");
    } else if (!json_is_number(d) || !isfinite(days) || days < 0 || days > 36500) {
        rk_http_resp_error(resp, 422, "older_than_days: expected a number from 0 to 36500");
    } else {
        size_t jobs = 0, results = 0;
        int rc = rk_srv_retention_sweep(srv, days, &jobs, &results);
        if (rc)
            rk_srv_store_error(resp, rc, "cleanup");
        else
            rk_http_resp_json_take(resp, 200,
                                   json_pack("{s:I,s:I}", "deleted_jobs", (json_int_t)jobs,
                                             "deleted_results", (json_int_t)results));
    }
    json_decref(body);
}

void rk_srv_h_job_purge(rk_http_req_t *req, rk_http_resp_t *resp, rk_server_t *srv)
{
    const char *id = rk_http_req_param(req, "job_id");
    rk_job_info_t j = {0};
    int rc = rk_store_job_get(srv->store, id, false, &j);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "job %s", id);
        return;
    }
    rk_job_state_t st = j.status.status;
    char *agent = j.agent_id ? strdup(j.agent_id) : NULL;
    rk_job_info_cleanup(&j);
    char state[32] = "";
    int tracked =
        rk_job_state_terminal(st) ? rk_srv_mgr_job_tracked(srv->mgr, id, state, sizeof state) : 0;
    if (!rk_job_state_terminal(st)) {
        rk_http_resp_errorf(resp, 409, "job %s is %s: only a finished job can be purged", id,
                            rk_job_state_name(st));
    } else if (tracked < 0) {
        rk_srv_store_errorf(resp, tracked, "job %s", id);
    } else if (tracked) {
        /* Stored as ended here (cancelled, timed out) while its agent may
         * still hold it: the manager watches until the agent lets go. */
        rk_http_resp_errorf(resp, 409,
                            "job %s is %s but the server is still stopping it on its agent "
                            "(%s): purge it once the agent has let go",
                            id, rk_job_state_name(st), state);
    } else if ((rc = rk_store_job_purge(srv->store, id, NULL))) {
        rk_srv_store_errorf(resp, rc, "job %s", id);
    } else {
        char when[RK_TIME_STRLEN];
        rk_time_format(rk_time_now_us(), when);
        rk_log_info("job purged", "job_id", id, "agent_id", agent);
        if (agent)
            rk_srv_retention_tell_agent(srv, agent, id);
        rk_http_resp_json_take(resp, 200, json_pack("{s:s,s:s}", "job_id", id, "deleted_at", when));
    }
    free(agent);
}

int rk_srv_routes_retention(rk_server_t *srv)
{
    return rk_http_server_route(srv->http, "POST", "/api/v1/maintenance/cleanup", h_cleanup, srv);
}
