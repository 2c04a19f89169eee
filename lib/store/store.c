/* The backend registry, the argument-checking wrappers every caller goes
 * through, the list free helpers and the JSON text codecs the backends
 * share. Backends may assume the wrappers' checks have passed.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "store/store_int.h"

static const rk_store_ops_t *const backends[] = {&rk_store_memory_ops, &rk_store_sqlite_ops,
                                                 &rk_store_postgresql_ops};
static const char *const names[] = {"memory", "sqlite", "postgresql", NULL};

const char *const *rk_store_backends(void)
{
    return names;
}

const rk_store_ops_t *rk_store_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

int rk_store_open(const char *name, const char *location, rk_store_t **out)
{
    if (!out)
        return RK_EINVAL;
    *out = NULL;
    const rk_store_ops_t *ops = rk_store_find(name);
    if (!ops) {
        rk_log_error("unknown storage backend", "backend", name);
        return RK_ENOENT;
    }
    return rk_store_open_ops(ops, location, out);
}

/* The slots every backend must fill (lease_acquire and lead may stay NULL). */
static bool ops_complete(const rk_store_ops_t *o)
{
    return o->name && o->open && o->close && o->begin && o->commit && o->rollback && o->agent_put &&
           o->agent_get && o->agent_list && o->agent_delete && o->experiment_insert &&
           o->experiment_get && o->experiment_list && o->experiment_delete && o->job_insert &&
           o->job_set_status && o->job_set_priority && o->job_place && o->job_set_extra &&
           o->job_get && o->job_list && o->job_scan && o->result_put && o->result_get &&
           o->result_list && o->result_list_text;
}

int rk_store_open_ops(const rk_store_ops_t *ops, const char *location, rk_store_t **out)
{
    if (!out)
        return RK_EINVAL;
    *out = NULL;
    if (!ops)
        return RK_EINVAL;
    if (ops->version != RK_STORE_OPS_VERSION) {
        char have[16], want[16];
        snprintf(have, sizeof have, "%d", ops->version);
        snprintf(want, sizeof want, "%d", RK_STORE_OPS_VERSION);
        rk_log_error("storage backend was written for another version of the store interface",
                     "backend", ops->name ? ops->name : "?", "version", have, "expected", want);
        return RK_EINVAL;
    }
    if (!ops_complete(ops)) {
        rk_log_error("storage backend leaves a required operation empty", "backend",
                     ops->name ? ops->name : "?");
        return RK_EINVAL;
    }
    return ops->open(location ? location : "", out);
}

void rk_store_close(rk_store_t *s)
{
    if (s)
        s->ops->close(s);
}

int rk_store_begin(rk_store_t *s)
{
    return s ? s->ops->begin(s) : RK_EINVAL;
}

int rk_store_commit(rk_store_t *s)
{
    return s ? s->ops->commit(s) : RK_EINVAL;
}

int rk_store_rollback(rk_store_t *s)
{
    return s ? s->ops->rollback(s) : RK_EINVAL;
}

int rk_store_agent_put(rk_store_t *s, const rk_registered_agent_t *a)
{
    if (!s || !a || !a->info.agent_id)
        return RK_EINVAL;
    return s->ops->agent_put(s, a);
}

int rk_store_agent_get(rk_store_t *s, const char *agent_id, rk_registered_agent_t *out)
{
    if (!s || !agent_id || !out)
        return RK_EINVAL;
    memset(out, 0, sizeof *out);
    return s->ops->agent_get(s, agent_id, out);
}

int rk_store_agent_list(rk_store_t *s, rk_registered_agent_t **out, size_t *n)
{
    if (!s || !out || !n)
        return RK_EINVAL;
    *out = NULL;
    *n = 0;
    return s->ops->agent_list(s, out, n);
}

int rk_store_agent_delete(rk_store_t *s, const char *agent_id)
{
    if (!s || !agent_id)
        return RK_EINVAL;
    return s->ops->agent_delete(s, agent_id);
}

