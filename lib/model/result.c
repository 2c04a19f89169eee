#include "model/result.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static const char *const result_known[] = {"job_id",
                                           "experiment_id",
                                           "agent_id",
                                           "status",
                                           "started_at",
                                           "completed_at",
                                           "duration_seconds",
                                           "output",
                                           "metrics",
                                           "model_actual",
                                           "framework_version",
                                           "hardware_info",
                                           "artifacts",
                                           "error",
                                           "error_type",
                                           "traceback",
                                           "stdout_truncated",
                                           "stderr_truncated",
                                           "runs",
                                           "metric_statistics",
                                           "cold_start_metrics",
                                           NULL};
static const char *const run_known[] = {"run_id",           "is_cold_start", "started_at",
                                        "duration_seconds", "metrics",       NULL};
static const char *const stats_known[] = {"mean",  "std",        "min",      "max", "median",
                                          "count", "raw_values", "outliers", NULL};

int rk_metrics_validate(const json_t *m, const char *path, rk_verr_t *e)
{
    int rc = rk_json_expect_obj(m, path, e);
    if (rc)
        return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        if (!json_is_number(v) && !json_is_string(v)) {
            char p[RK_PATH_MAX];
            rk_path_key(p, path, k);
            return rk_verr_set(e, p, "expected a number or a string");
        }
    }
    return RK_OK;
}

/* A metrics object at obj[key]: validated, {} when absent (or NULL when
 * empty_default is false). */
static int get_metrics(const json_t *obj, const char *path, const char *key, bool empty_default,
                       json_t **out, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    rk_path_key(p, path, key);
    int rc = rk_json_get_obj(obj, path, key, RK_OPTIONAL, out, e);
    if (!rc && *out)
        rc = rk_metrics_validate(*out, p, e);
    else if (!rc && empty_default && !(*out = json_object()))
        rc = RK_ENOMEM;
    return rc;
}

/* Array of finite numbers at obj[key] (absent: empty). */
static int get_numv(const json_t *obj, const char *path, const char *key, double **out, size_t *n,
                    rk_verr_t *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, key);
    size_t count = json_array_size(v);
    if (!json_is_array(v))
        return rk_verr_set(e, p, "expected an array of numbers");
    if (count > RK_RESULT_RUNS_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_RESULT_RUNS_MAX);
    double *arr = calloc(count ? count : 1, sizeof *arr);
    if (!arr)
        return RK_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        json_t *it = json_array_get(v, i);
        if (!json_is_number(it)) {
            free(arr);
            return rk_verr_set(e, p, "expected an array of numbers");
        }
        arr[i] = json_number_value(it);
    }
    *out = arr;
    *n = count;
    return RK_OK;
}

/* A number >= 0 (durations, std). */
static int get_nonneg(const json_t *obj, const char *path, const char *key, double *out,
                      rk_verr_t *e)
{
    int rc = rk_json_get_num(obj, path, key, RK_REQUIRED, -DBL_MAX, DBL_MAX, out, NULL, e);
    if (!rc && *out < 0) {
        char p[RK_PATH_MAX];
        rk_path_key(p, path, key);
        rc = rk_verr_set(e, p, "expected a number >= 0");
    }
    return rc;
}

static int decode_run(const json_t *v, const char *path, rk_run_t *r, rk_verr_t *e)
{
    int rc = rk_json_expect_obj(v, path, e);
    if (rc ||
        (rc = rk_json_get_int(v, path, "run_id", RK_REQUIRED, 0, INT32_MAX, &r->run_id, NULL, e)) ||
        (rc =
             rk_json_get_bool(v, path, "is_cold_start", RK_REQUIRED, &r->is_cold_start, NULL, e)) ||
        (rc = rk_json_get_time(v, path, "started_at", RK_REQUIRED, &r->started_at, NULL, e)) ||
        (rc = get_nonneg(v, path, "duration_seconds", &r->duration_seconds, e)) ||
        (rc = get_metrics(v, path, "metrics", true, &r->metrics, e)))
        return rc;
    return rk_json_keep_unknown(v, run_known, &r->extra);
}

