/* The "memory" backend: everything in this process, gone at exit. For
 * tests and throwaway runs; same contract as the others, durability aside.
 *
 * One rwlock guards everything. A transaction holds the write lock from
 * begin to commit, so other threads never see its uncommitted writes; the
 * owning thread (owner) skips the lock. Every write records how to undo
 * itself; outside a transaction the record is dropped at once, inside it is
 * kept until commit (dropped) or rollback (replayed backwards).
 *
 * An unplaced job ("any" agent) keeps agent_id "" here, so its agent group
 * is the "" group (what a listing filtered by agent "" reads), and reads
 * give NULL back.
 *
 * Jobs live in an array indexed by seq - 1 (NULL once deleted), plus a
 * chained hash by job_id. A job's result hangs on the job. Agents and
 * experiments are few: arrays of JSON text sorted by id.
 *
 * Listings read indexes, never the whole array: every job is in four
 * groups (all jobs, its agent's, its experiment's, its (agent, experiment)
 * pair's), and a group keeps, per state, its jobs in an AVL tree by seq
 * with their count; every result likewise in the four groups of its own
 * agent and experiment, one tree each. The trees' nodes live in the job
 * and the result (no allocation to index or unindex, so undo cannot fail).
 * A page over a set of states merges the states' trees newest first from
 * the cursor: O((limit + states) log n) whatever the states' sizes, and
 * the total is a sum of at most 7 counts. Groups are made on first use and
 * kept until close (there are as many as distinct agents, experiments and
 * pairs ever stored).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
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
    json_t *selector;      /* agent_selector labels, or NULL */
    json_t *extra;         /* the JobInfo's extra, or NULL */
    rk_job_status_t *hist; /* oldest first; the last one is the status */
    size_t n_hist, cap_hist;
    /* The status's progress: set from the status when it is appended, then
     * moved in place by job_set_progress, which leaves the history entry as
     * it was appended (as the SQL backends do). */
    double progress;
    bool has_progress;
    mres_t *res;
    struct mjob *next; /* hash chain */
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
    group_t all; /* the G_ALL group */
    group_t **gbuckets;
    size_t n_gbuckets, n_groups;
    undo_t *undo;
    size_t n_undo, cap_undo;
} mem_t;

#define M(s) ((mem_t *)(s))

static bool mine(mem_t *m)
{
    return atomic_load(&m->owner) == rk_store_tid();
}

static void rlock(mem_t *m)
{
    if (!mine(m))
        pthread_rwlock_rdlock(&m->lock);
}

static void wlock(mem_t *m)
{
    if (!mine(m))
        pthread_rwlock_wrlock(&m->lock);
}

static void unlock(mem_t *m)
{
    if (!mine(m))
        pthread_rwlock_unlock(&m->lock);
}

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, c * elem);
    if (!p)
        return RK_ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

/* ---- agents and experiments: sorted arrays of (id, text) ---- */

static size_t table_find(const table_t *t, const char *id, bool *found)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->v[mid].id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Makes id's text `text` (taken), or removes id when text is NULL; the old
 * text goes to *old (NULL when absent). */
static int table_set(table_t *t, const char *id, char *text, char **old)
{
    bool found;
    size_t i = table_find(t, id, &found);
    *old = found ? t->v[i].text : NULL;
    if (found && text) {
        t->v[i].text = text;
    } else if (found) {
        free(t->v[i].id);
        memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof t->v[0]);
        t->n--;
    } else if (text) {
        char *key = strdup(id);
        if (!key || grow((void **)&t->v, &t->cap, t->n + 1, sizeof t->v[0])) {
            free(key);
            return RK_ENOMEM;
        }
        memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof t->v[0]);
        t->v[i] = (entry_t){key, text};
        t->n++;
    }
    return 0;
}

static const char *table_get(const table_t *t, const char *id)
{
    bool found;
    size_t i = table_find(t, id, &found);
    return found ? t->v[i].text : NULL;
}

static void table_free(table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].id);
        free(t->v[i].text);
    }
    free(t->v);
}

/* ---- jobs: hash by id ---- */

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static mjob_t *job_find(mem_t *m, const char *job_id)
{
    if (!m->n_buckets)
        return NULL;
    mjob_t *j = m->buckets[hash(job_id) & (m->n_buckets - 1)];
    while (j && strcmp(j->job_id, job_id) != 0)
        j = j->next;
    return j;
}

static int job_hash(mem_t *m, mjob_t *j)
{
    if (m->n_hashed + 1 > m->n_buckets) {
        size_t nb = m->n_buckets ? m->n_buckets * 2 : 1024;
        mjob_t **b = calloc(nb, sizeof *b);
        if (!b)
            return RK_ENOMEM;
        for (size_t i = 0; i < m->n_buckets; i++)
            for (mjob_t *x = m->buckets[i], *next; x; x = next) {
                next = x->next;
                size_t h = hash(x->job_id) & (nb - 1);
                x->next = b[h];
                b[h] = x;
            }
        free(m->buckets);
        m->buckets = b;
        m->n_buckets = nb;
    }
    size_t h = hash(j->job_id) & (m->n_buckets - 1);
    j->next = m->buckets[h];
    m->buckets[h] = j;
    m->n_hashed++;
    return 0;
}

static void job_unhash(mem_t *m, mjob_t *j)
{
    mjob_t **p = &m->buckets[hash(j->job_id) & (m->n_buckets - 1)];
    while (*p != j)
        p = &(*p)->next;
    *p = j->next;
    m->n_hashed--;
}

/* ---- indexes: groups of AVL trees by seq ---- */

static int th(const tnode_t *n)
{
    return n ? n->h : 0;
}

