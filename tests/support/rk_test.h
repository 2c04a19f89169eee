/* Support for system tests: run the real ruckus programs and talk to them.
 *
 * Linked into the tests under tests/system and those of the program
 * modules. Every wait here is bounded, so a broken program fails its test
 * instead of hanging CI. Functions return 0 or a
 * negative RK_E* code (base/err.h) like the rest of ruckus.
 *
 * Typical use:
 *     rk_test_proc_t p;
 *     const char *args[] = {"--port", "0", "--data-dir", "data", NULL};
 *     assert_int_equal(rk_test_proc_start(&p, "ruckus-agent", args, NULL), 0);
 *     rk_test_resp_t r;
 *     rk_test_req(&p, "GET", "/api/v1/status", NULL, NULL, &r);
 *     ...
 *     rk_test_resp_cleanup(&r);
 *     rk_test_proc_stop(&p, SIGTERM, 5000, &status);
 *     rk_test_proc_cleanup(&p);
 */
#ifndef RK_TEST_H
#define RK_TEST_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- temporary folders ---- */

/* Creates a fresh folder under $TMPDIR (or /tmp) named rk-test-XXXXXX and
 * returns its path (malloc'd: free it), or NULL. */
char *rk_test_tmpdir(void);
/* Removes path and everything below it (no symlink is followed). Missing
 * is not an error. RK_EIO when something could not be removed. */
int rk_test_rmrf(const char *path);

/* ---- programs ---- */

typedef struct rk_test_proc_opts {
    const char *cwd;        /* NULL: a fresh temp folder, removed by cleanup */
    const char *const *env; /* extra "KEY=VALUE" entries (override), or NULL */
    int listen_timeout_ms;  /* 0: 10000 */
    bool no_listen_wait;    /* do not wait for the `listening` line */
} rk_test_proc_opts_t;

typedef struct rk_test_proc {
    pid_t pid;                    /* -1 once it has been waited for */
    char dir[PATH_MAX];           /* its working folder */
    bool own_dir;                 /* dir was made by start and is removed by cleanup */
    char log_path[PATH_MAX + 64]; /* its stderr, captured to <dir>/stderr-<pid>.log */
    uint16_t port;                /* from the `listening ... port=N` log line, 0 before */
    int status;                   /* after a wait: the exit code, or 128 + signal */
} rk_test_proc_t;

/* Starts $RK_BIN_DIR/<prog> (prog may also be a path with a '/') with args
 * (NULL-terminated, may be NULL) in opts->cwd or a fresh temp folder, its
 * stderr appended to log_path and stdout to /dev/null. Unless
 * no_listen_wait, waits for the log line "listening ... port=N" and sets
 * p->port; RK_ETIMEDOUT (the process is killed) when it does not come, or
 * RK_EIO when the program exits first (p->status says how). *p needs
 * rk_test_proc_cleanup in every case. */
int rk_test_proc_start(rk_test_proc_t *p, const char *prog, const char *const *args,
                       const rk_test_proc_opts_t *opts);
/* Waits up to timeout_ms for a log line "listening" with port=N (not a
 * standby front's, server=standby) after byte
 * `from` of the log (0: anywhere); sets p->port. */
int rk_test_proc_wait_listening(rk_test_proc_t *p, size_t from, int timeout_ms);
/* Sends sig (if still running) and waits up to timeout_ms for the exit;
 * *status (may be NULL) gets the exit code, or 128 + signal. RK_ETIMEDOUT
 * when it did not exit: it is SIGKILLed and reaped then. */
int rk_test_proc_stop(rk_test_proc_t *p, int sig, int timeout_ms, int *status);
/* SIGKILL and reap. */
int rk_test_proc_kill9(rk_test_proc_t *p);
/* Waits up to timeout_ms for the process to exit on its own. */
int rk_test_proc_wait_exit(rk_test_proc_t *p, int timeout_ms, int *status);
/* The captured stderr so far (malloc'd, NUL-terminated; "" if none). */
char *rk_test_proc_log(const rk_test_proc_t *p);
/* Size of the captured stderr so far. */
size_t rk_test_proc_log_size(const rk_test_proc_t *p);
/* True when the captured stderr contains needle. */
bool rk_test_proc_log_has(const rk_test_proc_t *p, const char *needle);
/* Kills it if still running, removes its own temp folder. Safe twice and
 * on a zeroed struct. */
void rk_test_proc_cleanup(rk_test_proc_t *p);

/* ---- HTTP ---- */

#define RK_TEST_BODY_CAP (64u << 20)

typedef struct rk_test_resp {
    long status; /* 0 when no answer arrived */
    char *body;  /* NUL-terminated, never NULL after a request */
    size_t len;
    json_t *json;   /* the body parsed as JSON, or NULL */
    char *headers;  /* raw response headers, NUL-terminated */
    double seconds; /* request duration */
} rk_test_resp_t;

/* Sends method url with body (NULL: none; sent as application/json) and
 * token (NULL: no Authorization). Waits at most 70 s. Returns 0 when an
 * answer arrived (whatever its status), RK_ECONN/RK_ETIMEDOUT otherwise.
 * out needs rk_test_resp_cleanup in every case. */
int rk_test_http(const char *method, const char *url, const char *body, size_t body_len,
                 const char *token, rk_test_resp_t *out);
/* rk_test_http with extra request headers ("Name: value", NULL-terminated;
 * NULL for none). */
int rk_test_http_hdrs(const char *method, const char *url, const char *body, size_t body_len,
                      const char *token, const char *const *headers, rk_test_resp_t *out);
/* Same against http://127.0.0.1:<p->port><path>. */
int rk_test_req(const rk_test_proc_t *p, const char *method, const char *path, const char *body,
                const char *token, rk_test_resp_t *out);
/* Same with extra request headers ("Name: value", NULL-terminated; may be
 * NULL) and no token. */
int rk_test_req_hdrs(const rk_test_proc_t *p, const char *method, const char *path,
                     const char *body, const char *const *headers, rk_test_resp_t *out);
/* Same with a JSON body (borrowed). */
int rk_test_req_json(const rk_test_proc_t *p, const char *method, const char *path,
                     const json_t *body, const char *token, rk_test_resp_t *out);
/* Value of response header name (case-insensitive) into out[n]; false if absent. */
bool rk_test_resp_header(const rk_test_resp_t *r, const char *name, char *out, size_t n);
void rk_test_resp_cleanup(rk_test_resp_t *r);

/* ---- waiting ---- */

/* Calls cond(ud) every 5 ms until it returns true (true) or timeout_ms
 * passes (false). */
bool rk_test_wait_until(bool (*cond)(void *ud), void *ud, int timeout_ms);
/* full, or light when this run checks memory rather than scale: the
 * ASan stage sets RK_TEST_LIGHT and the valgrind stage RK_UNDER_VALGRIND
 * (scripts/test.sh), where the scale cases
 * would take most of the stage; the plain test stage runs them in full. */
long rk_test_scale(long full, long light);
/* Monotonic milliseconds. */
double rk_test_now_ms(void);
/* Sleeps ms milliseconds. */
void rk_test_sleep_ms(int ms);

/* ---- files ---- */

/* Writes text to path (created or truncated, mode) . */
int rk_test_write_file(const char *path, const char *text, mode_t mode);
/* Reads a whole file (malloc'd, NUL-terminated), NULL if it cannot. */
char *rk_test_read_file(const char *path, size_t *len);

#endif
