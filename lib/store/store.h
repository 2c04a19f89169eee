/* Storage: the backend interface the server's managers keep their state in.
 *
 * Storage is the truth; the server's memory is an index rebuilt from it at
 * start (see shared/design.md). A backend is a table of functions
 * (rk_store_ops_t, after SQLite's sqlite3_io_methods) found by name in a
 * registry: "memory" (tests, throwaway runs), "sqlite" (the embedded
 * default) and "postgresql" (several servers sharing one database).
 * Callers use the rk_store_* wrappers below, never the table directly.
 *
 * Contract for every backend
 * - Thread safety: every operation may be called from any thread. Reads
 *   may run concurrently with writes and see only committed state (plus the
 *   calling thread's own open transaction).
 * - Transactions: rk_store_begin / rk_store_commit group the calling
 *   thread's writes into one atomic, durable unit (group commit: the job
 *   manager applies a batch of changes, then commits once). Writes outside
 *   begin/commit are committed one by one. Only one thread holds an open
 *   transaction at a time; another thread's begin waits for it. Not nested.
 * - Durability: once a write (or its group's commit) returns 0, it survives
 *   a kill -9 of the process (sqlite: WAL with synchronous=NORMAL; see
 *   docs/storage.md for what survives power loss).
 * - Ownership: input structs are read, never kept. Output structs and
 *   arrays are the caller's: free them with the model's _cleanup function
 *   and the matching rk_store_*_free helper.
 * - Errors: 0, or RK_ENOENT (no such object), RK_EEXIST (duplicate id),
 *   RK_ESTATE (refused in the current state), RK_EINVAL (bad argument),
 *   RK_EIO (the backend failed; logged by the backend), RK_ENOMEM.
 *
 * Jobs: a job's current status and its full history are kept. The seed's
 * per-agent job sets are views over the status: running (assigned or
 * running), queued (in creation order: queued jobs are taken oldest first,
 * so a job given back after a busy answer keeps its place at the front),
 * completed, and failed (failed, cancelled, timeout). Every job gets a
 * sequence number, unique and increasing in creation order: the queue
 * order and the paging cursor.
 *
 * Unfinished jobs are queued, assigned, running and paused (a paused job
 * holds its place in the queue, or its slot on its agent); every backend
 * counts paused among them wherever it picks unfinished jobs out. A job
 * may be stored unplaced (agent_id NULL: "any" agent) and placed later
 * (job_place); listings filtered by agent_id "" give the unplaced ones.
 */
#ifndef RK_STORE_STORE_H
#define RK_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/agent.h"
#include "model/experiment.h"
#include "model/job.h"
#include "model/result.h"

/* The version of rk_store_ops_t: bumped whenever a slot is added, removed
 * or changes meaning. rk_store_open refuses a table of another version. */
#define RK_STORE_OPS_VERSION 7

typedef struct rk_store rk_store_t;

/* Which jobs a listing returns; NULL or 0 fields match everything. */
typedef struct rk_job_filter {
    unsigned state_mask;       /* bit (1u << rk_job_state_t); 0 = all states */
    const char *agent_id;      /* NULL = all agents */
    const char *experiment_id; /* NULL = all experiments */
} rk_job_filter_t;

typedef struct rk_result_filter {
    const char *experiment_id;
    const char *agent_id;
} rk_result_filter_t;

/* One page of a newest-first listing. cursor 0 starts at the newest;
 * next_cursor is 0 when there is nothing after this page. */
typedef struct rk_page {
    int64_t cursor;      /* in: where to start (exclusive), 0 = from the newest */
    size_t limit;        /* in: page size, at least 1 */
    int64_t next_cursor; /* out */
    uint64_t total;      /* out: all matching items, not just this page (jobs only) */
} rk_page_t;

/* What a start-up scan reports of an unfinished job: enough to rebuild the
 * in-memory queues and running sets, small enough for a million of them. */
typedef struct rk_job_brief {
    const char *job_id;
    const char *experiment_id;
    const char *agent_id; /* NULL: not placed yet */
    rk_job_state_t state;
    int64_t seq;
    rk_job_priority_t priority;
    bool exclusive;
    const json_t *selector_labels; /* NULL: none */
    const json_t *extra;           /* the JobInfo's extra (retries, dependencies...); NULL: none */
} rk_job_brief_t;

/* Called for each job of a scan, in sequence order; the strings are valid
 * during the call only. A non-zero return stops the scan and is returned. */
typedef int (*rk_job_scan_fn)(void *ud, const rk_job_brief_t *job);

/* One job a purge deleted: its id and agent (NULL: it was never placed),
 * so the caller can tell the agent to drop its copy. */
