/* The "memory" backend: everything in this process, gone at exit. For
 * tests and throwaway runs; same contract as the others, durability aside.
 * Its insides, shared by:
 *
 * - memory.c: locks, open and close, transactions and the undo log, agents
 *   and experiments, the ops table (rk_store_memory_ops);
 * - memory_index.c: the job hash by id, the AVL trees by seq, the groups;
 * - memory_docs.c: documents;
 * - memory_jobs.c: jobs (insert, status, progress, priority, extra, place,
 *   get, list, scan) and results;
 * - memory_purge.c: retention (job_purge_finished, job_purge).
 *
 * An unplaced job ("any" agent) keeps agent_id "" here, so its agent group
 * is the "" group (what a listing filtered by agent "" reads), and reads
 * give NULL back.
 *
 * Jobs live in an array indexed by seq - 1 (NULL once deleted), plus a
 * chained hash by job_id and one by Idempotency-Key for the jobs with one. A job's result hangs on
 * the job. Agents and experiments are few: arrays of JSON text sorted by id.
 *
 * Internal to lib/store.
 */
#ifndef RK_STORE_MEMORY_INT_H
#define RK_STORE_MEMORY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/store_int.h"

/* A node of an index tree: an AVL tree keyed by seq, the node inside the
 * job or result it stands for. */
typedef struct tnode {
    struct tnode *l, *r;
    int64_t seq;
    int h;
} tnode_t;

/* The groups a job or result is indexed in, by what they share. */
enum { G_ALL, G_AGENT, G_EXP, G_PAIR, G_KINDS };

typedef struct group {
    int kind;
    char *agent_id, *experiment_id;    /* those the kind has, else NULL */
    tnode_t *jobs[RK_JOB_STATE_COUNT]; /* its jobs in each state */
    size_t n_jobs[RK_JOB_STATE_COUNT];
    tnode_t *results;
    struct group *next; /* hash chain */
} group_t;

typedef struct mres {
    char *text; /* the result's JSON */
    char *experiment_id;
    char *agent_id;
    group_t *grp[G_KINDS];
    tnode_t node[G_KINDS];
} mres_t;

typedef struct mjob {
    int64_t seq;
    char *job_id, *experiment_id, *agent_id; /* agent_id "": unplaced */
    rk_time_t created;
    rk_job_priority_t priority;
    bool exclusive;
    json_t *selector; /* agent_selector labels, or NULL */
    json_t *extra;    /* the JobInfo's extra, or NULL */
    char *idem_key;   /* its Idempotency-Key and fingerprint, or NULL */
    char *idem_fp;
    rk_job_status_t *hist; /* oldest first; the last one is the status */
    size_t n_hist, cap_hist;
    /* The status's progress: set from the status when it is appended, then
     * moved in place by job_set_progress, which leaves the history entry as
     * it was appended (as the SQL backends do). */
    double progress;
    bool has_progress;
    mres_t *res;
    struct mjob *next;  /* hash chain */
    struct mjob *knext; /* key hash chain (with idem_key) */
    group_t *grp[G_KINDS];
    tnode_t node[G_KINDS]; /* in grp[k]->jobs[its state] */
} mjob_t;

typedef struct entry {
    char *id;
    char *text;
} entry_t;

typedef struct table {
    entry_t *v;
    size_t n, cap;
} table_t;

enum {
    U_AGENT,
    U_EXP,
    U_JOB_INSERT,
    U_JOB_STATUS,
    U_JOB_DELETE,
    U_RESULT,
    U_DOC,
    U_PROGRESS,
    U_PRIORITY,
    U_PLACE,
    U_EXTRA
};

typedef struct undo {
    int kind;
    char *id, *text; /* U_AGENT, U_EXP, U_DOC: the key and its old text (NULL: absent);
                        U_PLACE: id is the job's old agent_id */
    mjob_t *job;
    mres_t *res;     /* U_RESULT: the old result */
    double progress; /* U_PROGRESS: the old progress of the job's status */
    bool had_progress;
    rk_job_priority_t priority; /* U_PRIORITY: the old priority */
    json_t *extra;              /* U_EXTRA: the old extra (owned), or NULL */
} undo_t;

