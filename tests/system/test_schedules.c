/* Schedules (issue 12) against a real server and agents: `* * * * *` fires
 * once a minute; a kill -9 and restart within a minute does not fire that
 * minute again; a downtime that missed several minutes fires once at
 * start; pause, resume, run now and delete; bad input answers a precise
 * 4xx and stores nothing; a thousand schedules list fast; two servers on
 * one PostgreSQL database, both arming the same schedule, fire each minute
 * once between them (the claim is a compare and swap in the store).
 *
 * The clock hook: RUCKUS_CRON_MINUTE_MS=<ms> in the server's environment
 * makes a cron minute last that many real milliseconds (cron time = real
 * time x 60000 / ms), so "minute" m of a test runs from m x ms to
 * (m + 1) x ms real milliseconds since the epoch. Each test sets it before
 * starting the server (the fixture's children inherit it).
 */
#include <time.h>
#include <unistd.h>

#include "base/time.h"
#include "rk_test_pg.h"
#include "rk_test_run.h"
#include "server_fixture.h"

static void set_minute_ms(const char *ms)
{
    if (ms)
        setenv("RUCKUS_CRON_MINUTE_MS", ms, 1);
    else
        unsetenv("RUCKUS_CRON_MINUTE_MS");
}

static int64_t wall_ms(void)
{
    return rk_time_now_us() / 1000;
}

/* POST /schedules with body (taken); the answer (new reference). */
static json_t *sch_post(fx_t *f, json_t *body, long *st)
{
    json_t *v = fx_call(f, "POST", "/api/v1/schedules", body, st);
    json_decref(body);
    return v;
}

/* Creates a schedule of exp on cron (enabled) and returns its id in id. */
static void sch_create(fx_t *f, const char *exp, const char *cron, char id[32])
{
    long st;
    json_t *v = sch_post(
        f, json_pack("{s:s,s:s,s:s}", "name", "t", "cron", cron, "experiment_id", exp), &st);
    assert_int_equal(st, 201);
    const char *sid = json_string_value(json_object_get(v, "schedule_id"));
    assert_non_null(sid);
    assert_non_null(json_object_get(v, "next_run_at"));
    snprintf(id, 32, "%s", sid);
    json_decref(v);
}

