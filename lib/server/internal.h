/* Shared between the files of lib/server; not part of its public API.
 *
 * Threads: HTTP handlers run on the HTTP server's workers and only read the
 * store, validate, and hand commands to the job manager (rk_srv_mgr_*) or
 * answer directly. Everything below marked "manager thread" is touched by
 * the manager thread only: no locks on the hot path.
 */
#ifndef RK_SERVER_INTERNAL_H
#define RK_SERVER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/prom.h"
#include "http/client.h"
#include "http/server.h"
#include "model/agent.h"
#include "model/experiment.h"
#include "model/job.h"
#include "server/server.h"
#include "store/store.h"

/* An agent's token is a record of its own: a store document of this kind
 * keyed by agent id, written in the same transaction as the agent and
 * never part of AgentInfo. Databases written before kept it inside the
 * stored AgentInfo under RK_SRV_TOKEN_KEY: still read, stripped from every
 * answer, and moved to its own record at the agent's next registration. */
#define RK_SRV_TOKEN_DOC "agent_token"
#define RK_SRV_TOKEN_KEY "agent_token"
/* Baselines (baselines.c) are store documents of this kind. Every kind the
 * server keeps is listed in migrate.c, which copies them. */
#define RK_SRV_BASELINE_DOC "baseline"
/* A job the server stopped on its agent itself (a drain) and queued again
 * is sent with a higher ExecuteJobRequest attempt; the count is a store
 * document of this kind keyed by job id, {attempt: N}, absent for 0. */
#define RK_SRV_ATTEMPT_DOC "job_attempt"
/* Where the dispatching server listens, for the standbys to forward to
 * (front.c): one store document {url, pid, since}, written when it begins
 * to listen. Not copied by migrate: the next dispatcher writes its own. */
#define RK_SRV_DISPATCHER_DOC "dispatcher"
#define RK_SRV_DISPATCHER_KEY "current"
/* Long-poll wait asked of agents, and the margin on top of it. */
#define RK_SRV_LONGPOLL_S 30
#define RK_SRV_LONGPOLL_MARGIN_MS 10000

typedef struct rk_srv_mgr rk_srv_mgr_t;
typedef struct rk_srv_events rk_srv_events_t;
typedef struct srv_agent srv_agent_t;
typedef struct srv_job srv_job_t;
typedef struct srv_call srv_call_t;
typedef struct srv_create srv_create_t;
typedef struct srv_fan srv_fan_t;

struct rk_server {
    rk_store_t *store;
    rk_http_server_t *http;
    rk_prom_t *metrics; /* GET /metrics: HTTP, jobs, queues, agents, store */
    rk_prom_family_t *m_jobs, *m_queued, *m_running, *m_available, *m_dispatch, *m_gap, *m_commit,
        *m_batch; /* metrics.c */
    rk_srv_mgr_t *mgr;
    rk_srv_events_t *events;
    struct srv_hooks *hooks;            /* webhooks (webhooks.h), NULL when none configured */
    struct rk_srv_retention *retention; /* retention.c */
    char *host;
    int db_lock; /* the SQLite file's lock (base/lockfile.h), or -1 */
    /* Which (experiment, selector) some registered agent can run, as of
     * which agents_gen (submit.c): POST /jobs to "any" skips reading and
     * checking every agent while the set of agents stays the same. */
    _Atomic uint64_t agents_gen; /* bumped when an agent registers or goes */
    pthread_mutex_t any_lock;
    struct {
        char key[192];
        uint64_t gen;
    } any_ok[64];
    bool started, stopped;
    _Atomic bool fenced; /* standby.c: another server took dispatch over */
    bool shared;         /* on PostgreSQL: publishes where it listens */
    char *advertise;     /* --advertise-url, or NULL: from host and port */
    bool tls;
    struct srv_front *front; /* while standing by, until it listens itself */
    char *pg_url;            /* shared: the store's connection string, for the relays */
    struct srv_relay *relay; /* shared: the dispatcher's events to the standbys */
};

/* ---- standby.c: one dispatching server per database ---- */
/* Takes the store's dispatch lock, standing by (logged) until it can, or
 * until SIGTERM/SIGINT (RK_ESTATE). Other store errors as they come.
 * While it stands by it answers on hc's address (front.c), and goes on
 * answering until srv__front_free (rk_server_start); a SIGHUP meanwhile
 * re-reads s's token files and TLS files into the front. */
