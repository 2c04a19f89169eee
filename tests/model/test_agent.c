/* AgentInfo, RegisteredAgentInfo and AgentStatus: decoding, validation
 * messages, unknown fields, encoding, round trips and copies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/agent.h"

#define TS "2026-11-23T13:07:37.123456Z"
#define TS2 "2026-11-23T14:00:00.000001Z"
#define TASKS_LIST                                                                                 \
    "expected one of llm_generation, gpu_benchmark, memory_benchmark, compute_benchmark, "         \
    "command"
#define BAD_ID "expected an id of 1 to 64 characters from [A-Za-z0-9_.-]"

#define INFO_FIELDS                                                                                \
    "\"agent_id\":\"gpu-1\",\"agent_name\":\"GPU box\",\"agent_type\":\"gray_box\","               \
    "\"system_info\":{\"os\":\"linux\",\"cpu\":{\"cores\":16}},"                                   \
    "\"capabilities\":{\"slots\":2,\"task_types\":[\"command\",\"memory_benchmark\"],"             \
    "\"gpu\":{\"count\":1}},"                                                                      \
    "\"last_updated\":\"" TS "\",\"firmware\":\"1.2\""

#define STATUS_OK                                                                                  \
    "{\"agent_id\":\"gpu-1\",\"status\":\"active\",\"running_jobs\":[\"job_00000001\"],"           \
    "\"queued_jobs\":[],\"current_job_id\":\"job_00000001\","                                      \
    "\"current_experiment_id\":\"exp_abcdef\",\"uptime_seconds\":12.5,"                            \
    "\"timestamp\":\"" TS "\",\"available_results\":[{\"job_id\":\"job_00000000\","                \
    "\"completed_at\":\"" TS2 "\",\"result_type\":\"completed\"}]}"

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", text, je.text);
    return v;
}

static void info_err(const char *text, const char *want)
{
    json_t *v = load(text);
    rk_agent_info_t a;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_info_decode(v, "", &a, &e), RK_EINVAL);
    assert_string_equal(e.msg, want);
    assert_null(a.agent_id);
    assert_null(a.system_info);
    assert_null(a.capabilities.task_types);
    assert_null(a.extra);
    json_decref(v);
}

static void reg_err(const char *text, const char *want)
{
    json_t *v = load(text);
    rk_registered_agent_t r;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_registered_agent_decode(v, "agent", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, want);
    assert_null(r.agent_url);
    assert_null(r.info.agent_id);
    json_decref(v);
}

static void status_err(const char *text, const char *want)
{
    json_t *v = load(text);
    rk_agent_status_t s;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_status_decode(v, "", &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, want);
    assert_null(s.agent_id);
    assert_null(s.running_jobs);
    assert_null(s.available_results);
    json_decref(v);
}

/* Builds an AgentInfo document with one field replaced (or removed when
 * value is NULL). */
static char *info_with(const char *key, const char *value)
{
    json_t *v = load("{" INFO_FIELDS "}");
    if (value)
        json_object_set_new(v, key, load(value));
    else
        json_object_del(v, key);
    char *s = json_dumps(v, 0);
    json_decref(v);
    return s;
}

static void info_err_with(const char *key, const char *value, const char *want)
{
    char *text = info_with(key, value);
    info_err(text, want);
    free(text);
}

