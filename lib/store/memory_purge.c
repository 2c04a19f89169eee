/* The memory backend's retention slots: job_purge_finished and job_purge
 * (store.h).
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/memory_int.h"

/* Takes j out of every index and the job table, and deletes the documents
 * keyed by it; the caller has reserved one undo entry for the job. */
static int purge_job(mem_t *m, mjob_t *j)
{
    /* Documents first (mem__put_text reserves its own undo room). The table is
     * sorted by "kind\x1fid", so the job's documents are not together:
     * one pass collects their keys. */
    int rc = 0;
    size_t n = 0;
    char **keys = m->docs.n ? calloc(m->docs.n, sizeof *keys) : NULL;
    if (m->docs.n && !keys)
        return RK_ENOMEM;
    for (size_t i = 0; i < m->docs.n; i++) {
        const char *id = strchr(m->docs.v[i].id, '\x1f');
        if (id && rk_store_doc_of_job(id + 1, j->job_id) && !(keys[n++] = strdup(m->docs.v[i].id)))
            rc = RK_ENOMEM;
    }
    for (size_t i = 0; !rc && i < n; i++)
        rc = mem__put_text(m, U_DOC, keys[i], NULL);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    if (rc)
        return rc;
    mem__job_index(j, mem__job_state(j), false);
    if (j->res)
        mem__res_index(j->res, j->seq, false);
    mem__job_unhash(m, j);
    m->jobs[j->seq - 1] = NULL;
    mem__undo_push(m, (undo_t){.kind = U_JOB_DELETE, .job = j});
    return 0;
}

static bool purge_kept(const rk_job_purge_t *p, const char *job_id)
{
    for (size_t i = 0; i < p->n_keep; i++)
        if (p->keep[i] && strcmp(p->keep[i], job_id) == 0)
            return true;
    return false;
}

int mem__job_purge_finished(rk_store_t *s, rk_job_purge_t *p)
{
    mem_t *m = M(s);
    int rc = 0;
    size_t examined = 0;
    if (!(p->jobs = calloc(p->limit, sizeof *p->jobs)))
        return RK_ENOMEM;
    mem__wlock(m);
    for (size_t i = (size_t)p->after_seq; !rc && i < m->n_jobs && examined < p->limit; i++) {
        mjob_t *j = m->jobs[i];
        if (!j || !rk_job_state_terminal(mem__job_state(j)) ||
            j->hist[j->n_hist - 1].timestamp >= p->before)
            continue;
        examined++;
        p->after_seq = j->seq;
        if (purge_kept(p, j->job_id))
            continue;
        rk_job_purged_t *out = &p->jobs[p->n_jobs];
        bool had = j->res != NULL;
        out->job_id = strdup(j->job_id);
        out->agent_id = j->agent_id[0] ? strdup(j->agent_id) : NULL;
        if (!out->job_id || (j->agent_id[0] && !out->agent_id)) {
            free(out->job_id);
            free(out->agent_id);
            out->job_id = out->agent_id = NULL;
            rc = RK_ENOMEM;
            break;
        }
        p->n_jobs++;
        if (!(rc = mem__reserve(m, 1)) && !(rc = purge_job(m, j)))
            p->n_results += had;
    }
    p->more = !rc && examined == p->limit;
    mem__unlock(m);
    if (rc)
        rk_store_job_purge_cleanup(p);
    return rc;
}

int mem__job_purge(rk_store_t *s, const char *job_id, bool *had_result)
{
    mem_t *m = M(s);
    int rc;
    mem__wlock(m);
    mjob_t *j = mem__job_find(m, job_id);
    if (!j)
        rc = RK_ENOENT;
    else if (!rk_job_state_terminal(mem__job_state(j)))
        rc = RK_ESTATE;
    else if (!(rc = mem__reserve(m, 1))) {
        *had_result = j->res != NULL;
        rc = purge_job(m, j);
    }
    mem__unlock(m);
    return rc;
}