static size_t sch_count(fx_t *f)
{
    long st;
    json_t *v = fx_call(f, "GET", "/api/v1/schedules", NULL, &st);
    assert_int_equal(st, 200);
    size_t n = json_array_size(json_object_get(v, "schedules"));
    json_decref(v);
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The creation times (ms since the epoch) of exp's jobs, oldest first,
 * into t[max]; returns how many. */
static size_t job_times(fx_t *f, const char *exp, int64_t *t, size_t max)
{
    long st;
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/jobs?experiment_id=%s&limit=10000", exp);
    assert_int_equal(st, 200);
    size_t n = 0;
    const char *agent;
    json_t *group;
    json_object_foreach(json_object_get(v, "jobs"), agent, group) /* {agent: [job...]} */
    {
        size_t i;
        json_t *j;
        json_array_foreach(group, i, j)
        {
            rk_time_t c = 0;
            const char *s = json_string_value(json_object_get(j, "created_time"));
            assert_int_equal(rk_time_parse(s, &c), 0);
            assert_true(n < max);
            t[n++] = c / 1000;
        }
    }
    qsort(t, n, sizeof *t, cmp_i64);
    json_decref(v);
    return n;
}

/* Waits until exp has at least want jobs; returns the count. */
static size_t wait_jobs(fx_t *f, const char *exp, size_t want, int timeout_ms)
{
    int64_t t[4096];
    double end = rk_test_now_ms() + timeout_ms;
    for (;;) {
        size_t n = job_times(f, exp, t, 4096);
        if (n >= want)
            return n;
        if (rk_test_now_ms() > end)
            fail_msg("%zu jobs of %s, wanted %zu", n, exp, want);
        rk_test_sleep_ms(20);
    }
}

/* Fails when two of the n jobs were made in one cron minute (minute_ms
 * long) — one agent, so one job per firing. */
static void assert_one_per_minute(const int64_t *t, size_t n, int64_t minute_ms)
{
    for (size_t i = 1; i < n; i++)
        if (t[i] / minute_ms == t[i - 1] / minute_ms)
            fail_msg("jobs %zu and %zu both in minute %lld (%lld, %lld ms)", i - 1, i,
                     (long long)(t[i] / minute_ms), (long long)t[i - 1], (long long)t[i]);
}

/* Lets schedule id fire for ms, then pauses it; the time of the pause. */
static int64_t run_then_pause(fx_t *f, const char *id, int ms)
{
    rk_test_sleep_ms(ms);
    long st;
    json_decref(fx_callf(f, "POST", &st, NULL, "/api/v1/schedules/%s/pause", id));
    assert_int_equal(st, 200);
    return wall_ms();
}

static json_t *sch_get(fx_t *f, const char *id)
{
    long st;
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/schedules/%s", id);
    assert_int_equal(st, 200);
    json_t *s = json_incref(json_object_get(v, "schedule"));
    json_decref(v);
    assert_non_null(s);
    return s;
}

static int64_t doc_ms(const json_t *doc, const char *key)
{
    rk_time_t t = 0;
    const char *s = json_string_value(json_object_get(doc, key));
    assert_non_null(s);
    assert_int_equal(rk_time_parse(s, &t), 0);
    return t / 1000;
}

/* The job's schedule_id as stored. */
static void assert_job_schedule(fx_t *f, const char *job_id, const char *sch)
{
    json_t *j = fx_get_job(f, job_id);
    const char *got = json_string_value(json_object_get(j, "schedule_id"));
    if (!got || strcmp(got, sch) != 0)
        fail_msg("job %s: schedule_id %s, want %s", job_id, got ? got : "(none)", sch);
    json_decref(j);
}

/* `* * * * *` on 1.5 s minutes: one firing per minute, each job stamped. */
static void test_every_minute_once(void **state)
{
    (void)state;
    enum { MINUTE = 1500, MINUTES = 6 };
    set_minute_ms("1500");
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    char exp[32], id[32];
    fx_experiment(&f, "nightly", "true", 0, exp);
    sch_create(&f, exp, "* * * * *", id);
    int64_t t0 = wall_ms();
    int64_t t1 = run_then_pause(&f, id, MINUTE * MINUTES);
    int64_t t[64];
    size_t n = job_times(&f, exp, t, 64);
    /* every minute boundary crossed between t0 and t1 fired once */
    size_t want = (size_t)(t1 / MINUTE - t0 / MINUTE);
    fprintf(stderr, "%zu firings over %zu minute boundaries\n", n, want);
    assert_true(n + 1 >= want && n <= want);
    assert_one_per_minute(t, n, MINUTE);
    json_t *doc = sch_get(&f, id);
    assert_false(json_is_true(json_object_get(doc, "enabled")));
    assert_int_equal(json_array_size(json_object_get(doc, "last_job_ids")), 1);
    const char *last = json_string_value(json_array_get(json_object_get(doc, "last_job_ids"), 0));
    assert_job_schedule(&f, last, id);
    assert_true(doc_ms(doc, "next_run_at") > doc_ms(doc, "last_run_at"));
    json_decref(doc);
    fx_cleanup(&f);
}

/* Two servers on one PostgreSQL database: the second stands by (one
 * dispatches, lib/server/standby.c) and fires nothing; kill -9 of the
 * first mid-run and the second takes over and fires the schedule on. Each
 * minute fires at most once across both (the store's compare and swap
 * holds the slot the first may have fired just before it died), and the
 * minutes after the takeover fire. */
static void test_two_servers_fire_once(void **state)
{
    (void)state;
    enum { MINUTE = 1500, MINUTES = 5, AFTER = 6 };
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        fprintf(stderr, "skipped: PostgreSQL cannot run here: %s\n", why);
        skip();
    }
    set_minute_ms("1500");
    fx_t f;
    fx_init(&f);
    char url[256];
    assert_int_equal(rk_test_pg_create_db(url, sizeof url), 0);
    const char *const pg_args[] = {"--postgres-url", url, NULL};
    fx_server_start(&f, "postgresql", pg_args);
    fx_agent_start(&f, 0, 2, NULL);
    char exp[32], id[32];
    fx_experiment(&f, "shared", "true", 0, exp);
    sch_create(&f, exp, "* * * * *", id);
    rk_test_proc_t b = {.pid = -1};
    rk_test_proc_opts_t o = {.no_listen_wait = true};
    assert_int_equal(rk_test_proc_start(&b, "ruckus-server",
                                        (const char *const[]){"--port", "0", "--storage",
                                                              "postgresql", "--postgres-url", url,
                                                              "--log-level", "debug", NULL},
                                        &o),
                     0);
    int64_t t0 = wall_ms();
    rk_test_sleep_ms(MINUTE * MINUTES);
    assert_true(rk_test_proc_log_has(&b, "standing by"));
    assert_false(rk_test_proc_log_has(&b, "listening server=server"));
    int64_t t[64];
    size_t n = job_times(&f, exp, t, 64);
    size_t want = (size_t)(wall_ms() / MINUTE - t0 / MINUTE);
    assert_one_per_minute(t, n, MINUTE);
    assert_true(n <= want + 1 && n + 1 >= want);

    /* The first dies; the second takes over (after its grace) and goes on. */
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    assert_int_equal(rk_test_proc_wait_listening(&b, 0, 20000), 0);
    rk_test_proc_cleanup(&f.srv);
    f.srv = b;
    int64_t t1 = wall_ms();
    int64_t t2 = run_then_pause(&f, id, MINUTE * AFTER);
    rk_test_sleep_ms(300);
    size_t n2 = job_times(&f, exp, t, 64), after = 0;
    for (size_t i = 0; i < n2; i++)
        after += t[i] >= t1;
    fprintf(stderr,
            "%zu firings over %zu minute boundaries before the kill; %zu over %zu after the "
            "takeover; %zu in all\n",
            n, want, after, (size_t)(t2 / MINUTE - t1 / MINUTE), n2);
    assert_one_per_minute(t, n2, MINUTE);
    assert_true(after + 1 >= (size_t)(t2 / MINUTE - t1 / MINUTE));
    fx_cleanup(&f);
    rk_test_pg_drop_db(url);
    set_minute_ms(NULL);
}

