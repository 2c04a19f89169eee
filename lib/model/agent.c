#include "model/agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

static const char *const info_known[] = {
    "agent_id",     "agent_name", "agent_type",   "system_info",
    "capabilities", "labels",     "last_updated", NULL};
/* RegisteredAgentInfo's own fields are not "unknown" fields of its AgentInfo. */
static const char *const registered_known[] = {
    "agent_id", "agent_name",   "agent_type", "system_info",   "capabilities",
    "labels",   "last_updated", "agent_url",  "registered_at", NULL};
static const char *const caps_known[] = {"slots", "task_types", NULL};

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* NULL and an empty object are the same "nothing extra". */
static bool json_eq_opt(const json_t *a, const json_t *b)
{
    bool ea = !a || (json_is_object(a) && json_object_size(a) == 0);
    bool eb = !b || (json_is_object(b) && json_object_size(b) == 0);
    if (ea || eb)
        return ea && eb;
    return json_equal((json_t *)a, (json_t *)b);
}

static char *dup_opt(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static json_t *deep_copy_opt(const json_t *v, bool *ok)
{
    if (!v)
        return NULL;
    json_t *c = json_deep_copy(v);
    if (!c)
        *ok = false;
    return c;
}

/* Looks obj[key] up as an array; absent or null leaves *arr NULL. */
static int get_array(const json_t *obj, const char *path, const char *key, int required,
                     json_t **arr, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    rk_path_key(p, path, key);
    json_t *v = json_object_get(obj, key);
    *arr = NULL;
    if (!v || json_is_null(v))
        return required ? rk_verr_set(e, p, "field required") : RK_OK;
    if (!json_is_array(v))
        return rk_verr_set(e, p, "expected an array");
    *arr = v;
    return RK_OK;
}

bool rk_agent_url_valid(const char *url)
{
    if (!url)
        return false;
    size_t len = strlen(url), skip;
    if (len > RK_AGENT_URL_MAX)
        return false;
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    /* A host: at least one character before any path, query or port. */
    if (!url[skip] || strchr("/?#:", url[skip]))
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return false;
    }
    return true;
}

bool rk_agent_info_can_run(const rk_agent_info_t *a, rk_task_type_t t)
{
    for (size_t i = 0; i < a->capabilities.n_task_types; i++) {
        if (a->capabilities.task_types[i] == t)
            return true;
    }
    return false;
}

/* ---- AgentInfo ---- */

void rk_agent_info_cleanup(rk_agent_info_t *a)
{
    if (!a)
        return;
    free(a->agent_id);
    free(a->agent_name);
    json_decref(a->system_info);
    free(a->capabilities.task_types);
    json_decref(a->capabilities.extra);
    json_decref(a->labels);
    json_decref(a->extra);
    memset(a, 0, sizeof *a);
}

static int decode_task_types(const json_t *caps, const char *path, rk_agent_caps_t *out,
                             rk_verr_t *e)
{
    json_t *arr;
    int rc = get_array(caps, path, "task_types", RK_REQUIRED, &arr, e);
    if (rc)
        return rc;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "task_types");
    size_t n = json_array_size(arr);
    /* A list longer than the number of task types holds duplicates at best. */
    if (n > 4 * RK_TASK_TYPE_COUNT)
        return rk_verr_set(e, p, "more than %d items", 4 * RK_TASK_TYPE_COUNT);
    if (n && !(out->task_types = calloc(n, sizeof *out->task_types)))
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, i);
        rk_task_type_t t;
        if (!json_is_string(it) || rk_task_type_parse(json_string_value(it), &t)) {
            char ip[RK_PATH_MAX], list[256];
            size_t pos = 0;
            list[0] = '\0';
            for (int k = 0; k < RK_TASK_TYPE_COUNT; k++)
                pos += (size_t)snprintf(list + pos, sizeof list - pos, "%s%s", k ? ", " : "",
                                        rk_task_type_names[k]);
            rk_path_index(ip, p, i);
            return rk_verr_set(e, ip, "expected one of %s", list);
        }
        out->task_types[i] = t;
        out->n_task_types = i + 1;
    }
    return RK_OK;
}

