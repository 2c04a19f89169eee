/* The sqlite backend's retention slots: job_purge_finished and job_purge
 * (store.h). A batch picks its candidates on a read connection (so the
 * scan past recent or unfinished jobs never holds the write side), then
 * deletes them under one savepoint on the write connection, each delete
 * checking again that the job is still finished and old enough. History
 * and results go with the job (ON DELETE CASCADE), the counters with the
 * DELETE triggers (sqlite_schema.c); documents keyed by the job by ranges
 * of the docs key. The pick walks seq (the rowid) from the cursor: the
 * state index would yield every finished job and sort them all per batch
 * (+state keeps the planner off it). seq is AUTOINCREMENT, so numbers are never
 * reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/sqlite_int.h"

#define S(s) ((sq_store_t *)(s))
#define FINISHED "('completed','failed','timeout','cancelled')"

typedef struct cand {
    int64_t seq;
    char *job_id, *agent_id;
} cand_t;

static void cands_free(cand_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].job_id);
        free(v[i].agent_id);
    }
    free(v);
}

static bool kept(const rk_job_purge_t *p, const char *job_id)
{
    for (size_t i = 0; i < p->n_keep; i++)
        if (p->keep[i] && strcmp(p->keep[i], job_id) == 0)
            return true;
    return false;
}

/* The next at most p->limit candidates after p->after_seq. */
static int pick(sq_store_t *s, const rk_job_purge_t *p, cand_t **out, size_t *n)
{
    sq_conn_t *c;
    int rc = sq_rget(s, &c);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    cand_t *v = calloc(p->limit, sizeof *v);
    size_t k = 0;
    int r = sqlite3_prepare_v2(c->db,
                               "SELECT seq, job_id, agent_id FROM jobs WHERE seq > ?1"
                               " AND +state IN " FINISHED " AND status_time < ?2"
                               " ORDER BY seq LIMIT ?3",
                               -1, &st, NULL);
    if (!v)
        rc = RK_ENOMEM;
    else if (r != SQLITE_OK)
        rc = sq_err(c, r, "purge pick");
    if (!rc) {
        sqlite3_bind_int64(st, 1, p->after_seq);
        sqlite3_bind_int64(st, 2, p->before);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)p->limit);
        while (!rc && k < p->limit && (r = sqlite3_step(st)) == SQLITE_ROW) {
            const char *agent = (const char *)sqlite3_column_text(st, 2);
            v[k].seq = sqlite3_column_int64(st, 0);
            v[k].job_id = sq_text(st, 1);
            v[k].agent_id = agent && *agent ? strdup(agent) : NULL;
            k++;
            if (!v[k - 1].job_id || (agent && *agent && !v[k - 1].agent_id))
                rc = RK_ENOMEM;
        }
        if (!rc && r != SQLITE_ROW && r != SQLITE_DONE)
            rc = sq_err(c, r, "purge pick");
    }
    sqlite3_finalize(st);
    sq_rdone(s, c);
    if (rc) {
        cands_free(v, k);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* The two statements of a job's delete, prepared once per call. */
typedef struct del {
    sqlite3_stmt *has_result, *job;
} del_t;

static int del_prepare(sq_conn_t *c, del_t *d)
{
    int r = sqlite3_prepare_v2(c->db, "SELECT EXISTS(SELECT 1 FROM results WHERE job_seq = ?1)", -1,
                               &d->has_result, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_prepare_v2(
            c->db, "DELETE FROM jobs WHERE seq = ?1 AND state IN " FINISHED " AND status_time < ?2",
            -1, &d->job, NULL);
    return r == SQLITE_OK ? 0 : sq_err(c, r, "purge prepare");
}

static void del_finalize(del_t *d)
{
    sqlite3_finalize(d->has_result);
    sqlite3_finalize(d->job);
}

/* Deletes job seq when it is still finished with a status before before;
 * *gone says whether it was, *had_result whether it had a result. */
static int delete_job(sq_conn_t *c, del_t *d, int64_t seq, rk_time_t before, bool *gone,
                      bool *had_result)
{
    sqlite3_reset(d->has_result);
    sqlite3_bind_int64(d->has_result, 1, seq);
    int r = sqlite3_step(d->has_result);
    *had_result = r == SQLITE_ROW && sqlite3_column_int(d->has_result, 0);
    sqlite3_reset(d->has_result);
    if (r != SQLITE_ROW)
        return sq_err(c, r, "purge result check");
    sqlite3_reset(d->job);
    sqlite3_bind_int64(d->job, 1, seq);
    sqlite3_bind_int64(d->job, 2, before);
    int rc = sq_exec_stmt(c, d->job, "purge job");
    *gone = !rc && sqlite3_changes(c->db) > 0;
    return rc;
}

/* Deletes the documents of jobs ids[0..n): per kind (a skip-scan of the
 * primary key finds the few kinds) and job, one range of the (kind, id)
 * key ("<id>" up to "<id>0", '0' following '/'), so the cost does not grow
 * with the documents of other jobs (an OR of two ranges would scan the
 * kind). */
static int delete_docs(sq_conn_t *c, const rk_job_purged_t *jobs, size_t n)
{
    sqlite3_stmt *kinds = NULL, *del = NULL;
    int r = sqlite3_prepare_v2(
        c->db,
        "WITH RECURSIVE k(kind) AS (SELECT min(kind) FROM docs UNION ALL"
        " SELECT (SELECT min(kind) FROM docs WHERE kind > k.kind) FROM k WHERE k.kind IS NOT NULL)"
        " SELECT kind FROM k WHERE kind IS NOT NULL",
        -1, &kinds, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_prepare_v2(c->db,
                               "DELETE FROM docs WHERE kind = ?1 AND id >= ?2"
                               " AND id < ?2 || '0' AND (id = ?2"
                               " OR substr(id, length(?2) + 1, 1) = '/')",
                               -1, &del, NULL);
    int rc = r == SQLITE_OK ? 0 : sq_err(c, r, "purge docs");
    while (!rc && (r = sqlite3_step(kinds)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(kinds, 0);
        for (size_t i = 0; !rc && kind && i < n; i++) {
            sqlite3_reset(del);
            sqlite3_bind_text(del, 1, kind, -1, SQLITE_STATIC);
            sqlite3_bind_text(del, 2, jobs[i].job_id, -1, SQLITE_STATIC);
            rc = sq_exec_stmt(c, del, "purge docs");
        }
    }
    if (!rc && r != SQLITE_DONE)
        rc = sq_err(c, r, "purge docs");
    sqlite3_finalize(kinds);
    sqlite3_finalize(del);
    return rc;
}

int sq_job_purge_finished(rk_store_t *base, rk_job_purge_t *p)
{
    sq_store_t *s = S(base);
    cand_t *v = NULL;
    size_t n = 0;
    int rc = pick(s, p, &v, &n);
    if (rc)
        return rc;
    if (n == 0) {
        free(v); /* pick allocates its limit even when it finds nothing */
        return 0;
    }
    p->more = n == p->limit;
    p->after_seq = v[n - 1].seq;
    if (!(p->jobs = calloc(n, sizeof *p->jobs))) {
        cands_free(v, n);
        return RK_ENOMEM;
    }
    sq_conn_t *c;
    del_t d = {0};
    if ((rc = sq_wget(s, &c)) || (rc = sq_op_begin(c)))
        goto out;
    rc = del_prepare(c, &d);
    for (size_t i = 0; !rc && i < n; i++) {
        bool gone = false, had = false;
        if (kept(p, v[i].job_id))
            continue;
        if ((rc = delete_job(c, &d, v[i].seq, p->before, &gone, &had)) || !gone)
            continue;
        p->jobs[p->n_jobs].job_id = v[i].job_id;
        p->jobs[p->n_jobs].agent_id = v[i].agent_id;
        v[i].job_id = v[i].agent_id = NULL;
        p->n_jobs++;
        p->n_results += had;
    }
    if (!rc && p->n_jobs)
        rc = delete_docs(c, p->jobs, p->n_jobs);
    del_finalize(&d);
    rc = sq_op_end(c, rc);
out:
    sq_wdone(s);
    cands_free(v, n);
    if (rc) {
        rk_store_job_purge_cleanup(p);
        p->more = false;
    }
    return rc;
}

int sq_job_purge(rk_store_t *base, const char *job_id, bool *had_result)
{
    sq_store_t *s = S(base);
    sq_conn_t *c;
    sqlite3_stmt *st = NULL;
    int rc = sq_wget(s, &c);
    if (rc || (rc = sq_op_begin(c)))
        goto out;
    int r =
        sqlite3_prepare_v2(c->db, "SELECT seq, state FROM jobs WHERE job_id = ?1", -1, &st, NULL);
    int64_t seq = 0;
    rk_job_state_t state = RK_JOB_QUEUED;
    if (r != SQLITE_OK) {
        rc = sq_err(c, r, "purge one");
    } else {
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            seq = sqlite3_column_int64(st, 0);
            const char *name = (const char *)sqlite3_column_text(st, 1);
            if (!name || rk_job_state_parse(name, &state))
                rc = RK_EIO;
        } else {
            rc = r == SQLITE_DONE ? RK_ENOENT : sq_err(c, r, "purge one");
        }
    }
    sqlite3_finalize(st);
    if (!rc && !rk_job_state_terminal(state))
        rc = RK_ESTATE;
    bool gone = false;
    del_t d = {0};
    if (!rc && !(rc = del_prepare(c, &d)))
        rc = delete_job(c, &d, seq, INT64_MAX, &gone, had_result);
    del_finalize(&d);
    if (!rc && !gone)
        rc = RK_ESTATE;
    if (!rc) {
        rk_job_purged_t one = {.job_id = (char *)job_id};
        rc = delete_docs(c, &one, 1);
    }
    rc = sq_op_end(c, rc);
out:
    sq_wdone(s);
    return rc;
}
