/* The sqlite backend's jobs and results (see sqlite_schema.c for the
 * tables and indexes, sqlite.c for connections and transactions).
 *
 * A listing's SQL depends on its filter's shape, so each shape (state mask,
 * agent or not, experiment or not) gets its own statement, prepared on
 * first use and kept per connection. Every shape has an index giving one
 * state's jobs of its key newest first (schema version 3); a listing over
 * several states (or all, when it filters by agent or experiment) merges
 * one range per state, so its first page costs about limit + 7 index
 * entries however rare or common the states are. A listing's total sums
 * the shape's counter rows (job_counts or job_pair_counts): exact, and at
 * most 7 rows read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/sqlite_int.h"

#define ALL_STATES ((1u << RK_JOB_STATE_COUNT) - 1)
#define UNFINISHED                                                                                 \
    ((1u << RK_JOB_QUEUED) | (1u << RK_JOB_ASSIGNED) | (1u << RK_JOB_RUNNING) |                    \
     (1u << RK_JOB_PAUSED))
#define JOB_COLS                                                                                   \
    "seq, job_id, experiment_id, agent_id, created_time, state, status_time, message, progress,"   \
    " priority, exclusive, selector, extra"

#define S(s) ((sq_store_t *)(s))

static unsigned norm_mask(unsigned mask)
{
    mask &= ALL_STATES;
    return mask == ALL_STATES ? 0 : mask;
}

static size_t state_list(unsigned mask, char *buf, size_t cap)
{
    size_t len = 0;
    for (int i = 0; i < RK_JOB_STATE_COUNT; i++)
        if (mask & (1u << i))
            len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", len ? "," : "",
                                    rk_job_state_names[i]);
    return len;
}

/* The start-up scan's FROM table and " AND <state condition>" for a
 * normalized mask into from and cond. alone: a set of unfinished states
 * reads only the partial index (the planner would otherwise prefer an IN
 * over (state, seq) plus a sort of every match). */
static void state_cond(unsigned mask, bool alone, char *from, size_t from_cap, char *cond,
                       size_t cap)
{
    char list[128];
    snprintf(from, from_cap, "jobs");
    cond[0] = '\0';
    if (!mask)
        return;
    state_list(mask, list, sizeof list);
    if ((mask & (mask - 1)) == 0) {
        snprintf(cond, cap, " AND state = %s", list);
    } else if (alone && (mask & ~UNFINISHED) == 0) {
        snprintf(from, from_cap, "jobs INDEXED BY jobs_unfinished");
        snprintf(cond, cap, " AND state IN ('queued','assigned','running','paused')%s%s%s",
                 mask == UNFINISHED ? "" : " AND +state IN (", mask == UNFINISHED ? "" : list,
                 mask == UNFINISHED ? "" : ")");
    } else {
        snprintf(cond, cap, " AND +state IN (%s)", list);
    }
}

static void bind_progress(sqlite3_stmt *st, int i, const rk_job_status_t *js)
{
    if (js->has_progress)
        sqlite3_bind_double(st, i, js->progress);
    else
        sqlite3_bind_null(st, i);
}

static int column_state(sqlite3_stmt *st, int i, rk_job_state_t *out)
{
    const char *name = (const char *)sqlite3_column_text(st, i);
    if (!name || rk_job_state_parse(name, out)) {
        rk_log_error("sqlite store: unknown job state stored", "state", name);
        return RK_EIO;
    }
    return 0;
}

/* Status from columns state, time, message, progress starting at i. */
static int column_status(sqlite3_stmt *st, int i, rk_job_status_t *out)
{
    int rc = column_state(st, i, &out->status);
    if (rc)
        return rc;
    out->timestamp = sqlite3_column_int64(st, i + 1);
    if (!(out->message = sq_text(st, i + 2)))
        return RK_ENOMEM;
    out->has_progress = sqlite3_column_type(st, i + 3) != SQLITE_NULL;
    out->progress = out->has_progress ? sqlite3_column_double(st, i + 3) : 0;
    return 0;
}

static int column_priority(sqlite3_stmt *st, int i, rk_job_priority_t *out)
{
    const char *name = (const char *)sqlite3_column_text(st, i);
    if (!name || rk_job_priority_parse(name, out)) {
        rk_log_error("sqlite store: unknown job priority stored", "priority", name);
        return RK_EIO;
    }
    return 0;
}

/* The JSON object of column i (selector labels, extra): NULL for SQL
 * NULL, else the object. */