static void tfix(tnode_t *n)
{
    int a = th(n->l), b = th(n->r);
    n->h = (a > b ? a : b) + 1;
}

static tnode_t *trot_right(tnode_t *n)
{
    tnode_t *l = n->l;
    n->l = l->r;
    l->r = n;
    tfix(n);
    tfix(l);
    return l;
}

static tnode_t *trot_left(tnode_t *n)
{
    tnode_t *r = n->r;
    n->r = r->l;
    r->l = n;
    tfix(n);
    tfix(r);
    return r;
}

static tnode_t *tbalance(tnode_t *n)
{
    tfix(n);
    int b = th(n->l) - th(n->r);
    if (b > 1) {
        if (th(n->l->l) < th(n->l->r))
            n->l = trot_left(n->l);
        return trot_right(n);
    }
    if (b < -1) {
        if (th(n->r->r) < th(n->r->l))
            n->r = trot_right(n->r);
        return trot_left(n);
    }
    return n;
}

/* Adds node n (its seq set) to tree t; returns the new root. */
static tnode_t *tinsert(tnode_t *t, tnode_t *n)
{
    if (!t) {
        n->l = n->r = NULL;
        n->h = 1;
        return n;
    }
    if (n->seq < t->seq)
        t->l = tinsert(t->l, n);
    else
        t->r = tinsert(t->r, n);
    return tbalance(t);
}

static tnode_t *tpop_min(tnode_t *t, tnode_t **min)
{
    if (!t->l) {
        *min = t;
        return t->r;
    }
    t->l = tpop_min(t->l, min);
    return tbalance(t);
}

/* Takes the node of seq out of tree t; returns the new root. */
static tnode_t *tremove(tnode_t *t, int64_t seq)
{
    if (!t)
        return NULL;
    if (seq < t->seq) {
        t->l = tremove(t->l, seq);
    } else if (seq > t->seq) {
        t->r = tremove(t->r, seq);
    } else {
        if (!t->l || !t->r)
            return t->l ? t->l : t->r;
        tnode_t *min, *r = tpop_min(t->r, &min);
        min->l = t->l;
        min->r = r;
        t = min;
    }
    return tbalance(t);
}

/* The node with the largest seq below c, NULL if none. */
static const tnode_t *tpred(const tnode_t *t, int64_t c)
{
    const tnode_t *best = NULL;
    while (t) {
        if (t->seq < c) {
            best = t;
            t = t->r;
        } else {
            t = t->l;
        }
    }
    return best;
}

/* The job or result whose node[kind] n is. */
static const mjob_t *node_job(const tnode_t *n, int kind)
{
    return (const mjob_t *)((const char *)n - offsetof(mjob_t, node) - kind * sizeof *n);
}

static const mres_t *node_res(const tnode_t *n, int kind)
{
    return (const mres_t *)((const char *)n - offsetof(mres_t, node) - kind * sizeof *n);
}

static size_t group_hash(const char *agent_id, const char *experiment_id)
{
    return (agent_id ? hash(agent_id) : 7) * 31 + (experiment_id ? hash(experiment_id) : 11);
}

