/* The job manager: its thread and loop, the batch (one transaction per
 * iteration, deferred answers), queues and running sets, job creation and
 * cancellation, scheduling and restart recovery. Agent traffic for jobs is
 * in dispatch.c, the agent registry and health in agents.c.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

/* ---- the batch ---- */

void mgr_txn(rk_srv_mgr_t *m)
{
    if (!m->in_txn && rk_store_begin(m->store) == 0)
        m->in_txn = true;
}

void mgr_event(rk_srv_mgr_t *m, const char *type, json_t *data)
{
    if (!data)
        return;
    json_array_append_new(m->pending_events, json_pack("[so]", type, data));
}

void mgr_finish(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_http_resp_t *resp)
{
    if (m->n_finishes == m->cap_finishes) {
        size_t cap = m->cap_finishes ? m->cap_finishes * 2 : 16;
        deferred_finish_t *v = realloc(m->finishes, cap * sizeof *v);
        if (!v) { /* answer now rather than lose it */
            rk_http_wait_finish(w, resp);
            return;
        }
        m->finishes = v;
        m->cap_finishes = cap;
    }
    m->finishes[m->n_finishes++] = (deferred_finish_t){w, resp};
}

void job_release(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (j->phase == PH_RELEASE)
        return;
    j->phase = PH_RELEASE;
    if (m->n_releases == m->cap_releases) {
        size_t cap = m->cap_releases ? m->cap_releases * 2 : 16;
        srv_job_t **v = realloc(m->releases, cap * sizeof *v);
        if (!v) {
            rk_log_error("out of memory releasing a job", "job_id", j->job_id);
            return;
        }
        m->releases = v;
        m->cap_releases = cap;
    }
    m->releases[m->n_releases++] = j;
}

void mgr_flush(rk_srv_mgr_t *m)
{
    if (m->in_txn) {
        if (rk_store_commit(m->store) != 0) {
            rk_log_error("store commit failed; rolling back the batch");
            rk_store_rollback(m->store);
        }
        m->in_txn = false;
    }
    for (size_t i = 0; i < m->n_releases; i++) {
        srv_job_t *j = m->releases[i];
        if (j->agent)
            running_remove(j->agent, j);
        job_free(m, j);
        m->again = true;
    }
    m->n_releases = 0;
    for (size_t i = 0; i < m->n_finishes; i++)
        rk_http_wait_finish(m->finishes[i].wait, m->finishes[i].resp);
    m->n_finishes = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(m->pending_events, i, ev)
    {
        rk_srv_events_publish(m->events, json_string_value(json_array_get(ev, 0)),
                              json_incref(json_array_get(ev, 1)));
    }
    json_array_clear(m->pending_events);
}

/* ---- jobs, queues, running sets ---- */

json_t *job_info_json(const srv_job_t *j)
{
    rk_job_info_t info = {
        .job_id = j->job_id,
        .experiment_id = j->experiment_id,
        .agent_id = j->agent ? j->agent->id : "",
        .created_time = j->created,
        .status = {.status = j->state, .timestamp = j->status_time, .message = j->message},
    };
    return rk_job_info_encode(&info);
}

void job_store_status(rk_srv_mgr_t *m, srv_job_t *j, rk_job_state_t st, const char *msg)
{
    rk_time_t now = rk_time_now_us();
    rk_job_status_t s = {.status = st, .timestamp = now, .message = (char *)msg};
    mgr_txn(m);
    int rc = rk_store_job_set_status(m->store, j->job_id, &s);
    if (rc)
        rk_log_error("storing a job status failed", "job_id", j->job_id, "error", rk_strerror(rc));
    char *copy = strdup(msg ? msg : "");
    if (copy) {
        free(j->message);
        j->message = copy;
    }
    j->state = st;
    j->status_time = now;
    rk_log_info("job status", "job_id", j->job_id, "agent_id", j->agent ? j->agent->id : NULL,
                "status", rk_job_state_name(st), "message", msg);
    mgr_event(m, "job", job_info_json(j));
}

