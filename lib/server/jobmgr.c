/* The job manager: its thread and loop, the commands handlers hand it,
 * the batch (one transaction per iteration, deferred answers, events and
 * slot releases) and restart recovery. A job's life is in jobs.c (and its
 * traffic in dispatch.c), the agent registry in agents.c, requests to
 * agents in calls.c.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/depend.h"
#include "server/mgr.h"
#include "server/schedules.h"
#include "server/webhooks.h"

/* ---- the batch ---- */

int srv__txn(rk_srv_mgr_t *m)
{
    if (m->batch_err)
        return m->batch_err; /* the batch fails anyway: write nothing more */
    if (m->in_txn)
        return 0;
    int rc = rk_store_begin(m->store);
    if (rc)
        return srv__batch_error(m, rc);
    m->in_txn = true;
    return 0;
}

int srv__batch_error(rk_srv_mgr_t *m, int rc)
{
    if (rc && !m->batch_err)
        m->batch_err = rc;
    return rc;
}

void srv__event(rk_srv_mgr_t *m, const char *type, json_t *data)
{
    if (!data)
        return;
    if (m->hooks) /* its outbox records join the batch */
        srv__hooks_event(m, type, data);
    json_array_append_new(m->pending_events, json_pack("[so]", type, data));
}

static void finish(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_http_resp_t *resp, bool needs_commit)
{
    if (!w) { /* no one waits (a schedule's firing): nothing to answer */
        rk_http_resp_free(resp);
        return;
    }
    if (m->n_finishes == m->cap_finishes) {
        size_t cap = m->cap_finishes ? m->cap_finishes * 2 : 16;
        deferred_finish_t *v = realloc(m->finishes, cap * sizeof *v);
        if (!v) { /* no room to wait for the commit: not done */
            rk_http_resp_free(resp);
            srv__release(m, w);
            return;
        }
        m->finishes = v;
        m->cap_finishes = cap;
    }
    m->finishes[m->n_finishes++] = (deferred_finish_t){w, resp, needs_commit};
}

void srv__finish(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_http_resp_t *resp)
{
    finish(m, w, resp, false);
}

void srv__release(rk_srv_mgr_t *m, rk_http_wait_t *w)
{
    if (w)
        m->reply_release(w);
}

static void answer(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, json_t *body, bool needs_commit)
{
    rk_http_resp_t *resp = NULL;
    if (rk_http_resp_new(&resp)) {
        json_decref(body);
        srv__release(m, w);
        return;
    }
    rk_http_resp_json_take(resp, status, body);
    finish(m, w, resp, needs_commit);
}

void srv__answer_json(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, json_t *body)
{
    answer(m, w, status, body, false);
}

void srv__answer_change(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, json_t *body)
{
    answer(m, w, status, body, true);
}

void srv__answer_error(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    rk_http_resp_t *resp = NULL;
    if (rk_http_resp_new(&resp)) {
        srv__release(m, w);
        return;
    }
    rk_http_resp_error(resp, status, detail);
    srv__finish(m, w, resp);
}

void srv__answer_store_error(rk_srv_mgr_t *m, rk_http_wait_t *w, int rc, const char *what)
{
    rk_http_resp_t *resp = NULL;
    if (rk_http_resp_new(&resp)) {
        srv__release(m, w);
        return;
    }
    rk_srv_store_error(resp, rc, what);
    srv__finish(m, w, resp);
}

void srv__release_later(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (j->st == SRV_J_RELEASING)
        return;
    srv__job_to(j, SRV_J_RELEASING);
    j->rel_next = NULL;
    if (m->rel_tail)
        m->rel_tail->rel_next = j;
    else
        m->rel_head = j;
    m->rel_tail = j;
}