static bool streq_null(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The group of the jobs with this agent (NULL: any) and this experiment
 * (NULL: any); NULL when there is none yet. */
static group_t *group_find(mem_t *m, const char *agent_id, const char *experiment_id)
{
    if (!agent_id && !experiment_id)
        return &m->all;
    if (!m->n_gbuckets)
        return NULL;
    group_t *g = m->gbuckets[group_hash(agent_id, experiment_id) & (m->n_gbuckets - 1)];
    while (g && !(streq_null(g->agent_id, agent_id) && streq_null(g->experiment_id, experiment_id)))
        g = g->next;
    return g;
}

/* group_find, making the group when there is none. */
static int group_get(mem_t *m, const char *agent_id, const char *experiment_id, group_t **out)
{
    if ((*out = group_find(m, agent_id, experiment_id)))
        return 0;
    if (m->n_groups + 1 > m->n_gbuckets) {
        size_t nb = m->n_gbuckets ? m->n_gbuckets * 2 : 64;
        group_t **b = calloc(nb, sizeof *b);
        if (!b)
            return RK_ENOMEM;
        for (size_t i = 0; i < m->n_gbuckets; i++)
            for (group_t *x = m->gbuckets[i], *next; x; x = next) {
                next = x->next;
                size_t h = group_hash(x->agent_id, x->experiment_id) & (nb - 1);
                x->next = b[h];
                b[h] = x;
            }
        free(m->gbuckets);
        m->gbuckets = b;
        m->n_gbuckets = nb;
    }
    group_t *g = calloc(1, sizeof *g);
    if (!g)
        return RK_ENOMEM;
    g->kind = agent_id && experiment_id ? G_PAIR : agent_id ? G_AGENT : G_EXP;
    g->agent_id = agent_id ? strdup(agent_id) : NULL;
    g->experiment_id = experiment_id ? strdup(experiment_id) : NULL;
    if ((agent_id && !g->agent_id) || (experiment_id && !g->experiment_id)) {
        free(g->agent_id);
        free(g->experiment_id);
        free(g);
        return RK_ENOMEM;
    }
    size_t h = group_hash(agent_id, experiment_id) & (m->n_gbuckets - 1);
    g->next = m->gbuckets[h];
    m->gbuckets[h] = g;
    m->n_groups++;
    *out = g;
    return 0;
}

/* The four groups of an agent and an experiment into g. */
static int groups_get(mem_t *m, const char *agent_id, const char *experiment_id,
                      group_t *g[G_KINDS])
{
    g[G_ALL] = &m->all;
    if (group_get(m, agent_id, NULL, &g[G_AGENT]) || group_get(m, NULL, experiment_id, &g[G_EXP]) ||
        group_get(m, agent_id, experiment_id, &g[G_PAIR]))
        return RK_ENOMEM;
    return 0;
}

static void groups_free(mem_t *m)
{
    for (size_t i = 0; i < m->n_gbuckets; i++)
        for (group_t *g = m->gbuckets[i], *next; g; g = next) {
            next = g->next;
            free(g->agent_id);
            free(g->experiment_id);
            free(g);
        }
    free(m->gbuckets);
}

static rk_job_state_t job_state(const mjob_t *j)
{
    return j->hist[j->n_hist - 1].status;
}

/* Adds j to (add) or takes it out of its groups' trees of state st. */
static void job_index(mjob_t *j, rk_job_state_t st, bool add)
{
    for (int k = 0; k < G_KINDS; k++) {
        group_t *g = j->grp[k];
        if (add) {
            j->node[k].seq = j->seq;
            g->jobs[st] = tinsert(g->jobs[st], &j->node[k]);
            g->n_jobs[st]++;
        } else {
            g->jobs[st] = tremove(g->jobs[st], j->seq);
            g->n_jobs[st]--;
        }
    }
}

/* The same for result r of the job of seq. */
static void res_index(mres_t *r, int64_t seq, bool add)
{
    for (int k = 0; k < G_KINDS; k++) {
        group_t *g = r->grp[k];
        if (add) {
            r->node[k].seq = seq;
            g->results = tinsert(g->results, &r->node[k]);
        } else {
            g->results = tremove(g->results, seq);
        }
    }
}

/* Moves j's index entries from state from to state to. */
static void job_restate(mjob_t *j, rk_job_state_t from, rk_job_state_t to)
{
    if (from == to)
        return;
    job_index(j, from, false);
    job_index(j, to, true);
}

static void res_free(mres_t *r)
{
    if (!r)
        return;
    free(r->text);
    free(r->experiment_id);
    free(r->agent_id);
    free(r);
}

static void job_free(mjob_t *j)
{
    if (!j)
        return;
    free(j->job_id);
    free(j->experiment_id);
    free(j->agent_id);
    json_decref(j->selector);
    json_decref(j->extra);
    for (size_t i = 0; i < j->n_hist; i++)
        rk_job_status_cleanup(&j->hist[i]);
    free(j->hist);
    res_free(j->res);
    free(j);
}

/* Appends a copy of st (without its job_id) to j's history. */
static int hist_add(mjob_t *j, const rk_job_status_t *st)
{
    if (grow((void **)&j->hist, &j->cap_hist, j->n_hist + 1, sizeof j->hist[0]))
        return RK_ENOMEM;
    rk_job_status_t *d = &j->hist[j->n_hist];
    if (rk_job_status_copy(st, d))
        return RK_ENOMEM;
    free(d->job_id);
    d->job_id = NULL;
    j->n_hist++;
    j->progress = st->progress;
    j->has_progress = st->has_progress;
    return 0;
}

/* ---- undo log ---- */

static void undo_drop(undo_t *u)
{
    free(u->id);
    free(u->text);
    json_decref(u->extra);
    if (u->kind == U_JOB_DELETE)
        job_free(u->job);
    if (u->kind == U_RESULT)
        res_free(u->res);
}

static void undo_apply(mem_t *m, undo_t *u)
{
    char *old = NULL;
    switch (u->kind) {
    case U_AGENT:
    case U_EXP:
    case U_DOC:
        /* Only re-inserting a deleted entry allocates; if that fails the
         * entry stays deleted (nothing better can be done mid-rollback). */
        table_set(u->kind == U_AGENT ? &m->agents
                  : u->kind == U_EXP ? &m->experiments
                                     : &m->docs,
                  u->id, u->text, &old);
        free(old);
        u->text = NULL;
        break;
    case U_JOB_INSERT:
        job_index(u->job, job_state(u->job), false);
        job_unhash(m, u->job);
        m->jobs[u->job->seq - 1] = NULL;
        m->n_jobs = (size_t)u->job->seq - 1;
        job_free(u->job);
        break;
    case U_JOB_STATUS: {
        rk_job_state_t was = job_state(u->job);
        rk_job_status_cleanup(&u->job->hist[--u->job->n_hist]);
        u->job->progress = u->progress;
        u->job->has_progress = u->had_progress;
        job_restate(u->job, was, job_state(u->job));
        break;
    }
    case U_JOB_DELETE:
        m->jobs[u->job->seq - 1] = u->job;
        job_hash(m, u->job); /* the buckets already had room for it */
        job_index(u->job, job_state(u->job), true);
        if (u->job->res)
            res_index(u->job->res, u->job->seq, true);
        u->job = NULL;
        break;
    case U_PRIORITY:
        u->job->priority = u->priority;
        break;
    case U_EXTRA:
        json_decref(u->job->extra);
        u->job->extra = u->extra;
        u->extra = NULL;
        break;
    case U_PLACE:
        /* The old agent's groups exist: groups live until close. */
        job_index(u->job, job_state(u->job), false);
        free(u->job->agent_id);
        u->job->agent_id = u->id;
        u->id = NULL;
        groups_get(m, u->job->agent_id, u->job->experiment_id, u->job->grp);
        job_index(u->job, job_state(u->job), true);
        break;
    case U_PROGRESS:
        u->job->progress = u->progress;
        u->job->has_progress = u->had_progress;
        break;
    case U_RESULT:
        if (u->job->res)
            res_index(u->job->res, u->job->seq, false);
        res_free(u->job->res);
        u->job->res = u->res;
        if (u->res)
            res_index(u->res, u->job->seq, true);
        u->res = NULL;
        break;
    }
    free(u->id);
    free(u->text);
}

/* Records how to undo a write that has just been applied. Outside a
 * transaction it is committed at once. Cannot fail: the log's room is
 * reserved (reserve) before the write. */
static void undo_push(mem_t *m, undo_t u)
{
    if (mine(m))
        m->undo[m->n_undo++] = u;
    else
        undo_drop(&u);
}

static int reserve(mem_t *m, size_t k)
{
    return mine(m) ? grow((void **)&m->undo, &m->cap_undo, m->n_undo + k, sizeof m->undo[0]) : 0;
}

/* ---- open, close, transactions ---- */

static int mem_open(const char *location, rk_store_t **out)
{
    mem_t *m = calloc(1, sizeof *m);
    if (!m)
        return RK_ENOMEM;
    m->base.ops = &rk_store_memory_ops;
    if (pthread_rwlock_init(&m->lock, NULL)) {
        free(m);
        return RK_ENOMEM;
    }
    *out = &m->base;
    return 0;
}

static void mem_close(rk_store_t *s)
{
    mem_t *m = M(s);
    for (size_t i = m->n_undo; i > 0; i--)
        undo_apply(m, &m->undo[i - 1]);
    free(m->undo);
    table_free(&m->agents);
    table_free(&m->experiments);
    table_free(&m->docs);
    for (size_t i = 0; i < m->n_jobs; i++)
        job_free(m->jobs[i]);
    free(m->jobs);
    free(m->buckets);
    groups_free(m);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

static int mem_begin(rk_store_t *s)
{
    mem_t *m = M(s);
    if (mine(m))
        return RK_ESTATE;
    pthread_rwlock_wrlock(&m->lock);
    atomic_store(&m->owner, rk_store_tid());
    return 0;
}

static int tx_end(mem_t *m, bool keep)
{
    if (!mine(m))
        return RK_ESTATE;
    for (size_t i = m->n_undo; i > 0; i--) {
        if (keep)
            undo_drop(&m->undo[i - 1]);
        else
            undo_apply(m, &m->undo[i - 1]);
    }
    m->n_undo = 0;
    atomic_store(&m->owner, 0);
    pthread_rwlock_unlock(&m->lock);
    return 0;
}

static int mem_commit(rk_store_t *s)
{
    return tx_end(M(s), true);
}

static int mem_rollback(rk_store_t *s)
{
    return tx_end(M(s), false);
}

/* ---- agents and experiments ---- */

static int put_text(mem_t *m, int kind, const char *id, char *text)
{
    table_t *t = kind == U_AGENT ? &m->agents : kind == U_EXP ? &m->experiments : &m->docs;
    char *key = strdup(id), *old = NULL;
    int rc = key ? reserve(m, 1) : RK_ENOMEM;
    if (!rc)
        rc = table_set(t, id, text, &old);
    if (rc) {
        free(key);
        free(text);
        return rc;
    }
    undo_push(m, (undo_t){.kind = kind, .id = key, .text = old});
    return 0;
}

/* Agents and experiments are kept as their stored text; from decodes one
 * row into the caller's struct of the table's type. */
typedef int (*from_text_fn)(const char *text, void *out);

static int agent_from_text(const char *text, void *out)
{
    return rk_store_agent_from_text(text, out);
}

static int experiment_from_text(const char *text, void *out)
{
    return rk_store_experiment_from_text(text, out);
}

static int get_row(mem_t *m, const table_t *t, const char *id, from_text_fn from, void *out)
{
    rlock(m);
    const char *text = table_get(t, id);
    int rc = text ? from(text, out) : RK_ENOENT;
    unlock(m);
    return rc;
}

/* Decodes every row of t into *out, a new array of elem-sized structs with
 * one zeroed spare; *n counts those decoded, also on failure. */
static int list_rows(mem_t *m, const table_t *t, size_t elem, from_text_fn from, void **out,
                     size_t *n)
{
    int rc = 0;
    rlock(m);
    char *v = calloc(t->n + 1, elem);
    if (!v)
        rc = RK_ENOMEM;
    for (size_t i = 0; !rc && i < t->n; i++)
        if (!(rc = from(t->v[i].text, v + i * elem)))
            *n = i + 1;
    unlock(m);
    *out = v;
    return rc;
}

/* ---- documents ---- */

static char *doc_key(const char *kind, const char *id)
{
    char *k = NULL;
    return asprintf(&k, "%s\x1f%s", kind, id) < 0 ? NULL : k;
}

static int mem_doc_put(rk_store_t *s, const char *kind, const char *id, const char *json)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id), *text = strdup(json);
    int rc = RK_ENOMEM;
    if (key && text) {
        wlock(m);
        rc = put_text(m, U_DOC, key, text);
        unlock(m);
        text = NULL;
    }
    free(text);
    free(key);
    return rc;
}

