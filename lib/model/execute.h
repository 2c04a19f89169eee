/* ExecuteJobRequest: the body of the agent's POST /api/v1/jobs, which the
 * server sends to dispatch a job.
 *
 * Same conventions as model/experiment.h: the decoder fills *out (freeable
 * on failure, errors name the field path: "experiment_spec.task.type: ..."),
 * the encoder returns a new object or NULL. Unknown top-level fields of the
 * request are ignored (the request is not stored whole; its spec is, with
 * the spec's unknown fields).
 */
#ifndef RK_MODEL_EXECUTE_H
#define RK_MODEL_EXECUTE_H

#include <jansson.h>

#include "model/experiment.h"
#include "model/json.h"

typedef struct rk_execute_request {
    rk_experiment_t spec; /* experiment_spec */
    char *job_id;         /* matches rk_id_valid */
    /* Which try of the job this is (0..RK_EXECUTE_ATTEMPT_MAX, 0 when
     * absent). The server counts up only when it stopped the job on its
     * agent itself (a drain) and sends it again: an agent that holds the
     * job finished under a lower attempt runs it anew; the same or a
     * lower attempt is answered as before and never run twice. */
    int64_t attempt;
} rk_execute_request_t;

#define RK_EXECUTE_ATTEMPT_MAX 1000000

int rk_execute_request_decode(const json_t *v, const char *path, rk_execute_request_t *out,
                              rk_verr_t *e);
json_t *rk_execute_request_encode(const rk_execute_request_t *r);
/* Frees everything and leaves *r zeroed. */
void rk_execute_request_cleanup(rk_execute_request_t *r);

#endif