/* kill -9 right after a firing and back within the same minute: that
 * minute does not fire again; the next one does. */
static void test_kill9_no_second_firing(void **state)
{
    (void)state;
    enum { MINUTE = 8000 };
    set_minute_ms("8000");
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32], id[32];
    fx_experiment(&f, "crash", "true", 0, exp);
    sch_create(&f, exp, "* * * * *", id);
    wait_jobs(&f, exp, 1, MINUTE * 2 + 2000);
    int64_t t[16];
    job_times(&f, exp, t, 16);
    int64_t minute = t[0] / MINUTE;
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    fx_server_start(&f, "sqlite", NULL);
    int64_t back = wall_ms();
    if (back / MINUTE != minute) /* too slow a restart proves nothing: say so */
        fprintf(stderr, "restart crossed the minute (%lld ms into the next)\n",
                (long long)(back % MINUTE));
    wait_jobs(&f, exp, 2, MINUTE * 2 + 2000);
    size_t n = job_times(&f, exp, t, 16);
    assert_one_per_minute(t, n, MINUTE);
    assert_int_equal(t[1] / MINUTE, minute + 1);
    json_t *doc = sch_get(&f, id);
    assert_job_schedule(
        &f, json_string_value(json_array_get(json_object_get(doc, "last_job_ids"), 0)), id);
    json_decref(doc);
    fx_cleanup(&f);
}

