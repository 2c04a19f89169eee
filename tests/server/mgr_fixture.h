/* The job manager's test harness, shared by the manager's unit tests: the
 * manager driven step by step, without its thread, network or sleeps; the
 * memory store behind the failing-on-command wrapper; a scripted transport
 * that records every request to an agent and lets the test answer it; and
 * waits whose answers the test reads. Include it once per test program
 * (its helpers are static).
 */
#ifndef RK_TESTS_SERVER_MGR_FIXTURE_H
#define RK_TESTS_SERVER_MGR_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/log.h"
#include "http/server_int.h"
#include "server/mgr.h"
#include "store/faulty.h"

/* ---- the scripted transport ---- */

typedef struct rec {
    const char *op; /* "submit", "status", "result", "cancel", "control", "get" */
    char *url;
    char *body; /* the request's body, or NULL */
    rk_http_cb cb;
    void *ud;
    bool answered, dropped;
} rec_t;

#define MAX_RECS 512

typedef struct script {
    rec_t recs[MAX_RECS];
    size_t n;
    /* a hook run when a POST /jobs is submitted (for ordering checks) */
    void (*on_submit)(struct script *s, rec_t *r);
    void *ud;
} script_t;

static int record(void *ctx, const char *op, const rk_http_request_t *req, rk_http_cb cb, void *ud,
                  rk_http_handle_t **h)
{
    script_t *s = ctx;
    assert_true(s->n < MAX_RECS);
    rec_t *r = &s->recs[s->n++];
    *r = (rec_t){.op = op,
                 .url = strdup(req->url),
                 .body = req->body ? strndup(req->body, req->body_len) : NULL,
                 .cb = cb,
                 .ud = ud};
    if (h)
        *h = (rk_http_handle_t *)r;
    if (strcmp(op, "submit") == 0 && s->on_submit)
        s->on_submit(s, r);
    return 0;
}

#define OP(name)                                                                                   \
    static int op_##name(void *ctx, const rk_http_request_t *req, rk_http_cb cb, void *ud,         \
                         rk_http_handle_t **h)                                                     \
    {                                                                                              \
        return record(ctx, #name, req, cb, ud, h);                                                 \
    }
OP(submit)
OP(status)
OP(result)
OP(cancel)
OP(control)
OP(get)

static void op_drop(void *ctx, rk_http_handle_t *h)
{
    (void)ctx;
    ((rec_t *)h)->dropped = true;
}

static const srv_transport_t scripted = {
    .submit = op_submit,
    .status = op_status,
    .result = op_result,
    .cancel = op_cancel,
    .control = op_control,
    .get = op_get,
    .drop = op_drop,
};

/* The latest unanswered request of op whose URL contains `part`. */
static rec_t *pending(script_t *s, const char *op, const char *part)
{
    for (size_t i = s->n; i > 0; i--) {
        rec_t *r = &s->recs[i - 1];
        if (!r->answered && !r->dropped && strcmp(r->op, op) == 0 && strstr(r->url, part))
            return r;
    }
    return NULL;
}

static size_t count(script_t *s, const char *op, const char *part)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->recs[i].op, op) == 0 && strstr(s->recs[i].url, part))
            n++;
    return n;
}

static void answer(rec_t *r, long status, const char *body)
{
    assert_non_null(r);
    rk_http_response_t resp = {.status = status, .attempts = 1};
    rk_buf_init(&resp.body, 1u << 20);
    if (body)
        assert_int_equal(rk_buf_adds(&resp.body, body), 0);
    r->answered = true;
    r->cb(&resp, r->ud);
    rk_http_response_cleanup(&resp);
}

/* ---- answers to the test's own waiting "requests" ---- */

typedef struct waiter {
    int status; /* 0: not answered */
    json_t *body;
    bool released;
} waiter_t;

static int reply_finish(rk_http_wait_t *w, rk_http_resp_t *resp)
{
    waiter_t *wt = (waiter_t *)w;
    wt->status = resp->status;
    json_decref(wt->body);
    wt->body = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
    rk_http_resp_free(resp);
    return 0;
}

static void reply_release(rk_http_wait_t *w)
{
    ((waiter_t *)w)->released = true;
}

/* ---- the fixture ---- */

typedef struct fx {
    rk_store_t *store; /* the faulty wrapper over memory */
    rk_srv_events_t *events;
    rk_server_t srv;
    rk_srv_mgr_t *m;
    script_t script;
    char exp_id[64];
    srv_agent_t *agent;
    waiter_t w[16]; /* outlive each test: the manager may answer at teardown */
} fx_t;

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("bad fixture json: %s", je.text);
    return v;
}

