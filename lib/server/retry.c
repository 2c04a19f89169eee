/* Retries and start times, the submitter's side (issue 12; handler
 * threads): the `retry` policy and `not_before` of POST /jobs, batch
 * entries and experiments, read into the job's extra object; POST
 * /jobs/{id}/retry (a new job like a finished one); and the results of
 * earlier attempts (GET /results/{job_id}?attempt=N). What happens when an
 * attempt ends, and the wait before a job may start, is the manager's
 * (retry_mgr.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "model/result.h"
#include "server/internal.h"

/* Defaults of a policy (issue 12): one attempt, 10 s doubling to an
 * hour, on every cause. */
#define RETRY_BACKOFF_S 10.0
#define RETRY_MAX_BACKOFF_S 3600.0
/* Longest backoff accepted: a week, far beyond any useful wait. */
#define RETRY_BACKOFF_CAP_S (7.0 * 86400)

static const char *const causes[] = {"failed", "timeout", "agent_lost"};
#define N_CAUSES (sizeof causes / sizeof causes[0])

/* The policy object at path (pp: "retry" or "jobs[3].retry") into a new
 * normalised object, or NULL with e set. */
static json_t *policy_parse(const json_t *r, const char *pp, int64_t *max_attempts, rk_verr_t *e)
{
    if (rk_json_expect_obj(r, pp, e))
        return NULL;
    int64_t n = 1;
    double b = RETRY_BACKOFF_S, mb = RETRY_MAX_BACKOFF_S;
    if (rk_json_get_int(r, pp, "max_attempts", RK_OPTIONAL, 1, RK_SRV_RETRY_ATTEMPTS_MAX, &n, NULL,
                        e) ||
        rk_json_get_num(r, pp, "backoff_s", RK_OPTIONAL, 0, RETRY_BACKOFF_CAP_S, &b, NULL, e) ||
        rk_json_get_num(r, pp, "max_backoff_s", RK_OPTIONAL, 0, RETRY_BACKOFF_CAP_S, &mb, NULL, e))
        return NULL;
    json_t *on = json_object_get(r, "on");
    json_t *won = json_array();
    char p[RK_PATH_MAX];
    rk_path_key(p, pp, "on");
    if (on && !json_is_null(on)) {
        if (!json_is_array(on)) {
            rk_verr_set(e, p, "expected an array of failed, timeout, agent_lost");
            json_decref(won);
            return NULL;
        }
        size_t i;
        json_t *c;
        json_array_foreach(on, i, c)
        {
            size_t k = 0;
            while (k < N_CAUSES && !(json_is_string(c) && !strcmp(json_string_value(c), causes[k])))
                k++;
            if (k == N_CAUSES) {
                char pi[RK_PATH_MAX];
                rk_path_index(pi, p, i);
                rk_verr_set(e, pi, "expected one of failed, timeout, agent_lost");
                json_decref(won);
                return NULL;
            }
            json_array_append_new(won, json_string(causes[k]));
        }
    } else {
        for (size_t k = 0; k < N_CAUSES; k++)
            json_array_append_new(won, json_string(causes[k]));
    }
    *max_attempts = n;
    return json_pack("{s:I,s:f,s:f,s:o}", "max_attempts", (json_int_t)n, "backoff_s", b,
                     "max_backoff_s", mb, "on", won);
}