/* Answers a create once none of its jobs waits any more; frees it. */
static void create_done(rk_srv_mgr_t *m, srv_create_t *c)
{
    if (--c->unsettled > 0)
        return;
    rk_http_resp_t *resp = NULL;
    if (rk_http_resp_new(&resp) == 0) {
        if (c->single) {
            rk_http_resp_json_take(resp, 201, rk_job_info_encode(&c->jobs[0]));
        } else {
            json_t *arr = json_array();
            for (size_t i = 0; i < c->n; i++)
                json_array_append_new(arr, rk_job_info_encode(&c->jobs[i]));
            rk_http_resp_json_take(resp, 201, json_pack("{so}", "jobs", arr));
        }
        mgr_finish(m, c->wait, resp);
    } else {
        rk_http_wait_release(c->wait);
    }
    for (size_t i = 0; i < c->n; i++)
        rk_job_info_cleanup(&c->jobs[i]);
    free(c->jobs);
    free(c->timeouts);
    free(c->waiting);
    for (srv_create_t **p = &m->fresh; *p; p = &(*p)->next_fresh) {
        if (*p == c) {
            *p = c->next_fresh;
            break;
        }
    }
    free(c);
}

/* Gives the waiting POST /jobs (if any) this job's status as it stands. */
void job_settle(rk_srv_mgr_t *m, srv_job_t *j)
{
    srv_create_t *c = j->waiter;
    if (!c)
        return;
    j->waiter = NULL;
    c->waiting[j->waiter_idx] = NULL;
    rk_job_status_t *st = &c->jobs[j->waiter_idx].status;
    rk_job_status_cleanup(st);
    st->status = j->state;
    st->timestamp = j->status_time;
    st->message = strdup(j->message ? j->message : "");
    create_done(m, c);
}

void job_free(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (!j)
        return;
    if (j->waiter)
        job_settle(m, j);
    if (j->call)
        call_cancel(m, j->call);
    if (j->cancel)
        call_cancel(m, j->cancel);
    free(j->job_id);
    free(j->experiment_id);
    free(j->message);
    free(j->agent_message);
    free(j);
}

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

void queue_push_back(srv_agent_t *a, srv_job_t *j)
{
    link_back(&a->q_head, &a->q_tail, j);
    j->in_queue = true;
    j->phase = PH_NONE;
    a->n_queued++;
}

void queue_push_front(srv_agent_t *a, srv_job_t *j)
{
    j->prev = NULL;
    j->next = a->q_head;
    if (a->q_head)
        a->q_head->prev = j;
    else
        a->q_tail = j;
    a->q_head = j;
    j->in_queue = true;
    j->phase = PH_NONE;
    a->n_queued++;
}

void queue_remove(srv_agent_t *a, srv_job_t *j)
{
    unlink_job(&a->q_head, &a->q_tail, j);
    j->in_queue = false;
    a->n_queued--;
}

void running_add(srv_agent_t *a, srv_job_t *j)
{
    link_back(&a->r_head, &a->r_tail, j);
    a->n_running++;
}

void running_remove(srv_agent_t *a, srv_job_t *j)
{
    unlink_job(&a->r_head, &a->r_tail, j);
    a->n_running--;
}

static srv_job_t *job_new(const char *job_id, const char *experiment_id, srv_agent_t *a)
{
    srv_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->job_id = strdup(job_id);
    j->experiment_id = strdup(experiment_id);
    j->message = strdup("");
    j->agent = a;
    if (!j->job_id || !j->experiment_id || !j->message) {
        free(j->job_id);
        free(j->experiment_id);
        free(j->message);
        free(j);
        return NULL;
    }
    return j;
}

/* ---- scheduling: queued jobs go out as soon as their agent has a slot ---- */

static void schedule(rk_srv_mgr_t *m, int64_t now)
{
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        if (a->unavailable || a->first_fail || a->hold_until > now)
            continue;
        while (a->q_head && (int64_t)a->n_running < a->slots) {
            srv_job_t *j = a->q_head;
            queue_remove(a, j);
            running_add(a, j);
            /* Write ahead: assigned is stored (in this batch, committed
             * before the request leaves) before the agent hears of it. */
            job_store_status(m, j, RK_JOB_ASSIGNED, "sent to the agent");
            j->phase = PH_SEND;
            j->retry_at = 0;
        }
    }
}