static srv_agent_t *add_agent(fx_t *f, const char *id, int slots)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"agent_id\":\"%s\",\"agent_type\":\"white_box\",\"system_info\":{\"os\":\"x\"},"
             "\"capabilities\":{\"slots\":%d,\"task_types\":[\"command\"]},"
             "\"last_updated\":\"2026-01-01T00:00:00Z\",\"agent_url\":\"http://127.0.0.1:9\","
             "\"registered_at\":\"2026-01-01T00:00:01Z\"}",
             id, slots);
    json_t *v = load(text);
    rk_registered_agent_t a = {0};
    rk_verr_t e = {{0}};
    assert_int_equal(rk_registered_agent_decode(v, "", &a, &e), 0);
    json_decref(v);
    assert_int_equal(rk_store_agent_put(f->store, &a), 0);
    srv_agent_t *sa = srv__agent_add(f->m, &a, NULL);
    assert_non_null(sa);
    sa->health_at = INT64_MAX; /* no health checks: this test answers for the agent */
    rk_registered_agent_cleanup(&a);
    return sa;
}

static int setup(void **state)
{
    rk_log_set_level(RK_LOG_ERROR);
    fx_t *f = calloc(1, sizeof *f);
    rk_store_t *mem = NULL;
    assert_int_equal(rk_store_open("memory", NULL, &mem), 0);
    assert_int_equal(rk_store_faulty_wrap(mem, &f->store), 0);
    assert_int_equal(rk_srv_events_new(64, &f->events), 0);
    f->srv.store = f->store;
    f->srv.events = f->events;
    rk_srv_mgr_config_t cfg = {
        .poll_interval_s = 0.2, .agent_timeout_s = 3600, .timeout_grace_s = 60};
    assert_int_equal(rk_srv_mgr_new(&f->srv, &cfg, &f->m), 0);
    srv__mgr_set_transport(f->m, &scripted, &f->script);
    f->m->reply_finish = reply_finish;
    f->m->reply_release = reply_release;

    json_t *v =
        load("{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":\"command\","
             "\"params\":{\"argv\":[\"/bin/true\"]}},\"framework\":{\"name\":\"f\"},"
             "\"metrics\":{\"metrics\":{}}}");
    rk_experiment_t x = {0};
    rk_verr_t e = {{0}};
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), 0);
    json_decref(v);
    assert_int_equal(rk_store_experiment_insert(f->store, &x), 0);
    snprintf(f->exp_id, sizeof f->exp_id, "%s", x.id);
    rk_experiment_cleanup(&x);
    f->agent = add_agent(f, "a1", 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    rk_srv_mgr_free(f->m);
    for (size_t i = 0; i < sizeof f->w / sizeof f->w[0]; i++)
        json_decref(f->w[i].body);
    for (size_t i = 0; i < f->script.n; i++)
        free(f->script.recs[i].url), free(f->script.recs[i].body);
    rk_srv_events_free(f->events);
    rk_store_close(f->store);
    free(f);
    return 0;
}

/* Runs the loop until it has nothing left to do at once. */
static void settle(fx_t *f)
{
    for (int i = 0; i < 8; i++)
        srv__mgr_step(f->m, 0);
}

/* POST /jobs of one job for agent_id, handed to the manager. */
static void post_create(fx_t *f, waiter_t *w, const char *job_id, const char *agent_id)
{
    rk_job_info_t *jobs = calloc(1, sizeof *jobs);
    int64_t *timeouts = calloc(1, sizeof *timeouts);
    jobs[0].job_id = strdup(job_id);
    jobs[0].experiment_id = strdup(f->exp_id);
    jobs[0].agent_id = strdup(agent_id);
    jobs[0].created_time = rk_time_now_us();
    timeouts[0] = 60;
    assert_int_equal(rk_srv_mgr_create(f->m, (rk_http_wait_t *)w, jobs, timeouts, 1, true), 0);
}

/* POST /jobs of one job for agent_id, run until settled; answer to w. */
static void create(fx_t *f, waiter_t *w, const char *job_id, const char *agent_id)
{
    post_create(f, w, job_id, agent_id);
    settle(f);
}

static rk_job_state_t stored(fx_t *f, const char *job_id, char *msg, size_t n)
{
    rk_job_info_t ji = {0};
    assert_int_equal(rk_store_job_get(f->store, job_id, false, &ji), 0);
    rk_job_state_t st = ji.status.status;
    if (msg)
        snprintf(msg, n, "%s", ji.status.message ? ji.status.message : "");
    rk_job_info_cleanup(&ji);
    return st;
}

static const char *answer_status(waiter_t *w)
{
    return json_string_value(json_object_get(json_object_get(w->body, "status"), "status"));
}

static void result_body(char *out, size_t n, const char *job_id, const char *exp)
{
    snprintf(out, n,
             "{\"job_id\":\"%s\",\"experiment_id\":\"%s\",\"status\":\"completed\","
             "\"started_at\":\"2026-01-01T00:00:00Z\",\"completed_at\":\"2026-01-01T00:00:02Z\","
             "\"duration_seconds\":2,\"metrics\":{\"wall_time_s\":2}}",
             job_id, exp);
}

/* Creates job_id, has it accepted by the agent: WATCHING with a poll out. */
static void accepted(fx_t *f, const char *job_id)
{
    waiter_t *w = &f->w[3];
    create(f, w, job_id, "a1");
    answer(pending(&f->script, "submit", "/jobs"), 202, "{}");
    settle(f);
    assert_int_equal(w->status, 201);
    assert_string_equal(answer_status(w), "assigned");
}

#endif
