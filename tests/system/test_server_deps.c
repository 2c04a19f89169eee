/* Job dependencies against real processes (issue 12): depends_on with
 * afterok / afterany on POST /jobs and batch entries (depends_on_index).
 * A chain A -> B -> C where B fails cancels C naming B under afterok and
 * runs it under afterany, B never starting before A ended; a diamond of
 * 100 jobs in one batch on two agents runs every job only after all its
 * dependencies completed; a kill -9 of the server while B waits for a
 * running A still runs B once, after A; bad input (self, cycle, index out
 * of range, unknown id, bad dependency) is a precise 4xx with nothing
 * stored; a chain of 10,000 in one batch is stored and cancelled down its
 * length in linear time (the times are printed).
 */
#include "server_fixture.h"

#include "base/time.h"

static uint64_t jobs_total(fx_t *f)
{
    long st;
    json_t *v = fx_call(f, "GET", "/api/v1/jobs?limit=1", NULL, &st);
    assert_int_equal(st, 200);
    uint64_t n = (uint64_t)json_integer_value(json_object_get(v, "total"));
    json_decref(v);
    return n;
}

/* POST /jobs of exp on agent 0 after the jobs `after` (NULL-terminated)
 * with dependency how (NULL: the default); asserts want, returns the id. */
static void submit_after(fx_t *f, const char *exp, const char *const *after, const char *how,
                         long want, char id[32])
{
    json_t *b = json_pack("{s:s,s:s}", "experiment_id", exp, "agent_id", f->agent_ids[0]);
    if (after) {
        json_t *on = json_array();
        for (size_t i = 0; after[i]; i++)
            json_array_append_new(on, json_string(after[i]));
        json_object_set_new(b, "depends_on", on);
    }
    if (how)
        json_object_set_new(b, "dependency", json_string(how));
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/jobs", b, &st);
    json_decref(b);
    if (st != want)
        fprintf(stderr, "POST /jobs: %ld %s\n", st,
                json_string_value(json_object_get(v, "detail")));
    assert_int_equal(st, want);
    snprintf(id, 32, "%s", want == 201 ? fx_id(v) : "");
    json_decref(v);
}

/* The timestamp (RFC 3339, fixed width: compares as a string) of the
 * first history entry of job j in state, or NULL. */
static const char *history_at(const json_t *j, const char *state)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(j, "history"), i, h)
    {
        if (strcmp(json_string_value(json_object_get(h, "status")), state) == 0)
            return json_string_value(json_object_get(h, "timestamp"));
    }
    return NULL;
}

/* A -> B -> C, B runs `false`: afterok cancels C naming B; afterany runs
 * C. B is assigned only after A completed, C only after B ended. */
static void chain(const char *how)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL); /* two slots: only the order holds B back */
    char ok[32], bad[32], a[32], b[32], c[32];
    fx_experiment(&f, "ok", "sleep 0.5", 0, ok);
    fx_experiment(&f, "bad", "sleep 0.2; false", 0, bad);
    submit_after(&f, ok, NULL, NULL, 201, a);
    submit_after(&f, bad, (const char *const[]){a, NULL}, how, 201, b);
    submit_after(&f, ok, (const char *const[]){b, NULL}, how, 201, c);

    json_t *jc = fx_wait_job(&f, c, NULL, 30000);
    json_t *ja = fx_get_job(&f, a), *jb = fx_get_job(&f, b);
    assert_string_equal(fx_state(ja), "completed");
    assert_string_equal(fx_state(jb), "failed");
    /* B was assigned only after A completed. */
    const char *a_end = history_at(ja, "completed"), *b_sent = history_at(jb, "assigned");
    assert_non_null(a_end);
    assert_non_null(b_sent);
    assert_true(strcmp(b_sent, a_end) >= 0);
    if (!how || strcmp(how, "afterok") == 0) {
        assert_string_equal(fx_state(jc), "cancelled");
        const char *msg =
            json_string_value(json_object_get(json_object_get(jc, "status"), "message"));
        assert_non_null(strstr(msg, b)); /* names B */
        assert_non_null(strstr(msg, "failed"));
        assert_null(history_at(jc, "assigned")); /* never sent */
    } else {
        assert_string_equal(fx_state(jc), "completed");
        const char *b_end = history_at(jb, "failed"), *c_sent = history_at(jc, "assigned");
        assert_non_null(c_sent);
        assert_true(strcmp(c_sent, b_end) >= 0);
    }
    assert_string_equal(json_string_value(json_object_get(jc, "dependency")),
                        how ? how : "afterok");
    json_decref(ja);
    json_decref(jb);
    json_decref(jc);
    fx_cleanup(&f);
}

