/* Shared by the bench/bench_*.c programs that drive a whole ruckus: the
 * server and agents as child processes (bs.h), agents registered, command
 * experiments created, jobs counted, and waiting until none is unfinished.
 */
#ifndef RK_BENCH_SUPPORT_RUCKUS_H
#define RK_BENCH_SUPPORT_RUCKUS_H

#include "bs.h"

/* Starts ruckus-server on port 0 with its SQLite db (synchronous=sync:
 * "normal" or "full"), output to dir/server.log. 0 or -1. */
int bs_ruckus_server(bs_proc_t *p, const char *dir, const char *db, const char *sync);
/* The same on PostgreSQL at url (a libpq connection string). */
int bs_ruckus_server_pg(bs_proc_t *p, const char *dir, const char *url);
/* The port of a standby server's front (its "listening server=standby"
 * log line after p->from), waited for up to timeout_s; 0 when none. */
int bs_ruckus_front_port(const bs_proc_t *p, double timeout_s);
/* Starts ruckus-agent i with slots, its data in data_dir/agent<i> and its
 * output in dir/agent<i>.log; extra args (NULL-terminated, may be NULL)
 * appended. 0 or -1. */
int bs_ruckus_agent(bs_proc_t *p, const char *dir, const char *data_dir, int i, int slots,
                    const char *const *extra);
/* Registers the agent listening on agent_port with the server on
 * server_port; its id into id (n bytes). 0 or -1 (the reason printed). */
int bs_ruckus_register(int server_port, int agent_port, char *id, size_t n);
/* Creates a command experiment named name running argv (a JSON array
 * text); its id into out. 0 or -1. */
int bs_ruckus_experiment(int server_port, const char *name, const char *argv, char out[64]);
/* Jobs of experiment exp (NULL: all) in the comma-separated states, or -1. */
long bs_ruckus_count(int server_port, const char *exp, const char *states);
/* POST /jobs through bs_many: request i goes to ports[i % n_ports] and
 * names experiment exp and agent ids[i % n_ids]. */
typedef struct bs_posts {
    const int *ports;
    size_t n_ports;
    const char *const *ids;
    size_t n_ids;
    const char *exp;
    /* Non-NULL: request i carries "Idempotency-Key: <key_prefix>-<i>". */
    const char *key_prefix;
    size_t replayed; /* answered 200: a repeat under its key */
    size_t created;  /* answered 201 */
    size_t other;    /* answered anything else */
    long last_other; /* the last status that was not 201 */
} bs_posts_t;
/* Sends n of them, inflight at once, until all are answered or deadline_s
 * passes; counts into p. */
void bs_posts_run(bs_posts_t *p, size_t n, int inflight, double deadline_s);

/* Polls every 2 ms until no job is queued, assigned or running; the time
 * (bs_now) it saw that, or 0 after deadline_s. */
double bs_ruckus_wait_idle(int server_port, double deadline_s);

#endif
