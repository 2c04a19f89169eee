/* server/job_page: a GET /results body written from stored texts is, byte
 * for byte, what encoding the decoded page with jansson gave (the route's
 * old way), with and without a next cursor, for an empty page too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/buf.h"
#include "model/result.h"
#include "server/job_page.h"

/* The body the route built before: results decoded, encoded again. */
static char *old_body(char *const *texts, size_t n, int64_t next)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_loads(texts[i], 0, NULL);
        rk_result_t r = {0};
        rk_verr_t e = {{0}};
        assert_int_equal(rk_result_decode(v, "", &r, &e), 0);
        json_decref(v);
        json_array_append_new(arr, rk_result_encode(&r));
        rk_result_cleanup(&r);
    }
    json_t *out = json_pack("{s:o}", "results", arr);
    if (next) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)next);
        json_object_set_new(out, "next_cursor", json_string(c));
    }
    char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(out);
    return s;
}

/* A stored text: what the store keeps, rk_result_encode compact. */
static char *stored(int i)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"job_id\":\"job_%08x\",\"experiment_id\":\"e%d\",\"agent_id\":\"a%d\","
             "\"status\":\"%s\",\"started_at\":\"2026-01-01T00:00:00Z\","
             "\"completed_at\":\"2026-01-01T00:00:02.5Z\",\"duration_seconds\":2.25,"
             "\"metrics\":{\"wall_time_s\":%d.5,\"name\":\"x\\ny\"},\"hardware_info\":{\"gpu\":"
             "\"\xc3\xa9\"},"
             "\"artifacts\":[\"out.txt\"],\"output\":{\"k\":[1,2,null]},"
             "\"error\":%s,\"extra_field\":{\"kept\":true}}",
             i, i % 3, i % 2, i % 2 ? "failed" : "completed", i, i % 2 ? "\"boom\"" : "null");
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    rk_result_t r = {0};
    rk_verr_t e = {{0}};
    if (rk_result_decode(v, "", &r, &e))
        fail_msg("fixture: %s", e.msg);
    json_decref(v);
    json_t *enc = rk_result_encode(&r);
    char *s = json_dumps(enc, JSON_COMPACT);
    json_decref(enc);
    rk_result_cleanup(&r);
    return s;
}

static void same_as_encoding(void **state)
{
    (void)state;
    char *texts[5];
    for (int i = 0; i < 5; i++)
        texts[i] = stored(i);
    const struct {
        size_t n;
        int64_t next;
    } cases[] = {{0, 0}, {1, 0}, {5, 0}, {5, 123456789012}, {2, 7}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rk_buf_t b;
        rk_buf_init(&b, 1 << 20);
        assert_int_equal(rk_srv_results_page(&b, texts, cases[c].n, cases[c].next), 0);
        char *want = old_body(texts, cases[c].n, cases[c].next);
        assert_string_equal(rk_buf_str(&b), want);
        free(want);
        rk_buf_cleanup(&b);
    }
    for (int i = 0; i < 5; i++)
        free(texts[i]);
}

/* The GET /jobs body the route built before: a jansson tree. */
static char *old_jobs_body(const rk_job_info_t *jobs, size_t n, uint64_t total, int64_t next)
{
    json_t *groups = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *key = jobs[i].agent_id ? jobs[i].agent_id : "any";
        json_t *arr = json_object_get(groups, key);
        if (!arr) {
            arr = json_array();
            json_object_set_new(groups, key, arr);
        }
        json_array_append_new(arr, rk_job_info_encode(&jobs[i]));
    }
    json_t *out = json_pack("{s:o,s:I}", "jobs", groups, "total", (json_int_t)total);
    if (next) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)next);
        json_object_set_new(out, "next_cursor", json_string(c));
    }
    char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(out);
    return s;
}

static void jobs_page_same_as_tree(void **state)
{
    (void)state;
    const char *agents[] = {"agent-2", NULL, "agent-1", "agent-2", NULL, "agent-\"q", "agent-1"};
    rk_job_info_t jobs[21];
    char ids[21][16];
    for (int i = 0; i < 21; i++) {
        snprintf(ids[i], sizeof ids[i], "job_%08x", 100 - i);
        jobs[i] = (rk_job_info_t){.job_id = ids[i],
                                  .experiment_id = "exp-1",
                                  .agent_id = (char *)agents[i % 7],
                                  .created_time = 1767225600000000LL + i,
                                  .priority = RK_PRIO_MEDIUM,
                                  .status = {.status = RK_JOB_COMPLETED,
                                             .timestamp = 1767225601000000LL + i,
                                             .message = "finished"}};
    }
    const struct {
        size_t n;
        uint64_t total;
        int64_t next;
    } cases[] = {{0, 0, 0}, {1, 1, 0}, {7, 21, 94}, {21, 1000000, 0}, {3, 5, 98}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rk_buf_t b;
        rk_buf_init(&b, 1 << 20);
        assert_int_equal(
            rk_srv_jobs_page(&b, jobs, cases[c].n, (int64_t)cases[c].total, cases[c].next), 0);
        char *want = old_jobs_body(jobs, cases[c].n, cases[c].total, cases[c].next);
        assert_string_equal(rk_buf_str(&b), want);
        free(want);
        rk_buf_cleanup(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_as_encoding),
        cmocka_unit_test(jobs_page_same_as_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
