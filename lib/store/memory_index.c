/* The memory backend's indexes: the job hash by id, the AVL trees by seq
 * and the groups that hold them.
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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/memory_int.h"

/* ---- jobs: hash by id ---- */

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

mjob_t *mem__job_find(mem_t *m, const char *job_id)
{
    if (!m->n_buckets)
        return NULL;
    mjob_t *j = m->buckets[hash(job_id) & (m->n_buckets - 1)];
    while (j && strcmp(j->job_id, job_id) != 0)
        j = j->next;
    return j;
}

mjob_t *mem__key_find(mem_t *m, const char *key)
{
    if (!m->n_kbuckets)
        return NULL;
    mjob_t *j = m->kbuckets[hash(key) & (m->n_kbuckets - 1)];
    while (j && strcmp(j->idem_key, key) != 0)
        j = j->knext;
    return j;
}

/* Doubles a chained hash's buckets when one more entry would overfill
 * them: by_key picks the chain (knext, idem_key) or (next, job_id). */
static int rehash(mjob_t ***buckets, size_t *n_buckets, size_t n_hashed, bool by_key)
{
    if (n_hashed + 1 <= *n_buckets)
        return 0;
    size_t nb = *n_buckets ? *n_buckets * 2 : 1024;
    mjob_t **b = calloc(nb, sizeof *b);
    if (!b)
        return RK_ENOMEM;
    for (size_t i = 0; i < *n_buckets; i++)
        for (mjob_t *x = (*buckets)[i], *next; x; x = next) {
            next = by_key ? x->knext : x->next;
            size_t h = hash(by_key ? x->idem_key : x->job_id) & (nb - 1);
            if (by_key)
                x->knext = b[h];
            else
                x->next = b[h];
            b[h] = x;
        }
    free(*buckets);
    *buckets = b;
    *n_buckets = nb;
    return 0;
}

int mem__job_hash(mem_t *m, mjob_t *j)
{
    /* Room in both first: nothing is hashed unless all of it can be. */
    if (rehash(&m->buckets, &m->n_buckets, m->n_hashed, false) ||
        (j->idem_key && rehash(&m->kbuckets, &m->n_kbuckets, m->n_khashed, true)))
        return RK_ENOMEM;
    size_t h = hash(j->job_id) & (m->n_buckets - 1);
    j->next = m->buckets[h];
    m->buckets[h] = j;
    m->n_hashed++;
    if (j->idem_key) {
        h = hash(j->idem_key) & (m->n_kbuckets - 1);
        j->knext = m->kbuckets[h];
        m->kbuckets[h] = j;
        m->n_khashed++;
    }
    return 0;
}

void mem__job_unhash(mem_t *m, mjob_t *j)
{
    mjob_t **p = &m->buckets[hash(j->job_id) & (m->n_buckets - 1)];
    while (*p != j)
        p = &(*p)->next;
    *p = j->next;
    m->n_hashed--;
    if (j->idem_key) {
        p = &m->kbuckets[hash(j->idem_key) & (m->n_kbuckets - 1)];
        while (*p != j)
            p = &(*p)->knext;
        *p = j->knext;
        m->n_khashed--;
    }
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
const tnode_t *mem__tpred(const tnode_t *t, int64_t c)
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
const mjob_t *mem__node_job(const tnode_t *n, int kind)
{
    return (const mjob_t *)((const char *)n - offsetof(mjob_t, node) - kind * sizeof *n);
}

const mres_t *mem__node_res(const tnode_t *n, int kind)
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
group_t *mem__group_find(mem_t *m, const char *agent_id, const char *experiment_id)
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

/* mem__group_find, making the group when there is none. */
static int group_get(mem_t *m, const char *agent_id, const char *experiment_id, group_t **out)
{
    if ((*out = mem__group_find(m, agent_id, experiment_id)))
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
int mem__groups_get(mem_t *m, const char *agent_id, const char *experiment_id, group_t *g[G_KINDS])
{
    g[G_ALL] = &m->all;
    if (group_get(m, agent_id, NULL, &g[G_AGENT]) || group_get(m, NULL, experiment_id, &g[G_EXP]) ||
        group_get(m, agent_id, experiment_id, &g[G_PAIR]))
        return RK_ENOMEM;
    return 0;
}

void mem__groups_free(mem_t *m)
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

rk_job_state_t mem__job_state(const mjob_t *j)
{
    return j->hist[j->n_hist - 1].status;
}

/* Adds j to (add) or takes it out of its groups' trees of state st. */
void mem__job_index(mjob_t *j, rk_job_state_t st, bool add)
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
void mem__res_index(mres_t *r, int64_t seq, bool add)
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
void mem__job_restate(mjob_t *j, rk_job_state_t from, rk_job_state_t to)
{
    if (from == to)
        return;
    mem__job_index(j, from, false);
    mem__job_index(j, to, true);
}

/* Appends the jobs of tree t to v, oldest first. */
void mem__tree_jobs(const tnode_t *t, int kind, mjob_t **v, size_t *n)
{
    if (!t)
        return;
    mem__tree_jobs(t->l, kind, v, n);
    v[(*n)++] = (mjob_t *)mem__node_job(t, kind);
    mem__tree_jobs(t->r, kind, v, n);
}
