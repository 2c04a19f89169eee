/* Placement on any matching agent (issue 11; jobs layer, manager thread):
 * a job submitted without an agent waits in the server's own queue until
 * a slot frees on an agent that can run it.
 *
 * Unplaced jobs are grouped into pools by what decides where they may run:
 * the experiment (the compatibility check), the agent_selector and
 * exclusive. A pool is an srv_agent_t without an id, so it has the same
 * queue per priority and held list (queues.c), and queueing, pause,
 * priority and cancel work on it unchanged. Which agents can run a pool's
 * jobs is worked out once per pool and agent (one store read of each) and
 * kept until an agent registers again. A pool whose first job no free
 * agent can take is passed over: it never holds up other pools' jobs.
 *
 * Placing: while agents have free slots, the job placed next is the best
 * (highest priority, then oldest) first job among the pools that have an
 * eligible open agent; it goes to the least loaded of those (running /
 * slots), then the one given a job longest ago. An agent's own queue
 * competes in the same order (srv__pools_beat). The place is stored
 * (job_place) in the batch that stores the job assigned; a failed commit
 * puts the job back in its pool (journal.c). A placed job that goes back
 * to the queue (its agent busy, lost, drained) goes back to its pool,
 * unplaced, so another agent can take it (srv__job_unplace).
 *
 * Cost: one placement looks at every pool's first job and, for the best,
 * at every agent: O(pools x agents), whatever the queues' lengths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

static char *pool_key(const char *experiment_id, const json_t *selector, bool exclusive)
{
    char *sel = selector ? json_dumps(selector, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    size_t n = strlen(experiment_id) + (sel ? strlen(sel) : 0) + 8;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s\n%s\n%d", experiment_id, sel ? sel : "", exclusive);
    free(sel);
    return k;
}

srv_agent_t *srv__pool_get(rk_srv_mgr_t *m, const char *experiment_id, const json_t *selector,
                           bool exclusive)
{
    if (selector && json_object_size(selector) == 0)
        selector = NULL;
    char *key = pool_key(experiment_id, selector, exclusive);
    if (!key)
        return NULL;
    for (srv_agent_t *p = m->pools; p; p = p->pool->next_pool)
        if (strcmp(p->pool->key, key) == 0) {
            free(key);
            return p;
        }
    srv_agent_t *a = calloc(1, sizeof *a);
    srv_pool_t *p = calloc(1, sizeof *p);
    if (a && p) {
        p->key = key;
        p->experiment_id = strdup(experiment_id);
        p->selector = selector ? json_deep_copy(selector) : NULL;
        p->exclusive = exclusive;
        a->pool = p;
        a->slots = 0;
        if (p->experiment_id && (!selector || p->selector)) {
            p->next_pool = NULL;
            srv_agent_t **tail = &m->pools;
            while (*tail)
                tail = &(*tail)->pool->next_pool;
            *tail = a;
            return a;
        }
        free(p->experiment_id);
        json_decref(p->selector);
    } else {
        free(key);
    }
    free(p);
    free(a);
    return NULL;
}

static void pool_free(srv_agent_t *a)
{
    srv_pool_t *p = a->pool;
    free(p->key);
    free(p->experiment_id);
    json_decref(p->selector);
    free(p->elig);
    free(p);
    free(a);
}

void srv__pool_ref(srv_agent_t *p)
{
    p->pool->refs++;
}

void srv__pool_unref(rk_srv_mgr_t *m, srv_agent_t *a)
{
    if (--a->pool->refs > 0 || m->pools_closing)
        return;
    for (srv_agent_t **pp = &m->pools; *pp; pp = &(*pp)->pool->next_pool)
        if (*pp == a) {
            *pp = a->pool->next_pool;
            break;
        }
    pool_free(a);
}

void srv__pools_free_all(rk_srv_mgr_t *m)
{
    m->pools_closing = true;
    while (m->pools) {
        srv_agent_t *a = m->pools;
        m->pools = a->pool->next_pool;
        srv__jobs_free_all(m, a);
        pool_free(a);
    }
    m->pools_closing = false;
}

void srv__job_unplace(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (!j->home || j->agent == j->home)
        return;
    srv__journal_touch(m, j); /* a failed commit puts it back on its agent */
    int rc = srv__txn(m);
    if (!rc)
        rc = rk_store_job_place(m->store, j->job_id, NULL);
    if (rc) {
        rk_log_error("storing a job unplaced failed", "job_id", j->job_id, "error",
                     rk_strerror(rc));
        srv__batch_error(m, rc);
    }
    srv__list_unlink(j);
    j->agent = j->home;
}

/* ---- which agents can run a pool's jobs ---- */

/* Can agent a ever run pool p's jobs (compatibility and selector)? A store
 * that cannot be read now says no, uncached: asked again next time. An
 * experiment gone says yes: dispatch then fails the job with that reason
 * rather than leave it waiting for ever. */
