/* Routes for experiments: create (validated on the way in), list, get,
 * delete (with ?cascade=true), and run on several agents at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "model/lint.h"
#include "server/depend.h"
#include "server/internal.h"

static void h_create(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    rk_experiment_t x = {0};
    rk_verr_t e;
    if (rk_http_req_json(req, resp, &body))
        return;
    json_t *spec = json_object_get(body, "experiment_spec");
    if (!spec) {
        rk_http_resp_error(resp, 422, "experiment_spec: field required");
        goto done;
    }
    if (rk_experiment_decode(spec, "experiment_spec", &x, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        goto done;
    }
    if (rk_srv_retry_check_spec(spec, resp)) /* its jobs' retry policy (retry.c) */
        goto done;
    rk_time_t now = rk_time_now_us();
    x.has_created_at = x.has_updated_at = true;
    x.created_at = x.updated_at = now;
    int rc = rk_store_experiment_insert(srv->store, &x);
    if (rc == RK_EEXIST) {
        rk_http_resp_errorf(resp, 409, "experiment %s (named \"%.200s\") already exists", x.id,
                            x.name);
        goto done;
    }
    if (rc) {
        rk_srv_store_error(resp, rc, "experiment");
        goto done;
    }
    json_t *out = json_pack("{s:s}", "experiment_id", x.id);
    if (out)
        rk_json_set_time(out, "created_at", now);
    /* Stored as given, but a field nobody reads is said. */
    json_t *warnings = rk_experiment_lint(spec, "experiment_spec");
    if (out && json_array_size(warnings))
        json_object_set(out, "warnings", warnings);
    json_decref(warnings);
    rk_http_resp_json_take(resp, 201, out);
done:
    rk_experiment_cleanup(&x);
    json_decref(body);
}

static void h_list(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    rk_experiment_t *v = NULL;
    size_t n = 0;
    int rc = rk_store_experiment_list(srv->store, &v, &n);
    if (rc) {
        rk_srv_store_error(resp, rc, "experiments");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, rk_experiment_encode(&v[i]));
    rk_store_experiments_free(v, n);
    rk_http_resp_json_take(resp, 200, json_pack("{s:o}", "experiments", arr));
}

static int get_experiment(rk_server_t *srv, rk_http_req_t *req, rk_http_resp_t *resp,
                          rk_experiment_t *x)
{
    const char *id = rk_http_req_param(req, "experiment_id");
    int rc = rk_store_experiment_get(srv->store, id, x);
    if (rc)
        rk_srv_store_errorf(resp, rc, "experiment %s", id);
    return rc;
}

static void h_get(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_experiment_t x = {0};
    if (get_experiment(ud, req, resp, &x) == 0)
        rk_http_resp_json_take(resp, 200,
                               json_pack("{s:o}", "experiment", rk_experiment_encode(&x)));
    rk_experiment_cleanup(&x);
}

static void h_delete(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "experiment_id");
    const char *c = rk_http_req_query(req, "cascade");
    bool cascade = false;
    if (c) {
        if (strcmp(c, "true") == 0 || strcmp(c, "1") == 0)
            cascade = true;
        else if (strcmp(c, "false") != 0 && strcmp(c, "0") != 0) {
            rk_http_resp_error(resp, 422, "cascade: expected true or false");
            return;
        }
    }
    int rc = rk_store_experiment_delete(srv->store, id, cascade);
    if (rc == RK_ESTATE) {
        rk_http_resp_errorf(resp, 409,
                            cascade ? "experiment %s has unfinished jobs; cancel them first"
                                    : "experiment %s still has jobs; delete with ?cascade=true "
                                      "to remove its finished jobs and results too",
                            id);
        return;
    }
    if (rc) {
        rk_srv_store_errorf(resp, rc, "experiment %s", id);
        return;
    }
    /* Ids are random and may come back: the manager must not dispatch a
     * new experiment with the same id from its copy of this one. Tasks run
     * in order, so any later create sees the drop first. */
    if (rk_srv_mgr_forget_experiment(srv->mgr, id) != 0)
        rk_log_warn("job manager not told of a deleted experiment", "experiment_id", id);
    json_t *out = json_pack("{s:s}", "experiment_id", id);
    if (out)
        rk_json_set_time(out, "deleted_at", rk_time_now_us());
    rk_http_resp_json_take(resp, 200, out);
}

