/* The sqlite backend's insides, shared by sqlite.c (connections,
 * transactions, agents, experiments), sqlite_jobs.c (jobs, results) and
 * sqlite_schema.c (schema and migrations). Internal to lib/store.
 */
#ifndef RK_STORE_SQLITE_INT_H
#define RK_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "store/store_int.h"

/* The hot statements every connection prepares once, on first use. */
typedef enum sq_id {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_SAVEPOINT,
    SQ_RELEASE,
    SQ_ROLLBACK_TO,
    SQ_AGENT_PUT,
    SQ_AGENT_GET,
    SQ_AGENT_LIST,
    SQ_AGENT_DELETE,
    SQ_EXP_INSERT,
    SQ_EXP_GET,
    SQ_EXP_LIST,
    SQ_EXP_DELETE,
    SQ_EXP_REFS,
    SQ_EXP_DELETE_JOBS,
    SQ_JOB_INSERT,
    SQ_JOB_SET,
    SQ_JOB_GET,
    SQ_HIST_ADD,
    SQ_HIST_GET,
    SQ_RESULT_PUT,
    SQ_RESULT_GET,
    SQ_JOB_PROGRESS,
    SQ_DOC_PUT,
    SQ_DOC_GET,
    SQ_DOC_LIST,
    SQ_DOC_DELETE,
    SQ_JOB_PRIORITY,
    SQ_JOB_PLACE,
    SQ_JOB_EXTRA,
    SQ_DOC_REPLACE,
    SQ_JOB_FIND_KEY,
    SQ_COUNT
} sq_id_t;

/* job_list shapes: state mask (one bit per state) x agent filter x experiment
 * filter. */
#define SQ_LIST_SHAPES ((1u << RK_JOB_STATE_COUNT) * 4)

typedef struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *st[SQ_COUNT];
    sqlite3_stmt *job_page[SQ_LIST_SHAPES];
    sqlite3_stmt *job_count[SQ_LIST_SHAPES];
    sqlite3_stmt *result_page[4]; /* by (experiment filter, agent filter) */
    struct sq_conn *next;         /* in the idle read pool */
} sq_conn_t;

/* The background checkpointer (sqlite_ckpt.c). */
typedef struct sq_ckpt sq_ckpt_t;

typedef struct sq_store {
    rk_store_t base;
    char *path;
    /* The one write connection. A thread holds wmu for one write, or from
     * begin to commit/rollback (then owner is its id and it skips wmu). */
    sq_conn_t *w;
    pthread_mutex_t wmu;
    atomic_long owner;
    /* Read connections: idle ones in a list, at most SQ_READERS open. */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    sq_conn_t *idle;
    int n_readers;
    sq_ckpt_t *ckpt;
} sq_store_t;

#define SQ_READERS 8

/* The newest schema version this build writes (PRAGMA user_version). */
#define RK_SQLITE_SCHEMA_VERSION 7

/* Brings db's schema to RK_SQLITE_SCHEMA_VERSION, each step in its own
 * transaction. RK_EIO (logged) for a file that is not a database, a newer
 * schema, or a failed step. */
int rk_sqlite_migrate(sqlite3 *db, const char *path);

/* Starts checkpointing the WAL of the file at path from a thread of its
 * own, driven by the commits of wdb (whose automatic checkpoint the caller
 * turned off). sq_ckpt_stop joins the thread and frees; call it before
 * closing wdb. NULL is a no-op. */
int sq_ckpt_start(const char *path, bool sync_full, sqlite3 *wdb, sq_ckpt_t **out);
void sq_ckpt_stop(sq_ckpt_t *k);

/* Connections: for writing (the caller then holds the write side until
 * sq_wdone, also when sq_wget fails: RK_EIO when the caller's open
 * transaction was rolled back by SQLite after a failed write) or reading (the write connection for
 * the thread that holds the open transaction, so it sees its own writes). */
int sq_wget(sq_store_t *s, sq_conn_t **c);
void sq_wdone(sq_store_t *s);
int sq_rget(sq_store_t *s, sq_conn_t **c);
void sq_rdone(sq_store_t *s, sq_conn_t *c);

/* The prepared statement id on c, reset and unbound; NULL on failure
 * (logged). */
sqlite3_stmt *sq_stmt(sq_conn_t *c, sq_id_t id);
/* Prepares sql once into *slot (persistent); NULL on failure (logged). */
sqlite3_stmt *sq_prepare(sq_conn_t *c, sqlite3_stmt **slot, const char *sql);
/* Maps an sqlite result code to RK_E*: constraint -> RK_EEXIST, no memory
 * -> RK_ENOMEM, anything else -> RK_EIO (logged with what and the error). */
int sq_err(sq_conn_t *c, int rc, const char *what);
/* Steps st to completion (no rows expected); 0 or sq_err. */
int sq_exec_stmt(sq_conn_t *c, sqlite3_stmt *st, const char *what);
/* Savepoint around a multi-statement write, so it is all or nothing inside
 * or outside a transaction. end: keep (release) or undo (rollback to). */
int sq_op_begin(sq_conn_t *c);
int sq_op_end(sq_conn_t *c, int rc);
/* A copy of column i's text ("" for NULL); NULL when memory runs out. */
char *sq_text(sqlite3_stmt *st, int i);

/* sqlite_jobs.c: the jobs and results slots of rk_store_sqlite_ops. */
int sq_job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq);
int sq_job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *st);
int sq_job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out);
int sq_job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp);
int sq_job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                size_t *n);
int sq_job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud);
int sq_result_put(rk_store_t *s, const rk_result_t *r);
int sq_result_get(rk_store_t *s, const char *job_id, rk_result_t *out);
int sq_result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, char ***out,
                        size_t *n);
int sq_result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, rk_result_t **out,
                   size_t *n);

int sq_job_set_progress(rk_store_t *s, const char *job_id, double progress);
int sq_job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority);
int sq_job_place(rk_store_t *s, const char *job_id, const char *agent_id);
int sq_job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra);
int sq_doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                   const char *json);

/* sqlite_purge.c: the retention slots. */
int sq_job_purge_finished(rk_store_t *s, rk_job_purge_t *p);
int sq_job_purge(rk_store_t *s, const char *job_id, bool *had_result);

/* sqlite_docs.c: the document slots. */
int sq_doc_put(rk_store_t *s, const char *kind, const char *id, const char *json);
int sq_doc_get(rk_store_t *s, const char *kind, const char *id, char **json);
int sq_doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n);
int sq_doc_delete(rk_store_t *s, const char *kind, const char *id);

/* The SQL a listing of f's shape runs (exposed for the tests' query plan
 * checks): count = its total, else its page. Parameters: ?1 the cursor
 * (exclusive), ?2 and ?3 the agent and experiment (jobs) or experiment
 * and agent (results), ?4 the row limit. text holds SQ_LIST_SQL_MAX. */
#define SQ_LIST_SQL_MAX 4096
void sq_job_list_sql(const rk_job_filter_t *f, bool count, char *text, size_t cap);
void sq_result_list_sql(const rk_result_filter_t *f, char *text, size_t cap);

#endif