/* Down for several minutes: one catch-up firing at start, then the next
 * slot after now (not one per missed minute). */
static void test_downtime_fires_once(void **state)
{
    (void)state;
    enum { MINUTE = 2000, DOWN_MS = 7000 };
    set_minute_ms("2000");
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32], id[32];
    fx_experiment(&f, "downtime", "true", 0, exp);
    sch_create(&f, exp, "* * * * *", id);
    size_t before = wait_jobs(&f, exp, 1, MINUTE * 2 + 2000);
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    int64_t killed = wall_ms();
    rk_test_sleep_ms(DOWN_MS); /* three minutes and more missed */
    fx_server_start(&f, "sqlite", NULL);
    int64_t up = wall_ms();
    size_t n = wait_jobs(&f, exp, before + 1, MINUTE * 2);
    int64_t t[64];
    n = job_times(&f, exp, t, 64);
    /* the catch-up: the first job after the kill, made at start */
    size_t c = 0;
    while (c < n && t[c] <= killed)
        c++;
    assert_true(c < n);
    fprintf(stderr, "catch-up %lld ms after the server was up\n", (long long)(t[c] - up));
    assert_true(t[c] >= killed + DOWN_MS - 100 && t[c] <= up + MINUTE / 2);
    assert_one_per_minute(t, n, MINUTE);
    /* its next slot is the first after the catch-up, not a missed one */
    rk_test_sleep_ms(200);
    json_t *doc = sch_get(&f, id);
    int64_t next = doc_ms(doc, "next_run_at");
    int64_t last = doc_ms(doc, "last_run_at");
    assert_true(next > last && next - last <= MINUTE);
    assert_true(next > up);
    json_decref(doc);
    fx_cleanup(&f);
}

/* Pause stops the firings, resume restarts them, run fires now on every
 * compatible agent, delete removes it. */
static void test_pause_resume_run_delete(void **state)
{
    (void)state;
    enum { MINUTE = 1000 };
    set_minute_ms("1000");
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    fx_agent_start(&f, 1, 2, NULL);
    char exp[32], id[32];
    fx_experiment(&f, "controls", "true", 0, exp);
    sch_create(&f, exp, "* * * * *", id);
    wait_jobs(&f, exp, 2, MINUTE * 3); /* one firing: a job per agent */
    long st;
    json_t *v = fx_callf(&f, "POST", &st, NULL, "/api/v1/schedules/%s/pause", id);
    assert_int_equal(st, 200);
    assert_false(json_is_true(json_object_get(json_object_get(v, "schedule"), "enabled")));
    json_decref(v);
    int64_t t[256];
    size_t paused = job_times(&f, exp, t, 256);
    rk_test_sleep_ms(MINUTE * 3);
    assert_int_equal(job_times(&f, exp, t, 256), paused);
    v = fx_callf(&f, "POST", &st, NULL, "/api/v1/schedules/%s/resume", id);
    assert_int_equal(st, 200);
    json_t *doc = json_object_get(v, "schedule");
    assert_true(json_is_true(json_object_get(doc, "enabled")));
    assert_true(doc_ms(doc, "next_run_at") > wall_ms() - 50);
    json_decref(v);
    size_t resumed = wait_jobs(&f, exp, paused + 2, MINUTE * 3);
    /* run now: 201 with one job per compatible agent, stamped */
    v = fx_callf(&f, "POST", &st, NULL, "/api/v1/schedules/%s/run", id);
    assert_int_equal(st, 201);
    json_t *jobs = json_object_get(v, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *j = json_array_get(jobs, i);
        assert_string_equal(json_string_value(json_object_get(j, "schedule_id")), id);
        assert_job_schedule(&f, fx_id(j), id);
    }
    assert_string_not_equal(
        json_string_value(json_object_get(json_array_get(jobs, 0), "agent_id")),
        json_string_value(json_object_get(json_array_get(jobs, 1), "agent_id")));
    json_decref(v);
    assert_true(job_times(&f, exp, t, 256) >= resumed + 2);
    /* delete: gone, and no more firings */
    v = fx_callf(&f, "DELETE", &st, NULL, "/api/v1/schedules/%s", id);
    assert_int_equal(st, 200);
    json_decref(v);
    size_t deleted = job_times(&f, exp, t, 256);
    json_decref(fx_callf(&f, "GET", &st, NULL, "/api/v1/schedules/%s", id));
    assert_int_equal(st, 404);
    rk_test_sleep_ms(MINUTE * 3);
    assert_int_equal(job_times(&f, exp, t, 256), deleted);
    const char *ops[] = {"pause", "resume", "run"};
    for (size_t i = 0; i < 3; i++) {
        json_decref(fx_callf(&f, "POST", &st, NULL, "/api/v1/schedules/%s/%s", id, ops[i]));
        assert_int_equal(st, 404);
    }
    json_decref(fx_callf(&f, "DELETE", &st, NULL, "/api/v1/schedules/%s", id));
    assert_int_equal(st, 404);
    assert_int_equal(sch_count(&f), 0);
    fx_cleanup(&f);
}

