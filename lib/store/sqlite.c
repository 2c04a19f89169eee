/* The "sqlite" backend: one file, WAL journal.
 *
 * Location: a file path, optionally followed by "?synchronous=normal" (the
 * default: survives a process kill; a power loss may lose the last commits)
 * or "?synchronous=full" (survives power loss, one fsync per commit).
 *
 * Threads: one write connection, taken under wmu for each write, or held
 * from begin to commit by the thread that began (owner). Reads use a small
 * pool of read connections, so in WAL they run beside the writer and see
 * the last commit; the owner of an open transaction reads through the write
 * connection and so sees its own writes. Each connection prepares its hot
 * statements once and keeps them. WAL checkpoints run on a thread of their
 * own (sqlite_ckpt.c), never inside a commit.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/sqlite_int.h"

#define BUSY_TIMEOUT_MS 5000

static const char *const sql[SQ_COUNT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_SAVEPOINT] = "SAVEPOINT op",
    [SQ_RELEASE] = "RELEASE op",
    [SQ_ROLLBACK_TO] = "ROLLBACK TO op",
    [SQ_AGENT_PUT] = "INSERT INTO agents(agent_id, body) VALUES(?1, ?2)"
                     " ON CONFLICT(agent_id) DO UPDATE SET body = excluded.body",
    [SQ_AGENT_GET] = "SELECT body FROM agents WHERE agent_id = ?1",
    [SQ_AGENT_LIST] = "SELECT body FROM agents ORDER BY agent_id",
    [SQ_AGENT_DELETE] = "DELETE FROM agents WHERE agent_id = ?1",
    [SQ_EXP_INSERT] = "INSERT INTO experiments(id, body) VALUES(?1, ?2)",
    [SQ_EXP_GET] = "SELECT body FROM experiments WHERE id = ?1",
    [SQ_EXP_LIST] = "SELECT body FROM experiments ORDER BY id",
    [SQ_EXP_DELETE] = "DELETE FROM experiments WHERE id = ?1",
    [SQ_EXP_REFS] = "SELECT EXISTS(SELECT 1 FROM experiments WHERE id = ?1),"
                    " EXISTS(SELECT 1 FROM jobs WHERE experiment_id = ?1),"
                    " EXISTS(SELECT 1 FROM jobs WHERE experiment_id = ?1"
                    " AND state IN ('queued','assigned','running','paused'))",
    [SQ_EXP_DELETE_JOBS] = "DELETE FROM jobs WHERE experiment_id = ?1",
    [SQ_JOB_INSERT] = "INSERT INTO jobs(job_id, experiment_id, agent_id, created_time, state,"
                      " status_time, message, progress, priority, exclusive, selector, extra,"
                      " idem_key, idem_fp)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [SQ_JOB_SET] = "UPDATE jobs SET state = ?2, status_time = ?3, message = ?4, progress = ?5"
                   " WHERE job_id = ?1 RETURNING seq",
    [SQ_JOB_GET] = "SELECT seq, job_id, experiment_id, agent_id, created_time, state,"
                   " status_time, message, progress, priority, exclusive, selector, extra,"
                   " idem_key, idem_fp FROM jobs WHERE job_id = ?1",
    [SQ_HIST_ADD] = "INSERT INTO job_history(job_seq, idx, state, time, message, progress)"
                    " SELECT ?1, coalesce(max(idx) + 1, 0), ?2, ?3, ?4, ?5"
                    " FROM job_history WHERE job_seq = ?1",
    [SQ_HIST_GET] = "SELECT state, time, message, progress FROM job_history"
                    " WHERE job_seq = ?1 ORDER BY idx",
    [SQ_RESULT_PUT] = "INSERT INTO results(job_seq, job_id, experiment_id, agent_id, body)"
                      " SELECT seq, job_id, ?2, ?3, ?4 FROM jobs WHERE job_id = ?1"
                      " ON CONFLICT(job_seq) DO UPDATE SET experiment_id = excluded.experiment_id,"
                      " agent_id = excluded.agent_id, body = excluded.body",
    [SQ_RESULT_GET] = "SELECT body FROM results WHERE job_id = ?1",
    [SQ_JOB_PROGRESS] = "UPDATE jobs SET progress = ?2 WHERE job_id = ?1",
    [SQ_DOC_PUT] = "INSERT INTO docs(kind, id, body) VALUES(?1, ?2, ?3)"
                   " ON CONFLICT(kind, id) DO UPDATE SET body = excluded.body",
    [SQ_DOC_GET] = "SELECT body FROM docs WHERE kind = ?1 AND id = ?2",
    [SQ_DOC_LIST] = "SELECT id, body FROM docs WHERE kind = ?1 ORDER BY id",
    [SQ_DOC_DELETE] = "DELETE FROM docs WHERE kind = ?1 AND id = ?2",
    [SQ_JOB_PRIORITY] = "UPDATE jobs SET priority = ?2 WHERE job_id = ?1",
    [SQ_JOB_PLACE] = "UPDATE jobs SET agent_id = ?2 WHERE job_id = ?1",
    [SQ_JOB_EXTRA] = "UPDATE jobs SET extra = ?2 WHERE job_id = ?1",
    [SQ_DOC_REPLACE] = "UPDATE docs SET body = ?4 WHERE kind = ?1 AND id = ?2 AND body = ?3",
    [SQ_JOB_FIND_KEY] = "SELECT job_id, idem_fp FROM jobs WHERE idem_key = ?1",
};

#define S(s) ((sq_store_t *)(s))

/* ---- helpers shared with sqlite_jobs.c ---- */

