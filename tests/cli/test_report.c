/* Result export (rows, CSV) and the comparison across agents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "cli/report.h"

static json_t *result(const char *job, const char *agent, const char *status, const char *metrics)
{
    char text[2048];
    snprintf(
        text, sizeof text,
        "{\"job_id\":\"%s\",\"experiment_id\":\"exp_abcdef\",\"agent_id\":\"%s\",\"status\":\"%s\","
        "\"started_at\":\"2026-11-23T13:00:00Z\",\"completed_at\":\"2026-11-23T13:00:02.5Z\","
        "\"duration_seconds\":2.5,\"metrics\":%s,\"hardware_info\":{\"cpu\":{\"model\":\"HW-%s\"}},"
        "\"artifacts\":[]}",
        job, agent, status, metrics, agent);
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);
    assert_non_null(v);
    return v;
}

static void test_export_csv(void **state)
{
    json_t *results = json_array();
    json_array_append_new(
        results, result("job_1", "a1", "completed", "{\"wall_time_s\":1.25,\"note\":\"x,y\"}"));
    json_array_append_new(results, result("job_2", "a2", "failed", "{\"max_rss_kib\":2048}"));
    json_t *rows = NULL, *cols = NULL;
    rk_verr_t e;
    assert_int_equal(rk_cli_export_rows(results, &rows, &cols, &e), 0);
    assert_int_equal(json_array_size(rows), 2);
    /* Fixed columns, then the union of metric names, sorted. */
    assert_int_equal(json_array_size(cols), 11);
    assert_string_equal(json_string_value(json_array_get(cols, 8)), "max_rss_kib");
    assert_string_equal(json_string_value(json_array_get(cols, 10)), "wall_time_s");
    rk_buf_t b;
    rk_buf_init(&b, 1 << 20);
    assert_int_equal(rk_cli_export_csv(rows, cols, &b), 0);
    assert_string_equal(
        rk_buf_str(&b),
        "job_id,experiment_id,agent_id,status,started_at,completed_at,duration_seconds,error,"
        "max_rss_kib,note,wall_time_s\n"
        "job_1,exp_abcdef,a1,completed,2026-11-23T13:00:00.000000Z,2026-11-23T13:00:02.500000Z,"
        "2.5,,,\"x,y\",1.25\n"
        "job_2,exp_abcdef,a2,failed,2026-11-23T13:00:00.000000Z,2026-11-23T13:00:02.500000Z,"
        "2.5,,2048,,\n");
    rk_buf_cleanup(&b);
    json_decref(rows);
    json_decref(cols);
    json_decref(results);
}

static void test_export_refuses_bad_result(void **state)
{
    json_t *results = json_array();
    json_array_append_new(results, result("job_1", "a1", "completed", "{}"));
    json_array_append_new(results, result("job_2", "a1", "exploded", "{}"));
    json_t *rows = NULL;
    rk_verr_t e;
    assert_int_equal(rk_cli_export_rows(results, &rows, NULL, &e), RK_EINVAL);
    assert_null(rows);
    assert_non_null(strstr(e.msg, "results[1].status"));
    json_decref(results);
}

static void test_csv_numbers(void **state)
{
    json_t *rows =
        json_loads("[{\"a\":134772.0,\"b\":0.30000000000000004,\"c\":2.5,\"d\":-7}]", 0, NULL);
    json_t *cols = json_loads("[\"a\",\"b\",\"c\",\"d\",\"missing\"]", 0, NULL);
    rk_buf_t b;
    rk_buf_init(&b, 4096);
    assert_int_equal(rk_cli_export_csv(rows, cols, &b), 0);
    assert_string_equal(rk_buf_str(&b), "a,b,c,d,missing\n134772,0.30000000000000004,2.5,-7,\n");
    rk_buf_cleanup(&b);
    json_decref(rows);
    json_decref(cols);
}

static void test_compare(void **state)
{
    json_t *results = json_array();
    json_array_append_new(results, result("job_1", "b", "completed", "{\"t_s\":1.0,\"gf\":10}"));
    json_array_append_new(
        results, result("job_2", "b", "completed", "{\"t_s\":3.0,\"gf\":20,\"label\":\"s\"}"));
    json_array_append_new(results, result("job_3", "a", "completed", "{\"t_s\":5.0}"));
    json_array_append_new(results, result("job_4", "a", "failed", "{\"t_s\":99.0}"));
    json_t *agents = json_loads(
        "[{\"agent_id\":\"a\",\"system_info\":{\"cpu\":{\"model\":\"Registered\"}}}]", 0, NULL);
    json_t *cmp = NULL;
    rk_verr_t e;
    assert_int_equal(rk_cli_compare(results, agents, NULL, &cmp, &e), 0);
    char *text = json_dumps(cmp, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(
        text,
        "{\"agents\":["
        "{\"agent_id\":\"a\",\"hardware\":\"Registered\",\"jobs\":1,\"metrics\":{\"t_s\":5.0}},"
        "{\"agent_id\":\"b\",\"hardware\":\"HW-b\",\"jobs\":2,\"metrics\":{\"gf\":15.0,\"t_s\":2.0}"
        "}],"
        "\"metrics\":[\"gf\",\"t_s\"]}");
    free(text);
    json_decref(cmp);

    assert_int_equal(rk_cli_compare(results, agents, "gf,nothing", &cmp, &e), 0);
    text = json_dumps(json_object_get(cmp, "metrics"), JSON_COMPACT);
    assert_string_equal(text, "[\"gf\"]");
    free(text);
    json_decref(cmp);
    json_decref(agents);
    json_decref(results);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_csv),
        cmocka_unit_test(test_export_refuses_bad_result),
        cmocka_unit_test(test_csv_numbers),
        cmocka_unit_test(test_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