static int mem_doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                           const char *json)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id), *text = strdup(json);
    int rc = RK_ENOMEM;
    if (key && text) {
        wlock(m);
        const char *now = table_get(&m->docs, key);
        rc = now && strcmp(now, expect) == 0 ? put_text(m, U_DOC, key, text) : RK_ESTATE;
        if (rc != RK_ESTATE)
            text = NULL; /* put_text took it, also on failure */
        unlock(m);
    }
    free(text);
    free(key);
    return rc;
}

static int mem_doc_get(rk_store_t *s, const char *kind, const char *id, char **json)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id);
    if (!key)
        return RK_ENOMEM;
    rlock(m);
    const char *text = table_get(&m->docs, key);
    int rc = !text ? RK_ENOENT : (*json = strdup(text)) ? 0 : RK_ENOMEM;
    unlock(m);
    free(key);
    return rc;
}

static int mem_doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n)
{
    mem_t *m = M(s);
    size_t kl = strlen(kind);
    int rc = 0;
    rlock(m);
    /* The table is sorted by key, so a kind's documents sit together. */
    char **iv = calloc(m->docs.n + 1, sizeof *iv), **jv = calloc(m->docs.n + 1, sizeof *jv);
    if (!iv || !jv)
        rc = RK_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; !rc && i < m->docs.n; i++) {
        const char *key = m->docs.v[i].id;
        if (strncmp(key, kind, kl) != 0 || key[kl] != '\x1f')
            continue;
        iv[k] = strdup(key + kl + 1);
        jv[k] = strdup(m->docs.v[i].text);
        k++;
        if (!iv[k - 1] || !jv[k - 1])
            rc = RK_ENOMEM;
    }
    unlock(m);
    *ids = iv;
    *jsons = jv;
    *n = k;
    return rc;
}