typedef struct rk_job_purged {
    char *job_id;
    char *agent_id;
} rk_job_purged_t;

/* One call of job_purge_finished: what to delete and what went. Set the
 * inputs, zero the rest; free the outputs with rk_store_job_purge_cleanup. */
typedef struct rk_job_purge {
    rk_time_t before;        /* in: finished jobs whose current status time is < before */
    int64_t after_seq;       /* in/out: examine jobs with seq > after_seq; 0 from the oldest */
    size_t limit;            /* in: examine at most this many candidates (>= 1) */
    const char *const *keep; /* in: job ids never deleted (e.g. baselines' jobs) */
    size_t n_keep;
    rk_job_purged_t *jobs; /* out: the jobs deleted, oldest first */
    size_t n_jobs;
    size_t n_results; /* out: how many of them had a result */
    bool more;        /* out: candidates may remain after after_seq: call again */
} rk_job_purge_t;

typedef struct rk_store_ops {
    int version; /* RK_STORE_OPS_VERSION */
    const char *name;

    /* Opens the store described by location (a file path for sqlite, a
     * connection string for postgresql, ignored by memory), creating or
     * migrating its schema. */
    int (*open)(const char *location, rk_store_t **out);
    void (*close)(rk_store_t *s);

    int (*begin)(rk_store_t *s);
    int (*commit)(rk_store_t *s);
    int (*rollback)(rk_store_t *s);

    /* Agents, keyed by agent_id. put inserts or replaces. */
    int (*agent_put)(rk_store_t *s, const rk_registered_agent_t *a);
    int (*agent_get)(rk_store_t *s, const char *agent_id, rk_registered_agent_t *out);
    int (*agent_list)(rk_store_t *s, rk_registered_agent_t **out, size_t *n);
    int (*agent_delete)(rk_store_t *s, const char *agent_id);

    /* Experiments, stored whole (unknown fields kept), keyed by id. */
    int (*experiment_insert)(rk_store_t *s, const rk_experiment_t *x);
    int (*experiment_get)(rk_store_t *s, const char *id, rk_experiment_t *out);
    int (*experiment_list)(rk_store_t *s, rk_experiment_t **out, size_t *n);
    /* Without cascade: RK_ESTATE while any job refers to it. With cascade:
     * RK_ESTATE while one of its jobs is unfinished; otherwise its jobs,
     * their history and results go with it. */
    int (*experiment_delete)(rk_store_t *s, const char *id, bool cascade);

    /* Inserts a job with its first status (job->status, which also starts
     * its history; job->history is ignored). *seq gets its sequence number.
     * RK_EEXIST for a job_id already stored. */
    int (*job_insert)(rk_store_t *s, const rk_job_info_t *job, int64_t *seq);
    /* Makes st the job's current status and appends it to its history. The
     * store does not judge transitions: the job manager does. */
    int (*job_set_status)(rk_store_t *s, const char *job_id, const rk_job_status_t *st);
    /* Sets the progress (0..1) of the job's current status in place, no
     * history entry: a running job's progress moves often. Optional (NULL:
     * progress is not kept); RK_ENOENT for an unknown job. */
    int (*job_set_progress)(rk_store_t *s, const char *job_id, double progress);
    /* Sets the job's priority (no history entry; the manager decides when
     * it may change). RK_ENOENT for an unknown job, RK_EINVAL for a value
     * out of range. */
    int (*job_set_priority)(rk_store_t *s, const char *job_id, rk_job_priority_t priority);
    /* Places the job on agent_id, or back to unplaced with NULL (no history
     * entry; its status is set apart). RK_ENOENT for an unknown job. */
    int (*job_place)(rk_store_t *s, const char *job_id, const char *agent_id);
    /* The job; with_history fills history (oldest first) and has_history. */
    int (*job_get)(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out);
    /* A newest-first page of the jobs matching f, without history. */
    int (*job_list)(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                    size_t *n);
    /* Calls fn for every job whose state is in state_mask, oldest first. */
    int (*job_scan)(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud);

    /* Results, stored whole, keyed by job_id; r->agent_id must be set. put
     * inserts or replaces. */
    int (*result_put)(rk_store_t *s, const rk_result_t *r);
    int (*result_get)(rk_store_t *s, const char *job_id, rk_result_t *out);
    /* A newest-first page (by the job's sequence) of results matching f. */
    int (*result_list)(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                       rk_result_t **out, size_t *n);
    /* The same page as result_list, as the results' stored JSON texts
     * (compact, what rk_result_encode gave at put; not decoded): *out is a
     * new array of *n malloc'd strings, freed with rk_store_texts_free
     * (also on failure, for what *n counts). For listings that pass the
     * text through (GET /results) without a decode and re-encode. */
    int (*result_list_text)(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                            char ***out, size_t *n);

    /* Small documents by kind and id (baselines, and later other settings
     * the managers keep): JSON text stored whole, in the transaction like
     * any write. put inserts or replaces; get and delete RK_ENOENT when
     * absent; list gives every id and text of a kind, in id order (the
     * caller frees both arrays with rk_store_docs_free). Optional: a backend
     * without them answers RK_EUNSUP through the wrappers. */
    int (*doc_put)(rk_store_t *s, const char *kind, const char *id, const char *json);
    int (*doc_get)(rk_store_t *s, const char *kind, const char *id, char **json);
    int (*doc_list)(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n);
    int (*doc_delete)(rk_store_t *s, const char *kind, const char *id);

    /* Optional (NULL = single server: always granted). Takes or renews the
     * lease on dispatching agent_id's jobs for owner until ttl_ms from now;
     * RK_EBUSY while another owner's lease is live. For several servers
     * sharing one database (shared/design.md, "Who decides"). */
    int (*lease_acquire)(rk_store_t *s, const char *agent_id, const char *owner, int64_t ttl_ms);

    /* Optional (NULL = one server per database, which the backend ensures
     * itself: always granted). Makes this store the database's one
     * dispatcher: RK_EBUSY while another store (another server) is, or
     * until this store's asks have seen the place free for grace_ms (so a
     * dispatcher cut off for a moment takes it back first; a store that
     * never saw it taken takes it at once), and
     * RK_ECONN/RK_EIO while the database cannot be asked. Once granted it
     * holds until the store closes or loses it (the database restarted and
     * another took it first): then every later write answers RK_EIO and
     * lost(arg) is called once, from whichever thread noticed. Called
     * again by the leader, it confirms the lock is still its own (a cut
     * session is noticed without waiting for a write). */
    int (*lead)(rk_store_t *s, int64_t grace_ms, void (*lost)(void *arg), void *arg);

    /* Replaces the job's extra (JobInfo's jobs-over-time fields: attempt,
     * waiting_for, not_before...; NULL or {} clears it), no history entry:
     * the manager records what it means in the status it stores beside.
     * RK_ENOENT for an unknown job, RK_EINVAL when extra is not an object. */
    int (*job_set_extra)(rk_store_t *s, const char *job_id, const json_t *extra);

    /* Retention (version 5). Deletes finished jobs (completed, failed,
     * timeout, cancelled) whose current status time is before p->before,
     * oldest (lowest seq) first, with their history, their result and
     * every document keyed by the job (any kind, id equal to the job id or
     * starting with "<job_id>/"). It examines at most p->limit candidates
     * with seq > p->after_seq (the ids in p->keep are skipped, not
     * deleted), deletes them as one atomic unit (inside the caller's
     * transaction if one is open, else committed on return), moves
     * after_seq past the last one examined and sets more when limit
     * candidates were examined. Unfinished jobs are never deleted, also
     * when one changes state during the call. Listing totals and per-key
     * counters stay exact; sequence numbers are never reused. */
    int (*job_purge_finished)(rk_store_t *s, rk_job_purge_t *p);
    /* Deletes one job with its history, result and documents (as above):
     * RK_ENOENT for an unknown job, RK_ESTATE unless it is finished.
     * *had_result (may be NULL) says whether it had a result. */
    int (*job_purge)(rk_store_t *s, const char *job_id, bool *had_result);

    /* Compare and swap a document: replaces its text with json only while
     * it is still exactly expect; RK_ESTATE (nothing written) when it is
     * absent or another writer changed it since (with several servers on
     * one database: a concurrent writer's change waits for its commit, then
     * counts). What claims a schedule's firing once (lib/server/schedules.c).
     * Optional: RK_EUNSUP through the wrapper. */
    int (*doc_replace)(rk_store_t *s, const char *kind, const char *id, const char *expect,
                       const char *json);

    /* Idempotency keys (version 7). job_insert stores job->idem_key and
     * idem_fp with the job (a key names at most one job: RK_EEXIST, nothing
     * stored, for a key another job holds) and job_get gives them back;
     * they go with the job when it is deleted. find_key names the job
     * that holds key, and its fingerprint, as malloc'd strings; RK_ENOENT
     * when none does. Like any read it sees the caller's own open
     * transaction. */
    int (*job_find_key)(rk_store_t *s, const char *key, char **job_id, char **fp);
} rk_store_ops_t;

