/* A model server the job starts itself (task.params.server): started in
 * the job's process group with the job's stdout and stderr (so its output
 * is in the job's logs, and cancelling or timing out the job stops it
 * too), waited for until GET ready_path answers 200, stopped with TERM,
 * then KILL after a grace period.
 */
#ifndef RK_LLM_SERVER_H
#define RK_LLM_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* How long a stopped server gets between TERM and KILL. */
#define RK_LLM_SERVER_GRACE_MS 10000

typedef struct rk_llm_server {
    pid_t pid; /* 0: not running */
} rk_llm_server_t;

/* A TCP port on 127.0.0.1 free right now (bound and released), or 0. */
int rk_llm_free_port(void);
/* s with every "{port}" replaced by port and every "{models_dir}" by
 * models_dir (NULL: left as is); malloc'd, NULL on ENOMEM. */
char *rk_llm_subst(const char *s, int port, const char *models_dir);

/* Starts argv (argv[0] looked up in PATH) with the environment plus env
 * ("NAME=value", n of them). RK_EIO with err saying why when it cannot be
 * run. */
int rk_llm_server_start(char *const *argv, char *const *env, size_t n, rk_llm_server_t *out,
                        char *err, size_t errlen);
/* Polls GET path on addr (Host: host) until it answers 200, the server
 * exits, or timeout_s pass: 0, or RK_ETIMEDOUT / RK_EIO with err saying
 * which. */
int rk_llm_server_wait_ready(rk_llm_server_t *s, const struct sockaddr *addr, socklen_t len,
                             const char *host, const char *path, int64_t timeout_s, char *err,
                             size_t errlen);
/* TERM, up to grace_ms, then KILL; reaps it. No-op when not running. */
void rk_llm_server_stop(rk_llm_server_t *s, int grace_ms);

#endif