int sq_err(sq_conn_t *c, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        return RK_EEXIST;
    case SQLITE_NOMEM:
        return RK_ENOMEM;
    default:
        rk_log_error("sqlite store failed", "op", what, "error", sqlite3_errmsg(c->db));
        return RK_EIO;
    }
}

sqlite3_stmt *sq_prepare(sq_conn_t *c, sqlite3_stmt **slot, const char *text)
{
    if (*slot) {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
        return *slot;
    }
    if (sqlite3_prepare_v3(c->db, text, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        rk_log_error("sqlite store cannot prepare", "sql", text, "error", sqlite3_errmsg(c->db));
        *slot = NULL;
    }
    return *slot;
}

sqlite3_stmt *sq_stmt(sq_conn_t *c, sq_id_t id)
{
    return sq_prepare(c, &c->st[id], sql[id]);
}

int sq_exec_stmt(sq_conn_t *c, sqlite3_stmt *st, const char *what)
{
    if (!st)
        return RK_EIO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    int err = rc == SQLITE_DONE ? 0 : sq_err(c, rc, what);
    sqlite3_reset(st);
    return err;
}

int sq_op_begin(sq_conn_t *c)
{
    return sq_exec_stmt(c, sq_stmt(c, SQ_SAVEPOINT), "savepoint");
}

int sq_op_end(sq_conn_t *c, int rc)
{
    if (rc)
        sq_exec_stmt(c, sq_stmt(c, SQ_ROLLBACK_TO), "rollback to savepoint");
    int rc2 = sq_exec_stmt(c, sq_stmt(c, SQ_RELEASE), "release savepoint");
    return rc ? rc : rc2;
}

char *sq_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

/* ---- connections ---- */

static void conn_close(sq_conn_t *c)
{
    if (!c)
        return;
    sqlite3_stmt *st;
    while ((st = sqlite3_next_stmt(c->db, NULL)))
        sqlite3_finalize(st);
    sqlite3_close(c->db);
    free(c);
}

/* Runs a pragma; when want is set, its answer must be want. */
static int pragma(sqlite3 *db, const char *text, const char *want)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, text, -1, &st, NULL);
    bool ok = rc == SQLITE_OK;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *got = (const char *)sqlite3_column_text(st, 0);
        ok = !want || (got && strcmp(got, want) == 0);
    }
    sqlite3_finalize(st);
    return ok && rc == SQLITE_DONE ? 0 : -1;
}

static int conn_open(const char *path, bool writer, bool sync_full, sq_conn_t **out)
{
    const char *step = "open";
    sq_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return RK_ENOMEM;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    if (writer) {
        step = "journal_mode=WAL";
        if (pragma(c->db, "PRAGMA journal_mode=WAL", "wal"))
            goto fail;
        step = "synchronous";
        if (pragma(c->db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                   NULL))
            goto fail;
        step = "foreign_keys";
        if (pragma(c->db, "PRAGMA foreign_keys=ON", NULL))
            goto fail;
    } else {
        step = "query_only";
        if (pragma(c->db, "PRAGMA query_only=1", NULL))
            goto fail;
    }
    *out = c;
    return 0;
fail:
    rk_log_error("cannot open sqlite store", "path", path, "step", step, "error",
                 c->db ? sqlite3_errmsg(c->db) : "out of memory");
    conn_close(c);
    return RK_EIO;
}

static bool mine(sq_store_t *s)
{
    return atomic_load(&s->owner) == rk_store_tid();
}

