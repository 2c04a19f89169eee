/* GET /compare's body: one metric at a time, the values of each side pooled
 * from its results and compared with Welch's test (welch.h).
 *
 * A result gives a metric's values as the raw values of its warm runs when
 * it has metric_statistics for it, else its one value in `metrics`. Which
 * way is better comes from the experiment's spec when it says so
 * (metrics.metrics.<name>.higher_is_better: true | false), else from the
 * metric's unit suffix (rk_metric_direction).
 */
#ifndef RK_COMPARE_COMPARE_H
#define RK_COMPARE_COMPARE_H

#include <jansson.h>
#include <stddef.h>

#include "compare/welch.h"
#include "model/json.h"
#include "model/result.h"

/* Appends result r's values of metric name to *v (n used, *cap allocated).
 * Returns how many it added (0: r has no number for it); RK_ENOMEM < 0. */
long rk_compare_values(const rk_result_t *r, const char *name, double **v, size_t *n, size_t *cap);

/* The direction for name: the spec's metrics object (may be NULL) first. */
rk_direction_t rk_compare_direction(const json_t *spec_metrics, const char *name);

/* {name: {a_mean, b_mean, a_n, b_n, diff, ratio, ci95_low, ci95_high,
 * p_value, verdict, higher_is_better}} for each of metrics[0..nmetrics)
 * or, when nmetrics is 0, for every numeric metric both sides have (sorted
 * by name). What cannot be computed is null. A metric named but missing on
 * a side: RK_ENOENT with e saying which side. New reference in *out. */
int rk_compare_build(const rk_result_t *a, size_t na, const rk_result_t *b, size_t nb,
                     const char *const *metrics, size_t nmetrics, const json_t *spec_metrics,
                     double min_delta, json_t **out, rk_verr_t *e);

/* One metric's comparison as the object above (new reference). */
json_t *rk_welch_to_json(const rk_welch_t *w);

#endif
