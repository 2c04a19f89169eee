/* Retries and start times (issue 12), black-box against the real server
 * (sqlite) and real agents: a job failing twice then succeeding under
 * max_attempts 3 ends completed at attempt 3 with the waits inside the
 * backoff's bounds and three results kept; a policy on timeout only does
 * not retry a plain failure, and does retry the agent's timeout; kill -9
 * of the server during a backoff wait still runs the next attempt once, at
 * its time; not_before holds a job back until then; bad policies and
 * times are refused with nothing stored; POST /jobs/{id}/retry; an
 * experiment's own policy; an agent killed during an attempt counts as
 * agent_lost; the CLI's options; and 10,000 jobs with spread start times
 * against a baseline without them. RK_TEST_FILTER=<name> runs one test.
 */
#include <unistd.h>

#include "base/time.h"
#include "rk_test_pg.h"
#include "rk_test_run.h"
#include "server_fixture.h"

static rk_time_t ts(const json_t *st)
{
    rk_time_t t = 0;
    rk_time_parse(json_string_value(json_object_get(st, "timestamp")), &t);
    return t;
}

/* A script that fails until it ran `ok_after` times before (a counter in
 * the test's folder), sleeping `secs` first. */
static void counter_script(const fx_t *f, const char *name, int ok_after, const char *secs,
                           char *out, size_t n)
{
    snprintf(out, n,
             "sleep %s; n=$(cat %s/%s 2>/dev/null || echo 0); echo $((n+1)) > %s/%s; "
             "[ $n -ge %d ]",
             secs, f->dir, name, f->dir, name, ok_after);
}

/* assert_string_equal that fails (rather than crashes) on NULL. */
#define str_eq(a, b)                                                                               \
    do {                                                                                           \
        const char *a_ = (a);                                                                      \
        assert_non_null(a_);                                                                       \
        assert_string_equal(a_, (b));                                                              \
    } while (0)

static json_t *submit(fx_t *f, json_t *body, long want)
{
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/jobs", body, &st);
    if (st != want)
        fprintf(stderr, "POST /jobs answered %ld: %s\n", st,
                v ? json_dumps(v, JSON_COMPACT) : "(no body)");
    assert_int_equal(st, want);
    json_decref(body);
    return v;
}

static json_int_t jobs_total(fx_t *f)
{
    long st;
    json_t *v = fx_call(f, "GET", "/api/v1/jobs?limit=1", NULL, &st);
    assert_int_equal(st, 200);
    json_int_t n = json_integer_value(json_object_get(v, "total"));
    json_decref(v);
    return n;
}

/* History entries of the job whose status is s, their timestamps into
 * t[] (at most max); returns how many. */
static size_t entries(const json_t *job, const char *s, rk_time_t *t, size_t max)
{
    size_t i, n = 0;
    json_t *h;
    json_array_foreach(json_object_get(job, "history"), i, h)
    {
        if (!strcmp(json_string_value(json_object_get(h, "status")), s) && n < max)
            t[n++] = ts(h);
    }
    return n;
}