static int mem_doc_delete(rk_store_t *s, const char *kind, const char *id)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id);
    if (!key)
        return RK_ENOMEM;
    wlock(m);
    int rc = table_get(&m->docs, key) ? put_text(m, U_DOC, key, NULL) : RK_ENOENT;
    unlock(m);
    free(key);
    return rc;
}

static int mem_agent_put(rk_store_t *s, const rk_registered_agent_t *a)
{
    mem_t *m = M(s);
    char *text;
    int rc = rk_store_agent_to_text(a, &text);
    if (rc)
        return rc;
    wlock(m);
    rc = put_text(m, U_AGENT, a->info.agent_id, text);
    unlock(m);
    return rc;
}

static int mem_agent_get(rk_store_t *s, const char *agent_id, rk_registered_agent_t *out)
{
    return get_row(M(s), &M(s)->agents, agent_id, agent_from_text, out);
}

static int mem_agent_list(rk_store_t *s, rk_registered_agent_t **out, size_t *n)
{
    void *v;
    int rc = list_rows(M(s), &M(s)->agents, sizeof **out, agent_from_text, &v, n);
    *out = v;
    return rc;
}

static int mem_agent_delete(rk_store_t *s, const char *agent_id)
{
    mem_t *m = M(s);
    wlock(m);
    int rc = table_get(&m->agents, agent_id) ? put_text(m, U_AGENT, agent_id, NULL) : RK_ENOENT;
    unlock(m);
    return rc;
}

static int mem_experiment_insert(rk_store_t *s, const rk_experiment_t *x)
{
    mem_t *m = M(s);
    char *text;
    int rc = rk_store_experiment_to_text(x, &text);
    if (rc)
        return rc;
    wlock(m);
    if (table_get(&m->experiments, x->id)) {
        free(text);
        rc = RK_EEXIST;
    } else {
        rc = put_text(m, U_EXP, x->id, text);
    }
    unlock(m);
    return rc;
}

static int mem_experiment_get(rk_store_t *s, const char *id, rk_experiment_t *out)
{
    return get_row(M(s), &M(s)->experiments, id, experiment_from_text, out);
}

static int mem_experiment_list(rk_store_t *s, rk_experiment_t **out, size_t *n)
{
    void *v;
    int rc = list_rows(M(s), &M(s)->experiments, sizeof **out, experiment_from_text, &v, n);
    *out = v;
    return rc;
}

/* Appends the jobs of tree t to v, oldest first. */
static void tree_jobs(const tnode_t *t, int kind, mjob_t **v, size_t *n)
{
    if (!t)
        return;
    tree_jobs(t->l, kind, v, n);
    v[(*n)++] = (mjob_t *)node_job(t, kind);
    tree_jobs(t->r, kind, v, n);
}

static int mem_experiment_delete(rk_store_t *s, const char *id, bool cascade)
{
    mem_t *m = M(s);
    int rc = 0;
    size_t n_refs = 0, n = 0;
    mjob_t **v = NULL;
    wlock(m);
    if (!table_get(&m->experiments, id)) {
        rc = RK_ENOENT;
        goto out;
    }
    /* The experiment's group counts its jobs by state. */
    group_t *g = group_find(m, NULL, id);
    for (int st = 0; g && st < RK_JOB_STATE_COUNT; st++) {
        n_refs += g->n_jobs[st];
        if (g->n_jobs[st] && (!cascade || !rk_job_state_terminal((rk_job_state_t)st))) {
            rc = RK_ESTATE;
            goto out;
        }
    }
    if (n_refs && !(v = malloc(n_refs * sizeof *v))) {
        rc = RK_ENOMEM;
        goto out;
    }
    if ((rc = reserve(m, n_refs + 1)))
        goto out;
    for (int st = 0; g && st < RK_JOB_STATE_COUNT; st++)
        tree_jobs(g->jobs[st], G_EXP, v, &n);
    for (size_t i = 0; i < n; i++) {
        mjob_t *j = v[i];
        job_index(j, job_state(j), false);
        if (j->res)
            res_index(j->res, j->seq, false);
        job_unhash(m, j);
        m->jobs[j->seq - 1] = NULL;
        undo_push(m, (undo_t){.kind = U_JOB_DELETE, .job = j});
    }
    rc = put_text(m, U_EXP, id, NULL);
out:
    unlock(m);
    free(v);
    return rc;
}

/* ---- jobs ---- */

