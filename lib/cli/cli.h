/* ruckus, the command-line client: entry point, exit codes, and the context
 * every command runs with.
 *
 * cli/main.c only calls rk_cli_main. Each command group lives in its own
 * file (cmd_agent.c, cmd_experiment.c, cmd_job.c, cmd_result.c) and talks to
 * the server through api.c, which turns every failure into a printed
 * message and one of the exit codes below (documented in docs/cli.md).
 */
#ifndef RK_CLI_CLI_H
#define RK_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/time.h"
#include "cli/args.h"
#include "cli/settings.h"
#include "cli/table.h"
#include "model/json.h"

/* Exit codes. Stable: scripts depend on them. */
enum {
    RK_CLI_EXIT_OK = 0,
    RK_CLI_EXIT_FAILURE = 1,     /* job did not complete, server error (5xx, 502/504) */
    RK_CLI_EXIT_USAGE = 2,       /* bad command line, unreadable file */
    RK_CLI_EXIT_NOT_FOUND = 3,   /* 404 */
    RK_CLI_EXIT_UNREACHABLE = 4, /* no answer: refused, DNS, timeout */
    RK_CLI_EXIT_AUTH = 5,        /* 401 / 403 */
    RK_CLI_EXIT_INVALID = 6,     /* 400, 409, 413, 422, or an invalid spec file */
    RK_CLI_EXIT_REGRESSION = 7,  /* result compare --fail-on-regression found one */
};

typedef struct rk_cli {
    rk_cli_settings_t s;
    FILE *out; /* results */
    FILE *err; /* messages */
    bool color;
    rk_time_t now; /* for relative times, taken once */
    /* While set: POSTs carry it as their Idempotency-Key and are retried
     * after a connection failure or a 502/503/504 (job submit). */
    const char *idem_key;
} rk_cli_t;

/* Runs the program: global options, then the command. Returns the exit
 * code. Needs rk_http_global_init to have been called. */
int rk_cli_main(int argc, char **argv);

/* Runs a command (argv[0] is the group, "job") with c already set up;
 * the dispatcher behind rk_cli_main, exposed for tests. */
int rk_cli_run(rk_cli_t *c, int argc, char **argv);

/* ---- api.c: calls to the server ------------------------------------- */

/* Sends method path (relative to /api/v1, e.g. "/jobs?limit=5") with body
 * (borrowed, may be NULL) and parses the JSON answer into *out (new
 * reference; NULL on failure). On any failure prints "ruckus: <reason>" to
 * c->err and returns the exit code; 0 on a 2xx answer. *status (may be
 * NULL) receives the HTTP status. */
int rk_cli_api(rk_cli_t *c, const char *method, const char *path, const json_t *body, json_t **out,
               long *status);

/* rk_cli_api printing nothing: what it would have printed is returned in
 * *msg (malloc'd, may be NULL; pass NULL to drop it). */
int rk_cli_api_quiet(rk_cli_t *c, const char *method, const char *path, const json_t *body,
                     json_t **out, long *status, char **msg);

/* Same for an answer that is not JSON (logs, artifacts): the raw body is
 * appended to *out (capped at max bytes). */
int rk_cli_api_raw(rk_cli_t *c, const char *path, size_t max, rk_buf_t *out);

/* As rk_cli_api_raw, and the answer's X-Ruckus-* headers: *headers (may
 * be NULL) gets a new object {lower-case name: value} (empty when none
 * came; NULL on failure). Goes through libcurl itself: the shared HTTP
 * client (lib/http) does not hand out response headers. */
int rk_cli_api_raw_headers(rk_cli_t *c, const char *path, size_t max, rk_buf_t *out,
                           json_t **headers);

/* Maps an HTTP status (0 for none) or transport error to an exit code. */
int rk_cli_exit_for(int err, long status);

/* Appends s percent-encoded for a URL query value or path segment. */
int rk_cli_urlencode(const char *s, rk_buf_t *out);
/* Appends "?key=val" (or "&key=val" when q is not empty), val encoded;
 * nothing when val is NULL. */
int rk_cli_query_add(rk_buf_t *q, const char *key, const char *val);