static void fails_twice_then_completes(const char *storage, const char *const *args)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, storage, args);
    fx_agent_start(&f, 0, 1, NULL);
    char script[1024], exp[32];
    counter_script(&f, "c1", 2, "0", script, sizeof script);
    fx_experiment(&f, "flaky", script, 0, exp);
    json_t *j = submit(&f,
                       json_pack("{s:s,s:s,s:{s:i,s:f}}", "experiment_id", exp, "agent_id",
                                 f.agent_ids[0], "retry", "max_attempts", 3, "backoff_s", 1.0),
                       201);
    assert_int_equal(json_integer_value(json_object_get(j, "max_attempts")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 1);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    j = fx_wait_job(&f, id, NULL, 30000);
    str_eq(fx_state(j), "completed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 3);
    /* Two attempt ends (failed), three sends; the waits from each end to
     * the next send are backoff 1 s then 2 s, ±20 %, plus slack. */
    rk_time_t fails[4], sends[4];
    assert_int_equal(entries(j, "failed", fails, 4), 2);
    assert_int_equal(entries(j, "assigned", sends, 4), 3);
    for (int k = 0; k < 2; k++) {
        double b = k == 0 ? 1.0 : 2.0;
        double wait = (double)(sends[k + 1] - fails[k]) / 1e6;
        fprintf(stderr, "wait after attempt %d: %.3f s (backoff %.1f s)\n", k + 1, wait, b);
        assert_true(wait >= 0.8 * b - 0.01);
        assert_true(wait <= 1.2 * b + 0.5);
    }
    json_decref(j);
    /* Each attempt's result is kept: 1 and 2 failed, the last completed. */
    long st;
    for (int k = 1; k <= 3; k++) {
        json_t *r = fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s?attempt=%d", id, k);
        assert_int_equal(st, 200);
        assert_int_equal(json_integer_value(json_object_get(r, "attempt")), k);
        const char *want = k < 3 ? "failed" : "completed";
        const char *got =
            json_string_value(json_object_get(json_object_get(r, "result"), "status"));
        if (got)
            str_eq(got, want);
        json_decref(r);
    }
    json_t *r = fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s", id);
    assert_int_equal(st, 200);
    json_decref(r);
    json_decref(fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s?attempt=4", id));
    assert_int_equal(st, 404);
    json_decref(fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s?attempt=x", id));
    assert_int_equal(st, 422);
    fx_cleanup(&f);
}

static void test_fails_twice_then_completes(void **state)
{
    (void)state;
    fails_twice_then_completes("sqlite", NULL);
}

/* The same on the memory store: every backend keeps attempts and results. */
static void test_fails_twice_memory(void **state)
{
    (void)state;
    fails_twice_then_completes("memory", NULL);
}

/* And on PostgreSQL, when one can run here. */
static void test_fails_twice_postgresql(void **state)
{
    (void)state;
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        fprintf(stderr, "skipped: PostgreSQL cannot run here: %s\n", why);
        skip();
    }
    char url[256];
    assert_int_equal(rk_test_pg_create_db(url, sizeof url), 0);
    fails_twice_then_completes("postgresql", (const char *const[]){"--postgres-url", url, NULL});
}

static void test_on_timeout_only(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char script[1024], exp[32];
    counter_script(&f, "c2", 5, "0", script, sizeof script);
    fx_experiment(&f, "fails", script, 0, exp);
    json_t *j = submit(&f,
                       json_pack("{s:s,s:s,s:{s:i,s:f,s:[s]}}", "experiment_id", exp, "agent_id",
                                 f.agent_ids[0], "retry", "max_attempts", 3, "backoff_s", 0.2, "on",
                                 "timeout"),
                       201);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    j = fx_wait_job(&f, id, NULL, 20000);
    str_eq(fx_state(j), "failed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 1);
    rk_time_t t[4];
    assert_int_equal(entries(j, "assigned", t, 4), 1);
    json_decref(j);
    rk_test_sleep_ms(600); /* no second run comes later either */
    char *cnt = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/c2", f.dir);
    cnt = rk_test_read_file(path, NULL);
    assert_non_null(cnt);
    assert_int_equal(atoi(cnt), 1);
    free(cnt);
    fx_cleanup(&f);
}

/* The agent's timeout ends attempt 1 (timeout_seconds 1, the first run
 * sleeps 5 s): retried under on: [timeout], the second run completes. */
static void test_timeout_retried(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char script[1024], exp[32];
    snprintf(script, sizeof script, "if [ -e %s/c6 ]; then exit 0; fi; touch %s/c6; sleep 5", f.dir,
             f.dir);
    fx_experiment(&f, "slow-once", script, 1, exp);
    json_t *j = submit(&f,
                       json_pack("{s:s,s:s,s:{s:i,s:f,s:[s]}}", "experiment_id", exp, "agent_id",
                                 f.agent_ids[0], "retry", "max_attempts", 2, "backoff_s", 0.2, "on",
                                 "timeout"),
                       201);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    j = fx_wait_job(&f, id, NULL, 30000);
    str_eq(fx_state(j), "completed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
    rk_time_t t[2];
    assert_int_equal(entries(j, "timeout", t, 2), 1);
    json_decref(j);
    fx_cleanup(&f);
}

static void test_kill9_during_backoff(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char script[1024], exp[32];
    counter_script(&f, "c3", 1, "0", script, sizeof script);
    fx_experiment(&f, "once-flaky", script, 0, exp);
    json_t *j = submit(&f,
                       json_pack("{s:s,s:s,s:{s:i,s:f}}", "experiment_id", exp, "agent_id",
                                 f.agent_ids[0], "retry", "max_attempts", 3, "backoff_s", 3.0),
                       201);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    /* Wait for the first attempt's end: queued, attempt 2, a not_before. */
    double end = rk_test_now_ms() + 15000;
    rk_time_t due = 0;
    for (;;) {
        j = fx_get_job(&f, id);
        if (json_integer_value(json_object_get(j, "attempt")) == 2) {
            str_eq(fx_state(j), "queued");
            assert_int_equal(
                rk_time_parse(json_string_value(json_object_get(j, "not_before")), &due), 0);
            json_decref(j);
            break;
        }
        json_decref(j);
        assert_true(rk_test_now_ms() < end);
        rk_test_sleep_ms(20);
    }
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    rk_test_sleep_ms(300);
    fx_server_start(&f, "sqlite", NULL);
    j = fx_wait_job(&f, id, NULL, 20000);
    str_eq(fx_state(j), "completed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
    rk_time_t sends[4];
    assert_int_equal(entries(j, "assigned", sends, 4), 2); /* exactly one more run */
    double late = (double)(sends[1] - due) / 1e6;
    fprintf(stderr, "second attempt sent %.3f s after its not_before\n", late);
    assert_true(late >= -0.01);
    assert_true(late < 1.5);
    json_decref(j);
    char path[600];
    snprintf(path, sizeof path, "%s/c3", f.dir);
    char *cnt = rk_test_read_file(path, NULL);
    assert_non_null(cnt);
    assert_int_equal(atoi(cnt), 2);
    free(cnt);
    fx_cleanup(&f);
}

static void test_not_before(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "later", "true", 0, exp);
    rk_time_t nb = rk_time_now_us() + 3000000;
    char nbs[RK_TIME_STRLEN];
    rk_time_format(nb, nbs);
    json_t *j = submit(&f,
                       json_pack("{s:s,s:s,s:s}", "experiment_id", exp, "agent_id", f.agent_ids[0],
                                 "not_before", nbs),
                       201);
    str_eq(fx_state(j), "queued");
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    rk_test_sleep_ms(1500);
    j = fx_get_job(&f, id);
    str_eq(fx_state(j), "queued");
    assert_non_null(json_object_get(j, "not_before"));
    json_decref(j);
    j = fx_wait_job(&f, id, "completed", 10000);
    rk_time_t sends[2];
    assert_int_equal(entries(j, "assigned", sends, 2), 1);
    fprintf(stderr, "sent %.3f s after its not_before\n", (double)(sends[0] - nb) / 1e6);
    assert_true(sends[0] >= nb);
    assert_true(sends[0] - nb < 1000000);
    json_decref(j);
    fx_cleanup(&f);
}

static void test_bad_input(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "never", "true", 0, exp);
    json_int_t before = jobs_total(&f);
    static const struct {
        const char *body, *field;
    } rows[] = {
        {"{\"retry\": {\"max_attempts\": 0}}", "retry.max_attempts"},
        {"{\"retry\": {\"max_attempts\": 21}}", "retry.max_attempts"},
        {"{\"retry\": {\"backoff_s\": -1}}", "retry.backoff_s"},
        {"{\"retry\": {\"on\": [\"failed\", \"sometimes\"]}}", "retry.on[1]"},
        {"{\"retry\": 3}", "retry"},
        {"{\"not_before\": \"tomorrow\"}", "not_before"},
        {"{\"not_before\": \"2026-13-01T00:00:00Z\"}", "not_before"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *b = json_loads(rows[i].body, 0, NULL);
        assert_non_null(b);
        json_object_set_new(b, "experiment_id", json_string(exp));
        json_object_set_new(b, "agent_id", json_string(f.agent_ids[0]));
        json_t *v = submit(&f, b, 422);
        const char *d = json_string_value(json_object_get(v, "detail"));
        if (!d || strncmp(d, rows[i].field, strlen(rows[i].field)) != 0)
            fprintf(stderr, "row %zu: detail %s, wanted it to start with %s\n", i, d,
                    rows[i].field);
        assert_non_null(d);
        assert_memory_equal(d, rows[i].field, strlen(rows[i].field));
        json_decref(v);
    }
    /* The same in a batch names the entry; nothing of the batch is stored. */
    json_t *b = json_pack("{s:[{s:s,s:s},{s:s,s:s,s:{s:i}}]}", "jobs", "experiment_id", exp,
                          "agent_id", f.agent_ids[0], "experiment_id", exp, "agent_id",
                          f.agent_ids[0], "retry", "max_attempts", 21);
    long st;
    json_t *v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
    json_decref(b);
    assert_int_equal(st, 422);
    const char *d = json_string_value(json_object_get(v, "detail"));
    assert_non_null(d);
    assert_non_null(strstr(d, "jobs[1].retry.max_attempts"));
    json_decref(v);
    assert_int_equal(jobs_total(&f), before);
    fx_cleanup(&f);
}

static void test_retry_endpoint(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32], ok[32];
    fx_experiment(&f, "fails", "exit 3", 0, exp);
    fx_experiment(&f, "works", "true", 0, ok);
    json_t *j = submit(&f,
                       json_pack("{s:s,s:s,s:s}", "experiment_id", exp, "agent_id", f.agent_ids[0],
                                 "priority", "high"),
                       201);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, id, "failed", 10000));
    long st;
    j = fx_callf(&f, "POST", &st, NULL, "/api/v1/jobs/%s/retry", id);
    if (st != 201 || !fx_id(j) || !json_object_get(j, "retry_of"))
        fprintf(stderr, "retry answered %ld: %s\n", st, j ? json_dumps(j, JSON_COMPACT) : "");
    assert_int_equal(st, 201);
    assert_string_not_equal(fx_id(j), id);
    str_eq(json_string_value(json_object_get(j, "retry_of")), id);
    str_eq(json_string_value(json_object_get(j, "experiment_id")), exp);
    str_eq(json_string_value(json_object_get(j, "agent_id")), f.agent_ids[0]);
    str_eq(json_string_value(json_object_get(j, "priority")), "high");
    char nid[32];
    snprintf(nid, sizeof nid, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, nid, "failed", 10000));
    j = fx_get_job(&f, nid);
    str_eq(json_string_value(json_object_get(j, "retry_of")), id);
    json_decref(j);
    /* A job submitted to any agent is retried to any agent, not pinned to
     * the one it failed on: with that one paused, the retry runs on the
     * other. The stored {} selector is not shown. */
    j = submit(&f, json_pack("{s:s}", "experiment_id", exp), 201);
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    j = fx_wait_job(&f, id, "failed", 10000);
    str_eq(json_string_value(json_object_get(j, "agent_id")), f.agent_ids[0]);
    assert_null(json_object_get(j, "agent_selector"));
    json_decref(j);
    fx_agent_start(&f, 1, 1, NULL);
    json_decref(fx_callf(&f, "POST", &st, NULL, "/api/v1/agents/%s/pause", f.agent_ids[0]));
    assert_int_equal(st, 200);
    j = fx_callf(&f, "POST", &st, NULL, "/api/v1/jobs/%s/retry", id);
    assert_int_equal(st, 201);
    str_eq(json_string_value(json_object_get(j, "retry_of")), id);
    snprintf(nid, sizeof nid, "%s", fx_id(j));
    json_decref(j);
    j = fx_wait_job(&f, nid, "failed", 10000);
    str_eq(json_string_value(json_object_get(j, "agent_id")), f.agent_ids[1]);
    json_decref(j);
    json_decref(fx_callf(&f, "POST", &st, NULL, "/api/v1/agents/%s/resume", f.agent_ids[0]));
    assert_int_equal(st, 200);
    /* A completed job is not retried; a running one neither. */
    j = submit(&f, json_pack("{s:s,s:s}", "experiment_id", ok, "agent_id", f.agent_ids[0]), 201);
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, id, "completed", 10000));
    json_decref(fx_callf(&f, "POST", &st, NULL, "/api/v1/jobs/%s/retry", id));
    assert_int_equal(st, 409);
    char slow[32];
    fx_experiment(&f, "slow", "sleep 5", 0, slow);
    j = submit(&f, json_pack("{s:s,s:s}", "experiment_id", slow, "agent_id", f.agent_ids[0]), 201);
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, id, "running", 10000));
    json_decref(fx_callf(&f, "POST", &st, NULL, "/api/v1/jobs/%s/retry", id));
    assert_int_equal(st, 409);
    json_decref(fx_callf(&f, "POST", &st, NULL, "/api/v1/jobs/job_00000000/retry"));
    assert_int_equal(st, 404);
    json_decref(fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs/%s?force=true", id));
    json_decref(fx_wait_job(&f, id, "cancelled", 10000));
    fx_cleanup(&f);
}