static int mem_job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq)
{
    mem_t *m = M(s);
    int rc;
    mjob_t *j = calloc(1, sizeof *j);
    if (!j)
        return RK_ENOMEM;
    j->job_id = strdup(job->job_id);
    j->experiment_id = strdup(job->experiment_id);
    j->agent_id = strdup(job->agent_id ? job->agent_id : "");
    j->created = job->created_time;
    j->priority = job->priority;
    j->exclusive = job->exclusive;
    if ((job->selector_labels && !(j->selector = json_deep_copy(job->selector_labels))) ||
        (job->extra && json_object_size(job->extra) && !(j->extra = json_deep_copy(job->extra)))) {
        job_free(j);
        return RK_ENOMEM;
    }
    if (!j->job_id || !j->experiment_id || !j->agent_id || hist_add(j, &job->status)) {
        job_free(j);
        return RK_ENOMEM;
    }
    wlock(m);
    if (job_find(m, job->job_id)) {
        rc = RK_EEXIST;
    } else if (!(rc = reserve(m, 1)) &&
               !(rc = grow((void **)&m->jobs, &m->cap_jobs, m->n_jobs + 1, sizeof m->jobs[0])) &&
               !(rc = groups_get(m, j->agent_id, j->experiment_id, j->grp)) &&
               !(rc = job_hash(m, j))) {
        j->seq = (int64_t)++m->n_jobs;
        m->jobs[j->seq - 1] = j;
        job_index(j, job_state(j), true);
        *seq = j->seq;
        undo_push(m, (undo_t){.kind = U_JOB_INSERT, .job = j});
        j = NULL;
    }
    unlock(m);
    job_free(j);
    return rc;
}

static int mem_job_set_status(rk_store_t *s, const char *job_id, const rk_job_status_t *st)
{
    mem_t *m = M(s);
    int rc;
    wlock(m);
    mjob_t *j = job_find(m, job_id);
    rk_job_state_t was = j ? job_state(j) : RK_JOB_QUEUED;
    double old_progress = j ? j->progress : 0;
    bool old_had = j && j->has_progress;
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = reserve(m, 1)) && !(rc = hist_add(j, st))) {
        job_restate(j, was, st->status);
        undo_push(m, (undo_t){.kind = U_JOB_STATUS,
                              .job = j,
                              .progress = old_progress,
                              .had_progress = old_had});
    }
    unlock(m);
    return rc;
}

static int mem_job_set_progress(rk_store_t *s, const char *job_id, double progress)
{
    mem_t *m = M(s);
    int rc;
    wlock(m);
    mjob_t *j = job_find(m, job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = reserve(m, 1))) {
        undo_push(m, (undo_t){.kind = U_PROGRESS,
                              .job = j,
                              .progress = j->progress,
                              .had_progress = j->has_progress});
        j->progress = progress;
        j->has_progress = true;
    }
    unlock(m);
    return rc;
}

static int mem_job_set_priority(rk_store_t *s, const char *job_id, rk_job_priority_t priority)
{
    mem_t *m = M(s);
    int rc;
    wlock(m);
    mjob_t *j = job_find(m, job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = reserve(m, 1))) {
        undo_push(m, (undo_t){.kind = U_PRIORITY, .job = j, .priority = j->priority});
        j->priority = priority;
    }
    unlock(m);
    return rc;
}

static int mem_job_set_extra(rk_store_t *s, const char *job_id, const json_t *extra)
{
    mem_t *m = M(s);
    json_t *copy = NULL;
    if (extra && json_object_size(extra) && !(copy = json_deep_copy(extra)))
        return RK_ENOMEM;
    int rc;
    wlock(m);
    mjob_t *j = job_find(m, job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = reserve(m, 1))) {
        undo_push(m, (undo_t){.kind = U_EXTRA, .job = j, .extra = j->extra});
        j->extra = copy;
        copy = NULL;
    }
    unlock(m);
    json_decref(copy);
    return rc;
}

static int mem_job_place(rk_store_t *s, const char *job_id, const char *agent_id)
{
    mem_t *m = M(s);
    int rc;
    char *to = strdup(agent_id ? agent_id : "");
    if (!to)
        return RK_ENOMEM;
    wlock(m);
    mjob_t *j = job_find(m, job_id);
    group_t *g[G_KINDS];
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = reserve(m, 1)) && !(rc = groups_get(m, to, j->experiment_id, g))) {
        rk_job_state_t st = job_state(j);
        job_index(j, st, false);
        undo_push(m, (undo_t){.kind = U_PLACE, .job = j, .id = j->agent_id});
        j->agent_id = to;
        to = NULL;
        memcpy(j->grp, g, sizeof g);
        job_index(j, st, true);
    }
    unlock(m);
    free(to);
    return rc;
}

static int job_copy_out(const mjob_t *j, bool with_history, rk_job_info_t *out)
{
    out->job_id = strdup(j->job_id);
    out->experiment_id = strdup(j->experiment_id);
    out->agent_id = *j->agent_id ? strdup(j->agent_id) : NULL;
    out->created_time = j->created;
    out->priority = j->priority;
    out->exclusive = j->exclusive;
    if ((j->selector && !(out->selector_labels = json_deep_copy(j->selector))) ||
        (j->extra && !(out->extra = json_deep_copy(j->extra))))
        return RK_ENOMEM;
    if (!out->job_id || !out->experiment_id || (*j->agent_id && !out->agent_id) ||
        rk_job_status_copy(&j->hist[j->n_hist - 1], &out->status))
        return RK_ENOMEM;
    out->status.progress = j->progress;
    out->status.has_progress = j->has_progress;
    if (with_history) {
        out->has_history = true;
        out->history = calloc(j->n_hist, sizeof *out->history);
        if (!out->history)
            return RK_ENOMEM;
        for (size_t i = 0; i < j->n_hist; i++) {
            if (rk_job_status_copy(&j->hist[i], &out->history[i]))
                return RK_ENOMEM;
            out->n_history = i + 1;
        }
    }
    return 0;
}

