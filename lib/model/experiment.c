#include "model/experiment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/md5.h"

static const char *const top_known[] = {
    "id",         "name",       "description", "model",
    "task",       "framework",  "metrics",     "capability_requirements",
    "created_at", "updated_at", NULL};
static const char *const task_known[] = {"name", "type", "description", "params", NULL};
static const char *const framework_known[] = {"name", "params", NULL};
static const char *const metrics_known[] = {"metrics", NULL};

int rk_experiment_id(const char *name, char out[RK_EXPERIMENT_ID_SIZE])
{
    unsigned char md[RK_MD5_SIZE];
    rk_md5(name, strlen(name), md);
    snprintf(out, RK_EXPERIMENT_ID_SIZE, "exp_%02x%02x%02x", md[0], md[1], md[2]);
    return RK_OK;
}

/* Counts UTF-8 code points; jansson has already checked the encoding. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Reads obj[key] as an object that defaults to {} when absent. */
static int get_obj_or_empty(const json_t *obj, const char *path, const char *key, json_t **out,
                            rk_verr_t *e)
{
    int rc = rk_json_get_obj(obj, path, key, RK_OPTIONAL, out, e);
    if (!rc && !*out && !(*out = json_object()))
        rc = RK_ENOMEM;
    return rc;
}

static int decode_task(const json_t *v, const char *path, rk_experiment_t *x, rk_verr_t *e)
{
    json_t *t = NULL;
    char p[RK_PATH_MAX], pp[RK_PATH_MAX];
    rk_path_key(p, path, "task");
    rk_path_key(pp, p, "params");
    int type = 0;
    int rc = rk_json_get_obj(v, path, "task", RK_REQUIRED, &t, e);
    if (rc)
        return rc;
    if ((rc = rk_json_get_str(t, p, "name", RK_REQUIRED, 0, &x->task.name, e)) ||
        (rc = rk_json_get_enum(t, p, "type", RK_REQUIRED, rk_task_type_names, RK_TASK_TYPE_COUNT,
                               &type, e)) ||
        (rc = rk_json_get_str(t, p, "description", RK_OPTIONAL, 0, &x->task.description, e)) ||
        (rc = get_obj_or_empty(t, p, "params", &x->task.params, e)) ||
        (rc = rk_json_keep_unknown(t, task_known, &x->task.extra)))
        goto out;
    x->task.type = (rk_task_type_t)type;
    rc = rk_task_params_decode(x->task.params, pp, x->task.type, &x->params, e);
out:
    json_decref(t);
    return rc;
}

static int decode_framework(const json_t *v, const char *path, rk_experiment_t *x, rk_verr_t *e)
{
    json_t *f = NULL;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "framework");
    int rc = rk_json_get_obj(v, path, "framework", RK_REQUIRED, &f, e);
    if (rc)
        return rc;
    if (!(rc = rk_json_get_str(f, p, "name", RK_REQUIRED, 0, &x->framework.name, e)) &&
        !(rc = get_obj_or_empty(f, p, "params", &x->framework.params, e)))
        rc = rk_json_keep_unknown(f, framework_known, &x->framework.extra);
    json_decref(f);
    return rc;
}

static int decode_metrics(const json_t *v, const char *path, rk_experiment_t *x, rk_verr_t *e)
{
    json_t *m = NULL;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "metrics");
    int rc = rk_json_get_obj(v, path, "metrics", RK_REQUIRED, &m, e);
    if (rc)
        return rc;
    if (!(rc = get_obj_or_empty(m, p, "metrics", &x->metrics.metrics, e)))
        rc = rk_json_keep_unknown(m, metrics_known, &x->metrics.extra);
    json_decref(m);
    return rc;
}

