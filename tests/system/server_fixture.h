/* Shared by tests/system/test_server_*.c: a real ruckus-server (sqlite in a
 * temp folder unless told otherwise) plus real agents, and short-hands for
 * the API calls the tests make. Header-only (static inline) because every
 * test file is its own executable.
 *
 * Workloads prove "one at a time" and "exactly once" themselves: the
 * script from fx_logged_script appends "start <job>" and "end <job>" lines
 * to a log under flock(1), and fx_log_check reads that log back.
 */
#ifndef RK_SERVER_FIXTURE_H
#define RK_SERVER_FIXTURE_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "rk_test.h"
#include "rk_test_agent.h"

#define FX_AGENTS 4

typedef struct fx {
    rk_test_proc_t srv;
    char *dir; /* temp folder: the database and the workload log */
    char db[512];
    char log[512];
    const char *token;
    rk_test_agent_t agents[FX_AGENTS];
    char agent_ids[FX_AGENTS][80];
    int n_agents;
} fx_t;

static inline void fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->srv.pid = -1;
    f->dir = rk_test_tmpdir();
    assert_non_null(f->dir);
    snprintf(f->db, sizeof f->db, "%s/ruckus.db", f->dir);
    snprintf(f->log, sizeof f->log, "%s/workload.log", f->dir);
}

/* Starts the server with fast polling and a short agent timeout, plus
 * extra (NULL-terminated, may be NULL). storage: "sqlite" or "memory". */
static inline void fx_server_start(fx_t *f, const char *storage, const char *const *extra)
{
    const char *argv[40] = {
        "--port",          "0",   "--storage",       storage, "--db",        f->db,
        "--poll-interval", "0.2", "--agent-timeout", "2",     "--log-level", "debug"};
    size_t n = 12;
    for (size_t i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    rk_test_proc_opts_t o = {.cwd = f->dir};
    rk_test_proc_cleanup(&f->srv);
    assert_int_equal(rk_test_proc_start(&f->srv, "ruckus-server", argv, &o), 0);
}

/* Stops everything and removes the folder. Like the agents' cleanup, fails
 * the running test when the server did not exit 0 on SIGTERM or its log
 * holds a sanitizer report (after cleaning up, with the log shown). */
static inline void fx_cleanup(fx_t *f)
{
    int status = 0;
    bool was_running = f->srv.pid > 0;
    if (was_running && rk_test_proc_stop(&f->srv, SIGTERM, 10000, &status) != 0)
        status = -1;
    bool dirty = (was_running && status != 0) || rk_test_proc_log_has(&f->srv, "Sanitizer") ||
                 rk_test_proc_log_has(&f->srv, "runtime error:");
    char *log = dirty ? rk_test_proc_log(&f->srv) : NULL;
    rk_test_proc_cleanup(&f->srv);
    if (dirty) {
        fprintf(stderr, "server exit status %d; its log:\n%s\n", status, log ? log : "");
        free(log);
        /* The agents and the folder still go: fail only afterwards. */
        for (int i = 0; i < f->n_agents; i++)
            rk_test_agent_cleanup(&f->agents[i]);
        f->n_agents = 0;
        if (f->dir)
            rk_test_rmrf(f->dir);
        free(f->dir);
        f->dir = NULL;
        fail_msg("the server did not stop cleanly");
    }
    for (int i = 0; i < f->n_agents; i++)
        rk_test_agent_cleanup(&f->agents[i]);
    if (f->dir && getenv("FX_KEEP"))
        fprintf(stderr, "kept %s (server log: %s)\n", f->dir, f->srv.log_path);
    else if (f->dir)
        rk_test_rmrf(f->dir);
    free(f->dir);
    f->dir = NULL;
}

/* method path with body (borrowed, may be NULL); returns the parsed
 * answer (new reference, may be NULL) and the status in *status. */
static inline json_t *fx_call(fx_t *f, const char *method, const char *path, const json_t *body,
                              long *status)
{
    rk_test_resp_t r;
    if (body)
        rk_test_req_json(&f->srv, method, path, body, f->token, &r);
    else
        rk_test_req(&f->srv, method, path, NULL, f->token, &r);
    if (status)
        *status = r.status;
    json_t *v = r.json ? json_incref(r.json) : NULL;
    rk_test_resp_cleanup(&r);
    return v;
}

static inline json_t *fx_callf(fx_t *f, const char *method, long *status, const json_t *body,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline json_t *fx_callf(fx_t *f, const char *method, long *status, const json_t *body,
                               const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    return fx_call(f, method, path, body, status);
}

/* Starts agent i with slots and registers it. */
static inline void fx_agent_start(fx_t *f, int i, int slots, const char *const *args)
{
    assert_true(i < FX_AGENTS);
    assert_int_equal(rk_test_agent_start(&f->agents[i], slots, args, NULL), 0);
    if (i >= f->n_agents)
        f->n_agents = i + 1;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f->agents[i].p.port);
    json_t *b = json_pack("{s:s}", "agent_url", url);
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/agents/register", b, &st);
    json_decref(b);
    assert_int_equal(st, 200);
    snprintf(f->agent_ids[i], sizeof f->agent_ids[i], "%s",
             json_string_value(json_object_get(v, "agent_id")));
    json_decref(v);
}

/* Restarts agent i on the port it had (after a stop or kill -9). */
static inline void fx_agent_restart(fx_t *f, int i, int slots)
{
    char port[16];
    snprintf(port, sizeof port, "%u", f->agents[i].p.port);
    const char *args[] = {"--port", port, NULL};
    assert_int_equal(rk_test_agent_restart(&f->agents[i], slots, args, NULL), 0);
}

/* Creates a command experiment running sh -c script; timeout_s 0: none.
 * Returns its id (static buffer of the caller). */
static inline void fx_experiment(fx_t *f, const char *name, const char *script, int timeout_s,
                                 char id[32])
{
    json_t *spec =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:[s,s,s]}},s:{s:s,s:{}},s:{s:{}}}", "name", name,
                  "model", "none", "task", "name", "sh", "type", "command", "params", "argv", "sh",
                  "-c", script, "framework", "name", "sh", "params", "metrics", "metrics");
    if (timeout_s)
        json_object_set_new(spec, "capability_requirements",
                            json_pack("{s:i}", "timeout_seconds", timeout_s));
    json_t *b = json_pack("{s:o}", "experiment_spec", spec);
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/experiments", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    snprintf(id, 32, "%s", json_string_value(json_object_get(v, "experiment_id")));
    json_decref(v);
}

