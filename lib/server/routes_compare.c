/* GET /compare: two selectors' results, metric by metric, with Welch's
 * test (lib/compare). A selector is a job id, or `experiment_id:agent_id`
 * for that pair's latest completed result, or `experiment_id:agent_id:N`
 * for its last N (1..100) pooled. Read-only: straight from the store.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "compare/compare.h"
#include "server/internal.h"

#define COMPARE_LAST_MAX 100
#define COMPARE_METRICS_MAX 64

typedef struct side {
    rk_result_t *results;
    size_t n;
    json_t *job_ids;
} side_t;

static void side_cleanup(side_t *s)
{
    rk_store_results_free(s->results, s->n);
    json_decref(s->job_ids);
}

/* Fills s from selector sel (named "a" or "b" in errors); false when resp
 * holds the answer. */
static bool resolve(rk_server_t *srv, const char *which, const char *sel, side_t *s,
                    rk_http_resp_t *resp)
{
    s->job_ids = json_array();
    char exp[80], agent[80];
    unsigned last = 1;
    const char *c1 = strchr(sel, ':');
    if (!c1) {
        if (!rk_id_valid(sel)) {
            rk_http_resp_errorf(resp, 422, "%s: expected a job id or experiment_id:agent_id[:N]",
                                which);
            return false;
        }
        s->results = calloc(1, sizeof *s->results);
        if (!s->results) {
            rk_http_resp_error(resp, 503, "out of memory");
            return false;
        }
        int rc = rk_store_result_get(srv->store, sel, &s->results[0]);
        if (rc) {
            if (rc == RK_ENOENT)
                rk_http_resp_errorf(resp, 404, "%s: job %s has no result", which, sel);
            else
                rk_srv_store_error(resp, rc, "result");
            return false;
        }
        s->n = 1;
        json_array_append_new(s->job_ids, json_string(sel));
        return true;
    }
    const char *c2 = strchr(c1 + 1, ':');
    size_t el = (size_t)(c1 - sel), al = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    char *end = NULL;
    if (c2) {
        errno = 0;
        unsigned long v = strtoul(c2 + 1, &end, 10);
        if (errno || !c2[1] || *end || v < 1 || v > COMPARE_LAST_MAX) {
            rk_http_resp_errorf(resp, 422, "%s: N in experiment_id:agent_id:N must be 1..%d",
                                which, COMPARE_LAST_MAX);
            return false;
        }
        last = (unsigned)v;
    }
    if (el >= sizeof exp || al >= sizeof agent) {
        rk_http_resp_errorf(resp, 422, "%s: expected a job id or experiment_id:agent_id[:N]",
                            which);
        return false;
    }
    memcpy(exp, sel, el);
    exp[el] = '\0';
    memcpy(agent, c1 + 1, al);
    agent[al] = '\0';
    if (!rk_id_valid(exp) || !rk_id_valid(agent)) {
        rk_http_resp_errorf(resp, 422, "%s: expected a job id or experiment_id:agent_id[:N]",
                            which);
        return false;
    }
    /* Newest first; failed results are skipped, so look a little further. */
    rk_result_filter_t f = {.experiment_id = exp, .agent_id = agent};
    rk_page_t page = {.limit = last + 100};
    rk_result_t *v = NULL;
    size_t n = 0;
    int rc = rk_store_result_list(srv->store, &f, &page, &v, &n);
    if (rc) {
        rk_srv_store_error(resp, rc, "results");
        return false;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].status == RK_JOB_COMPLETED && kept < last) {
            if (kept != i) {
                rk_result_t t = v[kept];
                v[kept] = v[i];
                v[i] = t;
            }
            json_array_append_new(s->job_ids, json_string(v[kept].job_id));
            kept++;
        }
    }
    for (size_t i = kept; i < n; i++)
        rk_result_cleanup(&v[i]);
    s->results = v;
    s->n = kept;
    if (!kept) {
        rk_http_resp_errorf(resp, 404, "%s: no completed result of experiment %s on agent %s",
                            which, exp, agent);
        return false;
    }
    return true;
}

static void h_compare(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *a = rk_http_req_query(req, "a"), *b = rk_http_req_query(req, "b");
    const char *metric = rk_http_req_query(req, "metric");
    const char *md = rk_http_req_query(req, "min_delta");
    if (!a || !*a || !b || !*b) {
        rk_http_resp_errorf(resp, 422, "%s: required (a job id or experiment_id:agent_id[:N])",
                            !a || !*a ? "a" : "b");
        return;
    }
    double min_delta = 0.02;
    if (md) {
        char *end;
        errno = 0;
        min_delta = strtod(md, &end);
        if (errno || !*md || *end || !isfinite(min_delta) || min_delta < 0 || min_delta > 10) {
            rk_http_resp_error(resp, 422, "min_delta: expected a fraction from 0 to 10 (0.02 = 2 %)");
            return;
        }
    }
    char *mcopy = metric ? strdup(metric) : NULL;
    const char *names[COMPARE_METRICS_MAX];
    size_t nnames = 0;
    if (metric && !mcopy) {
        rk_http_resp_error(resp, 503, "out of memory");
        return;
    }
    for (char *save = NULL, *t = mcopy ? strtok_r(mcopy, ",", &save) : NULL; t;
         t = strtok_r(NULL, ",", &save)) {
        if (nnames == COMPARE_METRICS_MAX) {
            rk_http_resp_errorf(resp, 422, "metric: at most %d names", COMPARE_METRICS_MAX);
            free(mcopy);
            return;
        }
        names[nnames++] = t;
    }
    if (metric && !nnames) {
        rk_http_resp_error(resp, 422, "metric: expected one or more comma-separated names");
        free(mcopy);
        return;
    }
    side_t sa = {0}, sb = {0};
    rk_experiment_t x = {0};
    json_t *metrics = NULL;
    if (!resolve(srv, "a", a, &sa, resp) || !resolve(srv, "b", b, &sb, resp))
        goto done;
    bool have_spec = rk_store_experiment_get(srv->store, sa.results[0].experiment_id, &x) == 0;
    rk_verr_t e = {0};
    int rc = rk_compare_build(sa.results, sa.n, sb.results, sb.n, names, nnames,
                              have_spec ? x.metrics.metrics : NULL, min_delta, &metrics, &e);
    if (rc == RK_ENOENT) {
        rk_http_resp_errorf(resp, 422, "%s", e.msg);
        goto done;
    }
    if (rc) {
        rk_http_resp_error(resp, 503, "out of memory");
        goto done;
    }
    json_t *out = json_pack("{s:{s:s,s:O},s:{s:s,s:O},s:f,s:o}", "a", "selector", a, "job_ids",
                            sa.job_ids, "b", "selector", b, "job_ids", sb.job_ids, "min_delta",
                            min_delta, "metrics", metrics);
    metrics = NULL;
    rk_http_resp_json_take(resp, 200, out);
done:
    json_decref(metrics);
    rk_experiment_cleanup(&x);
    side_cleanup(&sa);
    side_cleanup(&sb);
    free(mcopy);
}

int rk_srv_routes_compare(rk_server_t *srv)
{
    return rk_http_server_route(srv->http, "GET", "/api/v1/compare", h_compare, srv);
}
