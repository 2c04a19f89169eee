#include "model/job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/err.h"
#include "model/agent.h"

int rk_job_id_generate(char out[RK_JOB_ID_SIZE])
{
    uint32_t r;
    ssize_t n;
    do {
        n = getrandom(&r, sizeof r, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof r)
        return RK_EIO;
    snprintf(out, RK_JOB_ID_SIZE, "job_%08x", (unsigned)r);
    return RK_OK;
}

bool rk_job_id_valid(const char *s)
{
    if (!s || strncmp(s, "job_", 4) != 0 || strlen(s) != RK_JOB_ID_SIZE - 1)
        return false;
    for (const char *p = s + 4; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    }
    return true;
}

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* strdup that maps NULL to NULL; *ok turns false when memory runs out. */
static char *dup_opt(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

/* ---- JobStatus ---- */

void rk_job_status_cleanup(rk_job_status_t *s)
{
    if (!s)
        return;
    free(s->message);
    free(s->job_id);
    memset(s, 0, sizeof *s);
}

int rk_job_status_decode(const json_t *v, const char *path, rk_job_status_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    int st = 0;
    int rc = rk_json_expect_obj(v, path, e);
    if (rc)
        goto cleanup;
    if ((rc = rk_json_get_enum(v, path, "status", RK_REQUIRED, rk_job_state_names,
                               RK_JOB_STATE_COUNT, &st, e)))
        goto cleanup;
    out->status = (rk_job_state_t)st;
    if ((rc = rk_json_get_time(v, path, "timestamp", RK_REQUIRED, &out->timestamp, NULL, e)))
        goto cleanup;
    if ((rc = rk_json_get_str(v, path, "message", RK_OPTIONAL, RK_JOB_MESSAGE_MAX, &out->message,
                              e)))
        goto cleanup;
    if (!out->message && !(out->message = strdup(""))) {
        rc = RK_ENOMEM;
        goto cleanup;
    }
    if ((rc = rk_json_get_num(v, path, "progress", RK_OPTIONAL, 0.0, 1.0, &out->progress,
                              &out->has_progress, e)))
        goto cleanup;
    rc = rk_json_get_id(v, path, "job_id", RK_OPTIONAL, &out->job_id, e);
cleanup:
    if (rc)
        rk_job_status_cleanup(out);
    return rc;
}

json_t *rk_job_status_encode(const rk_job_status_t *s)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (rk_json_set_str(o, "job_id", s->job_id) ||
        rk_json_set_str(o, "status", rk_job_state_name(s->status)) ||
        rk_json_set_time(o, "timestamp", s->timestamp) ||
        rk_json_set_str(o, "message", s->message ? s->message : ""))
        goto fail;
    if (s->has_progress && json_object_set_new(o, "progress", json_real(s->progress)))
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

int rk_job_status_copy(const rk_job_status_t *src, rk_job_status_t *dst)
{
    bool ok = true;
    *dst = *src;
    dst->message = dup_opt(src->message, &ok);
    dst->job_id = dup_opt(src->job_id, &ok);
    if (!ok) {
        rk_job_status_cleanup(dst);
        return RK_ENOMEM;
    }
    return RK_OK;
}

bool rk_job_status_equal(const rk_job_status_t *a, const rk_job_status_t *b)
{
    /* A NULL message encodes as "", so the two are the same value. */
    const char *ma = a->message ? a->message : "", *mb = b->message ? b->message : "";
    return a->status == b->status && a->timestamp == b->timestamp && strcmp(ma, mb) == 0 &&
           a->has_progress == b->has_progress && (!a->has_progress || a->progress == b->progress) &&
           str_eq(a->job_id, b->job_id);
}

/* ---- JobInfo ---- */

void rk_job_info_cleanup(rk_job_info_t *j)
{
    if (!j)
        return;
    free(j->job_id);
    free(j->experiment_id);
    free(j->agent_id);
    json_decref(j->selector_labels);
    json_decref(j->extra);
    free(j->idem_key);
    free(j->idem_fp);
    rk_job_status_cleanup(&j->status);
    for (size_t i = 0; i < j->n_history; i++)
        rk_job_status_cleanup(&j->history[i]);
    free(j->history);
    memset(j, 0, sizeof *j);
}

static int decode_history(const json_t *v, const char *path, rk_job_info_t *out, rk_verr_t *e)
{
    json_t *arr = json_object_get(v, "history");
    if (!arr || json_is_null(arr))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "history");
    if (!json_is_array(arr))
        return rk_verr_set(e, p, "expected an array");
    size_t n = json_array_size(arr);
    if (n > RK_JOB_HISTORY_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_JOB_HISTORY_MAX);
    out->has_history = true;
    if (n == 0)
        return RK_OK;
    out->history = calloc(n, sizeof *out->history);
    if (!out->history)
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char ip[RK_PATH_MAX];
        rk_path_index(ip, p, i);
        int rc = rk_job_status_decode(json_array_get(arr, i), ip, &out->history[i], e);
        if (rc)
            return rc;
        out->n_history = i + 1;
    }
    return RK_OK;
}