int rk_srv_retry_parse(const json_t *body, const char *path, rk_http_resp_t *resp, json_t **extra)
{
    *extra = NULL;
    if (!body)
        return 0;
    json_t *r = json_object_get(body, "retry");
    if (r && json_is_null(r))
        r = NULL;
    rk_time_t nb = 0;
    bool has_nb = false;
    rk_verr_t e;
    if (rk_json_get_time(body, path, "not_before", RK_OPTIONAL, &nb, &has_nb, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        return RK_EINVAL;
    }
    if (!r && !has_nb)
        return 0;
    int64_t n = 1;
    json_t *pol = NULL;
    if (r) {
        char pp[RK_PATH_MAX];
        rk_path_key(pp, path, "retry");
        if (!(pol = policy_parse(r, pp, &n, &e))) {
            rk_http_resp_error(resp, 422, e.msg);
            return RK_EINVAL;
        }
    }
    json_t *x = json_pack("{s:I,s:I}", "attempt", (json_int_t)1, "max_attempts", (json_int_t)n);
    if (x && pol)
        json_object_set(x, "retry", pol);
    json_decref(pol);
    if (x && has_nb)
        rk_json_set_time(x, "not_before", nb);
    if (!x) {
        rk_http_resp_error(resp, 500, "out of memory");
        return RK_ENOMEM;
    }
    *extra = x;
    return 0;
}

int rk_srv_retry_check_spec(const json_t *spec, rk_http_resp_t *resp)
{
    const json_t *r = json_object_get(spec, "retry");
    if (!r || json_is_null(r))
        return 0;
    rk_verr_t e;
    int64_t n;
    json_t *pol = policy_parse(r, "experiment_spec.retry", &n, &e);
    if (!pol) {
        rk_http_resp_error(resp, 422, e.msg);
        return RK_EINVAL;
    }
    json_decref(pol);
    return 0;
}

json_t *rk_srv_retry_extra(const rk_experiment_t *x, const json_t *extra)
{
    const json_t *r = x && x->extra ? json_object_get(x->extra, "retry") : NULL;
    if (!r || json_is_null(r) || (extra && json_object_get(extra, "retry")))
        return extra ? json_incref((json_t *)extra) : NULL;
    rk_verr_t e;
    int64_t n = 1;
    json_t *pol = policy_parse(r, "retry", &n, &e);
    if (!pol) {
        rk_log_warn("experiment's retry policy ignored", "experiment_id", x->id, "error", e.msg);
        return extra ? json_incref((json_t *)extra) : NULL;
    }
    json_t *out = extra ? json_deep_copy(extra) : json_object();
    if (out) {
        json_object_set_new(out, "attempt", json_integer(1));
        json_object_set_new(out, "max_attempts", json_integer(n));
        json_object_set(out, "retry", pol);
    }
    json_decref(pol);
    return out;
}

/* ---- GET /results/{job_id}?attempt=N ---- */

void rk_srv_result_attempt(rk_server_t *srv, rk_http_resp_t *resp, const char *job_id,
                           const char *q)
{
    char *end = NULL;
    long n = strtol(q, &end, 10);
    if (!*q || *end || n < 1 || n > RK_SRV_RETRY_ATTEMPTS_MAX) {
        rk_http_resp_errorf(resp, 422, "attempt: expected an integer 1..%d",
                            RK_SRV_RETRY_ATTEMPTS_MAX);
        return;
    }
    rk_job_info_t j = {0};
    int rc = rk_store_job_get(srv->store, job_id, false, &j);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "job %s", job_id);
        return;
    }
    json_int_t cur = json_integer_value(json_object_get(j.extra, "attempt"));
    if (cur < 1)
        cur = 1;
    /* The last attempt's result exists once it ended: the job's result
     * before then is the previous attempt's. */
    bool ended = rk_job_state_terminal(j.status.status);
    rk_job_info_cleanup(&j);
    if (n == cur && !ended) {
        rk_http_resp_errorf(resp, 404, "job %s: attempt %ld has not ended", job_id, n);
        return;
    }
    if (n > cur) {
        rk_http_resp_errorf(resp, 404, "job %s has no attempt %ld (it is at attempt %lld)", job_id,
                            n, (long long)cur);
        return;
    }
    if (n == cur) { /* the last attempt's result is the job's result */
        rk_result_t r = {0};
        rc = rk_store_result_get(srv->store, job_id, &r);
        if (rc == RK_ENOENT)
            rk_http_resp_errorf(resp, 404, "job %s has no result of attempt %ld (yet)", job_id, n);
        else if (rc)
            rk_srv_store_error(resp, rc, "result");
        else
            rk_http_resp_json_take(
                resp, 200,
                json_pack("{s:o,s:I}", "result", rk_result_encode(&r), "attempt", (json_int_t)n));
        rk_result_cleanup(&r);
        return;
    }
    char id[160], *doc = NULL;
    snprintf(id, sizeof id, "%.128s/%ld", job_id, n);
    rc = rk_store_doc_get(srv->store, RK_SRV_RESULT_ATTEMPT_DOC, id, &doc);
    if (rc == RK_ENOENT) {
        rk_http_resp_errorf(resp, 404, "job %s kept no result of attempt %ld", job_id, n);
        return;
    }
    if (rc) {
        rk_srv_store_error(resp, rc, "result");
        return;
    }
    json_t *v = json_loads(doc, 0, NULL);
    free(doc);
    if (!v) {
        rk_http_resp_error(resp, 500, "stored result unreadable");
        return;
    }
    rk_http_resp_json_take(resp, 200,
                           json_pack("{s:o,s:I}", "result", v, "attempt", (json_int_t)n));
}