static void test_chain_afterok_b_fails_c_cancelled_naming_b(void **state)
{
    (void)state;
    chain(NULL);
}

static void test_chain_afterany_c_runs(void **state)
{
    (void)state;
    chain("afterany");
}

/* A job queued behind a running one says what it waits for; cancelled
 * while waiting, it never runs, and its own dependent is cancelled naming
 * it. */
static void test_waiting_job_shows_waiting_for_and_cancels(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    char slow[32], quick[32], a[32], b[32], c[32];
    fx_experiment(&f, "slow", "sleep 30", 0, slow);
    fx_experiment(&f, "quick", "true", 0, quick);
    submit_after(&f, slow, NULL, NULL, 201, a);
    submit_after(&f, quick, (const char *const[]){a, NULL}, NULL, 201, b);
    submit_after(&f, quick, (const char *const[]){b, NULL}, NULL, 201, c);
    json_t *jb = fx_get_job(&f, b);
    assert_string_equal(fx_state(jb), "queued");
    json_t *wf = json_object_get(jb, "waiting_for");
    assert_int_equal(json_array_size(wf), 1);
    assert_string_equal(json_string_value(json_array_get(wf, 0)), a);
    json_decref(jb);
    rk_test_sleep_ms(500); /* a free slot: still not sent */
    jb = fx_get_job(&f, b);
    assert_string_equal(fx_state(jb), "queued");
    json_decref(jb);
    long st;
    json_decref(fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs/%s", b));
    assert_int_equal(st, 200);
    json_t *jc = fx_wait_job(&f, c, "cancelled", 10000);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(jc, "status"), "message")), b));
    json_decref(jc);
    jb = fx_get_job(&f, b);
    assert_null(history_at(jb, "assigned"));
    json_decref(jb);
    /* POST /experiments/{id}/run takes depends_on as POST /jobs does: its
     * job waits for a (an unknown id: 404, nothing stored). */
    uint64_t before = jobs_total(&f);
    json_t *rb = json_pack("{s:[s]}", "depends_on", "job_00000000");
    json_decref(fx_callf(&f, "POST", &st, rb, "/api/v1/experiments/%s/run", quick));
    json_decref(rb);
    assert_int_equal(st, 404);
    assert_int_equal(jobs_total(&f), before);
    rb = json_pack("{s:[s]}", "depends_on", a);
    json_t *rv = fx_callf(&f, "POST", &st, rb, "/api/v1/experiments/%s/run", quick);
    json_decref(rb);
    assert_int_equal(st, 201);
    char r[32];
    snprintf(r, sizeof r, "%s", fx_id(json_array_get(json_object_get(rv, "jobs"), 0)));
    json_decref(rv);
    json_t *jr = fx_get_job(&f, r);
    assert_string_equal(fx_state(jr), "queued");
    assert_string_equal(json_string_value(json_array_get(json_object_get(jr, "waiting_for"), 0)),
                        a);
    json_decref(jr);
    /* A dependency that already failed: afterok cancels at once. */
    json_decref(fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs/%s?force=true", a));
    json_decref(fx_wait_job(&f, a, "cancelled", 10000));
    jr = fx_wait_job(&f, r, "cancelled", 10000);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(jr, "status"), "message")), a));
    json_decref(jr);
    char d[32];
    submit_after(&f, quick, (const char *const[]){a, NULL}, NULL, 201, d);
    json_decref(fx_wait_job(&f, d, "cancelled", 5000));
    submit_after(&f, quick, (const char *const[]){a, NULL}, "afterany", 201, d);
    json_decref(fx_wait_job(&f, d, "completed", 10000));
    fx_cleanup(&f);
}

/* With retries and start times (the rest of issue 12): a dependency that
 * fails once and is retried does not cancel its afterok dependent, which
 * runs after the retry completed; a dependent with a not_before waits for
 * both. */