static void test_info_decode(void **state)
{
    (void)state;
    json_t *v = load("{" INFO_FIELDS "}");
    rk_agent_info_t a;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_info_decode(v, "", &a, &e), RK_OK);
    assert_string_equal(a.agent_id, "gpu-1");
    assert_string_equal(a.agent_name, "GPU box");
    assert_int_equal(a.agent_type, RK_AGENT_GRAY_BOX);
    assert_string_equal(json_string_value(json_object_get(a.system_info, "os")), "linux");
    assert_int_equal(a.capabilities.slots, 2);
    assert_int_equal(a.capabilities.n_task_types, 2);
    assert_int_equal(a.capabilities.task_types[0], RK_TASK_COMMAND);
    assert_int_equal(a.capabilities.task_types[1], RK_TASK_MEMORY_BENCHMARK);
    assert_true(rk_agent_info_can_run(&a, RK_TASK_COMMAND));
    assert_false(rk_agent_info_can_run(&a, RK_TASK_GPU_BENCHMARK));
    /* Unknown fields are kept, at the top and inside capabilities. */
    assert_int_equal(json_object_size(a.extra), 1);
    assert_string_equal(json_string_value(json_object_get(a.extra, "firmware")), "1.2");
    assert_int_equal(json_object_size(a.capabilities.extra), 1);
    assert_non_null(json_object_get(a.capabilities.extra, "gpu"));

    json_t *enc = rk_agent_info_encode(&a);
    assert_true(json_equal(enc, v));
    rk_agent_info_t b;
    assert_int_equal(rk_agent_info_decode(enc, "", &b, &e), RK_OK);
    assert_true(rk_agent_info_equal(&a, &b));
    json_t *enc2 = rk_agent_info_encode(&b);
    assert_true(json_equal(enc, enc2));
    json_object_set_new(b.extra, "firmware", json_string("1.3"));
    assert_false(rk_agent_info_equal(&a, &b));

    rk_agent_info_cleanup(&a);
    rk_agent_info_cleanup(&b);
    json_decref(enc);
    json_decref(enc2);
    json_decref(v);
}

static void test_info_defaults(void **state)
{
    (void)state;
    json_t *v = load("{\"agent_id\":\"a\",\"agent_type\":\"black_box\",\"system_info\":{},"
                     "\"capabilities\":{\"task_types\":[]},\"last_updated\":\"" TS "\"}");
    rk_agent_info_t a;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_info_decode(v, "", &a, &e), RK_OK);
    assert_null(a.agent_name);
    assert_int_equal(a.capabilities.slots, 1);
    assert_int_equal(a.capabilities.n_task_types, 0);
    assert_null(a.extra);
    assert_null(a.capabilities.extra);
    json_t *enc = rk_agent_info_encode(&a);
    json_t *want = load("{\"agent_id\":\"a\",\"agent_type\":\"black_box\",\"system_info\":{},"
                        "\"capabilities\":{\"slots\":1,\"task_types\":[]},"
                        "\"last_updated\":\"" TS "\"}");
    assert_true(json_equal(enc, want));
    json_decref(enc);
    json_decref(want);
    rk_agent_info_cleanup(&a);
    json_decref(v);
}

static void test_info_errors(void **state)
{
    (void)state;
    info_err("[1]", "body: expected an object");
    info_err_with("agent_id", NULL, "agent_id: field required");
    info_err_with("agent_id", "\"a/b\"", "agent_id: " BAD_ID);
    info_err_with("agent_id", "\"..\"", "agent_id: " BAD_ID);
    info_err_with("agent_name", "[]", "agent_name: expected a string");
    info_err_with("agent_type", NULL, "agent_type: field required");
    info_err_with("agent_type", "\"glass_box\"",
                  "agent_type: expected one of white_box, gray_box, black_box");
    info_err_with("system_info", NULL, "system_info: field required");
    info_err_with("system_info", "\"linux\"", "system_info: expected an object");
    info_err_with("capabilities", NULL, "capabilities: field required");
    info_err_with("capabilities", "[]", "capabilities: expected an object");
    info_err_with("capabilities", "{\"slots\":0,\"task_types\":[]}",
                  "capabilities.slots: expected an integer from 1 to 4096");
    info_err_with("capabilities", "{\"slots\":1.5,\"task_types\":[]}",
                  "capabilities.slots: expected an integer");
    info_err_with("capabilities", "{\"slots\":1}", "capabilities.task_types: field required");
    info_err_with("capabilities", "{\"task_types\":\"command\"}",
                  "capabilities.task_types: expected an array");
    info_err_with("capabilities", "{\"task_types\":[\"command\",\"dance\"]}",
                  "capabilities.task_types[1]: " TASKS_LIST);
    info_err_with("capabilities", "{\"task_types\":[1]}",
                  "capabilities.task_types[0]: " TASKS_LIST);
    info_err_with("labels", "[]", "labels: expected an object of label: value strings");
    info_err_with("labels", "{\"rack\":1}", "labels.rack: expected a string of at most 255 bytes");
    info_err_with("labels", "{\"a b\":\"x\"}",
                  "labels.a b: a label key is 1 to 63 characters from [A-Za-z0-9_.-/]");
    info_err_with("last_updated", NULL, "last_updated: field required");
    info_err_with("last_updated", "\"2026-11-23\"", "last_updated: expected an RFC 3339 timestamp");
}

