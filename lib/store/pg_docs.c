/* The postgresql backend's documents (table docs: kind, id, body). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/pg_int.h"

int pg_doc_put(rk_store_t *base, const char *kind, const char *id, const char *json)
{
    pg_store_t *s = PG(base);
    const char *v[3] = {kind, id, json};
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    if (!rc)
        rc = pg_exec(c, PG_DOC_PUT, 3, v, NULL, "doc put");
    return pg_wend(s, rc, false);
}

int pg_doc_replace(rk_store_t *base, const char *kind, const char *id, const char *expect,
                   const char *json)
{
    pg_store_t *s = PG(base);
    const char *v[4] = {kind, id, expect, json};
    long changed = 0;
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    if (!rc && !(rc = pg_exec(c, PG_DOC_REPLACE, 4, v, &changed, "doc replace")) && changed == 0)
        rc = RK_ESTATE;
    return pg_wend(s, rc, false);
}

int pg_doc_delete(rk_store_t *base, const char *kind, const char *id)
{
    pg_store_t *s = PG(base);
    const char *v[2] = {kind, id};
    long changed = 0;
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    if (!rc && !(rc = pg_exec(c, PG_DOC_DELETE, 2, v, &changed, "doc delete")) && changed == 0)
        rc = RK_ENOENT;
    return pg_wend(s, rc, false);
}

int pg_doc_get(rk_store_t *base, const char *kind, const char *id, char **json)
{
    pg_store_t *s = PG(base);
    const char *v[2] = {kind, id};
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_DOC_GET, 2, v, &rc, "doc get");
    pg_rdone(s, c);
    if (r)
        rc = PQntuples(r) == 0 ? RK_ENOENT : (*json = pg_text(r, 0, 0)) ? 0 : RK_ENOMEM;
    PQclear(r);
    return rc;
}

int pg_doc_list(rk_store_t *base, const char *kind, char ***ids, char ***jsons, size_t *n)
{
    pg_store_t *s = PG(base);
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_DOC_LIST, 1, &kind, &rc, "doc list");
    pg_rdone(s, c);
    if (!r)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    *ids = calloc(rows + 1, sizeof **ids);
    *jsons = calloc(rows + 1, sizeof **jsons);
    if (!*ids || !*jsons)
        rc = RK_ENOMEM;
    for (size_t i = 0; !rc && i < rows; i++) {
        (*ids)[i] = pg_text(r, (int)i, 0);
        (*jsons)[i] = pg_text(r, (int)i, 1);
        (*n)++;
        if (!(*ids)[i] || !(*jsons)[i])
            rc = RK_ENOMEM;
    }
    PQclear(r);
    return rc;
}

int pg_job_set_progress(rk_store_t *base, const char *job_id, double progress)
{
    pg_store_t *s = PG(base);
    char p[32];
    snprintf(p, sizeof p, "%.17g", progress);
    const char *v[2] = {job_id, p};
    long changed = 0;
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    if (!rc && !(rc = pg_exec(c, PG_JOB_PROGRESS, 2, v, &changed, "job progress")) && changed == 0)
        rc = RK_ENOENT;
    return pg_wend(s, rc, false);
}

/* A one-row UPDATE of job_id with text $2; RK_ENOENT when no row changed. */
static int job_update(rk_store_t *base, pg_id_t id, const char *job_id, const char *text,
                      const char *what)
{
    pg_store_t *s = PG(base);
    const char *v[2] = {job_id, text};
    long changed = 0;
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    if (!rc && !(rc = pg_exec(c, id, 2, v, &changed, what)) && changed == 0)
        rc = RK_ENOENT;
    return pg_wend(s, rc, false);
}

int pg_job_set_priority(rk_store_t *base, const char *job_id, rk_job_priority_t priority)
{
    return job_update(base, PG_JOB_PRIORITY, job_id, rk_job_priority_name(priority),
                      "job priority");
}

int pg_job_place(rk_store_t *base, const char *job_id, const char *agent_id)
{
    return job_update(base, PG_JOB_PLACE, job_id, agent_id ? agent_id : "", "job place");
}

int pg_job_set_extra(rk_store_t *base, const char *job_id, const json_t *extra)
{
    char *text = NULL;
    if (extra && json_object_size(extra) &&
        !(text = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS)))
        return RK_ENOMEM;
    int rc = job_update(base, PG_JOB_EXTRA, job_id, text, "job extra");
    free(text);
    return rc;
}