/* Prints "ruckus: <fmt>" and a newline to c->err. */
void rk_cli_errorf(rk_cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "the server's answer is invalid: <e>" for an answer a model
 * decoder refused; returns RK_CLI_EXIT_FAILURE. */
int rk_cli_bad_answer(rk_cli_t *c, const rk_verr_t *e);

/* Prints v as indented JSON (the --json output) to c->out. */
int rk_cli_print_json(rk_cli_t *c, const json_t *v);

/* Prints a rendered buffer to c->out; RK_CLI_EXIT_FAILURE if writing fails. */
int rk_cli_print_buf(rk_cli_t *c, const rk_buf_t *b);

/* Prints ans (borrowed) as JSON with --json, else the line fmt. */
int rk_cli_print_ok(rk_cli_t *c, const json_t *ans, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The output of a listing: with --json, ans (borrowed; NULL: nothing, the
 * caller prints its JSON itself); otherwise t rendered, or, when t has no
 * rows and empty is not NULL, empty (a whole line, or "" for nothing). */
int rk_cli_print_table(rk_cli_t *c, const json_t *ans, const rk_cli_table_t *t, const char *empty);

/* Points *list at the array ans[key] (borrowed); when it is not one,
 * prints why and returns RK_CLI_EXIT_FAILURE. */
int rk_cli_answer_array(rk_cli_t *c, const json_t *ans, const char *key, json_t **list);

/* Checks an id given on the command line (rk_id_valid), printing a usage
 * error naming what when it is not one. */
int rk_cli_check_id(rk_cli_t *c, const char *what, const char *id);

/* The id of the agent ref names: an agent id, else the one agent of that
 * name (GET /agents). Writes it to out[n]; prints why and returns 3 when
 * none matches, 6 when several agents share the name. */
int rk_cli_agent_ref(rk_cli_t *c, const char *ref, char *out, size_t n);

/* --after ID[,ID...] (NULL: not given) and --after-any into body's
 * depends_on and dependency (cmd_job.c). Prints why and returns the exit
 * code for bad ids or --after-any alone; 0 otherwise. */
int rk_cli_set_after(rk_cli_t *c, const char *after, bool after_any, json_t *body);

/* Checks id as rk_cli_check_id, then writes the API path
 * "<prefix>/<id><suffix>" ("/jobs", id, "/logs") to out[n]. */
int rk_cli_id_path(rk_cli_t *c, const char *what, const char *prefix, const char *id,
                   const char *suffix, char *out, size_t n);

/* The start of a "show ID" command without options: parses argv with
 * usage, checks the id (naming what) and GETs <prefix>/<id> into *ans (new
 * reference). Returns the exit code of a failure, or 0 with *ans NULL
 * after --help, so callers return when `code || !*ans`. */
int rk_cli_get_by_id(rk_cli_t *c, int argc, char **argv, const char *usage, const char *what,
                     const char *prefix, json_t **ans);

/* ---- command groups -------------------------------------------------- */

/* Each takes the words after the group ("list", "--status", ...). */
int rk_cli_cmd_agent(rk_cli_t *c, int argc, char **argv);
int rk_cli_cmd_experiment(rk_cli_t *c, int argc, char **argv);
int rk_cli_cmd_job(rk_cli_t *c, int argc, char **argv);
int rk_cli_cmd_result(rk_cli_t *c, int argc, char **argv);
int rk_cli_cmd_slurm(rk_cli_t *c, int argc, char **argv);    /* cmd_slurm.c */
int rk_cli_cmd_schedule(rk_cli_t *c, int argc, char **argv); /* cmd_schedule.c */
/* cmd_maintenance.c: `maintenance cleanup` and `job delete ID --purge`. */
int rk_cli_cmd_maintenance(rk_cli_t *c, int argc, char **argv);
int rk_cli_job_delete(rk_cli_t *c, int argc, char **argv);

typedef struct rk_cli_cmd {
    const char *name;
    int (*fn)(rk_cli_t *c, int argc, char **argv);
} rk_cli_cmd_t;

/* Runs the command of a group named by argv[0] from cmds (ended by a NULL
 * name); prints the group's usage for --help or a usage error. */
int rk_cli_dispatch(rk_cli_t *c, const char *group, const char *usage, const rk_cli_cmd_t *cmds,
                    int argc, char **argv);

/* Follows a job until it ends (event stream, else polling), drawing its
 * status and progress when c->out is a terminal, else one line per change.
 * Returns 0 only when the job completed. */
int rk_cli_job_watch(rk_cli_t *c, const char *job_id);

/* cmd_compare.c: `result compare A B` or `result compare EXPERIMENT
 * --baseline SEL` through GET /compare; metric, baseline and min_delta
 * may be NULL. */
int rk_cli_compare_stats(rk_cli_t *c, const rk_cli_args_t *a, const char *metric,
                         const char *baseline, const char *min_delta, bool fail_on_regression);
/* cmd_queue.c: job pause | resume | priority | cancel, agent pause |
 * resume | drain. */
int rk_cli_job_pause(rk_cli_t *c, int argc, char **argv);
int rk_cli_job_resume(rk_cli_t *c, int argc, char **argv);
int rk_cli_job_priority(rk_cli_t *c, int argc, char **argv);
int rk_cli_job_cancel(rk_cli_t *c, int argc, char **argv);
int rk_cli_agent_pause(rk_cli_t *c, int argc, char **argv);
int rk_cli_agent_resume(rk_cli_t *c, int argc, char **argv);
int rk_cli_agent_drain(rk_cli_t *c, int argc, char **argv);
/* cmd_retry.c: retries and start times. Adds `retry` (from the
 * --max-attempts, --backoff and --retry-on values, each may be NULL) and
 * `not_before` (RFC 3339 or +SECONDS) to a submit body; prints a usage
 * error and returns RK_CLI_EXIT_USAGE on a bad value, else 0. */
int rk_cli_retry_opts(rk_cli_t *c, const char *max_attempts, const char *backoff, const char *on,
                      const char *not_before, json_t *body);
/* The attempt N/M, not before and retry of lines of `job show` (those the
 * JobInfo ans has). */
void rk_cli_retry_show(const json_t *ans, rk_buf_t *b);
/* `job retry ID`: POST /jobs/{id}/retry. */
int rk_cli_job_retry(rk_cli_t *c, int argc, char **argv);
/* `result history` (cmd_compare.c). */
int rk_cli_history(rk_cli_t *c, int argc, char **argv);

/* Parses a command's arguments; on a usage error prints it with a pointer
 * to help and returns RK_CLI_EXIT_USAGE; prints help (usage) and returns -1
 * for --help, so callers return `rc < 0 ? 0 : rc`. Sets c->s.json for a
 * --json after the command. */
int rk_cli_parse(rk_cli_t *c, int argc, char **argv, const rk_cli_opt_t *opts, size_t nopts,
                 int min_pos, int max_pos, const char *usage, rk_cli_args_t *a);

#endif
