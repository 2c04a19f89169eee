/* A message bus over PostgreSQL's LISTEN/NOTIFY: what several servers on
 * one database tell each other that is not stored (the dispatcher's
 * events, for GET /api/v1/events on every server; lib/server/relay.c).
 *
 * A bus is one connection of its own (not the store's sessions), opened
 * with the store's connection string. One that sends does not listen;
 * one that listens does not send. Delivery is PostgreSQL's: a message sent
 * while a listener is disconnected is lost to it (rk_pg_bus_wait says so
 * with RK_ECONN; the caller reconnects and tells its readers they missed
 * some). Not thread-safe: one thread per bus.
 */
#ifndef RK_STORE_PG_BUS_H
#define RK_STORE_PG_BUS_H

#include <stddef.h>

/* PostgreSQL's limit on one payload is 8000 bytes; longer ones are refused
 * by rk_pg_bus_send (RK_ETOOBIG) before anything is sent. */
#define RK_PG_BUS_PAYLOAD_MAX 7999

typedef struct rk_pg_bus rk_pg_bus_t;

/* Connects (conninfo: a libpq connection string or URL) for channel (a
 * plain identifier, [a-z_]+), and LISTENs when listen is set. RK_ECONN
 * (the reason logged), RK_EINVAL for a bad channel, RK_ENOMEM. */
int rk_pg_bus_open(const char *conninfo, const char *channel, int listen, rk_pg_bus_t **out);

/* Sends n payloads in one round trip, in order. RK_ECONN when the
 * connection is gone (the bus is then unusable: close and reopen),
 * RK_ETOOBIG for a payload over RK_PG_BUS_PAYLOAD_MAX (nothing sent),
 * RK_EIO, RK_ENOMEM. */
int rk_pg_bus_send(rk_pg_bus_t *b, const char *const *payloads, size_t n);

/* Waits up to timeout_ms for messages and calls fn(ud, payload) for each
 * (payload valid during the call). Returns how many arrived (0 after the
 * timeout), or RK_ECONN when the connection is gone. */
int rk_pg_bus_wait(rk_pg_bus_t *b, int timeout_ms, void (*fn)(void *ud, const char *payload),
                   void *ud);

/* The connection's server process id, for tests that cut it; 0 when none. */
int rk_pg_bus_backend_pid(const rk_pg_bus_t *b);

/* Closes; NULL is a no-op. */
void rk_pg_bus_close(rk_pg_bus_t *b);

#endif
