/* Baselines: one pinned result per (experiment, agent), kept as store
 * documents of kind "baseline", and the comparison of a new result with
 * its baseline (a regression is an event). Routes: POST/GET /baselines,
 * DELETE /baselines/{baseline_id}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "compare/compare.h"
#include "model/md5.h"
#include "server/internal.h"

#define KIND RK_SRV_BASELINE_DOC

/* "bl_" + 8 hex digits of md5("experiment:agent"): one per pair. */
static void baseline_id(const char *exp, const char *agent, char out[16])
{
    unsigned char d[RK_MD5_SIZE];
    char key[160];
    snprintf(key, sizeof key, "%s:%s", exp, agent);
    rk_md5(key, strlen(key), d);
    snprintf(out, 16, "bl_%02x%02x%02x%02x", d[0], d[1], d[2], d[3]);
}

int rk_srv_baseline_job(rk_server_t *srv, const char *exp, const char *agent, char *job, size_t n)
{
    char id[16], *text = NULL;
    baseline_id(exp, agent, id);
    int rc = rk_store_doc_get(srv->store, KIND, id, &text);
    json_t *v = rc ? NULL : json_loads(text, 0, NULL);
    const char *j = json_string_value(json_object_get(v, "job_id"));
    if (!rc && !j)
        rc = RK_EPROTO;
    if (!rc)
        snprintf(job, n, "%s", j);
    json_decref(v);
    free(text);
    return rc;
}

json_t *rk_srv_baseline_check(rk_server_t *srv, const rk_result_t *r)
{
    if (r->status != RK_JOB_COMPLETED || !r->agent_id || !r->experiment_id)
        return NULL;
    char job[80];
    if (rk_srv_baseline_job(srv, r->experiment_id, r->agent_id, job, sizeof job) != 0 ||
        !strcmp(job, r->job_id))
        return NULL;
    rk_result_t base = {0};
    rk_experiment_t x = {0};
    json_t *cmp = NULL, *event = NULL;
    rk_verr_t e;
    if (rk_store_result_get(srv->store, job, &base) == 0) {
        bool spec = rk_store_experiment_get(srv->store, r->experiment_id, &x) == 0;
        /* Judged by the spec's declared metrics when it names some that both
         * results have (a peak RSS that moves 2 % is not what a benchmark
         * is about); else by every numeric metric both have. */
        const char *judged[64];
        size_t nn = 0;
        const char *k0;
        json_t *v0;
        json_object_foreach(spec ? x.metrics.metrics : NULL, k0, v0)
        {
            (void)v0;
            if (nn < 64 && json_is_number(json_object_get(base.metrics, k0)) &&
                json_is_number(json_object_get(r->metrics, k0)))
                judged[nn++] = k0;
        }
        if (rk_compare_build(&base, 1, r, 1, nn ? judged : NULL, nn,
                             spec ? x.metrics.metrics : NULL, 0.02, &cmp, &e) == 0) {
            json_t *names = json_array();
            const char *k;
            json_t *m;
            json_object_foreach(cmp, k, m)
            {
                if (!strcmp(json_string_value(json_object_get(m, "verdict")), "slower"))
                    json_array_append_new(names, json_string(k));
            }
            if (json_array_size(names)) {
                rk_log_warn("regression against the baseline", "job_id", r->job_id,
                            "baseline_job_id", job, "agent_id", r->agent_id);
                event = json_pack("{s:s,s:s,s:s,s:s,s:o,s:O}", "job_id", r->job_id,
                                  "baseline_job_id", job, "experiment_id", r->experiment_id,
                                  "agent_id", r->agent_id, "metrics", names, "comparison", cmp);
            } else {
                json_decref(names);
            }
        }
    }
    json_decref(cmp);
    rk_experiment_cleanup(&x);
    rk_result_cleanup(&base);
    return event;
}

/* ---- routes ---- */

static void h_post(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    char *exp = NULL, *agent = NULL, *job = NULL;
    rk_result_t r = {0};
    rk_verr_t e;
    if (rk_http_req_json(req, resp, &body))
        return;
    if (rk_json_get_id(body, "", "experiment_id", RK_REQUIRED, &exp, &e) ||
        rk_json_get_id(body, "", "agent_id", RK_REQUIRED, &agent, &e) ||
        rk_json_get_id(body, "", "job_id", RK_REQUIRED, &job, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        goto done;
    }
    int rc = rk_store_result_get(srv->store, job, &r);
    if (rc) {
        if (rc == RK_ENOENT)
            rk_http_resp_errorf(resp, 404, "job %s has no result to pin", job);
        else
            rk_srv_store_error(resp, rc, "result");
        goto done;
    }
    if (strcmp(r.experiment_id, exp) != 0 || !r.agent_id || strcmp(r.agent_id, agent) != 0) {
        rk_http_resp_errorf(resp, 422,
                            "job_id: job %s is a result of experiment %s on agent %s, "
                            "not of %s on %s",
                            job, r.experiment_id, r.agent_id ? r.agent_id : "?", exp, agent);
        goto done;
    }
    if (r.status != RK_JOB_COMPLETED) {
        rk_http_resp_errorf(resp, 422,
                            "job_id: job %s ended %s; only a completed result can be a "
                            "baseline",
                            job, rk_job_state_name(r.status));
        goto done;
    }
    char id[16];
    baseline_id(exp, agent, id);
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "baseline_id", id, "experiment_id", exp,
                            "agent_id", agent, "job_id", job);
    rk_json_set_time(doc, "created_at", rk_time_now_us());
    char *text = json_dumps(doc, JSON_COMPACT);
    rc = text ? rk_store_doc_put(srv->store, KIND, id, text) : RK_ENOMEM;
    free(text);
    if (rc) {
        json_decref(doc);
        rk_srv_store_error(resp, rc, "baseline");
        goto done;
    }
    rk_srv_events_publish(srv->events, "baseline", json_incref(doc));
    rk_http_resp_json_take(resp, 201, doc);
done:
    rk_result_cleanup(&r);
    free(exp);
    free(agent);
    free(job);
    json_decref(body);
}

static void h_list(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req;
    rk_server_t *srv = ud;
    char **ids, **texts;
    size_t n;
    int rc = rk_store_doc_list(srv->store, KIND, &ids, &texts, &n);
    if (rc) {
        rk_store_docs_free(ids, texts, n);
        rk_srv_store_error(resp, rc, "baselines");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_loads(texts[i], 0, NULL);
        if (v)
            json_array_append_new(arr, v);
    }
    rk_store_docs_free(ids, texts, n);
    rk_http_resp_json_take(resp, 200, json_pack("{s:o}", "baselines", arr));
}

static void h_delete(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "baseline_id");
    int rc = rk_store_doc_delete(srv->store, KIND, id);
    if (rc == RK_ENOENT) {
        rk_http_resp_errorf(resp, 404, "baseline %s not found", id);
        return;
    }
    if (rc) {
        rk_srv_store_error(resp, rc, "baseline");
        return;
    }
    json_t *out = json_pack("{s:s}", "baseline_id", id);
    rk_json_set_time(out, "deleted_at", rk_time_now_us());
    rk_http_resp_json_take(resp, 200, out);
}

int rk_srv_routes_baselines(rk_server_t *srv)
{
    int rc = rk_http_server_route(srv->http, "POST", "/api/v1/baselines", h_post, srv);
    rc = rc ? rc : rk_http_server_route(srv->http, "GET", "/api/v1/baselines", h_list, srv);
    return rc ? rc
              : rk_http_server_route(srv->http, "DELETE", "/api/v1/baselines/{baseline_id}",
                                     h_delete, srv);
}
