/* GET /results and GET /jobs through the real server. GET /results, whose pages are now the stored
 * result texts spliced into the body: for every filter combination and
 * page size, paging through with the cursors gives, byte for byte, the
 * body the route built before (each result decoded from the store and
 * encoded again), valid JSON, newest first, every result once. GET /jobs,
 * now written as text instead of a jansson tree: the same bodies too. */
#include "server_fixture.h"

#include "model/result.h"
#include "store/store.h"

#define N_JOBS 23

static void put_result(rk_store_t *s, int i)
{
    char id[32], agent[16], exp[16], text[1024];
    snprintf(id, sizeof id, "job_%08x", i);
    snprintf(agent, sizeof agent, "agent-%d", i % 3);
    snprintf(exp, sizeof exp, "exp-%d", i % 2);
    rk_time_t now = rk_time_now_us();
    rk_job_info_t j = {.job_id = id,
                       .experiment_id = exp,
                       .agent_id = agent,
                       .created_time = now,
                       .status = {.status = i % 4 == 1 ? RK_JOB_FAILED : RK_JOB_COMPLETED,
                                  .timestamp = now,
                                  .message = (char *)"finished"}};
    int64_t seq;
    assert_int_equal(rk_store_job_insert(s, &j, &seq), 0);
    snprintf(text, sizeof text,
             "{\"job_id\":\"%s\",\"experiment_id\":\"%s\",\"agent_id\":\"%s\",\"status\":\"%s\","
             "\"started_at\":\"2026-01-01T00:00:00Z\",\"completed_at\":\"2026-01-01T00:00:02.5Z\","
             "\"duration_seconds\":%d.25,\"metrics\":{\"wall_time_s\":%d,\"note\":\"a\\\"b\\n\"},"
             "\"hardware_info\":{\"cpu\":\"caf\xc3\xa9\"},\"artifacts\":[\"out-%d.txt\"],"
             "\"output\":{\"lines\":[%d,null,true]},%s\"unknown_field\":{\"kept\":[1]}}",
             id, exp, agent, i % 4 == 1 ? "failed" : "completed", i, i, i, i,
             i % 4 == 1 ? "\"error\":\"boom\\tthere\",\"error_type\":\"RuntimeError\"," : "");
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("fixture: %s", je.text);
    rk_result_t r = {0};
    rk_verr_t e = {{0}};
    if (rk_result_decode(v, "", &r, &e))
        fail_msg("fixture: %s", e.msg);
    json_decref(v);
    assert_int_equal(rk_store_result_put(s, &r), 0);
    rk_result_cleanup(&r);
}

/* The body the route built before the splice, for one page. */
static char *old_body(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *p)
{
    rk_result_t *v;
    size_t n;
    assert_int_equal(rk_store_result_list(s, f, p, &v, &n), 0);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, rk_result_encode(&v[i]));
    rk_store_results_free(v, n);
    json_t *out = json_pack("{s:o}", "results", arr);
    if (p->next_cursor) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)p->next_cursor);
        json_object_set_new(out, "next_cursor", json_string(c));
    }
    char *text = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(out);
    return text;
}

static void results_pages_equal_old_encoding(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    rk_store_t *s;
    assert_int_equal(rk_store_open("sqlite", f.db, &s), 0);
    assert_int_equal(rk_store_begin(s), 0);
    for (int i = 0; i < N_JOBS; i++)
        put_result(s, i);
    assert_int_equal(rk_store_commit(s), 0);

    /* Every expected body first, from the store, then the server. */
    const struct {
        const char *agent, *exp;
    } keys[] = {
        {NULL, NULL}, {"agent-1", NULL}, {NULL, "exp-0"}, {"agent-2", "exp-1"}, {"agent-9", NULL}};
    const size_t limits[] = {1, 4, 1000};
    enum { N_CASES = 15, MAX_PAGES = N_JOBS + 2 };
    char *want[N_CASES][MAX_PAGES] = {{0}};
    int64_t cursors[N_CASES][MAX_PAGES] = {{0}};
    size_t pages[N_CASES] = {0};
    for (size_t k = 0; k < 5; k++)
        for (size_t l = 0; l < 3; l++) {
            size_t c = k * 3 + l;
            rk_result_filter_t rf = {.experiment_id = keys[k].exp, .agent_id = keys[k].agent};
            rk_page_t p = {.limit = limits[l]};
            do {
                assert_true(pages[c] < MAX_PAGES);
                p.cursor = p.next_cursor;
                cursors[c][pages[c]] = p.cursor;
                want[c][pages[c]++] = old_body(s, &rf, &p);
            } while (p.next_cursor);
        }
    rk_store_close(s);

    fx_server_start(&f, "sqlite", NULL);
    for (size_t k = 0; k < 5; k++)
        for (size_t l = 0; l < 3; l++) {
            size_t c = k * 3 + l, seen = 0;
            char cursor[32] = "";
            int64_t last_seq = INT64_MAX;
            for (size_t pg = 0; pg < pages[c]; pg++) {
                char path[256];
                int n = snprintf(path, sizeof path, "/api/v1/results?limit=%zu", limits[l]);
                if (keys[k].agent)
                    n += snprintf(path + n, sizeof path - (size_t)n, "&agent_id=%s", keys[k].agent);
                if (keys[k].exp)
                    n += snprintf(path + n, sizeof path - (size_t)n, "&experiment_id=%s",
                                  keys[k].exp);
                if (*cursor)
                    snprintf(path + n, sizeof path - (size_t)n, "&cursor=%s", cursor);
                rk_test_resp_t r = {0};
                assert_int_equal(rk_test_req(&f.srv, "GET", path, NULL, f.token, &r), 0);
                assert_int_equal(r.status, 200);
                assert_non_null(r.json); /* valid JSON */
                assert_string_equal(r.body, want[c][pg]);
                json_t *arr = json_object_get(r.json, "results");
                assert_true(json_is_array(arr));
                size_t i;
                json_t *it;
                json_array_foreach(arr, i, it)
                {
                    const char *id = json_string_value(json_object_get(it, "job_id"));
                    assert_non_null(id);
                    int64_t seq = strtoll(id + 4, NULL, 16) + 1;
                    assert_true(seq < last_seq); /* newest first, each once */
                    last_seq = seq;
                    assert_non_null(json_object_get(it, "unknown_field"));
                    if (keys[k].agent)
                        assert_string_equal(json_string_value(json_object_get(it, "agent_id")),
                                            keys[k].agent);
                    seen++;
                }
                const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
                if (pg + 1 < pages[c]) {
                    assert_non_null(next);
                    assert_true(strtoll(next, NULL, 10) == cursors[c][pg + 1]);
                    snprintf(cursor, sizeof cursor, "%s", next);
                } else {
                    assert_null(next);
                }
                rk_test_resp_cleanup(&r);
                free(want[c][pg]);
            }
            size_t expect = 0;
            for (int j = 0; j < N_JOBS; j++)
                if ((!keys[k].agent || (keys[k].agent[6] - '0') == j % 3) &&
                    (!keys[k].exp || (keys[k].exp[4] - '0') == j % 2))
                    expect++;
            if (keys[k].agent && strcmp(keys[k].agent, "agent-9") == 0)
                expect = 0;
            assert_int_equal(seen, expect);
        }
    fx_cleanup(&f);
}

