/* Queue control in bulk against real processes (issue 11): POST
 * /jobs/batch stores 10,000 jobs in one request, or none when one entry is
 * bad (404/422 naming its index); POST /jobs with count makes a job array
 * in one request; DELETE /jobs with filters
 * cancels every matching unfinished job in one request, 5,000 queued jobs
 * within 2 s on the sqlite store, leaving none queued or running; bad
 * filters and counts are 422 naming the field, nothing stored or changed.
 */
#include "server_fixture.h"

static uint64_t total(fx_t *f, const char *query)
{
    long st;
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/jobs?limit=1&%s", query);
    assert_int_equal(st, 200);
    uint64_t n = (uint64_t)json_integer_value(json_object_get(v, "total"));
    json_decref(v);
    return n;
}

static void test_bulk_cancel_of_5000_queued_jobs(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char busy[32], exp[32];
    fx_experiment(&f, "busy", "sleep 30", 0, busy);
    fx_experiment(&f, "quick", "true", 0, exp);
    json_t *j = fx_job(&f, busy, 0, 201); /* holds the one slot */
    char busy_id[32];
    snprintf(busy_id, sizeof busy_id, "%s", fx_id(j));
    json_decref(j);

    /* One request, 5,000 copies, all queued behind the busy job. */
    const int n = 5000;
    json_t *b = json_pack("{s:s,s:s,s:i,s:s}", "experiment_id", exp, "agent_id", f.agent_ids[0],
                          "count", n, "priority", "low");
    long st;
    double t0 = rk_test_now_ms();
    json_t *v = fx_call(&f, "POST", "/api/v1/jobs", b, &st);
    double create_ms = rk_test_now_ms() - t0;
    json_decref(b);
    assert_int_equal(st, 201);
    assert_int_equal(json_array_size(json_object_get(v, "jobs")), n);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(v, "jobs"), 0), "priority")),
                        "low");
    json_decref(v);
    char q[200];
    snprintf(q, sizeof q, "experiment_id=%s&status=queued", exp);
    assert_int_equal(total(&f, q), (uint64_t)n);

    /* Bad filters and counts: 422 naming the field, nothing changed. */
    static const struct {
        const char *query, *field;
    } bad[] = {{"", "at least one filter"},
               {"priority=urgent", "priority"},
               {"status=sleeping", "status"},
               {"created_before=yesterday", "created_before"},
               {"all=yes", "all"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs?%s", bad[i].query);
        assert_int_equal(st, 422);
        assert_non_null(strstr(json_string_value(json_object_get(v, "detail")), bad[i].field));
        json_decref(v);
    }
    for (int c = 0; c < 2; c++) {
        b = json_pack("{s:s,s:s,s:i}", "experiment_id", exp, "agent_id", f.agent_ids[0], "count",
                      c ? 10001 : 0);
        v = fx_call(&f, "POST", "/api/v1/jobs", b, &st);
        assert_int_equal(st, 422);
        assert_non_null(strstr(json_string_value(json_object_get(v, "detail")), "count"));
        json_decref(v);
        json_decref(b);
    }
    assert_int_equal(total(&f, q), (uint64_t)n);

    /* An agent_id and a selector that contradicts it (the agent has no
     * labels), or a bad selector: 422 naming the field, nothing stored. */
    static const char *const sels[][2] = {
        {"{\"labels\":{\"gpu\":\"a100\"}}", "agent_selector: agent"},
        {"{\"labels\":{\"gpu\":7}}", "agent_selector.labels.gpu"},
        {"[]", "agent_selector: expected an object"}};
    for (size_t i = 0; i < 3; i++) {
        b = json_pack("{s:s,s:s,s:o}", "experiment_id", exp, "agent_id", f.agent_ids[0],
                      "agent_selector", json_loads(sels[i][0], 0, NULL));
        v = fx_call(&f, "POST", "/api/v1/jobs", b, &st);
        assert_int_equal(st, 422);
        assert_non_null(strstr(json_string_value(json_object_get(v, "detail")), sels[i][1]));
        json_decref(v);
        json_decref(b);
    }
    b = json_pack("{s:[{s:s,s:s},{s:s,s:s,s:{s:{s:s}}}]}", "jobs", "experiment_id", exp, "agent_id",
                  f.agent_ids[0], "experiment_id", exp, "agent_id", f.agent_ids[0],
                  "agent_selector", "labels", "zone", "x");
    v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
    assert_int_equal(st, 422);
    assert_non_null(
        strstr(json_string_value(json_object_get(v, "detail")), "jobs[1].agent_selector"));
    json_decref(v);
    json_decref(b);
    assert_int_equal(total(&f, q), (uint64_t)n);

    /* One DELETE: every queued job of the experiment, stored cancelled. */
    t0 = rk_test_now_ms();
    v = fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs?experiment_id=%s&status=queued", exp);
    double cancel_ms = rk_test_now_ms() - t0;
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "cancelled")), n);
    assert_int_equal(json_array_size(json_object_get(v, "job_ids")), n);
    json_decref(v);
    fprintf(stderr, "create of %d (count): %.0f ms; bulk cancel of %d queued: %.0f ms\n", n,
            create_ms, n, cancel_ms);
    assert_true(cancel_ms < 2000);
    snprintf(q, sizeof q, "experiment_id=%s&status=queued,assigned,running,paused", exp);
    assert_int_equal(total(&f, q), 0);
    snprintf(q, sizeof q, "experiment_id=%s&status=cancelled", exp);
    assert_int_equal(total(&f, q), (uint64_t)n);

    /* The busy job was not matched; all=true with force takes it. */
    json_t *bj = fx_get_job(&f, busy_id);
    assert_false(fx_terminal(fx_state(bj)));
    json_decref(bj);
    v = fx_call(&f, "DELETE", "/api/v1/jobs?all=true&force=true", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "cancelled")), 1);
    json_decref(v);
    bj = fx_wait_job(&f, busy_id, "cancelled", 20000);
    json_decref(bj);
    fx_cleanup(&f);
}