/* Sends what scheduling decided, after the commit made it durable. */
static void send_due(rk_srv_mgr_t *m, int64_t now)
{
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        for (srv_job_t *j = a->r_head; j; j = j->next) {
            if (j->call || j->retry_at > now)
                continue;
            if (j->phase == PH_SEND)
                job_send(m, j);
        }
    }
}

/* ---- commands from handler threads ---- */

typedef struct task {
    rk_srv_mgr_t *m;
    rk_http_wait_t *wait;
    char *arg, *arg2;
    srv_create_t *create;
    srv_fan_t *fan;
    void (*run)(struct task *t);
} task_t;

static void task_run(void *ud)
{
    task_t *t = ud;
    if (t->m->stop) { /* shutting down: the HTTP stop already answered */
        rk_http_wait_release(t->wait);
        if (t->create) {
            for (size_t i = 0; i < t->create->n; i++)
                rk_job_info_cleanup(&t->create->jobs[i]);
            free(t->create->jobs);
            free(t->create->timeouts);
            free(t->create->waiting);
            free(t->create);
        }
        if (t->fan) {
            t->fan->wait = NULL; /* released above */
            fan_free(t->fan);
        }
    } else {
        t->run(t);
    }
    free(t->arg);
    free(t->arg2);
    free(t);
}

static int post(rk_srv_mgr_t *m, task_t *t)
{
    t->m = m;
    int rc = rk_http_client_post_task(m->client, task_run, t);
    if (rc) {
        free(t->arg);
        free(t->arg2);
        free(t);
    }
    return rc;
}

static void run_create(task_t *t)
{
    rk_srv_mgr_t *m = t->m;
    srv_create_t *c = t->create;
    /* One count per job plus one held until every job is placed. */
    c->unsettled = c->n + 1;
    c->next_fresh = m->fresh;
    m->fresh = c;
    for (size_t i = 0; i < c->n; i++) {
        rk_job_info_t *ji = &c->jobs[i];
        srv_agent_t *a = agent_find(m, ji->agent_id);
        ji->status.status = a ? RK_JOB_QUEUED : RK_JOB_FAILED;
        ji->status.timestamp = ji->created_time;
        free(ji->status.message);
        ji->status.message = strdup(a ? "queued" : "agent is not registered");
        int64_t seq = 0;
        mgr_txn(m);
        int rc = rk_store_job_insert(m->store, ji, &seq);
        srv_job_t *j = rc == 0 && a ? job_new(ji->job_id, ji->experiment_id, a) : NULL;
        if (!j) {
            if (rc)
                rk_log_error("storing a new job failed", "job_id", ji->job_id, "error",
                             rk_strerror(rc));
            ji->status.status = RK_JOB_FAILED;
            c->unsettled--;
            continue;
        }
        j->seq = seq;
        j->created = ji->created_time;
        j->state = RK_JOB_QUEUED;
        j->status_time = ji->created_time;
        free(j->message);
        j->message = strdup("queued");
        j->timeout_s = c->timeouts[i];
        j->waiter = c;
        j->waiter_idx = i;
        c->waiting[i] = j;
        mgr_event(m, "job", job_info_json(j));
        if (a->known_error) {
            job_store_status(m, j, RK_JOB_FAILED, "agent reports status error: it cannot run jobs");
            job_settle(m, j);
            job_free(m, j);
            continue;
        }
        queue_push_back(a, j);
    }
    m->again = true;
    create_done(m, c); /* the hold; answers now if nothing waits */
}

int rk_srv_mgr_create(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_job_info_t *jobs,
                      int64_t *timeouts, size_t n, bool single)
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
    *c = (srv_create_t){.wait = w, .jobs = jobs, .timeouts = timeouts, .waiting = waiting,
                        .n = n, .single = single};
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

static srv_job_t *find_tracked(rk_srv_mgr_t *m, const char *job_id, const char *agent_id)
{
    srv_agent_t *a = agent_find(m, agent_id);
    if (!a)
        return NULL;
    for (srv_job_t *j = a->r_head; j; j = j->next)
        if (strcmp(j->job_id, job_id) == 0)
            return j;
    for (srv_job_t *j = a->q_head; j; j = j->next)
        if (strcmp(j->job_id, job_id) == 0)
            return j;
    return NULL;
}

