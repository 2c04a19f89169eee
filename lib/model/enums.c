#include "model/enums.h"

#include <string.h>

#include "base/err.h"

const char *const rk_job_state_names[RK_JOB_STATE_COUNT] = {
    "queued", "assigned", "running", "completed", "failed", "cancelled", "timeout", "paused"};
const char *const rk_job_priority_names[RK_PRIORITY_COUNT] = {"low", "medium", "high", "critical"};
const char *const rk_agent_state_names[RK_AGENT_STATE_COUNT] = {"active", "idle", "error",
                                                                "unavailable"};
const char *const rk_agent_type_names[RK_AGENT_TYPE_COUNT] = {"white_box", "gray_box", "black_box"};
const char *const rk_task_type_names[RK_TASK_TYPE_COUNT] = {
    "llm_generation", "gpu_benchmark", "memory_benchmark", "compute_benchmark", "command"};
const char *const rk_precision_names[RK_PRECISION_COUNT] = {"fp64", "fp32", "tf32", "fp16",
                                                            "bf16", "int8", "fp8"};

static const char *name_of(const char *const *names, int n, int v)
{
    return v >= 0 && v < n ? names[v] : "unknown";
}

static int parse(const char *const *names, int n, const char *s, int *out)
{
    if (!s)
        return RK_EINVAL;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return RK_OK;
        }
    }
    return RK_EINVAL;
}

#define ENUM_FUNCS(prefix, type, table, count)                                                     \
    const char *prefix##_name(type v)                                                              \
    {                                                                                              \
        return name_of(table, count, (int)v);                                                      \
    }                                                                                              \
    int prefix##_parse(const char *s, type *out)                                                   \
    {                                                                                              \
        int v;                                                                                     \
        int rc = parse(table, count, s, &v);                                                       \
        if (rc == RK_OK)                                                                           \
            *out = (type)v;                                                                        \
        return rc;                                                                                 \
    }

ENUM_FUNCS(rk_job_state, rk_job_state_t, rk_job_state_names, RK_JOB_STATE_COUNT)
ENUM_FUNCS(rk_job_priority, rk_job_priority_t, rk_job_priority_names, RK_PRIORITY_COUNT)
ENUM_FUNCS(rk_agent_state, rk_agent_state_t, rk_agent_state_names, RK_AGENT_STATE_COUNT)
ENUM_FUNCS(rk_agent_type, rk_agent_type_t, rk_agent_type_names, RK_AGENT_TYPE_COUNT)
ENUM_FUNCS(rk_task_type, rk_task_type_t, rk_task_type_names, RK_TASK_TYPE_COUNT)
ENUM_FUNCS(rk_precision, rk_precision_t, rk_precision_names, RK_PRECISION_COUNT)