int rk_store_experiment_insert(rk_store_t *s, const rk_experiment_t *x)
{
    if (!s || !x || !x->id[0])
        return RK_EINVAL;
    return s->ops->experiment_insert(s, x);
}

int rk_store_experiment_get(rk_store_t *s, const char *id, rk_experiment_t *out)
{
    if (!s || !id || !out)
        return RK_EINVAL;
    memset(out, 0, sizeof *out);
    return s->ops->experiment_get(s, id, out);
}

int rk_store_experiment_list(rk_store_t *s, rk_experiment_t **out, size_t *n)
{
    if (!s || !out || !n)
        return RK_EINVAL;
    *out = NULL;
    *n = 0;
    return s->ops->experiment_list(s, out, n);
}

int rk_store_experiment_delete(rk_store_t *s, const char *id, bool cascade)
{
    if (!s || !id)
        return RK_EINVAL;
    return s->ops->experiment_delete(s, id, cascade);
}

int rk_store_job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq)
{
    if (!s || !job || !job->job_id || !job->experiment_id || (job->agent_id && !*job->agent_id) ||
        (unsigned)job->status.status >= RK_JOB_STATE_COUNT ||
        (unsigned)job->priority >= RK_PRIORITY_COUNT ||
        (job->selector_labels && !json_is_object(job->selector_labels)) ||
        (job->extra && !json_is_object(job->extra)) ||
        (job->idem_key && (!*job->idem_key || !job->idem_fp)))
        return RK_EINVAL;
    int64_t dummy;
    return s->ops->job_insert(s, job, seq ? seq : &dummy);
}

int rk_store_job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *st)
{
    if (!s || !job_id || !st || (unsigned)st->status >= RK_JOB_STATE_COUNT)
        return RK_EINVAL;
    return s->ops->job_set_status(s, job_id, st);
}

int rk_store_job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out)
{
    if (!s || !job_id || !out)
        return RK_EINVAL;
    memset(out, 0, sizeof *out);
    return s->ops->job_get(s, job_id, with_history, out);
}

int rk_store_job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                      size_t *n)
{
    if (!s || !page || !out || !n || page->limit < 1 || page->cursor < 0)
        return RK_EINVAL;
    *out = NULL;
    *n = 0;
    page->next_cursor = 0;
    page->total = 0;
    rk_job_filter_t all = {0};
    return s->ops->job_list(s, f ? f : &all, page, out, n);
}

int rk_store_job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud)
{
    if (!s || !fn)
        return RK_EINVAL;
    return s->ops->job_scan(s, state_mask, fn, ud);
}

int rk_store_result_put(rk_store_t *s, const rk_result_t *r)
{
    if (!s || !r || !r->job_id || !r->agent_id)
        return RK_EINVAL;
    return s->ops->result_put(s, r);
}

int rk_store_result_get(rk_store_t *s, const char *job_id, rk_result_t *out)
{
    if (!s || !job_id || !out)
        return RK_EINVAL;
    memset(out, 0, sizeof *out);
    return s->ops->result_get(s, job_id, out);
}

int rk_store_result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                         rk_result_t **out, size_t *n)
{
    if (!s || !page || !out || !n || page->limit < 1 || page->cursor < 0)
        return RK_EINVAL;
    *out = NULL;
    *n = 0;
    page->next_cursor = 0;
    page->total = 0;
    rk_result_filter_t all = {0};
    return s->ops->result_list(s, f ? f : &all, page, out, n);
}

int rk_store_result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                              char ***out, size_t *n)
{
    if (!s || !page || !out || !n || page->limit < 1 || page->cursor < 0)
        return RK_EINVAL;
    *out = NULL;
    *n = 0;
    page->next_cursor = 0;
    page->total = 0;
    rk_result_filter_t all = {0};
    return s->ops->result_list_text(s, f ? f : &all, page, out, n);
}

