/* The job manager's private state and the contracts between its files.
 * Everything here belongs to the manager thread.
 *
 * Layers, calls going one way only:
 *   routes -> jobmgr.c (thread, loop, commands, batch and commit)
 *   jobmgr.c -> jobs.c (one job's life), agents.c (registry, health),
 *               calls.c (requests to agents)
 *   jobs.c -> agents.c (reachability), calls.c
 *   agents.c -> calls.c, and jobs.c only to hand over a lost agent's jobs
 *   calls.c -> the transport (the libcurl client by default)
 * The batch (srv__txn, srv__flush, srv__event, srv__answer_*,
 * srv__release_later, in jobmgr.c) is the one service every layer writes
 * into: changes, answers and events wait in it for the commit.
 *
 * Batching: a loop iteration applies state changes inside one store
 * transaction (srv__txn opens it on the first write) and defers what must
 * wait for durability: answers to waiting requests, events, and freeing a
 * finished job's slot. srv__flush commits, then runs the deferred work, so
 * no one hears of a change and no slot is reused before the change is on
 * disk ("write ahead", "results before release").
 *
 * Names shared between these files carry the prefix srv__; each prototype
 * says who owns what, on success and on failure.
 */
#ifndef RK_SERVER_MGR_H
#define RK_SERVER_MGR_H

#include "server/internal.h"

/* ---- calls.c: requests to agents ---- */

/* The transport seam: how the manager's requests reach agents. Each slot
 * starts one request (req and what it points to copied) and calls cb(resp,
 * ud) later, from the manager's loop (srv__mgr_step), exactly once unless
 * dropped first; *h names it for drop. Returns 0, or RK_EINVAL / RK_ENOMEM
 * and cb is never called. The default sends every slot through the
 * manager's libcurl client; tests put a scripted one in its place. */
typedef int (*srv_send_fn)(void *ctx, const rk_http_request_t *req, rk_http_cb cb, void *ud,
                           rk_http_handle_t **h);
typedef struct srv_transport {
    srv_send_fn submit;  /* POST /jobs: ExecuteJobRequest */
    srv_send_fn status;  /* GET /status/{job_id}, long poll or plain */
    srv_send_fn result;  /* GET /results/{job_id} */
    srv_send_fn cancel;  /* DELETE /jobs/{job_id} */
    srv_send_fn control; /* POST /jobs/{job_id}/pause and /resume */
    srv_send_fn get;     /* any other GET: health, /info, handlers' fan-outs */
    /* Stops a request in flight; its cb is not called. */
    void (*drop)(void *ctx, rk_http_handle_t *h);
} srv_transport_t;

/* Puts transport t (borrowed, with ctx) in place of the default; before
 * the manager starts. NULL: back to the libcurl client. */
void srv__mgr_set_transport(rk_srv_mgr_t *m, const srv_transport_t *t, void *ctx);

/* Called once with the answer (the call is freed after it returns; *slot,
 * if given at submit, is cleared before). */
typedef void (*srv__call_fn)(rk_srv_mgr_t *m, srv_call_t *c, const rk_http_response_t *r);
/* Called instead of the answer when a call is dropped unanswered (cancel,
 * shutdown); may be NULL. */
typedef void (*srv__call_drop_fn)(rk_srv_mgr_t *m, srv_call_t *c);

struct srv_call {
    rk_srv_mgr_t *m;
    srv__call_fn done;
    srv__call_drop_fn drop;
    void *ud;          /* the submitter's: a job, an agent, a fan-out */
    size_t idx;        /* the submitter's */
    srv_call_t **slot; /* the pointer that names this call, or NULL */
    rk_http_handle_t *h;
    int64_t sent_mono;
    srv_call_t *prev, *next; /* every call in flight, for shutdown */
};

/* Submits req (copied) through transport slot send with done/drop and ud. On success returns the
 * call, also stored in *slot when slot is not NULL (the call clears it when it ends); on failure
 * (ENOMEM, transport refused) returns NULL, nothing kept, neither callback runs. */
srv_call_t *srv__call_submit(rk_srv_mgr_t *m, srv_send_fn send, const rk_http_request_t *req,
                             srv__call_fn done, srv__call_drop_fn drop, void *ud,
                             srv_call_t **slot);
