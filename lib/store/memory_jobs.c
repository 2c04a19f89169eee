/* The memory backend's jobs (insert, status, progress, priority, extra,
 * place, get, list, scan) and results.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/memory_int.h"

void mem__res_free(mres_t *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->experiment_id);
    free(r->agent_id);
    free(r);
}

void mem__job_free(mjob_t *j)
{
    if (!j)
        return;
    free(j->job_id);
    free(j->experiment_id);
    free(j->agent_id);
    json_decref(j->selector);
    json_decref(j->extra);
    free(j->idem_key);
    free(j->idem_fp);
    for (size_t i = 0; i < j->n_hist; i++)
        rk_job_status_cleanup(&j->hist[i]);
    free(j->hist);
    mem__res_free(j->res);
    free(j);
}

/* Appends a copy of st (without its job_id) to j's history. */
static int hist_add(mjob_t *j, const rk_job_status_t *st)
{
    if (mem__grow((void **)&j->hist, &j->cap_hist, j->n_hist + 1, sizeof j->hist[0]))
        return RK_ENOMEM;
    rk_job_status_t *d = &j->hist[j->n_hist];
    if (rk_job_status_copy(st, d))
        return RK_ENOMEM;
    free(d->job_id);
    d->job_id = NULL;
    j->n_hist++;
    j->progress = st->progress;
    j->has_progress = st->has_progress;
    return 0;
}

/* ---- jobs ---- */

int mem__job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq)
{
    mem_t *m = M(s);
    int rc;
    mjob_t *j = calloc(1, sizeof *j);
    if (!j)
        return RK_ENOMEM;
    j->job_id = strdup(job->job_id);
    j->experiment_id = strdup(job->experiment_id);
    j->agent_id = strdup(job->agent_id ? job->agent_id : "");
    j->created = job->created_time;
    j->priority = job->priority;
    j->exclusive = job->exclusive;
    if ((job->selector_labels && !(j->selector = json_deep_copy(job->selector_labels))) ||
        (job->extra && json_object_size(job->extra) && !(j->extra = json_deep_copy(job->extra)))) {
        mem__job_free(j);
        return RK_ENOMEM;
    }
    if (job->idem_key &&
        (!(j->idem_key = strdup(job->idem_key)) || !(j->idem_fp = strdup(job->idem_fp)))) {
        mem__job_free(j);
        return RK_ENOMEM;
    }
    if (!j->job_id || !j->experiment_id || !j->agent_id || hist_add(j, &job->status)) {
        mem__job_free(j);
        return RK_ENOMEM;
    }
    mem__wlock(m);
    if (mem__job_find(m, job->job_id) || (j->idem_key && mem__key_find(m, j->idem_key))) {
        rc = RK_EEXIST;
    } else if (!(rc = mem__reserve(m, 1)) &&
               !(rc = mem__grow((void **)&m->jobs, &m->cap_jobs, m->n_jobs + 1,
                                sizeof m->jobs[0])) &&
               !(rc = mem__groups_get(m, j->agent_id, j->experiment_id, j->grp)) &&
               !(rc = mem__job_hash(m, j))) {
        j->seq = (int64_t)++m->n_jobs;
        m->jobs[j->seq - 1] = j;
        mem__job_index(j, mem__job_state(j), true);
        *seq = j->seq;
        mem__undo_push(m, (undo_t){.kind = U_JOB_INSERT, .job = j});
        j = NULL;
    }
    mem__unlock(m);
    mem__job_free(j);
    return rc;
}

int mem__job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *st)
{
    mem_t *m = M(s);
    int rc;
    mem__wlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    rk_job_state_t was = j ? mem__job_state(j) : RK_JOB_QUEUED;
    double old_progress = j ? j->progress : 0;
    bool old_had = j && j->has_progress;
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = mem__reserve(m, 1)) && !(rc = hist_add(j, st))) {
        mem__job_restate(j, was, st->status);
        mem__undo_push(m, (undo_t){.kind = U_JOB_STATUS,
                                   .job = j,
                                   .progress = old_progress,
                                   .had_progress = old_had});
    }
    mem__unlock(m);
    return rc;
}

int mem__job_set_progress(rk_store_t *s, const char *job_id, double progress)
{
    mem_t *m = M(s);
    int rc;
    mem__wlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = mem__reserve(m, 1))) {
        mem__undo_push(m, (undo_t){.kind = U_PROGRESS,
                                   .job = j,
                                   .progress = j->progress,
                                   .had_progress = j->has_progress});
        j->progress = progress;
        j->has_progress = true;
    }
    mem__unlock(m);
    return rc;
}

