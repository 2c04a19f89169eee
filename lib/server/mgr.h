/* The job manager's private state, shared by jobmgr.c (loop, commands,
 * scheduling), dispatch.c (job traffic to agents) and agents.c (agent
 * registry and health). Everything here belongs to the manager thread.
 *
 * Batching: a loop iteration applies state changes inside one store
 * transaction (mgr_txn opens it on the first write) and defers what must
 * wait for durability: answers to waiting requests, events, and freeing a
 * finished job's slot. mgr_flush commits, then runs the deferred work, so
 * no one hears of a change and no slot is reused before the change is on
 * disk ("write ahead", "results before release").
 */
#ifndef RK_SERVER_MGR_H
#define RK_SERVER_MGR_H

#include "server/internal.h"

typedef enum call_kind {
    CALL_SEND,    /* POST /jobs */
    CALL_POLL,    /* GET /status/{id}?wait= (also the plain recovery ask) */
    CALL_RESULT,  /* GET /results/{id} */
    CALL_CANCEL,  /* DELETE /jobs/{id} for a job we still track */
    CALL_FORGET,  /* DELETE /jobs/{id}, answer only logged */
    CALL_HEALTH,  /* GET /status */
    CALL_FAN,     /* a handler's fan-out */
} call_kind_t;

struct srv_call {
    rk_srv_mgr_t *m;
    call_kind_t kind;
    srv_job_t *job;
    srv_agent_t *agent;
    srv_fan_t *fan;
    size_t idx;
    rk_http_handle_t *h;
    int64_t sent_mono;
    srv_call_t *prev, *next; /* every call in flight, for shutdown */
};

/* What a job in the running set is waiting for. */
typedef enum job_phase {
    PH_NONE,    /* in the queue */
    PH_SEND,    /* POST /jobs to do or in flight */
    PH_ASK,     /* after restart: ask the agent whether it has the job */
    PH_POLL,    /* accepted: watching its status */
    PH_RESULT,  /* terminal on the agent: fetching the result */
    PH_RELEASE, /* stored terminal: slot freed after the commit */
} job_phase_t;

struct srv_job {
    char *job_id;
    char *experiment_id;
    int64_t seq;
    rk_time_t created;
    rk_job_state_t state; /* as stored */
    char *message;        /* of the stored status */
    rk_time_t status_time;
    srv_agent_t *agent;
    srv_job_t *prev, *next; /* in the agent's queue or running list */
    bool in_queue;

    job_phase_t phase;
    srv_call_t *call;   /* the phase's request in flight, or NULL */
    srv_call_t *cancel; /* DELETE in flight, or NULL */
    int64_t retry_at;   /* mono µs: redo the phase's request then; 0 = now */
    int64_t timeout_s;  /* 0 = not known yet (recovered) */
    int64_t running_mono;
    bool local_terminal;   /* we stored a terminal status; the agent may still run it */
    bool cancel_after_send;
    rk_job_state_t agent_state; /* terminal state the agent reported (PH_RESULT) */
    char *agent_message;
    int result_tries;

    srv_create_t *waiter; /* a POST /jobs waiting for this job's first outcome */
    size_t waiter_idx;
};

struct srv_agent {
    char *id, *url, *token;
    int64_t slots;
    srv_job_t *q_head, *q_tail;
    size_t n_queued;
    srv_job_t *r_head, *r_tail;
    size_t n_running; /* counts against slots, whatever their phase */
    int64_t first_fail; /* mono µs of the first failed call since a success */
    bool unavailable;
    bool known_error; /* its last GET /status said error */
    int64_t hold_until; /* after a busy answer: no dispatch before */
    int64_t health_at;
    srv_call_t *health;
    srv_agent_t *next;
};

struct srv_create {
    rk_http_wait_t *wait;
    rk_job_info_t *jobs;
    int64_t *timeouts;
    srv_job_t **waiting; /* [i]: job i while it still owes its first outcome */
    size_t n, unsettled;
    bool single;
    srv_create_t *next_fresh;
};

struct srv_fan {
    rk_http_wait_t *wait;
    size_t n, left;
    rk_srv_fan_reply_t *replies;
    rk_srv_fan_done_fn done;
    void *ctx;
    void (*free_ctx)(void *);
    /* request copies until submitted on the manager thread */
    char **urls, **tokens;
    int timeout_ms;
    size_t max_body;
};

