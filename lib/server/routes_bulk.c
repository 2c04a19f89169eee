/* Routes that act on many jobs at once (issue 11): POST /jobs/batch and
 * DELETE /jobs with filters. Each handler validates everything first (a
 * bad entry or filter is answered before anything is stored) and hands the
 * work to the job manager, which does it in one batch, one commit, and
 * answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/depend.h"
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

/* What a batch has read from the store: each experiment and agent once,
 * found by id through a JSON object of indexes. */
typedef struct lookups {
    json_t *xi, *ai, *pairs; /* id -> index; "exp agent" -> checked */
    rk_experiment_t *xs;
    rk_registered_agent_t *as;
    size_t nx, na;
} lookups_t;

static void lookups_cleanup(lookups_t *l)
{
    json_decref(l->xi);
    json_decref(l->ai);
    json_decref(l->pairs);
    for (size_t i = 0; i < l->nx; i++)
        rk_experiment_cleanup(&l->xs[i]);
    for (size_t i = 0; i < l->na; i++)
        rk_registered_agent_cleanup(&l->as[i]);
    free(l->xs);
    free(l->as);
}

/* Entry i (object e at path) checked: its experiment and agent exist and
 * the agent can run it (answered 404/422 naming the entry otherwise). */
static int check_entry(rk_server_t *srv, rk_http_resp_t *resp, lookups_t *l, const json_t *e,
                       const char *path, const rk_experiment_t **x, const rk_registered_agent_t **a,
                       rk_srv_job_opts_t *o)
{
    char *xid = NULL, *aid = NULL;
    rk_verr_t err;
    int rc = rk_json_expect_obj(e, path, &err);
    if (!rc && !(rc = rk_json_get_id(e, path, "experiment_id", RK_REQUIRED, &xid, &err)))
        rc = rk_json_get_id(e, path, "agent_id", RK_OPTIONAL, &aid, &err);
    if (rc) {
        rk_http_resp_error(resp, 422, err.msg);
        goto out;
    }
    if ((rc = rk_srv_job_opts_parse(e, path, resp, o)) ||
        (rc = rk_srv_deps_parse(srv, e, path, true, resp, &o->extra)))
        goto out;
    json_t *k = json_object_get(l->xi, xid);
    if (!k) {
        if ((rc = rk_store_experiment_get(srv->store, xid, &l->xs[l->nx]))) {
            rk_srv_store_errorf(resp, rc, "%s.experiment_id: experiment %s", path, xid);
            goto out;
        }
        json_object_set_new(l->xi, xid, json_integer((json_int_t)l->nx++));
        k = json_object_get(l->xi, xid);
    }
    *x = &l->xs[json_integer_value(k)];
    char pair[160], where[RK_PATH_MAX + 2];
    if (!aid || strcmp(aid, "any") == 0) { /* any matching agent */
        *a = NULL;
        char *sel = o->selector ? json_dumps(o->selector, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        char *key = NULL;
        if (asprintf(&key, "%s any %s", xid, sel ? sel : "") < 0)
            key = NULL;
        free(sel);
        if (!key) {
            rk_http_resp_error(resp, 500, "out of memory");
            rc = RK_ENOMEM;
            goto out;
        }
        if (!json_object_get(l->pairs, key)) {
            snprintf(where, sizeof where, "%s: ", path);
            if (!(rc = rk_srv_any_check(srv, resp, *x, o, where)))
                json_object_set_new(l->pairs, key, json_true());
        }
        free(key);
        goto out;
    }
    k = json_object_get(l->ai, aid);
    if (!k) {
        if ((rc = rk_store_agent_get(srv->store, aid, &l->as[l->na]))) {
            rk_srv_store_errorf(resp, rc, "%s.agent_id: agent %s", path, aid);
            goto out;
        }
        json_object_set_new(l->ai, aid, json_integer((json_int_t)l->na++));
        k = json_object_get(l->ai, aid);
    }
    *a = &l->as[json_integer_value(k)];
    snprintf(pair, sizeof pair, "%s %s", xid, aid);
    if (!json_object_get(l->pairs, pair)) {
        snprintf(where, sizeof where, "%s: ", path);
        if ((rc = rk_srv_compat_check(resp, *x, &(*a)->info, where)))
            goto out;
        json_object_set_new(l->pairs, pair, json_true());
    }
    snprintf(where, sizeof where, "%s.", path);
    rc = rk_srv_selector_check(resp, &(*a)->info, o, where);
out:
    free(xid);
    free(aid);
    return rc;
}

/* POST /jobs/batch {jobs: [CreateJobRequest]}: all entries validated
 * first, then stored in one commit; 201 {jobs: [JobInfo]}. */
static void h_batch(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    if (rk_srv_idem_refuse(req, resp) || rk_http_req_json(req, resp, &body))
        return;
    json_t *arr = json_object_get(body, "jobs");
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (!json_is_object(body) || !arr) {
        rk_http_resp_error(resp, 422, "jobs: field required");
        json_decref(body);
        return;
    }
    if (!json_is_array(arr) || n == 0 || n > RK_SRV_COUNT_MAX) {
        rk_http_resp_errorf(resp, 422, "jobs: expected an array of 1 to %d entries",
                            RK_SRV_COUNT_MAX);
        json_decref(body);
        return;
    }
    lookups_t l = {.xi = json_object(), .ai = json_object(), .pairs = json_object()};
    l.xs = calloc(n, sizeof *l.xs);
    l.as = calloc(n, sizeof *l.as);
    const rk_experiment_t **ex = calloc(n, sizeof *ex);
    const rk_registered_agent_t **ag = calloc(n, sizeof *ag);
    rk_srv_job_opts_t *opts = calloc(n, sizeof *opts);
    size_t *first = calloc(n, sizeof *first); /* entry i's first job */
    rk_job_info_t *jobs = NULL;
    int64_t *timeouts = NULL;
    size_t total = 0;
    if (!l.xi || !l.ai || !l.pairs || !l.xs || !l.as || !ex || !ag || !opts || !first) {
        rk_http_resp_error(resp, 500, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char path[RK_PATH_MAX];
        rk_path_index(path, "jobs", i);
        if (check_entry(srv, resp, &l, json_array_get(arr, i), path, &ex[i], &ag[i], &opts[i]))
            goto done;
        first[i] = total;
        total += opts[i].count;
    }
    if (rk_srv_deps_check_batch(arr, n, resp)) /* entries naming entries: no cycle */
        goto done;
    if (total > RK_SRV_COUNT_MAX) {
        rk_http_resp_errorf(resp, 422, "jobs: %zu jobs in all (with count), at most %d", total,
                            RK_SRV_COUNT_MAX);
        goto done;
    }
    jobs = calloc(total, sizeof *jobs);
    timeouts = calloc(total, sizeof *timeouts);
    int rc = jobs && timeouts ? 0 : RK_ENOMEM;
    rk_time_t now = rk_time_now_us();
    size_t made = 0;
    for (size_t i = 0; !rc && i < n; i++)
        for (size_t c = 0; !rc && c < opts[i].count; c++, made++) {
            rc = rk_srv_job_fill(srv, &jobs[made], ex[i], ag[i] ? ag[i]->info.agent_id : NULL,
                                 &opts[i], now);
            timeouts[made] = ex[i]->requirements.timeout_seconds;
        }
    if (rc) {
        rk_http_resp_error(resp, 500, rc == RK_ENOMEM ? "out of memory" : "no job id");
        goto done;
    }
    size_t *count = calloc(n, sizeof *count);
    for (size_t i = 0; count && i < n; i++)
        count[i] = opts[i].count;
    rc = count ? rk_srv_deps_apply_batch(arr, n, first, count, jobs, resp) : RK_ENOMEM;
    if (!count)
        rk_http_resp_error(resp, 500, "out of memory");
    free(count);
    if (rc)
        goto done;
    rk_srv_jobs_hand(srv, req, resp, jobs, timeouts, total, false); /* takes them */
    jobs = NULL;
    timeouts = NULL;
done:
    for (size_t i = 0; jobs && i < total; i++)
        rk_job_info_cleanup(&jobs[i]);
    free(jobs);
    free(timeouts);
    free(ex);
    free(ag);
    free(first);
    for (size_t i = 0; opts && i < n; i++)
        rk_srv_job_opts_cleanup(&opts[i]);
    free(opts);
    lookups_cleanup(&l);
    json_decref(body);
}

int rk_srv_routes_bulk(rk_server_t *srv)
{
    int rc = rk_http_server_route(srv->http, "DELETE", "/api/v1/jobs", h_cancel_many, srv);
    return rc ? rc : rk_http_server_route(srv->http, "POST", "/api/v1/jobs/batch", h_batch, srv);
}