static void answer_job(rk_srv_mgr_t *m, rk_http_wait_t *w, int status, json_t *body)
{
    rk_http_resp_t *resp = NULL;
    if (rk_http_resp_new(&resp)) {
        json_decref(body);
        rk_http_wait_release(w);
        return;
    }
    rk_http_resp_json_take(resp, status, body);
    mgr_finish(m, w, resp);
}

static void run_cancel(task_t *t)
{
    rk_srv_mgr_t *m = t->m;
    rk_job_info_t ji = {0};
    rk_http_resp_t *resp = NULL;
    if (rk_store_job_get(m->store, t->arg, false, &ji) != 0) {
        if (rk_http_resp_new(&resp) == 0) {
            rk_http_resp_errorf(resp, 404, "job %s not found", t->arg);
            mgr_finish(m, t->wait, resp);
        }
        return;
    }
    srv_job_t *j = find_tracked(m, t->arg, ji.agent_id);
    if (!j || j->local_terminal || rk_job_state_terminal(j->state)) {
        if (rk_http_resp_new(&resp) == 0) {
            rk_http_resp_errorf(resp, 409, "job %s already finished: %s", t->arg,
                                rk_job_state_name(j ? j->state : ji.status.status));
            mgr_finish(m, t->wait, resp);
        }
        rk_job_info_cleanup(&ji);
        return;
    }
    rk_job_info_cleanup(&ji);
    if (j->in_queue) {
        queue_remove(j->agent, j);
        job_store_status(m, j, RK_JOB_CANCELLED, "cancelled by request while queued");
        answer_job(m, t->wait, 200, job_info_json(j));
        job_free(m, j);
        return;
    }
    if (j->state == RK_JOB_ASSIGNED) {
        /* Not started: cancelled at once; the agent is told, and the slot
         * stays taken until it lets go of the job. */
        job_store_status(m, j, RK_JOB_CANCELLED, "cancelled by request before it started");
        j->local_terminal = true;
        answer_job(m, t->wait, 200, job_info_json(j));
        if (j->phase == PH_SEND && j->call)
            j->cancel_after_send = true;
        else if (j->phase == PH_SEND) {
            job_release(m, j); /* never reached the agent */
        } else {
            job_send_cancel(m, j, false);
        }
        return;
    }
    answer_job(m, t->wait, 202, job_info_json(j));
    job_send_cancel(m, j, false);
}

int rk_srv_mgr_cancel(rk_srv_mgr_t *m, rk_http_wait_t *w, const char *job_id)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t || !(t->arg = strdup(job_id))) {
        free(t);
        return RK_ENOMEM;
    }
    t->wait = w;
    t->run = run_cancel;
    return post(m, t);
}

static void run_fan(task_t *t)
{
    fan_start(t->m, t->fan);
}

int rk_srv_mgr_fan(rk_srv_mgr_t *m, rk_http_wait_t *w, char *const *urls, char *const *tokens,
                   size_t n, int timeout_ms, size_t max_body, rk_srv_fan_done_fn done,
                   void *ctx, void (*free_ctx)(void *))
{
    task_t *t = calloc(1, sizeof *t);
    srv_fan_t *f = calloc(1, sizeof *f);
    int rc = RK_ENOMEM;
    if (!t || !f)
        goto fail;
    *f = (srv_fan_t){.wait = w, .n = n, .left = n, .done = done, .ctx = ctx,
                     .free_ctx = free_ctx, .timeout_ms = timeout_ms, .max_body = max_body};
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
        fan_free(f);
    }
    return rc;
fail:
    if (f) {
        f->wait = NULL;
        f->ctx = ctx;
        f->free_ctx = free_ctx;
        fan_free(f);
    } else if (free_ctx) {
        free_ctx(ctx);
    }
    free(t);
    return rc;
}

static void run_forget_experiment(task_t *t)
{
    xcache_drop(t->m, t->arg);
}