/* 10,000 queued jobs with not_before spread over the next seconds on
 * agents with many slots: all run, none before its time, and the rate
 * stays near that of jobs without a start time (measured the same way). */
/* The agent killed (-9) and restarted during an attempt reports it failed
 * ("agent restarted during the job"): agent_lost, retried by a policy on
 * agent_lost only, while a plain failure of the next attempt is not. */
static void test_agent_lost(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", (const char *const[]){"--agent-timeout", "20", NULL});
    fx_agent_start(&f, 0, 1, NULL);
    char script[1024], exp[32];
    /* The first run marks its start and sleeps; later runs fail at once. */
    snprintf(script, sizeof script, "if [ -e %s/c5 ]; then exit 4; fi; touch %s/c5; sleep 30",
             f.dir, f.dir);
    fx_experiment(&f, "lost", script, 0, exp);
    json_t *j = submit(&f,
                       json_pack("{s:s,s:s,s:{s:i,s:f,s:[s]}}", "experiment_id", exp, "agent_id",
                                 f.agent_ids[0], "retry", "max_attempts", 3, "backoff_s", 0.2, "on",
                                 "agent_lost"),
                       201);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    char mark[600];
    snprintf(mark, sizeof mark, "%s/c5", f.dir);
    double end = rk_test_now_ms() + 10000;
    while (access(mark, F_OK) != 0) {
        assert_true(rk_test_now_ms() < end);
        rk_test_sleep_ms(20);
    }
    assert_int_equal(rk_test_proc_kill9(&f.agents[0].p), 0);
    rk_test_sleep_ms(300);
    fx_agent_restart(&f, 0, 1);
    j = fx_wait_job(&f, id, NULL, 20000);
    str_eq(fx_state(j), "failed"); /* attempt 2 failed on its own: not retried */
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
    size_t i, lost = 0;
    json_t *h;
    json_array_foreach(json_object_get(j, "history"), i, h)
    {
        const char *msg = json_string_value(json_object_get(h, "message"));
        lost += msg && strstr(msg, "attempt 1 agent_lost") != NULL;
    }
    assert_true(lost >= 1);
    json_decref(j);
    fx_cleanup(&f);
}

