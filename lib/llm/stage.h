/* One stage of a run: a load level held for num_requests requests or for
 * duration_s. Closed loop (concurrency N): N requests are always open, a
 * new one starts as one ends. Open loop (request_rate R): requests start
 * at arrival times drawn from a gamma distribution of mean 1/R and shape
 * `burstiness` (1: Poisson arrivals), whatever is still open; vLLM's
 * `bench serve` draws them the same way.
 */
#ifndef RK_LLM_STAGE_H
#define RK_LLM_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "llm/client.h"
#include "llm/sample.h"
#include "llm/workload.h"

typedef struct rk_llm_stage {
    char name[32];             /* "c4", "r0p5": the metric prefix */
    int64_t concurrency;       /* 0 for an open-loop stage */
    double rate;               /* 0 for a closed-loop stage */
    double burstiness;         /* open loop: the gamma shape, > 0 */
    int64_t t_begin;           /* the first request's start */
    int64_t t_end;             /* the last request's end */
    rk_llm_sample_t **samples; /* each malloc'd, in start order */
    size_t n;
} rk_llm_stage_t;

/* Fills st's name from its level: "c<N>", or "r<R>" with '.' as 'p'. */
void rk_llm_stage_name(rk_llm_stage_t *st);

/* Runs st (its concurrency or rate set, the rest zeroed) with w's requests
 * in turn, num_requests of them or for duration_s (then the open ones are
 * waited for). seed drives the arrival times. RK_ENOMEM, RK_EIO. */
int rk_llm_stage_run(rk_llm_client_t *c, const rk_llm_workload_t *w, int64_t num_requests,
                     double duration_s, uint64_t seed, rk_llm_stage_t *st);
void rk_llm_stage_cleanup(rk_llm_stage_t *st);

/* A gamma-distributed interval of the given mean and shape, from the
 * generator state *rng (splitmix64). Exposed for its tests. */
double rk_llm_gamma_interval(uint64_t *rng, double mean, double shape);

#endif
