/* A stage's metrics from its raw samples, named as protocol.md ("LLM
 * serving") and defined in docs/llm.md: per stage <s>, TTFT, TPOT, ITL and
 * e2e (mean, p50, p90, p99, in ms), request, token and goodput rates,
 * counts by outcome, and ROUGE/exact match where references are given.
 */
#ifndef RK_LLM_METRICS_H
#define RK_LLM_METRICS_H

#include <jansson.h>
#include <stddef.h>

#include "llm/stage.h"
#include "llm/workload.h"

typedef struct rk_llm_slo {
    double ttft_ms, tpot_ms, e2e_ms; /* 0: not set */
} rk_llm_slo_t;

/* Percentile q (0..1) of n sorted values, interpolated linearly between
 * the nearest ranks (numpy's default); 0 for n == 0. */
double rk_llm_percentile(const double *sorted, size_t n, double q);

/* Adds st's "<name>_*" metrics to out (an object). Output tokens per
 * request come from the server's usage, else from the content chunks
 * counted; "<name>_token_source" says which ("usage", "chunks" or "mixed").
 * RK_ENOMEM, else 0. */
int rk_llm_metrics_stage(const rk_llm_stage_t *st, const rk_llm_workload_t *w,
                         const rk_llm_slo_t *slo, json_t *out);

/* Stage duration in seconds: the first request's start to the last's end. */
double rk_llm_stage_seconds(const rk_llm_stage_t *st);

#endif
