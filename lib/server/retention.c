/* Retention: deleting finished jobs older than N days (--retention-days),
 * at start and then every --retention-period seconds, from a thread of its
 * own; POST /maintenance/cleanup runs the same sweep at once, and DELETE
 * /jobs/{id}?purge=true deletes one job (routes_jobs.c).
 *
 * A sweep deletes in batches (store job_purge_finished, one atomic unit
 * each) with a pause between batches, so the job manager's group commits
 * never wait long for the write side: each batch is sized from the last
 * one's time to take about RK_SRV_RETAIN_BUDGET_US (at most
 * --retention-batch jobs). It
 * never touches the manager's state: the manager keeps only unfinished
 * jobs (a finished one is freed at release), and jobs whose status changed
 * in the last RK_SRV_RETAIN_SETTLE_S seconds are left for the next sweep,
 * so a job the manager is still settling (a cancelled job's result on its
 * way) is not pulled from under it. Jobs a baseline names are kept. After
 * each batch, the deleted jobs' agents are told to drop their copies
 * (DELETE /api/v1/jobs/{id}?purge=true; best effort: an agent that is
 * down or answers badly is logged once and skipped for the rest of the
 * sweep, and its own retention removes its copy later).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "server/internal.h"

struct rk_srv_retention {
    rk_server_t *srv;
    double days;     /* 0: no periodic sweep */
    double period_s; /* between sweeps */
    size_t batch;
    int pause_ms;
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* guards stop, with cv */
    pthread_cond_t cv;
    bool stop;
    pthread_mutex_t sweep_mu; /* one sweep at a time */
};

/* ---- telling agents ---- */

typedef struct agent_ref {
    char *id, *url, *token;
    bool down; /* unknown, or failed once in this sweep: not called again */
} agent_ref_t;

typedef struct agents {
    agent_ref_t *v;
    size_t n, cap;
} agents_t;

static void agents_free(agents_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i].id);
        free(a->v[i].url);
        if (a->v[i].token)
            memset(a->v[i].token, 0, strlen(a->v[i].token));
        free(a->v[i].token);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* The agent's reference, looked up once per sweep; NULL on ENOMEM. */
static agent_ref_t *agent_ref(rk_server_t *srv, agents_t *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].id, id) == 0)
            return &a->v[i];
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 8;
        agent_ref_t *v = realloc(a->v, nc * sizeof *v);
        if (!v)
            return NULL;
        a->v = v;
        a->cap = nc;
    }
    agent_ref_t *r = &a->v[a->n];
    memset(r, 0, sizeof *r);
    if (!(r->id = strdup(id)))
        return NULL;
    a->n++;
    rk_registered_agent_t ra = {0};
    if (rk_store_agent_get(srv->store, id, &ra) == 0 && ra.agent_url) {
        r->url = strdup(ra.agent_url);
        r->token = rk_srv_agent_token(srv, &ra);
    }
    rk_registered_agent_cleanup(&ra);
    r->down = !r->url;
    return r;
}

/* DELETE <agent>/api/v1/jobs/<job_id>?purge=true; failures logged. */
static void tell_agent(agent_ref_t *r, const char *job_id)
{
    if (r->down)
        return;
    char *url = NULL;
    if (asprintf(&url, "%s/api/v1/jobs/%s?purge=true", r->url, job_id) < 0)
        return;
    rk_http_request_t req = {.method = "DELETE",
                             .url = url,
                             .token = r->token,
                             .connect_timeout_ms = 1000,
                             .timeout_ms = 3000};
    rk_http_response_t resp = {0};
    int rc = rk_http_client_request_sync(&req, &resp);
    /* 404: the agent no longer has it (its own retention, a restart);
     * 409: it runs there (a job id reused? never dropped by force). */
    if (rc || resp.err || (resp.status != 200 && resp.status != 404)) {
        char status[16];
        snprintf(status, sizeof status, "%ld", resp.status);
        rk_log_warn("retention: agent not told to drop a deleted job; it keeps its copy until "
                    "its own retention removes it",
                    "agent_id", r->id, "job_id", job_id, "status", status, "error",
                    resp.err ? resp.msg : "");
        if (rc || resp.err)
            r->down = true; /* not reachable: skip it for the rest of the sweep */
    }
    rk_http_response_cleanup(&resp);
    free(url);
}

void rk_srv_retention_tell_agent(rk_server_t *srv, const char *agent_id, const char *job_id)
{
    agents_t a = {0};
    agent_ref_t *r = agent_id ? agent_ref(srv, &a, agent_id) : NULL;
    if (r)
        tell_agent(r, job_id);
    agents_free(&a);
}

/* ---- the sweep ---- */