/* A thread's open transaction that SQLite rolled back by itself, after a
 * write failed on an I/O error, a full disk or no memory (SQLite's
 * "Response To Errors Within A Transaction"): the connection is back in
 * autocommit mode while its owner still believes it is in a transaction. */
static bool tx_lost(sq_store_t *s)
{
    return mine(s) && sqlite3_get_autocommit(s->w->db);
}

int sq_wget(sq_store_t *s, sq_conn_t **c)
{
    if (!mine(s))
        pthread_mutex_lock(&s->wmu);
    *c = s->w;
    if (tx_lost(s)) {
        /* Run now, the write would commit on its own, outside the
         * transaction its caller counts on being all or nothing. */
        rk_log_error("sqlite store: write refused: its transaction was rolled back after an "
                     "earlier failure; roll back or commit (which fails) first");
        return RK_EIO;
    }
    return 0;
}

void sq_wdone(sq_store_t *s)
{
    if (!mine(s))
        pthread_mutex_unlock(&s->wmu);
}

int sq_rget(sq_store_t *s, sq_conn_t **c)
{
    if (mine(s)) {
        *c = s->w;
        return 0;
    }
    pthread_mutex_lock(&s->pool_mu);
    while (!s->idle && s->n_readers >= SQ_READERS)
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    sq_conn_t *got = s->idle;
    if (got)
        s->idle = got->next;
    else
        s->n_readers++; /* room reserved; opened below, outside the lock */
    pthread_mutex_unlock(&s->pool_mu);
    if (got) {
        *c = got;
        return 0;
    }
    int rc = conn_open(s->path, false, false, c);
    if (rc) {
        pthread_mutex_lock(&s->pool_mu);
        s->n_readers--;
        pthread_cond_signal(&s->pool_cv);
        pthread_mutex_unlock(&s->pool_mu);
    }
    return rc;
}

