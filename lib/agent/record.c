/* job.json, a job's durable record: encoding it from a job, storing it at
 * the level --sync asks for, and reading it back after a restart. What a
 * restart makes of a record is recover.c's business, not this file's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"
#include "model/json.h"
#include "model/parse.h"

agent__write_t agent__record_level(const rk_agent_t *a, bool sync_dir)
{
    if (a->s->sync != RK_AGENT_SYNC_FULL)
        return AGENT__WRITE_ATOMIC;
    return sync_dir ? AGENT__WRITE_DURABLE : AGENT__WRITE_DATA;
}

/* job.json's text for j as it reads in state st with message (finished_at
 * 0 while unfinished; the request is left out once finished). New string,
 * NULL when out of memory. mu held. */
static char *job_record(const job_t *j, rk_job_state_t st, const char *message,
                        rk_time_t finished_at)
{
    bool done = rk_job_state_terminal(st);
    rk_time_t changed = done ? finished_at : j->changed_at;
    char *text = NULL;
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (rk_json_set_str(o, "job_id", j->id) ||
        rk_json_set_str(o, "experiment_id", j->experiment_id) ||
        rk_json_set_str(o, "task_type", rk_task_type_name(j->type)) ||
        rk_json_set_str(o, "state", rk_job_state_name(st)) ||
        rk_json_set_str(o, "message", message ? message : "") ||
        rk_json_set_time(o, "accepted_at", j->accepted_at) ||
        rk_json_set_time(o, "changed_at", changed))
        goto out;
    if (j->attempt && json_object_set_new(o, "attempt", json_integer(j->attempt)))
        goto out;
    if (j->started_at && rk_json_set_time(o, "started_at", j->started_at))
        goto out;
    if (finished_at && rk_json_set_time(o, "finished_at", finished_at))
        goto out;
    /* The request is kept only while the job may still (re)start. */
    if (!done && j->request && json_object_set(o, "request", j->request))
        goto out;
    if (!done && j->started_at && j->pgid > 0 &&
        json_object_set_new(o, "pgid", json_integer(j->pgid)))
        goto out;
    text = json_dumps(o, JSON_COMPACT);
out:
    json_decref(o);
    return text;
}

/* Stores text as j's job.json at level (is_new: no job.json exists yet);
 * keeps it as j->rec while the job is unfinished. Takes text. */
static int store_record(job_t *j, char *text, agent__write_t level, bool is_new)
{
    int rc = is_new ? agent__write_new(j->dir, "job.json", text, strlen(text), level)
                    : agent__write_atomic_ex(j->dir, "job.json", text, strlen(text), level);
    if (rc)
        rk_log_error("cannot store the job record", "job_id", j->id, "error", strerror(errno));
    free(j->rec);
    j->rec = NULL;
    if (rc == RK_OK && !rk_job_state_terminal(j->state))
        j->rec = text;
    else
        free(text);
    return rc;
}

int agent__job_persist(rk_agent_t *a, job_t *j, bool sync_dir)
{
    char *text = job_record(j, j->state, j->message, j->finished_at);
    if (!text)
        return RK_ENOMEM;
    return store_record(j, text, agent__record_level(a, sync_dir), false);
}

int agent__job_persist_new(rk_agent_t *a, job_t *j)
{
    char *text = job_record(j, j->state, j->message, j->finished_at);
    if (!text)
        return RK_ENOMEM;
    return store_record(j, text, agent__record_level(a, true), true);
}

/* Writes the n bytes of text at off of dir/job.json, an existing file. */
static int write_in_place(const char *dir, const char *text, size_t n, off_t off)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/job.json", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return RK_EIO;
    ssize_t k = pwrite(fd, text, n, off);
    int rc = k == (ssize_t)n ? RK_OK : RK_EIO;
    if (close(fd) != 0)
        rc = RK_EIO;
    return rc;
}

int agent__job_persist_pgid(rk_agent_t *a, job_t *j)
{
    agent__write_t level = agent__record_level(a, false);
    char *text = job_record(j, j->state, j->message, j->finished_at);
    if (!text)
        return RK_ENOMEM;
    /* The group is the record's last member: the new text is the stored
     * one with its closing brace replaced by ',"pgid":N}'. Only the suffix
     * is written, so the file never loses its old content. */
    size_t old = j->rec ? strlen(j->rec) : 0;
    size_t len = strlen(text);
    if (level == AGENT__WRITE_ATOMIC && old > 1 && len > old && j->rec[old - 1] == '}' &&
        memcmp(text, j->rec, old - 1) == 0 &&
        write_in_place(j->dir, text + old - 1, len - old + 1, (off_t)(old - 1)) == RK_OK) {
        free(j->rec);
        j->rec = text;
        return RK_OK;
    }
    return store_record(j, text, level, false);
}

static char *str_or(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return strdup(s ? s : "");
}

static rk_time_t time_of(const json_t *o, const char *k)
{
    rk_time_t t = 0;
    const char *s = json_string_value(json_object_get(o, k));
    if (s)
        rk_time_parse(s, &t);
    return t;
}

bool agent__result_read(const char *dir, rk_job_state_t *st, rk_time_t *finished_at, char **message)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/result.json", dir);
    json_t *r = json_load_file(path, 0, NULL);
    const char *s = json_string_value(json_object_get(r, "status"));
    bool ok = s && rk_job_state_parse(s, st) == 0 && rk_job_state_terminal(*st);
    if (ok) {
        *finished_at = time_of(r, "completed_at");
        if (!*finished_at)
            *finished_at = rk_time_now_us();
        const char *e = json_string_value(json_object_get(r, "error"));
        char *m = strdup(e && *e ? e : s);
        if (m) {
            free(*message);
            *message = m;
        }
    }
    json_decref(r);
    return ok;
}

int agent__record_read(rk_agent_t *a, const char *name, job_t **out, json_t **request)
{
    *out = NULL;
    *request = NULL;
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/%s", a->jobs_dir, name);
    snprintf(path, sizeof path, "%s/job.json", dir);
    json_t *o = json_load_file(path, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "job_id"));
    const char *state = json_string_value(json_object_get(o, "state"));
    job_t *j = NULL;
    rk_job_state_t st;
    int rc = RK_EIO;
    if (!o || !id || strcmp(id, name) != 0 || !state || rk_job_state_parse(state, &st) != 0) {
        rk_log_warn("skipping a job folder without a valid job.json", "path", dir);
        goto out;
    }
    rc = RK_ENOMEM;
    if (!(j = calloc(1, sizeof *j)))
        goto out;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->agent = a;
    j->dir = strdup(dir);
    j->experiment_id = str_or(o, "experiment_id");
    j->message = str_or(o, "message");
    const char *tt = json_string_value(json_object_get(o, "task_type"));
    if (tt)
        rk_task_type_parse(tt, &j->type);
    j->state = st;
    j->accepted_at = time_of(o, "accepted_at");
    j->started_at = time_of(o, "started_at");
    j->finished_at = time_of(o, "finished_at");
    j->changed_at = time_of(o, "changed_at");
    json_int_t at = json_integer_value(json_object_get(o, "attempt"));
    j->attempt = at > 0 && at <= RK_EXECUTE_ATTEMPT_MAX ? at : 0;
    json_int_t pg = json_integer_value(json_object_get(o, "pgid"));
    j->pgid = pg > 1 && pg <= INT32_MAX ? (pid_t)pg : 0;
    json_t *rq = json_object_get(o, "request");
    *request = rq ? json_incref(rq) : NULL;
    *out = j;
    rc = RK_OK;
out:
    json_decref(o);
    return rc;
}
