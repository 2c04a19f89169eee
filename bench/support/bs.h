/* Shared by the bench/bench_*.c programs: the machine and commit a figure
 * was measured on, the programs under test as child processes, and HTTP
 * (one keep-alive connection per thread, or many requests in flight at once
 * through a curl multi handle). Traffic goes to 127.0.0.1 only.
 */
#ifndef RK_BENCH_SUPPORT_H
#define RK_BENCH_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Monotonic seconds. */
double bs_now(void);

/* Prints the conditions every figure carries: machine (nproc, CPU model,
 * kernel), commit (`git rev-parse --short HEAD`, marked when the tree has
 * uncommitted changes) and build type. */
void bs_print_machine(FILE *out);

/* A program of build/bin under test, its output in log. */
typedef struct bs_proc {
    pid_t pid;
    int port;
    char log[512];
    long from; /* log's size when it started: its own lines come after */
} bs_proc_t;

/* Starts build/bin/<prog> (found next to this executable) with args
 * (NULL-terminated), output to log, and waits up to 15 s for its
 * `listening ... port=N` line. 0 or -1 (the reason printed). */
int bs_proc_start(bs_proc_t *p, const char *prog, const char *const *args, const char *log);
/* The two halves of bs_proc_start: starts it without waiting; waits up to
 * timeout_s for its `listening` line (killing it when none comes). */
int bs_proc_spawn(bs_proc_t *p, const char *prog, const char *const *args, const char *log);
int bs_proc_listening(bs_proc_t *p, double timeout_s);
/* sig (SIGTERM: graceful), then waits up to wait_s before SIGKILL. */
void bs_proc_stop(bs_proc_t *p, int sig, double wait_s);
/* Kills every process still started (atexit and signal paths). */
void bs_proc_kill_all(void);
/* RssAnon of pid in KiB (VmRSS when the kernel has no RssAnon), -1 if
 * unknown. */
long bs_rss_anon_kib(pid_t pid);

/* CPU seconds pid used so far (user + system), its waited-for children
 * included (an agent's jobs); -1 if unknown. */
double bs_cpu_seconds(pid_t pid);

/* "http://127.0.0.1:<port>/api/v1<path>" into out. */
void bs_url(char *out, size_t n, int port, const char *path);

/* One request on this thread's keep-alive connection. Returns the HTTP
 * status (0 when none came); *out (may be NULL) gets the parsed JSON body
 * (new reference, or NULL). */
long bs_http(const char *method, const char *url, const char *body, json_t **out);
/* As bs_http; *ms (when not NULL) is the time from sending the request to
 * the last byte of the answer received, before *out is parsed (parsing a
 * page of 1,000 jobs with jansson takes this client longer than the server
 * takes to answer it). */
long bs_http_timed(const char *method, const char *url, const char *body, json_t **out, double *ms);
void bs_http_cleanup(void);

/* Many requests, `inflight` at once, each connection kept alive: request i
 * is method url_fn(i) with body body_fn(i) (may return NULL). on_done(i,
 * status, body, len) sees each answer (may be NULL). Stops when all n are
 * answered or after deadline_s. Returns the number answered. */
typedef void (*bs_req_fn)(void *ud, size_t i, char *url, size_t url_cap, char *body,
                          size_t body_cap);
typedef void (*bs_done_fn)(void *ud, size_t i, long status, const char *body, size_t len);
size_t bs_many(const char *method, size_t n, int inflight, double deadline_s, bs_req_fn req,
               bs_done_fn done, void *ud);
/* bs_many with one request header of request i's own: hdr writes a
 * "Name: value" line into line (leave it "" for none). */
typedef void (*bs_hdr_fn)(void *ud, size_t i, char *line, size_t cap);
size_t bs_many_hdr(const char *method, size_t n, int inflight, double deadline_s, bs_req_fn req,
                   bs_hdr_fn hdr, bs_done_fn done, void *ud);

/* Percentile p (0..100) of v[0..n) (sorted in place). */
double bs_percentile(double *v, size_t n, double p);

/* A fresh temporary folder (malloc'd path), removed by bs_rmrf. */
char *bs_tmpdir(void);
void bs_rmrf(const char *path);

#endif