static int column_object(sqlite3_stmt *st, int i, json_t **out)
{
    *out = NULL;
    const char *text = (const char *)sqlite3_column_text(st, i);
    if (!text)
        return 0;
    if (!(*out = json_loads(text, 0, NULL)) || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rk_log_error("sqlite store: bad job object stored", "column", sqlite3_column_name(st, i),
                     "text", text);
        return RK_EIO;
    }
    return 0;
}

/* A JobInfo (without history) from a row of JOB_COLS. */
static int column_job(sqlite3_stmt *st, rk_job_info_t *out)
{
    const char *agent = (const char *)sqlite3_column_text(st, 3);
    out->job_id = sq_text(st, 1);
    out->experiment_id = sq_text(st, 2);
    out->agent_id = agent && *agent ? sq_text(st, 3) : NULL;
    out->created_time = sqlite3_column_int64(st, 4);
    out->exclusive = sqlite3_column_int(st, 10) != 0;
    if (!out->job_id || !out->experiment_id || (agent && *agent && !out->agent_id))
        return RK_ENOMEM;
    int rc = column_priority(st, 9, &out->priority);
    if (!rc)
        rc = column_object(st, 11, &out->selector_labels);
    if (!rc)
        rc = column_object(st, 12, &out->extra);
    return rc ? rc : column_status(st, 5, &out->status);
}

static int hist_add(sq_conn_t *c, int64_t seq, const rk_job_status_t *js)
{
    sqlite3_stmt *st = sq_stmt(c, SQ_HIST_ADD);
    if (!st)
        return RK_EIO;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, rk_job_state_name(js->status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, js->timestamp);
    sqlite3_bind_text(st, 4, js->message ? js->message : "", -1, SQLITE_STATIC);
    bind_progress(st, 5, js);
    return sq_exec_stmt(c, st, "job history add");
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int sq_job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq)
{
    char *selector = NULL, *extra = NULL;
    if ((job->selector_labels &&
         !(selector = json_dumps(job->selector_labels, JSON_COMPACT | JSON_SORT_KEYS))) ||
        (job->extra && json_object_size(job->extra) &&
         !(extra = json_dumps(job->extra, JSON_COMPACT | JSON_SORT_KEYS)))) {
        free(selector);
        return RK_ENOMEM;
    }
    sq_conn_t *c;
    int rc = sq_wget(S(s), &c);
    if (rc || (rc = sq_op_begin(c)))
        goto out;
    sqlite3_stmt *st = sq_stmt(c, SQ_JOB_INSERT);
    const rk_job_status_t *js = &job->status;
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, job->job_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, job->experiment_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, job->agent_id ? job->agent_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, job->created_time);
        sqlite3_bind_text(st, 5, rk_job_state_name(js->status), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, js->timestamp);
        sqlite3_bind_text(st, 7, js->message ? js->message : "", -1, SQLITE_STATIC);
        bind_progress(st, 8, js);
        sqlite3_bind_text(st, 9, rk_job_priority_name(job->priority), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 10, job->exclusive);
        if (selector)
            sqlite3_bind_text(st, 11, selector, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 11);
        if (extra)
            sqlite3_bind_text(st, 12, extra, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 12);
        bind_text_or_null(st, 13, job->idem_key);
        bind_text_or_null(st, 14, job->idem_key ? job->idem_fp : NULL);
        rc = sq_exec_stmt(c, st, "job insert");
    }
    if (!rc) {
        *seq = sqlite3_last_insert_rowid(c->db);
        rc = hist_add(c, *seq, js);
    }
    rc = sq_op_end(c, rc);
out:
    sq_wdone(S(s));
    free(selector);
    free(extra);
    return rc;
}

int sq_job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *js)
{
    sq_conn_t *c;
    int rc = sq_wget(S(s), &c);
    if (rc || (rc = sq_op_begin(c)))
        goto out;
    sqlite3_stmt *st = sq_stmt(c, SQ_JOB_SET);
    int64_t seq = 0;
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, rk_job_state_name(js->status), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, js->timestamp);
        sqlite3_bind_text(st, 4, js->message ? js->message : "", -1, SQLITE_STATIC);
        bind_progress(st, 5, js);
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
            seq = sqlite3_column_int64(st, 0);
        rc = r != SQLITE_DONE ? sq_err(c, r, "job set status") : seq ? 0 : RK_ENOENT;
        sqlite3_reset(st);
    }
    if (!rc)
        rc = hist_add(c, seq, js);
    rc = sq_op_end(c, rc);
out:
    sq_wdone(S(s));
    return rc;
}