/* Each bad body: its status and a piece of its detail; nothing stored. */
static void test_bad_input_stores_nothing(void **state)
{
    (void)state;
    set_minute_ms(NULL);
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "valid", "true", 0, exp);
    const struct {
        const char *json; /* EXP: the experiment id */
        long status;
        const char *detail;
    } rows[] = {
        {"{\"name\":\"n\",\"cron\":\"60 * * * *\",\"experiment_id\":\"EXP\"}", 422,
         "cron: minute: 60 out of range 0-59"},
        {"{\"name\":\"n\",\"cron\":\"* 24 * * *\",\"experiment_id\":\"EXP\"}", 422,
         "cron: hour: 24 out of range 0-23"},
        {"{\"name\":\"n\",\"cron\":\"* * 0 * *\",\"experiment_id\":\"EXP\"}", 422,
         "cron: day-of-month: 0 out of range 1-31"},
        {"{\"name\":\"n\",\"cron\":\"* * * 13 *\",\"experiment_id\":\"EXP\"}", 422,
         "cron: month: 13 out of range 1-12"},
        {"{\"name\":\"n\",\"cron\":\"* * * * 8\",\"experiment_id\":\"EXP\"}", 422,
         "cron: day-of-week: 8 out of range 0-7"},
        {"{\"name\":\"n\",\"cron\":\"* * * *\",\"experiment_id\":\"EXP\"}", 422,
         "cron: expected 5 fields, got 4"},
        {"{\"name\":\"n\",\"cron\":\"*/0 * * * *\",\"experiment_id\":\"EXP\"}", 422,
         "cron: minute: step 0"},
        {"{\"name\":\"n\",\"cron\":\"0 0 30 2 *\",\"experiment_id\":\"EXP\"}", 422, "never fires"},
        {"{\"name\":\"n\",\"cron\":5,\"experiment_id\":\"EXP\"}", 422, "cron"},
        {"{\"cron\":\"* * * * *\",\"experiment_id\":\"EXP\"}", 422, "name"},
        {"{\"name\":\"n\",\"cron\":\"* * * * *\",\"experiment_id\":\"exp_nope\"}", 404,
         "experiment exp_nope not found"},
        {"{\"name\":\"n\",\"cron\":\"* * * * "
         "*\",\"experiment_id\":\"EXP\",\"priority\":\"urgent\"}",
         422, "priority"},
        {"{\"name\":\"n\",\"cron\":\"* * * * *\",\"experiment_id\":\"EXP\",\"agent_ids\":[\"agent_"
         "nope\"]}",
         422, "agent_ids: agent agent_nope is not registered"},
        {"{\"name\":\"n\",\"cron\":\"* * * * *\",\"experiment_id\":\"EXP\",\"agent_ids\":[\"a\"],"
         "\"agent_selector\":{\"labels\":{\"k\":\"v\"}}}",
         422, "agent_ids and agent_selector"},
        {"{\"name\":\"n\",\"cron\":\"* * * * *\",\"experiment_id\":\"EXP\",\"retry\":{\"max_"
         "attempts\":0}}",
         422, "retry.max_attempts"},
        {"{\"name\":\"n\",\"cron\":\"* * * * *\",\"experiment_id\":\"EXP\",\"not_before\":\"2030-"
         "01-01T00:00:00Z\"}",
         422, "not_before: not taken by schedules"},
        {"{\"name\":\"n\",\"cron\":\"* * * * *\",\"experiment_id\":\"EXP\",\"count\":2}", 422,
         "count: not taken by schedules"},
        {"{\"name\":\"n\",\"cron\":\"* * * * *\",\"experiment_id\":\"EXP\",\"enabled\":\"yes\"}",
         422, "enabled"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[1024];
        const char *at = strstr(rows[i].json, "EXP");
        if (at)
            snprintf(text, sizeof text, "%.*s%s%s", (int)(at - rows[i].json), rows[i].json, exp,
                     at + 3);
        else
            snprintf(text, sizeof text, "%s", rows[i].json);
        json_t *body = json_loads(text, 0, NULL);
        assert_non_null(body);
        long st;
        json_t *v = sch_post(&f, body, &st);
        const char *detail = json_string_value(json_object_get(v, "detail"));
        if (st != rows[i].status || !detail || !strstr(detail, rows[i].detail))
            fail_msg("row %zu: %ld \"EXP\", want %ld \"EXP\"", i, st, detail ? detail : "",
                     rows[i].status, rows[i].detail);
        json_decref(v);
        assert_int_equal(sch_count(&f), 0);
    }
    char id[32];
    sch_create(&f, exp, "0 3 * * *", id);
    assert_int_equal(sch_count(&f), 1);
    fx_cleanup(&f);
}

