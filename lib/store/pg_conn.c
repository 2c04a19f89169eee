/* The postgresql backend's connections: one for writing, taken by one
 * write at a time (or by a transaction from begin to its end, whose
 * thread also reads through it), a pool of up to PG_READERS for the other
 * threads' reads (they run beside a transaction and see only what is
 * committed), statements prepared on first use per connection, and
 * reconnects.
 *
 * Connection loss: the operation that meets it fails with RK_EIO (its
 * write, if any, was not committed: PostgreSQL rolls back what a dead
 * session had open), and tells the other connections (epoch), which were
 * cut too. The next operation reconnects (PQreset) and prepares again; when that fails it answers
 * RK_ECONN, and further attempts wait a backoff (100 ms doubling to 2 s) so a server without its
 * database does not spin. A transaction whose connection died, or in which a statement failed
 * (PostgreSQL then aborts it), is lost whole: its owner's further operations and its commit answer
 * RK_EIO, its rollback 0 (as SQLite does after an I/O error inside a transaction).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "store/pg_int.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's messages end with a newline; the log wants one line. */
static const char *conn_error(PGconn *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", c ? PQerrorMessage(c) : "out of memory");
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = *(p + 1) ? ' ' : '\0';
    return buf;
}

static void notice_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "relation already exists, skipping") are not errors */
}

int pg_connect(const char *conninfo, PGconn **out)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char buf[512];
        rk_log_error("postgresql store: cannot connect", "error", conn_error(c, buf, sizeof buf));
        PQfinish(c);
        return RK_ECONN;
    }
    PQsetNoticeProcessor(c, notice_quiet, NULL);
    *out = c;
    return 0;
}

bool pg_mine(pg_store_t *s)
{
    return atomic_load(&s->owner) == rk_store_tid();
}

void pg_conn_close(pg_conn_t *c)
{
    if (c)
        PQfinish(c->conn);
}

static int reconnect(pg_conn_t *c)
{
    int64_t now = now_ms();
    if (c->backoff_ms && now < c->retry_at_ms)
        return RK_ECONN;
    memset(c->prepared, 0, sizeof c->prepared);
    c->epoch = atomic_load(&c->s->epoch);
    if (c->conn) {
        int pid = PQbackendPID(c->conn);
        if (pid)
            c->prev_pid = pid; /* pg_lead_again waits for it to end */
        PQreset(c->conn);
    } else
        pg_connect(c->s->conninfo, &c->conn);
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(c->conn, notice_quiet, NULL);
        if (c->backoff_ms)
            rk_log_info("postgresql store: reconnected");
        c->backoff_ms = 0;
        /* The writer of the dispatching server takes its lock again before
         * anything else goes through the new session. */
        return c->writer ? pg_lead_again(c) : 0;
    }
    char buf[512];
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    c->retry_at_ms = now + c->backoff_ms;
    rk_log_error("postgresql store: cannot reconnect", "error",
                 conn_error(c->conn, buf, sizeof buf));
    return RK_ECONN;
}

/* Whether c is usable as it is: connected, and no other connection found
 * the server gone since c connected. */
static bool conn_ok(pg_conn_t *c)
{
    return c->conn && PQstatus(c->conn) == CONNECTION_OK && c->epoch == atomic_load(&c->s->epoch);
}

int pg_acquire(pg_store_t *s, pg_conn_t **c)
{
    *c = &s->w;
    if (pg_mine(s)) {
        /* Its session is the transaction: never replaced under it. */
        if (!s->tx_lost && PQstatus(s->w.conn) == CONNECTION_OK)
            return 0;
        s->tx_lost = true;
        goto lost;
    }
    pthread_mutex_lock(&s->mu);
    if (s->fenced)
        return RK_EIO; /* another server dispatches: see pg_lease.c */
    return conn_ok(&s->w) ? 0 : reconnect(&s->w);
lost:
    rk_log_error("postgresql store: refused: this transaction was lost (its connection, or a "
                 "failed statement); roll back (or commit, which fails) first");
    return RK_EIO;
}

void pg_release(pg_store_t *s)
{
    if (!pg_mine(s))
        pthread_mutex_unlock(&s->mu);
}