void rk_store_texts_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int rk_store_lease_acquire(rk_store_t *s, const char *agent_id, const char *owner, int64_t ttl_ms)
{
    if (!s || !agent_id || !owner || ttl_ms <= 0)
        return RK_EINVAL;
    if (!s->ops->lease_acquire)
        return 0;
    return s->ops->lease_acquire(s, agent_id, owner, ttl_ms);
}

int rk_store_lead(rk_store_t *s, int64_t grace_ms, void (*lost)(void *arg), void *arg)
{
    if (!s || !lost || grace_ms < 0)
        return RK_EINVAL;
    return s->ops->lead ? s->ops->lead(s, grace_ms, lost, arg) : 0;
}

int rk_store_job_purge_finished(rk_store_t *s, rk_job_purge_t *p)
{
    if (!s || !p || p->limit == 0 || p->after_seq < 0 || (p->n_keep && !p->keep))
        return RK_EINVAL;
    p->jobs = NULL;
    p->n_jobs = p->n_results = 0;
    p->more = false;
    if (!s->ops->job_purge_finished)
        return RK_EUNSUP;
    return s->ops->job_purge_finished(s, p);
}

int rk_store_doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                         const char *json)
{
    if (!s || !kind || !*kind || !id || !*id || !expect || !json)
        return RK_EINVAL;
    return s->ops->doc_replace ? s->ops->doc_replace(s, kind, id, expect, json) : RK_EUNSUP;
}

int rk_store_job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp)
{
    if (job_id)
        *job_id = NULL;
    if (fp)
        *fp = NULL;
    if (!s || !key || !*key || !job_id || !fp)
        return RK_EINVAL;
    return s->ops->job_find_key ? s->ops->job_find_key(s, key, job_id, fp) : RK_EUNSUP;
}

int rk_store_job_purge(rk_store_t *s, const char *job_id, bool *had_result)
{
    bool had = false;
    if (!s || !job_id || !*job_id)
        return RK_EINVAL;
    if (!s->ops->job_purge)
        return RK_EUNSUP;
    int rc = s->ops->job_purge(s, job_id, &had);
    if (had_result)
        *had_result = !rc && had;
    return rc;
}

void rk_store_job_purge_cleanup(rk_job_purge_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->jobs && i < p->n_jobs; i++) {
        free(p->jobs[i].job_id);
        free(p->jobs[i].agent_id);
    }
    free(p->jobs);
    p->jobs = NULL;
    p->n_jobs = p->n_results = 0;
}

bool rk_store_doc_of_job(const char *id, const char *job_id)
{
    size_t n = strlen(job_id);
    return strncmp(id, job_id, n) == 0 && (id[n] == '\0' || id[n] == '/');
}

void rk_store_agents_free(rk_registered_agent_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rk_registered_agent_cleanup(&v[i]);
    free(v);
}

void rk_store_experiments_free(rk_experiment_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rk_experiment_cleanup(&v[i]);
    free(v);
}

void rk_store_jobs_free(rk_job_info_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rk_job_info_cleanup(&v[i]);
    free(v);
}

void rk_store_results_free(rk_result_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        rk_result_cleanup(&v[i]);
    free(v);
}

long rk_store_tid(void)
{
    return (long)gettid();
}

static int dump(json_t *v, char **out)
{
    *out = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return *out ? 0 : RK_ENOMEM;
}

int rk_store_agent_to_text(const rk_registered_agent_t *a, char **out)
{
    return dump(rk_registered_agent_encode(a), out);
}

int rk_store_experiment_to_text(const rk_experiment_t *x, char **out)
{
    return dump(rk_experiment_encode(x), out);
}

int rk_store_result_to_text(const rk_result_t *r, char **out)
{
    return dump(rk_result_encode(r), out);
}