/* CPU time (user + system) process pid used so far, in ms. */
static double cpu_ms(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *text = rk_test_read_file(path, NULL);
    assert_non_null(text);
    const char *p = strrchr(text, ')'); /* the name may hold spaces */
    assert_non_null(p);
    unsigned long long ut = 0, st = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    assert_int_equal(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
    free(text);
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* A thousand schedules: the list answers fast, and an idle server with
 * all of them armed costs next to no CPU (the next wake is the heap's
 * top, not a scan). */
static void test_thousand_schedules(void **state)
{
    (void)state;
    enum { N = 1000 };
    set_minute_ms(NULL);
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32], id[32];
    fx_experiment(&f, "many", "true", 0, exp);
    double t0 = rk_test_now_ms();
    for (int i = 0; i < N; i++)
        sch_create(&f, exp, i % 2 ? "0 3 1 1 *" : "30 4 29 2 *", id);
    double t1 = rk_test_now_ms();
    long st;
    double best = 1e9;
    for (int k = 0; k < 5; k++) {
        double a = rk_test_now_ms();
        json_t *v = fx_call(&f, "GET", "/api/v1/schedules", NULL, &st);
        double b = rk_test_now_ms();
        assert_int_equal(st, 200);
        assert_int_equal(json_array_size(json_object_get(v, "schedules")), N);
        json_decref(v);
        best = b - a < best ? b - a : best;
    }
    /* a restart re-arms them all from the store */
    assert_int_equal(rk_test_proc_stop(&f.srv, SIGTERM, 10000, NULL), 0);
    double r0 = rk_test_now_ms();
    fx_server_start(&f, "sqlite", NULL);
    double r1 = rk_test_now_ms();
    assert_true(rk_test_proc_log_has(&f.srv, "schedules=1000"));
    /* idle with all of them armed: the loop looks at the heap's top only */
    double c0 = cpu_ms(f.srv.pid), w0 = rk_test_now_ms();
    rk_test_sleep_ms(3000);
    double cpu = cpu_ms(f.srv.pid) - c0, wall = rk_test_now_ms() - w0;
    fprintf(stderr,
            "%d schedules: created in %.0f ms (%.2f ms each), GET /schedules best of 5 %.1f ms, "
            "restart with all armed %.0f ms, idle server CPU %.0f ms over %.0f ms\n",
            N, t1 - t0, (t1 - t0) / N, best, r1 - r0, cpu, wall);
    assert_true(cpu < wall / 10); /* tolerant: a shared machine */
    assert_true(best < 1000);     /* tolerant: 2 shared cores */
    assert_int_equal(sch_count(&f), N);
    fx_cleanup(&f);
}

/* A thousand `* * * * *` schedules due at the same minute: every one fires
 * once in that minute, in bounded batches of the manager's loop. */
static void test_thousand_due_at_once(void **state)
{
    (void)state;
    enum { N = 1000, MINUTE = 20000 }; /* room for a sanitizer build: 6.7 s there */
    set_minute_ms("20000");
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 4, NULL);
    char exp[32], id[32];
    fx_experiment(&f, "many-due", "true", 0, exp);
    /* start right after a boundary, so all are made before the next */
    while (wall_ms() % MINUTE > 5000)
        rk_test_sleep_ms(50);
    for (int i = 0; i < N; i++)
        sch_create(&f, exp, "* * * * *", id);
    int64_t boundary = (wall_ms() / MINUTE + 1) * MINUTE;
    assert_true(boundary - wall_ms() > 1000); /* all made before it */
    int64_t last = 0;
    size_t fired = 0;
    while (wall_ms() < boundary + MINUTE - 3000) {
        long st;
        json_t *v = fx_call(&f, "GET", "/api/v1/schedules", NULL, &st);
        assert_int_equal(st, 200);
        size_t i;
        json_t *s;
        fired = 0;
        last = 0;
        json_array_foreach(json_object_get(v, "schedules"), i, s)
        {
            if (!json_object_get(s, "last_run_at"))
                continue;
            int64_t t = doc_ms(s, "last_run_at");
            assert_true(t >= boundary);
            fired++;
            last = t > last ? t : last;
        }
        json_decref(v);
        if (fired == N)
            break;
        rk_test_sleep_ms(100);
    }
    assert_int_equal(fired, N);
    int64_t t[N + 16];
    size_t n = job_times(&f, exp, t, N + 16);
    fprintf(stderr, "%d schedules due at one minute: all fired %lld ms after it, %zu jobs\n", N,
            (long long)(last - boundary), n);
    assert_int_equal(n, N); /* each once */
    assert_true(last - boundary < MINUTE);
    fx_cleanup(&f);
}

