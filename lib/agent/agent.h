/* ruckus-agent: the worker daemon's logic (protocol.md, "Agent API").
 *
 * The agent keeps one folder per job under <data_dir>/jobs/<job_id>/ (see
 * docs/agent.md): job.json (the durable record, written atomically before a
 * job is answered "accepted" and again when it starts and ends),
 * result.json, stdout.log, stderr.log, output/ and the workload's metrics
 * and progress files. Memory is an index over those folders, rebuilt by
 * rk_agent_new: finished jobs are served again, accepted jobs not started
 * are started, jobs that were running are recorded failed ("agent
 * restarted during the job") after their leftover processes are killed.
 *
 * Lifecycle (main.c): rk_exec_init -> rk_agent_new -> rk_agent_start ->
 * (wait for a signal) -> rk_agent_stop -> rk_agent_free.
 */
#ifndef RK_AGENT_AGENT_H
#define RK_AGENT_AGENT_H

#include <stdint.h>

#include "agent/settings.h"

typedef struct rk_agent rk_agent_t;

/* Test hook, for tests only: milliseconds between accepting a job and
 * starting it, read from this environment variable at rk_agent_new. It makes
 * the window "accepted, not started" wide enough to kill the agent inside.
 * Unset or 0 in production. */
#define RK_AGENT_TEST_START_DELAY_ENV "RUCKUS_AGENT_TEST_START_DELAY_MS"
/* Test hook, for tests only: milliseconds the spawner of a run waits with
 * the agent's lock dropped before it spawns (runner.c, start_run), to make
 * the window "spawning" wide enough to cancel or stop the agent inside.
 * Unset or 0 in production. */
#define RK_AGENT_TEST_SPAWN_DELAY_ENV "RUCKUS_AGENT_TEST_SPAWN_DELAY_MS"
/* Test and benchmark hook: how many spare job folders the agent keeps
 * ready (docs/agent.md, "The data dir"); 0 makes every job folder at
 * accept. Unset: 2 x slots + 2, at most 64. */
#define RK_AGENT_TEST_SPARES_ENV "RUCKUS_AGENT_TEST_SPARES"

/* First argument that makes ruckus-agent one of its own helper processes
 * (helper.c) rather than an agent: main() hands the rest to
 * rk_agent_helper_main, which never returns. */
#define RK_AGENT_HELPER_ARG "--internal-helper"
_Noreturn int rk_agent_helper_main(int argc, char **argv);

/* Creates the agent from s (borrowed until rk_agent_free): creates the data
 * dir, loads or creates the agent id, and loads every job record (recovery
 * as above; jobs to start are started by rk_agent_start). RK_EIO (logged)
 * when the data dir cannot be created or the id cannot be stored,
 * RK_ENOMEM. Free with rk_agent_free, also after a failure (*out is then
 * NULL). */
int rk_agent_new(const rk_agent_settings_t *s, rk_agent_t **out);

/* Starts the supervisor, the HTTP server (which logs the one line
 * "listening ... host=H port=P" with the bound port), the background thread
 * (long-poll deadlines, retention) and, with --register-with, the
 * registration thread; then starts the recovered jobs. RK_EIO when the
 * port cannot be bound, RK_EINVAL (logged) for a non-loopback host without
 * a token. */
int rk_agent_start(rk_agent_t *a);

/* The bound port after rk_agent_start. */
uint16_t rk_agent_port(const rk_agent_t *a);

/* The id, stable across restarts ("agent-" + 16 hex digits by default). */
const char *rk_agent_id(const rk_agent_t *a);

/* Graceful stop: new jobs are refused (503), running jobs get SIGTERM, the
 * grace period, then SIGKILL, and are recorded failed ("agent shut down");
 * then the HTTP server and the threads stop. Idempotent. */
void rk_agent_stop(rk_agent_t *a);

/* Re-reads --token-file (the agent's SIGHUP) and swaps the token in: calls
 * with the old one are refused from then on. A file that cannot be read
 * keeps the old token and logs why (the error is returned); nothing to do
 * (0) without a token file. The server keeps the token the agent was
 * registered with (registering the same URL again is 409): remove the
 * agent and register it anew (docs/security.md). After rk_agent_start. */
int rk_agent_reload_token(rk_agent_t *a);
/* Re-reads the TLS certificate and key (the same SIGHUP): new handshakes
 * use them; a bad pair keeps the old one and logs why (the error is
 * returned). Nothing to do (0) without TLS. After rk_agent_start. */
int rk_agent_reload_tls(rk_agent_t *a);

/* Stops if needed and frees. NULL is a no-op. */
void rk_agent_free(rk_agent_t *a);

#endif