void sq_rdone(sq_store_t *s, sq_conn_t *c)
{
    if (c == s->w)
        return;
    pthread_mutex_lock(&s->pool_mu);
    c->next = s->idle;
    s->idle = c;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

/* ---- open, close, transactions ---- */

/* Splits location into its file and option; on RK_EINVAL *why says what
 * is wrong. No logging: rk_store_sqlite_file uses it too. */
static int split_location(const char *location, char **path, bool *sync_full, const char **why)
{
    const char *q = strrchr(location, '?');
    *sync_full = false;
    *why = NULL;
    if (q) {
        if (strcmp(q + 1, "synchronous=full") == 0) {
            *sync_full = true;
        } else if (strcmp(q + 1, "synchronous=normal") != 0) {
            *why = "sqlite store: unknown option (synchronous=normal or full)";
            return RK_EINVAL;
        }
    }
    size_t n = q ? (size_t)(q - location) : strlen(location);
    if (n == 0) {
        *why = "sqlite store: no file path given";
        return RK_EINVAL;
    }
    *path = strndup(location, n);
    return *path ? 0 : RK_ENOMEM;
}

static int parse_location(const char *location, char **path, bool *sync_full)
{
    const char *why;
    int rc = split_location(location, path, sync_full, &why);
    if (why) {
        const char *q = strrchr(location, '?');
        rk_log_error(why, "option", q ? q + 1 : "");
    }
    return rc;
}

char *rk_store_sqlite_file(const char *location)
{
    char *path = NULL;
    bool full;
    const char *why;
    return split_location(location, &path, &full, &why) ? NULL : path;
}

static void sq_close(rk_store_t *base)
{
    sq_store_t *s = S(base);
    while (s->idle) {
        sq_conn_t *c = s->idle;
        s->idle = c->next;
        conn_close(c);
    }
    sq_ckpt_stop(s->ckpt);
    conn_close(s->w); /* an open transaction is rolled back */
    pthread_mutex_destroy(&s->wmu);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    free(s->path);
    free(s);
}

static int sq_open(const char *location, rk_store_t **out)
{
    sq_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return RK_ENOMEM;
    s->base.ops = &rk_store_sqlite_ops;
    pthread_mutex_init(&s->wmu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    bool sync_full;
    int rc = parse_location(location, &s->path, &sync_full);
    if (!rc)
        rc = conn_open(s->path, true, sync_full, &s->w);
    if (!rc)
        rc = rk_sqlite_migrate(s->w->db, s->path);
    /* Checkpoints run beside the commits, not inside them (sqlite_ckpt.c). */
    if (!rc && pragma(s->w->db, "PRAGMA wal_autocheckpoint=0", NULL))
        rc = RK_EIO;
    if (!rc)
        rc = sq_ckpt_start(s->path, sync_full, s->w->db, &s->ckpt);
    if (rc) {
        sq_close(&s->base);
        return rc;
    }
    rk_log_info("sqlite store open", "path", s->path, "synchronous", sync_full ? "full" : "normal");
    *out = &s->base;
    return 0;
}

static int sq_begin(rk_store_t *base)
{
    sq_store_t *s = S(base);
    if (mine(s))
        return RK_ESTATE;
    pthread_mutex_lock(&s->wmu);
    int rc = sq_exec_stmt(s->w, sq_stmt(s->w, SQ_BEGIN), "begin");
    if (rc)
        pthread_mutex_unlock(&s->wmu);
    else
        atomic_store(&s->owner, rk_store_tid());
    return rc;
}

static int tx_end(sq_store_t *s, bool keep)
{
    if (!mine(s))
        return RK_ESTATE;
    int rc;
    if (tx_lost(s)) {
        /* Nothing of it is left to keep, or to undo. */
        rc = keep ? RK_EIO : 0;
        if (keep)
            rk_log_error("sqlite store: commit refused: the transaction was rolled back after "
                         "a failed write");
    } else {
        rc = sq_exec_stmt(s->w, sq_stmt(s->w, keep ? SQ_COMMIT : SQ_ROLLBACK),
                          keep ? "commit" : "rollback");
        if (rc && sqlite3_get_autocommit(s->w->db) == 0)
            sq_exec_stmt(s->w, sq_stmt(s->w, SQ_ROLLBACK), "rollback");
    }
    atomic_store(&s->owner, 0);
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

static int sq_commit(rk_store_t *base)
{
    return tx_end(S(base), true);
}

static int sq_rollback(rk_store_t *base)
{
    return tx_end(S(base), false);
}

/* ---- agents and experiments: JSON text by key ---- */

/* Runs write id with the key and (when text) the body bound; RK_ENOENT
 * when want_change and no row changed. */
static int put(sq_store_t *s, sq_id_t id, const char *key, const char *text, bool want_change,
               const char *what)
{
    sq_conn_t *c;
    int rc = sq_wget(s, &c);
    sqlite3_stmt *st = rc ? NULL : sq_stmt(c, id);
    rc = rc ? rc : RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (text)
            sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        rc = sq_exec_stmt(c, st, what);
        if (!rc && want_change && sqlite3_changes(c->db) == 0)
            rc = RK_ENOENT;
    }
    sq_wdone(s);
    return rc;
}

/* Reads the body column of a one-row query by key into *text (malloc'ed). */
static int get_text(sq_store_t *s, sq_id_t id, const char *key, char **text)
{
    sq_conn_t *c;
    int rc = sq_rget(s, &c);
    if (rc)
        return rc;
    sqlite3_stmt *st = sq_stmt(c, id);
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = (*text = sq_text(st, 0)) ? 0 : RK_ENOMEM;
        else
            rc = r == SQLITE_DONE ? RK_ENOENT : sq_err(c, r, "get");
        sqlite3_reset(st);
    }
    sq_rdone(s, c);
    return rc;
}

typedef int (*from_text_fn)(const char *text, void *out);

/* Reads every body of list query id into a new array of elem-sized models. */
static int list_texts(sq_store_t *s, sq_id_t id, size_t elem, from_text_fn decode, void **out,
                      size_t *n)
{
    sq_conn_t *c;
    int rc = sq_rget(s, &c);
    if (rc)
        return rc;
    size_t cap = 0;
    char *v = NULL;
    sqlite3_stmt *st = sq_stmt(c, id);
    int r = SQLITE_ERROR;
    while (st && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char *nv = realloc(v, (nc + 1) * elem);
            if (!nv) {
                rc = RK_ENOMEM;
                break;
            }
            memset(nv + cap * elem, 0, (nc + 1 - cap) * elem);
            v = nv;
            cap = nc;
        }
        if ((rc = decode((const char *)sqlite3_column_text(st, 0), v + *n * elem)))
            break;
        (*n)++;
    }
    if (!rc && r != SQLITE_DONE)
        rc = st ? sq_err(c, r, "list") : RK_EIO;
    if (st)
        sqlite3_reset(st);
    sq_rdone(s, c);
    *out = v;
    return rc;
}

static int agent_decode(const char *text, void *out)
{
    return rk_store_agent_from_text(text, out);
}

static int experiment_decode(const char *text, void *out)
{
    return rk_store_experiment_from_text(text, out);
}