int mem__job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority)
{
    mem_t *m = M(s);
    int rc;
    mem__wlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = mem__reserve(m, 1))) {
        mem__undo_push(m, (undo_t){.kind = U_PRIORITY, .job = j, .priority = j->priority});
        j->priority = priority;
    }
    mem__unlock(m);
    return rc;
}

int mem__job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra)
{
    mem_t *m = M(s);
    json_t *copy = NULL;
    if (extra && json_object_size(extra) && !(copy = json_deep_copy(extra)))
        return RK_ENOMEM;
    int rc;
    mem__wlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = mem__reserve(m, 1))) {
        mem__undo_push(m, (undo_t){.kind = U_EXTRA, .job = j, .extra = j->extra});
        j->extra = copy;
        copy = NULL;
    }
    mem__unlock(m);
    json_decref(copy);
    return rc;
}

int mem__job_place(rk_store_t *s, const char *job_id, const char *agent_id)
{
    mem_t *m = M(s);
    int rc;
    char *to = strdup(agent_id ? agent_id : "");
    if (!to)
        return RK_ENOMEM;
    mem__wlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    group_t *g[G_KINDS];
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = mem__reserve(m, 1)) && !(rc = mem__groups_get(m, to, j->experiment_id, g))) {
        rk_job_state_t st = mem__job_state(j);
        mem__job_index(j, st, false);
        mem__undo_push(m, (undo_t){.kind = U_PLACE, .job = j, .id = j->agent_id});
        j->agent_id = to;
        to = NULL;
        memcpy(j->grp, g, sizeof g);
        mem__job_index(j, st, true);
    }
    mem__unlock(m);
    free(to);
    return rc;
}

static int job_copy_out(const mjob_t *j, bool with_history, rk_job_info_t *out)
{
    out->job_id = strdup(j->job_id);
    out->experiment_id = strdup(j->experiment_id);
    out->agent_id = *j->agent_id ? strdup(j->agent_id) : NULL;
    out->created_time = j->created;
    out->priority = j->priority;
    out->exclusive = j->exclusive;
    if ((j->selector && !(out->selector_labels = json_deep_copy(j->selector))) ||
        (j->extra && !(out->extra = json_deep_copy(j->extra))))
        return RK_ENOMEM;
    if (!out->job_id || !out->experiment_id || (*j->agent_id && !out->agent_id) ||
        rk_job_status_copy(&j->hist[j->n_hist - 1], &out->status))
        return RK_ENOMEM;
    if (j->idem_key &&
        (!(out->idem_key = strdup(j->idem_key)) || !(out->idem_fp = strdup(j->idem_fp))))
        return RK_ENOMEM;
    out->status.progress = j->progress;
    out->status.has_progress = j->has_progress;
    if (with_history) {
        out->has_history = true;
        out->history = calloc(j->n_hist, sizeof *out->history);
        if (!out->history)
            return RK_ENOMEM;
        for (size_t i = 0; i < j->n_hist; i++) {
            if (rk_job_status_copy(&j->hist[i], &out->history[i]))
                return RK_ENOMEM;
            out->n_history = i + 1;
        }
    }
    return 0;
}

int mem__job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp)
{
    mem_t *m = M(s);
    mem__rlock(m);
    const mjob_t *j = mem__key_find(m, key);
    int rc = RK_ENOENT;
    if (j)
        rc = (*job_id = strdup(j->job_id)) && (*fp = strdup(j->idem_fp)) ? 0 : RK_ENOMEM;
    mem__unlock(m);
    if (rc) {
        free(*job_id);
        *job_id = NULL;
    }
    return rc;
}

int mem__job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out)
{
    mem_t *m = M(s);
    mem__rlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    int rc = j ? job_copy_out(j, with_history, out) : RK_ENOENT;
    mem__unlock(m);
    return rc;
}

int mem__job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                  size_t *n)
{
    mem_t *m = M(s);
    int rc = 0;
    mem__rlock(m);
    const group_t *g = mem__group_find(m, f->agent_id, f->experiment_id);
    unsigned mask = f->state_mask & ((1u << RK_JOB_STATE_COUNT) - 1);
    mask = mask ? mask : (1u << RK_JOB_STATE_COUNT) - 1;
    /* Each state's newest job below the cursor; the page takes the newest
     * of those, then that state's next. */
    const tnode_t *at[RK_JOB_STATE_COUNT] = {0};
    int64_t c = page->cursor ? page->cursor : INT64_MAX;
    for (int st = 0; g && st < RK_JOB_STATE_COUNT; st++)
        if (mask & (1u << st)) {
            page->total += g->n_jobs[st];
            at[st] = mem__tpred(g->jobs[st], c);
        }
    size_t cap = page->limit < page->total ? page->limit : page->total;
    rk_job_info_t *v = calloc(cap + 1, sizeof *v);
    if (!v) {
        rc = RK_ENOMEM;
        goto out;
    }
    int64_t last = 0;
    for (;;) {
        int best = -1;
        for (int st = 0; st < RK_JOB_STATE_COUNT; st++)
            if (at[st] && (best < 0 || at[st]->seq > at[best]->seq))
                best = st;
        if (best < 0)
            break;
        if (*n == page->limit) {
            page->next_cursor = last;
            break;
        }
        if ((rc = job_copy_out(mem__node_job(at[best], g->kind), false, &v[(*n)++])))
            goto out;
        last = at[best]->seq;
        at[best] = mem__tpred(g->jobs[best], last);
    }
out:
    mem__unlock(m);
    *out = v;
    return rc;
}