static int decode_caps(const json_t *v, const char *path, rk_agent_caps_t *out, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "capabilities");
    json_t *caps = json_object_get(v, "capabilities");
    if (!caps || json_is_null(caps))
        return rk_verr_set(e, p, "field required");
    int rc = rk_json_expect_obj(caps, p, e);
    if (rc)
        return rc;
    out->slots = 1;
    if ((rc = rk_json_get_int(caps, p, "slots", RK_OPTIONAL, 1, RK_AGENT_SLOTS_MAX, &out->slots,
                              NULL, e)) ||
        (rc = decode_task_types(caps, p, out, e)))
        return rc;
    return rk_json_keep_unknown(caps, caps_known, &out->extra);
}

bool rk_label_key_valid(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n < 1 || n > RK_LABEL_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '/'))
            return false;
    }
    return true;
}

int rk_labels_check(const json_t *labels, const char *path, rk_verr_t *e)
{
    if (!json_is_object(labels))
        return rk_verr_set(e, path, "expected an object of label: value strings");
    if (json_object_size(labels) > RK_AGENT_LABELS_MAX)
        return rk_verr_set(e, path, "more than %d labels", RK_AGENT_LABELS_MAX);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v)
    {
        char p[RK_PATH_MAX];
        rk_path_key(p, path, k);
        if (!rk_label_key_valid(k))
            return rk_verr_set(e, p, "a label key is 1 to %d characters from [A-Za-z0-9_.-/]",
                               RK_LABEL_KEY_MAX);
        if (!json_is_string(v) || json_string_length(v) > RK_LABEL_VALUE_MAX)
            return rk_verr_set(e, p, "expected a string of at most %d bytes", RK_LABEL_VALUE_MAX);
    }
    return RK_OK;
}

bool rk_agent_info_labels_match(const rk_agent_info_t *a, const json_t *want)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        json_t *have = a->labels ? json_object_get(a->labels, k) : NULL;
        if (!have || !json_equal(have, v))
            return false;
    }
    return true;
}

static int decode_labels(const json_t *v, const char *path, json_t **out, rk_verr_t *e)
{
    json_t *l = json_object_get(v, "labels");
    if (!l || json_is_null(l))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "labels");
    int rc = rk_labels_check(l, p, e);
    if (rc == RK_OK && json_object_size(l))
        *out = json_incref(l);
    return rc;
}

/* Decodes the AgentInfo fields of v; `known` lists the keys not kept in
 * extra (a RegisteredAgentInfo adds its own). */
static int info_decode(const json_t *v, const char *path, const char *const *known,
                       rk_agent_info_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    int type = 0;
    int rc = rk_json_expect_obj(v, path, e);
    if (rc)
        goto cleanup;
    if ((rc = rk_json_get_id(v, path, "agent_id", RK_REQUIRED, &out->agent_id, e)) ||
        (rc = rk_json_get_str(v, path, "agent_name", RK_OPTIONAL, RK_AGENT_NAME_MAX,
                              &out->agent_name, e)) ||
        (rc = rk_json_get_enum(v, path, "agent_type", RK_REQUIRED, rk_agent_type_names,
                               RK_AGENT_TYPE_COUNT, &type, e)) ||
        (rc = rk_json_get_obj(v, path, "system_info", RK_REQUIRED, &out->system_info, e)) ||
        (rc = decode_caps(v, path, &out->capabilities, e)) ||
        (rc = decode_labels(v, path, &out->labels, e)) ||
        (rc =
             rk_json_get_time(v, path, "last_updated", RK_REQUIRED, &out->last_updated, NULL, e)) ||
        (rc = rk_json_keep_unknown(v, known, &out->extra)))
        goto cleanup;
    out->agent_type = (rk_agent_type_t)type;
cleanup:
    if (rc)
        rk_agent_info_cleanup(out);
    return rc;
}

int rk_agent_info_decode(const json_t *v, const char *path, rk_agent_info_t *out, rk_verr_t *e)
{
    return info_decode(v, path, info_known, out, e);
}

