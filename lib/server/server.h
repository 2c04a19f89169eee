/* ruckus-server: the coordinator as a library object.
 *
 * rk_server_t ties together the storage backend (lib/store), the HTTP API
 * (lib/http) and the job manager: one thread that owns the in-memory
 * indexes (per-agent queues, running sets, agent reachability) and all
 * traffic to agents (see shared/design.md, "Who decides", and docs/api.md).
 *
 * Lifecycle: rk_server_new -> rk_server_start -> ... -> rk_server_stop ->
 * rk_server_free. server/main.c is wiring only: settings, these four calls,
 * and a sigwait for SIGTERM/SIGINT in between.
 *
 * The program must call rk_http_global_init() before rk_server_new and
 * ignore SIGPIPE.
 */
#ifndef RK_SERVER_SERVER_H
#define RK_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "server/settings.h"

typedef struct rk_server rk_server_t;

/* Opens the store named by s (sqlite at s->db_path, or memory), creates
 * the HTTP server and its routes, and rebuilds the job manager's indexes
 * from storage (queued jobs back in their queues, assigned and running
 * ones to be asked about). s is read, not kept. Nothing listens yet.
 * RK_EINVAL (logged) for settings the HTTP server refuses, RK_EIO when the
 * store cannot be opened, RK_ENOMEM. Free with rk_server_free.
 * On a database another server dispatches for (PostgreSQL), it stands by
 * first, until that server stops or dies (lib/server/standby.c); a
 * SIGTERM or SIGINT meanwhile returns RK_ESTATE (logged). */
int rk_server_new(const rk_server_settings_t *s, rk_server_t **out);

/* Starts the job manager thread and binds the listener; logs one
 `listening host=H port=P` line (from lib/http) once bound. RK_EIO when the address
 * cannot be bound, RK_ESTATE when started before. */
int rk_server_start(rk_server_t *srv);

/* The bound port (the chosen one for --port 0); 0 before start. */
uint16_t rk_server_port(const rk_server_t *srv);

/* Graceful stop: the HTTP server stops (answering every waiting request),
 * then the job manager finishes its current batch and stops. Jobs keep
 * their stored state and are picked up again at the next start.
 * Idempotent; not from a signal handler. */
void rk_server_stop(rk_server_t *srv);

/* Re-reads s's token files (the SIGHUP of ruckus-server) and swaps the
 * tokens in: the old ones stop working. The same for the webhooks'
 * --webhook-secret-file. A file that cannot be read keeps the old tokens
 * (or secret) and logs why (the error is returned). Nothing to do (and 0)
 * without such files. s: the settings the server was made from. */
int rk_server_reload_tokens(rk_server_t *srv, const rk_server_settings_t *s);
/* Re-reads s's TLS certificate and key (the same SIGHUP): new handshakes
 * use them; a bad pair keeps the old one and logs why (the error is
 * returned). Nothing to do (0) without TLS. */
int rk_server_reload_tls(rk_server_t *srv, const rk_server_settings_t *s);

/* Whether another server took dispatch over while this one was cut off
 * from the database: it then raised SIGTERM itself, and main exits 3. */
bool rk_server_fenced(const rk_server_t *srv);

/* Stops if needed and frees everything; NULL is a no-op. */
void rk_server_free(rk_server_t *srv);

#endif