typedef struct mem {
    rk_store_t base;
    pthread_rwlock_t lock;
    atomic_long owner; /* thread id holding the open transaction, 0 = none */
    table_t agents, experiments;
    table_t docs; /* keyed "kind\x1fid" */
    mjob_t **jobs;
    size_t n_jobs, cap_jobs; /* n_jobs = the last seq handed out */
    mjob_t **buckets;
    size_t n_buckets, n_hashed;
    mjob_t **kbuckets; /* the jobs with an idem_key, by it */
    size_t n_kbuckets, n_khashed;
    group_t all; /* the G_ALL group */
    group_t **gbuckets;
    size_t n_gbuckets, n_groups;
    undo_t *undo;
    size_t n_undo, cap_undo;
} mem_t;

#define M(s) ((mem_t *)(s))

/* memory.c: the lock (which the thread holding the open transaction
 * skips), array growth, the agents, experiments and documents tables, and
 * the undo log. */
void mem__rlock(mem_t *m);
void mem__wlock(mem_t *m);
void mem__unlock(mem_t *m);
int mem__grow(void **v, size_t *cap, size_t need, size_t elem);
const char *mem__table_get(const table_t *t, const char *id);
int mem__put_text(mem_t *m, int kind, const char *id, char *text);
void mem__undo_push(mem_t *m, undo_t u);
int mem__reserve(mem_t *m, size_t k);

/* memory_index.c: the job hash, the trees and the groups. */
mjob_t *mem__job_find(mem_t *m, const char *job_id);
/* The job holding Idempotency-Key key, or NULL. */
mjob_t *mem__key_find(mem_t *m, const char *key);
/* Hash j by id and, with one, by its key (unhash: out of both). */
int mem__job_hash(mem_t *m, mjob_t *j);
void mem__job_unhash(mem_t *m, mjob_t *j);
const tnode_t *mem__tpred(const tnode_t *t, int64_t c);
const mjob_t *mem__node_job(const tnode_t *n, int kind);
const mres_t *mem__node_res(const tnode_t *n, int kind);
group_t *mem__group_find(mem_t *m, const char *agent_id, const char *experiment_id);
int mem__groups_get(mem_t *m, const char *agent_id, const char *experiment_id, group_t *g[G_KINDS]);
void mem__groups_free(mem_t *m);
rk_job_state_t mem__job_state(const mjob_t *j);
void mem__job_index(mjob_t *j, rk_job_state_t st, bool add);
void mem__res_index(mres_t *r, int64_t seq, bool add);
void mem__job_restate(mjob_t *j, rk_job_state_t from, rk_job_state_t to);
void mem__tree_jobs(const tnode_t *t, int kind, mjob_t **v, size_t *n);

/* memory_docs.c: the document slots. */
int mem__doc_put(rk_store_t *s, const char *kind, const char *id, const char *json);
int mem__doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                     const char *json);
int mem__doc_get(rk_store_t *s, const char *kind, const char *id, char **json);
int mem__doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n);
int mem__doc_delete(rk_store_t *s, const char *kind, const char *id);

/* memory_jobs.c: freeing a job or a result, and the jobs and results
 * slots. */
void mem__res_free(mres_t *r);
void mem__job_free(mjob_t *j);
int mem__job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq);
int mem__job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *st);
int mem__job_set_progress(rk_store_t *s, const char *job_id, double progress);
int mem__job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority);
int mem__job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra);
int mem__job_place(rk_store_t *s, const char *job_id, const char *agent_id);
int mem__job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out);
int mem__job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp);
int mem__job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                  size_t *n);
int mem__job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud);
int mem__result_put(rk_store_t *s, const rk_result_t *r);
int mem__result_get(rk_store_t *s, const char *job_id, rk_result_t *out);
int mem__result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, rk_result_t **out,
                     size_t *n);
int mem__result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page, char ***out,
                          size_t *n);

/* memory_purge.c: the retention slots. */
int mem__job_purge_finished(rk_store_t *s, rk_job_purge_t *p);
int mem__job_purge(rk_store_t *s, const char *job_id, bool *had_result);

#endif
