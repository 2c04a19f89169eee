/* Placement on any matching agent against real processes (issue 11): 2,000
 * jobs without an agent over four labelled agents each run exactly once, on
 * an agent their selector matches, never more at once on an agent than its
 * slots, and a job only one busy agent can take does not hold up the rest;
 * a drain past its deadline puts an "any" job back unplaced and another
 * agent completes it; a kill -9 of the server mid-run loses and repeats
 * nothing; a selector no agent matches, or an experiment no agent can run,
 * is 422 with nothing stored.
 *
 * The workload log says where each job ran: every script appends "start
 * <job> <output dir>" and "end <job> <output dir>", and the output dir lies
 * in the data dir of the agent that ran it.
 */
#include "server_fixture.h"

/* Bounds on the waits: generous for the sanitizer build on a shared
 * machine; the runs themselves take a few seconds. */
#define WAIT_MS 120000
#define JOB_WAIT_MS 30000
/* A job the agent is told to stop is gone within its TERM grace (10 s by
 * default) and this margin; the drained job would sleep far longer. */
#define STOP_WAIT_MS 20000
#define DRAINED_SLEEP "120"

/* One job the test submitted, and what the workload log says of it. */
typedef struct rec {
    char id[32];
    unsigned allowed; /* bit i: agent i matches its selector */
    int agent;        /* where it first started, -1: nowhere (yet) */
    bool moved;       /* it also started on another agent */
    int starts, ends;
} rec_t;

typedef struct recs {
    rec_t *v;
    size_t n, cap;
} recs_t;

static void recs_add(recs_t *r, const char *id, unsigned allowed)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    rec_t *x = &r->v[r->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", id);
    x->allowed = allowed;
    x->agent = -1;
}

static int rec_cmp(const void *a, const void *b)
{
    return strcmp(((const rec_t *)a)->id, ((const rec_t *)b)->id);
}

static rec_t *recs_find(const recs_t *r, const char *id)
{
    rec_t key;
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, r->v, r->n, sizeof *r->v, rec_cmp);
}

/* The script of a logged job: logs its start, runs middle, logs its end. */
static void logged(const fx_t *f, const char *middle, char *out, size_t n)
{
    snprintf(out, n,
             "flock %s -c 'echo start $RUCKUS_JOB_ID $RUCKUS_OUTPUT_DIR >> %s'; %s; "
             "flock %s -c 'echo end $RUCKUS_JOB_ID $RUCKUS_OUTPUT_DIR >> %s'",
             f->log, f->log, middle, f->log, f->log);
}

/* Which agent's data dir holds dir, or -1. */
static int agent_of_dir(const fx_t *f, const char *dir)
{
    for (int i = 0; i < f->n_agents; i++) {
        size_t n = strlen(f->agents[i].data);
        if (strncmp(dir, f->agents[i].data, n) == 0 && dir[n] == '/')
            return i;
    }
    return -1;
}

/* Reads the workload log into r (sorted by id here): starts, ends and the
 * agent of every job, failing on a line of a job not in r or of no known
 * agent. peak[i]: the most jobs open at once on agent i (NULL: not
 * wanted). Returns how many starts it read. */
static int read_log(const fx_t *f, recs_t *r, int peak[FX_AGENTS])
{
    qsort(r->v, r->n, sizeof *r->v, rec_cmp);
    for (size_t i = 0; i < r->n; i++) {
        r->v[i].starts = r->v[i].ends = 0;
        r->v[i].agent = -1;
        r->v[i].moved = false;
    }
    int open[FX_AGENTS] = {0}, most[FX_AGENTS] = {0}, starts = 0;
    if (peak)
        memset(peak, 0, sizeof most);
    char *text = rk_test_read_file(f->log, NULL);
    if (!text)
        return 0; /* nothing started yet */
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char what[8], id[64], dir[1024];
        assert_int_equal(sscanf(line, "%7s %63s %1023s", what, id, dir), 3);
        rec_t *x = recs_find(r, id);
        int a = agent_of_dir(f, dir);
        if (!x || a < 0)
            fail_msg("workload log line of an unknown job or agent: %s", line);
        if (x->agent < 0)
            x->agent = a;
        x->moved |= x->agent != a;
        if (strcmp(what, "start") == 0) {
            x->starts++;
            starts++;
            if (++open[a] > most[a])
                most[a] = open[a];
        } else {
            x->ends++;
            open[a]--;
        }
    }
    free(text);
    if (peak)
        memcpy(peak, most, sizeof most);
    return starts;
}

/* How many jobs (of experiment exp, or all when NULL) are in status (a
 * comma-separated list). */
