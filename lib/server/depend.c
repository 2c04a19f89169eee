/* Job dependencies in the manager (manager thread; see depend.h): the map
 * dependency id -> dependent ids, what a job keeps of its dependencies,
 * and the hooks the create, the batch and recovery call.
 *
 * A dependent is named by id, not by pointer, so a dependent freed before
 * its dependency ends (cancelled, its agent gone) leaves nothing dangling:
 * the id is looked up in the index when the dependency ends, and skipped
 * when it is no longer waiting.
 *
 * Ends are applied in srv__flush, just before the commit (srv__deps_run):
 * never in the middle of a walk over an agent's lists, and a cascade down
 * a chain of 10,000 is a loop, not a recursion. What a run changed is
 * undone when the commit fails (srv__deps_failed): the dependents' extras
 * go back and the resolved entries return to the map, as the journal puts
 * the jobs themselves back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/depend.h"

/* What a job with depends_on keeps: its whole extra, written whole. Its
 * other keys (retry, not_before...) do not change while it waits. */
struct srv_dep {
    srv_job_t *job; /* whose it is (it lives as long as the job) */
    json_t *extra;  /* {depends_on, dependency, waiting_for, ...} as stored */
    bool afterany;
    json_t *snap;         /* extra before this batch's first change, or NULL */
    srv_dep_t *snap_next; /* in the touched list while snapped */
    bool snapped;
    bool dirty; /* changed in this batch, not written yet */
};

/* One dependency with dependents. */
typedef struct node {
    char *id;
    char **deps; /* dependent job ids */
    size_t n, cap;
    struct node *next; /* bucket chain, or the pending / resolved list */
} node_t;

struct srv_deps {
    node_t **buckets;
    size_t nb, count;
    node_t *pending;    /* ended in this batch, to apply before the commit */
    node_t *resolved;   /* applied in this batch: freed at the commit */
    srv_dep_t *touched; /* dependents changed in this batch */
    char **recovered;   /* ids of recovered jobs still waiting */
    size_t n_rec, cap_rec;
};

/* ---- the map ---- */

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static srv_deps_t *deps_of(rk_srv_mgr_t *m)
{
    if (!m->deps)
        m->deps = calloc(1, sizeof *m->deps);
    return m->deps;
}

static void node_free(node_t *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->deps[i]);
    free(n->deps);
    free(n->id);
    free(n);
}

/* Doubles the buckets when the map is full; a failed grow keeps it as it
 * is (longer chains, still correct). */
static void grow(srv_deps_t *d)
{
    size_t nb = d->nb ? d->nb * 2 : 64;
    node_t **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < d->nb; i++) {
        for (node_t *n = d->buckets[i], *next; n; n = next) {
            next = n->next;
            size_t k = hash(n->id) & (nb - 1);
            n->next = b[k];
            b[k] = n;
        }
    }
    free(d->buckets);
    d->buckets = b;
    d->nb = nb;
}

static node_t **slot(srv_deps_t *d, const char *id)
{
    if (!d->nb)
        return NULL;
    node_t **p = &d->buckets[hash(id) & (d->nb - 1)];
    while (*p && strcmp((*p)->id, id) != 0)
        p = &(*p)->next;
    return p;
}

/* Puts node n in the map (merging with one of the same id). */
static void node_put(srv_deps_t *d, node_t *n)
{
    if (d->count >= d->nb)
        grow(d);
    node_t **p = slot(d, n->id);
    if (!p) { /* no buckets at all: memory ran out */
        node_free(n);
        return;
    }
    if (*p) { /* the same dependency: take n's dependents over */
        node_t *o = *p;
        for (size_t i = 0; i < n->n; i++) {
            if (o->n == o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 4;
                char **v = realloc(o->deps, cap * sizeof *v);
                if (!v)
                    break;
                o->deps = v;
                o->cap = cap;
            }
            o->deps[o->n++] = n->deps[i];
            n->deps[i] = NULL;
        }
        node_free(n);
        return;
    }
    n->next = NULL;
    *p = n;
    d->count++;
}

/* Registers dependent job_id under dependency id. RK_ENOMEM. */
static int edge_add(rk_srv_mgr_t *m, const char *id, const char *job_id)
{
    srv_deps_t *d = deps_of(m);
    if (!d)
        return RK_ENOMEM;
    if (d->count >= d->nb)
        grow(d);
    node_t **p = slot(d, id);
    if (!p)
        return RK_ENOMEM;
    node_t *n = *p;
    if (!n) {
        if (!(n = calloc(1, sizeof *n)) || !(n->id = strdup(id))) {
            free(n);
            return RK_ENOMEM;
        }
        *p = n;
        d->count++;
    }
    if (n->n == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 4;
        char **v = realloc(n->deps, cap * sizeof *v);
        if (!v)
            return RK_ENOMEM;
        n->deps = v;
        n->cap = cap;
    }
    if (!(n->deps[n->n] = strdup(job_id)))
        return RK_ENOMEM;
    n->n++;
    return 0;
}

