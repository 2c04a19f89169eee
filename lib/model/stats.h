/* Statistics of multi-run results, as protocol.md "Multi-run results"
 * defines them.
 *
 * The first run is the cold start; every statistic is over the warm runs
 * (all runs but the first), in run order. std is the sample standard
 * deviation (n - 1; 0 for a single value); outliers are the warm values
 * farther than 2 std from the mean. Only numeric metrics get statistics.
 * These functions only compute: no I/O, no clock.
 */
#ifndef RK_MODEL_STATS_H
#define RK_MODEL_STATS_H

#include <jansson.h>
#include <stddef.h>

#include "model/result.h"

/* Statistics of values[0..n) (n >= 1, finite) into *out, which takes a
 * copy of name and of the values; free with rk_metric_stats_cleanup. On
 * failure *out is zeroed and RK_EINVAL (n == 0) or RK_ENOMEM returned. */
int rk_stats_compute(const char *name, const double *values, size_t n, rk_metric_stats_t *out);

/* What a multi-run result reports besides its runs. */
typedef struct rk_stats_summary {
    /* Warm-run means of the numeric metrics; a metric that is a string in
     * every warm run it appears in takes its last warm value. With a single
     * run, a copy of that run's metrics. */
    json_t *metrics;
    json_t *cold_start_metrics; /* the first run's metrics; NULL with no runs */
    rk_metric_stats_t *stats;   /* in order of first appearance among warm runs */
    size_t n_stats;
} rk_stats_summary_t;

/* Summarizes runs[0..n) (n may be 0) into *out, which the caller frees with
 * rk_stats_summary_cleanup (also after a failure). */
int rk_stats_summarize(const rk_run_t *runs, size_t n, rk_stats_summary_t *out);
void rk_stats_summary_cleanup(rk_stats_summary_t *s);

/* Replaces r's metrics, cold_start_metrics and metric_statistics with the
 * summary of r's runs, and sets has_runs. On failure r is unchanged. */
int rk_stats_apply(rk_result_t *r);

#endif