static void test_dependency_retried_and_not_before(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    char flaky[32], quick[32], script[1200];
    snprintf(script, sizeof script, "if [ -f %s/once ]; then exit 0; fi; touch %s/once; exit 1",
             f.dir, f.dir);
    fx_experiment(&f, "flaky", script, 0, flaky);
    fx_experiment(&f, "quick", "true", 0, quick);
    json_t *b = json_pack("{s:s,s:s,s:{s:i,s:i}}", "experiment_id", flaky, "agent_id",
                          f.agent_ids[0], "retry", "max_attempts", 2, "backoff_s", 1);
    long st;
    json_t *v = fx_call(&f, "POST", "/api/v1/jobs", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    char a[32], c[32];
    snprintf(a, sizeof a, "%s", fx_id(v));
    json_decref(v);
    char nb[RK_TIME_STRLEN];
    rk_time_format(rk_time_now_us() + 4000000, nb); /* later than A's retry */
    b = json_pack("{s:s,s:s,s:[s],s:s}", "experiment_id", quick, "agent_id", f.agent_ids[0],
                  "depends_on", a, "not_before", nb);
    v = fx_call(&f, "POST", "/api/v1/jobs", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    snprintf(c, sizeof c, "%s", fx_id(v));
    json_decref(v);
    json_t *jc = fx_wait_job(&f, c, NULL, 30000);
    json_t *ja = fx_get_job(&f, a);
    assert_string_equal(fx_state(ja), "completed");
    assert_int_equal(json_integer_value(json_object_get(ja, "attempt")), 2);
    assert_string_equal(fx_state(jc), "completed");
    assert_int_equal(json_array_size(json_object_get(jc, "waiting_for")), 0);
    const char *sent = history_at(jc, "assigned");
    assert_true(strcmp(sent, history_at(ja, "completed")) >= 0);
    assert_true(strcmp(sent, nb) >= 0);
    json_decref(ja);
    json_decref(jc);
    fx_cleanup(&f);
}

/* A diamond of 100 in one batch: node 0, 49 nodes after it, 49 after two
 * of those each, one after all 49. Entries are shuffled so some name later
 * entries. Two agents of two slots each. */
static void test_diamond_of_100_in_one_batch(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    fx_agent_start(&f, 1, 2, NULL);
    char exp[32];
    fx_experiment(&f, "step", "sleep 0.05", 0, exp);
    enum { N = 100 };
    int entry_of[N], node_of[N];
    for (int e = 0; e < N; e++) { /* a permutation: 37 is prime to 100 */
        node_of[e] = (e * 37) % N;
        entry_of[node_of[e]] = e;
    }
    json_t *deps[N]; /* per node: nodes it depends on */
    for (int v = 0; v < N; v++) {
        deps[v] = json_array();
        if (v >= 1 && v <= 49)
            json_array_append_new(deps[v], json_integer(0));
        else if (v >= 50 && v <= 98) {
            json_array_append_new(deps[v], json_integer(v - 49));
            json_array_append_new(deps[v], json_integer((v - 49) % 49 + 1));
        } else if (v == 99)
            for (int k = 50; k <= 98; k++)
                json_array_append_new(deps[v], json_integer(k));
    }
    json_t *arr = json_array();
    for (int e = 0; e < N; e++) {
        json_t *idx = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(deps[node_of[e]], i, d)
            json_array_append_new(idx, json_integer(entry_of[json_integer_value(d)]));
        if (node_of[e] == 99) /* named twice: counted once */
            json_array_append_new(idx, json_integer(entry_of[50]));
        json_t *entry = json_pack("{s:s,s:o}", "experiment_id", exp, "depends_on_index", idx);
        if (e % 2)
            json_object_set_new(entry, "agent_id", json_string(f.agent_ids[e % 4 == 1]));
        json_array_append_new(arr, entry);
    }
    json_t *b = json_pack("{s:o}", "jobs", arr);
    long st;
    json_t *v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
    json_decref(b);
    if (st != 201)
        fprintf(stderr, "%s\n", json_string_value(json_object_get(v, "detail")));
    assert_int_equal(st, 201);
    char ids[N][32]; /* by node */
    for (int e = 0; e < N; e++) {
        json_t *j = json_array_get(json_object_get(v, "jobs"), (size_t)e);
        snprintf(ids[node_of[e]], 32, "%s", fx_id(j));
        /* Only the root is free to run at once. */
        if (node_of[e] != 0)
            assert_int_equal(json_array_size(json_object_get(j, "depends_on")),
                             json_array_size(deps[node_of[e]]));
    }
    json_decref(v);
    json_t *jobs[N];
    for (int n = 0; n < N; n++)
        jobs[n] = fx_wait_job(&f, ids[n], NULL, 120000);
    for (int n = 0; n < N; n++) {
        assert_string_equal(fx_state(jobs[n]), "completed");
        const char *sent = history_at(jobs[n], "assigned");
        assert_non_null(sent);
        size_t i;
        json_t *d;
        json_array_foreach(deps[n], i, d)
        {
            const char *done = history_at(jobs[json_integer_value(d)], "completed");
            assert_non_null(done);
            if (strcmp(sent, done) < 0)
                fprintf(stderr, "node %d sent %s before node %d completed %s\n", n, sent,
                        (int)json_integer_value(d), done);
            assert_true(strcmp(sent, done) >= 0);
        }
    }
    for (int n = 0; n < N; n++) {
        json_decref(jobs[n]);
        json_decref(deps[n]);
    }
    fx_cleanup(&f);
}

/* kill -9 of the server while B waits for a running A; after the restart
 * B still runs once, after A completed. */
static void test_server_kill9_while_waiting(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    char script[4096], exp[32], a[32], b[32];
    fx_logged_script(&f, "2", "", script, sizeof script);
    fx_experiment(&f, "logged", script, 0, exp);
    submit_after(&f, exp, NULL, NULL, 201, a);
    submit_after(&f, exp, (const char *const[]){a, NULL}, NULL, 201, b);
    double end = rk_test_now_ms() + 10000;
    for (;;) { /* A is running */
        json_t *ja = fx_get_job(&f, a);
        bool running = strcmp(fx_state(ja), "running") == 0;
        json_decref(ja);
        if (running)
            break;
        assert_true(rk_test_now_ms() < end);
        rk_test_sleep_ms(20);
    }
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    fx_server_start(&f, "sqlite", NULL);
    json_t *jb = fx_wait_job(&f, b, NULL, 30000);
    json_t *ja = fx_get_job(&f, a);
    assert_string_equal(fx_state(ja), "completed");
    assert_string_equal(fx_state(jb), "completed");
    assert_true(strcmp(history_at(jb, "assigned"), history_at(ja, "completed")) >= 0);
    json_decref(ja);
    json_decref(jb);
    /* In the workload log: A ended before B started, each ran once. */
    const char *idp[2] = {a, b};
    int starts[2];
    fx_log_check(&f, 1, idp, 2, starts);
    assert_int_equal(starts[0], 1);
    assert_int_equal(starts[1], 1);
    fx_cleanup(&f);
}

/* Bad input: a precise 4xx, and nothing stored. */
static void test_bad_input_stores_nothing(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32], a[32];
    fx_experiment(&f, "quick", "true", 0, exp);
    submit_after(&f, exp, NULL, NULL, 201, a);
    uint64_t before = jobs_total(&f);
    static const struct {
        const char *batch; /* depends_on_index of entries 0, 1, 2 as JSON */
        long status;
        const char *detail;
    } rows[] = {
        {"[[0], [], []]", 422, "jobs[0].depends_on_index[0]: entry 0 cannot depend on itself"},
        {"[[], [2], [1]]", 422, "cycle"},
        {"[[1], [2], [0]]", 422, "jobs[0] -> jobs[1] -> jobs[2] -> jobs[0]"},
        {"[[], [3], []]", 422, "jobs[1].depends_on_index[0]"},
        {"[[], [-1], []]", 422, "expected the index of another entry, 0 to 2"},
        {"[[], [\"0\"], []]", 422, "jobs[1].depends_on_index[0]"},
        {"[[], 1, []]", 422, "jobs[1].depends_on_index"},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        json_t *idx = json_loads(rows[r].batch, 0, NULL);
        assert_non_null(idx);
        json_t *arr = json_array();
        for (size_t e = 0; e < 3; e++)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:O}", "experiment_id", exp, "agent_id",
                                                 f.agent_ids[0], "depends_on_index",
                                                 json_array_get(idx, e)));
        json_decref(idx);
        json_t *b = json_pack("{s:o}", "jobs", arr);
        long st;
        json_t *v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
        json_decref(b);
        const char *d = json_string_value(json_object_get(v, "detail"));
        if (st != rows[r].status || !d || !strstr(d, rows[r].detail))
            fprintf(stderr, "row %zu: %ld %s\n", r, st, d ? d : "(no detail)");
        assert_int_equal(st, rows[r].status);
        assert_non_null(strstr(d, rows[r].detail));
        json_decref(v);
    }
    /* POST /jobs: unknown id (404 naming it), bad dependency, an index. */
    static const struct {
        const char *body_tail;
        long status;
        const char *detail;
    } one[] = {
        {"\"depends_on\": [\"job_00000000\"]", 404, "depends_on[0]: job job_00000000 not found"},
        {"\"depends_on\": [\"@\", \"job_0000000f\"]", 404, "depends_on[1]: job job_0000000f"},
        {"\"depends_on\": [\"@\"], \"dependency\": \"afterwards\"", 422,
         "dependency: expected afterok or afterany"},
        {"\"depends_on\": \"@\"", 422, "depends_on: expected an array"},
        {"\"depends_on\": [\"bad id!\"]", 422, "depends_on[0]: expected a job id"},
        {"\"depends_on_index\": [0]", 422, "depends_on_index: only in an entry"},
    };
    for (size_t r = 0; r < sizeof one / sizeof one[0]; r++) {
        char tail[256], text[512];
        /* "@" stands for the existing job's id */
        const char *at = strchr(one[r].body_tail, '@');
        if (at)
            snprintf(tail, sizeof tail, "%.*s%s%s", (int)(at - one[r].body_tail), one[r].body_tail,
                     a, at + 1);
        else
            snprintf(tail, sizeof tail, "%s", one[r].body_tail);
        snprintf(text, sizeof text, "{\"experiment_id\": \"%s\", \"agent_id\": \"%s\", %s}", exp,
                 f.agent_ids[0], tail);
        json_t *b = json_loads(text, 0, NULL);
        assert_non_null(b);
        long st;
        json_t *v = fx_call(&f, "POST", "/api/v1/jobs", b, &st);
        json_decref(b);
        const char *d = json_string_value(json_object_get(v, "detail"));
        if (st != one[r].status || !d || !strstr(d, one[r].detail))
            fprintf(stderr, "row %zu: %ld %s\n", r, st, d ? d : "(no detail)");
        assert_int_equal(st, one[r].status);
        assert_non_null(strstr(d, one[r].detail));
        json_decref(v);
    }
    /* A batch entry naming an unknown job: 404 naming the entry. */
    json_t *b =
        json_pack("{s:[{s:s,s:[s]}]}", "jobs", "experiment_id", exp, "depends_on", "job_0000abcd");
    long st;
    json_t *v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
    json_decref(b);
    assert_int_equal(st, 404);
    assert_non_null(
        strstr(json_string_value(json_object_get(v, "detail")), "jobs[0].depends_on[0]"));
    json_decref(v);
    assert_int_equal(jobs_total(&f), before);
    fx_cleanup(&f);
}