/* ---- what a job keeps ---- */

static json_t *waiting_of(const srv_dep_t *r)
{
    return json_object_get(r->extra, "waiting_for");
}

bool srv__deps_waiting(const srv_job_t *j)
{
    return j->dep && json_array_size(waiting_of(j->dep)) > 0;
}

json_t *srv__deps_extra(const srv_job_t *j)
{
    return j->dep ? j->dep->extra : NULL;
}

void srv__deps_forget(srv_job_t *j)
{
    if (!j->dep)
        return;
    json_decref(j->dep->extra);
    json_decref(j->dep->snap);
    free(j->dep);
    j->dep = NULL;
}

/* A record for extra (copied) when it names dependencies; NULL otherwise
 * or on ENOMEM (*rc). */
static srv_dep_t *dep_new(srv_job_t *j, const json_t *extra, int *rc)
{
    *rc = 0;
    if (!json_is_array(json_object_get(extra, "depends_on")))
        return NULL;
    srv_dep_t *r = calloc(1, sizeof *r);
    if (!r || !(r->extra = json_deep_copy(extra))) {
        free(r);
        *rc = RK_ENOMEM;
        return NULL;
    }
    r->job = j;
    const char *how = json_string_value(json_object_get(extra, "dependency"));
    r->afterany = how && strcmp(how, "afterany") == 0;
    if (!json_is_array(waiting_of(r)))
        json_object_set_new(r->extra, "waiting_for", json_array());
    return r;
}

/* Keeps what r is before this batch changes it, once per batch; false
 * when it cannot (no memory): the change is then not undone on a failed
 * commit (the store stays the truth at restart). */
static bool snapshot(rk_srv_mgr_t *m, srv_dep_t *r)
{
    srv_deps_t *d = m->deps;
    if (r->snapped)
        return true;
    json_t *copy = d ? json_deep_copy(r->extra) : NULL;
    if (!copy)
        return false;
    r->snap = r->extra;
    r->extra = copy;
    r->snapped = true;
    r->snap_next = d->touched;
    d->touched = r;
    return true;
}

/* Stores j's extra in the batch (the whole object). */
static void store_extra(rk_srv_mgr_t *m, srv_job_t *j)
{
    j->dep->dirty = false;
    srv__journal_touch(m, j);
    /* A job with a retry policy or start time has one extra, retry_mgr.c's,
     * which the answers show and its writes store: waiting_for goes in it. */
    json_t *whole = j->dep->extra;
    if (j->rt && j->rt->extra) {
        json_object_set(j->rt->extra, "waiting_for", waiting_of(j->dep));
        whole = j->rt->extra;
    }
    int rc = srv__txn(m);
    if (!rc)
        rc = rk_store_job_set_extra(m->store, j->job_id, whole);
    if (rc) {
        rk_log_error("storing a job's waiting_for failed", "job_id", j->job_id, "error",
                     rk_strerror(rc));
        srv__batch_error(m, rc);
    }
}

/* Removes id from r's waiting_for; true when it was there. */
static bool unwait(srv_dep_t *r, const char *id)
{
    json_t *w = waiting_of(r);
    for (size_t i = json_array_size(w); i-- > 0;) {
        if (strcmp(json_string_value(json_array_get(w, i)), id) == 0) {
            json_array_remove(w, i);
            return true;
        }
    }
    return false;
}

static const char *ended_words(rk_job_state_t st)
{
    switch (st) {
    case RK_JOB_TIMEOUT:
        return "timed out";
    case RK_JOB_CANCELLED:
        return "was cancelled";
    case RK_JOB_COMPLETED:
        return "completed";
    default:
        return "failed";
    }
}

/* Dependency id ended as st (found: false when the store no longer has
 * it): j is cancelled naming it under afterok unless it completed. True
 * when j was cancelled. */
static bool judge(rk_srv_mgr_t *m, srv_job_t *j, const char *id, rk_job_state_t st, bool found)
{
    if (j->dep->afterany || (found && st == RK_JOB_COMPLETED))
        return false;
    char msg[256];
    if (found)
        snprintf(msg, sizeof msg, "dependency %.64s %s", id, ended_words(st));
    else
        snprintf(msg, sizeof msg, "dependency %.64s no longer exists", id);
    srv__job_store_status(m, j, RK_JOB_CANCELLED, msg);
    srv__job_settle(m, j);
    srv__release_later(m, j);
    m->again = true;
    return true;
}