static json_t *caps_encode(const rk_agent_caps_t *c)
{
    json_t *o = json_object();
    json_t *types = json_array();
    if (!o || !types)
        goto fail;
    if (c->extra && json_object_update(o, c->extra))
        goto fail;
    for (size_t i = 0; i < c->n_task_types; i++) {
        if (json_array_append_new(types, json_string(rk_task_type_name(c->task_types[i]))))
            goto fail;
    }
    if (json_object_set_new(o, "slots", json_integer(c->slots > 0 ? c->slots : 1)))
        goto fail;
    if (json_object_set_new(o, "task_types", types)) {
        types = NULL; /* set_new consumed it even on failure */
        goto fail;
    }
    return o;
fail:
    json_decref(types);
    json_decref(o);
    return NULL;
}

json_t *rk_agent_info_encode(const rk_agent_info_t *a)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    /* Unknown fields first, so a known field can never be overridden by one. */
    if (a->extra && json_object_update(o, a->extra))
        goto fail;
    json_t *sys = a->system_info ? json_incref(a->system_info) : json_object();
    if (json_object_set_new(o, "system_info", sys) || rk_json_set_str(o, "agent_id", a->agent_id) ||
        rk_json_set_str(o, "agent_name", a->agent_name) ||
        rk_json_set_str(o, "agent_type", rk_agent_type_name(a->agent_type)) ||
        json_object_set_new(o, "capabilities", caps_encode(&a->capabilities)) ||
        rk_json_set_time(o, "last_updated", a->last_updated))
        goto fail;
    if (a->labels && json_object_size(a->labels) &&
        json_object_set_new(o, "labels", json_deep_copy(a->labels)))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

int rk_agent_info_copy(const rk_agent_info_t *src, rk_agent_info_t *dst)
{
    bool ok = true;
    memset(dst, 0, sizeof *dst);
    dst->agent_id = dup_opt(src->agent_id, &ok);
    dst->agent_name = dup_opt(src->agent_name, &ok);
    dst->agent_type = src->agent_type;
    dst->system_info = deep_copy_opt(src->system_info, &ok);
    dst->capabilities.slots = src->capabilities.slots;
    dst->capabilities.extra = deep_copy_opt(src->capabilities.extra, &ok);
    dst->last_updated = src->last_updated;
    dst->extra = deep_copy_opt(src->extra, &ok);
    dst->labels = deep_copy_opt(src->labels, &ok);
    size_t n = src->capabilities.n_task_types;
    if (ok && n) {
        dst->capabilities.task_types = malloc(n * sizeof *dst->capabilities.task_types);
        if (dst->capabilities.task_types) {
            memcpy(dst->capabilities.task_types, src->capabilities.task_types,
                   n * sizeof *dst->capabilities.task_types);
            dst->capabilities.n_task_types = n;
        } else {
            ok = false;
        }
    }
    if (!ok) {
        rk_agent_info_cleanup(dst);
        return RK_ENOMEM;
    }
    return RK_OK;
}

bool rk_agent_info_equal(const rk_agent_info_t *a, const rk_agent_info_t *b)
{
    const rk_agent_caps_t *ca = &a->capabilities, *cb = &b->capabilities;
    return str_eq(a->agent_id, b->agent_id) && str_eq(a->agent_name, b->agent_name) &&
           a->agent_type == b->agent_type && json_eq_opt(a->system_info, b->system_info) &&
           ca->slots == cb->slots && ca->n_task_types == cb->n_task_types &&
           (ca->n_task_types == 0 || memcmp(ca->task_types, cb->task_types,
                                            ca->n_task_types * sizeof *ca->task_types) == 0) &&
           json_eq_opt(ca->extra, cb->extra) && a->last_updated == b->last_updated &&
           json_eq_opt(a->labels, b->labels) && json_eq_opt(a->extra, b->extra);
}

/* ---- RegisteredAgentInfo ---- */

void rk_registered_agent_cleanup(rk_registered_agent_t *r)
{
    if (!r)
        return;
    rk_agent_info_cleanup(&r->info);
    free(r->agent_url);
    memset(r, 0, sizeof *r);
}