static int64_t count_jobs(fx_t *f, const char *exp, const char *status)
{
    long st;
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/jobs?limit=1&status=%s%s%s", status,
                         exp ? "&experiment_id=" : "", exp ? exp : "");
    assert_int_equal(st, 200);
    int64_t n = json_integer_value(json_object_get(v, "total"));
    json_decref(v);
    return n;
}

/* Waits until count_jobs(exp, status) reaches n; fails after ms. */
static void wait_count(fx_t *f, const char *exp, const char *status, int64_t n, int ms)
{
    double end = rk_test_now_ms() + ms;
    int64_t have;
    while ((have = count_jobs(f, exp, status)) < n) {
        if (rk_test_now_ms() > end)
            fail_msg("%lld jobs %s, waited for %lld", (long long)have, status, (long long)n);
        rk_test_sleep_ms(50);
    }
}

/* {"labels": {k: v}}, new reference. */
static json_t *selector(const char *k, const char *v)
{
    return json_pack("{s:{s:s}}", "labels", k, v);
}

/* POST /jobs of experiment exp without an agent: count copies (1: one
 * JobInfo answered), sel (taken, may be NULL), priority (may be NULL).
 * Records each job with the agents it may run on. */
static void submit_any(fx_t *f, recs_t *r, const char *exp, int count, json_t *sel,
                       const char *priority, unsigned allowed)
{
    json_t *b = json_pack("{s:s}", "experiment_id", exp);
    if (count > 1)
        json_object_set_new(b, "count", json_integer(count));
    if (sel)
        json_object_set_new(b, "agent_selector", sel);
    else /* "any" spelled out, the other form of "no agent" */
        json_object_set_new(b, "agent_id", json_string("any"));
    if (priority)
        json_object_set_new(b, "priority", json_string(priority));
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/jobs", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    json_t *jobs = count > 1 ? json_object_get(v, "jobs") : NULL;
    assert_int_equal(jobs ? json_array_size(jobs) : 1, (size_t)count);
    for (int i = 0; i < count; i++) {
        json_t *j = jobs ? json_array_get(jobs, (size_t)i) : v;
        /* Unplaced (null), or placed at once on an agent it may run on. */
        const char *at = json_string_value(json_object_get(j, "agent_id"));
        int a = -1;
        for (int k = 0; at && k < f->n_agents; k++)
            if (strcmp(at, f->agent_ids[k]) == 0)
                a = k;
        if (at && (a < 0 || !(allowed & (1u << a))))
            fail_msg("job %s placed at submit on %s, allowed mask %#x", fx_id(j), at, allowed);
        assert_true(at || json_is_null(json_object_get(j, "agent_id")));
        recs_add(r, fx_id(j), allowed);
    }
    json_decref(v);
}

/* A command experiment with capability_requirements req (taken). */
static void experiment_req(fx_t *f, const char *name, json_t *req, char id[32])
{
    json_t *spec = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:[s,s,s]}},s:{s:s,s:{}},s:{s:{}},s:o}",
                             "name", name, "model", "none", "task", "name", "sh", "type", "command",
                             "params", "argv", "sh", "-c", "true", "framework", "name", "sh",
                             "params", "metrics", "metrics", "capability_requirements", req);
    json_t *b = json_pack("{s:o}", "experiment_spec", spec);
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/experiments", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    snprintf(id, 32, "%s", json_string_value(json_object_get(v, "experiment_id")));
    json_decref(v);
}

static const char *job_agent(const json_t *job)
{
    return json_string_value(json_object_get(job, "agent_id"));
}

/* Agents 0, 1 "pool=a"; 2, 3 "pool=b", 3 also "lane=solo". Two long jobs
 * for lane=solo fill agent 3, a critical one for lane=solo waits behind
 * them: the best job in the queue, which no free agent can take. 2,000
 * jobs (pool=a, pool=b, any) submitted after it must still flow: half of
 * them completing is the condition for letting agent 3 go, so a waiting
 * pool that held up the others fails the test at the deadline. */