/* A script that logs start/end lines of its job under a lock, sleeping
 * `secs` in between, then runs `tail` (may be ""). */
static inline void fx_logged_script(const fx_t *f, const char *secs, const char *tail, char *out,
                                    size_t n)
{
    snprintf(out, n,
             "flock %s -c 'echo start $RUCKUS_JOB_ID >> %s'; sleep %s; "
             "flock %s -c 'echo end $RUCKUS_JOB_ID >> %s'; %s",
             f->log, f->log, secs, f->log, f->log, tail);
}

/* POST /jobs; returns the answer (JobInfo) and asserts the status. */
static inline json_t *fx_job(fx_t *f, const char *exp, int agent, long want)
{
    json_t *b = json_pack("{s:s,s:s}", "experiment_id", exp, "agent_id", f->agent_ids[agent]);
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/jobs", b, &st);
    json_decref(b);
    assert_int_equal(st, want);
    return v;
}

static inline const char *fx_state(const json_t *job)
{
    return json_string_value(json_object_get(json_object_get(job, "status"), "status"));
}

static inline const char *fx_id(const json_t *job)
{
    return json_string_value(json_object_get(job, "job_id"));
}

/* The stored job (with history), new reference. */
static inline json_t *fx_get_job(fx_t *f, const char *id)
{
    long st;
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/jobs/%s", id);
    assert_int_equal(st, 200);
    return v;
}

static inline bool fx_terminal(const char *s)
{
    return s && (!strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled") ||
                 !strcmp(s, "timeout"));
}

/* Waits until the job's status is want (NULL: any terminal one); returns
 * the job (new reference) or fails the test after timeout_ms. */
static inline json_t *fx_wait_job(fx_t *f, const char *id, const char *want, int timeout_ms)
{
    double end = rk_test_now_ms() + timeout_ms;
    for (;;) {
        json_t *j = fx_get_job(f, id);
        const char *s = fx_state(j);
        if (want ? (s && !strcmp(s, want)) : fx_terminal(s))
            return j;
        if (rk_test_now_ms() > end) {
            fprintf(stderr, "job %s still %s, wanted %s\n", id, s, want ? want : "terminal");
            json_decref(j);
            fail();
        }
        json_decref(j);
        rk_test_sleep_ms(20);
    }
}

/* Reads the workload log: checks every start is followed by its own end
 * before the next start when max_parallel is 1 (else at most max_parallel
 * open at once), and returns how often each job started via count (may be
 * NULL) for ids[0..n). */
static inline void fx_log_check(const fx_t *f, int max_parallel, const char *const *ids, size_t n,
                                int *starts)
{
    char *text = rk_test_read_file(f->log, NULL);
    assert_non_null(text);
    int open = 0, peak = 0;
    char *save = NULL;
    for (size_t i = 0; i < n; i++)
        starts[i] = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "start ", 6) == 0) {
            open++;
            if (open > peak)
                peak = open;
            for (size_t i = 0; i < n; i++)
                if (strcmp(line + 6, ids[i]) == 0)
                    starts[i]++;
        } else if (strncmp(line, "end ", 4) == 0) {
            open--;
        }
    }
    free(text);
    if (peak > max_parallel)
        fprintf(stderr, "workload log: %d jobs ran at once, at most %d allowed\n", peak,
                max_parallel);
    assert_true(peak <= max_parallel);
}

#endif
