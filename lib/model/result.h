/* JobResult (what an agent answers for a finished job) and ExperimentResult
 * (the same plus agent_id, as the server serves it).
 *
 * Results are stored whole: unknown fields at the top level, in each run
 * and in each metric_statistics entry are kept in `extra` and written back.
 * metrics, cold_start_metrics and each run's metrics are kept as JSON
 * objects whose values are checked to be numbers or strings.
 *
 * Decoders take the JSON value v and its path ("" at the top level,
 * "result" inside {result: ...}) and fill *out. On success *out owns
 * everything in it (free with rk_result_cleanup). On failure *out is left
 * freeable, e holds "path.field: reason" and RK_EINVAL (or RK_ENOMEM) is
 * returned. Encoders return a new JSON object (json_decref it), or NULL
 * when memory runs out.
 *
 * Leniency: metrics, hardware_info and artifacts default to empty when
 * absent, and are always encoded.
 */
#ifndef RK_MODEL_RESULT_H
#define RK_MODEL_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/time.h"
#include "model/enums.h"
#include "model/json.h"

#define RK_RESULT_ARTIFACTS_MAX 65536
/* Most runs (and so most values per statistic) a result may carry. */
#define RK_RESULT_RUNS_MAX 1000

typedef struct rk_run {
    int64_t run_id; /* >= 0 */
    bool is_cold_start;
    rk_time_t started_at;
    double duration_seconds; /* >= 0 */
    json_t *metrics;         /* {name: number or string}; never NULL after decode */
    json_t *extra;           /* unknown fields, or NULL */
} rk_run_t;

typedef struct rk_metric_stats {
    char *name;
    double mean, std, min, max, median;
    size_t count;       /* == n_raw on anything stats.c computes */
    double *raw_values; /* in run order */
    size_t n_raw;
    double *outliers; /* the raw values beyond 2 std of the mean, in run order */
    size_t n_outliers;
    json_t *extra;
} rk_metric_stats_t;

typedef struct rk_result {
    char *job_id;
    char *experiment_id;
    char *agent_id; /* ExperimentResult only; NULL in a JobResult */
    rk_job_state_t status;
    rk_time_t started_at;
    rk_time_t completed_at;
    double duration_seconds; /* >= 0 */
    json_t *output;          /* any JSON value, or NULL */
    json_t *metrics;         /* {name: number or string}; never NULL after decode */
    char *model_actual;      /* NULL when absent, as are the other optional strings */
    char *framework_version;
    json_t *hardware_info; /* object; never NULL after decode */
    char **artifacts;
    size_t n_artifacts;
    char *error;
    char *error_type;
    char *traceback;
    /* Whether the job's stdout.log / stderr.log stopped at the agent's
     * --log-cap (output past it was dropped). Encoded only when has_logs:
     * an agent sets them on every result; results of agents older than the
     * fields decode without them and stay so. */
    bool has_logs;
    bool stdout_truncated;
    bool stderr_truncated;
    /* Multi-run results: encoded only when has_runs (runs and
     * metric_statistics) or cold_start_metrics is set. */
    bool has_runs;
    rk_run_t *runs;
    size_t n_runs;
    rk_metric_stats_t *stats; /* metric_statistics, in their JSON order */
    size_t n_stats;
    json_t *cold_start_metrics; /* or NULL */
    json_t *extra;
} rk_result_t;

int rk_result_decode(const json_t *v, const char *path, rk_result_t *out, rk_verr_t *e);
json_t *rk_result_encode(const rk_result_t *r);
/* Frees everything and leaves *r zeroed. */
void rk_result_cleanup(rk_result_t *r);

/* Checks that m is an object whose values are numbers or strings
 * ("path.NAME: expected a number or a string"). */
int rk_metrics_validate(const json_t *m, const char *path, rk_verr_t *e);

/* Frees one statistics entry's contents, or a whole array of them. */
void rk_metric_stats_cleanup(rk_metric_stats_t *s);
void rk_metric_stats_free(rk_metric_stats_t *v, size_t n);
/* Frees one run's contents, or a whole array of them. */
void rk_run_cleanup(rk_run_t *r);
void rk_runs_free(rk_run_t *v, size_t n);

#endif