int rk_registered_agent_decode(const json_t *v, const char *path, rk_registered_agent_t *out,
                               rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    int rc = info_decode(v, path, registered_known, &out->info, e);
    if (rc)
        goto cleanup;
    if ((rc = rk_json_get_str(v, path, "agent_url", RK_REQUIRED, RK_AGENT_URL_MAX, &out->agent_url,
                              e)))
        goto cleanup;
    if (!rk_agent_url_valid(out->agent_url)) {
        char p[RK_PATH_MAX];
        rk_path_key(p, path, "agent_url");
        rc = rk_verr_set(e, p, "expected an http:// or https:// URL");
        goto cleanup;
    }
    rc = rk_json_get_time(v, path, "registered_at", RK_REQUIRED, &out->registered_at, NULL, e);
cleanup:
    if (rc)
        rk_registered_agent_cleanup(out);
    return rc;
}

json_t *rk_registered_agent_encode(const rk_registered_agent_t *r)
{
    json_t *o = rk_agent_info_encode(&r->info);
    if (!o)
        return NULL;
    if (rk_json_set_str(o, "agent_url", r->agent_url) ||
        rk_json_set_time(o, "registered_at", r->registered_at)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int rk_registered_agent_copy(const rk_registered_agent_t *src, rk_registered_agent_t *dst)
{
    memset(dst, 0, sizeof *dst);
    if (rk_agent_info_copy(&src->info, &dst->info))
        return RK_ENOMEM;
    dst->registered_at = src->registered_at;
    if (src->agent_url && !(dst->agent_url = strdup(src->agent_url))) {
        rk_registered_agent_cleanup(dst);
        return RK_ENOMEM;
    }
    return RK_OK;
}

bool rk_registered_agent_equal(const rk_registered_agent_t *a, const rk_registered_agent_t *b)
{
    return rk_agent_info_equal(&a->info, &b->info) && str_eq(a->agent_url, b->agent_url) &&
           a->registered_at == b->registered_at;
}

/* ---- AgentStatus ---- */

void rk_agent_status_cleanup(rk_agent_status_t *s)
{
    if (!s)
        return;
    free(s->agent_id);
    rk_strv_free(s->running_jobs, s->n_running);
    rk_strv_free(s->queued_jobs, s->n_queued);
    free(s->current_job_id);
    free(s->current_experiment_id);
    for (size_t i = 0; i < s->n_results; i++) {
        free(s->available_results[i].job_id);
        free(s->available_results[i].result_type);
    }
    free(s->available_results);
    memset(s, 0, sizeof *s);
}

/* A required array of job ids. */
static int get_ids(const json_t *v, const char *path, const char *key, char ***out, size_t *n,
                   rk_verr_t *e)
{
    int rc = rk_json_get_strv(v, path, key, RK_REQUIRED, RK_AGENT_JOBS_MAX, out, n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < *n; i++) {
        if (!rk_id_valid((*out)[i])) {
            char p[RK_PATH_MAX], ip[RK_PATH_MAX];
            rk_path_key(p, path, key);
            rk_path_index(ip, p, i);
            return rk_verr_set(e, ip, "expected " RK_ID_RULE);
        }
    }
    return RK_OK;
}

static int decode_results(const json_t *v, const char *path, rk_agent_status_t *out, rk_verr_t *e)
{
    json_t *arr;
    int rc = get_array(v, path, "available_results", RK_REQUIRED, &arr, e);
    if (rc)
        return rc;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "available_results");
    size_t n = json_array_size(arr);
    if (n > RK_AGENT_RESULTS_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_AGENT_RESULTS_MAX);
    if (n && !(out->available_results = calloc(n, sizeof *out->available_results)))
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, i);
        rk_result_ref_t *r = &out->available_results[i];
        char ip[RK_PATH_MAX];
        rk_path_index(ip, p, i);
        /* Count the entry first so cleanup frees whatever it got. */
        out->n_results = i + 1;
        if ((rc = rk_json_expect_obj(it, ip, e)) ||
            (rc = rk_json_get_id(it, ip, "job_id", RK_REQUIRED, &r->job_id, e)) ||
            (rc = rk_json_get_time(it, ip, "completed_at", RK_REQUIRED, &r->completed_at, NULL,
                                   e)) ||
            (rc = rk_json_get_str(it, ip, "result_type", RK_REQUIRED, 64, &r->result_type, e)))
            return rc;
    }
    return RK_OK;
}

