/* The enums of the wire protocol (shared/protocol.md) and their names.
 *
 * Each enum has a NULL-free name table indexed by value, a _name() that
 * returns the wire string, and a _parse() that returns 0 and the value or
 * RK_EINVAL. The values' order is the table's order; never reorder them, as
 * storage keeps the names, not the numbers.
 */
#ifndef RK_MODEL_ENUMS_H
#define RK_MODEL_ENUMS_H

typedef enum rk_job_state {
    RK_JOB_QUEUED,
    RK_JOB_ASSIGNED,
    RK_JOB_RUNNING,
    RK_JOB_COMPLETED,
    RK_JOB_FAILED,
    RK_JOB_CANCELLED,
    RK_JOB_TIMEOUT,
    /* v1 extension: held in the queue, or frozen while running. Not
     * terminal: resume takes it back to queued or running. */
    RK_JOB_PAUSED,
    RK_JOB_STATE_COUNT
} rk_job_state_t;

/* v1 extension: a job's priority. Queues are ordered by it (highest
 * first), then by arrival. */
typedef enum rk_job_priority {
    RK_PRIO_LOW,
    RK_PRIO_MEDIUM,
    RK_PRIO_HIGH,
    RK_PRIO_CRITICAL,
    RK_PRIORITY_COUNT
} rk_job_priority_t;

typedef enum rk_agent_state {
    RK_AGENT_ACTIVE,
    RK_AGENT_IDLE,
    RK_AGENT_ERROR,
    RK_AGENT_UNAVAILABLE,
    RK_AGENT_STATE_COUNT
} rk_agent_state_t;

typedef enum rk_agent_type {
    RK_AGENT_WHITE_BOX,
    RK_AGENT_GRAY_BOX,
    RK_AGENT_BLACK_BOX,
    RK_AGENT_TYPE_COUNT
} rk_agent_type_t;

typedef enum rk_task_type {
    RK_TASK_LLM_GENERATION,
    RK_TASK_GPU_BENCHMARK,
    RK_TASK_MEMORY_BENCHMARK,
    RK_TASK_COMPUTE_BENCHMARK,
    RK_TASK_COMMAND,
    RK_TASK_TYPE_COUNT
} rk_task_type_t;

typedef enum rk_precision {
    RK_PREC_FP64,
    RK_PREC_FP32,
    RK_PREC_TF32,
    RK_PREC_FP16,
    RK_PREC_BF16,
    RK_PREC_INT8,
    RK_PREC_FP8,
    RK_PRECISION_COUNT
} rk_precision_t;

extern const char *const rk_job_state_names[RK_JOB_STATE_COUNT];
extern const char *const rk_job_priority_names[RK_PRIORITY_COUNT];
extern const char *const rk_agent_state_names[RK_AGENT_STATE_COUNT];
extern const char *const rk_agent_type_names[RK_AGENT_TYPE_COUNT];
extern const char *const rk_task_type_names[RK_TASK_TYPE_COUNT];
extern const char *const rk_precision_names[RK_PRECISION_COUNT];

/* Wire name of a value; "unknown" for a value out of range. */
const char *rk_job_state_name(rk_job_state_t s);
const char *rk_job_priority_name(rk_job_priority_t p);
const char *rk_agent_state_name(rk_agent_state_t s);
const char *rk_agent_type_name(rk_agent_type_t t);
const char *rk_task_type_name(rk_task_type_t t);
const char *rk_precision_name(rk_precision_t p);

int rk_job_state_parse(const char *s, rk_job_state_t *out);
int rk_job_priority_parse(const char *s, rk_job_priority_t *out);
int rk_agent_state_parse(const char *s, rk_agent_state_t *out);
int rk_agent_type_parse(const char *s, rk_agent_type_t *out);
int rk_task_type_parse(const char *s, rk_task_type_t *out);
int rk_precision_parse(const char *s, rk_precision_t *out);

/* completed, failed, cancelled and timeout: nothing leaves these. */
static inline int rk_job_state_terminal(rk_job_state_t s)
{
    return s == RK_JOB_COMPLETED || s == RK_JOB_FAILED || s == RK_JOB_CANCELLED ||
           s == RK_JOB_TIMEOUT;
}

#endif
