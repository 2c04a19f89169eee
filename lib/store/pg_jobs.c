/* The postgresql backend's jobs and results (tables in pg_schema.c,
 * statements in pg_sql.c). Listings are newest first by seq with the
 * sqlite backend's cursor rules: the cursor is exclusive, next_cursor is
 * the last row's seq when more follow, 0 otherwise; a job listing's total
 * sums job_counts rows, exact and cheap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/pg_int.h"

#define ALL_STATES ((1u << RK_JOB_STATE_COUNT) - 1)

/* The states of mask (0 = all) as a PostgreSQL text array literal. */
static void state_array(unsigned mask, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "{");
    mask &= ALL_STATES;
    for (int i = 0; i < RK_JOB_STATE_COUNT; i++)
        if (!mask || (mask & (1u << i)))
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len > 1 ? "," : "",
                                    rk_job_state_names[i]);
    snprintf(buf + len, cap - len, "}");
}

static int field_state(const PGresult *r, int row, int col, rk_job_state_t *out)
{
    const char *name = PQgetvalue(r, row, col);
    if (rk_job_state_parse(name, out)) {
        rk_log_error("postgresql store: unknown job state stored", "state", name);
        return RK_EIO;
    }
    return 0;
}

/* Status from fields state, time, message, progress starting at col. */
static int field_status(const PGresult *r, int row, int col, rk_job_status_t *out)
{
    int rc = field_state(r, row, col, &out->status);
    if (rc)
        return rc;
    out->timestamp = pg_int(r, row, col + 1);
    if (!(out->message = pg_text(r, row, col + 2)))
        return RK_ENOMEM;
    out->has_progress = !PQgetisnull(r, row, col + 3);
    out->progress = out->has_progress ? strtod(PQgetvalue(r, row, col + 3), NULL) : 0;
    return 0;
}

static int field_priority(const PGresult *r, int row, int col, rk_job_priority_t *out)
{
    const char *name = PQgetvalue(r, row, col);
    if (rk_job_priority_parse(name, out)) {
        rk_log_error("postgresql store: unknown job priority stored", "priority", name);
        return RK_EIO;
    }
    return 0;
}

/* The JSON object of field col (selector labels, extra): NULL for SQL
 * NULL, else the object. */
static int field_object(const PGresult *r, int row, int col, json_t **out)
{
    *out = NULL;
    if (PQgetisnull(r, row, col))
        return 0;
    const char *text = PQgetvalue(r, row, col);
    if (!(*out = json_loads(text, 0, NULL)) || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rk_log_error("postgresql store: bad job object stored", "column", PQfname(r, col), "text",
                     text);
        return RK_EIO;
    }
    return 0;
}

/* A JobInfo (without history) from a row of JOB_COLS. */
static int field_job(const PGresult *r, int row, rk_job_info_t *out)
{
    const char *agent = PQgetvalue(r, row, 3);
    out->job_id = pg_text(r, row, 1);
    out->experiment_id = pg_text(r, row, 2);
    out->agent_id = *agent ? pg_text(r, row, 3) : NULL;
    out->created_time = pg_int(r, row, 4);
    out->exclusive = PQgetvalue(r, row, 10)[0] == 't';
    if (!out->job_id || !out->experiment_id || (*agent && !out->agent_id))
        return RK_ENOMEM;
    int rc = field_priority(r, row, 9, &out->priority);
    if (!rc)
        rc = field_object(r, row, 11, &out->selector_labels);
    if (!rc)
        rc = field_object(r, row, 12, &out->extra);
    return rc ? rc : field_status(r, row, 5, &out->status);
}

/* A status's text parameters: state, time, message, progress. */
typedef struct status_vals {
    char time[24], progress[32];
} status_vals_t;

static void status_params(const rk_job_status_t *js, status_vals_t *b, const char **v)
{
    snprintf(b->time, sizeof b->time, "%lld", (long long)js->timestamp);
    snprintf(b->progress, sizeof b->progress, "%.17g", js->progress);
    v[0] = rk_job_state_name(js->status);
    v[1] = b->time;
    v[2] = js->message ? js->message : "";
    v[3] = js->has_progress ? b->progress : NULL;
}