/* An experiment's own policy: its jobs take it unless they give one; a
 * bad one is refused when the experiment is created. */
static void test_experiment_policy(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char script[1024];
    counter_script(&f, "c4", 1, "0", script, sizeof script);
    json_t *spec =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:[s,s,s]}},s:{s:s,s:{}},s:{s:{}},s:{s:i,s:f}}", "name",
                  "policy", "model", "none", "task", "name", "sh", "type", "command", "params",
                  "argv", "sh", "-c", script, "framework", "name", "sh", "params", "metrics",
                  "metrics", "retry", "max_attempts", 2, "backoff_s", 0.2);
    json_t *b = json_pack("{s:O}", "experiment_spec", spec);
    long st;
    json_t *v = fx_call(&f, "POST", "/api/v1/experiments", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    char exp[32];
    snprintf(exp, sizeof exp, "%s", json_string_value(json_object_get(v, "experiment_id")));
    json_decref(v);
    json_t *j =
        submit(&f, json_pack("{s:s,s:s}", "experiment_id", exp, "agent_id", f.agent_ids[0]), 201);
    assert_int_equal(json_integer_value(json_object_get(j, "max_attempts")), 2);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    j = fx_wait_job(&f, id, NULL, 20000);
    str_eq(fx_state(j), "completed");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
    json_decref(j);
    /* A bad policy in a spec: 422 naming it, nothing stored. */
    json_object_set_new(spec, "name", json_string("bad-policy"));
    json_object_set_new(spec, "retry", json_pack("{s:i}", "max_attempts", 0));
    b = json_pack("{s:O}", "experiment_spec", spec);
    v = fx_call(&f, "POST", "/api/v1/experiments", b, &st);
    json_decref(b);
    assert_int_equal(st, 422);
    const char *d = json_string_value(json_object_get(v, "detail"));
    assert_non_null(d);
    assert_non_null(strstr(d, "experiment_spec.retry.max_attempts"));
    json_decref(v);
    json_decref(spec);
    fx_cleanup(&f);
}