int rk_agent_status_decode(const json_t *v, const char *path, rk_agent_status_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    int st = 0;
    int rc = rk_json_expect_obj(v, path, e);
    if (rc)
        goto cleanup;
    if ((rc = rk_json_get_id(v, path, "agent_id", RK_REQUIRED, &out->agent_id, e)) ||
        (rc = rk_json_get_enum(v, path, "status", RK_REQUIRED, rk_agent_state_names,
                               RK_AGENT_STATE_COUNT, &st, e)) ||
        (rc = get_ids(v, path, "running_jobs", &out->running_jobs, &out->n_running, e)) ||
        (rc = get_ids(v, path, "queued_jobs", &out->queued_jobs, &out->n_queued, e)) ||
        (rc = rk_json_get_id(v, path, "current_job_id", RK_OPTIONAL, &out->current_job_id, e)) ||
        (rc = rk_json_get_id(v, path, "current_experiment_id", RK_OPTIONAL,
                             &out->current_experiment_id, e)) ||
        (rc = rk_json_get_num(v, path, "uptime_seconds", RK_REQUIRED, 0.0, 1e12,
                              &out->uptime_seconds, NULL, e)) ||
        (rc = rk_json_get_time(v, path, "timestamp", RK_REQUIRED, &out->timestamp, NULL, e)) ||
        (rc = decode_results(v, path, out, e)))
        goto cleanup;
    out->status = (rk_agent_state_t)st;
cleanup:
    if (rc)
        rk_agent_status_cleanup(out);
    return rc;
}

json_t *rk_agent_status_encode(const rk_agent_status_t *s)
{
    json_t *o = json_object();
    json_t *arr = json_array();
    if (!o || !arr)
        goto fail;
    for (size_t i = 0; i < s->n_results; i++) {
        const rk_result_ref_t *r = &s->available_results[i];
        json_t *it = json_object();
        if (json_array_append_new(arr, it) || rk_json_set_str(it, "job_id", r->job_id) ||
            rk_json_set_time(it, "completed_at", r->completed_at) ||
            rk_json_set_str(it, "result_type", r->result_type ? r->result_type : ""))
            goto fail;
    }
    if (rk_json_set_str(o, "agent_id", s->agent_id) ||
        rk_json_set_str(o, "status", rk_agent_state_name(s->status)) ||
        rk_json_set_strv(o, "running_jobs", s->running_jobs, s->n_running) ||
        rk_json_set_strv(o, "queued_jobs", s->queued_jobs, s->n_queued) ||
        rk_json_set_str(o, "current_job_id", s->current_job_id) ||
        rk_json_set_str(o, "current_experiment_id", s->current_experiment_id) ||
        json_object_set_new(o, "uptime_seconds", json_real(s->uptime_seconds)) ||
        rk_json_set_time(o, "timestamp", s->timestamp))
        goto fail;
    if (json_object_set_new(o, "available_results", arr)) {
        arr = NULL;
        goto fail;
    }
    return o;
fail:
    json_decref(arr);
    json_decref(o);
    return NULL;
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (!str_eq(a[i], b[i]))
            return false;
    }
    return true;
}

bool rk_agent_status_equal(const rk_agent_status_t *a, const rk_agent_status_t *b)
{
    if (!str_eq(a->agent_id, b->agent_id) || a->status != b->status ||
        !strv_eq(a->running_jobs, a->n_running, b->running_jobs, b->n_running) ||
        !strv_eq(a->queued_jobs, a->n_queued, b->queued_jobs, b->n_queued) ||
        !str_eq(a->current_job_id, b->current_job_id) ||
        !str_eq(a->current_experiment_id, b->current_experiment_id) ||
        a->uptime_seconds != b->uptime_seconds || a->timestamp != b->timestamp ||
        a->n_results != b->n_results)
        return false;
    for (size_t i = 0; i < a->n_results; i++) {
        const rk_result_ref_t *x = &a->available_results[i], *y = &b->available_results[i];
        if (!str_eq(x->job_id, y->job_id) || x->completed_at != y->completed_at ||
            !str_eq(x->result_type, y->result_type))
            return false;
    }
    return true;
}