static int decode_runs(const json_t *v, const char *path, rk_result_t *out, rk_verr_t *e)
{
    json_t *arr = json_object_get(v, "runs");
    if (!arr || json_is_null(arr))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "runs");
    if (!json_is_array(arr))
        return rk_verr_set(e, p, "expected an array");
    size_t count = json_array_size(arr);
    if (count > RK_RESULT_RUNS_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_RESULT_RUNS_MAX);
    out->has_runs = true;
    out->runs = calloc(count ? count : 1, sizeof *out->runs);
    if (!out->runs)
        return RK_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        char ip[RK_PATH_MAX];
        rk_path_index(ip, p, i);
        out->n_runs++; /* counted first so cleanup frees a half-decoded run */
        int rc = decode_run(json_array_get(arr, i), ip, &out->runs[i], e);
        if (rc)
            return rc;
    }
    return RK_OK;
}

static int decode_stat(const json_t *v, const char *path, rk_metric_stats_t *s, rk_verr_t *e)
{
    int64_t count = 0;
    int rc = rk_json_expect_obj(v, path, e);
    if (rc ||
        (rc =
             rk_json_get_num(v, path, "mean", RK_REQUIRED, -DBL_MAX, DBL_MAX, &s->mean, NULL, e)) ||
        (rc = get_nonneg(v, path, "std", &s->std, e)) ||
        (rc = rk_json_get_num(v, path, "min", RK_REQUIRED, -DBL_MAX, DBL_MAX, &s->min, NULL, e)) ||
        (rc = rk_json_get_num(v, path, "max", RK_REQUIRED, -DBL_MAX, DBL_MAX, &s->max, NULL, e)) ||
        (rc = rk_json_get_num(v, path, "median", RK_REQUIRED, -DBL_MAX, DBL_MAX, &s->median, NULL,
                              e)) ||
        (rc = rk_json_get_int(v, path, "count", RK_REQUIRED, 0, RK_RESULT_RUNS_MAX, &count, NULL,
                              e)) ||
        (rc = get_numv(v, path, "raw_values", &s->raw_values, &s->n_raw, e)) ||
        (rc = get_numv(v, path, "outliers", &s->outliers, &s->n_outliers, e)))
        return rc;
    s->count = (size_t)count;
    return rk_json_keep_unknown(v, stats_known, &s->extra);
}

static int decode_stats(const json_t *v, const char *path, rk_result_t *out, rk_verr_t *e)
{
    json_t *obj = json_object_get(v, "metric_statistics");
    if (!obj || json_is_null(obj))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "metric_statistics");
    if (!json_is_object(obj))
        return rk_verr_set(e, p, "expected an object");
    /* As many entries as metrics, which only the body's size cap bounds. */
    size_t count = json_object_size(obj);
    out->has_runs = true;
    out->stats = calloc(count ? count : 1, sizeof *out->stats);
    if (!out->stats)
        return RK_ENOMEM;
    const char *k;
    json_t *sv;
    json_object_foreach(obj, k, sv)
    {
        char kp[RK_PATH_MAX];
        rk_path_key(kp, p, k);
        rk_metric_stats_t *s = &out->stats[out->n_stats++];
        if (!(s->name = strdup(k)))
            return RK_ENOMEM;
        int rc = decode_stat(sv, kp, s, e);
        if (rc)
            return rc;
    }
    return RK_OK;
}

