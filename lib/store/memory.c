/* The memory backend's locks, open and close, transactions and their undo
 * log, agents and experiments, and the ops table (memory_int.h says which
 * file holds the rest).
 *
 * One rwlock guards everything. A transaction holds the write lock from
 * begin to commit, so other threads never see its uncommitted writes; the
 * owning thread (owner) skips the lock. Every write records how to undo
 * itself; outside a transaction the record is dropped at once, inside it is
 * kept until commit (dropped) or rollback (replayed backwards).
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/memory_int.h"

static bool mine(mem_t *m)
{
    return atomic_load(&m->owner) == rk_store_tid();
}

void mem__rlock(mem_t *m)
{
    if (!mine(m))
        pthread_rwlock_rdlock(&m->lock);
}

void mem__wlock(mem_t *m)
{
    if (!mine(m))
        pthread_rwlock_wrlock(&m->lock);
}

void mem__unlock(mem_t *m)
{
    if (!mine(m))
        pthread_rwlock_unlock(&m->lock);
}

int mem__grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, c * elem);
    if (!p)
        return RK_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

/* ---- agents and experiments: sorted arrays of (id, text) ---- */

static size_t table_find(const table_t *t, const char *id, bool *found)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->v[mid].id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Makes id's text `text` (taken), or removes id when text is NULL; the old
 * text goes to *old (NULL when absent). */
static int table_set(table_t *t, const char *id, char *text, char **old)
{
    bool found;
    size_t i = table_find(t, id, &found);
    *old = found ? t->v[i].text : NULL;
    if (found && text) {
        t->v[i].text = text;
    } else if (found) {
        free(t->v[i].id);
        memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof t->v[0]);
        t->n--;
    } else if (text) {
        char *key = strdup(id);
        if (!key || mem__grow((void **)&t->v, &t->cap, t->n + 1, sizeof t->v[0])) {
            free(key);
            return RK_ENOMEM;
        }
        memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof t->v[0]);
        t->v[i] = (entry_t){key, text};
        t->n++;
    }
    return 0;
}

const char *mem__table_get(const table_t *t, const char *id)
{
    bool found;
    size_t i = table_find(t, id, &found);
    return found ? t->v[i].text : NULL;
}

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].id);
        free(t->v[i].text);
    }
    free(t->v);
}

/* ---- undo log ---- */

static void undo_drop(undo_t *u)
{
    free(u->id);
    free(u->text);
    json_decref(u->extra);
    if (u->kind == U_JOB_DELETE)
        mem__job_free(u->job);
    if (u->kind == U_RESULT)
        mem__res_free(u->res);
}

static void undo_apply(mem_t *m, undo_t *u)
{
    char *old = NULL;
    switch (u->kind) {
    case U_AGENT:
    case U_EXP:
    case U_DOC:
        /* Only re-inserting a deleted entry allocates; if that fails the
         * entry stays deleted (nothing better can be done mid-rollback). */
        table_set(u->kind == U_AGENT ? &m->agents
                  : u->kind == U_EXP ? &m->experiments
                                     : &m->docs,
                  u->id, u->text, &old);
        free(old);
        u->text = NULL;
        break;
    case U_JOB_INSERT:
        mem__job_index(u->job, mem__job_state(u->job), false);
        mem__job_unhash(m, u->job);
        m->jobs[u->job->seq - 1] = NULL;
        m->n_jobs = (size_t)u->job->seq - 1;
        mem__job_free(u->job);
        break;
    case U_JOB_STATUS: {
        rk_job_state_t was = mem__job_state(u->job);
        rk_job_status_cleanup(&u->job->hist[--u->job->n_hist]);
        u->job->progress = u->progress;
        u->job->has_progress = u->had_progress;
        mem__job_restate(u->job, was, mem__job_state(u->job));
        break;
    }
    case U_JOB_DELETE:
        m->jobs[u->job->seq - 1] = u->job;
        mem__job_hash(m, u->job); /* the buckets already had room for it */
        mem__job_index(u->job, mem__job_state(u->job), true);
        if (u->job->res)
            mem__res_index(u->job->res, u->job->seq, true);
        u->job = NULL;
        break;
    case U_PRIORITY:
        u->job->priority = u->priority;
        break;
    case U_EXTRA:
        json_decref(u->job->extra);
        u->job->extra = u->extra;
        u->extra = NULL;
        break;
    case U_PLACE:
        /* The old agent's groups exist: groups live until close. */
        mem__job_index(u->job, mem__job_state(u->job), false);
        free(u->job->agent_id);
        u->job->agent_id = u->id;
        u->id = NULL;
        mem__groups_get(m, u->job->agent_id, u->job->experiment_id, u->job->grp);
        mem__job_index(u->job, mem__job_state(u->job), true);
        break;
    case U_PROGRESS:
        u->job->progress = u->progress;
        u->job->has_progress = u->had_progress;
        break;
    case U_RESULT:
        if (u->job->res)
            mem__res_index(u->job->res, u->job->seq, false);
        mem__res_free(u->job->res);
        u->job->res = u->res;
        if (u->res)
            mem__res_index(u->res, u->job->seq, true);
        u->res = NULL;
        break;
    }
    free(u->id);
    free(u->text);
}