/* j waits no more: into its agent's queue at its place (a paused one
 * stays held: resume queues it). */
static void release_to_queue(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (j->st != SRV_J_WAITING)
        return;
    srv__journal_touch(m, j);
    srv__job_to(j, SRV_J_QUEUED);
    srv__list_unlink(j);
    if (!srv__delay_hold(m, j)) /* a not_before still ahead (retry_mgr.c): it waits on */
        srv__queue_add(j);
    m->again = true;
}

/* The state of a job the manager no longer tracks, from the store: 0,
 * RK_ENOENT (gone: purged), or the store's error. */
static int stored_state(rk_srv_mgr_t *m, const char *id, rk_job_state_t *st)
{
    rk_job_info_t ji = {0};
    int rc = rk_store_job_get(m->store, id, false, &ji);
    *st = ji.status.status;
    rk_job_info_cleanup(&ji);
    return rc;
}

/* ---- a create ---- */

static bool has_deps(const rk_job_info_t *ji)
{
    return json_is_array(json_object_get(ji->extra, "depends_on"));
}

void srv__deps_prepare(rk_srv_mgr_t *m, srv_create_t *c)
{
    bool any = false;
    for (size_t i = 0; i < c->n && !any; i++)
        any = has_deps(&c->jobs[i]);
    if (!any)
        return;
    /* The create's own ids, and which of them others depend on. */
    json_t *ids = json_object();
    unsigned char *ref = calloc(c->n, 1);
    if (!ids || !ref)
        goto out;
    for (size_t i = 0; i < c->n; i++)
        json_object_set_new(ids, c->jobs[i].job_id, json_integer((json_int_t)i));
    for (size_t i = 0; i < c->n; i++) {
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(c->jobs[i].extra, "depends_on"), k, v)
        {
            json_t *at = json_object_get(ids, json_string_value(v));
            if (at)
                ref[json_integer_value(at)] = 1;
        }
    }
    /* A referenced id the store holds already would be replaced at insert:
     * replace it now, and its references with it. */
    json_t *renames = NULL;
    for (size_t k = 0; k < c->n; k++) {
        rk_job_state_t st;
        char *old = c->jobs[k].job_id;
        if (!ref[k] || stored_state(m, old, &st) != 0)
            continue;
        char id[RK_JOB_ID_SIZE];
        for (int tries = 0; tries < 8 && rk_job_id_generate(id) == 0; tries++)
            if (stored_state(m, id, &st) == RK_ENOENT && !json_object_get(ids, id))
                break;
        char *nid = strdup(id);
        if (!nid)
            continue;
        if (!renames)
            renames = json_object();
        json_object_set_new(renames, old, json_string(nid));
        json_object_set_new(ids, nid, json_integer((json_int_t)k));
        c->jobs[k].job_id = nid;
        free(old);
    }
    for (size_t i = 0; i < c->n; i++) {
        rk_job_info_t *ji = &c->jobs[i];
        json_t *on = json_object_get(ji->extra, "depends_on");
        if (!json_is_array(on))
            continue;
        const char *how = json_string_value(json_object_get(ji->extra, "dependency"));
        bool afterany = how && strcmp(how, "afterany") == 0;
        if (!how)
            json_object_set_new(ji->extra, "dependency", json_string("afterok"));
        json_t *wf = json_array();
        size_t k;
        json_t *v;
        json_array_foreach(on, k, v)
        {
            json_t *nv = renames ? json_object_get(renames, json_string_value(v)) : NULL;
            if (nv)
                json_array_set(on, k, nv);
            const char *id = json_string_value(json_array_get(on, k));
            /* Waited for: unfinished, and (afterok) ended badly, which the
             * create then judges (srv__deps_created). */
            bool wait = json_object_get(ids, id) != NULL;
            if (!wait) {
                srv_job_t *dj = srv__index_get(&m->index, id);
                rk_job_state_t st = dj ? dj->status : RK_JOB_FAILED;
                bool found = dj || stored_state(m, id, &st) == 0;
                wait =
                    !found || !rk_job_state_terminal(st) || (!afterany && st != RK_JOB_COMPLETED);
            }
            if (wait)
                json_array_append_new(wf, json_string(id));
        }
        json_object_set_new(ji->extra, "waiting_for", wf);
    }
    json_decref(renames);