static void test_any_2000_on_labelled_agents_none_held_up(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    static const int slots[FX_AGENTS] = {2, 3, 3, 2};
    const char *const labels[FX_AGENTS][5] = {{"--label", "pool=a", NULL},
                                              {"--label", "pool=a", NULL},
                                              {"--label", "pool=b", NULL},
                                              {"--label", "pool=b", "--label", "lane=solo", NULL}};
    for (int i = 0; i < FX_AGENTS; i++)
        fx_agent_start(&f, i, slots[i], labels[i]);

    char release[600], hold_script[4096], wait[700], script[4096], hold[32], work[32];
    snprintf(release, sizeof release, "%s/release", f.dir);
    /* Bounded: it ends by itself after 120 s if the test never lets it go. */
    snprintf(wait, sizeof wait,
             "i=0; while [ ! -e %s ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done", release);
    logged(&f, wait, hold_script, sizeof hold_script);
    logged(&f, ":", script, sizeof script);
    fx_experiment(&f, "hold", hold_script, 0, hold);
    fx_experiment(&f, "work", script, 0, work);

    recs_t r = {0};
    const unsigned A = 0x3, B = 0xc, ALL = 0xf, SOLO = 0x8;
    submit_any(&f, &r, hold, 2, selector("lane", "solo"), NULL, SOLO);
    wait_count(&f, hold, "running", 2, JOB_WAIT_MS);
    submit_any(&f, &r, work, 1, selector("lane", "solo"), "critical", SOLO);
    char waiter[32];
    snprintf(waiter, sizeof waiter, "%s", r.v[2].id);

    enum { N_A = 700, N_B = 700, N_ANY = 600, N = N_A + N_B + N_ANY };
    double t0 = rk_test_now_ms();
    submit_any(&f, &r, work, N_A, selector("pool", "a"), NULL, A);
    submit_any(&f, &r, work, N_B, selector("pool", "b"), NULL, B);
    submit_any(&f, &r, work, N_ANY, NULL, NULL, ALL);
    double t_submit = rk_test_now_ms() - t0;

    /* Half the work done while agent 3 is full: the waiting critical job
     * held nothing up, and it still waits, unplaced. */
    wait_count(&f, work, "completed", N / 2, WAIT_MS);
    json_t *j = fx_get_job(&f, waiter);
    assert_string_equal(fx_state(j), "queued");
    assert_true(json_is_null(json_object_get(j, "agent_id")));
    json_decref(j);
    assert_int_equal(count_jobs(&f, hold, "running"), 2);

    assert_int_equal(rk_test_write_file(release, "", 0644), 0);
    j = fx_wait_job(&f, waiter, "completed", JOB_WAIT_MS);
    assert_string_equal(job_agent(j), f.agent_ids[3]);
    json_decref(j);
    wait_count(&f, work, "completed", N + 1, WAIT_MS);
    double t_all = rk_test_now_ms() - t0;
    wait_count(&f, hold, "completed", 2, JOB_WAIT_MS);
    assert_int_equal(
        count_jobs(&f, NULL, "queued,assigned,running,paused,failed,cancelled,timeout"), 0);

    /* The log: each job started and ended once, on an agent its selector
     * matches, and no agent ran more at once than its slots. */
    int peak[FX_AGENTS];
    assert_int_equal(read_log(&f, &r, peak), (int)r.n);
    int per_agent[FX_AGENTS] = {0};
    for (size_t i = 0; i < r.n; i++) {
        rec_t *x = &r.v[i];
        if (x->starts != 1 || x->ends != 1 || x->moved || x->agent < 0 ||
            !(x->allowed & (1u << x->agent)))
            fail_msg("job %s: %d starts, %d ends, on agent %d (allowed mask %#x)", x->id, x->starts,
                     x->ends, x->agent, x->allowed);
        per_agent[x->agent]++;
    }
    for (int i = 0; i < FX_AGENTS; i++) {
        if (peak[i] > slots[i])
            fail_msg("agent %d ran %d jobs at once with %d slots", i, peak[i], slots[i]);
        assert_true(per_agent[i] > 0);
    }
    /* The stored place of every job is the agent the log saw it run on. */
    long st;
    json_t *all = fx_call(&f, "GET", "/api/v1/jobs?limit=10000", NULL, &st);
    assert_int_equal(st, 200);
    json_t *groups = json_object_get(all, "jobs");
    assert_null(json_object_get(groups, "any"));
    const char *key;
    json_t *arr;
    size_t seen = 0;
    json_object_foreach(groups, key, arr)
    {
        int a = -1;
        for (int i = 0; i < FX_AGENTS; i++)
            if (strcmp(key, f.agent_ids[i]) == 0)
                a = i;
        assert_true(a >= 0);
        size_t k;
        json_t *job;
        json_array_foreach(arr, k, job)
        {
            rec_t *x = recs_find(&r, fx_id(job));
            assert_non_null(x);
            assert_int_equal(x->agent, a);
            assert_string_equal(fx_state(job), "completed");
            seen++;
        }
    }
    assert_int_equal(seen, r.n);
    json_decref(all);
    fprintf(stderr,
            "placement: %d jobs submitted in %.0f ms, all completed %.0f ms after the first; "
            "per agent %d/%d/%d/%d, peak %d/%d/%d/%d\n",
            N, t_submit, t_all, per_agent[0], per_agent[1], per_agent[2], per_agent[3], peak[0],
            peak[1], peak[2], peak[3]);
    free(r.v);
    fx_cleanup(&f);
}