static int mem_job_get(rk_store_t *s, const char *job_id, bool with_history, rk_job_info_t *out)
{
    mem_t *m = M(s);
    rlock(m);
    mjob_t *j = job_find(m, job_id);
    int rc = j ? job_copy_out(j, with_history, out) : RK_ENOENT;
    unlock(m);
    return rc;
}

static int mem_job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page,
                        rk_job_info_t **out, size_t *n)
{
    mem_t *m = M(s);
    int rc = 0;
    rlock(m);
    const group_t *g = group_find(m, f->agent_id, f->experiment_id);
    unsigned mask = f->state_mask & ((1u << RK_JOB_STATE_COUNT) - 1);
    mask = mask ? mask : (1u << RK_JOB_STATE_COUNT) - 1;
    /* Each state's newest job below the cursor; the page takes the newest
     * of those, then that state's next. */
    const tnode_t *at[RK_JOB_STATE_COUNT] = {0};
    int64_t c = page->cursor ? page->cursor : INT64_MAX;
    for (int st = 0; g && st < RK_JOB_STATE_COUNT; st++)
        if (mask & (1u << st)) {
            page->total += g->n_jobs[st];
            at[st] = tpred(g->jobs[st], c);
        }
    size_t cap = page->limit < page->total ? page->limit : page->total;
    rk_job_info_t *v = calloc(cap + 1, sizeof *v);
    if (!v) {
        rc = RK_ENOMEM;
        goto out;
    }
    int64_t last = 0;
    for (;;) {
        int best = -1;
        for (int st = 0; st < RK_JOB_STATE_COUNT; st++)
            if (at[st] && (best < 0 || at[st]->seq > at[best]->seq))
                best = st;
        if (best < 0)
            break;
        if (*n == page->limit) {
            page->next_cursor = last;
            break;
        }
        if ((rc = job_copy_out(node_job(at[best], g->kind), false, &v[(*n)++])))
            goto out;
        last = at[best]->seq;
        at[best] = tpred(g->jobs[best], last);
    }
out:
    unlock(m);
    *out = v;
    return rc;
}

static int mem_job_scan(rk_store_t *s, unsigned state_mask, rk_job_scan_fn fn, void *ud)
{
    mem_t *m = M(s);
    int rc = 0;
    rlock(m);
    for (size_t i = 0; !rc && i < m->n_jobs; i++) {
        const mjob_t *j = m->jobs[i];
        if (!j)
            continue;
        rk_job_state_t st = j->hist[j->n_hist - 1].status;
        if (state_mask && !(state_mask & (1u << st)))
            continue;
        rk_job_brief_t b = {j->job_id,    j->experiment_id, *j->agent_id ? j->agent_id : NULL,
                            st,           j->seq,           j->priority,
                            j->exclusive, j->selector,      j->extra};
        rc = fn(ud, &b);
    }
    unlock(m);
    return rc;
}

/* ---- results ---- */

static int mem_result_put(rk_store_t *s, const rk_result_t *r)
{
    mem_t *m = M(s);
    mres_t *res = calloc(1, sizeof *res);
    int rc = res ? rk_store_result_to_text(r, &res->text) : RK_ENOMEM;
    if (!rc) {
        res->agent_id = strdup(r->agent_id);
        res->experiment_id = strdup(r->experiment_id ? r->experiment_id : "");
        if (!res->agent_id || !res->experiment_id)
            rc = RK_ENOMEM;
    }
    if (rc) {
        res_free(res);
        return rc;
    }
    wlock(m);
    mjob_t *j = job_find(m, r->job_id);
    if (!j) {
        rc = RK_ENOENT;
    } else if (!(rc = reserve(m, 1)) &&
               !(rc = groups_get(m, res->agent_id, res->experiment_id, res->grp))) {
        /* Out of the index before the undo log takes it: outside a
         * transaction the log frees it at once. */
        if (j->res)
            res_index(j->res, j->seq, false);
        undo_push(m, (undo_t){.kind = U_RESULT, .job = j, .res = j->res});
        j->res = res;
        res_index(res, j->seq, true);
        res = NULL;
    }
    unlock(m);
    res_free(res);
    return rc;
}

static int mem_result_get(rk_store_t *s, const char *job_id, rk_result_t *out)
{
    mem_t *m = M(s);
    rlock(m);
    mjob_t *j = job_find(m, job_id);
    int rc = j && j->res ? rk_store_result_from_text(j->res->text, out) : RK_ENOENT;
    unlock(m);
    return rc;
}

/* One page of g's results from page->cursor, newest first: row(text,
 * slot) fills each elem-sized slot of a new array. */
static int mem_result_page(mem_t *m, const rk_result_filter_t *f, rk_page_t *page, size_t elem,
                           int (*row)(const char *text, void *slot), void **out, size_t *n)
{
    int rc = 0;
    rlock(m);
    const group_t *g = group_find(m, f->agent_id, f->experiment_id);
    const tnode_t *at = g ? tpred(g->results, page->cursor ? page->cursor : INT64_MAX) : NULL;
    size_t cap = at ? page->limit : 0;
    char *v = calloc(cap + 1, elem);
    if (!v) {
        rc = RK_ENOMEM;
        goto out;
    }
    int64_t last = 0;
    for (; at; at = tpred(g->results, last)) {
        if (*n == page->limit) {
            page->next_cursor = last;
            break;
        }
        if ((rc = row(node_res(at, g->kind)->text, v + *n * elem)))
            goto out;
        (*n)++;
        last = at->seq;
    }
out:
    unlock(m);
    *out = v;
    return rc;
}

static int decoded_row(const char *text, void *slot)
{
    return rk_store_result_from_text(text, slot);
}