out:
    json_decref(ids);
    free(ref);
}

bool srv__deps_hold(rk_srv_mgr_t *m, srv_job_t *j, const rk_job_info_t *ji)
{
    (void)m;
    int rc;
    srv_dep_t *r = dep_new(j, ji->extra, &rc);
    if (!r) {
        if (rc) /* cannot track what it waits for: it runs unordered, said so */
            rk_log_error("job dependencies: out of memory", "job_id", j->job_id);
        return false;
    }
    j->dep = r;
    if (!json_array_size(waiting_of(r)))
        return false;
    j->st = SRV_J_WAITING;
    srv__held_add(j);
    return true;
}

/* Registers waiting j with each unfinished dependency; judges those that
 * ended (stored: the store's state, tracked: the manager's). */
static void evaluate(rk_srv_mgr_t *m, srv_job_t *j)
{
    json_t *w = waiting_of(j->dep);
    char bad[80] = "";
    rk_job_state_t bad_st = RK_JOB_FAILED;
    bool bad_found = true, changed = false;
    for (size_t i = json_array_size(w); i-- > 0;) {
        const char *id = json_string_value(json_array_get(w, i));
        srv_job_t *dj = srv__index_get(&m->index, id);
        if (dj && !srv__job_ended_here(dj)) {
            if (edge_add(m, id, j->job_id))
                rk_log_error("job dependencies: out of memory", "job_id", j->job_id);
            continue;
        }
        rk_job_state_t st = dj ? dj->status : RK_JOB_FAILED;
        int rc = dj ? 0 : stored_state(m, id, &st);
        bool found = rc == 0;
        if ((rc && rc != RK_ENOENT) || (found && !rk_job_state_terminal(st))) {
            /* The store cannot say now, or it is unfinished but not
             * tracked: it keeps waiting; a restart looks again. */
            rk_log_error("job dependency cannot be judged now", "job_id", j->job_id, "dependency",
                         id, "error", rc ? rk_strerror(rc) : "not tracked");
            continue;
        }
        if (!*bad && !j->dep->afterany && !(found && st == RK_JOB_COMPLETED)) {
            snprintf(bad, sizeof bad, "%s", id);
            bad_st = st;
            bad_found = found;
        }
        json_array_remove(w, i);
        changed = true;
    }
    if (changed)
        store_extra(m, j);
    if (*bad)
        judge(m, j, bad, bad_st, bad_found);
    else if (!json_array_size(w))
        release_to_queue(m, j);
}

void srv__deps_created(rk_srv_mgr_t *m, srv_create_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        srv_job_t *j = c->waiting[i];
        if (!j || !j->dep || j->st != SRV_J_WAITING)
            continue;
        evaluate(m, j);
        rk_job_info_t *ji = &c->jobs[i];
        json_t *copy = json_deep_copy(j->dep->extra);
        if (copy) {
            json_decref(ji->extra);
            ji->extra = copy;
        }
        if (j->st != SRV_J_QUEUED) /* a queued one is answered after scheduling */
            srv__job_settle(m, j);
    }
}

/* ---- ends ---- */

void srv__deps_ended(rk_srv_mgr_t *m, srv_job_t *j)
{
    srv_deps_t *d = m->deps;
    node_t **p = d ? slot(d, j->job_id) : NULL;
    if (!p || !*p)
        return;
    node_t *n = *p;
    *p = n->next;
    d->count--;
    n->next = d->pending;
    d->pending = n;
}

/* Dependency dep_id (status st) ended: dependent j learns of it. */
static void resolve(rk_srv_mgr_t *m, srv_job_t *j, const char *dep_id, rk_job_state_t st)
{
    if (!j || !j->dep || j->st == SRV_J_RELEASING || srv__job_ended_here(j))
        return;
    bool undoable = snapshot(m, j->dep);
    if (!unwait(j->dep, dep_id))
        return;
    /* Written once per batch (srv__deps_run): a fan-in whose dependencies
     * end together is one write, not one per end. */
    srv__journal_touch(m, j);
    j->dep->dirty = true;
    if (!undoable)
        store_extra(m, j);
    if (judge(m, j, dep_id, st, true))
        return;
    if (!json_array_size(waiting_of(j->dep)))
        release_to_queue(m, j);
}