int rk_srv_mgr_forget_experiment(rk_srv_mgr_t *m, const char *id)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t || !(t->arg = strdup(id))) {
        free(t);
        return RK_ENOMEM;
    }
    t->run = run_forget_experiment;
    return post(m, t);
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
    srv_agent_t *a = agent_find(s->m, b->agent_id);
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
    srv_job_t *j = job_new(b->job_id, b->experiment_id, a);
    if (!j)
        return RK_ENOMEM;
    j->seq = b->seq;
    j->state = b->state;
    if (b->state == RK_JOB_QUEUED) {
        queue_push_back(a, j);
        s->queued++;
    } else {
        /* Assigned or running before the restart: ask the agent. */
        running_add(a, j);
        j->phase = PH_ASK;
        s->running++;
    }
    return 0;
}

int rk_srv_mgr_recover(rk_srv_mgr_t *m)
{
    rk_registered_agent_t *agents = NULL;
    size_t n = 0;
    int rc = rk_store_agent_list(m->store, &agents, &n);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!agent_add(m, &agents[i]))
            rc = RK_ENOMEM;
    rk_store_agents_free(agents, n);
    if (rc)
        return rc;
    scan_ctx_t s = {.m = m};
    unsigned mask = 1u << RK_JOB_QUEUED | 1u << RK_JOB_ASSIGNED | 1u << RK_JOB_RUNNING;
    rc = rk_store_job_scan(m->store, mask, scan_one, &s);
    for (size_t i = 0; i < s.orphans; i++) {
        rk_job_status_t st = {.status = RK_JOB_FAILED, .timestamp = rk_time_now_us(),
                              .message = "agent is no longer registered"};
        if (rc == 0)
            rk_store_job_set_status(m->store, s.orphan_ids[i], &st);
        free(s.orphan_ids[i]);
    }
    free(s.orphan_ids);
    char nq[24], nr[24];
    snprintf(nq, sizeof nq, "%zu", s.queued);
    snprintf(nr, sizeof nr, "%zu", s.running);
    rk_log_info("job manager recovered", "queued", nq, "unfinished", nr);
    return rc;
}

/* ---- the thread ---- */

static void *loop(void *arg)
{
    rk_srv_mgr_t *m = arg;
    while (!m->stop) {
        int rc = rk_http_client_run_once(m->client, m->again ? 0 : 50);
        if (rc < 0)
            rk_log_error("job manager: client loop failed");
        m->again = false;
        int64_t now = rk_time_mono_us();
        agents_tick(m, now);
        dispatch_tick(m, now);
        mgr_flush(m);
        schedule(m, now);
        mgr_flush(m);
        send_due(m, now);
        /* Creates whose jobs stayed queued have their answer now. Each
         * create knows its own jobs: no walk over the (maybe huge) queues. */
        while (m->fresh) {
            srv_create_t *c = m->fresh;
            m->fresh = c->next_fresh;
            c->next_fresh = NULL;
            for (size_t i = 0, n = c->n; c && i < n; i++) {
                srv_job_t *j = c->waiting[i];
                if (!j || !j->in_queue) /* being sent: its answer settles it */
                    continue;
                bool last = c->unsettled == 1;
                job_settle(m, j);
                if (last)
                    c = NULL;
            }
        }
        mgr_flush(m);
    }
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
    rk_http_client_opts_t o = {.max_host_connections = 0};
    int rc = m->pending_events ? rk_http_client_new(&o, &m->client) : RK_ENOMEM;
    if (rc) {
        json_decref(m->pending_events);
        free(m);
        return rc;
    }
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
    mgr_flush(m);
    /* Requests in flight are dropped without callbacks: free their state. */
    rk_http_client_free(m->client);
    m->client = NULL;
    while (m->calls) {
        srv_call_t *c = m->calls;
        m->calls = c->next;
        if (c->job && c->job->call == c)
            c->job->call = NULL;
        if (c->job && c->job->cancel == c)
            c->job->cancel = NULL;
        if (c->agent && c->agent->health == c)
            c->agent->health = NULL;
        if (c->fan && --c->fan->left == 0)
            fan_free(c->fan);
        free(c);
    }
    while (m->agents) {
        srv_agent_t *a = m->agents;
        m->agents = a->next;
        agent_free(m, a);
    }
    mgr_flush(m); /* answers settled while freeing: the HTTP stop took them */
    free(m->finishes);
    free(m->releases);
    for (size_t i = 0; i < SRV_XCACHE_SIZE; i++) {
        free(m->xcache[i].id);
        free(m->xcache[i].spec);
    }
    json_decref(m->pending_events);
    free(m);
}