int rk_result_decode(const json_t *v, const char *path, rk_result_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    int st = 0;
    bool has_out = false, has_err = false;
    int rc = rk_json_expect_obj(v, path, e);
    if (rc)
        goto out;
    if ((rc = rk_json_get_id(v, path, "job_id", RK_REQUIRED, &out->job_id, e)) ||
        (rc = rk_json_get_id(v, path, "experiment_id", RK_REQUIRED, &out->experiment_id, e)) ||
        (rc = rk_json_get_id(v, path, "agent_id", RK_OPTIONAL, &out->agent_id, e)) ||
        (rc = rk_json_get_enum(v, path, "status", RK_REQUIRED, rk_job_state_names,
                               RK_JOB_STATE_COUNT, &st, e)) ||
        (rc = rk_json_get_time(v, path, "started_at", RK_REQUIRED, &out->started_at, NULL, e)) ||
        (rc =
             rk_json_get_time(v, path, "completed_at", RK_REQUIRED, &out->completed_at, NULL, e)) ||
        (rc = get_nonneg(v, path, "duration_seconds", &out->duration_seconds, e)) ||
        (rc = get_metrics(v, path, "metrics", true, &out->metrics, e)) ||
        (rc = rk_json_get_str(v, path, "model_actual", RK_OPTIONAL, 0, &out->model_actual, e)) ||
        (rc = rk_json_get_str(v, path, "framework_version", RK_OPTIONAL, 0, &out->framework_version,
                              e)) ||
        (rc = rk_json_get_obj(v, path, "hardware_info", RK_OPTIONAL, &out->hardware_info, e)) ||
        (rc = rk_json_get_strv(v, path, "artifacts", RK_OPTIONAL, RK_RESULT_ARTIFACTS_MAX,
                               &out->artifacts, &out->n_artifacts, e)) ||
        (rc = rk_json_get_str(v, path, "error", RK_OPTIONAL, 0, &out->error, e)) ||
        (rc = rk_json_get_str(v, path, "error_type", RK_OPTIONAL, 0, &out->error_type, e)) ||
        (rc = rk_json_get_str(v, path, "traceback", RK_OPTIONAL, 0, &out->traceback, e)) ||
        (rc = rk_json_get_bool(v, path, "stdout_truncated", RK_OPTIONAL, &out->stdout_truncated,
                               &has_out, e)) ||
        (rc = rk_json_get_bool(v, path, "stderr_truncated", RK_OPTIONAL, &out->stderr_truncated,
                               &has_err, e)) ||
        (rc = decode_runs(v, path, out, e)) || (rc = decode_stats(v, path, out, e)) ||
        (rc = get_metrics(v, path, "cold_start_metrics", false, &out->cold_start_metrics, e)) ||
        (rc = rk_json_keep_unknown(v, result_known, &out->extra)))
        goto out;
    out->status = (rk_job_state_t)st;
    out->has_logs = has_out || has_err;
    json_t *o = json_object_get(v, "output");
    if (o && !json_is_null(o))
        out->output = json_incref(o);
    if (!out->hardware_info && !(out->hardware_info = json_object()))
        rc = RK_ENOMEM;
out:
    if (rc)
        rk_result_cleanup(out);
    return rc;
}

static json_t *start_from(const json_t *extra)
{
    return extra ? json_deep_copy(extra) : json_object();
}

/* Sets o[key] to a deep copy of v (skipped when v is NULL). */
static int set_copy(json_t *o, const char *key, const json_t *v)
{
    if (!v)
        return RK_OK;
    return json_object_set_new(o, key, json_deep_copy(v)) ? RK_ENOMEM : RK_OK;
}

static int set_real(json_t *o, const char *key, double d)
{
    return json_object_set_new(o, key, json_real(d)) ? RK_ENOMEM : RK_OK;
}