/* Every backend's instance starts with this header. */
struct rk_store {
    const rk_store_ops_t *ops;
};

/* The registered backends' names, NULL-terminated ("memory", "sqlite",
 * "postgresql"). */
const char *const *rk_store_backends(void);
/* The ops of a backend by name, NULL if none has it. */
const rk_store_ops_t *rk_store_find(const char *name);
/* Opens backend `name` at location. RK_ENOENT for an unknown backend. */
int rk_store_open(const char *name, const char *location, rk_store_t **out);
/* Opens the backend of the table ops at location (what rk_store_open does
 * once it has found the table; also for a table of the caller's, e.g. a
 * test's wrapper). RK_EINVAL (logged) when ops->version is not
 * RK_STORE_OPS_VERSION (the table was written against another version of
 * this interface, so its slots may not mean what this build calls them
 * for) or a required slot is NULL; otherwise what ops->open returns. */
int rk_store_open_ops(const rk_store_ops_t *ops, const char *location, rk_store_t **out);
/* Closes and frees; NULL is a no-op. */
void rk_store_close(rk_store_t *s);
/* The file of a sqlite location ("PATH" or "PATH?synchronous=full"),
 * malloc'd; NULL for a location the sqlite backend would refuse, or when
 * memory runs out. */
char *rk_store_sqlite_file(const char *location);