/* A schedule's retry policy goes to each firing's jobs, beside their
 * schedule_id. */
static void test_retry_policy_reaches_the_jobs(void **state)
{
    (void)state;
    set_minute_ms(NULL);
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "retried", "true", 0, exp);
    long st;
    json_t *v =
        sch_post(&f,
                 json_pack("{s:s,s:s,s:s,s:{s:i,s:f}}", "name", "r", "cron", "0 3 * * *",
                           "experiment_id", exp, "retry", "max_attempts", 3, "backoff_s", 1.0),
                 &st);
    assert_int_equal(st, 201);
    char id[32];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(v, "schedule_id")));
    json_decref(v);
    json_t *doc = sch_get(&f, id);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "retry"), "max_attempts")), 3);
    json_decref(doc);
    v = fx_callf(&f, "POST", &st, NULL, "/api/v1/schedules/%s/run", id);
    assert_int_equal(st, 201);
    json_t *j = fx_get_job(&f, fx_id(json_array_get(json_object_get(v, "jobs"), 0)));
    assert_string_equal(json_string_value(json_object_get(j, "schedule_id")), id);
    assert_int_equal(json_integer_value(json_object_get(j, "max_attempts")), 3);
    json_decref(j);
    json_decref(v);
    fx_cleanup(&f);
}

