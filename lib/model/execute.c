#include "model/execute.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int rk_execute_request_decode(const json_t *v, const char *path, rk_execute_request_t *out,
                              rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "experiment_spec");
    int rc = rk_json_expect_obj(v, path, e);
    if (!rc)
        rc = rk_json_get_id(v, path, "job_id", RK_REQUIRED, &out->job_id, e);
    if (!rc)
        rc = rk_json_get_int(v, path, "attempt", RK_OPTIONAL, 0, RK_EXECUTE_ATTEMPT_MAX,
                             &out->attempt, NULL, e);
    if (!rc) {
        json_t *spec = json_object_get(v, "experiment_spec");
        if (!spec || json_is_null(spec))
            rc = rk_verr_set(e, p, "field required");
        else
            rc = rk_experiment_decode(spec, p, &out->spec, e);
    }
    if (rc)
        rk_execute_request_cleanup(out);
    return rc;
}

json_t *rk_execute_request_encode(const rk_execute_request_t *r)
{
    json_t *o = json_object();
    /* json_object_set_new takes the spec even when it fails, and refuses a
     * NULL one (the spec's encoder ran out of memory). */
    if (o && (json_object_set_new(o, "experiment_spec", rk_experiment_encode(&r->spec)) ||
              rk_json_set_str(o, "job_id", r->job_id) ||
              (r->attempt && json_object_set_new(o, "attempt", json_integer(r->attempt))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void rk_execute_request_cleanup(rk_execute_request_t *r)
{
    if (!r)
        return;
    rk_experiment_cleanup(&r->spec);
    free(r->job_id);
    memset(r, 0, sizeof *r);
}