int srv__take_dispatch(rk_server_t *srv, const rk_server_settings_t *s, const rk_http_config_t *hc);
/* Writes where this server listens (the RK_SRV_DISPATCHER_DOC), once it
 * does; a failure is logged, standbys then answer 503 until the next
 * start. */
void srv__publish_dispatcher(rk_server_t *srv);

/* ---- front.c: a standby's answers ---- */
typedef struct srv_front srv_front_t;
/* Listens with hc (its name becomes "standby"): health, metrics, the
 * dashboard, srv's events (relayed from the dispatcher's), and every other
 * request forwarded to the dispatcher named in srv's store. RK_EIO when it cannot bind, RK_ENOMEM.
 */
int srv__front_new(const rk_http_config_t *hc, rk_server_t *srv, srv_front_t **out);
/* Re-reads the dispatcher's URL from the store. */
void srv__front_refresh(srv_front_t *f);
/* Stops listening (waiting requests answered 503) and frees. NULL: no-op. */
void srv__front_free(srv_front_t *f);
/* Headers a forwarded answer keeps of the dispatcher's. */
#define FRONT_HEADERS_MAX 12
/* Adds to r the headers in lines ("Name: value" lines, as the HTTP client
 * keeps them), but hop-by-hop ones and those the HTTP server sets itself;
 * at most FRONT_HEADERS_MAX, names cut at 127 bytes and values at 1,023.
 * Returns how many it added. */
int srv__front_copy_headers(rk_http_resp_t *r, const char *lines);
/* The front's HTTP server (for a SIGHUP's reloads). */
rk_http_server_t *srv__front_http(srv_front_t *f);

/* ---- server.c ---- */
/* Re-reads --token-file/--read-token-file into http (the dispatcher's
 * server or a standby's front), logged; the old tokens stay on failure. */
int srv__reload_tokens_on(rk_http_server_t *http, const rk_server_settings_t *s);

/* ---- events.c: the server-sent event bus ---- */
int rk_srv_events_new(size_t ring, rk_srv_events_t **out);
void rk_srv_events_free(rk_srv_events_t *ev);
/* Publishes one event of `type` ("job", "agent") with data (taken). Any
 * thread. */
void rk_srv_events_publish(rk_srv_events_t *ev, const char *type, json_t *data);
void rk_srv_h_events(rk_http_req_t *req, rk_http_resp_t *resp, void *ud);
/* Calls fn(ud, type, json) for every event published from now on, in
 * order, under the bus's lock (fn must be quick and must not publish);
 * fn NULL: none. */
void rk_srv_events_tap(rk_srv_events_t *ev,
                       void (*fn)(void *ud, const char *type, const char *json), void *ud);

/* ---- relay.c: events between servers on one PostgreSQL ---- */
typedef struct srv_relay srv_relay_t;
/* The dispatcher's: sends what srv__relay_push is given (the tap of its
 * bus) as NOTIFYs. */
int srv__relay_out_new(const char *conninfo, srv_relay_t **out);
void srv__relay_push(void *relay, const char *type, const char *json);
/* A standby's: LISTENs and publishes what arrives into ev. */
int srv__relay_in_new(const char *conninfo, rk_srv_events_t *ev, srv_relay_t **out);
/* Stops the thread and frees; NULL: no-op. */
void srv__relay_free(srv_relay_t *r);

/* ---- compat.c: can an agent run an experiment ---- */
/* Appends what agent a lacks to missing (strings) and doubts to warnings;
 * returns true when nothing is missing. */
bool rk_srv_compat(const rk_experiment_t *x, const rk_agent_info_t *a, json_t *missing,
                   json_t *warnings);
void rk_srv_h_compat(rk_http_req_t *req, rk_http_resp_t *resp, void *ud);
/* GET /agents/compatibility/matrix: every agent x every task type. */
void rk_srv_h_compat_matrix(rk_http_req_t *req, rk_http_resp_t *resp, void *ud);

/* ---- server.c: helpers shared by the route files ---- */
/* Answers store error rc about what (a printf format: "job %s") as its
 * HTTP status with detail: 404 not found, 409 exists or refused in its
 * state, 422 invalid, 503 for the storage failing. The only mapping. */