static json_t *numv(const double *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, json_real(v[i]))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *encode_run(const rk_run_t *r)
{
    json_t *o = start_from(r->extra);
    if (o && (json_object_set_new(o, "run_id", json_integer(r->run_id)) ||
              json_object_set_new(o, "is_cold_start", json_boolean(r->is_cold_start)) ||
              rk_json_set_time(o, "started_at", r->started_at) ||
              set_real(o, "duration_seconds", r->duration_seconds) ||
              json_object_set_new(o, "metrics",
                                  r->metrics ? json_deep_copy(r->metrics) : json_object()))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *encode_stat(const rk_metric_stats_t *s)
{
    json_t *o = start_from(s->extra);
    if (o &&
        (set_real(o, "mean", s->mean) || set_real(o, "std", s->std) || set_real(o, "min", s->min) ||
         set_real(o, "max", s->max) || set_real(o, "median", s->median) ||
         json_object_set_new(o, "count", json_integer((json_int_t)s->count)) ||
         json_object_set_new(o, "raw_values", numv(s->raw_values, s->n_raw)) ||
         json_object_set_new(o, "outliers", numv(s->outliers, s->n_outliers)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int encode_logs(json_t *o, const rk_result_t *r)
{
    if (!r->has_logs)
        return RK_OK;
    if (json_object_set_new(o, "stdout_truncated", json_boolean(r->stdout_truncated)) ||
        json_object_set_new(o, "stderr_truncated", json_boolean(r->stderr_truncated)))
        return RK_ENOMEM;
    return RK_OK;
}

static int encode_multi(json_t *o, const rk_result_t *r)
{
    if (set_copy(o, "cold_start_metrics", r->cold_start_metrics))
        return RK_ENOMEM;
    if (!r->has_runs)
        return RK_OK;
    json_t *runs = json_array();
    if (json_object_set_new(o, "runs", runs))
        return RK_ENOMEM;
    json_t *stats = json_object();
    if (json_object_set_new(o, "metric_statistics", stats))
        return RK_ENOMEM;
    for (size_t i = 0; i < r->n_runs; i++) {
        if (json_array_append_new(runs, encode_run(&r->runs[i])))
            return RK_ENOMEM;
    }
    for (size_t i = 0; i < r->n_stats; i++) {
        if (json_object_set_new(stats, r->stats[i].name, encode_stat(&r->stats[i])))
            return RK_ENOMEM;
    }
    return RK_OK;
}

json_t *rk_result_encode(const rk_result_t *r)
{
    json_t *o = start_from(r->extra);
    if (!o)
        return NULL;
    if (rk_json_set_str(o, "job_id", r->job_id) ||
        rk_json_set_str(o, "experiment_id", r->experiment_id) ||
        rk_json_set_str(o, "agent_id", r->agent_id) ||
        rk_json_set_str(o, "status", rk_job_state_name(r->status)) ||
        rk_json_set_time(o, "started_at", r->started_at) ||
        rk_json_set_time(o, "completed_at", r->completed_at) ||
        set_real(o, "duration_seconds", r->duration_seconds) || set_copy(o, "output", r->output) ||
        json_object_set_new(o, "metrics",
                            r->metrics ? json_deep_copy(r->metrics) : json_object()) ||
        rk_json_set_str(o, "model_actual", r->model_actual) ||
        rk_json_set_str(o, "framework_version", r->framework_version) ||
        json_object_set_new(o, "hardware_info",
                            r->hardware_info ? json_deep_copy(r->hardware_info) : json_object()) ||
        rk_json_set_strv(o, "artifacts", r->artifacts, r->n_artifacts) ||
        rk_json_set_str(o, "error", r->error) || rk_json_set_str(o, "error_type", r->error_type) ||
        rk_json_set_str(o, "traceback", r->traceback) || encode_logs(o, r) || encode_multi(o, r)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void rk_run_cleanup(rk_run_t *r)
{
    json_decref(r->metrics);
    json_decref(r->extra);
    memset(r, 0, sizeof *r);
}

void rk_runs_free(rk_run_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rk_run_cleanup(&v[i]);
    free(v);
}

void rk_metric_stats_cleanup(rk_metric_stats_t *s)
{
    free(s->name);
    free(s->raw_values);
    free(s->outliers);
    json_decref(s->extra);
    memset(s, 0, sizeof *s);
}

void rk_metric_stats_free(rk_metric_stats_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rk_metric_stats_cleanup(&v[i]);
    free(v);
}

void rk_result_cleanup(rk_result_t *r)
{
    if (!r)
        return;
    free(r->job_id);
    free(r->experiment_id);
    free(r->agent_id);
    json_decref(r->output);
    json_decref(r->metrics);
    free(r->model_actual);
    free(r->framework_version);
    json_decref(r->hardware_info);
    rk_strv_free(r->artifacts, r->n_artifacts);
    free(r->error);
    free(r->error_type);
    free(r->traceback);
    rk_runs_free(r->runs, r->n_runs);
    rk_metric_stats_free(r->stats, r->n_stats);
    json_decref(r->cold_start_metrics);
    json_decref(r->extra);
    memset(r, 0, sizeof *r);
}