int srv__flush(rk_srv_mgr_t *m)
{
    srv__deps_run(m);    /* dependents learn of this batch's ends in it */
    srv__jobs_refill(m); /* ended jobs' slots take their next jobs in it */
    int err = m->batch_err;
    if (m->in_txn) {
        size_t jobs = 0;
        for (const srv_job_t *j = m->journal; j; j = j->jnext)
            jobs++;
        int64_t t0 = rk_time_mono_us();
        if (!err)
            err = rk_store_commit(m->store);
        if (!err && m->srv) {
            rk_prom_observe(m->srv->m_commit, NULL, (double)(rk_time_mono_us() - t0) / 1e6);
            rk_prom_observe(m->srv->m_batch, NULL, (double)jobs);
        }
        if (err)
            rk_store_rollback(m->store);
        m->in_txn = false;
    }
    if (err)
        srv__journal_failed(m, err); /* memory back to what the store holds */
    else
        srv__journal_committed(m);        /* with the DELETEs the batch asked for */
    srv__hooks_committed(m->hooks, !err); /* the batch's webhook events, if any */
    m->batch_err = 0;
    m->batch++;
    while (m->rel_head) {
        srv_job_t *j = m->rel_head;
        m->rel_head = j->rel_next;
        if (!m->rel_head)
            m->rel_tail = NULL;
        srv__job_released(m, j);
        m->again = true;
    }
    for (size_t i = 0; i < m->n_finishes; i++) {
        deferred_finish_t *f = &m->finishes[i];
        if (err && f->needs_commit) { /* it would tell of a change that is not stored */
            rk_http_resp_free(f->resp);
            f->resp = NULL;
            if (rk_http_resp_new(&f->resp) == 0)
                rk_srv_store_error(f->resp, err, "the change");
        }
        if (f->resp)
            m->reply_finish(f->wait, f->resp);
        else
            srv__release(m, f->wait);
    }
    m->n_finishes = 0;
    if (err) { /* the batch's changes did not happen: no one hears of them */
        json_array_clear(m->pending_events);
        return err;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(m->pending_events, i, ev)
    {
        rk_srv_events_publish(m->events, json_string_value(json_array_get(ev, 0)),
                              json_incref(json_array_get(ev, 1)));
    }
    json_array_clear(m->pending_events);
    return 0;
}

/* ---- commands from handler threads ---- */

typedef struct task {
    rk_srv_mgr_t *m;
    rk_http_wait_t *wait;
    char *arg, *arg2;
    srv_create_t *create;
    srv_fan_t *fan;
    rk_srv_cancel_filter_t *filter;
    struct ask *ask; /* a handler thread waiting for the answer (ask()) */
    void (*run)(struct task *t);
} task_t;

/* A question a handler thread waits for (rk_srv_mgr_job_tracked). */
typedef struct ask {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int answer;
    char state[32];
} ask_t;

static void ask_done(ask_t *a, int answer)
{
    pthread_mutex_lock(&a->mu);
    a->answer = answer;
    a->done = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void task_run(void *ud)
{
    task_t *t = ud;
    if (t->m->stop) { /* shutting down: the HTTP stop already answered */
        if (t->ask)
            ask_done(t->ask, RK_EBUSY);
        srv__release(t->m, t->wait);
        if (t->create)
            srv__create_free(t->create);
        if (t->fan) {
            t->fan->wait = NULL; /* released above */
            srv__fan_free(t->fan);
        }
    } else {
        t->run(t);
    }
    free(t->arg);
    free(t->arg2);
    rk_srv_cancel_filter_free(t->filter);
    free(t);
}

static int post(rk_srv_mgr_t *m, task_t *t)
{
    t->m = m;
    int rc = rk_http_client_post_task(m->client, task_run, t);
    if (rc) {
        free(t->arg);
        free(t->arg2);
        rk_srv_cancel_filter_free(t->filter);
        free(t);
    }
    return rc;
}

/* A command with a wait and up to two string arguments (copied). */
static int post_cmd(rk_srv_mgr_t *m, rk_http_wait_t *w, void (*run)(task_t *), const char *arg,
                    const char *arg2)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t || (arg && !(t->arg = strdup(arg))) || (arg2 && !(t->arg2 = strdup(arg2)))) {
        if (t) {
            free(t->arg);
            free(t);
        }
        return RK_ENOMEM;
    }
    t->wait = w;
    t->run = run;
    return post(m, t);
}

static void run_create(task_t *t)
{
    srv__jobs_create(t->m, t->create);
}

int rk_srv_mgr_create(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_job_info_t *jobs, int64_t *timeouts,
                      size_t n, bool single)
{
    task_t *t = calloc(1, sizeof *t);
    srv_create_t *c = calloc(1, sizeof *c);
    srv_job_t **waiting = calloc(n ? n : 1, sizeof *waiting);
    if (!t || !c || !waiting) {
        free(t);
        free(c);
        free(waiting);
        return RK_ENOMEM;
    }
    *c = (srv_create_t){.wait = w,
                        .jobs = jobs,
                        .timeouts = timeouts,
                        .waiting = waiting,
                        .n = n,
                        .single = single};
    t->wait = w;
    t->create = c;
    t->run = run_create;
    int rc = post(m, t);
    if (rc) {
        free(c->waiting);
        free(c); /* jobs and timeouts stay the caller's */
    }
    return rc;
}

