/* The postgresql backend's retention slots: job_purge_finished and
 * job_purge (store.h; statements PG_PURGE_* in pg_sql.c). A batch picks
 * its candidates on a read connection, then deletes them in one
 * transaction on the write connection, each delete checking again that
 * the job is still finished and old enough. History and results go with
 * the job (ON DELETE CASCADE), job_counts with its trigger; job_seq keeps
 * a deleted number from being reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/pg_int.h"

typedef struct cand {
    char *seq, *job_id, *agent_id;
} cand_t;

static void cands_free(cand_t *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].seq);
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

static int pick(pg_store_t *s, const rk_job_purge_t *p, cand_t **out, size_t *n)
{
    char after[24], before[24], limit[24];
    snprintf(after, sizeof after, "%lld", (long long)p->after_seq);
    snprintf(before, sizeof before, "%lld", (long long)p->before);
    snprintf(limit, sizeof limit, "%zu", p->limit);
    const char *vals[3] = {after, before, limit};
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    if (rc)
        return rc;
    PGresult *r = pg_run(c, PG_PURGE_PICK, 3, vals, &rc, "purge pick");
    pg_rdone(s, c);
    if (!r)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    cand_t *v = rows ? calloc(rows, sizeof *v) : NULL;
    if (rows && !v)
        rc = RK_ENOMEM;
    for (size_t i = 0; !rc && i < rows; i++) {
        const char *agent = PQgetvalue(r, (int)i, 2);
        v[i].seq = pg_text(r, (int)i, 0);
        v[i].job_id = pg_text(r, (int)i, 1);
        v[i].agent_id = *agent ? strdup(agent) : NULL;
        if (!v[i].seq || !v[i].job_id || (*agent && !v[i].agent_id))
            rc = RK_ENOMEM;
    }
    PQclear(r);
    if (rc) {
        cands_free(v, rows);
        return rc;
    }
    *out = v;
    *n = rows;
    return 0;
}

/* Deletes job seq when still finished before before. */
static int delete_job(pg_conn_t *c, const char *seq, const char *before, bool *gone, bool *had)
{
    const char *vals[2] = {seq, before};
    int rc = 0;
    PGresult *r = pg_run(c, PG_PURGE_JOB, 2, vals, &rc, "purge job");
    if (!r)
        return rc;
    *gone = pg_int(r, 0, 0) > 0;
    *had = PQgetvalue(r, 0, 2)[0] == 't';
    PQclear(r);
    return 0;
}

/* Appends id to a text[] literal in buf (quoted, escaped), keeping room
 * for the closing brace and NUL (delete_docs adds them). */
static int array_add(char **buf, size_t *len, size_t *cap, const char *id)
{
    size_t need = *len + 2 * strlen(id) + 8;
    if (need > *cap) {
        size_t nc = need * 2;
        char *b = realloc(*buf, nc);
        if (!b)
            return RK_ENOMEM;
        *buf = b;
        *cap = nc;
    }
    char *o = *buf + *len;
    *o++ = *len > 1 ? ',' : ' ';
    *o++ = '"';
    for (const char *q = id; *q; q++) {
        if (*q == '"' || *q == '\\')
            *o++ = '\\';
        *o++ = *q;
    }
    *o++ = '"';
    *o = '\0';
    *len = (size_t)(o - *buf);
    return 0;
}

static int delete_docs(pg_conn_t *c, char *ids, size_t len)
{
    ids[0] = '{';
    if (len == 1) /* nothing added */
        return 0;
    ids[len] = '}';
    ids[len + 1] = '\0';
    const char *vals[1] = {ids};
    return pg_exec(c, PG_PURGE_DOCS, 1, vals, NULL, "purge docs");
}

int pg_job_purge_finished(rk_store_t *base, rk_job_purge_t *p)
{
    pg_store_t *s = PG(base);
    cand_t *v = NULL;
    size_t n = 0;
    int rc = pick(s, p, &v, &n);
    if (rc || n == 0)
        return rc;
    p->more = n == p->limit;
    p->after_seq = strtoll(v[n - 1].seq, NULL, 10);
    char before[24];
    snprintf(before, sizeof before, "%lld", (long long)p->before);
    size_t len = 1, cap = 64;
    char *ids = malloc(cap);
    if (!(p->jobs = calloc(n, sizeof *p->jobs)) || !ids) {
        free(ids);
        cands_free(v, n);
        return RK_ENOMEM;
    }
    ids[0] = '{';
    pg_conn_t *c;
    rc = pg_wbegin(s, true, &c);
    for (size_t i = 0; !rc && i < n; i++) {
        bool gone = false, had = false;
        if (kept(p, v[i].job_id))
            continue;
        if ((rc = delete_job(c, v[i].seq, before, &gone, &had)) || !gone)
            continue;
        if ((rc = array_add(&ids, &len, &cap, v[i].job_id)))
            break;
        p->jobs[p->n_jobs].job_id = v[i].job_id;
        p->jobs[p->n_jobs].agent_id = v[i].agent_id;
        v[i].job_id = v[i].agent_id = NULL;
        p->n_jobs++;
        p->n_results += had;
    }
    if (!rc)
        rc = delete_docs(c, ids, len);
    rc = pg_wend(s, rc, true);
    free(ids);
    cands_free(v, n);
    if (rc) {
        rk_store_job_purge_cleanup(p);
        p->more = false;
    }
    return rc;
}

int pg_job_purge(rk_store_t *base, const char *job_id, bool *had_result)
{
    pg_store_t *s = PG(base);
    pg_conn_t *c;
    int rc = pg_wbegin(s, true, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_PURGE_ONE, 1, &job_id, &rc, "purge one");
    char *seq = NULL;
    if (r) {
        rk_job_state_t st = RK_JOB_QUEUED;
        if (PQntuples(r) == 0)
            rc = RK_ENOENT;
        else if (rk_job_state_parse(PQgetvalue(r, 0, 1), &st))
            rc = RK_EIO;
        else if (!rk_job_state_terminal(st))
            rc = RK_ESTATE;
        else if (!(seq = pg_text(r, 0, 0)))
            rc = RK_ENOMEM;
        PQclear(r);
    }
    bool gone = false;
    if (!rc && !(rc = delete_job(c, seq, "9223372036854775807", &gone, had_result)) && !gone)
        rc = RK_ESTATE;
    if (!rc) {
        size_t len = 1, cap = 64;
        char *ids = malloc(cap);
        rc = ids ? 0 : RK_ENOMEM;
        if (!rc)
            ids[0] = '{';
        if (!rc && !(rc = array_add(&ids, &len, &cap, job_id)))
            rc = delete_docs(c, ids, len);
        free(ids);
    }
    free(seq);
    return pg_wend(s, rc, true);
}