static int text_row(const char *text, void *slot)
{
    return (*(char **)slot = strdup(text)) ? 0 : RK_ENOMEM;
}

static int mem_result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                           rk_result_t **out, size_t *n)
{
    void *v = NULL;
    int rc = mem_result_page(M(s), f, page, sizeof **out, decoded_row, &v, n);
    *out = v;
    return rc;
}

static int mem_result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                                char ***out, size_t *n)
{
    void *v = NULL;
    int rc = mem_result_page(M(s), f, page, sizeof **out, text_row, &v, n);
    *out = v;
    return rc;
}

/* ---- retention ---- */

/* Takes j out of every index and the job table, and deletes the documents
 * keyed by it; the caller has reserved one undo entry for the job. */
static int purge_job(mem_t *m, mjob_t *j)
{
    /* Documents first (put_text reserves its own undo room). The table is
     * sorted by "kind\x1fid", so the job's documents are not together:
     * one pass collects their keys. */
    int rc = 0;
    size_t n = 0;
    char **keys = m->docs.n ? calloc(m->docs.n, sizeof *keys) : NULL;
    if (m->docs.n && !keys)
        return RK_ENOMEM;
    for (size_t i = 0; i < m->docs.n; i++) {
        const char *id = strchr(m->docs.v[i].id, '\x1f');
        if (id && rk_store_doc_of_job(id + 1, j->job_id) && !(keys[n++] = strdup(m->docs.v[i].id)))
            rc = RK_ENOMEM;
    }
    for (size_t i = 0; !rc && i < n; i++)
        rc = put_text(m, U_DOC, keys[i], NULL);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    if (rc)
        return rc;
    job_index(j, job_state(j), false);
    if (j->res)
        res_index(j->res, j->seq, false);
    job_unhash(m, j);
    m->jobs[j->seq - 1] = NULL;
    undo_push(m, (undo_t){.kind = U_JOB_DELETE, .job = j});
    return 0;
}

static bool purge_kept(const rk_job_purge_t *p, const char *job_id)
{
    for (size_t i = 0; i < p->n_keep; i++)
        if (p->keep[i] && strcmp(p->keep[i], job_id) == 0)
            return true;
    return false;
}

static int mem_job_purge_finished(rk_store_t *s, rk_job_purge_t *p)
{
    mem_t *m = M(s);
    int rc = 0;
    size_t examined = 0;
    if (!(p->jobs = calloc(p->limit, sizeof *p->jobs)))
        return RK_ENOMEM;
    wlock(m);
    for (size_t i = (size_t)p->after_seq; !rc && i < m->n_jobs && examined < p->limit; i++) {
        mjob_t *j = m->jobs[i];
        if (!j || !rk_job_state_terminal(job_state(j)) ||
            j->hist[j->n_hist - 1].timestamp >= p->before)
            continue;
        examined++;
        p->after_seq = j->seq;
        if (purge_kept(p, j->job_id))
            continue;
        rk_job_purged_t *out = &p->jobs[p->n_jobs];
        bool had = j->res != NULL;
        out->job_id = strdup(j->job_id);
        out->agent_id = j->agent_id[0] ? strdup(j->agent_id) : NULL;
        if (!out->job_id || (j->agent_id[0] && !out->agent_id)) {
            free(out->job_id);
            free(out->agent_id);
            out->job_id = out->agent_id = NULL;
            rc = RK_ENOMEM;
            break;
        }
        p->n_jobs++;
        if (!(rc = reserve(m, 1)) && !(rc = purge_job(m, j)))
            p->n_results += had;
    }
    p->more = !rc && examined == p->limit;
    unlock(m);
    if (rc)
        rk_store_job_purge_cleanup(p);
    return rc;
}

static int mem_job_purge(rk_store_t *s, const char *job_id, bool *had_result)
{
    mem_t *m = M(s);
    int rc;
    wlock(m);
    mjob_t *j = job_find(m, job_id);
    if (!j)
        rc = RK_ENOENT;
    else if (!rk_job_state_terminal(job_state(j)))
        rc = RK_ESTATE;
    else if (!(rc = reserve(m, 1))) {
        *had_result = j->res != NULL;
        rc = purge_job(m, j);
    }
    unlock(m);
    return rc;
}

const rk_store_ops_t rk_store_memory_ops = {
    .version = RK_STORE_OPS_VERSION,
    .name = "memory",
    .open = mem_open,
    .close = mem_close,
    .begin = mem_begin,
    .commit = mem_commit,
    .rollback = mem_rollback,
    .agent_put = mem_agent_put,
    .agent_get = mem_agent_get,
    .agent_list = mem_agent_list,
    .agent_delete = mem_agent_delete,
    .experiment_insert = mem_experiment_insert,
    .experiment_get = mem_experiment_get,
    .experiment_list = mem_experiment_list,
    .experiment_delete = mem_experiment_delete,
    .job_insert = mem_job_insert,
    .job_set_status = mem_job_set_status,
    .job_get = mem_job_get,
    .job_list = mem_job_list,
    .job_scan = mem_job_scan,
    .result_put = mem_result_put,
    .result_get = mem_result_get,
    .result_list = mem_result_list,
    .result_list_text = mem_result_list_text,
    .job_set_progress = mem_job_set_progress,
    .job_set_priority = mem_job_set_priority,
    .job_place = mem_job_place,
    .job_set_extra = mem_job_set_extra,
    .doc_put = mem_doc_put,
    .doc_get = mem_doc_get,
    .doc_list = mem_doc_list,
    .doc_delete = mem_doc_delete,
    .doc_replace = mem_doc_replace,
    .lease_acquire = NULL,
    .job_purge_finished = mem_job_purge_finished,
    .job_purge = mem_job_purge,
};
