/* LISTEN/NOTIFY on a connection of its own (pg_bus.h). */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "store/pg_bus.h"

struct rk_pg_bus {
    PGconn *c;
    char channel[64];
};

static int channel_ok(const char *ch)
{
    size_t n = ch ? strlen(ch) : 0;
    if (n == 0 || n >= 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((ch[i] >= 'a' && ch[i] <= 'z') || ch[i] == '_'))
            return 0;
    return 1;
}

int rk_pg_bus_open(const char *conninfo, const char *channel, int listen, rk_pg_bus_t **out)
{
    *out = NULL;
    if (!channel_ok(channel))
        return RK_EINVAL;
    rk_pg_bus_t *b = calloc(1, sizeof *b);
    if (!b)
        return RK_ENOMEM;
    snprintf(b->channel, sizeof b->channel, "%s", channel);
    b->c = PQconnectdb(conninfo ? conninfo : "");
    if (!b->c || PQstatus(b->c) != CONNECTION_OK) {
        int rc = b->c ? RK_ECONN : RK_ENOMEM;
        rk_log_warn("message bus: cannot connect to PostgreSQL", "error",
                    b->c ? PQerrorMessage(b->c) : "out of memory");
        rk_pg_bus_close(b);
        return rc;
    }
    if (listen) {
        char sql[96];
        snprintf(sql, sizeof sql, "LISTEN %s", b->channel);
        PGresult *r = PQexec(b->c, sql);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            rk_log_warn("message bus: LISTEN failed", "error", PQerrorMessage(b->c));
            rk_pg_bus_close(b);
            return RK_ECONN;
        }
    }
    *out = b;
    return 0;
}

int rk_pg_bus_send(rk_pg_bus_t *b, const char *const *payloads, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strlen(payloads[i]) > RK_PG_BUS_PAYLOAD_MAX)
            return RK_ETOOBIG;
    /* One string of statements: one round trip, one implicit transaction,
     * the notifications delivered in this order. */
    rk_buf_t sql;
    rk_buf_init(&sql, SIZE_MAX); /* the caller bounds n */
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char *lit = PQescapeLiteral(b->c, payloads[i], strlen(payloads[i]));
        if (!lit)
            rc = PQstatus(b->c) == CONNECTION_OK ? RK_ENOMEM : RK_ECONN;
        else
            rc = rk_buf_printf(&sql, "SELECT pg_notify('%s', %s);", b->channel, lit);
        PQfreemem(lit);
    }
    if (!rc) {
        PGresult *r = PQexec(b->c, rk_buf_str(&sql));
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = PQstatus(b->c) == CONNECTION_OK ? RK_EIO : RK_ECONN;
        PQclear(r);
    }
    rk_buf_cleanup(&sql);
    return rc;
}

int rk_pg_bus_wait(rk_pg_bus_t *b, int timeout_ms, void (*fn)(void *ud, const char *payload),
                   void *ud)
{
    int got = 0;
    for (int round = 0; round < 2; round++) {
        if (!PQconsumeInput(b->c) || PQstatus(b->c) != CONNECTION_OK)
            return RK_ECONN;
        PGnotify *m;
        while ((m = PQnotifies(b->c)) != NULL) {
            fn(ud, m->extra);
            PQfreemem(m);
            got++;
        }
        if (got || round == 1)
            return got;
        struct pollfd p = {.fd = PQsocket(b->c), .events = POLLIN};
        if (p.fd < 0)
            return RK_ECONN;
        int pr = poll(&p, 1, timeout_ms);
        if (pr < 0 && errno != EINTR)
            return RK_ECONN;
        if (pr <= 0)
            return 0;
    }
    return got;
}

int rk_pg_bus_backend_pid(const rk_pg_bus_t *b)
{
    return b && b->c ? PQbackendPID(b->c) : 0;
}

void rk_pg_bus_close(rk_pg_bus_t *b)
{
    if (!b)
        return;
    PQfinish(b->c);
    free(b);
}
