/* The postgresql backend's insides, shared by pg.c (open, close, agents,
 * experiments, the ops table), pg_conn.c (the connection, reconnects,
 * prepared statements, transactions), pg_schema.c (migrations),
 * pg_jobs.c (jobs, results), pg_docs.c (documents) and pg_lease.c
 * (dispatch leases). Internal to lib/store.
 */
#ifndef RK_STORE_PG_INT_H
#define RK_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store/store_int.h"

/* Every statement the backend runs, prepared once per connection on first
 * use (and again after a reconnect). The listing ids come in groups of
 * four, one per filter shape: +1 agent filter, +2 experiment filter. */
typedef enum pg_id {
    PG_BEGIN,
    PG_COMMIT,
    PG_ROLLBACK,
    PG_AGENT_PUT,
    PG_AGENT_GET,
    PG_AGENT_LIST,
    PG_AGENT_DELETE,
    PG_EXP_INSERT,
    PG_EXP_GET,
    PG_EXP_LIST,
    PG_EXP_DELETE,
    PG_EXP_REFS,
    PG_EXP_DELETE_JOBS,
    PG_EXP_SEQ_KEEP,
    PG_SEQ_LOCK,
    PG_JOB_INSERT,
    PG_JOB_SET,
    PG_JOB_GET,
    PG_HIST_GET,
    PG_SCAN_BEGIN,
    PG_JOB_SCAN,
    PG_RESULT_PUT,
    PG_RESULT_GET,
    PG_DOC_PUT,
    PG_DOC_GET,
    PG_DOC_LIST,
    PG_DOC_DELETE,
    PG_DOC_REPLACE,
    PG_JOB_PROGRESS,
    PG_LEASE,
    PG_LEAD,
    PG_LEAD_HOLDER,
    PG_JOB_PRIORITY,
    PG_JOB_PLACE,
    PG_JOB_EXTRA,
    PG_PURGE_PICK,
    PG_PURGE_JOB,
    PG_PURGE_DOCS,
    PG_PURGE_ONE,
    PG_JOB_FIND_KEY,
    PG_JOB_PAGE,                       /* + shape */
    PG_JOB_COUNT = PG_JOB_PAGE + 4,    /* + shape */
    PG_RESULT_PAGE = PG_JOB_COUNT + 4, /* + shape */
    PG_COUNT = PG_RESULT_PAGE + 4
} pg_id_t;

typedef struct pg_store pg_store_t;

/* One connection with what is prepared on it. */
typedef struct pg_conn {
    pg_store_t *s;
    PGconn *conn;
    bool writer;             /* the store's write connection */
    bool prepared[PG_COUNT]; /* on the current session */
    unsigned epoch;          /* s->epoch when (re)connected */
    int64_t retry_at_ms;     /* no reconnect before (monotonic) */
    int backoff_ms;          /* 0 until a reconnect fails */
    int prev_pid;            /* the backend of the session before the last reconnect */
    struct pg_conn *next;    /* in the idle read pool */
} pg_conn_t;

/* Read connections open at most (besides the write connection). */
#define PG_READERS 4

struct pg_store {
    rk_store_t base;
    char *conninfo;
    /* The write connection. A thread holds mu for one write, or from begin
     * to commit/rollback (then owner is its id and it skips mu); that
     * thread's reads use it too, so they see its own writes. */
    pg_conn_t w;
    pthread_mutex_t mu;
    atomic_long owner;
    bool seq_locked; /* under mu: the owner's transaction holds PG_SEQ_LOCK */
    bool tx_lost;    /* under mu: the owner's transaction died (connection, failed statement) */
    /* Read connections of the other threads: idle ones in a list, at most
     * PG_READERS open; they see only committed state. */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    pg_conn_t *idle;
    int n_readers;
    /* Bumped when any connection finds the server gone (a restart cuts
     * them all): the others reconnect before their next use instead of
     * each failing one operation of its own. */
    atomic_uint epoch;
    /* Under mu. lead: this store's writer session holds the dispatch lock
     * (pg_lease.c); fenced: it lost it (another server took over), so no
     * write goes through any more and lost(lost_arg) was called once. */
    bool lead, fenced;
    int64_t free_since_ms; /* when this store's asks first saw the lock free (0: held) */
    bool seen_held;        /* some ask of this store found it held by another */
    void (*lost)(void *arg);
    void *lost_arg;
};

#define PG(s) ((pg_store_t *)(s))

/* The newest schema version this build writes (table schema_version). */
#define RK_PG_SCHEMA_VERSION 4

/* Brings the database's schema to RK_PG_SCHEMA_VERSION under an advisory
 * lock (several servers may start at once). RK_EIO (logged) for a newer
 * schema or a failed step. */
