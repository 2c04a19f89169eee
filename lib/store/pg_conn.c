/* The postgresql backend's connection: one libpq connection per store,
 * taken by one operation at a time (or by a transaction from begin to its
 * end), statements prepared on first use, and reconnects.
 *
 * Connection loss: the operation that meets it fails with RK_EIO (its
 * write, if any, was not committed: PostgreSQL rolls back what a dead
 * session had open). The next operation reconnects (PQreset) and prepares
 * again; when that fails it answers RK_ECONN, and further attempts wait a
 * backoff (100 ms doubling to 2 s) so a server without its database does
 * not spin. A transaction whose connection died, or in which a statement
 * failed (PostgreSQL then aborts it), is lost whole: its owner's further
 * operations and its commit answer RK_EIO, its rollback 0 (as SQLite does
 * after an I/O error inside a transaction).
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

static int reconnect(pg_store_t *s)
{
    int64_t now = now_ms();
    if (s->backoff_ms && now < s->retry_at_ms)
        return RK_ECONN;
    memset(s->prepared, 0, sizeof s->prepared);
    if (s->conn)
        PQreset(s->conn);
    else
        pg_connect(s->conninfo, &s->conn);
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(s->conn, notice_quiet, NULL);
        if (s->backoff_ms)
            rk_log_info("postgresql store: reconnected");
        s->backoff_ms = 0;
        return 0;
    }
    char buf[512];
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (s->backoff_ms > BACKOFF_MAX_MS)
        s->backoff_ms = BACKOFF_MAX_MS;
    s->retry_at_ms = now + s->backoff_ms;
    rk_log_error("postgresql store: cannot reconnect", "error",
                 conn_error(s->conn, buf, sizeof buf));
    return RK_ECONN;
}

int pg_acquire(pg_store_t *s)
{
    if (!pg_mine(s))
        pthread_mutex_lock(&s->mu);
    else if (s->tx_lost)
        goto lost;
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
        return 0;
    if (pg_mine(s)) {
        s->tx_lost = true;
        goto lost;
    }
    return reconnect(s);
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

/* Maps a failed result to RK_E*, logging what is not a plain duplicate. */
static int result_err(pg_store_t *s, PGresult *r, const char *what)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0)
        return RK_EEXIST;
    char buf[512];
    bool lost = PQstatus(s->conn) != CONNECTION_OK;
    if (lost && pg_mine(s))
        s->tx_lost = true;
    rk_log_error(lost ? "postgresql store: connection lost" : "postgresql store: statement failed",
                 "what", what, "sqlstate", state ? state : "-", "error",
                 conn_error(s->conn, buf, sizeof buf));
    return RK_EIO;
}

PGresult *pg_run(pg_store_t *s, pg_id_t id, int n, const char *const *vals, int *rc,
                 const char *what)
{
    char name[16];
    snprintf(name, sizeof name, "rk%d", (int)id);
    if (!s->prepared[id]) {
        PGresult *p = PQprepare(s->conn, name, pg_sql(id), 0, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            *rc = result_err(s, p, "prepare");
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        s->prepared[id] = true;
    }
    PGresult *r = PQexecPrepared(s->conn, name, n, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *rc = 0;
        return r;
    }
    *rc = result_err(s, r, what);
    PQclear(r);
    return NULL;
}

int pg_exec(pg_store_t *s, pg_id_t id, int n, const char *const *vals, long *changed,
            const char *what)
{
    int rc;
    PGresult *r = pg_run(s, id, n, vals, &rc, what);
    if (r && changed)
        *changed = atol(PQcmdTuples(r));
    PQclear(r);
    return rc;
}

int pg_wbegin(pg_store_t *s, bool multi)
{
    int rc = pg_acquire(s);
    if (rc || pg_mine(s) || !multi)
        return rc;
    return pg_exec(s, PG_BEGIN, 0, NULL, NULL, "begin");
}

int pg_wend(pg_store_t *s, int rc, bool multi)
{
    int rc2 = 0;
    if (pg_mine(s)) {
        /* A statement that failed (not a refusal like RK_EEXIST, which the
         * statements answer without an error) aborted the transaction. */
        if (PQtransactionStatus(s->conn) != PQTRANS_INTRANS)
            s->tx_lost = true;
    } else if (multi && PQstatus(s->conn) == CONNECTION_OK) {
        rc2 = pg_exec(s, rc ? PG_ROLLBACK : PG_COMMIT, 0, NULL, NULL, rc ? "rollback" : "commit");
    } else if (PQstatus(s->conn) != CONNECTION_OK) {
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