static bool eligible(rk_srv_mgr_t *m, srv_agent_t *pa, const srv_agent_t *a)
{
    srv_pool_t *p = pa->pool;
    if (p->elig_gen != m->elig_gen) {
        if (p->elig)
            memset(p->elig, 0, p->elig_n);
        p->elig_gen = m->elig_gen;
    }
    if (a->ord >= p->elig_n) {
        size_t n = a->ord + 16;
        unsigned char *v = realloc(p->elig, n);
        if (v) {
            memset(v + p->elig_n, 0, n - p->elig_n);
            p->elig = v;
            p->elig_n = n;
        }
    }
    if (a->ord < p->elig_n && p->elig[a->ord])
        return p->elig[a->ord] == 1;
    rk_registered_agent_t r = {0};
    rk_experiment_t x = {0};
    int rc = rk_store_agent_get(m->store, a->id, &r);
    if (rc) {
        rk_registered_agent_cleanup(&r);
        return false;
    }
    bool ok = !p->selector || rk_agent_info_labels_match(&r.info, p->selector);
    rc = ok ? rk_store_experiment_get(m->store, p->experiment_id, &x) : 0;
    if (ok && rc == 0) {
        json_t *missing = json_array(), *warnings = json_array();
        ok = missing && warnings && rk_srv_compat(&x, &r.info, missing, warnings);
        json_decref(missing);
        json_decref(warnings);
    } else if (rc && rc != RK_ENOENT) {
        rk_experiment_cleanup(&x);
        rk_registered_agent_cleanup(&r);
        return false;
    }
    rk_experiment_cleanup(&x);
    rk_registered_agent_cleanup(&r);
    if (a->ord < p->elig_n)
        p->elig[a->ord] = ok ? 1 : 2;
    return ok;
}

/* x comes before y in dispatch order. */
static bool before(const srv_job_t *x, const srv_job_t *y)
{
    return x->prio != y->prio ? x->prio > y->prio : x->seq < y->seq;
}

/* Could a start f now, its own queue having nothing better? */
static bool can_take(rk_srv_mgr_t *m, srv_agent_t *pa, const srv_job_t *f, srv_agent_t *a,
                     int64_t now)
{
    if (!srv__agent_open(a, now) || a->known_error || (f->exclusive && a->n_running))
        return false;
    const srv_job_t *own = srv__queue_first(a);
    if (own && own->st == SRV_J_QUEUED && before(own, f))
        return false;
    return eligible(m, pa, a);
}

/* The pool's first job when it waits to be placed, or NULL. */
static srv_job_t *pool_first(const srv_agent_t *pa)
{
    srv_job_t *f = srv__queue_first(pa);
    return f && f->st == SRV_J_QUEUED ? f : NULL;
}

bool srv__pools_beat(rk_srv_mgr_t *m, srv_agent_t *a, const srv_job_t *j, int64_t now)
{
    if (a->known_error)
        return false;
    for (srv_agent_t *pa = m->pools; pa; pa = pa->pool->next_pool) {
        srv_job_t *f = pool_first(pa);
        if (f && before(f, j) && !(f->exclusive && a->n_running) && eligible(m, pa, a))
            return true;
    }
    return false;
}

/* a is a better choice than b: less loaded, then given a job longer ago. */
static bool lighter(const srv_agent_t *a, const srv_agent_t *b)
{
    /* running/slots compared without division: a.r * b.s vs b.r * a.s */
    int64_t l = (int64_t)a->n_running * b->slots, r = (int64_t)b->n_running * a->slots;
    return l != r ? l < r : a->placed < b->placed;
}

bool srv__pools_place(rk_srv_mgr_t *m, int64_t now)
{
    bool placed = false;
    for (;;) {
        srv_job_t *best = NULL;
        srv_agent_t *to = NULL;
        for (srv_agent_t *pa = m->pools; pa; pa = pa->pool->next_pool) {
            srv_job_t *f = pool_first(pa);
            if (!f || (best && !before(f, best)))
                continue;
            srv_agent_t *choice = NULL;
            for (srv_agent_t *a = m->agents; a; a = a->next)
                if ((!choice || lighter(a, choice)) && can_take(m, pa, f, a, now))
                    choice = a;
            if (choice) {
                best = f;
                to = choice;
            }
        }
        if (!best)
            return placed;
        srv__journal_touch(m, best); /* a failed commit puts it back in its pool */
        int rc = srv__txn(m);
        if (!rc)
            rc = rk_store_job_place(m->store, best->job_id, to->id);
        if (rc) {
            rk_log_error("storing a job's place failed", "job_id", best->job_id, "error",
                         rk_strerror(rc));
            srv__batch_error(m, rc);
        }
        srv__list_unlink(best);
        best->agent = to;
        to->placed = ++m->place_clock;
        srv__job_assign(m, best);
        placed = true;
    }
}