/* Parses text and runs the model's decoder; any failure is damage. */
#define FROM_TEXT(text, out, decode, what)                                                         \
    do {                                                                                           \
        json_error_t je;                                                                           \
        rk_verr_t e = {0};                                                                         \
        json_t *v = json_loads(text, 0, &je);                                                      \
        bool parsed = v != NULL;                                                                   \
        int rc = parsed ? decode(v, "", out, &e) : RK_EIO;                                         \
        json_decref(v);                                                                            \
        if (rc == RK_ENOMEM)                                                                       \
            return rc;                                                                             \
        if (rc) {                                                                                  \
            rk_log_error("stored " what " does not decode", "error", parsed ? e.msg : je.text);    \
            return RK_EIO;                                                                         \
        }                                                                                          \
        return 0;                                                                                  \
    } while (0)

int rk_store_agent_from_text(const char *text, rk_registered_agent_t *out)
{
    FROM_TEXT(text, out, rk_registered_agent_decode, "agent");
}

int rk_store_experiment_from_text(const char *text, rk_experiment_t *out)
{
    FROM_TEXT(text, out, rk_experiment_decode, "experiment");
}

int rk_store_result_from_text(const char *text, rk_result_t *out)
{
    FROM_TEXT(text, out, rk_result_decode, "result");
}

/* ---- documents ---- */

static bool doc_args_ok(const char *kind, const char *id)
{
    return kind && *kind && !strchr(kind, '\x1f') && (!id || (*id && !strchr(id, '\x1f')));
}

int rk_store_doc_put(rk_store_t *s, const char *kind, const char *id, const char *json)
{
    if (!s || !doc_args_ok(kind, id) || !id || !json)
        return RK_EINVAL;
    return s->ops->doc_put ? s->ops->doc_put(s, kind, id, json) : RK_EUNSUP;
}

int rk_store_doc_get(rk_store_t *s, const char *kind, const char *id, char **json)
{
    if (!s || !doc_args_ok(kind, id) || !id || !json)
        return RK_EINVAL;
    *json = NULL;
    return s->ops->doc_get ? s->ops->doc_get(s, kind, id, json) : RK_EUNSUP;
}

int rk_store_doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n)
{
    if (!s || !doc_args_ok(kind, NULL) || !ids || !jsons || !n)
        return RK_EINVAL;
    *ids = *jsons = NULL;
    *n = 0;
    return s->ops->doc_list ? s->ops->doc_list(s, kind, ids, jsons, n) : RK_EUNSUP;
}

int rk_store_doc_delete(rk_store_t *s, const char *kind, const char *id)
{
    if (!s || !doc_args_ok(kind, id) || !id)
        return RK_EINVAL;
    return s->ops->doc_delete ? s->ops->doc_delete(s, kind, id) : RK_EUNSUP;
}

void rk_store_docs_free(char **ids, char **jsons, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ids ? ids[i] : NULL);
        free(jsons ? jsons[i] : NULL);
    }
    free(ids);
    free(jsons);
}

int rk_store_job_set_progress(rk_store_t *s, const char *job_id, double progress)
{
    if (!s || !job_id || !(progress >= 0 && progress <= 1))
        return RK_EINVAL;
    return s->ops->job_set_progress ? s->ops->job_set_progress(s, job_id, progress) : 0;
}

int rk_store_job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority)
{
    if (!s || !job_id || (unsigned)priority >= RK_PRIORITY_COUNT)
        return RK_EINVAL;
    return s->ops->job_set_priority(s, job_id, priority);
}

int rk_store_job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra)
{
    if (!s || !job_id || (extra && !json_is_object(extra)))
        return RK_EINVAL;
    return s->ops->job_set_extra(s, job_id, extra);
}

int rk_store_job_place(rk_store_t *s, const char *job_id, const char *agent_id)
{
    if (!s || !job_id || (agent_id && !*agent_id))
        return RK_EINVAL;
    return s->ops->job_place(s, job_id, agent_id);
}