void srv__deps_run(rk_srv_mgr_t *m)
{
    srv_deps_t *d = m->deps;
    while (d && d->pending) {
        node_t *n = d->pending;
        d->pending = n->next;
        srv_job_t *dj = srv__index_get(&m->index, n->id);
        rk_job_state_t st = RK_JOB_FAILED;
        if (dj)
            st = dj->status;
        else
            stored_state(m, n->id, &st);
        for (size_t i = 0; i < n->n; i++)
            resolve(m, srv__index_get(&m->index, n->deps[i]), n->id, st);
        n->next = d->resolved;
        d->resolved = n;
    }
    for (srv_dep_t *r = d ? d->touched : NULL; r; r = r->snap_next) {
        if (!r->dirty)
            continue;
        store_extra(m, r->job);
        /* One event per dependent and batch: a fan-in's JobInfo carries
         * thousands of ids, so one per end would be quadratic. */
        if (!srv__job_ended_here(r->job))
            srv__event(m, "job", srv__job_info_json(r->job));
    }
}

void srv__deps_committed(rk_srv_mgr_t *m)
{
    srv_deps_t *d = m->deps;
    if (!d)
        return;
    while (d->resolved) {
        node_t *n = d->resolved;
        d->resolved = n->next;
        node_free(n);
    }
    while (d->touched) {
        srv_dep_t *r = d->touched;
        d->touched = r->snap_next;
        json_decref(r->snap);
        r->snap = NULL;
        r->snapped = false;
        r->dirty = false;
        r->snap_next = NULL;
    }
}

void srv__deps_failed(rk_srv_mgr_t *m)
{
    srv_deps_t *d = m->deps;
    if (!d)
        return;
    while (d->touched) {
        srv_dep_t *r = d->touched;
        d->touched = r->snap_next;
        json_decref(r->extra);
        r->extra = r->snap;
        r->snap = NULL;
        if (r->job->rt && r->job->rt->extra)
            json_object_set(r->job->rt->extra, "waiting_for", waiting_of(r));
        r->snapped = false;
        r->dirty = false;
        r->snap_next = NULL;
    }
    /* The ends did not happen: their dependents wait for them again. */
    for (node_t **list = &d->resolved; list; list = list == &d->resolved ? &d->pending : NULL) {
        while (*list) {
            node_t *n = *list;
            *list = n->next;
            node_put(d, n);
        }
    }
}

/* ---- recovery ---- */

int srv__deps_recovered(rk_srv_mgr_t *m, srv_job_t *j, const json_t *extra)
{
    int rc;
    srv_dep_t *r = dep_new(j, extra, &rc);
    if (!r)
        return rc;
    j->dep = r;
    if (!json_array_size(waiting_of(r)))
        return 0;
    srv_deps_t *d = deps_of(m);
    if (!d)
        return RK_ENOMEM;
    if (d->n_rec == d->cap_rec) {
        size_t cap = d->cap_rec ? d->cap_rec * 2 : 64;
        char **v = realloc(d->recovered, cap * sizeof *v);
        if (!v)
            return RK_ENOMEM;
        d->recovered = v;
        d->cap_rec = cap;
    }
    if (!(d->recovered[d->n_rec] = strdup(j->job_id)))
        return RK_ENOMEM;
    d->n_rec++;
    return 0;
}

int srv__deps_recover(rk_srv_mgr_t *m)
{
    srv_deps_t *d = m->deps;
    if (!d || !d->n_rec)
        return 0;
    /* Each was recovered out of the queue (WAITING, jobs.c), or held. */
    for (size_t i = 0; i < d->n_rec; i++) {
        srv_job_t *j = srv__index_get(&m->index, d->recovered[i]);
        /* A paused one is held, or asked about first (ASKING) if it was
         * placed: it learns of its dependencies all the same. */
        if (j && !srv__job_ended_here(j))
            evaluate(m, j);
        free(d->recovered[i]);
    }
    char n[24];
    snprintf(n, sizeof n, "%zu", d->n_rec);
    rk_log_info("job dependencies recovered", "waiting", n);
    free(d->recovered);
    d->recovered = NULL;
    d->n_rec = d->cap_rec = 0;
    return srv__flush(m);
}

void srv__deps_free(rk_srv_mgr_t *m)
{
    srv_deps_t *d = m->deps;
    if (!d)
        return;
    srv__deps_committed(m); /* frees the resolved entries, drops snapshots */
    while (d->pending) {
        node_t *n = d->pending;
        d->pending = n->next;
        node_free(n);
    }
    for (size_t i = 0; i < d->nb; i++) {
        for (node_t *n = d->buckets[i], *next; n; n = next) {
            next = n->next;
            node_free(n);
        }
    }
    for (size_t i = 0; i < d->n_rec; i++)
        free(d->recovered[i]);
    free(d->recovered);
    free(d->buckets);
    free(d);
    m->deps = NULL;
}