/* The CLI: job submit with the retry and start-time options, job show's
 * attempt line, job retry; a bad option value is a usage error (exit 2). */
static void test_cli(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32], url[64];
    fx_experiment(&f, "cli-fails", "exit 3", 0, exp);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f.srv.port);
    static rk_test_run_t r;
    assert_int_equal(
        rk_test_run(&r, "ruckus",
                    (const char *const[]){"--server", url, "--json", "job", "submit", exp,
                                          f.agent_ids[0], "--max-attempts", "2", "--backoff", "0.3",
                                          "--retry-on", "failed", "--not-before", "+1", NULL},
                    0),
        0);
    if (r.code != 0)
        fprintf(stderr, "job submit: %s%s\n", r.out, r.err);
    assert_int_equal(r.code, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "max_attempts")), 2);
    assert_non_null(json_object_get(j, "not_before"));
    str_eq(json_string_value(json_array_get(json_object_get(json_object_get(j, "retry"), "on"), 0)),
           "failed");
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, id, "failed", 20000));
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *const[]){"--server", url, "job", "show", id, NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "attempt:        2/2"));
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *const[]){"--server", url, "job", "retry", id, NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "retried job"));
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *const[]){"--server", url, "job", "submit", exp,
                                                       "--max-attempts", "21", NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 2);
    fx_cleanup(&f);
}