void rk_srv_store_errorf(rk_http_resp_t *resp, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rk_srv_store_error(rk_http_resp_t *resp, int rc, const char *what);
/* The agent's token (its own record, else the legacy field), malloc'd
 * (the caller wipes and frees it), or NULL. */
char *rk_srv_agent_token(rk_server_t *srv, const rk_registered_agent_t *a);
/* Stores (or, for NULL or "", deletes) agent_id's token record; in the
 * caller's transaction. */
int rk_srv_agent_token_put(rk_store_t *store, const char *agent_id, const char *token);
/* RegisteredAgentInfo for answers: without the token, with its
 * `scheduling` (enabled unless a record of kind RK_SRV_SCHED_DOC says
 * otherwise). NULL on ENOMEM. */
json_t *rk_srv_agent_public(rk_store_t *store, const rk_registered_agent_t *a);

/* An agent's scheduling (issue 11): a store record of this kind keyed by
 * agent id, {scheduling, drain_deadline?}, absent for enabled; kept apart
 * from the AgentInfo so a re-registration keeps it. */
#define RK_SRV_SCHED_DOC "agent_scheduling"
typedef enum rk_srv_sched {
    RK_SRV_SCHED_ENABLED,
    RK_SRV_SCHED_PAUSED,
    RK_SRV_SCHED_DRAINING,
    RK_SRV_SCHED_COUNT
} rk_srv_sched_t;
extern const char *const rk_srv_sched_names[RK_SRV_SCHED_COUNT];
/* agent_id's stored scheduling into *out (enabled when none is stored)
 * and its drain deadline (0: none; may be NULL). 0 or the store's error. */
int rk_srv_sched_read(rk_store_t *store, const char *agent_id, rk_srv_sched_t *out,
                      rk_time_t *deadline);
/* Pauses, resumes or drains an agent (deadline_s < 0: no deadline). */
int rk_srv_mgr_agent_schedule(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id,
                              rk_srv_sched_t to, double deadline_s);
/* Parses ?limit= (default def, 1..max) and ?cursor= into page; answers 422
 * itself and returns RK_EINVAL on bad values. */
int rk_srv_page_parse(rk_http_req_t *req, rk_http_resp_t *resp, size_t def, size_t max,
                      rk_page_t *page);

/* What a submitter asks of its jobs besides experiment and agent (v1
 * extensions of CreateJobRequest and experiments/{id}/run). */
typedef struct rk_srv_job_opts {
    rk_job_priority_t priority; /* medium when not given */
    bool exclusive;
    size_t count;     /* copies of each job (a job array), 1..RK_SRV_COUNT_MAX */
    json_t *selector; /* agent_selector.labels, or NULL; owned (rk_srv_job_opts_cleanup) */
    /* The jobs-over-time fields the jobs start with (retry.c: attempt,
     * max_attempts, retry, not_before; depend_input.c: depends_on,
     * dependency), or NULL; owned. */
    json_t *extra;
    /* POST /jobs' Idempotency-Key and its request's fingerprint
     * (idempotency.c), borrowed; NULL for none. Only with count 1. */
    const char *idem_key;
    const char *idem_fp;
} rk_srv_job_opts_t;

/* Most jobs one request creates (count, a batch). */
#define RK_SRV_COUNT_MAX 10000

/* ---- idempotency.c: POST /jobs' Idempotency-Key ---- */
/* Longest key taken (bytes); each a visible ASCII character (0x21-0x7e). */
#define RK_SRV_IDEM_KEY_MAX 255
typedef struct rk_srv_idem {
    const char *key; /* the request's header value (borrowed), NULL: none */
    char fp[33];     /* MD5 (hex) of the body as canonical JSON */
} rk_srv_idem_t;
/* Reads req's Idempotency-Key into k (k->key NULL when absent) with
 * body's fingerprint. A malformed key is answered 400 naming what is wrong
 * (RK_EINVAL). */
int rk_srv_idem_read(const rk_http_req_t *req, rk_http_resp_t *resp, const json_t *body,
                     rk_srv_idem_t *k);
/* With a key: answers resp and returns true when a stored job already
 * holds it: 200 with that job (header Idempotent-Replayed: true) for the
 * same request, 422 for another request under the same key, 409 while its
 * job is not stored yet, 503 when the store cannot be read. False: no job
 * holds it (or no key): create one. */
bool rk_srv_idem_replay(rk_server_t *srv, rk_http_resp_t *resp, const rk_srv_idem_t *k);
/* For the endpoints that do not take a key (POST /jobs/batch,
 * experiments/{id}/run): answers 400 and returns RK_EINVAL when req has
 * one, rather than creating jobs a retry would create again. */
int rk_srv_idem_refuse(const rk_http_req_t *req, rk_http_resp_t *resp);

/* ---- submit.c: turning submissions into jobs ---- */
/* Reads priority, exclusive, count and agent_selector of object body at
 * path ("" at the top; NULL body: the defaults) into o (clean it up with
 * rk_srv_job_opts_cleanup, also on failure). On a bad value answers resp 422
 * naming the field ("jobs[3].priority: ...") and returns RK_EINVAL. */
int rk_srv_job_opts_parse(const json_t *body, const char *path, rk_http_resp_t *resp,
                          rk_srv_job_opts_t *o);
/* Drops what o owns. */
void rk_srv_job_opts_cleanup(rk_srv_job_opts_t *o);
/* 0 when agent a carries every label o's selector asks for (or there is
 * none); else answers resp 422 ("<where>agent_selector: ...") and returns
 * RK_EINVAL. where: "" or "jobs[3]." */
int rk_srv_selector_check(rk_http_resp_t *resp, const rk_agent_info_t *a,
                          const rk_srv_job_opts_t *o, const char *where);
/* 0 when agent a can run x; else answers resp 422 ("<where>agent A cannot
 * run experiment X: missing ...") and returns RK_EINVAL. */
int rk_srv_compat_check(rk_http_resp_t *resp, const rk_experiment_t *x, const rk_agent_info_t *a,
                        const char *where);
/* 0 when some registered agent could run x under o's selector (busy or
 * down ones count: the job waits for them); else answers resp 422
 * ("<where>no registered agent can ever run experiment X (a1: missing
 * ...; a2: lacks the selector's labels)") and returns RK_EINVAL, or the
 * store's error (answered too). */
/* Tells the "any" check that the set of agents changed (any thread). */
void rk_srv_agents_changed(rk_server_t *srv);
int rk_srv_any_check(rk_server_t *srv, rk_http_resp_t *resp, const rk_experiment_t *x,
                     const rk_srv_job_opts_t *o, const char *where);
/* Fills j (zeroed; the caller cleans it up, also on failure) as a new job
 * of x for agent_id (NULL: any agent) with o, created at now, under a
 * fresh id. RK_ENOMEM, or RK_EIO when no randomness is available. */
int rk_srv_job_fill(rk_server_t *srv, rk_job_info_t *j, const rk_experiment_t *x,
                    const char *agent_id, const rk_srv_job_opts_t *o, rk_time_t now);
/* Suspends req and hands jobs and timeouts (n, taken: freed here on
 * failure, which is answered in resp) to the manager, which answers 201
 * (single: the one JobInfo; else {jobs: [...]}). */
void rk_srv_jobs_hand(rk_server_t *srv, rk_http_req_t *req, rk_http_resp_t *resp,
                      rk_job_info_t *jobs, int64_t *timeouts, size_t n, bool single);

/* Validates and creates opts->count jobs per agent of experiment x
 * (compatibility checked: 422 naming what is missing; more than
 * RK_SRV_COUNT_MAX in all: 422), with opts, suspends req and hands
 * the jobs to the manager, which answers 201 (single and one job: the
 * JobInfo; else {jobs: [...]}). agents[i] must exist; agents NULL: the
 * jobs go to any matching agent (rk_srv_any_check). Answers resp itself
 * on every error. */
void rk_srv_jobs_submit(rk_server_t *srv, rk_http_req_t *req, rk_http_resp_t *resp,
                        const rk_experiment_t *x, const rk_registered_agent_t *agents, size_t n,
                        const rk_srv_job_opts_t *opts, bool single);

/* A comma-separated list of job states into a mask (1u << state); RK_EINVAL
 * for an unknown name. */
int rk_srv_states_parse(const char *s, unsigned *mask);

/* ---- retry.c: retries and start times (issue 12) ---- */
/* Each attempt's result but the last is kept as a store document of this
 * kind, id "<job_id>/<attempt>" (retention deletes a job's documents by
 * that prefix). */
#define RK_SRV_RESULT_ATTEMPT_DOC "result_attempt"
/* Most attempts a retry policy may ask for. */
#define RK_SRV_RETRY_ATTEMPTS_MAX 20
/* Reads `retry` and `not_before` of object body at path into *extra (a
 * new object {attempt: 1, max_attempts, retry?, not_before?}, or NULL when
 * neither is given). On a bad value answers resp 422 naming the field
 * ("jobs[3].retry.max_attempts: ...") and returns RK_EINVAL; RK_ENOMEM is
 * answered 500. *extra is NULL on failure. */
int rk_srv_retry_parse(const json_t *body, const char *path, rk_http_resp_t *resp, json_t **extra);
/* The extra a job of experiment x starts with: extra (borrowed, may be
 * NULL) when it has a retry policy, else experiment x's own `retry` (an
 * unknown top-level field of its spec) added to a copy of it. A new
 * reference, or NULL for none; a bad experiment policy is ignored
 * (logged). */
json_t *rk_srv_retry_extra(const rk_experiment_t *x, const json_t *extra);
/* 0 when experiment spec's `retry` (if any) is a valid policy; else
 * answers resp 422 naming the field and returns RK_EINVAL. */
int rk_srv_retry_check_spec(const json_t *spec, rk_http_resp_t *resp);
/* GET /results/{job_id}?attempt=N (q: the query's text): answers resp. */
void rk_srv_result_attempt(rk_server_t *srv, rk_http_resp_t *resp, const char *job_id,
                           const char *q);
/* POST /jobs/{job_id}/retry. */
int rk_srv_routes_retry(rk_server_t *srv);

/* ---- route files ---- */
int rk_srv_routes_jobs(rk_server_t *srv);
int rk_srv_routes_bulk(rk_server_t *srv);
int rk_srv_routes_agents(rk_server_t *srv);
int rk_srv_routes_experiments(rk_server_t *srv);
int rk_srv_routes_compare(rk_server_t *srv);
int rk_srv_routes_baselines(rk_server_t *srv);
int rk_srv_routes_schedules(rk_server_t *srv); /* routes_schedules.c */

/* ---- retention.c: deleting old finished jobs ---- */
/* Jobs whose status changed less than this long ago are never deleted
 * (the manager may still be settling them). */
#define RK_SRV_RETAIN_SETTLE_S 5
/* The time one batch of a sweep should take (about the longest a manager's
 * commit waits behind it), and the pause after a batch: at least
 * RK_SRV_RETAIN_PAUSE_MS and 3 times the batch's time, so a sweep holds
 * the write side at most a quarter of the time. */
#define RK_SRV_RETAIN_BUDGET_US 2000.0
#define RK_SRV_RETAIN_PAUSE_MS 10
typedef struct rk_srv_retention rk_srv_retention_t;
/* days 0: no periodic sweep (POST /maintenance/cleanup still works). */
int rk_srv_retention_new(rk_server_t *srv, double days, double period_s, size_t batch,
                         rk_srv_retention_t **out);
/* Starts the sweeping thread (a sweep at once, then every period). */
int rk_srv_retention_start(rk_srv_retention_t *r);
void rk_srv_retention_stop(rk_srv_retention_t *r);
void rk_srv_retention_free(rk_srv_retention_t *r);
/* One sweep now (any thread but the manager's; one at a time): deletes
 * the finished jobs older than days, in batches, telling their agents.
 * The counts of what went into jobs and results. */
int rk_srv_retention_sweep(rk_server_t *srv, double days, size_t *jobs, size_t *results);
/* Tells agent_id (best effort, logged) to drop its copy of job_id. */
void rk_srv_retention_tell_agent(rk_server_t *srv, const char *agent_id, const char *job_id);
/* DELETE /jobs/{job_id}?purge=true (called by routes_jobs.c's DELETE). */
void rk_srv_h_job_purge(rk_http_req_t *req, rk_http_resp_t *resp, rk_server_t *srv);
int rk_srv_routes_retention(rk_server_t *srv);

/* ---- baselines.c ---- */
/* The job pinned as the baseline of (exp, agent) into job[n]; RK_ENOENT
 * when there is none. */
int rk_srv_baseline_job(rk_server_t *srv, const char *exp, const char *agent, char *job, size_t n);
/* Compares a just stored result with its baseline, if it has one: the
 * data of a `regression` event naming the metrics slower than the baseline
 * (Welch, 2 %), or NULL (nothing slower, nothing to compare, or no memory).
 * The caller sends it with the batch, so only a committed result raises
 * it. */
json_t *rk_srv_baseline_check(rk_server_t *srv, const rk_result_t *r);

/* ---- the job manager (jobmgr.c; its layers are described in mgr.h) ---- */
typedef struct rk_srv_mgr_config {
    double poll_interval_s;
    double agent_timeout_s;
    double timeout_grace_s;
} rk_srv_mgr_config_t;

int rk_srv_mgr_new(rk_server_t *srv, const rk_srv_mgr_config_t *cfg, rk_srv_mgr_t **out);
/* Loads agents and unfinished jobs from the store (before start). */
int rk_srv_mgr_recover(rk_srv_mgr_t *m);
int rk_srv_mgr_start(rk_srv_mgr_t *m);
void rk_srv_mgr_stop(rk_srv_mgr_t *m);
void rk_srv_mgr_free(rk_srv_mgr_t *m);

/* Commands from handler threads. Each takes the suspended request w and
 * answers it later from the manager thread. */

/* Creates n jobs (jobs[i]: job_id, experiment_id, agent_id, created_time
 * set; status is filled in) with their timeouts; answers 201 with the one
 * JobInfo (single) or {jobs: [...]}, each as it stands after its dispatch
 * attempt. Takes jobs and timeouts (freed by the manager). */
int rk_srv_mgr_create(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_job_info_t *jobs, int64_t *timeouts,
                      size_t n, bool single);
/* Cancels job_id: 200 or 202 with the JobInfo, 409 when it finished.
 * force: its agent kills it at once instead of TERM, grace, KILL. */
int rk_srv_mgr_cancel(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id, bool force);
/* Which unfinished jobs DELETE /jobs cancels: every one matching all the
 * set fields (state_mask 0, NULL ids, priority -1, created_before 0: any). */
typedef struct rk_srv_cancel_filter {
    unsigned state_mask;
    char *agent_id, *experiment_id;
    int priority;
    rk_time_t created_before;
    bool force;
} rk_srv_cancel_filter_t;
/* Frees f's strings and f. NULL: no-op. */
void rk_srv_cancel_filter_free(rk_srv_cancel_filter_t *f);
/* Cancels every unfinished job f matches: 200 {cancelled: N, job_ids}
 * once stored. Takes f (freed by the manager, also on failure). */
int rk_srv_mgr_cancel_many(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_srv_cancel_filter_t *f);
/* Pauses or resumes job_id: 200 with the JobInfo once stored (a job on its
 * agent: once the agent confirmed), 404, 409 from any other state, 502
 * when its agent cannot be reached. */
int rk_srv_mgr_pause(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id);
int rk_srv_mgr_resume(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id);
/* Sets the priority (its wire name, already validated) of job_id, which
 * moves to its place in its queue at once: 200 with the JobInfo, 404
 * unknown, 409 once it started (or finished). */
int rk_srv_mgr_priority(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id,
                        const char *priority);
/* Registers the agent at url (token may be NULL). */
int rk_srv_mgr_register(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *url, const char *token);
int rk_srv_mgr_unregister(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id);
/* Asks the manager, and waits for its answer, whether it still tracks
 * job_id (a job it has not let go of: queued, running, or ended here and
 * still stopping on its agent or committing): 1 and its state's name in
 * state (n bytes), 0 when it does not, RK_ENOMEM, or RK_EBUSY when the
 * manager is stopping. A finished job it does not track it never takes up
 * again, so once 0, nothing of the manager writes that job any more. */
int rk_srv_mgr_job_tracked(rk_srv_mgr_t *m, const char *job_id, char *state, size_t n);
/* Tells the manager experiment id is gone (drops what it keeps of it).
 * Call after the store deleted it, before answering. */
int rk_srv_mgr_forget_experiment(rk_srv_mgr_t *m, const char *id);

/* Fan-out: n GET requests to agents at once through the manager's client;
 * when all have answered, done(fan, resp) fills the answer on the manager
 * thread. */
typedef struct rk_srv_fan_reply {
    int err;
    long status;
    char *body; /* NUL-terminated copy, never NULL */
    size_t len;
    char *headers; /* the agent's X-Ruckus-* answer headers, "Name: value\n" each; may be NULL */
} rk_srv_fan_reply_t;
typedef void (*rk_srv_fan_done_fn)(rk_srv_mgr_t *m, void *ctx, rk_srv_fan_reply_t *replies,
                                   size_t n, rk_http_resp_t *resp);
/* urls/tokens are copied; ctx is handed over and freed with free_ctx (may
 * be NULL) after done. timeout_ms for each request; max_body caps each. */
int rk_srv_mgr_fan(rk_srv_mgr_t *m, rk_http_wait_t *w, char *const *urls, char *const *tokens,
                   size_t n, int timeout_ms, size_t max_body, rk_srv_fan_done_fn done, void *ctx,
                   void (*free_ctx)(void *));

#endif