static void test_info_labels(void **state)
{
    (void)state;
    char *text = info_with("labels", "{\"gpu\":\"a100\",\"site/rack\":\"r1\"}");
    json_t *v = load(text);
    free(text);
    rk_agent_info_t a, b;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_info_decode(v, "", &a, &e), RK_OK);
    assert_int_equal(json_object_size(a.labels), 2);
    assert_null(json_object_get(a.extra, "labels")); /* a field of its own */
    json_t *want = load("{\"gpu\":\"a100\"}"), *other = load("{\"gpu\":\"h100\"}"),
           *none = json_object();
    assert_true(rk_agent_info_labels_match(&a, want));
    assert_false(rk_agent_info_labels_match(&a, other));
    assert_true(rk_agent_info_labels_match(&a, none));
    json_t *enc = rk_agent_info_encode(&a);
    assert_true(json_equal(enc, v));
    assert_int_equal(rk_agent_info_copy(&a, &b), RK_OK);
    assert_true(rk_agent_info_equal(&a, &b));
    json_object_set_new(b.labels, "gpu", json_string("h100"));
    assert_false(rk_agent_info_equal(&a, &b));
    assert_true(rk_agent_info_labels_match(&b, other));
    /* An agent without labels matches only the empty selector. */
    rk_agent_info_cleanup(&b);
    json_object_del(v, "labels");
    assert_int_equal(rk_agent_info_decode(v, "", &b, &e), RK_OK);
    assert_null(b.labels);
    assert_false(rk_agent_info_labels_match(&b, want));
    assert_true(rk_agent_info_labels_match(&b, none));
    assert_true(rk_label_key_valid("a.b-c_d/e"));
    assert_false(rk_label_key_valid(""));
    assert_false(rk_label_key_valid("k=v"));
    rk_agent_info_cleanup(&a);
    rk_agent_info_cleanup(&b);
    json_decref(enc);
    json_decref(want);
    json_decref(other);
    json_decref(none);
    json_decref(v);
}

static void test_registered(void **state)
{
    (void)state;
    json_t *v = load("{" INFO_FIELDS ",\"agent_url\":\"http://10.0.0.5:8001\","
                     "\"registered_at\":\"" TS2 "\"}");
    rk_registered_agent_t r, c;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_registered_agent_decode(v, "", &r, &e), RK_OK);
    assert_string_equal(r.agent_url, "http://10.0.0.5:8001");
    assert_string_equal(r.info.agent_id, "gpu-1");
    /* agent_url and registered_at are fields, not unknown extras. */
    assert_int_equal(json_object_size(r.info.extra), 1);
    json_t *enc = rk_registered_agent_encode(&r);
    assert_true(json_equal(enc, v));
    json_decref(enc);

    assert_int_equal(rk_registered_agent_copy(&r, &c), RK_OK);
    assert_true(rk_registered_agent_equal(&r, &c));
    assert_ptr_not_equal(r.info.system_info, c.info.system_info); /* deep copy */
    rk_registered_agent_cleanup(&r);
    enc = rk_registered_agent_encode(&c);
    assert_true(json_equal(enc, v));
    c.registered_at++;
    json_decref(enc);
    enc = rk_registered_agent_encode(&c);
    assert_false(json_equal(enc, v));
    json_decref(enc);
    rk_registered_agent_cleanup(&c);
    json_decref(v);

    /* An AgentInfo decode keeps agent_url as an unknown field. */
    v = load("{" INFO_FIELDS ",\"agent_url\":\"http://h\"}");
    rk_agent_info_t a;
    assert_int_equal(rk_agent_info_decode(v, "", &a, &e), RK_OK);
    assert_non_null(json_object_get(a.extra, "agent_url"));
    rk_agent_info_cleanup(&a);
    json_decref(v);
}