/* A chain of n in one batch behind a running root: the submit, and the
 * cancel of the root cascading down all n; returns both times (ms). */
static void chain_cancel(fx_t *f, const char *slow, const char *quick, int n, double *submit_ms,
                         double *cascade_ms)
{
    char root[32];
    submit_after(f, slow, NULL, NULL, 201, root);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *e = json_pack("{s:s,s:s}", "experiment_id", quick, "agent_id", f->agent_ids[0]);
        if (i == 0)
            json_object_set_new(e, "depends_on", json_pack("[s]", root));
        else
            json_object_set_new(e, "depends_on_index", json_pack("[i]", i - 1));
        json_array_append_new(arr, e);
    }
    json_t *b = json_pack("{s:o}", "jobs", arr);
    long st;
    double t0 = rk_test_now_ms();
    json_t *v = fx_call(f, "POST", "/api/v1/jobs/batch", b, &st);
    *submit_ms = rk_test_now_ms() - t0;
    json_decref(b);
    assert_int_equal(st, 201);
    char last[32];
    snprintf(last, sizeof last, "%s",
             fx_id(json_array_get(json_object_get(v, "jobs"), (size_t)n - 1)));
    json_decref(v);
    t0 = rk_test_now_ms();
    json_decref(fx_callf(f, "DELETE", &st, NULL, "/api/v1/jobs/%s?force=true", root));
    json_decref(fx_wait_job(f, last, "cancelled", 120000));
    *cascade_ms = rk_test_now_ms() - t0;
}