static int read_history(sq_conn_t *c, int64_t seq, rk_job_info_t *out)
{
    sqlite3_stmt *st = sq_stmt(c, SQ_HIST_GET);
    if (!st)
        return RK_EIO;
    sqlite3_bind_int64(st, 1, seq);
    int r, rc = 0;
    size_t cap = 0;
    out->has_history = true;
    while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n_history == cap) {
            size_t nc = cap ? cap * 2 : 8;
            rk_job_status_t *v = realloc(out->history, nc * sizeof *v);
            if (!v) {
                rc = RK_ENOMEM;
                break;
            }
            out->history = v;
            cap = nc;
        }
        rk_job_status_t *h = &out->history[out->n_history];
        memset(h, 0, sizeof *h);
        out->n_history++;
        rc = column_status(st, 0, h);
    }
    if (!rc && r != SQLITE_DONE)
        rc = sq_err(c, r, "job history");
    sqlite3_reset(st);
    return rc;
}

int sq_job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(c, SQ_JOB_GET);
    int64_t seq = 0;
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            seq = sqlite3_column_int64(st, 0);
            rc = column_job(st, out);
            if (!rc && sqlite3_column_type(st, 13) != SQLITE_NULL &&
                (!(out->idem_key = sq_text(st, 13)) || !(out->idem_fp = sq_text(st, 14))))
                rc = RK_ENOMEM;
        } else {
            rc = r == SQLITE_DONE ? RK_ENOENT : sq_err(c, r, "job get");
        }
        sqlite3_reset(st);
    }
    if (!rc && with_history)
        rc = read_history(c, seq, out);
    sq_rdone(S(s), c);
    return rc;
}

int sq_job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(c, SQ_JOB_FIND_KEY);
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = (*job_id = sq_text(st, 0)) && (*fp = sq_text(st, 1)) ? 0 : RK_ENOMEM;
        else
            rc = r == SQLITE_DONE ? RK_ENOENT : sq_err(c, r, "job find key");
        sqlite3_reset(st);
    }
    sq_rdone(S(s), c);
    if (rc) {
        free(*job_id);
        free(*fp);
        *job_id = *fp = NULL;
    }
    return rc;
}

/* Decodes the current row of a listing into out, a zeroed struct of the
 * listing's type. */
typedef int (*page_row_fn)(sqlite3_stmt *st, void *out);

static int job_row(sqlite3_stmt *st, void *out)
{
    return column_job(st, out);
}

static int result_row(sqlite3_stmt *st, void *out)
{
    return rk_store_result_from_text((const char *)sqlite3_column_text(st, 1), out);
}

/* Runs st, a page query that selects the row's seq first and takes the
 * cursor as ?1 and its row limit as ?4, decoding each row through row into
 * *out, a new array of elem-sized structs. One row past page->limit is
 * asked for: it only sets page->next_cursor. *n counts the structs, also
 * on failure (the last one possibly half filled): each needs cleanup. */
static int read_page(sq_conn_t *c, sqlite3_stmt *st, rk_page_t *page, size_t elem, page_row_fn row,
                     const char *what, void **out, size_t *n)
{
    char *v = NULL;
    size_t cap = 0;
    int rc = 0, r;
    sqlite3_bind_int64(st, 1, page->cursor ? page->cursor : INT64_MAX);
    sqlite3_bind_int64(st, 4, page->limit >= INT64_MAX ? INT64_MAX : (int64_t)page->limit + 1);
    int64_t last = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == page->limit) {
            page->next_cursor = last;
            break;
        }
        last = sqlite3_column_int64(st, 0);
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char *nv = realloc(v, nc * elem);
            if (!nv) {
                rc = RK_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        void *slot = v + *n * elem;
        memset(slot, 0, elem);
        (*n)++;
        if ((rc = row(st, slot)))
            break;
    }
    if (!rc && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = sq_err(c, r, what);
    sqlite3_reset(st);
    *out = v;
    return rc;
}

/* The index that gives one state's jobs of a filter's key newest first. */
static const char *list_index(const rk_job_filter_t *f)
{
    return f->agent_id && f->experiment_id ? "jobs_pair_state"
           : f->agent_id                   ? "jobs_agent_state"
           : f->experiment_id              ? "jobs_experiment_state"
                                           : "jobs_state";
}