static void run_tracked(task_t *t)
{
    const srv_job_t *j = srv__index_get(&t->m->index, t->arg);
    if (j)
        snprintf(t->ask->state, sizeof t->ask->state, "%s", srv__jstate_name(j->st));
    ask_done(t->ask, j ? 1 : 0);
}

int rk_srv_mgr_job_tracked(rk_srv_mgr_t *m, const char *job_id, char *state, size_t n)
{
    ask_t a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    task_t *t = calloc(1, sizeof *t);
    if (!t || !(t->arg = strdup(job_id))) {
        free(t);
        return RK_ENOMEM;
    }
    t->ask = &a;
    t->run = run_tracked;
    int rc = post(m, t); /* on failure post freed t: nothing will answer */
    pthread_mutex_lock(&a.mu);
    while (!rc && !a.done)
        pthread_cond_wait(&a.cv, &a.mu);
    pthread_mutex_unlock(&a.mu);
    if (rc)
        return rc;
    if (a.answer == 1 && state && n)
        snprintf(state, n, "%s", a.state);
    return a.answer;
}

static void run_cancel(task_t *t)
{
    srv__jobs_cancel(t->m, t->wait, t->arg, t->arg2 != NULL);
}

int rk_srv_mgr_cancel(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id, bool force)
{
    return post_cmd(m, w, run_cancel, job_id, force ? "force" : NULL);
}

void rk_srv_cancel_filter_free(rk_srv_cancel_filter_t *f)
{
    if (!f)
        return;
    free(f->agent_id);
    free(f->experiment_id);
    free(f);
}

static void run_cancel_many(task_t *t)
{
    srv__jobs_cancel_many(t->m, t->wait, t->filter);
}

int rk_srv_mgr_cancel_many(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_srv_cancel_filter_t *f)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t) {
        rk_srv_cancel_filter_free(f);
        return RK_ENOMEM;
    }
    t->wait = w;
    t->filter = f;
    t->run = run_cancel_many;
    return post(m, t);
}

typedef struct sched_cmd {
    rk_srv_sched_t to;
    double deadline_s;
} sched_cmd_t;

static void run_agent_schedule(task_t *t)
{
    const sched_cmd_t *c = (const sched_cmd_t *)t->arg2;
    srv__agent_schedule(t->m, t->wait, t->arg, c->to, c->deadline_s);
}

int rk_srv_mgr_agent_schedule(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id,
                              rk_srv_sched_t to, double deadline_s)
{
    task_t *t = calloc(1, sizeof *t);
    sched_cmd_t *c = malloc(sizeof *c);
    if (!t || !c || !(t->arg = strdup(agent_id))) {
        free(t);
        free(c);
        return RK_ENOMEM;
    }
    *c = (sched_cmd_t){to, deadline_s};
    t->arg2 = (char *)c; /* freed with the task */
    t->wait = w;
    t->run = run_agent_schedule;
    return post(m, t);
}

static void run_pause(task_t *t)
{
    srv__jobs_pause(t->m, t->wait, t->arg);
}

static void run_resume(task_t *t)
{
    srv__jobs_resume(t->m, t->wait, t->arg);
}

int rk_srv_mgr_pause(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id)
{
    return post_cmd(m, w, run_pause, job_id, NULL);
}

int rk_srv_mgr_resume(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id)
{
    return post_cmd(m, w, run_resume, job_id, NULL);
}

static void run_priority(task_t *t)
{
    rk_job_priority_t p = RK_PRIO_MEDIUM;
    rk_job_priority_parse(t->arg2, &p); /* validated by the handler */
    srv__jobs_priority(t->m, t->wait, t->arg, p);
}

int rk_srv_mgr_priority(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id,
                        const char *priority)
{
    return post_cmd(m, w, run_priority, job_id, priority);
}

static void run_register(task_t *t)
{
    srv__agent_register(t->m, t->wait, t->arg, t->arg2);
    if (t->arg2)
        memset(t->arg2, 0, strlen(t->arg2));
}

int rk_srv_mgr_register(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *url, const char *token)
{
    return post_cmd(m, w, run_register, url, token);
}

static void run_unregister(task_t *t)
{
    srv__agent_unregister(t->m, t->wait, t->arg);
}

int rk_srv_mgr_unregister(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *agent_id)
{
    return post_cmd(m, w, run_unregister, agent_id, NULL);
}

static void run_fan(task_t *t)
{
    srv__fan_start(t->m, t->fan);
}

