/* A built-in benchmark's run: the helper process "ruckus-agent
 * --internal-helper bench" (helper.c), exec'd as the run's child by the
 * runner like any command, with the job's ExecuteJobRequest on its stdin.
 * It runs the benchmark the request names (memory, compute, LLM
 * generation) and writes its metrics to RUCKUS_METRICS_FILE.
 *
 * A fresh process, not a forked copy of the agent: the benchmarks
 * allocate and dlopen (OpenBLAS, libcurl), which the child of a threaded
 * process may not do before it execs (a lock another thread held at the
 * fork stays held in the child; an artifacts zip hung so under ASan).
 *
 * Exit status: 0 with the metrics written, 1 when the benchmark failed
 * (its reason on stderr, the run's log), 2 when stdin is not a request for
 * a built-in benchmark.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agent/internal.h"
#include "base/err.h"
#include "bench/bench.h"
#include "llm/run.h"
#include "model/execute.h"
#include "model/parse.h"

static int run_bench(const rk_task_params_t *p, json_t **m, char *err, size_t errsz)
{
    if (p->type == RK_TASK_MEMORY_BENCHMARK) {
        rk_bench_memory_opts_t o = {.sizes_mb = p->memory.test_sizes_mb,
                                    .n_sizes = p->memory.n_sizes,
                                    .sequential = p->memory.sequential,
                                    .random = p->memory.random,
                                    .iterations = (int)p->memory.iterations_per_size};
        return rk_bench_memory(&o, m, err, errsz);
    }
    if (p->type == RK_TASK_LLM_GENERATION)
        return rk_llm_run(&p->llm, getenv("RUCKUS_OUTPUT_DIR"), m, err, errsz);
    /* The compute benchmark, as for every other type the agent accepts. */
    rk_bench_compute_opts_t o = {.precisions = p->compute.precisions,
                                 .n_precisions = p->compute.n_precisions,
                                 .sizes = p->compute.matrix_sizes,
                                 .n_sizes = p->compute.n_matrix_sizes};
    return rk_bench_compute(&o, m, err, errsz);
}

int agent__bench_helper(const char *input, size_t len)
{
    json_t *body = NULL;
    rk_verr_t e;
    rk_execute_request_t rq = {0};
    if (!input || rk_model_parse_json(input, len, &body, &e) != 0 ||
        rk_execute_request_decode(body, "", &rq, &e) != 0) {
        fprintf(stderr, "ruckus-agent helper: stdin is not an ExecuteJobRequest: %s\n",
                input ? e.msg : "unreadable or over 1 MiB");
        json_decref(body);
        rk_execute_request_cleanup(&rq);
        return 2;
    }
    json_decref(body);
    const rk_task_params_t *p = &rq.spec.params;
    if (p->type == RK_TASK_COMMAND) {
        fprintf(stderr, "ruckus-agent helper: job %s is not a built-in benchmark\n", rq.job_id);
        rk_execute_request_cleanup(&rq);
        return 2;
    }
    json_t *m = NULL;
    char err[512] = "";
    int rc = run_bench(p, &m, err, sizeof err);
    rk_execute_request_cleanup(&rq);
    if (rc) {
        fprintf(stderr, "benchmark failed: %s\n", err[0] ? err : rk_strerror(rc));
        return 1;
    }
    const char *out = getenv("RUCKUS_METRICS_FILE");
    rc = out && json_dump_file(m, out, JSON_COMPACT) == 0 ? 0 : 1;
    if (rc)
        fprintf(stderr, "cannot write the metrics file\n");
    json_decref(m);
    return rc;
}