/* Submits N jobs of exp on agent 0 in batches of BATCH, each with a
 * not_before from nb (NULL: none); ids[k] get their ids (malloc'd). */
static void submit_many(fx_t *f, const char *exp, int n, int batch, const rk_time_t *nb, char **ids)
{
    for (int b = 0; b < n / batch; b++) {
        json_t *arr = json_array();
        for (int i = 0; i < batch; i++) {
            json_t *e = json_pack("{s:s,s:s}", "experiment_id", exp, "agent_id", f->agent_ids[0]);
            if (nb) {
                char s[RK_TIME_STRLEN];
                rk_time_format(nb[b * batch + i], s);
                json_object_set_new(e, "not_before", json_string(s));
            }
            json_array_append_new(arr, e);
        }
        json_t *body = json_pack("{s:o}", "jobs", arr);
        long st;
        json_t *v = fx_call(f, "POST", "/api/v1/jobs/batch", body, &st);
        json_decref(body);
        assert_int_equal(st, 201);
        json_t *jobs = json_object_get(v, "jobs");
        assert_int_equal(json_array_size(jobs), batch);
        for (int i = 0; i < batch; i++) {
            ids[b * batch + i] = strdup(fx_id(json_array_get(jobs, i)));
            if (nb)
                str_eq(fx_state(json_array_get(jobs, i)), "queued");
        }
        json_decref(v);
    }
}

/* Waits until `want` jobs are completed in all. */
static void wait_completed(fx_t *f, json_int_t want)
{
    double end = rk_test_now_ms() + 300000;
    for (;;) {
        long st;
        json_t *v = fx_call(f, "GET", "/api/v1/jobs?status=completed&limit=1", NULL, &st);
        json_int_t done = json_integer_value(json_object_get(v, "total"));
        json_decref(v);
        if (done >= want)
            return;
        assert_true(rk_test_now_ms() < end);
        rk_test_sleep_ms(100);
    }
}

/* 10,000 queued jobs with not_before spread over the next seconds: all
 * run, none before its time, and the dispatch rate stays near that of
 * 10,000 jobs without a start time, measured the same way first (a /bin/true
 * workload on one agent with 8 slots: the machine's dispatch limit). */
