/* task.params.isolation and task.params.limits of a command task
 * (protocol.md, "Isolation"): where the job runs (a sandbox, an image, its
 * network, extra binds) and the cgroup limits it runs under. Decoded with
 * the rest of task.params (rk_task_params_decode), so a spec with bad
 * values is refused on the way in, naming the field. Whether an agent can
 * give them is the agent's (at accept) and the compatibility check's
 * business.
 */
#ifndef RK_MODEL_PARAMS_ISOLATION_H
#define RK_MODEL_PARAMS_ISOLATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/json.h"

/* Binds a job may ask for (lib/isolate's RK_SANDBOX_MAX_BINDS). */
#define RK_BINDS_MAX 32
/* Limit ranges (lib/isolate/cgroup.c checks the same). */
#define RK_LIMIT_MEMORY_MB_MIN 4
#define RK_LIMIT_MEMORY_MB_MAX (INT64_C(1) << 40)
#define RK_LIMIT_PIDS_MAX 4194304
#define RK_LIMIT_CPUS_MIN 0.01
#define RK_LIMIT_CPUS_MAX 4096.0
#define RK_LIMIT_CPU_WEIGHT_MAX 10000

typedef struct rk_bind_param {
    char *source; /* host path, non-empty */
    char *target; /* path inside the sandbox, non-empty */
    bool writable;
} rk_bind_param_t;

/* task.params.container (docs/isolation.md, "Container runtime"): the
 * command runs in an image through the agent's --container-runtime. */
#define RK_CONTAINER_IMAGE_MAX 255
#define RK_CONTAINER_ENV_MAX 256
typedef enum rk_container_pull {
    RK_PULL_NEVER = 0, /* default: the image must be there (or an oci-archive:) */
    RK_PULL_MISSING,
    RK_PULL_ALWAYS,
} rk_container_pull_t;

typedef struct rk_container_params {
    bool present;
    char *image; /* rk_container_image_valid */
    int pull;    /* rk_container_pull_t */
    char **env;  /* n_env "NAME=VALUE" strings */
    size_t n_env;
    char *workdir; /* absolute path inside the container, or NULL: /job[/command workdir] */
    bool network;  /* network "host"; default "none" */
} rk_container_params_t;

typedef struct rk_isolation_params {
    bool present; /* task.params.isolation was given: the job must run sandboxed */
    bool network; /* network "host"; default "none" */
    char *rootfs; /* an image name (1..127 of [A-Za-z0-9._-], not starting with '.'), or NULL */
    rk_bind_param_t *binds;
    size_t n_binds;
    /* task.params.container; never together with isolation (refused). */
    rk_container_params_t container;
} rk_isolation_params_t;

/* 0 leaves a limit unset. */
typedef struct rk_limits_params {
    bool present;       /* task.params.limits was given (and sets at least one) */
    int64_t memory_mb;  /* RK_LIMIT_MEMORY_MB_MIN.. */
    int64_t pids;       /* 1..RK_LIMIT_PIDS_MAX */
    double cpus;        /* a quota in cores, RK_LIMIT_CPUS_MIN..RK_LIMIT_CPUS_MAX */
    int64_t cpu_weight; /* 1..RK_LIMIT_CPU_WEIGHT_MAX */
} rk_limits_params_t;

/* Decodes params.isolation into *iso and params.limits into *lim (absent:
 * zeroed, present false). Both start zeroed by the caller. RK_EINVAL with e
 * naming the field ("task.params.limits.cpus: expected a number from 0.01
 * to 4096"), RK_ENOMEM. On failure both are freeable. */
int rk_isolation_params_decode(const json_t *params, const char *path, rk_isolation_params_t *iso,
                               rk_limits_params_t *lim, rk_verr_t *e);
/* A container image reference: a name the runtime knows (1 to 255 of
 * [A-Za-z0-9._/:@-], starting with a letter or digit, so never an option),
 * or "oci-archive:" and an absolute path without ".." or control
 * characters. */
bool rk_container_image_valid(const char *s);
/* "never", "missing" or "always": rk_container_pull_t as the runtime's --pull takes it. */
const char *rk_container_pull_name(int pull);

/* Frees what *iso holds and zeroes it. */
void rk_isolation_params_cleanup(rk_isolation_params_t *iso);

#endif