/* An experiment as dispatch needs it: its spec already encoded for the
 * ExecuteJobRequest body, and its timeout. Experiments never change once
 * stored, so the manager keeps the ones it dispatches (dropped when one is
 * deleted) instead of reading and re-encoding them for every job. */
typedef struct srv_xcache {
    char *id;
    char *spec; /* compact JSON of the ExperimentSpec */
    int64_t timeout_s;
    uint64_t used; /* for evicting the least recently used */
} srv_xcache_t;

#define SRV_XCACHE_SIZE 64

typedef struct deferred_finish {
    rk_http_wait_t *wait;
    rk_http_resp_t *resp;
} deferred_finish_t;

struct rk_srv_mgr {
    rk_server_t *srv;
    rk_store_t *store;
    rk_srv_events_t *events;
    rk_srv_mgr_config_t cfg;
    rk_http_client_t *client;
    pthread_t thread;
    bool running;
    volatile int stop; /* set by rk_srv_mgr_stop (through a task) */

    srv_agent_t *agents;
    srv_call_t *calls;
    srv_create_t *fresh; /* creates to settle after this iteration's scheduling */

    bool in_txn;
    deferred_finish_t *finishes;
    size_t n_finishes, cap_finishes;
    json_t *pending_events; /* array of [type, data] */
    srv_job_t **releases;
    size_t n_releases, cap_releases;
    bool again; /* something changed: loop again without waiting */

    srv_xcache_t xcache[SRV_XCACHE_SIZE];
    uint64_t xcache_clock;
};

/* jobmgr.c */
void mgr_txn(rk_srv_mgr_t *m);
void mgr_flush(rk_srv_mgr_t *m);
void mgr_event(rk_srv_mgr_t *m, const char *type, json_t *data);
void mgr_finish(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_http_resp_t *resp);
/* Stores st as the job's status (history kept), with an event. */
void job_store_status(rk_srv_mgr_t *m, srv_job_t *j, rk_job_state_t st, const char *msg);
void job_settle(rk_srv_mgr_t *m, srv_job_t *j);
/* Frees the job's slot after the commit (unlinks from running then). */
void job_release(rk_srv_mgr_t *m, srv_job_t *j);
void job_free(rk_srv_mgr_t *m, srv_job_t *j);
void queue_push_back(srv_agent_t *a, srv_job_t *j);
void queue_push_front(srv_agent_t *a, srv_job_t *j);
void queue_remove(srv_agent_t *a, srv_job_t *j);
void running_add(srv_agent_t *a, srv_job_t *j);
void running_remove(srv_agent_t *a, srv_job_t *j);
json_t *job_info_json(const srv_job_t *j);

/* dispatch.c */
/* The cached experiment id (read from the store on a miss), or NULL with
 * *rc set (RK_ENOENT, RK_EIO, RK_ENOMEM). Valid until the next call. */
const srv_xcache_t *xcache_get(rk_srv_mgr_t *m, const char *id, int *rc);
void xcache_drop(rk_srv_mgr_t *m, const char *id);
srv_call_t *call_submit(rk_srv_mgr_t *m, call_kind_t kind, const rk_http_request_t *req,
                        srv_job_t *j, srv_agent_t *a);
void call_cancel(rk_srv_mgr_t *m, srv_call_t *c);
void call_unlink(rk_srv_mgr_t *m, srv_call_t *c);
void call_done(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
void job_send(rk_srv_mgr_t *m, srv_job_t *j);
void job_poll(rk_srv_mgr_t *m, srv_job_t *j, bool wait);
void job_send_cancel(rk_srv_mgr_t *m, srv_job_t *j, bool forget);
/* Runs due retries and the server's backstop timeouts. */
void dispatch_tick(rk_srv_mgr_t *m, int64_t now);

/* agents.c */
srv_agent_t *agent_find(rk_srv_mgr_t *m, const char *id);
srv_agent_t *agent_add(rk_srv_mgr_t *m, const rk_registered_agent_t *a);
void agent_ok(rk_srv_mgr_t *m, srv_agent_t *a);
void agent_failed(rk_srv_mgr_t *m, srv_agent_t *a, const char *why);
void agents_tick(rk_srv_mgr_t *m, int64_t now);
void agent_free(rk_srv_mgr_t *m, srv_agent_t *a);
void fan_start(rk_srv_mgr_t *m, srv_fan_t *f);
void fan_reply(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
void fan_free(srv_fan_t *f);
/* "<url>/api/v1<path>" into a malloc'd string. */
char *agent_url(const srv_agent_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
