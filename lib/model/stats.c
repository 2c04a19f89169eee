#include "model/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rk_stats_compute(const char *name, const double *values, size_t n, rk_metric_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return RK_EINVAL;
    double *sorted = malloc(n * sizeof *sorted);
    out->name = strdup(name);
    out->raw_values = malloc(n * sizeof *out->raw_values);
    out->outliers = malloc(n * sizeof *out->outliers);
    if (!sorted || !out->name || !out->raw_values || !out->outliers) {
        free(sorted);
        rk_metric_stats_cleanup(out);
        return RK_ENOMEM;
    }
    memcpy(out->raw_values, values, n * sizeof *values);
    memcpy(sorted, values, n * sizeof *values);
    out->count = out->n_raw = n;

    double sum = 0, mean;
    for (size_t i = 0; i < n; i++)
        sum += values[i];
    mean = sum / (double)n;
    if (!isfinite(mean)) { /* values near DBL_MAX: summing x / n cannot overflow */
        mean = 0;
        for (size_t i = 0; i < n; i++)
            mean += values[i] / (double)n;
    }
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (values[i] - mean) * (values[i] - mean);
    double std = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
    if (!isfinite(std))
        std = DBL_MAX; /* the spread of values near DBL_MAX overflows */

    qsort(sorted, n, sizeof *sorted, cmp_double);
    out->mean = mean;
    out->std = std;
    out->min = sorted[0];
    out->max = sorted[n - 1];
    out->median = n % 2 ? sorted[n / 2] : sorted[n / 2 - 1] / 2 + sorted[n / 2] / 2;
    free(sorted);

    for (size_t i = 0; i < n; i++) {
        if (fabs(values[i] - mean) > 2 * std)
            out->outliers[out->n_outliers++] = values[i];
    }
    return RK_OK;
}

void rk_stats_summary_cleanup(rk_stats_summary_t *s)
{
    json_decref(s->metrics);
    json_decref(s->cold_start_metrics);
    rk_metric_stats_free(s->stats, s->n_stats);
    memset(s, 0, sizeof *s);
}

/* Adds to metrics (as null placeholders) every name the warm runs report, in
 * order of first appearance, so the summary keeps the runs' order. */
static int collect_names(const rk_run_t *warm, size_t n, json_t *metrics)
{
    for (size_t i = 0; i < n; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(warm[i].metrics, k, v)
        {
            if (!json_object_get(metrics, k) && json_object_set_new(metrics, k, json_null()))
                return RK_ENOMEM;
        }
    }
    return RK_OK;
}

/* Fills metrics[name] (and one stats entry when name is numeric somewhere)
 * from the warm runs; vals has room for n values. */
static int summarize_one(const rk_run_t *warm, size_t n, const char *name, double *vals,
                         rk_stats_summary_t *out)
{
    size_t count = 0;
    json_t *last = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(warm[i].metrics, name);
        if (json_is_number(v))
            vals[count++] = json_number_value(v);
        else if (v)
            last = v;
    }
    if (count == 0)
        return json_object_set(out->metrics, name, last) ? RK_ENOMEM : RK_OK;
    rk_metric_stats_t *s = &out->stats[out->n_stats];
    int rc = rk_stats_compute(name, vals, count, s);
    if (rc)
        return rc;
    out->n_stats++;
    return json_object_set_new(out->metrics, name, json_real(s->mean)) ? RK_ENOMEM : RK_OK;
}

int rk_stats_summarize(const rk_run_t *runs, size_t n, rk_stats_summary_t *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return (out->metrics = json_object()) ? RK_OK : RK_ENOMEM;
    out->cold_start_metrics = runs[0].metrics ? json_deep_copy(runs[0].metrics) : json_object();
    if (!out->cold_start_metrics)
        return RK_ENOMEM;
    if (n == 1)
        return (out->metrics = json_deep_copy(out->cold_start_metrics)) ? RK_OK : RK_ENOMEM;

    const rk_run_t *warm = runs + 1;
    size_t n_warm = n - 1;
    int rc = RK_ENOMEM;
    json_t *names = NULL;
    double *vals = malloc(n_warm * sizeof *vals);
    if (!vals || !(out->metrics = json_object()) || collect_names(warm, n_warm, out->metrics))
        goto out;
    /* Iterate a copy of the names: summarize_one replaces values in metrics. */
    names = json_object_size(out->metrics) ? json_copy(out->metrics) : json_object();
    out->stats = calloc(json_object_size(names) + 1, sizeof *out->stats);
    if (!names || !out->stats)
        goto out;
    const char *k;
    json_t *v;
    rc = RK_OK;
    json_object_foreach(names, k, v)
    {
        if ((rc = summarize_one(warm, n_warm, k, vals, out)))
            break;
    }
out:
    json_decref(names);
    free(vals);
    return rc;
}

int rk_stats_apply(rk_result_t *r)
{
    rk_stats_summary_t s;
    int rc = rk_stats_summarize(r->runs, r->n_runs, &s);
    if (rc) {
        rk_stats_summary_cleanup(&s);
        return rc;
    }
    json_decref(r->metrics);
    json_decref(r->cold_start_metrics);
    rk_metric_stats_free(r->stats, r->n_stats);
    r->metrics = s.metrics;
    r->cold_start_metrics = s.cold_start_metrics;
    r->stats = s.stats;
    r->n_stats = s.n_stats;
    r->has_runs = true;
    return RK_OK;
}