int rk_experiment_decode(const json_t *v, const char *path, rk_experiment_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    char p[RK_PATH_MAX], rp[RK_PATH_MAX];
    rk_path_key(rp, path, "capability_requirements");
    int rc = rk_json_expect_obj(v, path, e);
    if (rc)
        goto out;
    if ((rc = rk_json_get_str(v, path, "name", RK_REQUIRED, 0, &out->name, e)))
        goto out;
    size_t n = utf8_chars(out->name);
    if (n < 1 || n > RK_EXPERIMENT_NAME_MAX) {
        rk_path_key(p, path, "name");
        rc = rk_verr_set(e, p, "expected 1 to %d characters", RK_EXPERIMENT_NAME_MAX);
        goto out;
    }
    /* The chain stops at the first failure; rc and e say which and why. */
    (void)((rc = rk_experiment_id(out->name, out->id)) ||
           (rc = rk_json_get_str(v, path, "description", RK_OPTIONAL, 0, &out->description, e)) ||
           (rc = rk_json_get_str(v, path, "model", RK_REQUIRED, 0, &out->model, e)) ||
           (rc = decode_task(v, path, out, e)) || (rc = decode_framework(v, path, out, e)) ||
           (rc = decode_metrics(v, path, out, e)) ||
           (rc = rk_json_get_obj(v, path, "capability_requirements", RK_OPTIONAL,
                                 &out->capability_requirements, e)) ||
           (rc = rk_requirements_decode(out->capability_requirements, rp, &out->requirements, e)) ||
           (rc = rk_json_get_time(v, path, "created_at", RK_OPTIONAL, &out->created_at,
                                  &out->has_created_at, e)) ||
           (rc = rk_json_get_time(v, path, "updated_at", RK_OPTIONAL, &out->updated_at,
                                  &out->has_updated_at, e)) ||
           (rc = rk_json_keep_unknown(v, top_known, &out->extra)));
out:
    if (rc)
        rk_experiment_cleanup(out);
    return rc;
}

/* A deep copy of extra (or a new {}) to encode the known fields into, so
 * the caller may change the result without touching x. */
static json_t *start_from(const json_t *extra)
{
    return extra ? json_deep_copy(extra) : json_object();
}

static int set_copy(json_t *o, const char *key, const json_t *v)
{
    if (!v)
        return RK_OK;
    return json_object_set_new(o, key, json_deep_copy(v)) ? RK_ENOMEM : RK_OK;
}

/* Moves sub into o[key]; sub == NULL means an earlier allocation failed. */
static int set_new(json_t *o, const char *key, json_t *sub)
{
    return sub && json_object_set_new(o, key, sub) == 0 ? RK_OK : RK_ENOMEM;
}

static json_t *encode_task(const rk_experiment_t *x)
{
    json_t *t = start_from(x->task.extra);
    if (t &&
        (rk_json_set_str(t, "name", x->task.name) ||
         rk_json_set_str(t, "type", rk_task_type_name(x->task.type)) ||
         rk_json_set_str(t, "description", x->task.description) ||
         set_new(t, "params", x->task.params ? json_deep_copy(x->task.params) : json_object()))) {
        json_decref(t);
        return NULL;
    }
    return t;
}

static json_t *encode_framework(const rk_experiment_t *x)
{
    json_t *f = start_from(x->framework.extra);
    if (f && (rk_json_set_str(f, "name", x->framework.name) ||
              set_new(f, "params",
                      x->framework.params ? json_deep_copy(x->framework.params) : json_object()))) {
        json_decref(f);
        return NULL;
    }
    return f;
}

static json_t *encode_metrics(const rk_experiment_t *x)
{
    json_t *m = start_from(x->metrics.extra);
    if (m && set_new(m, "metrics",
                     x->metrics.metrics ? json_deep_copy(x->metrics.metrics) : json_object())) {
        json_decref(m);
        return NULL;
    }
    return m;
}

json_t *rk_experiment_encode(const rk_experiment_t *x)
{
    json_t *o = start_from(x->extra);
    if (!o)
        return NULL;
    if (rk_json_set_str(o, "id", x->id[0] ? x->id : NULL) || rk_json_set_str(o, "name", x->name) ||
        rk_json_set_str(o, "description", x->description) ||
        rk_json_set_str(o, "model", x->model) || set_new(o, "task", encode_task(x)) ||
        set_new(o, "framework", encode_framework(x)) || set_new(o, "metrics", encode_metrics(x)) ||
        set_copy(o, "capability_requirements", x->capability_requirements) ||
        (x->has_created_at && rk_json_set_time(o, "created_at", x->created_at)) ||
        (x->has_updated_at && rk_json_set_time(o, "updated_at", x->updated_at))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void rk_experiment_cleanup(rk_experiment_t *x)
{
    if (!x)
        return;
    free(x->name);
    free(x->description);
    free(x->model);
    free(x->task.name);
    free(x->task.description);
    json_decref(x->task.params);
    json_decref(x->task.extra);
    free(x->framework.name);
    json_decref(x->framework.params);
    json_decref(x->framework.extra);
    json_decref(x->metrics.metrics);
    json_decref(x->metrics.extra);
    json_decref(x->capability_requirements);
    json_decref(x->extra);
    rk_task_params_cleanup(&x->params);
    rk_requirements_cleanup(&x->requirements);
    memset(x, 0, sizeof *x);
}