int pg_job_insert(rk_store_t *base, const rk_job_info_t *job, int64_t *seq)
{
    pg_store_t *s = PG(base);
    char created[24];
    status_vals_t b;
    char *selector = NULL, *extra = NULL;
    if ((job->selector_labels &&
         !(selector = json_dumps(job->selector_labels, JSON_COMPACT | JSON_SORT_KEYS))) ||
        (job->extra && json_object_size(job->extra) &&
         !(extra = json_dumps(job->extra, JSON_COMPACT | JSON_SORT_KEYS)))) {
        free(selector);
        return RK_ENOMEM;
    }
    const char *v[14] = {job->job_id, job->experiment_id, job->agent_id ? job->agent_id : "",
                         created};
    snprintf(created, sizeof created, "%lld", (long long)job->created_time);
    status_params(&job->status, &b, v + 4);
    v[8] = rk_job_priority_name(job->priority);
    v[9] = job->exclusive ? "true" : "false";
    v[10] = selector;
    v[11] = extra;
    v[12] = job->idem_key;
    v[13] = job->idem_key ? job->idem_fp : NULL;
    /* Outside a transaction: one of its own, for the number lock. */
    pg_conn_t *c;
    int rc = pg_wbegin(s, true, &c);
    if (!rc && !(pg_mine(s) && s->seq_locked) &&
        !(rc = pg_exec(c, PG_SEQ_LOCK, 0, NULL, NULL, "job number lock")) && pg_mine(s))
        s->seq_locked = true;
    PGresult *r = rc ? NULL : pg_run(c, PG_JOB_INSERT, 14, v, &rc, "job insert");
    if (r) {
        if (PQntuples(r))
            *seq = pg_int(r, 0, 0);
        else
            rc = RK_EEXIST;
        PQclear(r);
    }
    free(selector);
    free(extra);
    return pg_wend(s, rc, true);
}

int pg_job_set_status(rk_store_t *base, const char *job_id, const rk_job_status_t *js)
{
    pg_store_t *s = PG(base);
    status_vals_t b;
    const char *v[5] = {job_id};
    status_params(js, &b, v + 1);
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_JOB_SET, 5, v, &rc, "job set status");
    if (r) {
        rc = PQntuples(r) ? 0 : RK_ENOENT;
        PQclear(r);
    }
    return pg_wend(s, rc, false);
}

static int read_history(pg_conn_t *c, const char *seq, rk_job_info_t *out)
{
    int rc;
    PGresult *r = pg_run(c, PG_HIST_GET, 1, &seq, &rc, "job history");
    if (!r)
        return rc;
    int rows = PQntuples(r);
    out->has_history = true;
    out->history = calloc((size_t)rows + 1, sizeof *out->history);
    if (!out->history)
        rc = RK_ENOMEM;
    for (int i = 0; !rc && i < rows; i++) {
        out->n_history++;
        rc = field_status(r, i, 0, &out->history[i]);
    }
    PQclear(r);
    return rc;
}

int pg_job_get(rk_store_t *base, const char *job_id, bool with_history, rk_job_info_t *out)
{
    pg_store_t *s = PG(base);
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_JOB_GET, 1, &job_id, &rc, "job get");
    if (r) {
        rc = PQntuples(r) ? field_job(r, 0, out) : RK_ENOENT;
        /* After JOB_COLS' 13 columns: the idempotency key and fingerprint. */
        if (!rc && !PQgetisnull(r, 0, 13) &&
            (!(out->idem_key = pg_text(r, 0, 13)) || !(out->idem_fp = pg_text(r, 0, 14))))
            rc = RK_ENOMEM;
        if (!rc && with_history)
            rc = read_history(c, PQgetvalue(r, 0, 0), out);
        PQclear(r);
    }
    pg_rdone(s, c);
    return rc;
}

int pg_job_find_key(rk_store_t *base, const char *key, char **job_id, char **fp)
{
    pg_store_t *s = PG(base);
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_JOB_FIND_KEY, 1, &key, &rc, "job find key");
    if (r) {
        if (!PQntuples(r))
            rc = RK_ENOENT;
        else if (!(*job_id = pg_text(r, 0, 0)) || !(*fp = pg_text(r, 0, 1)))
            rc = RK_ENOMEM;
        PQclear(r);
    }
    pg_rdone(s, c);
    if (rc) {
        free(*job_id);
        free(*fp);
        *job_id = *fp = NULL;
    }
    return rc;
}

