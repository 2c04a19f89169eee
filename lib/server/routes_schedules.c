/* Routes for schedules (issue 12): create (validated here, stored by the
 * manager thread), list, get, delete, pause, resume and run now. Every
 * write goes through the manager thread (rk_srv_mgr_schedule), which also
 * fires them, so a change and a firing never race on one document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/schedules.h"

/* Most agents a schedule may list (like experiments/{id}/run). */
#define SCH_AGENTS_MAX 10000

/* Checks agent_ids (each registered, listed once, able to run x): 0, or
 * resp answered and non-zero. */
static int check_agents(rk_server_t *srv, rk_http_resp_t *resp, const rk_experiment_t *x,
                        char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(ids[k], ids[i]) == 0) {
                rk_http_resp_errorf(resp, 422, "agent_ids: %s is listed twice", ids[i]);
                return RK_EINVAL;
            }
        }
        rk_registered_agent_t a = {0};
        int rc = rk_store_agent_get(srv->store, ids[i], &a);
        if (rc == RK_ENOENT)
            rk_http_resp_errorf(resp, 422, "agent_ids: agent %s is not registered", ids[i]);
        else if (rc)
            rk_srv_store_errorf(resp, rc, "agent %s", ids[i]);
        else
            rc = rk_srv_compat_check(resp, x, &a.info, "agent_ids: ");
        rk_registered_agent_cleanup(&a);
        if (rc)
            return rc;
    }
    return 0;
}

/* A fresh "sch_" id no document holds yet, into id. */
static int new_id(rk_server_t *srv, char id[RK_SRV_SCHEDULE_ID_SIZE])
{
    for (int tries = 0; tries < 8; tries++) {
        char jid[RK_JOB_ID_SIZE];
        int rc = rk_job_id_generate(jid); /* "job_" + 8 hex digits */
        if (rc)
            return rc;
        snprintf(id, RK_SRV_SCHEDULE_ID_SIZE, "sch_%s", jid + 4);
        char *text = NULL;
        rc = rk_store_doc_get(srv->store, RK_SRV_SCHEDULE_DOC, id, &text);
        free(text);
        if (rc == RK_ENOENT)
            return 0;
        if (rc)
            return rc;
    }
    return RK_EEXIST;
}

/* Suspends req and hands op to the manager (doc taken). */
static void hand(rk_server_t *srv, rk_http_req_t *req, rk_http_resp_t *resp, rk_srv_sch_op_t op,
                 const char *id, json_t *doc)
{
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        json_decref(doc);
        rk_http_resp_error(resp, 503, "server shutting down");
        return;
    }
    if (rk_srv_mgr_schedule(srv->mgr, w, op, id, doc) != 0)
        rk_http_wait_release(w); /* 503 */
}

static void h_create(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL, *doc = NULL;
    char *name = NULL, *cron_text = NULL, *exp = NULL, **ids = NULL;
    size_t n_ids = 0;
    rk_experiment_t x = {0};
    rk_srv_job_opts_t opts = {0};
    rk_verr_t e;
    bool enabled = true;
    if (rk_http_req_json(req, resp, &body))
        return;
    if (rk_json_expect_obj(body, "", &e) ||
        rk_json_get_str(body, "", "name", RK_REQUIRED, RK_SRV_SCHEDULE_NAME_MAX, &name, &e) ||
        rk_json_get_str(body, "", "cron", RK_REQUIRED, RK_CRON_TEXT_MAX, &cron_text, &e) ||
        rk_json_get_id(body, "", "experiment_id", RK_REQUIRED, &exp, &e) ||
        rk_json_get_bool(body, "", "enabled", RK_OPTIONAL, &enabled, NULL, &e) ||
        rk_json_get_strv(body, "", "agent_ids", RK_OPTIONAL, SCH_AGENTS_MAX, &ids, &n_ids, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        goto done;
    }
    if (!*name) {
        rk_http_resp_error(resp, 422, "name: must not be empty");
        goto done;
    }
    rk_cron_t cron;
    char err[RK_CRON_ERR_SIZE];
    if (rk_cron_parse(cron_text, &cron, err, sizeof err)) {
        rk_http_resp_error(resp, 422, err);
        goto done;
    }
    rk_time_t now = rk_time_now_us();
    rk_time_t next = rk_srv_cron_next(&cron, now);
    if (next < 0) {
        rk_http_resp_errorf(resp, 422, "cron: \"%s\" never fires (no such day)", cron_text);
        goto done;
    }
    if (rk_srv_job_opts_parse(body, "", resp, &opts))
        goto done;
    if (opts.count != 1) {
        rk_http_resp_error(resp, 422, "count: not taken by schedules (one job per agent)");
        goto done;
    }
    if (json_object_get(opts.extra, "not_before")) {
        rk_http_resp_error(resp, 422,
                           "not_before: not taken by schedules (each firing starts its jobs at "
                           "once)");
        goto done;
    }
    if (n_ids && opts.selector) {
        rk_http_resp_error(resp, 422,
                           "agent_ids and agent_selector: give one or neither (neither: every "
                           "compatible agent)");
        goto done;
    }
    int rc = rk_store_experiment_get(srv->store, exp, &x);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "experiment %s", exp);
        goto done;
    }
    if (check_agents(srv, resp, &x, ids, n_ids))
        goto done;
    char id[RK_SRV_SCHEDULE_ID_SIZE];
    if ((rc = new_id(srv, id))) {
        rk_srv_store_error(resp, rc, "schedule id");
        goto done;
    }
    doc =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "schedule_id", id, "name", name, "cron",
                  cron_text, "experiment_id", exp, "priority", rk_job_priority_names[opts.priority],
                  "exclusive", opts.exclusive, "enabled", enabled);
    if (!doc || (n_ids && rk_json_set_strv(doc, "agent_ids", ids, n_ids)) ||
        (opts.selector &&
         json_object_set_new(doc, "agent_selector", json_pack("{s:O}", "labels", opts.selector))) ||
        (json_object_get(opts.extra, "retry") && /* each firing's jobs take it */
         json_object_set(doc, "retry", json_object_get(opts.extra, "retry"))) ||
        rk_json_set_time(doc, "created_at", now) || rk_json_set_time(doc, "next_run_at", next)) {
        rk_http_resp_error(resp, 500, "out of memory");
        goto done;
    }
    hand(srv, req, resp, RK_SRV_SCH_CREATE, id, doc);
    doc = NULL;
