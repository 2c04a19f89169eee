/* Typed views of an experiment spec's free-form objects: task.params (per
 * task type) and capability_requirements.
 *
 * The spec keeps these objects whole as JSON (so unknown keys survive); the
 * structs below are what the agent runs and the server matches against
 * agents. They are decoded when a spec is decoded, so a spec with bad
 * params is refused on the way in rather than failing on an agent later.
 *
 * Decoders take the object (NULL means absent: every field takes its
 * default), its path for error messages, and fill *out, which the caller
 * has not initialized. On failure *out is left freeable (its _cleanup is
 * harmless), e holds "path.field: reason" and RK_EINVAL or RK_ENOMEM is
 * returned. Everything in *out is owned by it.
 */
#ifndef RK_MODEL_PARAMS_H
#define RK_MODEL_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/enums.h"
#include "model/json.h"
#include "model/params_isolation.h"
#include "model/params_llm.h"

#define RK_RUNS_PER_JOB_MAX 100
#define RK_TIMEOUT_DEFAULT_S 3600
/* Caps on list lengths, so a spec cannot make us allocate without bound. */
#define RK_ARGV_MAX 4096
#define RK_ENV_MAX 4096
#define RK_STDIN_MAX (8u << 20)
#define RK_BENCH_LIST_MAX 64
#define RK_REQ_LIST_MAX 256

/* Resource limits for a command; 0 means "not set" (inherit). */
typedef struct rk_rlimits {
    int64_t cpu_seconds; /* 1..INT32_MAX */
    int64_t memory_mb;   /* 1..2^30, so memory_mb << 20 fits an int64 */
    int64_t nofile;      /* 1..INT32_MAX */
    int64_t nproc;       /* 1..INT32_MAX */
} rk_rlimits_t;

typedef struct rk_env_var {
    char *name; /* non-empty, no '=' */
    char *value;
} rk_env_var_t;

typedef struct rk_command_params {
    char **argv; /* argc entries plus a NULL, ready for execve */
    size_t argc; /* >= 1; argv[0] is non-empty */
    rk_env_var_t *env;
    size_t n_env;
    char *workdir;    /* NULL: the job's folder; else relative, no ".." segment */
    char *stdin_data; /* NULL: no input (the child reads /dev/null) */
    size_t stdin_len;
    rk_rlimits_t rlimits;
} rk_command_params_t;

typedef struct rk_memory_params {
    int64_t *test_sizes_mb; /* each 1..65536; default 64, 256 */
    size_t n_sizes;
    bool sequential; /* test_patterns; default both */
    bool random;
    int64_t iterations_per_size; /* 1..1000; default 3 */
} rk_memory_params_t;

typedef struct rk_compute_params {
    rk_precision_t *precisions; /* default fp64, fp32 */
    size_t n_precisions;
    int64_t *matrix_sizes; /* each 1..16384; default 512, 1024, 2048 */
    size_t n_matrix_sizes;
} rk_compute_params_t;

typedef struct rk_task_params {
    rk_task_type_t type;
    int64_t runs_per_job; /* 1..100, default 1 */
    /* Runs that settle themselves: with target_cv > 0 the agent keeps
     * running (min_runs..max_runs, the cold start counted) until every
     * declared metric's coefficient of variation over the warm runs is
     * under target_cv. runs_per_job is then not given. */
    double target_cv; /* (0, 1); 0: not used */
    int64_t min_runs; /* 3..100, default 3 (a cold start and two warm runs) */
    int64_t max_runs; /* min_runs..100, default 10 */
    /* Only the member matching type is filled; the others stay zeroed. */
    rk_command_params_t command;
    rk_memory_params_t memory;
    rk_compute_params_t compute;
    rk_llm_params_t llm;
    /* Command tasks: isolation and cgroup limits (params_isolation.h). */
    rk_isolation_params_t isolation;
    rk_limits_params_t limits;
} rk_task_params_t;

/* Decodes task.params for a task of the given type. Keys that the type
 * does not use are ignored here (the spec keeps them). */
int rk_task_params_decode(const json_t *params, const char *path, rk_task_type_t type,
                          rk_task_params_t *out, rk_verr_t *e);
/* Frees everything and leaves *p zeroed. */
void rk_task_params_cleanup(rk_task_params_t *p);

/* What an agent must offer to run an experiment, plus the job timeout
 * (which is not a requirement but lives in the same object). Zero and
 * empty lists mean "no requirement". */
typedef struct rk_requirements {
    int64_t timeout_seconds; /* 1..INT32_MAX, default 3600 */
    char **capabilities;     /* required_capabilities */
    size_t n_capabilities;
    /* gpu_requirements */
    int64_t min_gpu_count;
    int64_t min_gpu_memory_mb;
    char **gpu_vendors;
    size_t n_gpu_vendors;
    /* system_requirements */
    double min_total_memory_gb;
    char **os_types;
    size_t n_os_types;
    char **cpu_architectures;
    size_t n_cpu_architectures;
    int64_t min_cpu_cores;
    /* model_requirements */
    char **frameworks;
    size_t n_frameworks;
} rk_requirements_t;

/* Decodes capability_requirements (NULL: no requirements, default timeout). */
int rk_requirements_decode(const json_t *req, const char *path, rk_requirements_t *out,
                           rk_verr_t *e);
/* Frees everything and leaves *r zeroed. */
void rk_requirements_cleanup(rk_requirements_t *r);

#endif
