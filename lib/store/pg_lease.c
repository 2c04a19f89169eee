/* The postgresql backend's leases.
 *
 * The dispatch lock (pg_lead): several servers may share one database,
 * one of them dispatches. It is a session-level advisory lock taken on the
 * store's writer session, the only session that writes: while this
 * server's writes go through, that session holds the lock, so a write can
 * never land from a server that is not the dispatcher (the fence is the
 * session itself, not a clock). PostgreSQL frees the lock when the session
 * ends (the process killed, the connection cut), and a standby takes it.
 * The writer's reconnect takes it again before its first statement
 * (pg_lead_again; waiting, if need be, for its own old session to end and
 * free it); when another session has it by then, the store is fenced for
 * good.
 *
 * Per-agent leases (table leases: agent_id, owner, expires_at). One
 * statement takes or renews the lease when the agent has none, its lease
 * lapsed, or it is already the caller's; otherwise no row changes and the
 * answer is RK_EBUSY. Expiry is judged by the database's clock, so the
 * servers sharing it need not agree on the time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "store/pg_int.h"

int pg_lease_acquire(rk_store_t *base, const char *agent_id, const char *owner, int64_t ttl_ms)
{
    pg_store_t *s = PG(base);
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *v[3] = {agent_id, owner, ttl};
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_LEASE, 3, v, &rc, "lease acquire");
    if (r) {
        rc = PQntuples(r) ? 0 : RK_EBUSY;
        PQclear(r);
    }
    return pg_wend(s, rc, false);
}

/* Asks the dispatch lock on c's session: 0 granted, RK_EBUSY held by
 * another session, RK_EIO (logged) when the statement failed. */
static int try_lock(pg_conn_t *c)
{
    int rc;
    PGresult *r = pg_run(c, PG_LEAD, 0, NULL, &rc, "dispatch lock");
    if (r) {
        rc = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? 0 : RK_EBUSY;
        PQclear(r);
    }
    return rc;
}

/* The backend holding the lock (0: none), or -1 (logged) when it cannot
 * be asked (the session was cut, say). */
static int holder(pg_conn_t *c)
{
    int rc;
    PGresult *r = pg_run(c, PG_LEAD_HOLDER, 0, NULL, &rc, "dispatch lock holder");
    if (!r)
        return -1;
    int pid = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return pid;
}

/* The leader checks it still is: its session may have been cut while it
 * had nothing to write (then the reconnect asks again, and may fence). A
 * cut found by the first look is looked at once more, on a new session. */
static int confirm(pg_store_t *s)
{
    int rc = RK_EIO;
    for (int i = 0; i < 2 && rc == RK_EIO && !s->fenced; i++) {
        pg_conn_t *c;
        rc = pg_acquire(s, &c);
        if (!rc) {
            int pid = holder(c);
            rc = pid < 0 ? RK_EIO : pid == PQbackendPID(c->conn) ? 0 : pg_lead_again(c);
        }
        pg_release(s);
    }
    return rc;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A standby's grace: RK_EBUSY until its asks have seen the lock free for
 * grace_ms, so that after a cut (a database restart) the dispatcher,
 * whose reconnect asks at once, takes it back before a standby does. A
 * store that never saw it held (a server starting alone) takes it at
 * once. */
static int free_long_enough(pg_store_t *s, pg_conn_t *c, int64_t grace_ms)
{
    int pid = holder(c);
    if (pid < 0)
        return RK_EIO;
    if (pid > 0) {
        s->free_since_ms = 0;
        s->seen_held = true;
        return RK_EBUSY;
    }
    if (!s->seen_held)
        return 0;
    int64_t now = mono_ms();
    if (!s->free_since_ms)
        s->free_since_ms = now;
    return now - s->free_since_ms >= grace_ms ? 0 : RK_EBUSY;
}

int pg_lead(rk_store_t *base, int64_t grace_ms, void (*lost)(void *arg), void *arg)
{
    pg_store_t *s = PG(base);
    if (pg_mine(s))
        return RK_ESTATE; /* not from inside a transaction */
    pthread_mutex_lock(&s->mu);
    bool leading = s->lead;
    pthread_mutex_unlock(&s->mu);
    if (leading)
        return confirm(s);
    pg_conn_t *c;
    int rc = pg_acquire(s, &c);
    if (!rc && grace_ms > 0)
        rc = free_long_enough(s, c, grace_ms);
    if (!rc && (rc = try_lock(c)) == RK_EBUSY)
        s->seen_held = true;
    if (!rc) {
        s->lead = true;
        s->lost = lost;
        s->lost_arg = arg;
    }
    pg_release(s);
    return rc;
}

/* How long a reconnected leader waits for its own old session to end (a
 * terminated backend frees its locks as it exits, a moment later). */
#define OLD_SESSION_WAIT_MS 3000

int pg_lead_again(pg_conn_t *w)
{
    pg_store_t *s = w->s;
    if (!s->lead)
        return 0;
    int rc = try_lock(w);
    for (int waited = 0; rc == RK_EBUSY && waited < OLD_SESSION_WAIT_MS; waited += 20) {
        int pid = holder(w);
        if (pid < 0)
            rc = RK_EIO;
        else if (pid && pid != w->prev_pid)
            break; /* another server's session: fenced below */
        else {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
            rc = try_lock(w);
        }
    }
    if (rc == 0)
        return 0;
    if (rc == RK_EBUSY) {
        /* Another server dispatches now: nothing of ours may be written. */
        s->fenced = true;
        rk_log_error("postgresql store: another server took the dispatch lock while this one "
                     "was cut off; no further writes from here");
        if (s->lost)
            s->lost(s->lost_arg);
    } else {
        /* Unasked: the session must not be used for writes as it is; the
         * next operation connects afresh and asks again. */
        PQfinish(w->conn);
        w->conn = NULL;
    }
    return RK_EIO;
}