static void test_registered_errors(void **state)
{
    (void)state;
    reg_err("{" INFO_FIELDS ",\"registered_at\":\"" TS "\"}", "agent.agent_url: field required");
    reg_err("{" INFO_FIELDS ",\"agent_url\":\"ftp://h\",\"registered_at\":\"" TS "\"}",
            "agent.agent_url: expected an http:// or https:// URL");
    reg_err("{" INFO_FIELDS ",\"agent_url\":\"http://h\"}", "agent.registered_at: field required");
    reg_err("{\"agent_id\":\"a b\"}", "agent.agent_id: " BAD_ID);

    char *long_url = malloc(4096);
    strcpy(long_url, "{" INFO_FIELDS ",\"agent_url\":\"http://");
    size_t n = strlen(long_url);
    memset(long_url + n, 'a', 2042);
    strcpy(long_url + n + 2042, "\",\"registered_at\":\"" TS "\"}");
    reg_err(long_url, "agent.agent_url: longer than 2048 characters");
    free(long_url);
}

static void test_url_valid(void **state)
{
    (void)state;
    assert_true(rk_agent_url_valid("http://localhost:8001"));
    assert_true(rk_agent_url_valid("https://agent.example.com/base/"));
    assert_true(rk_agent_url_valid("HTTP://h"));
    assert_true(rk_agent_url_valid("http://[::1]:8001"));
    assert_false(rk_agent_url_valid("http://"));
    assert_false(rk_agent_url_valid("http:///path"));
    assert_false(rk_agent_url_valid("http://:80"));
    assert_false(rk_agent_url_valid("https//h"));
    assert_false(rk_agent_url_valid("file:///etc/passwd"));
    assert_false(rk_agent_url_valid("http://h/a b"));
    assert_false(rk_agent_url_valid("http://h/\n"));
    assert_false(rk_agent_url_valid(""));
    assert_false(rk_agent_url_valid(NULL));
    char url[2100] = "http://";
    memset(url + 7, 'a', 2041);
    url[2048] = '\0';
    assert_true(rk_agent_url_valid(url)); /* exactly 2048 */
    url[2048] = 'a';
    url[2049] = '\0';
    assert_false(rk_agent_url_valid(url));
}

static void test_status_round_trip(void **state)
{
    (void)state;
    json_t *v = load(STATUS_OK);
    rk_agent_status_t a, b;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_status_decode(v, "", &a, &e), RK_OK);
    assert_string_equal(a.agent_id, "gpu-1");
    assert_int_equal(a.status, RK_AGENT_ACTIVE);
    assert_int_equal(a.n_running, 1);
    assert_string_equal(a.running_jobs[0], "job_00000001");
    assert_int_equal(a.n_queued, 0);
    assert_string_equal(a.current_job_id, "job_00000001");
    assert_string_equal(a.current_experiment_id, "exp_abcdef");
    assert_true(a.uptime_seconds == 12.5);
    assert_int_equal(a.n_results, 1);
    assert_string_equal(a.available_results[0].job_id, "job_00000000");
    assert_string_equal(a.available_results[0].result_type, "completed");

    json_t *enc = rk_agent_status_encode(&a);
    assert_true(json_equal(enc, v));
    assert_int_equal(rk_agent_status_decode(enc, "", &b, &e), RK_OK);
    assert_true(rk_agent_status_equal(&a, &b));
    b.available_results[0].completed_at++;
    assert_false(rk_agent_status_equal(&a, &b));
    rk_agent_status_cleanup(&a);
    rk_agent_status_cleanup(&b);
    json_decref(enc);
    json_decref(v);

    /* Optional ids absent: not encoded. */
    v = load("{\"agent_id\":\"a\",\"status\":\"idle\",\"running_jobs\":[],\"queued_jobs\":[],"
             "\"uptime_seconds\":0.0,\"timestamp\":\"" TS "\",\"available_results\":[]}");
    assert_int_equal(rk_agent_status_decode(v, "", &a, &e), RK_OK);
    assert_null(a.current_job_id);
    enc = rk_agent_status_encode(&a);
    assert_null(json_object_get(enc, "current_job_id"));
    assert_null(json_object_get(enc, "current_experiment_id"));
    assert_true(json_equal(enc, v));
    json_decref(enc);
    rk_agent_status_cleanup(&a);
    json_decref(v);
}