/* Thin wrappers over the slots, same contracts as above. */
int rk_store_begin(rk_store_t *s);
int rk_store_commit(rk_store_t *s);
int rk_store_rollback(rk_store_t *s);
int rk_store_agent_put(rk_store_t *s, const rk_registered_agent_t *a);
int rk_store_agent_get(rk_store_t *s, const char *agent_id, rk_registered_agent_t *out);
int rk_store_agent_list(rk_store_t *s, rk_registered_agent_t **out, size_t *n);
int rk_store_agent_delete(rk_store_t *s, const char *agent_id);
int rk_store_experiment_insert(rk_store_t *s, const rk_experiment_t *x);
int rk_store_experiment_get(rk_store_t *s, const char *id, rk_experiment_t *out);
int rk_store_experiment_list(rk_store_t *s, rk_experiment_t **out, size_t *n);
int rk_store_experiment_delete(rk_store_t *s, const char *id, bool cascade);
int rk_store_job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq);
int rk_store_job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *st);
int rk_store_job_set_progress(rk_store_t *s, const char *job_id, double progress);
int rk_store_job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority);
int rk_store_job_place(rk_store_t *s, const char *job_id, const char *agent_id);
int rk_store_job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra);
int rk_store_job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out);
int rk_store_job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp);
int rk_store_job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                      size_t *n);
int rk_store_job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud);
int rk_store_result_put(rk_store_t *s, const rk_result_t *r);
int rk_store_result_get(rk_store_t *s, const char *job_id, rk_result_t *out);
int rk_store_result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                         rk_result_t **out, size_t *n);
int rk_store_result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                              char ***out, size_t *n);
int rk_store_lease_acquire(rk_store_t *s, const char *agent_id, const char *owner, int64_t ttl_ms);
int rk_store_lead(rk_store_t *s, int64_t grace_ms, void (*lost)(void *arg), void *arg);
int rk_store_doc_put(rk_store_t *s, const char *kind, const char *id, const char *json);
int rk_store_doc_get(rk_store_t *s, const char *kind, const char *id, char **json);
int rk_store_doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n);
int rk_store_doc_delete(rk_store_t *s, const char *kind, const char *id);
void rk_store_docs_free(char **ids, char **jsons, size_t n);
int rk_store_job_purge_finished(rk_store_t *s, rk_job_purge_t *p);
int rk_store_job_purge(rk_store_t *s, const char *job_id, bool *had_result);
int rk_store_doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                         const char *json);
/* Frees p's outputs (jobs) and zeroes them; the inputs are left alone. */
void rk_store_job_purge_cleanup(rk_job_purge_t *p);
/* True when id is job_id or starts with "<job_id>/": the documents a
 * purge of job_id deletes. */
bool rk_store_doc_of_job(const char *id, const char *job_id);

/* Free arrays returned by the list operations (each element cleaned up). */
void rk_store_agents_free(rk_registered_agent_t *v, size_t n);
void rk_store_experiments_free(rk_experiment_t *v, size_t n);
void rk_store_jobs_free(rk_job_info_t *v, size_t n);
void rk_store_results_free(rk_result_t *v, size_t n);
/* Frees the texts of rk_store_result_list_text (NULL is a no-op). */
void rk_store_texts_free(char **v, size_t n);

#endif