int pg_rget(pg_store_t *s, pg_conn_t **c)
{
    *c = NULL;
    if (pg_mine(s)) {
        pg_conn_t *w;
        int rc = pg_acquire(s, &w);
        if (!rc)
            *c = w;
        return rc;
    }
    pthread_mutex_lock(&s->pool_mu);
    while (!s->idle && s->n_readers >= PG_READERS)
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    pg_conn_t *got = s->idle;
    if (got)
        s->idle = got->next;
    else
        s->n_readers++; /* room reserved; opened below, outside the lock */
    pthread_mutex_unlock(&s->pool_mu);
    if (!got && (got = calloc(1, sizeof *got)) != NULL)
        got->s = s;
    int rc = got ? 0 : RK_ENOMEM;
    if (!rc && !conn_ok(got))
        rc = reconnect(got);
    if (rc) {
        /* Kept (idle) when it exists: its backoff holds for the next one. */
        if (got)
            pg_rdone(s, got);
        else {
            pthread_mutex_lock(&s->pool_mu);
            s->n_readers--;
            pthread_cond_signal(&s->pool_cv);
            pthread_mutex_unlock(&s->pool_mu);
        }
        return rc;
    }
    *c = got;
    return 0;
}

void pg_rdone(pg_store_t *s, pg_conn_t *c)
{
    if (!c || c == &s->w)
        return;
    pthread_mutex_lock(&s->pool_mu);
    c->next = s->idle;
    s->idle = c;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

/* Maps a failed result to RK_E*, logging what is not a plain duplicate. */
static int result_err(pg_conn_t *c, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0)
        return RK_EEXIST;
    char buf[512];
    bool lost = PQstatus(c->conn) != CONNECTION_OK;
    if (lost) {
        /* A restart cut the others too: they reconnect before their next
         * use rather than each failing once. */
        unsigned e = c->epoch + 1;
        atomic_compare_exchange_strong(&c->s->epoch, &(unsigned){c->epoch}, e);
        if (c->writer && pg_mine(c->s))
            c->s->tx_lost = true;
    }
    rk_log_error(lost ? "postgresql store: connection lost" : "postgresql store: statement failed",
                 "what", what, "sqlstate", state ? state : "-", "error",
                 conn_error(c->conn, buf, sizeof buf));
    return RK_EIO;
}

PGresult *pg_run(pg_conn_t *c, pg_id_t id, int n, const char *const *vals, int *rc,
                 const char *what)
{
    char name[16];
    snprintf(name, sizeof name, "rk%d", (int)id);
    if (!c->prepared[id]) {
        PGresult *p = PQprepare(c->conn, name, pg_sql(id), 0, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            *rc = result_err(c, p, "prepare");
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        c->prepared[id] = true;
    }
    PGresult *r = PQexecPrepared(c->conn, name, n, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *rc = 0;
        return r;
    }
    *rc = result_err(c, r, what);
    PQclear(r);
    return NULL;
}

int pg_exec(pg_conn_t *c, pg_id_t id, int n, const char *const *vals, long *changed,
            const char *what)
{
    int rc;
    PGresult *r = pg_run(c, id, n, vals, &rc, what);
    if (r && changed)
        *changed = atol(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

int pg_wbegin(pg_store_t *s, bool multi, pg_conn_t **c)
{
    int rc = pg_acquire(s, c);
    if (rc || pg_mine(s) || !multi)
        return rc;
    return pg_exec(*c, PG_BEGIN, 0, NULL, NULL, "begin");
}

int pg_wend(pg_store_t *s, int rc, bool multi)
{
    int rc2 = 0;
    PGconn *conn = s->w.conn;
    if (pg_mine(s)) {
        /* A statement that failed (not a refusal like RK_EEXIST, which the
         * statements answer without an error) aborted the transaction. */
        if (PQtransactionStatus(conn) != PQTRANS_INTRANS)
            s->tx_lost = true;
    } else if (multi && PQstatus(conn) == CONNECTION_OK) {
        rc2 =
            pg_exec(&s->w, rc ? PG_ROLLBACK : PG_COMMIT, 0, NULL, NULL, rc ? "rollback" : "commit");
    } else if (PQstatus(conn) != CONNECTION_OK) {
        rc = rc ? rc : RK_EIO;
    }
    pg_release(s);
    return rc ? rc : rc2;
}

char *pg_text(const PGresult *r, int row, int col)
{
    return strdup(PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int64_t pg_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}
