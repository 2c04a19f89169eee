/* ExperimentSpec: what to run, stored whole by the server and sent to
 * agents inside ExecuteJobRequest.
 *
 * The spec is stored whole, so unknown fields at every level (top, task,
 * framework, metrics) are kept in the `extra` objects and written back by
 * the encoder; the free-form objects (task.params, framework.params,
 * metrics.metrics, capability_requirements) are kept as JSON. Decoding also
 * validates task.params and capability_requirements into typed views
 * (model/params.h), so a spec an agent could not run is refused on the way
 * in.
 *
 * Decoders take the JSON value v and its path ("" at the top level,
 * "experiment_spec" inside a request) and fill *out. On success *out owns
 * everything in it (free with rk_experiment_cleanup). On failure *out is
 * left freeable, e holds "path.field: reason" and RK_EINVAL (or RK_ENOMEM)
 * is returned. Encoders return a new JSON object (json_decref it), or NULL
 * when memory runs out.
 */
#ifndef RK_MODEL_EXPERIMENT_H
#define RK_MODEL_EXPERIMENT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/time.h"
#include "model/enums.h"
#include "model/json.h"
#include "model/params.h"

/* "exp_" + 6 hex digits + NUL. */
#define RK_EXPERIMENT_ID_SIZE 11
/* Longest name, in characters (UTF-8 code points). */
#define RK_EXPERIMENT_NAME_MAX 256

typedef struct rk_experiment {
    /* Derived from name; an "id" in the input is ignored, the encoder always
     * writes the derived one. */
    char id[RK_EXPERIMENT_ID_SIZE];
    char *name;
    char *description; /* NULL when absent */
    char *model;
    struct {
        char *name;
        rk_task_type_t type;
        char *description; /* NULL when absent */
        json_t *params;    /* never NULL after decode ({} when absent) */
        json_t *extra;     /* unknown task fields, or NULL */
    } task;
    struct {
        char *name;
        json_t *params; /* never NULL after decode ({} when absent) */
        json_t *extra;
    } framework;
    struct {
        json_t *metrics; /* never NULL after decode ({} when absent) */
        json_t *extra;
    } metrics;
    json_t *capability_requirements; /* kept whole; NULL when absent */
    bool has_created_at;
    rk_time_t created_at;
    bool has_updated_at;
    rk_time_t updated_at;
    json_t *extra; /* unknown top-level fields, or NULL */

    /* Typed views, decoded from task.params and capability_requirements. */
    rk_task_params_t params;
    rk_requirements_t requirements;
} rk_experiment_t;

/* Writes "exp_" + the first 6 hex digits of md5(name) into out (built-in
 * MD5, model/md5.h). Always RK_OK; the int stays for callers that check. */
int rk_experiment_id(const char *name, char out[RK_EXPERIMENT_ID_SIZE]);

int rk_experiment_decode(const json_t *v, const char *path, rk_experiment_t *out, rk_verr_t *e);
/* The spec with its id, created_at/updated_at when set, and every kept
 * unknown field. */
json_t *rk_experiment_encode(const rk_experiment_t *x);
/* Frees everything and leaves *x zeroed. */
void rk_experiment_cleanup(rk_experiment_t *x);

#endif