/* The SQL of a filter shape's total: a sum of at most 7 counter rows. */
static void count_sql(const rk_job_filter_t *f, unsigned mask, char *text, size_t cap)
{
    size_t len;
    if (f->agent_id && f->experiment_id)
        len = (size_t)snprintf(text, cap,
                               "SELECT coalesce(sum(n), 0) FROM job_pair_counts"
                               " WHERE agent_id = ?2 AND experiment_id = ?3");
    else
        len = (size_t)snprintf(text, cap, "SELECT coalesce(sum(n), 0) FROM job_counts WHERE %s",
                               f->agent_id        ? "kind = 1 AND key = ?2"
                               : f->experiment_id ? "kind = 2 AND key = ?3"
                                                  : "kind = 0 AND key = ''");
    if (mask) {
        len += (size_t)snprintf(text + len, cap - len, " AND state IN (");
        len += state_list(mask, text + len, cap - len);
        snprintf(text + len, cap - len, ")");
    }
}

/* The SQL of a filter shape's page. Without any filter: the table in seq
 * order. Otherwise one arm per state of the mask (all seven when it is 0),
 * each a range of the shape's index read newest first, merged by SQLite's
 * MERGE (UNION ALL): a page reads about limit + arms index entries
 * whatever the states' sizes, and never sorts. */
static void page_sql(const rk_job_filter_t *f, unsigned mask, char *text, size_t cap)
{
    if (!mask && !f->agent_id && !f->experiment_id) {
        snprintf(text, cap,
                 "SELECT " JOB_COLS " FROM jobs WHERE seq < ?1"
                 " ORDER BY seq DESC LIMIT ?4");
        return;
    }
    size_t len = 0;
    const char *index = list_index(f);
    for (int i = 0; i < RK_JOB_STATE_COUNT; i++) {
        if (mask && !(mask & (1u << i)))
            continue;
        len += (size_t)snprintf(text + len, cap - len,
                                "%sSELECT " JOB_COLS " FROM jobs INDEXED BY %s"
                                " WHERE state = '%s' AND seq < ?1%s%s",
                                len ? " UNION ALL " : "", index, rk_job_state_names[i],
                                f->agent_id ? " AND agent_id = ?2" : "",
                                f->experiment_id ? " AND experiment_id = ?3" : "");
    }
    snprintf(text + len, cap - len, " ORDER BY 1 DESC LIMIT ?4");
}

void sq_job_list_sql(const rk_job_filter_t *f, bool count, char *text, size_t cap)
{
    unsigned mask = norm_mask(f->state_mask);
    if (count)
        count_sql(f, mask, text, cap);
    else
        page_sql(f, mask, text, cap);
}

static sqlite3_stmt *list_stmt(sq_conn_t *c, const rk_job_filter_t *f, bool count)
{
    unsigned mask = norm_mask(f->state_mask);
    size_t key = mask | (f->agent_id ? 1u << RK_JOB_STATE_COUNT : 0) |
                 (f->experiment_id ? 2u << RK_JOB_STATE_COUNT : 0);
    sqlite3_stmt **slot = count ? &c->job_count[key] : &c->job_page[key];
    char text[SQ_LIST_SQL_MAX];
    if (!*slot)
        sq_job_list_sql(f, count, text, sizeof text);
    sqlite3_stmt *st = sq_prepare(c, slot, text);
    if (st && f->agent_id)
        sqlite3_bind_text(st, 2, f->agent_id, -1, SQLITE_STATIC);
    if (st && f->experiment_id)
        sqlite3_bind_text(st, 3, f->experiment_id, -1, SQLITE_STATIC);
    return st;
}

int sq_job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                size_t *n)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    void *v = NULL;
    int r = SQLITE_ERROR;
    sqlite3_stmt *st = list_stmt(c, f, true);
    if (st && (r = sqlite3_step(st)) == SQLITE_ROW)
        page->total = (uint64_t)sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    if (r != SQLITE_ROW) {
        rc = st ? sq_err(c, r, "job count") : RK_EIO;
        goto out;
    }
    if (!(st = list_stmt(c, f, false))) {
        rc = RK_EIO;
        goto out;
    }
    rc = read_page(c, st, page, sizeof **out, job_row, "job list", &v, n);
out:
    sq_rdone(S(s), c);
    *out = v;
    return rc;
}