/* Drops c unanswered: its drop callback runs, then c is freed. NULL: no-op. */
void srv__call_cancel(rk_srv_mgr_t *m, srv_call_t *c);
/* Drops every call in flight (at shutdown, after the transport stopped). */
void srv__calls_drop_all(rk_srv_mgr_t *m);
/* "<url>/api/v1<path>" into a malloc'd string (the caller frees), or NULL. */
char *srv__agent_url(const srv_agent_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The {"detail": ...} of an error answer, or the HTTP status, into out. */
void srv__answer_detail(const rk_http_response_t *r, char *out, size_t n);

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

/* Starts fan-out f (taken): answers its wait once every request ended. */
void srv__fan_start(rk_srv_mgr_t *m, srv_fan_t *f);
/* Frees f, releasing its wait if still set and its ctx. NULL: no-op. */
void srv__fan_free(srv_fan_t *f);

/* ---- jobs.c: one job's life ---- */

/* A job's state in the manager: where it is in its life and what it waits
 * for. The transition table is at the top of jobs.c; srv__job_to checks it.
 * The stored status (what answers show) is kept beside it as a record
 * (status, status_time, message), written only with the store. */
typedef enum srv_jstate {
    SRV_J_QUEUED,      /* in its agent's queue */
    SRV_J_SENDING,     /* stored assigned: POST /jobs due or in flight */
    SRV_J_SEND_CANCEL, /* stored cancelled while its POST was in flight:
                          DELETE goes out after the agent accepts */
    SRV_J_ASKING,      /* recovered assigned/running: does the agent have it? */
    SRV_J_WATCHING,    /* accepted: long-polling its status */
    SRV_J_FETCHING,    /* terminal on the agent: fetching its result */
    SRV_J_STOPPING,    /* ended here (cancelled, timed out) while the agent may
                          hold it: watching until it lets go */
    SRV_J_RELEASING,   /* stored terminal: the slot frees after the commit */
    SRV_J_HELD,        /* stored paused before it reached its agent: out of the
                          queue (keeping its place for a resume), no slot */
    SRV_J_WAITING,     /* stored queued with unfinished dependencies (depend.c):
                          in the held list, out of the queue, no slot */
    SRV_J_N
} srv_jstate_t;

typedef struct srv_dep srv_dep_t;
typedef struct srv_deps srv_deps_t;

/* Which of its agent's lists a job is in. */
enum { SRV_L_NONE, SRV_L_QUEUE, SRV_L_RUNNING, SRV_L_HELD };
/* A DELETE the commit sends: none, one whose answer we act on, one whose
 * answer is only logged. */
enum { SRV_TELL_NONE, SRV_TELL_CANCEL, SRV_TELL_FORGET };

/* Every tracked job by id (queues.c): a cancel finds a job near the tail
 * of a million as fast as at the head. */
typedef struct srv_index {
    srv_job_t **slots;   /* NULL: empty; else a job or a tombstone */
    size_t cap, n, used; /* used: live + tombstones */
} srv_index_t;

struct srv_job {
    char *job_id;
    char *experiment_id;
    int64_t seq;
    rk_time_t created;
    srv_jstate_t st;
    rk_job_state_t status; /* as stored */
    char *message;         /* of the stored status */
    rk_time_t status_time;
    srv_agent_t *agent; /* its agent, or the pool it waits in unplaced */
    srv_agent_t *home;  /* the pool it was submitted to ("any"), or NULL */
    rk_job_priority_t prio;
    bool exclusive;
    /* A job is in one of its agent's lists at a time (list), so the
     * running and held lists' links share room with the queue tree's. */
    union {
        struct {
            srv_job_t *prev, *next; /* in the running or held list */
        };
        struct {
            srv_job_t *ql, *qr; /* in its agent's queue tree of its priority */
        };
    };
    int qh;
    unsigned char list; /* SRV_L_*: which one */
    unsigned char tell; /* SRV_TELL_*: a DELETE due after the commit */
    /* The agent that DELETE is for: the job's agent when it was asked (a
     * drained "any" job is back in its pool by the commit). An agent is
     * freed only after a commit (agents.c, leave_step), so it outlives this. */
    srv_agent_t *tell_agent;

    /* The batch journal (journal.c): what the job was before its first
     * store write of the current batch, restored if the commit fails. */
    bool journaled, snap_new;
    srv_jstate_t snap_st;
    srv_agent_t *snap_agent;
    rk_job_priority_t snap_prio;
    rk_job_state_t snap_status;
    rk_time_t snap_time;
    char *snap_message;
    srv_job_t *jnext;

    srv_call_t *call;   /* the state's request in flight, or NULL */
    srv_call_t *cancel; /* DELETE in flight, or NULL */
    bool force;         /* the cancel asked to kill at once (DELETE ?force=true) */
    /* A pause or resume forwarded to the agent (pause.c): the call, the
     * request waiting for its outcome, and which of the two it is. */
    srv_call_t *control;
    rk_http_wait_t *control_wait;
    bool control_pause;
    int64_t paused_mono; /* mono µs it was paused on its agent (0: not) */
    int64_t retry_at;    /* mono µs: redo the state's request then; 0 = now */
    int64_t attempt;     /* its ExecuteJobRequest attempt (RK_SRV_ATTEMPT_DOC) */
    bool attempt_known;  /* false for a recovered job until its record is read */
    int64_t timeout_s;   /* 0 = not known yet (recovered) */
    int64_t running_mono;
    rk_job_state_t agent_state; /* terminal state the agent reported (FETCHING) */
    int64_t created_mono;       /* when this server created it (0: recovered) */
    bool has_progress;          /* a running job's progress, as the agent last said */
    double progress;            /* 0..1; kept in place in the store, no history */
    char *agent_message;
    int result_tries;

    srv_job_t *rel_next; /* in the manager's release list */

    srv_create_t *waiter; /* a POST /jobs waiting for this job's first outcome */
    size_t waiter_idx;
    struct srv_retry *rt; /* its retry policy and start time (retry_mgr.c), or NULL */
    srv_dep_t *dep;       /* its depends_on and waiting_for (depend.c), or NULL */
};

struct srv_create {
    rk_http_wait_t *wait;
    uint64_t dirty_batch; /* batch number of its last job changed in a batch, +1 */
    int store_err;        /* a job of it could not be stored: answered 503 */
    bool key_busy;        /* its Idempotency-Key names a job already: answered 409 */
    rk_job_info_t *jobs;
    int64_t *timeouts;
    srv_job_t **waiting; /* [i]: job i while it still owes its first outcome */
    size_t n, unsettled;
    bool single;
    srv_create_t *next_fresh;
};

/* Moves j to state to; aborts (a programming error) when the table does
 * not allow it. */
void srv__job_to(srv_job_t *j, srv_jstate_t to);
/* The state's name, for logs and tests. */
const char *srv__jstate_name(srv_jstate_t s);

/* j's JobInfo as it stands (stored status), or NULL on ENOMEM. */
json_t *srv__job_info_json(const srv_job_t *j);
/* Stores st as j's status in the batch (history kept) and mirrors it in j,
 * with an event after the commit. */
void srv__job_store_status(rk_srv_mgr_t *m, srv_job_t *j, rk_job_state_t st, const char *msg);
/* True when j's stored status is terminal: it ended here, whatever the
 * agent reports later. */
bool srv__job_ended_here(const srv_job_t *j);
/* Gives the POST /jobs waiting for j (if any) j's status as it stands. */
void srv__job_settle(rk_srv_mgr_t *m, srv_job_t *j);
/* From the running list back to its place in its agent's queue (QUEUED);
 * a job placed from a pool goes back to its pool, unplaced (stored in the
 * batch), so another agent can take it. */
void srv__job_requeue(rk_srv_mgr_t *m, srv_job_t *j);
/* Stores assigned a queued job of a real agent with a free slot and takes
 * the slot (SENDING; the POST leaves after the commit). */
void srv__job_assign(rk_srv_mgr_t *m, srv_job_t *j);

/* queues.c: the agent's lists; a job knows which one it is in (list).
 * Each link takes a job in no list (SRV_L_NONE) and cannot fail. */
/* Puts j in its agent's queue at its place: by priority (j->prio), then
 * by arrival (j->seq), so a job given back returns to where it was. */
void srv__queue_add(srv_job_t *j);
/* The agent's next job to dispatch (highest priority, oldest), or NULL. */
srv_job_t *srv__queue_first(const srv_agent_t *a);
/* The job after j (queued) in dispatch order, or NULL. */
srv_job_t *srv__queue_next(const srv_job_t *j);
/* Appends j to its agent's held list (paused before it was sent). */
void srv__held_add(srv_job_t *j);
/* Appends j to its agent's running list: it holds a slot from now. */
void srv__running_add(srv_job_t *j);
/* Takes j out of whichever list it is in (none: no-op). */
void srv__list_unlink(srv_job_t *j);
/* The index: put (RK_ENOMEM, nothing added), get (NULL when not
 * tracked), del (j must be the indexed job; absent: no-op), cleanup. */
int srv__index_put(srv_index_t *ix, srv_job_t *j);
srv_job_t *srv__index_get(const srv_index_t *ix, const char *id);
void srv__index_del(srv_index_t *ix, srv_job_t *j);
void srv__index_cleanup(srv_index_t *ix);

/* journal.c: the batch's undo. */
/* Records what j is now, before its first store write of this batch
 * (idempotent within a batch). Cannot fail: the record is in j. */
void srv__journal_touch(rk_srv_mgr_t *m, srv_job_t *j);
/* Records j as created in this batch (it goes if the commit fails). */
void srv__journal_new(rk_srv_mgr_t *m, srv_job_t *j);
/* The batch committed: DELETEs due are sent, the records dropped. */
void srv__journal_committed(rk_srv_mgr_t *m);
/* The batch failed (err): every journaled job is put back as it was
 * (list, state, stored status); jobs created in it are dropped, their
 * creates answered 503. Runs before the batch's deferred work. */
void srv__journal_failed(rk_srv_mgr_t *m, int err);
/* Frees a job (no list, no journal); settles its waiter first. */
void srv__job_free(rk_srv_mgr_t *m, srv_job_t *j);

/* dispatch.c: a job's traffic with its agent. Each puts its request in
 * j->call (j->cancel for a cancel); when it cannot be sent, the job retries
 * after the poll interval. */
/* POST /jobs (SENDING); an experiment gone fails the job instead. */
void srv__job_send(rk_srv_mgr_t *m, srv_job_t *j);
/* GET /status/{id}: a long poll (wait) or the plain recovery ask. */
void srv__job_poll(rk_srv_mgr_t *m, srv_job_t *j, bool wait);
/* j's attempt, read from the store the first time for a recovered job
 * (0 when it has no record), or -1 when the store cannot say now. */
int64_t srv__job_attempt(rk_srv_mgr_t *m, srv_job_t *j);
/* Tells agent a (j's agent, or the one a drain took it from) to stop j;
 * forget: the answer is only logged, and the job may be freed meanwhile. */
void srv__job_send_cancel(rk_srv_mgr_t *m, srv_job_t *j, const srv_agent_t *a, bool forget);
/* The same, once the batch has committed the change that asks for it (a
 * stored cancel or timeout); dropped if the commit fails. Cannot fail:
 * the job joins the batch's journal, which the commit walks anyway. */
void srv__job_cancel_after_commit(rk_srv_mgr_t *m, srv_job_t *j, bool forget);

/* Places the jobs of create c (taken: freed once answered) in their
 * agents' queues, storing each; answers when none is still unsettled. */
void srv__jobs_create(rk_srv_mgr_t *m, srv_create_t *c);
/* Frees a create that never reached srv__jobs_create (its wait not used). */
void srv__create_free(srv_create_t *c);
/* Gives every create placed this iteration the answer of its jobs still
 * queued. */
void srv__jobs_settle_fresh(rk_srv_mgr_t *m);
/* Cancels tracked job j, not ended here (force: its agent kills it at
 * once): 200 when it is stored cancelled in this batch, 202 when its agent
 * is stopping it (it ends cancelled when the agent reports). */
int srv__job_cancel(rk_srv_mgr_t *m, srv_job_t *j, bool force);
/* bulk.c: cancels every tracked unfinished job f matches, for w (always
 * answered: 200 {cancelled, job_ids} after the commit). */
void srv__jobs_cancel_many(rk_srv_mgr_t *m, rk_http_wait_t *w, const rk_srv_cancel_filter_t *f);
/* The tracked job after position *pos of the index (start with 0), or
 * NULL at the end. For walks over every tracked job. */
srv_job_t *srv__index_next(const srv_index_t *ix, size_t *pos);
/* Cancels job_id for the waiting request w (always answered); force: the
 * agent kills it at once. */
void srv__jobs_cancel(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id, bool force);

/* pause.c: pause and resume for w (always answered). A job not sent yet
 * is held or put back in its old place here; one on its agent is paused
 * or resumed there and stored once the agent confirms. */
void srv__jobs_pause(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id);
void srv__jobs_resume(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id);
/* Sets job_id's priority for w (always answered): a job still queued is
 * stored with it (no history entry) and moves to its place at once;
 * otherwise 404 or 409. */
void srv__jobs_priority(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id,
                        rk_job_priority_t prio);
/* Moves queued jobs into free slots, storing them assigned (write ahead):
 * each agent's own queue, and the pools' jobs (pools.c), in one order. */
void srv__jobs_schedule(rk_srv_mgr_t *m, int64_t now);
/* True when agent a could start a job now (reachable, enabled, a free
 * slot, nothing exclusive running). */
bool srv__agent_open(const srv_agent_t *a, int64_t now);
/* Before the batch commits (srv__flush): the slots of jobs whose end is
 * stored in it take their agents' next queued jobs in the same batch, so
 * one commit stores both and the next job's POST leaves right after it
 * (not after a second commit). Safe by the journal: a failed commit puts
 * back the end and the assignment together, and nothing is sent before
 * the commit. */
void srv__jobs_refill(rk_srv_mgr_t *m);

/* ---- pools.c: placement on any matching agent ---- */

/* What only a pool (an srv_agent_t whose id is NULL) has. */
typedef struct srv_pool {
    char *key; /* experiment, selector and exclusive, as one string */
    char *experiment_id;
    json_t *selector; /* agent_selector labels, or NULL */
    bool exclusive;
    size_t refs;         /* jobs whose home it is; freed at 0 */
    unsigned char *elig; /* per agent ord: 0 unknown, 1 can run, 2 cannot */
    size_t elig_n;
    uint64_t elig_gen; /* the manager's elig_gen it was worked out for */
    srv_agent_t *next_pool;
} srv_pool_t;

/* The pool for jobs of experiment_id with selector (NULL: none) and
 * exclusive, created if needed (with no jobs yet), or NULL on ENOMEM.
 * The job that takes it as its home calls srv__pool_ref. */
srv_agent_t *srv__pool_get(rk_srv_mgr_t *m, const char *experiment_id, const json_t *selector,
                           bool exclusive);
/* A job takes pool p as its home / lets it go (the pool is freed when its
 * last job goes, unless the manager is shutting down). */
void srv__pool_ref(srv_agent_t *p);
void srv__pool_unref(rk_srv_mgr_t *m, srv_agent_t *p);
/* Puts j (in no list) back in its home pool, unplaced, with the store
 * write in the batch; a job without a home, or already home: no-op. */
void srv__job_unplace(rk_srv_mgr_t *m, srv_job_t *j);
/* True when a pool's first job that agent a could take now comes before
 * j (higher priority, or as high and older): a's slot waits for it. */
bool srv__pools_beat(rk_srv_mgr_t *m, srv_agent_t *a, const srv_job_t *j, int64_t now);
/* Places the pools' jobs on free agents, best job first, each on the
 * least loaded eligible agent; returns whether it placed any. */
bool srv__pools_place(rk_srv_mgr_t *m, int64_t now);
/* Frees every pool and its jobs without storing anything (shutdown). */
void srv__pools_free_all(rk_srv_mgr_t *m);
/* Sends what scheduling decided, after the commit made it durable. */
void srv__jobs_send_due(rk_srv_mgr_t *m, int64_t now);
/* Runs due retries and the server's backstop timeouts. */
void srv__jobs_tick(rk_srv_mgr_t *m, int64_t now);
/* Agent a became unreachable (msg says so): its running jobs end here,
 * those not yet sent go back to the front of its queue. */
void srv__jobs_agent_lost(rk_srv_mgr_t *m, srv_agent_t *a, const char *msg);
/* Agent a is being unregistered: up to max of the jobs it holds (queue
 * first, then running ones) are stored cancelled (msg) and released after
 * the commit; the agent is told of running ones when reachable. Returns
 * how many it took. */
size_t srv__jobs_agent_gone(rk_srv_mgr_t *m, srv_agent_t *a, const char *msg, size_t max);
/* Frees every job of a without storing anything (shutdown). */
void srv__jobs_free_all(rk_srv_mgr_t *m, srv_agent_t *a);
/* Adds a job recovered from the store to its agent (queued, or asking).
 * RK_ENOMEM, nothing kept. */
int srv__jobs_recover(rk_srv_mgr_t *m, srv_agent_t *a, const rk_job_brief_t *b);
/* The slot of j, released after the commit: unlinks and frees it. */
void srv__job_released(rk_srv_mgr_t *m, srv_job_t *j);

/* Experiments as dispatch needs them: the spec encoded for the
 * ExecuteJobRequest body, and the timeout. Experiments never change once
 * stored, so the manager keeps the ones it dispatches (dropped when one is
 * deleted) instead of reading and re-encoding them for every job. */
typedef struct srv_xcache {
    char *id;
    char *spec; /* compact JSON of the ExperimentSpec */
    int64_t timeout_s;
    uint64_t used; /* for evicting the least recently used */
} srv_xcache_t;

#define SRV_XCACHE_SIZE 64

/* The cached experiment id (read from the store on a miss), or NULL with
 * *rc set (RK_ENOENT, RK_EIO, RK_ENOMEM). Borrowed until the next call. */
const srv_xcache_t *srv__xcache_get(rk_srv_mgr_t *m, const char *id, int *rc);
/* Forgets experiment id (deleted); not kept: no-op. */
void srv__xcache_drop(rk_srv_mgr_t *m, const char *id);

/* ---- agents.c: the registry and health ---- */

struct srv_agent {
    char *id, *url;
    char *token; /* its own field: never in the AgentInfo answers show */
    int64_t slots;
    srv_job_t *q_root[RK_PRIORITY_COUNT]; /* the queue, a tree per priority (queues.c) */
    size_t n_queued;
    srv_job_t *r_head, *r_tail;
    size_t n_running;           /* counts against slots, whatever their state */
    size_t n_exclusive;         /* of those, exclusive jobs: nothing else starts beside one */
    srv_job_t *h_head, *h_tail; /* held (paused before sent): no slot */
    size_t n_held;
    int64_t first_fail; /* mono µs of the first failed call since a success */
    bool unavailable;
    bool known_error;   /* its last GET /status said error */
    int64_t hold_until; /* after a busy answer: no dispatch before */
    int64_t health_at;
    srv_call_t *health;
    rk_http_wait_t *leaving; /* unregister under way (answered when done) */
    rk_srv_sched_t sched;    /* paused and draining agents get no new jobs */
    int64_t drain_at;        /* mono µs past which a draining agent's jobs go back (0: never) */
    int64_t freed_mono;      /* a slot freed then (mono µs), until the next send */
    size_t freeing;          /* srv__jobs_refill's count of its jobs ending in the batch */
    uint64_t placed;         /* the manager's place_clock when it last got a pool's job */
    size_t ord;              /* its index in the pools' eligibility arrays */
    srv_pool_t *pool;        /* a pool (id NULL) of unplaced jobs; NULL for an agent */
    srv_agent_t *next;
};

/* Unregistering an agent cancels its jobs a batch per loop iteration, so
 * other commands get through meanwhile and memory stays that of a batch:
 * at most this many jobs, and about SRV_LEAVE_BUDGET_US of work (the
 * commit comes on top). */
#define SRV_LEAVE_BATCH 4096
#define SRV_LEAVE_BUDGET_US 3000

/* The registered agent id, or NULL. Borrowed. */
srv_agent_t *srv__agent_find(rk_srv_mgr_t *m, const char *id);
/* Adds r to the registry (copied, with token: NULL for none). NULL on
 * ENOMEM, nothing added. */
srv_agent_t *srv__agent_add(rk_srv_mgr_t *m, const rk_registered_agent_t *r, const char *token);
/* A call to a answered: it is reachable. */
void srv__agent_ok(rk_srv_mgr_t *m, srv_agent_t *a);
/* A call to a failed (why: for the log); past the agent timeout it
 * becomes unavailable and its jobs are handed to srv__jobs_agent_lost. */
void srv__agent_failed(rk_srv_mgr_t *m, srv_agent_t *a, const char *why);
/* Health checks and the agent timeout. */
void srv__agents_tick(rk_srv_mgr_t *m, int64_t now);
/* One batch of each unregistration under way (SRV_LEAVE_BATCH), its own
 * commit; the last removes the agent and answers. Run last in the loop's
 * iteration, so the iteration's commands go out before it. */
void srv__agents_leave(rk_srv_mgr_t *m);
/* Frees every agent and its jobs without storing anything (shutdown). */
void srv__agents_free_all(rk_srv_mgr_t *m);
/* The register and unregister commands: each answers w (always). url and
 * token (may be NULL) are copied. */
void srv__agent_register(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *url, const char *token);
void srv__agent_unregister(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id);

/* agent_sched.c: an agent's scheduling (pause, resume, drain). */
/* The command for w (always answered: 200 RegisteredAgentInfo once
 * stored, 404 for an agent not registered): to is the new scheduling;
 * deadline_s (draining only, < 0: none) starts the drain's clock. */
void srv__agent_schedule(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id,
                         rk_srv_sched_t to, double deadline_s);
/* Reads a's stored scheduling (at recovery). 0, or the store's error. */
int srv__agent_sched_load(rk_srv_mgr_t *m, srv_agent_t *a);
/* Past a draining agent's deadline, its running jobs go back to its queue
 * (stored queued, the agent told to stop them). */
void srv__agents_drain_tick(rk_srv_mgr_t *m, int64_t now);
/* standby.c: confirms, once a second, that this server still holds the
 * dispatch lock (a cut session is noticed without waiting for a write). */
void srv__lead_tick(rk_srv_mgr_t *m, int64_t now);

/* ---- jobmgr.c: the batch ---- */

typedef struct deferred_finish {
    rk_http_wait_t *wait;
    rk_http_resp_t *resp;
    bool needs_commit; /* tells of a change of this batch: 503 if it fails */
} deferred_finish_t;

struct rk_srv_mgr {
    rk_server_t *srv;
    rk_store_t *store;
    rk_srv_events_t *events;
    rk_srv_mgr_config_t cfg;
    int64_t lead_checked_us;  /* standby.c: when the dispatch lock was last confirmed */
    rk_http_client_t *client; /* the loop's clock and task queue; the default transport */
    const srv_transport_t *tp;
    void *tp_ctx;
    /* Answers to waiting requests (rk_http_wait_finish / _release unless a
     * test watches them). */
    int (*reply_finish)(rk_http_wait_t *w, rk_http_resp_t *resp);
    void (*reply_release)(rk_http_wait_t *w);
    pthread_t thread;
    bool running;
    volatile int stop; /* set by rk_srv_mgr_stop (through a task) */

    srv_agent_t *agents;
    srv_agent_t *pools;   /* unplaced jobs by what may run them (pools.c) */
    uint64_t elig_gen;    /* bumped when an agent (re-)registers */
    size_t agent_ords;    /* ords handed out so far */
    uint64_t place_clock; /* counts placements: which agent got one longest ago */
    bool pools_closing;   /* shutdown: pools are freed explicitly */
    srv_index_t index;    /* every tracked job by id */
    srv_call_t *calls;
    srv_create_t *fresh; /* creates to settle after this iteration's scheduling */

    bool in_txn;
    int batch_err;      /* a write of this batch failed (or begin did): it fails */
    uint64_t batch;     /* number of the current batch */
    srv_job_t *journal; /* jobs changed in this batch, newest first */
    deferred_finish_t *finishes;
    size_t n_finishes, cap_finishes;
    json_t *pending_events;         /* array of [type, data] */
    srv_job_t *rel_head, *rel_tail; /* RELEASING jobs, through rel_next */
    bool again;                     /* something changed: loop again without waiting */

    srv_xcache_t xcache[SRV_XCACHE_SIZE];
    uint64_t xcache_clock;
    srv_deps_t *deps; /* dependency id -> dependents (depend.c), or NULL */

    /* Webhooks (webhooks.h; the server's, borrowed), or NULL when none is
     * configured: then srv__event writes nothing more. */
    struct srv_hooks *hooks;
    /* Queued jobs kept out of their queues until their not_before: a
     * min-heap by that time (retry_mgr.c). */
    srv_job_t **delay;
    size_t n_delay, cap_delay;
    struct srv_schedules *schedules; /* schedules.c: when each fires next */
};

/* ---- retry_mgr.c: attempts and start times (issue 12) ---- */

/* What a job with jobs-over-time fields carries: its extra as stored, the
 * policy read from it, and its place in the delay heap. */
typedef struct srv_retry {
    json_t *extra;        /* as stored (attempt, max_attempts, retry, not_before, ...) */
    int64_t attempt;      /* 1-based: the attempt now queued or under way */
    int64_t max_attempts; /* 1: no retries */
    double backoff_s;     /* the wait after attempt 1; doubles per attempt */
    double max_backoff_s; /* the longest wait */
    unsigned on;          /* causes retried: 1u << SRV_CAUSE_* */
    rk_time_t not_before; /* wall µs; 0: none */
    size_t heap_i;        /* its index in the delay heap + 1; 0: not in it */
} srv_retry_t;

enum { SRV_CAUSE_FAILED, SRV_CAUSE_TIMEOUT, SRV_CAUSE_AGENT_LOST };

/* Gives j what extra (borrowed, copied) says (NULL: nothing). RK_ENOMEM,
 * j unchanged. */
int srv__retry_attach(srv_job_t *j, const json_t *extra);
/* Takes j out of the delay heap and drops its retry state (job_free). */
void srv__retry_free(rk_srv_mgr_t *m, srv_job_t *j);
/* A QUEUED job in no list whose not_before is still ahead goes into the
 * delay heap instead of its queue: true. False: queue it now. */
bool srv__delay_hold(rk_srv_mgr_t *m, srv_job_t *j);
/* True while j waits in the delay heap. */
bool srv__delay_holds(const srv_job_t *j);
/* Takes j out of the delay heap (not there: no-op); its not_before stays. */
void srv__delay_drop(rk_srv_mgr_t *m, srv_job_t *j);
/* Moves the jobs whose time came into their queues. */
void srv__delay_tick(rk_srv_mgr_t *m);
/* max_ms, or less when the earliest waiting job is due sooner. */
int srv__delay_wait_ms(const rk_srv_mgr_t *m, int max_ms);
/* Agent a is being unregistered: its waiting jobs are stored cancelled
 * (msg) and released after the commit. Returns how many. */
size_t srv__delay_agent_gone(rk_srv_mgr_t *m, srv_agent_t *a, const char *msg);
/* Frees every waiting job without storing anything (shutdown). */
void srv__delay_free_all(rk_srv_mgr_t *m);
/* An attempt of j ended st (failed or timeout) with msg; agent_lost: the
 * agent lost it (restarted without it, or unreachable past the timeout).
 * When its policy retries that cause and attempts remain, the end is
 * stored in its history, its result kept as the attempt's, and j goes
 * back to queued, waiting for its backoff: true (the caller stops there).
 * False: the caller ends the job as before. */
bool srv__retry_take(rk_srv_mgr_t *m, srv_job_t *j, rk_job_state_t st, const char *msg,
                     bool agent_lost);

/* metrics.c: the server's families and their scrape-time collector
 * (RK_ENOMEM); the per-agent gauges, set from the manager thread at most
 * once a second. */
int srv__metrics_init(rk_server_t *srv);
void srv__metrics_agents(rk_srv_mgr_t *m, int64_t now);

/* One iteration of the manager's loop (waiting up to timeout_ms for
 * answers and commands); the thread runs it until stopped, tests drive it
 * step by step. */
void srv__mgr_step(rk_srv_mgr_t *m, int timeout_ms);
/* Opens the batch's transaction if none is open. RK_E* when it cannot
 * (the batch then fails: write nothing). */
int srv__txn(rk_srv_mgr_t *m);
/* Records that a write of this batch failed with rc (0: no-op): the
 * batch will not commit. Returns rc. */
int srv__batch_error(rk_srv_mgr_t *m, int rc);
/* Commits the batch, then answers, frees released slots, publishes. When
 * the commit fails (or a write failed), it is rolled back and memory put
 * back as the store holds it (journal.c); answers telling of the batch's
 * changes become 503, its events are dropped, and no slot it freed is
 * reused (docs/architecture.md, "When a commit fails"). Returns 0 or the
 * batch's error. */
int srv__flush(rk_srv_mgr_t *m);
/* Queues an event (data taken; NULL ignored) for after the commit. */
void srv__event(rk_srv_mgr_t *m, const char *type, json_t *data);
/* Drops w unanswered (its request gets 503 now). NULL: no-op. */
void srv__release(rk_srv_mgr_t *m, rk_http_wait_t *w);
/* Answers w with resp (both taken) after the commit. */
void srv__finish(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_http_resp_t *resp);
/* Answers w with status and body (taken) after the commit. */
void srv__answer_json(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, json_t *body);
/* The same for an answer that tells of a change made in this batch: it
 * becomes 503 if the batch fails. */
void srv__answer_change(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, json_t *body);
/* Answers w with an error after the commit. */
void srv__answer_error(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers w with store error rc about what, after the commit. */
void srv__answer_store_error(rk_srv_mgr_t *m, rk_http_wait_t *w, int rc, const char *what);
/* Queues j (in state RELEASING) to have its slot freed after the commit
 * (srv__job_released then). Cannot fail: the list is intrusive. */
void srv__release_later(rk_srv_mgr_t *m, srv_job_t *j);

#endif