/* Decodes row i of a listing into out, a zeroed struct of its type. */
typedef int (*page_row_fn)(const PGresult *r, int row, void *out);

static int job_row(const PGresult *r, int row, void *out)
{
    return field_job(r, row, out);
}

static int result_row(const PGresult *r, int row, void *out)
{
    return rk_store_result_from_text(PQgetvalue(r, row, 1), out);
}

/* Runs page statement id (params: vals[0..n-1], then cursor and limit + 1)
 * and decodes its rows (seq first) into *out, a new array of elem-sized
 * structs. *n counts the structs, also on failure: each needs cleanup. */
static int read_page(pg_conn_t *c, pg_id_t id, const char **vals, int n_vals, rk_page_t *page,
                     size_t elem, page_row_fn row, const char *what, void **out, size_t *n)
{
    char cursor[24], limit[24];
    snprintf(cursor, sizeof cursor, "%lld", (long long)(page->cursor ? page->cursor : INT64_MAX));
    snprintf(limit, sizeof limit, "%llu",
             (unsigned long long)(page->limit >= INT64_MAX ? INT64_MAX : page->limit + 1));
    vals[n_vals] = cursor;
    vals[n_vals + 1] = limit;
    int rc;
    PGresult *r = pg_run(c, id, n_vals + 2, vals, &rc, what);
    if (!r)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    size_t keep = rows > page->limit ? page->limit : rows;
    char *v = calloc(keep + 1, elem);
    if (!v)
        rc = RK_ENOMEM;
    for (size_t i = 0; !rc && i < keep; i++) {
        (*n)++;
        rc = row(r, (int)i, v + i * elem);
    }
    if (!rc && rows > keep)
        page->next_cursor = pg_int(r, (int)keep - 1, 0);
    PQclear(r);
    *out = v;
    return rc;
}

int pg_job_list(rk_store_t *base, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                size_t *n)
{
    pg_store_t *s = PG(base);
    int shape = (f->agent_id ? 1 : 0) | (f->experiment_id ? 2 : 0);
    char states[128];
    state_array(f->state_mask, states, sizeof states);
    const char *vals[5] = {states};
    int nv = 1;
    if (f->agent_id)
        vals[nv++] = f->agent_id;
    if (f->experiment_id)
        vals[nv++] = f->experiment_id;
    void *v = NULL;
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    /* The total and the page from one snapshot (a transaction on the
     * read connection: both statements see the same commits). */
    bool snap = !rc && !pg_mine(s);
    if (snap)
        rc = pg_exec(c, PG_BEGIN, 0, NULL, NULL, "begin");
    PGresult *r =
        rc ? NULL : pg_run(c, (pg_id_t)(PG_JOB_COUNT + shape), nv, vals, &rc, "job count");
    if (r) {
        page->total = (uint64_t)pg_int(r, 0, 0);
        PQclear(r);
        rc = read_page(c, (pg_id_t)(PG_JOB_PAGE + shape), vals, nv, page, sizeof **out, job_row,
                       "job list", &v, n);
    }
    if (snap && PQstatus(c->conn) == CONNECTION_OK)
        pg_exec(c, PG_COMMIT, 0, NULL, NULL, "end of listing");
    pg_rdone(s, c);
    *out = v;
    return rc;
}

/* Rows a scan holds in memory at a time (a million unfinished jobs are
 * not one result). */
#define PG_SCAN_CHUNK 10000

