/* Splicing encoded JSON texts (job_text.h). */
#include "model/job_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/time.h"

int rk_text_string(rk_buf_t *b, const char *s)
{
    int rc = rk_buf_add(b, "\"", 1);
    const char *run = s;
    for (const char *p = s; !rc && *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (p > run)
            rc = rk_buf_add(b, run, (size_t)(p - run));
        char esc[8];
        switch (c) {
        case '"':
            strcpy(esc, "\\\"");
            break;
        case '\\':
            strcpy(esc, "\\\\");
            break;
        case '\n':
            strcpy(esc, "\\n");
            break;
        case '\r':
            strcpy(esc, "\\r");
            break;
        case '\t':
            strcpy(esc, "\\t");
            break;
        case '\b':
            strcpy(esc, "\\b");
            break;
        case '\f':
            strcpy(esc, "\\f");
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", c);
            break;
        }
        if (!rc)
            rc = rk_buf_adds(b, esc);
        run = p + 1;
    }
    if (!rc && *run)
        rc = rk_buf_adds(b, run);
    return rc ? rc : rk_buf_add(b, "\"", 1);
}

int rk_text_key(rk_buf_t *b, const char *key)
{
    int rc = rk_text_string(b, key);
    return rc ? rc : rk_buf_add(b, ":", 1);
}

int rk_text_array(rk_buf_t *b, char *const *texts, size_t n)
{
    int rc = rk_buf_add(b, "[", 1);
    bool first = true;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!texts[i])
            continue;
        if (!first)
            rc = rk_buf_add(b, ",", 1);
        first = false;
        if (!rc)
            rc = rk_buf_adds(b, texts[i]);
    }
    return rc ? rc : rk_buf_add(b, "]", 1);
}

int rk_text_json(rk_buf_t *b, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return RK_ENOMEM;
    int rc = rk_buf_adds(b, s);
    free(s);
    return rc;
}

/* `,"key":` inside an object being written (no comma after its `{`). */
static int member(rk_buf_t *b, const char *key)
{
    int rc = b->len && b->data[b->len - 1] != '{' ? rk_buf_add(b, ",", 1) : 0;
    return rc ? rc : rk_text_key(b, key);
}

/* `,"key":"value"`, or nothing for NULL (as rk_json_set_str). */
static int member_str(rk_buf_t *b, const char *key, const char *v)
{
    if (!v)
        return 0;
    int rc = member(b, key);
    return rc ? rc : rk_text_string(b, v);
}

static int member_time(rk_buf_t *b, const char *key, rk_time_t t)
{
    char buf[RK_TIME_STRLEN];
    rk_time_format(t, buf);
    return member_str(b, key, buf);
}

/* As rk_job_status_encode. */
static int status_text(rk_buf_t *b, const rk_job_status_t *s)
{
    int rc = rk_buf_add(b, "{", 1);
    if (!rc)
        rc = member_str(b, "job_id", s->job_id);
    if (!rc)
        rc = member_str(b, "status", rk_job_state_name(s->status));
    if (!rc)
        rc = member_time(b, "timestamp", s->timestamp);
    if (!rc)
        rc = member_str(b, "message", s->message ? s->message : "");
    if (!rc && s->has_progress) {
        json_t *p = json_real(s->progress);
        rc = p ? member(b, "progress") : RK_ENOMEM;
        if (!rc)
            rc = rk_text_json(b, p);
        json_decref(p);
    }
    return rc ? rc : rk_buf_add(b, "}", 1);
}

int rk_job_info_text(rk_buf_t *b, const rk_job_info_t *j)
{
    if (j->has_history || !j->job_id) { /* not a listing's job: the encoder */
        json_t *v = rk_job_info_encode(j);
        int rc = v ? rk_text_json(b, v) : RK_ENOMEM;
        json_decref(v);
        return rc;
    }
    int rc = rk_buf_add(b, "{", 1);
    if (!rc)
        rc = member_str(b, "job_id", j->job_id);
    if (!rc)
        rc = member_str(b, "experiment_id", j->experiment_id);
    if (!rc && !(rc = member(b, "agent_id")))
        rc = j->agent_id ? rk_text_string(b, j->agent_id) : rk_buf_adds(b, "null");
    if (!rc)
        rc = member_time(b, "created_time", j->created_time);
    if (!rc && !(rc = member(b, "status")))
        rc = status_text(b, &j->status);
    if (!rc)
        rc = member_str(b, "priority", rk_job_priority_name(j->priority));
    if (!rc && !(rc = member(b, "exclusive")))
        rc = rk_buf_adds(b, j->exclusive ? "true" : "false");
    if (!rc && j->selector_labels && json_object_size(j->selector_labels) &&
        !(rc = member(b, "agent_selector"))) { /* {}: "any", no labels */
        rc = rk_buf_adds(b, "{\"labels\":");
        if (!rc)
            rc = rk_text_json(b, j->selector_labels);
        if (!rc)
            rc = rk_buf_add(b, "}", 1);
    }
    /* The jobs-over-time fields, after the others as rk_job_info_encode
     * puts them (its keys are never one of those above). */
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j->extra, key, v)
    {
        if (rc)
            break;
        if (!(rc = member(b, key)))
            rc = rk_text_json(b, v);
    }
    return rc ? rc : rk_buf_add(b, "}", 1);
}