static int sq_agent_put(rk_store_t *s, const rk_registered_agent_t *a)
{
    char *text;
    int rc = rk_store_agent_to_text(a, &text);
    if (!rc)
        rc = put(S(s), SQ_AGENT_PUT, a->info.agent_id, text, false, "agent put");
    free(text);
    return rc;
}

static int sq_agent_get(rk_store_t *s, const char *agent_id, rk_registered_agent_t *out)
{
    char *text = NULL;
    int rc = get_text(S(s), SQ_AGENT_GET, agent_id, &text);
    if (!rc)
        rc = rk_store_agent_from_text(text, out);
    free(text);
    return rc;
}

static int sq_agent_list(rk_store_t *s, rk_registered_agent_t **out, size_t *n)
{
    return list_texts(S(s), SQ_AGENT_LIST, sizeof **out, agent_decode, (void **)out, n);
}

static int sq_agent_delete(rk_store_t *s, const char *agent_id)
{
    return put(S(s), SQ_AGENT_DELETE, agent_id, NULL, true, "agent delete");
}

static int sq_experiment_insert(rk_store_t *s, const rk_experiment_t *x)
{
    char *text;
    int rc = rk_store_experiment_to_text(x, &text);
    if (!rc)
        rc = put(S(s), SQ_EXP_INSERT, x->id, text, false, "experiment insert");
    free(text);
    return rc;
}

static int sq_experiment_get(rk_store_t *s, const char *id, rk_experiment_t *out)
{
    char *text = NULL;
    int rc = get_text(S(s), SQ_EXP_GET, id, &text);
    if (!rc)
        rc = rk_store_experiment_from_text(text, out);
    free(text);
    return rc;
}

static int sq_experiment_list(rk_store_t *s, rk_experiment_t **out, size_t *n)
{
    return list_texts(S(s), SQ_EXP_LIST, sizeof **out, experiment_decode, (void **)out, n);
}

static int sq_experiment_delete(rk_store_t *base, const char *id, bool cascade)
{
    sq_store_t *s = S(base);
    sq_conn_t *c;
    int rc = sq_wget(s, &c);
    if (rc || (rc = sq_op_begin(c)))
        goto out;
    sqlite3_stmt *st = sq_stmt(c, SQ_EXP_REFS);
    rc = RK_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            bool found = sqlite3_column_int(st, 0), any = sqlite3_column_int(st, 1);
            bool unfinished = sqlite3_column_int(st, 2);
            rc = !found ? RK_ENOENT : unfinished || (any && !cascade) ? RK_ESTATE : 0;
        } else {
            rc = sq_err(c, r, "experiment refs");
        }
        sqlite3_reset(st);
    }
    if (!rc && (st = sq_stmt(c, SQ_EXP_DELETE)) != NULL) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (!(rc = sq_exec_stmt(c, st, "experiment delete")) && sqlite3_changes(c->db) == 0)
            rc = RK_ENOENT;
    }
    if (!rc && (st = sq_stmt(c, SQ_EXP_DELETE_JOBS)) != NULL) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sq_exec_stmt(c, st, "experiment delete jobs");
    }
    rc = sq_op_end(c, rc);
out:
    sq_wdone(s);
    return rc;
}

const rk_store_ops_t rk_store_sqlite_ops = {
    .version = RK_STORE_OPS_VERSION,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .agent_put = sq_agent_put,
    .agent_get = sq_agent_get,
    .agent_list = sq_agent_list,
    .agent_delete = sq_agent_delete,
    .experiment_insert = sq_experiment_insert,
    .experiment_get = sq_experiment_get,
    .experiment_list = sq_experiment_list,
    .experiment_delete = sq_experiment_delete,
    .job_insert = sq_job_insert,
    .job_set_status = sq_job_set_status,
    .job_get = sq_job_get,
    .job_list = sq_job_list,
    .job_scan = sq_job_scan,
    .job_set_priority = sq_job_set_priority,
    .job_place = sq_job_place,
    .job_set_extra = sq_job_set_extra,
    .result_put = sq_result_put,
    .result_get = sq_result_get,
    .result_list = sq_result_list,
    .result_list_text = sq_result_list_text,
    .job_set_progress = sq_job_set_progress,
    .doc_put = sq_doc_put,
    .doc_get = sq_doc_get,
    .doc_list = sq_doc_list,
    .doc_delete = sq_doc_delete,
    .doc_replace = sq_doc_replace,
    .lease_acquire = NULL, /* one server per file: always granted */
    .job_find_key = sq_job_find_key,
    .job_purge_finished = sq_job_purge_finished,
    .job_purge = sq_job_purge,
};