int rk_srv_mgr_fan(rk_srv_mgr_t *m, rk_http_wait_t *w, char *const *urls, char *const *tokens,
                   size_t n, int timeout_ms, size_t max_body, rk_srv_fan_done_fn done, void *ctx,
                   void (*free_ctx)(void *))
{
    task_t *t = calloc(1, sizeof *t);
    srv_fan_t *f = calloc(1, sizeof *f);
    int rc = RK_ENOMEM;
    if (!t || !f)
        goto fail;
    *f = (srv_fan_t){.wait = w,
                     .n = n,
                     .left = n,
                     .done = done,
                     .ctx = ctx,
                     .free_ctx = free_ctx,
                     .timeout_ms = timeout_ms,
                     .max_body = max_body};
    f->replies = calloc(n ? n : 1, sizeof *f->replies);
    f->urls = calloc(n ? n : 1, sizeof *f->urls);
    f->tokens = calloc(n ? n : 1, sizeof *f->tokens);
    if (!f->replies || !f->urls || !f->tokens)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        f->urls[i] = strdup(urls[i]);
        f->tokens[i] = tokens && tokens[i] ? strdup(tokens[i]) : NULL;
        if (!f->urls[i] || (tokens && tokens[i] && !f->tokens[i]))
            goto fail;
    }
    t->wait = w;
    t->fan = f;
    t->run = run_fan;
    rc = post(m, t);
    if (rc) {
        f->wait = NULL;
        srv__fan_free(f);
    }
    return rc;
fail:
    if (f) {
        f->wait = NULL;
        f->ctx = ctx;
        f->free_ctx = free_ctx;
        srv__fan_free(f);
    } else if (free_ctx) {
        free_ctx(ctx);
    }
    free(t);
    return rc;
}

static void run_forget_experiment(task_t *t)
{
    srv__xcache_drop(t->m, t->arg);
}

int rk_srv_mgr_forget_experiment(rk_srv_mgr_t *m, const char *id)
{
    return post_cmd(m, NULL, run_forget_experiment, id, NULL);
}

static void run_stop(task_t *t)
{
    t->m->stop = 1;
}

/* ---- recovery ---- */

typedef struct scan_ctx {
    rk_srv_mgr_t *m;
    size_t queued, running, orphans;
    char **orphan_ids;
} scan_ctx_t;

static int scan_one(void *ud, const rk_job_brief_t *b)
{
    scan_ctx_t *s = ud;
    if (!b->agent_id || !*b->agent_id) { /* not placed yet: back in its pool */
        srv_agent_t *p = srv__pool_get(s->m, b->experiment_id, b->selector_labels, b->exclusive);
        int rc = p ? srv__jobs_recover(s->m, p, b) : RK_ENOMEM;
        s->queued += rc == 0;
        return rc;
    }
    srv_agent_t *a = srv__agent_find(s->m, b->agent_id);
    if (!a) {
        char **v = realloc(s->orphan_ids, (s->orphans + 1) * sizeof *v);
        if (!v)
            return RK_ENOMEM;
        s->orphan_ids = v;
        if (!(v[s->orphans] = strdup(b->job_id)))
            return RK_ENOMEM;
        s->orphans++;
        return 0;
    }
    int rc = srv__jobs_recover(s->m, a, b);
    if (rc == 0 && b->state == RK_JOB_QUEUED)
        s->queued++;
    else if (rc == 0)
        s->running++;
    return rc;
}

int rk_srv_mgr_recover(rk_srv_mgr_t *m)
{
    rk_registered_agent_t *agents = NULL;
    size_t n = 0;
    int rc = rk_store_agent_list(m->store, &agents, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char *token = m->srv ? rk_srv_agent_token(m->srv, &agents[i]) : NULL;
        srv_agent_t *added = srv__agent_add(m, &agents[i], token);
        if (token)
            memset(token, 0, strlen(token));
        free(token);
        if (!added)
            rc = RK_ENOMEM;
        else if (!rc)
            rc = srv__agent_sched_load(m, added);
    }
    rk_store_agents_free(agents, n);
    if (rc)
        return rc;
    scan_ctx_t s = {.m = m};
    unsigned mask =
        1u << RK_JOB_QUEUED | 1u << RK_JOB_ASSIGNED | 1u << RK_JOB_RUNNING | 1u << RK_JOB_PAUSED;
    rc = rk_store_job_scan(m->store, mask, scan_one, &s);
    for (size_t i = 0; i < s.orphans; i++) {
        rk_job_status_t st = {.status = RK_JOB_FAILED,
                              .timestamp = rk_time_now_us(),
                              .message = "agent is no longer registered"};
        if (rc == 0) /* with its webhook event, when webhooks are configured */
            srv__hooks_job_status(m->hooks, m->store, s.orphan_ids[i], &st);
        free(s.orphan_ids[i]);
    }
    free(s.orphan_ids);
    if (rc == 0)
        rc = srv__deps_recover(m); /* after the orphans' ends are stored */
    if (rc == 0)
        rc = srv__schedules_load(m);
    char nq[24], nr[24];
    snprintf(nq, sizeof nq, "%zu", s.queued);
    snprintf(nr, sizeof nr, "%zu", s.running);
    rk_log_info("job manager recovered", "queued", nq, "unfinished", nr);
    return rc;
}