/* ---- POST /jobs/{job_id}/retry ---- */

static void h_retry(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    const char *id = rk_http_req_param(req, "job_id");
    rk_job_info_t old = {0};
    rk_experiment_t x = {0};
    rk_srv_job_opts_t o = {.count = 1};
    int rc = rk_store_job_get(srv->store, id, false, &old);
    if (rc) {
        rk_srv_store_errorf(resp, rc, "job %s", id);
        goto done;
    }
    rk_job_state_t st = old.status.status;
    if (st != RK_JOB_FAILED && st != RK_JOB_TIMEOUT && st != RK_JOB_CANCELLED) {
        rk_http_resp_errorf(resp, 409,
                            "job %s is %s: only a failed, timed out or cancelled job is retried",
                            id, rk_job_state_name(st));
        goto done;
    }
    if ((rc = rk_store_experiment_get(srv->store, old.experiment_id, &x))) {
        rk_srv_store_errorf(resp, rc, "experiment %s", old.experiment_id);
        goto done;
    }
    /* The same agent choice: its agent, or any matching one (a job
     * submitted to any agent keeps its selector, {} for none, after it was
     * placed: rk_srv_job_fill). */
    o.priority = old.priority;
    o.exclusive = old.exclusive;
    o.selector = old.selector_labels ? json_incref(old.selector_labels) : NULL;
    json_t *pol = json_object_get(old.extra, "retry");
    o.extra = json_pack("{s:I,s:I,s:s}", "attempt", (json_int_t)1, "max_attempts",
                        json_integer_value(json_object_get(pol, "max_attempts")) > 0
                            ? json_integer_value(json_object_get(pol, "max_attempts"))
                            : (json_int_t)1,
                        "retry_of", old.job_id);
    if (o.extra && pol)
        json_object_set(o.extra, "retry", pol);
    bool any = !old.agent_id || !*old.agent_id || old.selector_labels;
    rk_registered_agent_t a = {0};
    if (!any && (rc = rk_store_agent_get(srv->store, old.agent_id, &a))) {
        rk_srv_store_errorf(resp, rc, "agent %s", old.agent_id);
        goto done;
    }
    rk_srv_jobs_submit(srv, req, resp, &x, any ? NULL : &a, 1, &o, true);
    rk_registered_agent_cleanup(&a);
done:
    rk_srv_job_opts_cleanup(&o);
    rk_experiment_cleanup(&x);
    rk_job_info_cleanup(&old);
}

int rk_srv_routes_retry(rk_server_t *srv)
{
    return rk_http_server_route(srv->http, "POST", "/api/v1/jobs/{job_id}/retry", h_retry, srv);
}
