/* Agent-specific helpers for system tests: a ruckus-agent in a temp
 * folder, ExecuteJobRequest bodies, waiting for a job's status. */
#ifndef RK_TEST_AGENT_H
#define RK_TEST_AGENT_H

#include <jansson.h>
#include <stdbool.h>

#include "rk_test.h"

typedef struct rk_test_agent {
    rk_test_proc_t p;
    char root[PATH_MAX]; /* temp folder; the data dir is <root>/data */
    char data[PATH_MAX + 8];
    const char *token; /* sent with every helper request (borrowed) */
} rk_test_agent_t;

/* Makes a fresh root folder and starts ruckus-agent --port 0 --data-dir
 * <root>/data --slots N plus args (NULL-terminated, may be NULL) and env
 * (extra KEY=VALUE entries, may be NULL). */
int rk_test_agent_start(rk_test_agent_t *a, int slots, const char *const *args,
                        const char *const *env);
/* Starts the agent again on the same data dir (after a stop or kill -9). */
int rk_test_agent_restart(rk_test_agent_t *a, int slots, const char *const *args,
                          const char *const *env);
/* Stops the agent (SIGTERM, bounded) and removes the root folder. Fails
 * the running cmocka test when the agent did not exit 0 or its log holds a
 * sanitizer report. */
void rk_test_agent_cleanup(rk_test_agent_t *a);

/* An ExecuteJobRequest for a job of task type `type` with params (taken)
 * and capability_requirements (taken; NULL: none). New reference. */
json_t *rk_test_job(const char *job_id, const char *type, json_t *params, json_t *requirements);
/* A command job running argv (NULL-terminated) with extra params merged
 * (taken; may be NULL). */
json_t *rk_test_job_cmd(const char *job_id, const char *const *argv, json_t *extra);
/* A command job running `sh -c script`. */
json_t *rk_test_job_sh(const char *job_id, const char *script);

/* POSTs job (borrowed) to /api/v1/jobs; returns the HTTP status (0 when
 * no answer). */
long rk_test_agent_submit(const rk_test_agent_t *a, const json_t *job);
/* GET /api/v1/status/{id}: the status name (malloc'd), NULL on 404. */
char *rk_test_agent_state(const rk_test_agent_t *a, const char *id);
/* Waits (long polls) until the job's status is `state`, or any terminal
 * status when state is NULL; returns the final status name (malloc'd) or
 * NULL when timeout_ms passed first. */
char *rk_test_agent_wait(const rk_test_agent_t *a, const char *id, const char *state,
                         int timeout_ms);
/* GET /api/v1/results/{id} body (new reference), NULL unless 200. */
json_t *rk_test_agent_result(const rk_test_agent_t *a, const char *id);
/* True when some live process's environment holds RUCKUS_JOB_ID=<id> and
 * RUCKUS_OUTPUT_DIR=<a's data dir>/jobs/<id>/output: a process of that job
 * of that agent (other agents running the same id are not counted). */
bool rk_test_job_procs_alive(const rk_test_agent_t *a, const char *id);

/* For rk_test_wait_until: rk_test_job_ref_t as ud, true once no process of
 * the job is left. */
typedef struct rk_test_job_ref {
    const rk_test_agent_t *a;
    const char *id;
} rk_test_job_ref_t;
bool rk_test_job_procs_gone(void *ref);
/* True when pid exists and is not a zombie. */
bool rk_test_pid_alive(pid_t pid);

#endif