/* ---- the thread ---- */

/* One iteration of the loop: the answers and commands that arrived within
 * timeout_ms, then what they changed, each phase committed before the next
 * acts on it. */
void srv__mgr_step(rk_srv_mgr_t *m, int timeout_ms)
{
    int rc = rk_http_client_run_once(m->client, m->again ? 0 : timeout_ms);
    if (rc < 0)
        rk_log_error("job manager: client loop failed");
    m->again = false;
    int64_t now = rk_time_mono_us();
    srv__agents_tick(m, now);
    srv__agents_drain_tick(m, now);
    srv__lead_tick(m, now);
    srv__metrics_agents(m, now);
    srv__jobs_tick(m, now);
    srv__schedules_tick(m); /* each firing commits its own batch */
    srv__flush(m);
    srv__delay_tick(m); /* jobs whose not_before came join their queues */
    srv__jobs_schedule(m, now);
    srv__flush(m);
    srv__jobs_send_due(m, now);
    /* Creates whose jobs stayed queued have their answer now. */
    srv__jobs_settle_fresh(m);
    srv__flush(m);
    /* Long work last, a bounded batch per iteration. */
    srv__agents_leave(m);
}

static void *loop(void *arg)
{
    rk_srv_mgr_t *m = arg;
    while (!m->stop)
        srv__mgr_step(m, srv__delay_wait_ms(m, 50));
    return NULL;
}

int rk_srv_mgr_new(rk_server_t *srv, const rk_srv_mgr_config_t *cfg, rk_srv_mgr_t **out)
{
    rk_srv_mgr_t *m = calloc(1, sizeof *m);
    if (!m)
        return RK_ENOMEM;
    m->srv = srv;
    m->store = srv->store;
    m->events = srv->events;
    m->cfg = *cfg;
    m->pending_events = json_array();
    m->reply_finish = rk_http_wait_finish;
    m->reply_release = rk_http_wait_release;
    rk_http_client_opts_t o = {.max_host_connections = 0};
    int rc = m->pending_events ? rk_http_client_new(&o, &m->client) : RK_ENOMEM;
    if (rc) {
        json_decref(m->pending_events);
        free(m);
        return rc;
    }
    srv__mgr_set_transport(m, NULL, NULL);
    *out = m;
    return 0;
}

int rk_srv_mgr_start(rk_srv_mgr_t *m)
{
    if (pthread_create(&m->thread, NULL, loop, m) != 0)
        return RK_EIO;
    m->running = true;
    return 0;
}

void rk_srv_mgr_stop(rk_srv_mgr_t *m)
{
    if (!m || !m->running)
        return;
    task_t *t = calloc(1, sizeof *t);
    if (t) {
        t->run = run_stop;
        post(m, t);
    }
    if (!t)
        m->stop = 1; /* the loop sees it within its 50 ms wait */
    pthread_join(m->thread, NULL);
    m->running = false;
}

void rk_srv_mgr_free(rk_srv_mgr_t *m)
{
    if (!m)
        return;
    rk_srv_mgr_stop(m);
    m->stop = 1;
    srv__flush(m);
    /* Requests in flight are dropped without callbacks: free their state. */
    rk_http_client_free(m->client);
    m->client = NULL;
    srv__calls_drop_all(m);
    srv__delay_free_all(m);
    srv__agents_free_all(m);
    srv__pools_free_all(m);
    srv__index_cleanup(&m->index);
    srv__schedules_free(m);
    srv__flush(m); /* answers settled while freeing: the HTTP stop took them */
    srv__deps_free(m);
    free(m->finishes);
    for (size_t i = 0; i < SRV_XCACHE_SIZE; i++) {
        free(m->xcache[i].id);
        free(m->xcache[i].spec);
    }
    json_decref(m->pending_events);
    free(m);
}