static void status_err_with(const char *key, const char *value, const char *want)
{
    json_t *v = load(STATUS_OK);
    if (value)
        json_object_set_new(v, key, load(value));
    else
        json_object_del(v, key);
    char *s = json_dumps(v, 0);
    status_err(s, want);
    free(s);
    json_decref(v);
}

static void test_status_errors(void **state)
{
    (void)state;
    status_err("null", "body: expected an object");
    status_err_with("agent_id", NULL, "agent_id: field required");
    status_err_with("status", NULL, "status: field required");
    status_err_with("status", "\"busy\"",
                    "status: expected one of active, idle, error, unavailable");
    status_err_with("running_jobs", NULL, "running_jobs: field required");
    status_err_with("running_jobs", "\"job_1\"", "running_jobs: expected an array of strings");
    status_err_with("running_jobs", "[\"job_1\",2]", "running_jobs: expected an array of strings");
    status_err_with("queued_jobs", "[\"ok\",\"not ok\"]", "queued_jobs[1]: " BAD_ID);
    status_err_with("current_job_id", "\"\"", "current_job_id: " BAD_ID);
    status_err_with("current_experiment_id", "5", "current_experiment_id: expected a string");
    status_err_with("uptime_seconds", NULL, "uptime_seconds: field required");
    status_err_with("uptime_seconds", "-1", "uptime_seconds: expected a number from 0 to 1e+12");
    status_err_with("uptime_seconds", "\"1\"", "uptime_seconds: expected a number");
    status_err_with("timestamp", "\"13:07\"", "timestamp: expected an RFC 3339 timestamp");
    status_err_with("available_results", NULL, "available_results: field required");
    status_err_with("available_results", "{}", "available_results: expected an array");
    status_err_with("available_results", "[7]", "available_results[0]: expected an object");
    status_err_with("available_results", "[{\"completed_at\":\"" TS "\",\"result_type\":\"x\"}]",
                    "available_results[0].job_id: field required");
    status_err_with("available_results",
                    "[{\"job_id\":\"j\",\"completed_at\":\"" TS "\",\"result_type\":\"x\"},"
                    "{\"job_id\":\"j\",\"completed_at\":\"x\",\"result_type\":\"x\"}]",
                    "available_results[1].completed_at: expected an RFC 3339 timestamp");
    status_err_with("available_results", "[{\"job_id\":\"j\",\"completed_at\":\"" TS "\"}]",
                    "available_results[0].result_type: field required");

    /* At most 100 results. */
    json_t *many = json_array();
    json_t *one = load("{\"job_id\":\"j\",\"completed_at\":\"" TS "\",\"result_type\":\"x\"}");
    for (int i = 0; i < 100; i++)
        json_array_append(many, one);
    json_t *v = load(STATUS_OK);
    json_object_set(v, "available_results", many);
    rk_agent_status_t s;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_status_decode(v, "", &s, &e), RK_OK);
    assert_int_equal(s.n_results, 100);
    rk_agent_status_cleanup(&s);
    json_array_append(many, one);
    assert_int_equal(rk_agent_status_decode(v, "agent", &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "agent.available_results: more than 100 items");
    json_decref(one);
    json_decref(many);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_decode),   cmocka_unit_test(test_info_defaults),
        cmocka_unit_test(test_info_errors),   cmocka_unit_test(test_info_labels),
        cmocka_unit_test(test_registered),    cmocka_unit_test(test_registered_errors),
        cmocka_unit_test(test_url_valid),     cmocka_unit_test(test_status_round_trip),
        cmocka_unit_test(test_status_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