int rk_pg_migrate(PGconn *conn);

/* pg_sql.c: the text of statement id (static storage). */
const char *pg_sql(pg_id_t id);

/* Connects (libpq connection string); RK_ECONN (logged) when it cannot. */
int pg_connect(const char *conninfo, PGconn **out);

/* Takes the write connection for one operation (or the caller's
 * transaction): the caller holds it until pg_release, also when this
 * fails. Reconnects a lost connection first (with backoff after failed
 * attempts): RK_ECONN when that fails; RK_EIO when the caller's own
 * transaction was lost. */
int pg_acquire(pg_store_t *s, pg_conn_t **c);
void pg_release(pg_store_t *s);
/* A connection for reading: the write connection for the thread that
 * holds the open transaction, else one of the pool (opened on demand,
 * waiting while PG_READERS are busy). On failure *c is NULL and nothing
 * is held; otherwise give it back with pg_rdone. */
int pg_rget(pg_store_t *s, pg_conn_t **c);
void pg_rdone(pg_store_t *s, pg_conn_t *c);
/* Closes a connection (NULL-safe). */
void pg_conn_close(pg_conn_t *c);

/* Runs statement id on c with n text parameters (NULL = SQL NULL).
 * Returns the result (the caller PQclears it) or NULL with *rc set:
 * RK_EEXIST for a unique violation (a race the statements' own checks
 * missed), RK_EIO (logged with what) for anything else, also a connection
 * lost meanwhile. */
PGresult *pg_run(pg_conn_t *c, pg_id_t id, int n, const char *const *vals, int *rc,
                 const char *what);
/* pg_run for statements without rows: 0 or the error; *changed (when not
 * NULL) gets the rows the statement touched. */
int pg_exec(pg_conn_t *c, pg_id_t id, int n, const char *const *vals, long *changed,
            const char *what);

/* Around a write: pg_acquire, then, when multi (several statements) and
 * no transaction is open, BEGIN; pg_wend COMMITs or (rc set) ROLLBACKs it,
 * releases, and returns rc (or the error of the end). No savepoints: the
 * writes answer refusals (duplicate, no such job) without a statement
 * error, so a refused write leaves the caller's transaction usable; a
 * statement that fails marks it lost (tx_lost). */
int pg_wbegin(pg_store_t *s, bool multi, pg_conn_t **c);
int pg_wend(pg_store_t *s, int rc, bool multi);

/* The calling thread holds the open transaction. */
bool pg_mine(pg_store_t *s);

/* A copy of a field ("" for NULL); NULL when memory runs out. */
char *pg_text(const PGresult *r, int row, int col);
/* A decimal field as int64 (0 for NULL). */
int64_t pg_int(const PGresult *r, int row, int col);

/* pg.c's transaction slots. */
int pg_begin(rk_store_t *s);
int pg_commit(rk_store_t *s);
int pg_rollback(rk_store_t *s);

/* pg_jobs.c */
int pg_job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq);
int pg_job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *st);
int pg_job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out);
int pg_job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp);
int pg_job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                size_t *n);
int pg_job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud);
int pg_result_put(rk_store_t *s, const rk_result_t *r);
int pg_result_get(rk_store_t *s, const char *job_id, rk_result_t *out);
int pg_result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, char ***out,
                        size_t *n);
int pg_result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, rk_result_t **out,
                   size_t *n);

/* pg_docs.c */
int pg_doc_put(rk_store_t *s, const char *kind, const char *id, const char *json);
int pg_doc_get(rk_store_t *s, const char *kind, const char *id, char **json);
int pg_doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n);
int pg_doc_delete(rk_store_t *s, const char *kind, const char *id);
int pg_doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                   const char *json);
int pg_job_set_progress(rk_store_t *s, const char *job_id, double progress);
int pg_job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority);
int pg_job_place(rk_store_t *s, const char *job_id, const char *agent_id);
int pg_job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra);

/* pg_purge.c: the retention slots. */
int pg_job_purge_finished(rk_store_t *s, rk_job_purge_t *p);
int pg_job_purge(rk_store_t *s, const char *job_id, bool *had_result);

/* pg_lease.c */
int pg_lease_acquire(rk_store_t *s, const char *agent_id, const char *owner, int64_t ttl_ms);
int pg_lead(rk_store_t *s, int64_t grace_ms, void (*lost)(void *arg), void *arg);
/* After the writer (re)connected, with mu held: takes the dispatch lock
 * again on the new session when the store leads. RK_EIO when another
 * session has it: the store is then fenced (every write refused) and the
 * lost callback told. */
int pg_lead_again(pg_conn_t *w);

#endif