/* The GET /jobs body the route built before (a jansson tree). */
static char *old_jobs_body(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *p)
{
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(s, f, p, &v, &n), 0);
    json_t *groups = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *key = v[i].agent_id ? v[i].agent_id : "any";
        json_t *arr = json_object_get(groups, key);
        if (!arr) {
            arr = json_array();
            json_object_set_new(groups, key, arr);
        }
        json_array_append_new(arr, rk_job_info_encode(&v[i]));
    }
    rk_store_jobs_free(v, n);
    json_t *out = json_pack("{s:o,s:I}", "jobs", groups, "total", (json_int_t)p->total);
    if (p->next_cursor) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)p->next_cursor);
        json_object_set_new(out, "next_cursor", json_string(c));
    }
    char *text = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(out);
    return text;
}

/* GET /jobs, now written as text: the same bodies as the jansson tree. */
static void jobs_pages_equal_old_encoding(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    rk_store_t *s;
    assert_int_equal(rk_store_open("sqlite", f.db, &s), 0);
    assert_int_equal(rk_store_begin(s), 0);
    for (int i = 0; i < N_JOBS; i++)
        put_result(s, i);
    assert_int_equal(rk_store_commit(s), 0);
    const struct {
        const char *status, *agent, *exp;
        unsigned mask;
    } keys[] = {
        {NULL, NULL, NULL, 0},
        {"failed", NULL, NULL, 1u << RK_JOB_FAILED},
        {NULL, "agent-1", "exp-0", 0},
        {"completed,failed", "agent-2", NULL, (1u << RK_JOB_COMPLETED) | (1u << RK_JOB_FAILED)},
        {"queued", NULL, NULL, 1u << RK_JOB_QUEUED}};
    enum { N_K = sizeof keys / sizeof keys[0], MAX_PAGES = N_JOBS + 2 };
    char *want[N_K][MAX_PAGES] = {{0}};
    size_t pages[N_K] = {0};
    for (size_t k = 0; k < N_K; k++) {
        rk_job_filter_t jf = {keys[k].mask, keys[k].agent, keys[k].exp};
        rk_page_t p = {.limit = 5};
        do {
            p.cursor = p.next_cursor;
            want[k][pages[k]++] = old_jobs_body(s, &jf, &p);
        } while (p.next_cursor);
    }
    rk_store_close(s);
    fx_server_start(&f, "sqlite", NULL);
    for (size_t k = 0; k < N_K; k++) {
        char cursor[32] = "";
        for (size_t pg = 0; pg < pages[k]; pg++) {
            char path[256];
            int n = snprintf(path, sizeof path, "/api/v1/jobs?limit=5");
            if (keys[k].status)
                n += snprintf(path + n, sizeof path - (size_t)n, "&status=%s", keys[k].status);
            if (keys[k].agent)
                n += snprintf(path + n, sizeof path - (size_t)n, "&agent_id=%s", keys[k].agent);
            if (keys[k].exp)
                n += snprintf(path + n, sizeof path - (size_t)n, "&experiment_id=%s", keys[k].exp);
            if (*cursor)
                snprintf(path + n, sizeof path - (size_t)n, "&cursor=%s", cursor);
            rk_test_resp_t r = {0};
            assert_int_equal(rk_test_req(&f.srv, "GET", path, NULL, f.token, &r), 0);
            assert_int_equal(r.status, 200);
            assert_non_null(r.json);
            assert_string_equal(r.body, want[k][pg]);
            const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
            assert_true((next != NULL) == (pg + 1 < pages[k]));
            if (next)
                snprintf(cursor, sizeof cursor, "%s", next);
            rk_test_resp_cleanup(&r);
            free(want[k][pg]);
        }
    }
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(results_pages_equal_old_encoding),
        cmocka_unit_test(jobs_pages_equal_old_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
