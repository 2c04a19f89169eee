/* The sqlite backend's small in-place writes: documents (table docs: kind,
 * id, body) and a running job's progress. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/sqlite_int.h"

#define S(s) ((sq_store_t *)(s))

int sq_doc_put(rk_store_t *s, const char *kind, const char *id, const char *json)
{
    sq_conn_t *c;
    int rc = sq_wget(S(s), &c);
    sqlite3_stmt *st = rc ? NULL : sq_stmt(c, SQ_DOC_PUT);
    rc = rc ? rc : RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
        rc = sq_exec_stmt(c, st, "doc put");
    }
    sq_wdone(S(s));
    return rc;
}

int sq_doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                   const char *json)
{
    sq_conn_t *c;
    int rc = sq_wget(S(s), &c);
    sqlite3_stmt *st = rc ? NULL : sq_stmt(c, SQ_DOC_REPLACE);
    rc = rc ? rc : RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, expect, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, json, -1, SQLITE_STATIC);
        rc = sq_exec_stmt(c, st, "doc replace");
        if (!rc && sqlite3_changes(c->db) == 0)
            rc = RK_ESTATE;
    }
    sq_wdone(S(s));
    return rc;
}

int sq_doc_delete(rk_store_t *s, const char *kind, const char *id)
{
    sq_conn_t *c;
    int rc = sq_wget(S(s), &c);
    sqlite3_stmt *st = rc ? NULL : sq_stmt(c, SQ_DOC_DELETE);
    rc = rc ? rc : RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        rc = sq_exec_stmt(c, st, "doc delete");
        if (!rc && sqlite3_changes(c->db) == 0)
            rc = RK_ENOENT;
    }
    sq_wdone(S(s));
    return rc;
}

int sq_doc_get(rk_store_t *s, const char *kind, const char *id, char **json)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(c, SQ_DOC_GET);
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = (*json = sq_text(st, 0)) ? 0 : RK_ENOMEM;
        else
            rc = r == SQLITE_DONE ? RK_ENOENT : sq_err(c, r, "doc get");
        sqlite3_reset(st);
    }
    sq_rdone(S(s), c);
    return rc;
}

int sq_doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(c, SQ_DOC_LIST);
    size_t cap = 0;
    int r = SQLITE_ERROR;
    rc = 0;
    if (st)
        sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    while (st && !rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **a = realloc(*ids, nc * sizeof *a),
                 **b = a ? realloc(*jsons, nc * sizeof *b) : NULL;
            if (a)
                *ids = a;
            if (b)
                *jsons = b;
            if (!a || !b) {
                rc = RK_ENOMEM;
                break;
            }
            cap = nc;
        }
        (*ids)[*n] = sq_text(st, 0);
        (*jsons)[*n] = sq_text(st, 1);
        (*n)++;
        if (!(*ids)[*n - 1] || !(*jsons)[*n - 1])
            rc = RK_ENOMEM;
    }
    if (!rc && r != SQLITE_DONE)
        rc = st ? sq_err(c, r, "doc list") : RK_EIO;
    if (st)
        sqlite3_reset(st);
    sq_rdone(S(s), c);
    return rc;
}

int sq_job_set_progress(rk_store_t *s, const char *job_id, double progress)
{
    sq_conn_t *c;
    int rc = sq_wget(S(s), &c);
    sqlite3_stmt *st = rc ? NULL : sq_stmt(c, SQ_JOB_PROGRESS);
    rc = rc ? rc : RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, progress);
        rc = sq_exec_stmt(c, st, "job progress");
        if (!rc && sqlite3_changes(c->db) == 0)
            rc = RK_ENOENT;
    }
    sq_wdone(S(s));
    return rc;
}

/* A one-row UPDATE of job_id with text ?2; RK_ENOENT when no row changed. */
static int job_update(rk_store_t *s, sq_id_t id, const char *job_id, const char *text,
                      const char *what)
{
    sq_conn_t *c;
    int rc = sq_wget(S(s), &c);
    sqlite3_stmt *st = rc ? NULL : sq_stmt(c, id);
    rc = rc ? rc : RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        rc = sq_exec_stmt(c, st, what);
        if (!rc && sqlite3_changes(c->db) == 0)
            rc = RK_ENOENT;
    }
    sq_wdone(S(s));
    return rc;
}

int sq_job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority)
{
    return job_update(s, SQ_JOB_PRIORITY, job_id, rk_job_priority_name(priority), "job priority");
}

int sq_job_place(rk_store_t *s, const char *job_id, const char *agent_id)
{
    return job_update(s, SQ_JOB_PLACE, job_id, agent_id ? agent_id : "", "job place");
}

int sq_job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra)
{
    char *text = NULL;
    if (extra && json_object_size(extra) &&
        !(text = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS)))
        return RK_ENOMEM;
    int rc = job_update(s, SQ_JOB_EXTRA, job_id, text, "job extra");
    free(text);
    return rc;
}
