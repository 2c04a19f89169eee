/* Result reports: the export (one row per job, metrics as columns) and the
 * comparison across machines (one row per agent). Pure functions over the
 * server's JSON, so the tests feed them documents directly.
 */
#ifndef RK_CLI_REPORT_H
#define RK_CLI_REPORT_H

#include <jansson.h>

#include "base/buf.h"
#include "model/json.h"

/* Fixed columns of an export row, before the metric columns. */
#define RK_CLI_EXPORT_FIXED                                                                        \
    "job_id", "experiment_id", "agent_id", "status", "started_at", "completed_at",                 \
        "duration_seconds", "error"

/* Turns results (an array of ExperimentResult, each validated with
 * rk_result_decode) into rows: *out is a new array of flat objects with
 * the fixed columns then every metric (by name; columns are the union over
 * all results, sorted). *columns (may be NULL) gets a new array of the
 * column names in order. RK_EINVAL with e naming the bad field, or
 * RK_ENOMEM. */
int rk_cli_export_rows(const json_t *results, json_t **out, json_t **columns, rk_verr_t *e);

/* Appends rows as CSV (RFC 4180, CRLF-free: lines end in "\n"): a header
 * of the column names, then one line per row; absent values are empty. */
int rk_cli_export_csv(const json_t *rows, const json_t *columns, rk_buf_t *out);

/* The comparison: results of one experiment grouped by agent. Only
 * completed results count. Each agent row holds agent_id, hardware (a
 * summary from the registered agent's system_info in agents, an array of
 * RegisteredAgentInfo, else from the result's hardware_info), jobs (how
 * many completed) and metrics: the mean of each numeric metric over its
 * jobs. metrics_filter (comma-separated names, may be NULL) keeps only
 * those metrics. *out is {"metrics": [names], "agents": [rows sorted by
 * agent_id]}. RK_EINVAL (e set) for a result that does not validate. */
int rk_cli_compare(const json_t *results, const json_t *agents, const char *metrics_filter,
                   json_t **out, rk_verr_t *e);

#endif