int rk_job_selector_decode(const json_t *v, const char *path, json_t **labels, rk_verr_t *e)
{
    *labels = NULL;
    json_t *sel = json_object_get(v, "agent_selector");
    if (!sel || json_is_null(sel))
        return RK_OK;
    char sp[RK_PATH_MAX];
    rk_path_key(sp, path, "agent_selector");
    int rc = rk_json_expect_obj(sel, sp, e);
    if (rc)
        return rc;
    json_t *l = json_object_get(sel, "labels");
    if (!l || json_is_null(l))
        return RK_OK;
    char lp[RK_PATH_MAX];
    rk_path_key(lp, sp, "labels");
    if ((rc = rk_labels_check(l, lp, e)))
        return rc;
    if (json_object_size(l) == 0)
        return RK_OK;
    if (!(*labels = json_deep_copy(l)))
        return RK_ENOMEM;
    return RK_OK;
}

/* priority (absent: medium), exclusive and agent_selector. */
static int decode_queue_fields(const json_t *v, const char *path, rk_job_info_t *out, rk_verr_t *e)
{
    int prio = RK_PRIO_MEDIUM;
    int rc = rk_json_get_enum(v, path, "priority", RK_OPTIONAL, rk_job_priority_names,
                              RK_PRIORITY_COUNT, &prio, e);
    if (rc)
        return rc;
    out->priority = (rk_job_priority_t)prio;
    if ((rc = rk_json_get_bool(v, path, "exclusive", RK_OPTIONAL, &out->exclusive, NULL, e)))
        return rc;
    return rk_job_selector_decode(v, path, &out->selector_labels, e);
}

const char *const RK_JOB_EXTRA_KEYS[] = {
    "attempt",    "max_attempts", "retry",      "retry_of",    "depends_on",
    "dependency", "waiting_for",  "not_before", "schedule_id", NULL,
};

/* The jobs-over-time keys of v, copied into out->extra (NULL when none);
 * taken as they are: the server validates what it accepts from users. */
static int decode_extra(const json_t *v, rk_job_info_t *out)
{
    for (size_t i = 0; RK_JOB_EXTRA_KEYS[i]; i++) {
        json_t *x = json_object_get(v, RK_JOB_EXTRA_KEYS[i]);
        if (!x || json_is_null(x))
            continue;
        if (!out->extra && !(out->extra = json_object()))
            return RK_ENOMEM;
        if (json_object_set_new(out->extra, RK_JOB_EXTRA_KEYS[i], json_deep_copy(x)))
            return RK_ENOMEM;
    }
    return RK_OK;
}

int rk_job_info_decode(const json_t *v, const char *path, rk_job_info_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    int rc = rk_json_expect_obj(v, path, e);
    if (rc)
        goto cleanup;
    if ((rc = rk_json_get_id(v, path, "job_id", RK_REQUIRED, &out->job_id, e)) ||
        (rc = rk_json_get_id(v, path, "experiment_id", RK_REQUIRED, &out->experiment_id, e)) ||
        (rc = rk_json_get_id(v, path, "agent_id", RK_OPTIONAL, &out->agent_id, e)) ||
        (rc = rk_json_get_time(v, path, "created_time", RK_REQUIRED, &out->created_time, NULL, e)))
        goto cleanup;
    char sp[RK_PATH_MAX];
    rk_path_key(sp, path, "status");
    json_t *st = json_object_get(v, "status");
    if (!st || json_is_null(st)) {
        rc = rk_verr_set(e, sp, "field required");
        goto cleanup;
    }
    if ((rc = rk_job_status_decode(st, sp, &out->status, e)))
        goto cleanup;
    if ((rc = decode_queue_fields(v, path, out, e)) || (rc = decode_extra(v, out)))
        goto cleanup;
    rc = decode_history(v, path, out, e);
cleanup:
    if (rc)
        rk_job_info_cleanup(out);
    return rc;
}