int mem__job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud)
{
    mem_t *m = M(s);
    int rc = 0;
    mem__rlock(m);
    for (size_t i = 0; !rc && i < m->n_jobs; i++) {
        const mjob_t *j = m->jobs[i];
        if (!j)
            continue;
        rk_job_state_t st = j->hist[j->n_hist - 1].status;
        if (state_mask && !(state_mask & (1u << st)))
            continue;
        rk_job_brief_t b = {j->job_id,    j->experiment_id, *j->agent_id ? j->agent_id : NULL,
                            st,           j->seq,           j->priority,
                            j->exclusive, j->selector,      j->extra};
        rc = fn(ud, &b);
    }
    mem__unlock(m);
    return rc;
}

/* ---- results ---- */

int mem__result_put(rk_store_t *s, const rk_result_t *r)
{
    mem_t *m = M(s);
    mres_t *res = calloc(1, sizeof *res);
    int rc = res ? rk_store_result_to_text(r, &res->text) : RK_ENOMEM;
    if (!rc) {
        res->agent_id = strdup(r->agent_id);
        res->experiment_id = strdup(r->experiment_id ? r->experiment_id : "");
        if (!res->agent_id || !res->experiment_id)
            rc = RK_ENOMEM;
    }
    if (rc) {
        mem__res_free(res);
        return rc;
    }
    mem__wlock(m);
    mjob_t *j = mem__job_find(m, r->job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = mem__reserve(m, 1)) &&
               !(rc = mem__groups_get(m, res->agent_id, res->experiment_id, res->grp))) {
        /* Out of the index before the undo log takes it: outside a
         * transaction the log frees it at once. */
        if (j->res)
            mem__res_index(j->res, j->seq, false);
        mem__undo_push(m, (undo_t){.kind = U_RESULT, .job = j, .res = j->res});
        j->res = res;
        mem__res_index(res, j->seq, true);
        res = NULL;
    }
    mem__unlock(m);
    mem__res_free(res);
    return rc;
}

int mem__result_get(rk_store_t *s, const char *job_id, rk_result_t *out)
{
    mem_t *m = M(s);
    mem__rlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    int rc = j && j->res ? rk_store_result_from_text(j->res->text, out) : RK_ENOENT;
    mem__unlock(m);
    return rc;
}

/* One page of g's results from page->cursor, newest first: row(text,
 * slot) fills each elem-sized slot of a new array. */
static int mem_result_page(mem_t *m, const rk_result_filter_t *f, rk_page_t *page, size_t elem,
                           int (*row)(const char *text, void *slot), void **out, size_t *n)
{
    int rc = 0;
    mem__rlock(m);
    const group_t *g = mem__group_find(m, f->agent_id, f->experiment_id);
    const tnode_t *at = g ? mem__tpred(g->results, page->cursor ? page->cursor : INT64_MAX) : NULL;
    size_t cap = at ? page->limit : 0;
    char *v = calloc(cap + 1, elem);
    if (!v) {
        rc = RK_ENOMEM;
        goto out;
    }
    int64_t last = 0;
    for (; at; at = mem__tpred(g->results, last)) {
        if (*n == page->limit) {
            page->next_cursor = last;
            break;
        }
        if ((rc = row(mem__node_res(at, g->kind)->text, v + *n * elem)))
            goto out;
        (*n)++;
        last = at->seq;
    }
out:
    mem__unlock(m);
    *out = v;
    return rc;
}

static int decoded_row(const char *text, void *slot)
{
    return rk_store_result_from_text(text, slot);
}

static int text_row(const char *text, void *slot)
{
    return (*(char **)slot = strdup(text)) ? 0 : RK_ENOMEM;
}

int mem__result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, rk_result_t **out,
                     size_t *n)
{
    void *v = NULL;
    int rc = mem_result_page(M(s), f, page, sizeof **out, decoded_row, &v, n);
    *out = v;
    return rc;
}

int mem__result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, char ***out,
                          size_t *n)
{
    void *v = NULL;
    int rc = mem_result_page(M(s), f, page, sizeof **out, text_row, &v, n);
    *out = v;
    return rc;
}