/* Runs on the listed agents (each must be able to: 422 otherwise), or on
 * every registered agent that can. */
static void h_run(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    rk_experiment_t x = {0};
    json_t *body = NULL;
    char **ids = NULL;
    size_t n_ids = 0, n = 0;
    rk_registered_agent_t *agents = NULL;
    rk_srv_job_opts_t opts = {0};
    rk_verr_t e;
    if (rk_srv_idem_refuse(req, resp) || get_experiment(srv, req, resp, &x))
        goto done;
    size_t len = 0;
    rk_http_req_body(req, &len);
    if (len > 0) {
        if (rk_http_req_json(req, resp, &body))
            goto done;
        if (rk_json_get_strv(body, "", "agent_ids", RK_OPTIONAL, 10000, &ids, &n_ids, &e)) {
            rk_http_resp_error(resp, 422, e.msg);
            goto done;
        }
    }
    if (rk_srv_job_opts_parse(body, "", resp, &opts) ||
        rk_srv_deps_parse(srv, body, "", false, resp, &opts.extra))
        goto done;
    if (ids && n_ids) {
        agents = calloc(n_ids, sizeof *agents);
        if (!agents) {
            rk_http_resp_error(resp, 500, "out of memory");
            goto done;
        }
        for (; n < n_ids; n++) {
            for (size_t k = 0; k < n; k++) {
                if (strcmp(ids[k], ids[n]) == 0) {
                    rk_http_resp_errorf(resp, 422, "agent_ids: %s is listed twice", ids[n]);
                    goto done;
                }
            }
            int rc = rk_store_agent_get(srv->store, ids[n], &agents[n]);
            if (rc) {
                rk_srv_store_errorf(resp, rc, "agent %s", ids[n]);
                goto done;
            }
        }
    } else {
        rk_registered_agent_t *all = NULL;
        size_t n_all = 0;
        int rc = rk_store_agent_list(srv->store, &all, &n_all);
        if (rc) {
            rk_srv_store_errorf(resp, rc, "agents");
            goto done;
        }
        agents = calloc(n_all ? n_all : 1, sizeof *agents);
        for (size_t i = 0; agents && i < n_all; i++) {
            json_t *missing = json_array(), *warnings = json_array();
            if (rk_srv_compat(&x, &all[i].info, missing, warnings) &&
                (!opts.selector || rk_agent_info_labels_match(&all[i].info, opts.selector))) {
                agents[n++] = all[i]; /* moved */
                memset(&all[i], 0, sizeof all[i]);
            }
            json_decref(missing);
            json_decref(warnings);
        }
        rk_store_agents_free(all, n_all);
        if (!agents) {
            rk_http_resp_error(resp, 500, "out of memory");
            goto done;
        }
        if (n == 0) {
            rk_http_resp_errorf(resp, 422, "no registered agent can run experiment %s", x.id);
            goto done;
        }
    }
    rk_srv_jobs_submit(srv, req, resp, &x, agents, n, &opts, false);
done:
    rk_store_agents_free(agents, n);
    rk_strv_free(ids, n_ids);
    rk_srv_job_opts_cleanup(&opts);
    json_decref(body);
    rk_experiment_cleanup(&x);
}

int rk_srv_routes_experiments(rk_server_t *srv)
{
    static const struct {
        const char *method, *path;
        rk_http_handler_fn fn;
    } r[] = {
        {"POST", "/api/v1/experiments", h_create},
        {"GET", "/api/v1/experiments", h_list},
        {"GET", "/api/v1/experiments/{experiment_id}", h_get},
        {"DELETE", "/api/v1/experiments/{experiment_id}", h_delete},
        {"POST", "/api/v1/experiments/{experiment_id}/run", h_run},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        int rc = rk_http_server_route(srv->http, r[i].method, r[i].path, r[i].fn, srv);
        if (rc)
            return rc;
    }
    return 0;
}
