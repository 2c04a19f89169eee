/* GET /compare: two selectors' results, metric by metric, with Welch's
 * test (lib/compare). A selector is a job id, or `experiment_id:agent_id`
 * for that pair's latest completed result, or `experiment_id:agent_id:N`
 * for its last N (1..100) pooled. GET /results/history: one metric of an
 * experiment over time, per agent, with each point's verdict against the
 * agent's baseline. Read-only: straight from the store.
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
            rk_http_resp_errorf(resp, 422, "%s: N in experiment_id:agent_id:N must be 1..%d", which,
                                COMPARE_LAST_MAX);
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
            rk_http_resp_error(resp, 422,
                               "min_delta: expected a fraction from 0 to 10 (0.02 = 2 %)");
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

/* ---- GET /results/history ---- */

#define HISTORY_MAX 10000 /* results read at most per request */

/* One series: {agent_id, baseline_job_id?, points: []} in by_agent. */
static json_t *series_of(json_t *by_agent, const char *agent)
{
    json_t *s = json_object_get(by_agent, agent);
    if (!s) {
        s = json_pack("{s:s,s:[]}", "agent_id", agent, "points");
        json_object_set_new(by_agent, agent, s);
    }
    return s;
}

static void h_history(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *exp = rk_http_req_query(req, "experiment_id");
    const char *agent = rk_http_req_query(req, "agent_id");
    const char *metric = rk_http_req_query(req, "metric");
    const char *since = rk_http_req_query(req, "since");
    if (!exp || !rk_id_valid(exp)) {
        rk_http_resp_error(resp, 422, "experiment_id: required, an id");
        return;
    }
    if (agent && !rk_id_valid(agent)) {
        rk_http_resp_error(resp, 422, "agent_id: expected an id");
        return;
    }
    if (!metric || !*metric || strlen(metric) > 200) {
        rk_http_resp_error(resp, 422, "metric: required, a metric name");
        return;
    }
    rk_time_t from = 0;
    if (since && rk_time_parse(since, &from) != 0) {
        rk_http_resp_error(resp, 422, "since: expected an RFC 3339 time (2026-12-01T00:00:00Z)");
        return;
    }
    rk_experiment_t x = {0};
    bool spec = rk_store_experiment_get(srv->store, exp, &x) == 0;
    rk_direction_t dir = rk_compare_direction(spec ? x.metrics.metrics : NULL, metric);
    rk_experiment_cleanup(&x);
    rk_result_filter_t f = {.experiment_id = exp, .agent_id = agent};
    rk_page_t page = {.limit = 1000};
    json_t *by_agent = json_object();
    json_t *baselines = json_object(); /* agent -> baseline result's values, as JSON */
    size_t read = 0;
    bool more = true;
    while (more && read < HISTORY_MAX) {
        rk_result_t *v = NULL;
        size_t n = 0;
        int rc = rk_store_result_list(srv->store, &f, &page, &v, &n);
        if (rc) {
            rk_store_results_free(v, n);
            json_decref(by_agent);
            json_decref(baselines);
            rk_srv_store_error(resp, rc, "results");
            return;
        }
        for (size_t i = 0; i < n && more; i++) {
            rk_result_t *r = &v[i];
            read++;
            if (since && r->completed_at < from) {
                more = false; /* newest first: all the rest are older */
                break;
            }
            if (r->status != RK_JOB_COMPLETED || !r->agent_id)
                continue;
            double *vals = NULL;
            size_t nv = 0, cap = 0;
            if (rk_compare_values(r, metric, &vals, &nv, &cap) <= 0) {
                free(vals);
                continue;
            }
            rk_welch_t w;
            rk_welch(vals, nv, vals, nv, dir, 0.02, &w); /* its own mean and std */
            json_t *pt = json_pack("{s:s,s:f,s:f,s:I}", "job_id", r->job_id, "mean", w.a_mean,
                                   "std", w.a_std, "n", (json_int_t)w.a_n);
            rk_json_set_time(pt, "completed_at", r->completed_at);
            /* Against the agent's baseline, when it has one. */
            json_t *series = series_of(by_agent, r->agent_id);
            char base[80];
            if (!json_object_get(series, "baseline_job_id") &&
                rk_srv_baseline_job(srv, exp, r->agent_id, base, sizeof base) == 0)
                json_object_set_new(series, "baseline_job_id", json_string(base));
            const char *bj = json_string_value(json_object_get(series, "baseline_job_id"));
            if (bj) {
                json_t *bv = json_object_get(baselines, r->agent_id);
                if (!bv) {
                    rk_result_t b = {0};
                    double *bvals = NULL;
                    size_t bn = 0, bcap = 0;
                    bv = json_array();
                    if (rk_store_result_get(srv->store, bj, &b) == 0 &&
                        rk_compare_values(&b, metric, &bvals, &bn, &bcap) > 0)
                        for (size_t k = 0; k < bn; k++)
                            json_array_append_new(bv, json_real(bvals[k]));
                    free(bvals);
                    rk_result_cleanup(&b);
                    json_object_set_new(baselines, r->agent_id, bv);
                }
                size_t bn = json_array_size(bv);
                if (bn) {
                    double *bvals = calloc(bn, sizeof *bvals);
                    for (size_t k = 0; bvals && k < bn; k++)
                        bvals[k] = json_number_value(json_array_get(bv, k));
                    rk_welch_t c;
                    rk_welch(bvals, bvals ? bn : 0, vals, nv, dir, 0.02, &c);
                    json_object_set_new(pt, "verdict", json_string(rk_verdict_name(c.verdict)));
                    free(bvals);
                }
            }
            free(vals);
            json_array_insert_new(json_object_get(series, "points"), 0, pt); /* oldest first */
        }
        rk_store_results_free(v, n);
        if (!page.next_cursor)
            more = false;
        page.cursor = page.next_cursor;
    }
    json_t *list = json_array();
    const char *k;
    json_t *sv;
    json_object_foreach(by_agent, k, sv) json_array_append(list, sv);
    json_decref(by_agent);
    json_decref(baselines);
    json_t *out = json_pack(
        "{s:s,s:s,s:o,s:o}", "experiment_id", exp, "metric", metric, "higher_is_better",
        dir == RK_DIR_UNKNOWN ? json_null() : json_boolean(dir == RK_DIR_HIGHER), "series", list);
    if (out && read >= HISTORY_MAX && more)
        json_object_set_new(out, "truncated", json_true());
    rk_http_resp_json_take(resp, 200, out);
}

int rk_srv_routes_compare(rk_server_t *srv)
{
    int rc = rk_http_server_route(srv->http, "GET", "/api/v1/compare", h_compare, srv);
    return rc ? rc
              : rk_http_server_route(srv->http, "GET", "/api/v1/results/history", h_history, srv);
}