/* n entries for experiment exp on agent 0, entry bad_at (if < n) made bad
 * by setting field to value. */
static json_t *batch(fx_t *f, const char *exp, size_t n, size_t bad_at, const char *field,
                     const char *value)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_pack("{s:s,s:s,s:s}", "experiment_id", exp, "agent_id", f->agent_ids[0],
                              "priority", i % 2 ? "high" : "low");
        if (i == bad_at)
            json_object_set_new(e, field, json_string(value));
        json_array_append_new(arr, e);
    }
    return json_pack("{s:o}", "jobs", arr);
}

static void test_batch_of_10000_all_or_none(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char busy[32], exp[32];
    fx_experiment(&f, "busy", "sleep 30", 0, busy);
    fx_experiment(&f, "quick", "true", 0, exp);
    json_decref(fx_job(&f, busy, 0, 201)); /* holds the one slot */
    char q[200];
    snprintf(q, sizeof q, "experiment_id=%s", exp);

    /* One bad entry anywhere: its index named, nothing stored. */
    static const struct {
        size_t at;
        const char *field, *value, *detail;
        long status;
    } bad[] = {{3, "experiment_id", "exp_nope", "jobs[3].experiment_id", 404},
               {9999, "agent_id", "nobody", "jobs[9999].agent_id", 404},
               {5, "priority", "urgent", "jobs[5].priority", 422}};
    long st;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *b = batch(&f, exp, 10000, bad[i].at, bad[i].field, bad[i].value);
        json_t *v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
        assert_int_equal(st, bad[i].status);
        assert_non_null(strstr(json_string_value(json_object_get(v, "detail")), bad[i].detail));
        json_decref(v);
        json_decref(b);
        assert_int_equal(total(&f, q), 0);
    }
    json_t *b = batch(&f, exp, 10001, 10001, NULL, NULL);
    json_t *v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
    assert_int_equal(st, 422);
    json_decref(v);
    json_decref(b);

    /* 10,000 good entries: one request, all stored. */
    b = batch(&f, exp, 10000, 10000, NULL, NULL);
    double t0 = rk_test_now_ms();
    v = fx_call(&f, "POST", "/api/v1/jobs/batch", b, &st);
    fprintf(stderr, "batch of 10000: %.0f ms\n", rk_test_now_ms() - t0);
    json_decref(b);
    assert_int_equal(st, 201);
    json_t *jobs = json_object_get(v, "jobs");
    assert_int_equal(json_array_size(jobs), 10000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 1), "priority")),
                        "high");
    json_decref(v);
    assert_int_equal(total(&f, q), 10000);
    v = fx_call(&f, "DELETE", "/api/v1/jobs?all=true&force=true", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "cancelled")), 10001);
    json_decref(v);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bulk_cancel_of_5000_queued_jobs),
                                       cmocka_unit_test(test_batch_of_10000_all_or_none)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