static void test_chain_of_10000_resolves_linearly(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    char slow[32], quick[32];
    fx_experiment(&f, "slow", "sleep 60", 0, slow);
    fx_experiment(&f, "quick", "true", 0, quick);
    double s1, c1, s10, c10;
    chain_cancel(&f, slow, quick, 1000, &s1, &c1);
    chain_cancel(&f, slow, quick, 10000, &s10, &c10);
    fprintf(stderr,
            "chain of 1,000: submit %.0f ms, cancel cascade %.0f ms; chain of 10,000: submit "
            "%.0f ms, cancel cascade %.0f ms\n",
            s1, c1, s10, c10);
    /* Linear-ish: ten times the chain, well under a hundred times the
     * time (a floor absorbs the noise of small numbers). */
    assert_true(s10 < 30 * (s1 > 50 ? s1 : 50));
    assert_true(c10 < 30 * (c1 > 50 ? c1 : 50));
    assert_true(c10 < 60000);

    /* A fan-in: one afterany job after 9,999 queued ones (behind a busy
     * slot), all cancelled by one DELETE: the fan-in job runs, its
     * waiting_for written once for the batch of ends. */
    enum { FAN = 9999 };
    char root[32];
    submit_after(&f, slow, NULL, NULL, 201, root); /* holds a slot */
    submit_after(&f, slow, NULL, NULL, 201, root); /* and the other */
    json_t *arr = json_array(), *idx = json_array();
    for (int i = 0; i < FAN; i++) {
        json_array_append_new(
            arr, json_pack("{s:s,s:s}", "experiment_id", quick, "agent_id", f.agent_ids[0]));
        json_array_append_new(idx, json_integer(i));
    }
    json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:s}", "experiment_id", slow, "agent_id",
                                         f.agent_ids[0], "depends_on_index", idx, "dependency",
                                         "afterany"));
    json_t *b = json_pack("{s:o}", "jobs", arr);
    long st;
    double t0 = rk_test_now_ms();
    json_t *v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
    double fan_submit = rk_test_now_ms() - t0;
    json_decref(b);
    assert_int_equal(st, 201);
    char z[32];
    snprintf(z, sizeof z, "%s", fx_id(json_array_get(json_object_get(v, "jobs"), FAN)));
    json_decref(v);
    json_t *jz = fx_get_job(&f, z);
    assert_int_equal(json_array_size(json_object_get(jz, "waiting_for")), FAN);
    json_decref(jz);
    char path[200];
    snprintf(path, sizeof path, "/api/v1/jobs?experiment_id=%s&status=queued", quick);
    t0 = rk_test_now_ms();
    json_decref(fx_call(&f, "DELETE", path, NULL, &st));
    assert_int_equal(st, 200);
    jz = fx_wait_job(&f, z, "queued", 1000); /* still queued: its slot is busy */
    double fan_cancel = rk_test_now_ms() - t0;
    assert_int_equal(json_array_size(json_object_get(jz, "waiting_for")), 0);
    json_decref(jz);
    fprintf(stderr, "fan-in of %d: submit %.0f ms, all ended and judged %.0f ms\n", FAN, fan_submit,
            fan_cancel);
    assert_true(fan_cancel < 30000);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_afterok_b_fails_c_cancelled_naming_b),
        cmocka_unit_test(test_chain_afterany_c_runs),
        cmocka_unit_test(test_waiting_job_shows_waiting_for_and_cancels),
        cmocka_unit_test(test_dependency_retried_and_not_before),
        cmocka_unit_test(test_diamond_of_100_in_one_batch),
        cmocka_unit_test(test_server_kill9_while_waiting),
        cmocka_unit_test(test_bad_input_stores_nothing),
        cmocka_unit_test(test_chain_of_10000_resolves_linearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