/* An "any" job runs on A; B joins; A drained with a 1 s deadline: the job
 * is stopped on A (A reports it cancelled, its processes go), goes back to
 * the queue unplaced and completes on B. The script sleeps only on A, so
 * the run on B is quick. */
static void test_drain_moves_any_job_to_another_agent(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char middle[PATH_MAX + 64], script[PATH_MAX + 4096], exp[32];
    snprintf(middle, sizeof middle,
             "case $RUCKUS_OUTPUT_DIR in %s/*) sleep " DRAINED_SLEEP ";; esac", f.agents[0].data);
    logged(&f, middle, script, sizeof script);
    fx_experiment(&f, "moves", script, 0, exp);
    recs_t r = {0};
    submit_any(&f, &r, exp, 1, NULL, NULL, 0x3);
    const char *id = r.v[0].id;
    json_t *j = fx_wait_job(&f, id, "running", JOB_WAIT_MS);
    assert_string_equal(job_agent(j), f.agent_ids[0]);
    json_decref(j);
    fx_agent_start(&f, 1, 1, NULL);

    long st;
    json_t *b = json_pack("{s:i}", "deadline_s", 1);
    json_t *v = fx_callf(&f, "POST", &st, b, "/api/v1/agents/%s/drain", f.agent_ids[0]);
    json_decref(b);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(v, "scheduling")), "draining");
    json_decref(v);

    j = fx_wait_job(&f, id, "completed", JOB_WAIT_MS);
    assert_string_equal(job_agent(j), f.agent_ids[1]);
    /* History: running (on A), back to queued, running again (on B). */
    json_t *h = json_object_get(j, "history");
    int running_before = 0, requeued = 0, running_after = 0;
    for (size_t i = 0; i < json_array_size(h); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(h, i), "status"));
        if (!strcmp(s, "running"))
            *(requeued ? &running_after : &running_before) += 1;
        else if (!strcmp(s, "queued") && running_before)
            requeued++;
    }
    json_decref(j);
    assert_int_equal(running_before, 1);
    assert_int_equal(requeued, 1);
    assert_int_equal(running_after, 1);

    /* A was told to stop it: cancelled there, its processes gone. */
    char *on_a = rk_test_agent_wait(&f.agents[0], id, NULL, STOP_WAIT_MS);
    assert_non_null(on_a);
    assert_string_equal(on_a, "cancelled");
    free(on_a);
    rk_test_job_ref_t ref = {&f.agents[0], id};
    assert_true(rk_test_wait_until(rk_test_job_procs_gone, &ref, STOP_WAIT_MS));

    /* Started once on A (stopped there: no end), once on B to its end. */
    assert_int_equal(read_log(&f, &r, NULL), 2);
    assert_int_equal(r.v[0].starts, 2);
    assert_int_equal(r.v[0].ends, 1);
    assert_true(r.v[0].moved);
    char *text = rk_test_read_file(f.log, NULL);
    char want[PATH_MAX + 128];
    snprintf(want, sizeof want, "start %s %s/", id, f.agents[0].data);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "end %s %s/", id, f.agents[1].data);
    assert_non_null(strstr(text, want));
    free(text);
    free(r.v);
    fx_cleanup(&f);
}

/* 300 "any" jobs over four agents; the server is killed (-9) once some
 * have started and restarted on the same database: every job completes,
 * each started and ended exactly once. */
static void test_server_kill9_mid_any_work(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    for (int i = 0; i < FX_AGENTS; i++)
        fx_agent_start(&f, i, 2, NULL);
    char script[4096], exp[32];
    logged(&f, "sleep 0.1", script, sizeof script);
    fx_experiment(&f, "survives", script, 0, exp);
    enum { N = 300 };
    recs_t r = {0};
    submit_any(&f, &r, exp, N, NULL, NULL, 0xf);

    double end = rk_test_now_ms() + WAIT_MS;
    int started;
    while ((started = read_log(&f, &r, NULL)) < 40) {
        assert_true(rk_test_now_ms() < end);
        rk_test_sleep_ms(10);
    }
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    /* Killed mid-run: work was left to do (else the test proves nothing). */
    started = read_log(&f, &r, NULL);
    assert_true(started < N);
    fx_server_start(&f, "sqlite", NULL);
    wait_count(&f, exp, "completed", N, WAIT_MS);
    assert_int_equal(count_jobs(&f, exp, "queued,assigned,running,paused,failed,cancelled,timeout"),
                     0);
    int peak[FX_AGENTS];
    assert_int_equal(read_log(&f, &r, peak), N);
    for (size_t i = 0; i < r.n; i++)
        if (r.v[i].starts != 1 || r.v[i].ends != 1 || r.v[i].moved)
            fail_msg("job %s: %d starts, %d ends", r.v[i].id, r.v[i].starts, r.v[i].ends);
    for (int i = 0; i < FX_AGENTS; i++)
        assert_true(peak[i] <= 2);
    fprintf(stderr, "kill -9 after %d of %d jobs started\n", started, N);
    free(r.v);
    fx_cleanup(&f);
}