json_t *rk_job_info_encode(const rk_job_info_t *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (rk_json_set_str(o, "job_id", j->job_id) ||
        rk_json_set_str(o, "experiment_id", j->experiment_id) ||
        json_object_set_new(o, "agent_id", j->agent_id ? json_string(j->agent_id) : json_null()) ||
        rk_json_set_time(o, "created_time", j->created_time) ||
        json_object_set_new(o, "status", rk_job_status_encode(&j->status)) ||
        rk_json_set_str(o, "priority", rk_job_priority_name(j->priority)) ||
        json_object_set_new(o, "exclusive", json_boolean(j->exclusive)))
        goto fail;
    if (j->selector_labels && json_object_size(j->selector_labels) && /* {}: "any", no labels */
        json_object_set_new(o, "agent_selector", json_pack("{sO}", "labels", j->selector_labels)))
        goto fail;
    if (j->extra && json_object_update_missing(o, j->extra))
        goto fail;
    if (j->has_history) {
        json_t *arr = json_array();
        if (json_object_set_new(o, "history", arr))
            goto fail;
        for (size_t i = 0; i < j->n_history; i++) {
            if (json_array_append_new(arr, rk_job_status_encode(&j->history[i])))
                goto fail;
        }
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

int rk_job_info_copy(const rk_job_info_t *src, rk_job_info_t *dst)
{
    bool ok = true;
    memset(dst, 0, sizeof *dst);
    dst->job_id = dup_opt(src->job_id, &ok);
    dst->experiment_id = dup_opt(src->experiment_id, &ok);
    dst->agent_id = dup_opt(src->agent_id, &ok);
    dst->created_time = src->created_time;
    dst->priority = src->priority;
    dst->exclusive = src->exclusive;
    if (src->selector_labels && !(dst->selector_labels = json_deep_copy(src->selector_labels)))
        ok = false;
    if (src->extra && !(dst->extra = json_deep_copy(src->extra)))
        ok = false;
    dst->idem_key = dup_opt(src->idem_key, &ok);
    dst->idem_fp = dup_opt(src->idem_fp, &ok);
    dst->has_history = src->has_history;
    if (!ok || rk_job_status_copy(&src->status, &dst->status))
        goto fail;
    if (src->n_history) {
        dst->history = calloc(src->n_history, sizeof *dst->history);
        if (!dst->history)
            goto fail;
        for (size_t i = 0; i < src->n_history; i++) {
            if (rk_job_status_copy(&src->history[i], &dst->history[i]))
                goto fail;
            dst->n_history = i + 1;
        }
    }
    return RK_OK;
fail:
    rk_job_info_cleanup(dst);
    return RK_ENOMEM;
}

bool rk_job_info_equal(const rk_job_info_t *a, const rk_job_info_t *b)
{
    if (!str_eq(a->job_id, b->job_id) || !str_eq(a->experiment_id, b->experiment_id) ||
        !str_eq(a->agent_id, b->agent_id) || a->created_time != b->created_time ||
        a->priority != b->priority || a->exclusive != b->exclusive ||
        !(a->selector_labels == b->selector_labels ||
          (a->selector_labels && b->selector_labels &&
           json_equal(a->selector_labels, b->selector_labels))) ||
        !(a->extra == b->extra || (a->extra && b->extra && json_equal(a->extra, b->extra))) ||
        !str_eq(a->idem_key, b->idem_key) || !str_eq(a->idem_fp, b->idem_fp) ||
        !rk_job_status_equal(&a->status, &b->status) || a->has_history != b->has_history ||
        a->n_history != b->n_history)
        return false;
    for (size_t i = 0; i < a->n_history; i++) {
        if (!rk_job_status_equal(&a->history[i], &b->history[i]))
            return false;
    }
    return true;
}

int rk_job_info_history_add(rk_job_info_t *j, const rk_job_status_t *st)
{
    rk_job_status_t *h = realloc(j->history, (j->n_history + 1) * sizeof *h);
    if (!h)
        return RK_ENOMEM;
    j->history = h;
    if (rk_job_status_copy(st, &h[j->n_history]))
        return RK_ENOMEM;
    j->n_history++;
    j->has_history = true;
    return RK_OK;
}