/* The job ids baselines name (kept), into *out (n of them). */
static int baseline_jobs(rk_server_t *srv, char ***out, size_t *n)
{
    char **ids = NULL, **texts = NULL;
    size_t k = 0;
    *out = NULL;
    *n = 0;
    int rc = rk_store_doc_list(srv->store, RK_SRV_BASELINE_DOC, &ids, &texts, &k);
    if (rc == RK_EUNSUP)
        return 0;
    if (rc) {
        rk_store_docs_free(ids, texts, k);
        return rc;
    }
    char **v = k ? calloc(k, sizeof *v) : NULL;
    size_t m = 0;
    for (size_t i = 0; v && i < k; i++) {
        json_t *d = json_loads(texts[i], 0, NULL);
        const char *j = json_string_value(json_object_get(d, "job_id"));
        if (j && (v[m] = strdup(j)))
            m++;
        json_decref(d);
    }
    rk_store_docs_free(ids, texts, k);
    if (k && !v)
        return RK_ENOMEM;
    *out = v;
    *n = m;
    return 0;
}

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Waits ms, or until stop; true when stopping. */
static bool pause_or_stop(rk_srv_retention_t *r, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
        ;
    bool stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

int rk_srv_retention_sweep(rk_server_t *srv, double days, size_t *jobs, size_t *results)
{
    rk_srv_retention_t *r = srv->retention;
    *jobs = *results = 0;
    if (!r || days < 0)
        return RK_EINVAL;
    rk_time_t now = rk_time_now_us();
    rk_time_t before = now - (rk_time_t)(days * 86400.0 * 1e6);
    rk_time_t settled = now - (rk_time_t)RK_SRV_RETAIN_SETTLE_S * 1000000;
    if (before > settled)
        before = settled;
    pthread_mutex_lock(&r->sweep_mu);
    char **keep = NULL;
    size_t n_keep = 0, batches = 0;
    agents_t agents = {0};
    int rc = baseline_jobs(srv, &keep, &n_keep);
    int64_t t0 = rk_time_mono_us();
    rk_job_purge_t p = {
        .before = before, .limit = r->batch, .keep = (const char *const *)keep, .n_keep = n_keep};
    int64_t busy = 0, worst = 0;
    while (!rc) {
        int64_t b0 = rk_time_mono_us();
        rc = rk_store_job_purge_finished(srv->store, &p);
        int64_t took = rk_time_mono_us() - b0;
        busy += took;
        if (took > worst)
            worst = took;
        if (rc)
            break;
        batches++;
        /* Next batch sized to take about the budget: the manager's commit
         * waits at most that long behind one (at most doubling or halving
         * at a time; at most --retention-batch). */
        double want = (double)p.limit * RK_SRV_RETAIN_BUDGET_US / (double)(took > 0 ? took : 1);
        if (want > (double)p.limit * 2)
            want = (double)p.limit * 2;
        if (want < (double)p.limit / 2)
            want = (double)p.limit / 2;
        size_t lim = want < 8 ? 8 : (size_t)want;
        p.limit = lim > r->batch ? r->batch : lim;
        *jobs += p.n_jobs;
        *results += p.n_results;
        for (size_t i = 0; i < p.n_jobs; i++) {
            agent_ref_t *a =
                p.jobs[i].agent_id ? agent_ref(srv, &agents, p.jobs[i].agent_id) : NULL;
            if (a)
                tell_agent(a, p.jobs[i].job_id);
        }
        rk_store_job_purge_cleanup(&p);
        int pause = (int)(3 * took / 1000);
        if (!p.more || pause_or_stop(r, pause > r->pause_ms ? pause : r->pause_ms))
            break;
    }
    agents_free(&agents);
    strs_free(keep, n_keep);
    pthread_mutex_unlock(&r->sweep_mu);
    char nj[24], nr[24], nb[24], ms[24], cut[RK_TIME_STRLEN], bms[24], wms[24];
    snprintf(bms, sizeof bms, "%lld", (long long)(busy / 1000));
    snprintf(wms, sizeof wms, "%.1f", (double)worst / 1000.0);
    snprintf(nj, sizeof nj, "%zu", *jobs);
    snprintf(nr, sizeof nr, "%zu", *results);
    snprintf(nb, sizeof nb, "%zu", batches);
    snprintf(ms, sizeof ms, "%lld", (long long)((rk_time_mono_us() - t0) / 1000));
    rk_time_format(before, cut);
    if (rc)
        rk_log_error("retention sweep failed; the next one goes on", "deleted_jobs", nj, "error",
                     rk_strerror(rc));
    else
        rk_log_info("retention sweep", "finished_before", cut, "deleted_jobs", nj,
                    "deleted_results", nr, "batches", nb, "ms", ms, "store_ms", bms,
                    "longest_batch_ms", wms);
    return rc;
}

/* ---- the periodic thread ---- */

static void *sweeper(void *ud)
{
    rk_srv_retention_t *r = ud;
    do {
        size_t j, res;
        rk_srv_retention_sweep(r->srv, r->days, &j, &res);
    } while (!pause_or_stop(r, (int)(r->period_s * 1000)));
    return NULL;
}

int rk_srv_retention_new(rk_server_t *srv, double days, double period_s, size_t batch,
                         rk_srv_retention_t **out)
{
    rk_srv_retention_t *r = calloc(1, sizeof *r);
    if (!r)
        return RK_ENOMEM;
    r->srv = srv;
    r->days = days;
    r->period_s = period_s > 0 ? period_s : 3600;
    r->batch = batch ? batch : 500;
    r->pause_ms = RK_SRV_RETAIN_PAUSE_MS;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    pthread_mutex_init(&r->sweep_mu, NULL);
    *out = r;
    return 0;
}

int rk_srv_retention_start(rk_srv_retention_t *r)
{
    if (!r || r->days <= 0 || r->running)
        return 0;
    if (pthread_create(&r->thread, NULL, sweeper, r))
        return RK_ENOMEM;
    r->running = true;
    return 0;
}

void rk_srv_retention_stop(rk_srv_retention_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->running)
        pthread_join(r->thread, NULL);
    r->running = false;
}

void rk_srv_retention_free(rk_srv_retention_t *r)
{
    if (!r)
        return;
    rk_srv_retention_stop(r);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->sweep_mu);
    free(r);
}