done:
    json_decref(doc);
    json_decref(body);
    free(name);
    free(cron_text);
    free(exp);
    rk_strv_free(ids, n_ids);
    rk_srv_job_opts_cleanup(&opts);
    rk_experiment_cleanup(&x);
}

static void h_list(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req;
    rk_server_t *srv = ud;
    char **ids = NULL, **texts = NULL;
    size_t n = 0;
    int rc = rk_store_doc_list(srv->store, RK_SRV_SCHEDULE_DOC, &ids, &texts, &n);
    if (rc) {
        rk_store_docs_free(ids, texts, n);
        rk_srv_store_error(resp, rc, "schedules");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *v = json_loads(texts[i], 0, NULL);
        if (v)
            json_array_append_new(arr, v);
    }
    rk_store_docs_free(ids, texts, n);
    rk_http_resp_json_take(resp, 200, json_pack("{s:o}", "schedules", arr));
}

static void h_get(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "schedule_id");
    char *text = NULL;
    int rc = rk_store_doc_get(srv->store, RK_SRV_SCHEDULE_DOC, id, &text);
    json_t *doc = rc ? NULL : json_loads(text, 0, NULL);
    free(text);
    if (rc || !doc) {
        rk_srv_store_errorf(resp, rc ? rc : RK_EIO, "schedule %s", id);
        return;
    }
    rk_http_resp_json_take(resp, 200, json_pack("{s:o}", "schedule", doc));
}

static void h_op(rk_http_req_t *req, rk_http_resp_t *resp, void *ud, rk_srv_sch_op_t op)
{
    hand(ud, req, resp, op, rk_http_req_param(req, "schedule_id"), NULL);
}

static void h_delete(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    h_op(req, resp, ud, RK_SRV_SCH_DELETE);
}

static void h_pause(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    h_op(req, resp, ud, RK_SRV_SCH_PAUSE);
}

static void h_resume(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    h_op(req, resp, ud, RK_SRV_SCH_RESUME);
}

static void h_run(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    h_op(req, resp, ud, RK_SRV_SCH_RUN);
}

int rk_srv_routes_schedules(rk_server_t *srv)
{
    static const struct {
        const char *method, *path;
        rk_http_handler_fn fn;
    } r[] = {
        {"POST", "/api/v1/schedules", h_create},
        {"GET", "/api/v1/schedules", h_list},
        {"GET", "/api/v1/schedules/{schedule_id}", h_get},
        {"DELETE", "/api/v1/schedules/{schedule_id}", h_delete},
        {"POST", "/api/v1/schedules/{schedule_id}/pause", h_pause},
        {"POST", "/api/v1/schedules/{schedule_id}/resume", h_resume},
        {"POST", "/api/v1/schedules/{schedule_id}/run", h_run},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        int rc = rk_http_server_route(srv->http, r[i].method, r[i].path, r[i].fn, srv);
        if (rc)
            return rc;
    }
    return 0;
}