static rk_test_run_t run; /* large: off the stack */

/* ruckus --server URL args...; the exit code. */
static int cli(const fx_t *f, const char *const *args)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f->srv.port);
    const char *argv[32] = {"--server", url};
    int n = 2;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    assert_int_equal(rk_test_run(&run, "ruckus", argv, 0), 0);
    return run.code;
}

/* ruckus schedule: create, list, show, a bad cron (exit 6 naming the
 * field), pause, run now, delete. */
static void test_cli_schedule(void **state)
{
    (void)state;
    set_minute_ms(NULL);
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "cli", "true", 0, exp);
    setenv("NO_COLOR", "1", 1);
    assert_int_equal(cli(&f, (const char *[]){"schedule", "create", "--name", "nightly", "--cron",
                                              "0 3 * * *", "--experiment", exp, "--agent",
                                              f.agent_ids[0], "--priority", "high", NULL}),
                     0);
    const char *at = strstr(run.out, "created schedule sch_");
    assert_non_null(at);
    char id[32];
    snprintf(id, sizeof id, "%.12s", at + strlen("created schedule "));
    assert_int_equal(cli(&f, (const char *[]){"--json", "schedule", "list", NULL}), 0);
    json_t *v = json_loads(run.out, 0, NULL);
    json_t *s0 = json_array_get(json_object_get(v, "schedules"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "schedule_id")), id);
    assert_string_equal(json_string_value(json_object_get(s0, "priority")), "high");
    json_decref(v);
    assert_int_equal(cli(&f, (const char *[]){"schedule", "list", NULL}), 0);
    assert_non_null(strstr(run.out, "nightly"));
    assert_int_equal(cli(&f, (const char *[]){"schedule", "show", id, NULL}), 0);
    assert_non_null(strstr(run.out, "0 3 * * *"));
    assert_non_null(strstr(run.out, f.agent_ids[0]));
    assert_int_equal(cli(&f, (const char *[]){"schedule", "create", "--name", "bad", "--cron",
                                              "61 * * * *", "--experiment", exp, NULL}),
                     6);
    assert_non_null(strstr(run.err, "cron: minute: 61 out of range 0-59"));
    assert_int_equal(cli(&f, (const char *[]){"schedule", "pause", id, NULL}), 0);
    assert_non_null(strstr(run.out, "paused schedule"));
    assert_int_equal(cli(&f, (const char *[]){"--json", "schedule", "run", id, NULL}), 0);
    v = json_loads(run.out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(v, "jobs")), 1);
    json_decref(v);
    assert_int_equal(cli(&f, (const char *[]){"schedule", "delete", id, NULL}), 0);
    assert_int_equal(cli(&f, (const char *[]){"schedule", "show", id, NULL}), 3);
    assert_int_equal(cli(&f, (const char *[]){"schedule", "--help", NULL}), 0);
    assert_non_null(strstr(run.out, "create|list|show|delete|pause|resume|run"));
    assert_int_equal(sch_count(&f), 0);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_stores_nothing),
        cmocka_unit_test(test_every_minute_once),
        cmocka_unit_test(test_pause_resume_run_delete),
        cmocka_unit_test(test_kill9_no_second_firing),
        cmocka_unit_test(test_downtime_fires_once),
        cmocka_unit_test(test_thousand_schedules),
        cmocka_unit_test(test_thousand_due_at_once),
        cmocka_unit_test(test_cli_schedule),
        cmocka_unit_test(test_retry_policy_reaches_the_jobs),
        cmocka_unit_test(test_two_servers_fire_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