static void test_scale_not_before(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 8, NULL);
    char exp[32];
    fx_experiment(&f, "noop", "true", 0, exp);
    const int n_jobs = (int)rk_test_scale(10000, 2000), BATCH = 1000;
    char **ids = calloc(n_jobs, sizeof *ids);
    rk_time_t *nbs = calloc(n_jobs, sizeof *nbs);
    assert_non_null(ids);
    assert_non_null(nbs);

    /* Baseline: no start times. */
    rk_time_t b0 = rk_time_now_us();
    submit_many(&f, exp, n_jobs, BATCH, NULL, ids);
    wait_completed(&f, n_jobs);
    double base_s = (double)(rk_time_now_us() - b0) / 1e6;
    for (int k = 0; k < n_jobs; k++)
        free(ids[k]);

    /* Start times spread over `spread_s` after the submissions, in a
     * shuffled order: the heap, not arrival, decides. */
    double spread_s = 8.0;
    rk_time_t t0 = rk_time_now_us() + 5000000;
    for (int k = 0; k < n_jobs; k++)
        nbs[k] = t0 + (rk_time_t)(((k * 7919) % n_jobs) * (spread_s * 1e6 / n_jobs));
    double sub0 = rk_test_now_ms();
    submit_many(&f, exp, n_jobs, BATCH, nbs, ids);
    double sub_ms = rk_test_now_ms() - sub0;
    if (rk_time_now_us() >= t0) /* a loaded machine: some were due at once */
        fprintf(stderr, "submissions took %.0f ms: past the first start time\n", sub_ms);
    wait_completed(&f, 2 * n_jobs);
    double done_s = (double)(rk_time_now_us() - t0) / 1e6;
    /* None early: each job's send after its not_before (a sample of 500:
     * every job's history is a read each). */
    int early = 0, nsample = 0;
    double worst_late = 0, sum_late = 0;
    for (int k = 0; k < n_jobs; k += n_jobs / 500) {
        json_t *j = fx_get_job(&f, ids[k]);
        rk_time_t sends[2];
        assert_int_equal(entries(j, "assigned", sends, 2), 1);
        double late = (double)(sends[0] - nbs[k]) / 1e6;
        early += late < 0;
        if (late > worst_late)
            worst_late = late;
        sum_late += late;
        nsample++;
        json_decref(j);
    }
    double base_rate = n_jobs / base_s, rate = n_jobs / done_s;
    fprintf(stderr,
            "not_before scale: baseline %d jobs without start times in %.1f s (%.0f jobs/s); "
            "%d jobs submitted in %.0f ms, due over %.1f s, all done %.1f s after the first was "
            "due (%.0f jobs/s, %.0f %% of baseline); sample of %d: %d early, late mean %.3f s, "
            "worst %.3f s\n",
            n_jobs, base_s, base_rate, n_jobs, sub_ms, spread_s, done_s, rate,
            100 * rate / base_rate, nsample, early, sum_late / nsample, worst_late);
    assert_int_equal(early, 0);
    /* Near normal: at least half the baseline's rate (or faster than the
     * start times allow: done within the spread plus a second). Half, not
     * more: under ctest -j2 another test shares the two cores with one run
     * and not the other (CI saw exactly 70 %; local runs 79-141 %). */
    assert_true(rate >= 0.5 * base_rate || done_s <= spread_s + 1.0);
    for (int k = 0; k < n_jobs; k++)
        free(ids[k]);
    free(ids);
    free(nbs);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fails_twice_then_completes),
        cmocka_unit_test(test_fails_twice_memory),
        cmocka_unit_test(test_fails_twice_postgresql),
        cmocka_unit_test(test_on_timeout_only),
        cmocka_unit_test(test_timeout_retried),
        cmocka_unit_test(test_kill9_during_backoff),
        cmocka_unit_test(test_not_before),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_retry_endpoint),
        cmocka_unit_test(test_experiment_policy),
        cmocka_unit_test(test_agent_lost),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_scale_not_before),
    };
    if (getenv("RK_TEST_FILTER")) /* one test while working on it */
        cmocka_set_test_filter(getenv("RK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