/* POST /jobs body {experiment_id, agent_selector?} answered 422 with
 * detail holding want (and want2 when not NULL). */
static void want_422(fx_t *f, const char *path, json_t *body, const char *want, const char *want2)
{
    long st;
    json_t *v = fx_call(f, "POST", path, body, &st);
    json_decref(body);
    assert_int_equal(st, 422);
    const char *d = json_string_value(json_object_get(v, "detail"));
    assert_non_null(d);
    if (!strstr(d, want) || (want2 && !strstr(d, want2)))
        fail_msg("detail \"%s\" lacks \"%s\" or \"%s\"", d, want, want2 ? want2 : "");
    json_decref(v);
}

/* Jobs no registered agent could ever run are refused at submit, with the
 * reason per agent, and nothing is stored. */
static void test_unplaceable_jobs_refused(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    char quick[32], huge[32];
    fx_experiment(&f, "quick", "true", 0, quick);
    experiment_req(&f, "huge", json_pack("{s:{s:i}}", "gpu_requirements", "min_gpu_count", 64),
                   huge);
    /* No agent at all. */
    want_422(&f, "/api/v1/jobs", json_pack("{s:s}", "experiment_id", quick),
             "no agent is registered", NULL);
    fx_agent_start(&f, 0, 1, (const char *const[]){"--label", "pool=a", NULL});
    fx_agent_start(&f, 1, 1, NULL);
    /* A job one agent runs, so there is something stored to keep. */
    recs_t r = {0};
    submit_any(&f, &r, quick, 1, selector("pool", "a"), NULL, 0x1);
    json_decref(fx_wait_job(&f, r.v[0].id, "completed", JOB_WAIT_MS));
    int64_t before = count_jobs(&f, NULL,
                                "queued,assigned,running,completed,failed,cancelled,"
                                "timeout,paused");
    assert_int_equal(before, 1);

    /* Labels no agent has: each agent named with its reason. */
    want_422(
        &f, "/api/v1/jobs",
        json_pack("{s:s,s:o}", "experiment_id", quick, "agent_selector", selector("pool", "zz")),
        "lacks the selector's labels", f.agent_ids[1]);
    want_422(&f, "/api/v1/jobs",
             json_pack("{s:s,s:s,s:i,s:o}", "experiment_id", quick, "agent_id", "any", "count", 50,
                       "agent_selector", selector("pool", "zz")),
             "lacks the selector's labels", f.agent_ids[0]);
    /* An experiment no agent can run, with or without a selector. */
    want_422(&f, "/api/v1/jobs", json_pack("{s:s}", "experiment_id", huge),
             "no registered agent can ever run", huge);
    want_422(&f, "/api/v1/jobs",
             json_pack("{s:s,s:o}", "experiment_id", huge, "agent_selector", selector("pool", "a")),
             "no registered agent can ever run", "GPUs");
    /* In a batch: the entry's index named, the good entry not stored. */
    want_422(&f, "/api/v1/jobs/batch",
             json_pack("{s:[{s:s},{s:s,s:o}]}", "jobs", "experiment_id", quick, "experiment_id",
                       quick, "agent_selector", selector("pool", "zz")),
             "jobs[1]", "lacks the selector's labels");

    assert_int_equal(count_jobs(&f, NULL,
                                "queued,assigned,running,completed,failed,cancelled,"
                                "timeout,paused"),
                     before);
    long st;
    json_t *v = fx_call(&f, "GET", "/api/v1/jobs?agent_id=any", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 0);
    json_decref(v);
    free(r.v);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_2000_on_labelled_agents_none_held_up),
        cmocka_unit_test(test_drain_moves_any_job_to_another_agent),
        cmocka_unit_test(test_server_kill9_mid_any_work),
        cmocka_unit_test(test_unplaceable_jobs_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
