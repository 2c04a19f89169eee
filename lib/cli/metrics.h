/* How the CLI shows metric names: their unit (from the name's suffix, as
 * protocol.md has the unit last), which ones are bookkeeping rather than
 * measurements, and the order a comparison lists them in. */
#ifndef RK_CLI_METRICS_H
#define RK_CLI_METRICS_H

#include <jansson.h>
#include <stdbool.h>

/* "GB/s" for mem_seq_read_64mb_gb_s, "s" for wall_time_s, "" when the name
 * carries no unit. Static string. */
const char *rk_cli_metric_unit(const char *name);

/* True for checksums and bookkeeping (exit_status, blas_threads, ...):
 * values that prove or describe a run rather than measure it. */
bool rk_cli_metric_bookkeeping(const char *name);

/* A new array of the names in `names` (an array of strings) in showing
 * order: with filter (comma-separated, may be NULL) the filter's names in
 * its order, those present only; else the spec's declared metrics
 * (spec_metrics, an object; may be NULL) in their order, then the rest
 * sorted, bookkeeping left out unless all. NULL on ENOMEM. */
json_t *rk_cli_metric_order(const json_t *names, const char *filter, const json_t *spec_metrics,
                            bool all);

#endif