int pg_job_scan(rk_store_t *base, unsigned state_mask, rk_job_scan_fn fn, void *ud)
{
    pg_store_t *s = PG(base);
    char states[128], after[24] = "0", limit[24];
    state_array(state_mask, states, sizeof states);
    snprintf(limit, sizeof limit, "%d", PG_SCAN_CHUNK);
    const char *vals[3] = {states, after, limit};
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    /* One snapshot for every chunk, unless the caller's transaction is
     * the snapshot. The callback may call the store: its reads take other
     * connections, and no result is being streamed meanwhile. */
    bool snap = !rc && !pg_mine(s);
    if (snap)
        rc = pg_exec(c, PG_SCAN_BEGIN, 0, NULL, NULL, "scan begin");
    int rows = PG_SCAN_CHUNK;
    while (!rc && rows == PG_SCAN_CHUNK) {
        PGresult *r = pg_run(c, PG_JOB_SCAN, 3, vals, &rc, "job scan");
        rows = r ? PQntuples(r) : 0;
        for (int i = 0; !rc && i < rows; i++) {
            const char *agent = PQgetvalue(r, i, 2);
            json_t *sel = NULL, *extra = NULL;
            rk_job_brief_t b = {
                .job_id = PQgetvalue(r, i, 0),
                .experiment_id = PQgetvalue(r, i, 1),
                .agent_id = *agent ? agent : NULL,
                .seq = pg_int(r, i, 4),
                .exclusive = PQgetvalue(r, i, 6)[0] == 't',
            };
            snprintf(after, sizeof after, "%lld", (long long)b.seq);
            if (!(rc = field_state(r, i, 3, &b.state)) &&
                !(rc = field_priority(r, i, 5, &b.priority)) &&
                !(rc = field_object(r, i, 7, &sel)) && !(rc = field_object(r, i, 8, &extra))) {
                b.selector_labels = sel;
                b.extra = extra;
                rc = fn(ud, &b);
            }
            json_decref(sel);
            json_decref(extra);
        }
        PQclear(r);
    }
    if (snap && PQstatus(c->conn) == CONNECTION_OK)
        pg_exec(c, PG_COMMIT, 0, NULL, NULL, "scan end");
    pg_rdone(s, c);
    return rc;
}

int pg_result_put(rk_store_t *base, const rk_result_t *res)
{
    pg_store_t *s = PG(base);
    char *text;
    int rc = rk_store_result_to_text(res, &text);
    if (rc)
        return rc;
    const char *v[4] = {res->job_id, res->experiment_id ? res->experiment_id : "", res->agent_id,
                        text};
    long changed = 0;
    pg_conn_t *c;
    rc = pg_wbegin(s, false, &c);
    if (!rc && !(rc = pg_exec(c, PG_RESULT_PUT, 4, v, &changed, "result put")) && changed == 0)
        rc = RK_ENOENT;
    rc = pg_wend(s, rc, false);
    free(text);
    return rc;
}

int pg_result_get(rk_store_t *base, const char *job_id, rk_result_t *out)
{
    pg_store_t *s = PG(base);
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_RESULT_GET, 1, &job_id, &rc, "result get");
    pg_rdone(s, c);
    if (r)
        rc = PQntuples(r) ? rk_store_result_from_text(PQgetvalue(r, 0, 0), out) : RK_ENOENT;
    PQclear(r);
    return rc;
}

/* One page of results matching f, each row through row. */
static int result_page(rk_store_t *base, const rk_result_filter_t *f, rk_page_t *page, size_t elem,
                       page_row_fn row, void **out, size_t *n)
{
    pg_store_t *s = PG(base);
    int shape = (f->agent_id ? 1 : 0) | (f->experiment_id ? 2 : 0);
    const char *vals[4];
    int nv = 0;
    if (f->agent_id)
        vals[nv++] = f->agent_id;
    if (f->experiment_id)
        vals[nv++] = f->experiment_id;
    void *v = NULL;
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    if (!rc)
        rc = read_page(c, (pg_id_t)(PG_RESULT_PAGE + shape), vals, nv, page, elem, row,
                       "result list", &v, n);
    pg_rdone(s, c);
    *out = v;
    return rc;
}

int pg_result_list(rk_store_t *base, const rk_result_filter_t *f, rk_page_t *page,
                   rk_result_t **out, size_t *n)
{
    void *v = NULL;
    int rc = result_page(base, f, page, sizeof **out, result_row, &v, n);
    *out = v;
    return rc;
}

static int result_text_row(const PGresult *r, int row, void *out)
{
    return (*(char **)out = strdup(PQgetvalue(r, row, 1))) ? 0 : RK_ENOMEM;
}

int pg_result_list_text(rk_store_t *base, const rk_result_filter_t *f, rk_page_t *page, char ***out,
                        size_t *n)
{
    void *v = NULL;
    int rc = result_page(base, f, page, sizeof **out, result_text_row, &v, n);
    *out = v;
    return rc;
}
