/* Where a manager's jobs sit (jobs layer, manager thread): each agent's
 * queue (in dispatch order: highest priority first, then by arrival) and
 * running list (the jobs holding its slots),
 * and the index of every tracked job by id, so finding one (a cancel) costs
 * the same near the tail of a million queued jobs as at the head. A job
 * knows which list it is in, so it can leave it from anywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/mgr.h"

/* ---- the lists ---- */

/* The running list: a doubly linked list in arrival order. */
static void link_back(srv_job_t **head, srv_job_t **tail, srv_job_t *j)
{
    j->next = NULL;
    j->prev = *tail;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void unlink_job(srv_job_t **head, srv_job_t **tail, srv_job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        *tail = j->prev;
    j->prev = j->next = NULL;
}

/* The queue: per priority level an AVL tree of jobs by seq (the links
 * live in the job, so linking cannot fail). Taking the first job, adding
 * one, removing one from anywhere (cancel, pause, a priority change) each
 * cost O(log n), whatever the queue's length. */
static int th(const srv_job_t *t)
{
    return t ? t->qh : 0;
}

static void tfix(srv_job_t *t)
{
    int l = th(t->ql), r = th(t->qr);
    t->qh = (l > r ? l : r) + 1;
}

static srv_job_t *trot_right(srv_job_t *t)
{
    srv_job_t *l = t->ql;
    t->ql = l->qr;
    l->qr = t;
    tfix(t);
    tfix(l);
    return l;
}

static srv_job_t *trot_left(srv_job_t *t)
{
    srv_job_t *r = t->qr;
    t->qr = r->ql;
    r->ql = t;
    tfix(t);
    tfix(r);
    return r;
}

static srv_job_t *tbalance(srv_job_t *t)
{
    tfix(t);
    int b = th(t->ql) - th(t->qr);
    if (b > 1) {
        if (th(t->ql->ql) < th(t->ql->qr))
            t->ql = trot_left(t->ql);
        return trot_right(t);
    }
    if (b < -1) {
        if (th(t->qr->qr) < th(t->qr->ql))
            t->qr = trot_right(t->qr);
        return trot_left(t);
    }
    return t;
}

static srv_job_t *tinsert(srv_job_t *t, srv_job_t *j)
{
    if (!t) {
        j->ql = j->qr = NULL;
        j->qh = 1;
        return j;
    }
    if (j->seq < t->seq)
        t->ql = tinsert(t->ql, j);
    else
        t->qr = tinsert(t->qr, j);
    return tbalance(t);
}

static srv_job_t *tpop_min(srv_job_t *t, srv_job_t **min)
{
    if (!t->ql) {
        *min = t;
        return t->qr;
    }
    t->ql = tpop_min(t->ql, min);
    return tbalance(t);
}

static srv_job_t *tremove(srv_job_t *t, const srv_job_t *j)
{
    if (!t)
        return NULL;
    if (j->seq < t->seq) {
        t->ql = tremove(t->ql, j);
    } else if (j->seq > t->seq) {
        t->qr = tremove(t->qr, j);
    } else {
        srv_job_t *l = t->ql, *r = t->qr;
        t->ql = t->qr = NULL;
        if (!r)
            return l;
        srv_job_t *min;
        r = tpop_min(r, &min);
        min->ql = l;
        min->qr = r;
        return tbalance(min);
    }
    return tbalance(t);
}

static srv_job_t *tmin(srv_job_t *t)
{
    while (t && t->ql)
        t = t->ql;
    return t;
}

/* The job of the smallest seq above seq in t, or NULL. */
static srv_job_t *tafter(srv_job_t *t, int64_t seq)
{
    srv_job_t *best = NULL;
    while (t) {
        if (t->seq > seq) {
            best = t;
            t = t->ql;
        } else {
            t = t->qr;
        }
    }
    return best;
}

void srv__queue_add(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    a->q_root[j->prio] = tinsert(a->q_root[j->prio], j);
    a->n_queued++;
    j->list = SRV_L_QUEUE;
}

srv_job_t *srv__queue_first(const srv_agent_t *a)
{
    for (int p = RK_PRIORITY_COUNT - 1; p >= 0; p--)
        if (a->q_root[p])
            return tmin(a->q_root[p]);
    return NULL;
}

srv_job_t *srv__queue_next(const srv_job_t *j)
{
    const srv_agent_t *a = j->agent;
    srv_job_t *n = tafter(a->q_root[j->prio], j->seq);
    for (int p = (int)j->prio - 1; !n && p >= 0; p--)
        n = tmin(a->q_root[p]);
    return n;
}

void srv__held_add(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    link_back(&a->h_head, &a->h_tail, j);
    a->n_held++;
    j->list = SRV_L_HELD;
}

void srv__running_add(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    link_back(&a->r_head, &a->r_tail, j);
    a->n_running++;
    a->n_exclusive += j->exclusive;
    j->list = SRV_L_RUNNING;
}

void srv__list_unlink(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    if (j->list == SRV_L_QUEUE) {
        a->q_root[j->prio] = tremove(a->q_root[j->prio], j);
        j->ql = j->qr = NULL;
        a->n_queued--;
    } else if (j->list == SRV_L_RUNNING) {
        unlink_job(&a->r_head, &a->r_tail, j);
        a->n_running--;
        a->n_exclusive -= j->exclusive;
    } else if (j->list == SRV_L_HELD) {
        unlink_job(&a->h_head, &a->h_tail, j);
        a->n_held--;
    }
    j->list = SRV_L_NONE;
}

/* ---- the index by id: open addressing, linear probing, tombstones ---- */

#define TOMB ((srv_job_t *)1)

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int grow(srv_index_t *ix, size_t cap)
{
    srv_job_t **v = calloc(cap, sizeof *v);
    if (!v)
        return RK_ENOMEM;
    for (size_t i = 0; i < ix->cap; i++) {
        srv_job_t *j = ix->slots[i];
        if (!j || j == TOMB)
            continue;
        size_t k = hash(j->job_id) & (cap - 1);
        while (v[k])
            k = (k + 1) & (cap - 1);
        v[k] = j;
    }
    free(ix->slots);
    ix->slots = v;
    ix->cap = cap;
    ix->used = ix->n;
    return 0;
}

int srv__index_put(srv_index_t *ix, srv_job_t *j)
{
    /* Keep live entries and tombstones under half the table. */
    if ((ix->used + 1) * 2 > ix->cap) {
        /* Rehashing drops the tombstones; the table doubles only when the
         * live entries alone would fill a third of it (1,000,000 jobs:
         * 2,097,152 slots, 16 MiB). */
        size_t cap = ix->cap ? ix->cap : 1024;
        while ((ix->n + 1) * 3 > cap)
            cap *= 2;
        if (grow(ix, cap))
            return RK_ENOMEM;
    }
    size_t k = hash(j->job_id) & (ix->cap - 1);
    while (ix->slots[k] && ix->slots[k] != TOMB)
        k = (k + 1) & (ix->cap - 1);
    if (!ix->slots[k])
        ix->used++;
    ix->slots[k] = j;
    ix->n++;
    return 0;
}

static size_t find_slot(const srv_index_t *ix, const char *id, bool *found)
{
    *found = false;
    if (!ix->cap)
        return 0;
    size_t k = hash(id) & (ix->cap - 1);
    for (size_t probes = 0; probes < ix->cap && ix->slots[k]; probes++) {
        srv_job_t *j = ix->slots[k];
        if (j != TOMB && strcmp(j->job_id, id) == 0) {
            *found = true;
            return k;
        }
        k = (k + 1) & (ix->cap - 1);
    }
    return 0;
}

srv_job_t *srv__index_get(const srv_index_t *ix, const char *id)
{
    bool found;
    size_t k = find_slot(ix, id, &found);
    return found ? ix->slots[k] : NULL;
}

srv_job_t *srv__index_next(const srv_index_t *ix, size_t *pos)
{
    for (; *pos < ix->cap; (*pos)++) {
        srv_job_t *j = ix->slots[*pos];
        if (j && j != TOMB) {
            (*pos)++;
            return j;
        }
    }
    return NULL;
}

void srv__index_del(srv_index_t *ix, srv_job_t *j)
{
    bool found;
    size_t k = find_slot(ix, j->job_id, &found);
    if (found && ix->slots[k] == j) {
        ix->slots[k] = TOMB;
        ix->n--;
    }
}

void srv__index_cleanup(srv_index_t *ix)
{
    free(ix->slots);
    *ix = (srv_index_t){0};
}