int sq_job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    char from[64], cond[256], text[512];
    state_cond(norm_mask(state_mask), true, from, sizeof from, cond, sizeof cond);
    snprintf(text, sizeof text,
             "SELECT job_id, experiment_id, agent_id, state, seq, priority, exclusive, selector,"
             " extra FROM %s WHERE 1%s ORDER BY seq",
             from, cond);
    sqlite3_stmt *st = NULL;
    int r = sqlite3_prepare_v2(c->db, text, -1, &st, NULL);
    while (st && (r = sqlite3_step(st)) == SQLITE_ROW) {
        const char *agent = (const char *)sqlite3_column_text(st, 2);
        json_t *sel = NULL, *extra = NULL;
        rk_job_brief_t b = {
            .job_id = (const char *)sqlite3_column_text(st, 0),
            .experiment_id = (const char *)sqlite3_column_text(st, 1),
            .agent_id = agent && *agent ? agent : NULL,
            .seq = sqlite3_column_int64(st, 4),
            .exclusive = sqlite3_column_int(st, 6) != 0,
        };
        if (!(rc = column_state(st, 3, &b.state)) && !(rc = column_priority(st, 5, &b.priority)) &&
            !(rc = column_object(st, 7, &sel)) && !(rc = column_object(st, 8, &extra))) {
            b.selector_labels = sel;
            b.extra = extra;
            rc = fn(ud, &b);
        }
        json_decref(sel);
        json_decref(extra);
        if (rc)
            break;
    }
    if (!rc && r != SQLITE_DONE)
        rc = sq_err(c, r, "job scan");
    sqlite3_finalize(st);
    sq_rdone(S(s), c);
    return rc;
}

int sq_result_put(rk_store_t *s, const rk_result_t *r)
{
    char *text;
    int rc = rk_store_result_to_text(r, &text);
    if (rc)
        return rc;
    sq_conn_t *c;
    rc = sq_wget(S(s), &c);
    sqlite3_stmt *st = rc ? NULL : sq_stmt(c, SQ_RESULT_PUT);
    rc = rc ? rc : RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, r->job_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->experiment_id ? r->experiment_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->agent_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
        if (!(rc = sq_exec_stmt(c, st, "result put")) && sqlite3_changes(c->db) == 0)
            rc = RK_ENOENT;
    }
    sq_wdone(S(s));
    free(text);
    return rc;
}

int sq_result_get(rk_store_t *s, const char *job_id, rk_result_t *out)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(c, SQ_RESULT_GET);
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = rk_store_result_from_text((const char *)sqlite3_column_text(st, 0), out);
        else
            rc = r == SQLITE_DONE ? RK_ENOENT : sq_err(c, r, "result get");
        sqlite3_reset(st);
    }
    sq_rdone(S(s), c);
    return rc;
}

void sq_result_list_sql(const rk_result_filter_t *f, char *text, size_t cap)
{
    /* Each shape names the index whose range is its rows newest first. */
    static const char *const from[4] = {"results", "results INDEXED BY results_experiment",
                                        "results INDEXED BY results_agent",
                                        "results INDEXED BY results_pair"};
    int shape = (f->experiment_id ? 1 : 0) | (f->agent_id ? 2 : 0);
    snprintf(text, cap,
             "SELECT job_seq, body FROM %s WHERE job_seq < ?1%s%s"
             " ORDER BY job_seq DESC LIMIT ?4",
             from[shape], f->experiment_id ? " AND experiment_id = ?2" : "",
             f->agent_id ? " AND agent_id = ?3" : "");
}

/* One page of results matching f, each row through row. */
static int result_page(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, size_t elem,
                       page_row_fn row, void **out, size_t *n)
{
    sq_conn_t *c;
    int rc = sq_rget(S(s), &c);
    if (rc)
        return rc;
    int shape = (f->experiment_id ? 1 : 0) | (f->agent_id ? 2 : 0);
    char text[SQ_LIST_SQL_MAX];
    if (!c->result_page[shape])
        sq_result_list_sql(f, text, sizeof text);
    sqlite3_stmt *st = sq_prepare(c, &c->result_page[shape], text);
    void *v = NULL;
    if (!st) {
        rc = RK_EIO;
        goto out;
    }
    if (f->experiment_id)
        sqlite3_bind_text(st, 2, f->experiment_id, -1, SQLITE_STATIC);
    if (f->agent_id)
        sqlite3_bind_text(st, 3, f->agent_id, -1, SQLITE_STATIC);
    rc = read_page(c, st, page, elem, row, "result list", &v, n);
out:
    sq_rdone(S(s), c);
    *out = v;
    return rc;
}

int sq_result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, rk_result_t **out,
                   size_t *n)
{
    void *v = NULL;
    int rc = result_page(s, f, page, sizeof **out, result_row, &v, n);
    *out = v;
    return rc;
}

static int result_text_row(sqlite3_stmt *st, void *out)
{
    const char *text = (const char *)sqlite3_column_text(st, 1);
    if (!text)
        return RK_EIO;
    return (*(char **)out = strdup(text)) ? 0 : RK_ENOMEM;
}

int sq_result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, char ***out,
                        size_t *n)
{
    void *v = NULL;
    int rc = result_page(s, f, page, sizeof **out, result_text_row, &v, n);
    *out = v;
    return rc;
}