/* Records how to undo a write that has just been applied. Outside a
 * transaction it is committed at once. Cannot fail: the log's room is
 * reserved (mem__reserve) before the write. */
void mem__undo_push(mem_t *m, undo_t u)
{
    if (mine(m))
        m->undo[m->n_undo++] = u;
    else
        undo_drop(&u);
}

int mem__reserve(mem_t *m, size_t k)
{
    return mine(m) ? mem__grow((void **)&m->undo, &m->cap_undo, m->n_undo + k, sizeof m->undo[0])
                   : 0;
}

/* ---- open, close, transactions ---- */

static int mem_open(const char *location, rk_store_t **out)
{
    mem_t *m = calloc(1, sizeof *m);
    if (!m)
        return RK_ENOMEM;
    m->base.ops = &rk_store_memory_ops;
    if (pthread_rwlock_init(&m->lock, NULL)) {
        free(m);
        return RK_ENOMEM;
    }
    *out = &m->base;
    return 0;
}

static void mem_close(rk_store_t *s)
{
    mem_t *m = M(s);
    for (size_t i = m->n_undo; i > 0; i--)
        undo_apply(m, &m->undo[i - 1]);
    free(m->undo);
    table_free(&m->agents);
    table_free(&m->experiments);
    table_free(&m->docs);
    for (size_t i = 0; i < m->n_jobs; i++)
        mem__job_free(m->jobs[i]);
    free(m->jobs);
    free(m->buckets);
    free(m->kbuckets);
    mem__groups_free(m);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static int mem_begin(rk_store_t *s)
{
    mem_t *m = M(s);
    if (mine(m))
        return RK_ESTATE;
    pthread_rwlock_wrlock(&m->lock);
    atomic_store(&m->owner, rk_store_tid());
    return 0;
}

static int tx_end(mem_t *m, bool keep)
{
    if (!mine(m))
        return RK_ESTATE;
    for (size_t i = m->n_undo; i > 0; i--) {
        if (keep)
            undo_drop(&m->undo[i - 1]);
        else
            undo_apply(m, &m->undo[i - 1]);
    }
    m->n_undo = 0;
    atomic_store(&m->owner, 0);
    pthread_rwlock_unlock(&m->lock);
    return 0;
}

static int mem_commit(rk_store_t *s)
{
    return tx_end(M(s), true);
}

static int mem_rollback(rk_store_t *s)
{
    return tx_end(M(s), false);
}

/* ---- agents and experiments ---- */

int mem__put_text(mem_t *m, int kind, const char *id, char *text)
{
    table_t *t = kind == U_AGENT ? &m->agents : kind == U_EXP ? &m->experiments : &m->docs;
    char *key = strdup(id), *old = NULL;
    int rc = key ? mem__reserve(m, 1) : RK_ENOMEM;
    if (!rc)
        rc = table_set(t, id, text, &old);
    if (rc) {
        free(key);
        free(text);
        return rc;
    }
    mem__undo_push(m, (undo_t){.kind = kind, .id = key, .text = old});
    return 0;
}

/* Agents and experiments are kept as their stored text; from decodes one
 * row into the caller's struct of the table's type. */
typedef int (*from_text_fn)(const char *text, void *out);

static int agent_from_text(const char *text, void *out)
{
    return rk_store_agent_from_text(text, out);
}

static int experiment_from_text(const char *text, void *out)
{
    return rk_store_experiment_from_text(text, out);
}

static int get_row(mem_t *m, const table_t *t, const char *id, from_text_fn from, void *out)
{
    mem__rlock(m);
    const char *text = mem__table_get(t, id);
    int rc = text ? from(text, out) : RK_ENOENT;
    mem__unlock(m);
    return rc;
}

/* Decodes every row of t into *out, a new array of elem-sized structs with
 * one zeroed spare; *n counts those decoded, also on failure. */
static int list_rows(mem_t *m, const table_t *t, size_t elem, from_text_fn from, void **out,
                     size_t *n)
{
    int rc = 0;
    mem__rlock(m);
    char *v = calloc(t->n + 1, elem);
    if (!v)
        rc = RK_ENOMEM;
    for (size_t i = 0; !rc && i < t->n; i++)
        if (!(rc = from(t->v[i].text, v + i * elem)))
            *n = i + 1;
    mem__unlock(m);
    *out = v;
    return rc;
}

static int mem_agent_put(rk_store_t *s, const rk_registered_agent_t *a)
{
    mem_t *m = M(s);
    char *text;
    int rc = rk_store_agent_to_text(a, &text);
    if (rc)
        return rc;
    mem__wlock(m);
    rc = mem__put_text(m, U_AGENT, a->info.agent_id, text);
    mem__unlock(m);
    return rc;
}

static int mem_agent_get(rk_store_t *s, const char *agent_id, rk_registered_agent_t *out)
{
    return get_row(M(s), &M(s)->agents, agent_id, agent_from_text, out);
}

static int mem_agent_list(rk_store_t *s, rk_registered_agent_t **out, size_t *n)
{
    void *v;
    int rc = list_rows(M(s), &M(s)->agents, sizeof **out, agent_from_text, &v, n);
    *out = v;
    return rc;
}

static int mem_agent_delete(rk_store_t *s, const char *agent_id)
{
    mem_t *m = M(s);
    mem__wlock(m);
    int rc = mem__table_get(&m->agents, agent_id) ? mem__put_text(m, U_AGENT, agent_id, NULL)
                                                  : RK_ENOENT;
    mem__unlock(m);
    return rc;
}

static int mem_experiment_insert(rk_store_t *s, const rk_experiment_t *x)
{
    mem_t *m = M(s);
    char *text;
    int rc = rk_store_experiment_to_text(x, &text);
    if (rc)
        return rc;
    mem__wlock(m);
    if (mem__table_get(&m->experiments, x->id)) {
        free(text);
        rc = RK_EEXIST;
    } else {
        rc = mem__put_text(m, U_EXP, x->id, text);
    }
    mem__unlock(m);
    return rc;
}

static int mem_experiment_get(rk_store_t *s, const char *id, rk_experiment_t *out)
{
    return get_row(M(s), &M(s)->experiments, id, experiment_from_text, out);
}

static int mem_experiment_list(rk_store_t *s, rk_experiment_t **out, size_t *n)
{
    void *v;
    int rc = list_rows(M(s), &M(s)->experiments, sizeof **out, experiment_from_text, &v, n);
    *out = v;
    return rc;
}

static int mem_experiment_delete(rk_store_t *s, const char *id, bool cascade)
{
    mem_t *m = M(s);
    int rc = 0;
    size_t n_refs = 0, n = 0;
    mjob_t **v = NULL;
    mem__wlock(m);
    if (!mem__table_get(&m->experiments, id)) {
        rc = RK_ENOENT;
        goto out;
    }
    /* The experiment's group counts its jobs by state. */
    group_t *g = mem__group_find(m, NULL, id);
    for (int st = 0; g && st < RK_JOB_STATE_COUNT; st++) {
        n_refs += g->n_jobs[st];
        if (g->n_jobs[st] && (!cascade || !rk_job_state_terminal((rk_job_state_t)st))) {
            rc = RK_ESTATE;
            goto out;
        }
    }
    if (n_refs && !(v = malloc(n_refs * sizeof *v))) {
        rc = RK_ENOMEM;
        goto out;
    }
    if ((rc = mem__reserve(m, n_refs + 1)))
        goto out;
    for (int st = 0; g && st < RK_JOB_STATE_COUNT; st++)
        mem__tree_jobs(g->jobs[st], G_EXP, v, &n);
    for (size_t i = 0; i < n; i++) {
        mjob_t *j = v[i];
        mem__job_index(j, mem__job_state(j), false);
        if (j->res)
            mem__res_index(j->res, j->seq, false);
        mem__job_unhash(m, j);
        m->jobs[j->seq - 1] = NULL;
        mem__undo_push(m, (undo_t){.kind = U_JOB_DELETE, .job = j});
    }
    rc = mem__put_text(m, U_EXP, id, NULL);
out:
    mem__unlock(m);
    free(v);
    return rc;
}

const rk_store_ops_t rk_store_memory_ops = {
    .version = RK_STORE_OPS_VERSION,
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .begin = mem_begin,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .agent_put = mem_agent_put,
    .agent_get = mem_agent_get,
    .agent_list = mem_agent_list,
    .agent_delete = mem_agent_delete,
    .experiment_insert = mem_experiment_insert,
    .experiment_get = mem_experiment_get,
    .experiment_list = mem_experiment_list,
    .experiment_delete = mem_experiment_delete,
    .job_insert = mem__job_insert,
    .job_set_status = mem__job_set_status,
    .job_get = mem__job_get,
    .job_list = mem__job_list,
    .job_scan = mem__job_scan,
    .result_put = mem__result_put,
    .result_get = mem__result_get,
    .result_list = mem__result_list,
    .result_list_text = mem__result_list_text,
    .job_set_progress = mem__job_set_progress,
    .job_set_priority = mem__job_set_priority,
    .job_place = mem__job_place,
    .job_set_extra = mem__job_set_extra,
    .doc_put = mem__doc_put,
    .doc_get = mem__doc_get,
    .doc_list = mem__doc_list,
    .doc_delete = mem__doc_delete,
    .doc_replace = mem__doc_replace,
    .lease_acquire = NULL,
    .job_find_key = mem__job_find_key,
    .job_purge_finished = mem__job_purge_finished,
    .job_purge = mem__job_purge,
};
