/* JobStatus and JobInfo: decoding, validation messages, encoding, round
 * trips, copies, and job ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/job.h"
#include "model/parse.h"

#define TS "2026-11-23T13:07:37.123456Z"
#define TS2 "2026-11-23T13:08:00.000000Z"

#define STATUS_OK "{\"status\":\"running\",\"timestamp\":\"" TS "\",\"message\":\"started\"}"

#define INFO_OK                                                                                    \
    "{\"job_id\":\"job_0123abcd\",\"experiment_id\":\"exp_a1b2c3\",\"agent_id\":\"gpu-1\","        \
    "\"created_time\":\"" TS "\",\"status\":" STATUS_OK ",\"priority\":\"medium\","                \
    "\"exclusive\":false,\"history\":[{\"status\":\"queued\",\"timestamp\":\"" TS                  \
    "\",\"message\":\"\"},"                                                                        \
    "{\"status\":\"running\",\"timestamp\":\"" TS2 "\",\"message\":\"go\",\"progress\":0.25}]}"

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", text, je.text);
    return v;
}

static rk_time_t ts(const char *s)
{
    rk_time_t t;
    assert_int_equal(rk_time_parse(s, &t), RK_OK);
    return t;
}

static void status_err(const char *text, const char *path, const char *want)
{
    json_t *v = load(text);
    rk_job_status_t s;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_status_decode(v, path, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, want);
    assert_null(s.message); /* left empty */
    assert_null(s.job_id);
    json_decref(v);
}

static void info_err(const char *text, const char *want)
{
    json_t *v = load(text);
    rk_job_info_t j;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_info_decode(v, "", &j, &e), RK_EINVAL);
    assert_string_equal(e.msg, want);
    assert_null(j.job_id);
    assert_null(j.history);
    json_decref(v);
}

static void test_status_decode(void **state)
{
    (void)state;
    json_t *v = load(STATUS_OK);
    rk_job_status_t s;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_status_decode(v, "", &s, &e), RK_OK);
    assert_int_equal(s.status, RK_JOB_RUNNING);
    assert_true(s.timestamp == ts(TS));
    assert_string_equal(s.message, "started");
    assert_false(s.has_progress);
    assert_null(s.job_id);
    rk_job_status_cleanup(&s);
    json_decref(v);

    /* message defaults to "", progress and job_id are read when there. */
    v = load("{\"status\":\"assigned\",\"timestamp\":\"" TS "\",\"progress\":1,"
             "\"job_id\":\"job_ffffffff\"}");
    assert_int_equal(rk_job_status_decode(v, "", &s, &e), RK_OK);
    assert_string_equal(s.message, "");
    assert_true(s.has_progress);
    assert_true(s.progress == 1.0);
    assert_string_equal(s.job_id, "job_ffffffff");
    rk_job_status_cleanup(&s);
    json_decref(v);
}

static void test_status_errors(void **state)
{
    (void)state;
    status_err("[]", "", "body: expected an object");
    status_err("[]", "status", "status: expected an object");
    status_err("{\"timestamp\":\"" TS "\"}", "", "status: field required");
    status_err("{\"status\":null,\"timestamp\":\"" TS "\"}", "", "status: field required");
    status_err("{\"status\":\"done\",\"timestamp\":\"" TS "\"}", "status",
               "status.status: expected one of queued, assigned, running, completed, failed, "
               "cancelled, timeout, paused");
    status_err("{\"status\":3,\"timestamp\":\"" TS "\"}", "",
               "status: expected one of queued, assigned, running, completed, failed, "
               "cancelled, timeout, paused");
    status_err("{\"status\":\"queued\"}", "", "timestamp: field required");
    status_err("{\"status\":\"queued\",\"timestamp\":\"yesterday\"}", "",
               "timestamp: expected an RFC 3339 timestamp");
    status_err("{\"status\":\"queued\",\"timestamp\":12}", "",
               "timestamp: expected an RFC 3339 timestamp");
    status_err("{\"status\":\"queued\",\"timestamp\":\"" TS "\",\"message\":5}", "",
               "message: expected a string");
    status_err("{\"status\":\"queued\",\"timestamp\":\"" TS "\",\"progress\":1.5}", "",
               "progress: expected a number from 0 to 1");
    status_err("{\"status\":\"queued\",\"timestamp\":\"" TS "\",\"progress\":\"half\"}", "",
               "progress: expected a number");
    status_err("{\"status\":\"queued\",\"timestamp\":\"" TS "\",\"job_id\":\"../x\"}", "",
               "job_id: expected an id of 1 to 64 characters from [A-Za-z0-9_.-]");
}

static void test_status_encode(void **state)
{
    (void)state;
    rk_job_status_t s = {.status = RK_JOB_FAILED, .timestamp = ts(TS)};
    json_t *o = rk_job_status_encode(&s);
    json_t *want = load("{\"status\":\"failed\",\"timestamp\":\"" TS "\",\"message\":\"\"}");
    assert_true(json_equal(o, want));
    json_decref(o);
    json_decref(want);

    s.has_progress = true;
    s.progress = 0.5;
    s.job_id = "job_00000001";
    s.message = "exit 2";
    o = rk_job_status_encode(&s);
    want = load("{\"status\":\"failed\",\"timestamp\":\"" TS "\",\"message\":\"exit 2\","
                "\"progress\":0.5,\"job_id\":\"job_00000001\"}");
    assert_true(json_equal(o, want));
    json_decref(o);
    json_decref(want);
}

static void test_info_round_trip(void **state)
{
    (void)state;
    json_t *v = load(INFO_OK);
    rk_job_info_t a, b;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_info_decode(v, "", &a, &e), RK_OK);
    assert_string_equal(a.job_id, "job_0123abcd");
    assert_string_equal(a.experiment_id, "exp_a1b2c3");
    assert_string_equal(a.agent_id, "gpu-1");
    assert_true(a.created_time == ts(TS));
    assert_int_equal(a.status.status, RK_JOB_RUNNING);
    assert_true(a.has_history);
    assert_int_equal(a.n_history, 2);
    assert_int_equal(a.history[0].status, RK_JOB_QUEUED);
    assert_true(a.history[1].timestamp == ts(TS2));
    assert_true(a.history[1].progress == 0.25);

    json_t *enc = rk_job_info_encode(&a);
    assert_non_null(enc);
    assert_true(json_equal(enc, v)); /* INFO_OK is already canonical */
    assert_int_equal(rk_job_info_decode(enc, "", &b, &e), RK_OK);
    assert_true(rk_job_info_equal(&a, &b));
    json_t *enc2 = rk_job_info_encode(&b);
    assert_true(json_equal(enc, enc2));

    /* A change anywhere makes the values differ. */
    b.history[1].progress = 0.5;
    assert_false(rk_job_info_equal(&a, &b));

    rk_job_info_cleanup(&a);
    rk_job_info_cleanup(&b);
    json_decref(enc);
    json_decref(enc2);
    json_decref(v);
}

static void test_info_without_history(void **state)
{
    (void)state;
    json_t *v = load("{\"job_id\":\"job_0123abcd\",\"experiment_id\":\"exp_a1b2c3\","
                     "\"agent_id\":\"gpu-1\",\"created_time\":\"" TS "\",\"status\":" STATUS_OK
                     ",\"extra\":true}");
    rk_job_info_t a;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_info_decode(v, "", &a, &e), RK_OK);
    assert_false(a.has_history);
    json_t *enc = rk_job_info_encode(&a);
    assert_null(json_object_get(enc, "history"));
    assert_null(json_object_get(enc, "extra")); /* unknown fields are not kept */
    json_decref(enc);

    /* Asking for history gives an empty array, then the added entries. */
    a.has_history = true;
    enc = rk_job_info_encode(&a);
    assert_int_equal(json_array_size(json_object_get(enc, "history")), 0);
    assert_true(json_is_array(json_object_get(enc, "history")));
    json_decref(enc);
    assert_int_equal(rk_job_info_history_add(&a, &a.status), RK_OK);
    assert_int_equal(rk_job_info_history_add(&a, &a.status), RK_OK);
    assert_int_equal(a.n_history, 2);
    assert_true(rk_job_status_equal(&a.history[1], &a.status));
    assert_ptr_not_equal(a.history[1].message, a.status.message);
    enc = rk_job_info_encode(&a);
    assert_int_equal(json_array_size(json_object_get(enc, "history")), 2);
    json_decref(enc);
    rk_job_info_cleanup(&a);
    json_decref(v);
}

/* Queue control: an unplaced job's agent_id is null both ways; priority
 * defaults to medium; exclusive and the selector's labels round-trip. */
static void test_info_queue_fields(void **state)
{
    (void)state;
    json_t *v = load("{\"job_id\":\"j\",\"experiment_id\":\"e\",\"agent_id\":null,"
                     "\"created_time\":\"" TS "\",\"status\":" STATUS_OK "}");
    rk_job_info_t a, b;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_info_decode(v, "", &a, &e), RK_OK);
    assert_null(a.agent_id);
    assert_int_equal(a.priority, RK_PRIO_MEDIUM);
    assert_false(a.exclusive);
    assert_null(a.selector_labels);
    json_t *enc = rk_job_info_encode(&a);
    assert_true(json_is_null(json_object_get(enc, "agent_id")));
    assert_string_equal(json_string_value(json_object_get(enc, "priority")), "medium");
    assert_true(json_is_false(json_object_get(enc, "exclusive")));
    assert_null(json_object_get(enc, "agent_selector"));
    json_decref(enc);
    rk_job_info_cleanup(&a);
    json_decref(v);

    v = load("{\"job_id\":\"j\",\"experiment_id\":\"e\",\"created_time\":\"" TS
             "\",\"status\":" STATUS_OK ",\"priority\":\"critical\",\"exclusive\":true,"
             "\"agent_selector\":{\"labels\":{\"gpu\":\"a100\",\"zone\":\"x\"}}}");
    assert_int_equal(rk_job_info_decode(v, "", &a, &e), RK_OK);
    assert_null(a.agent_id);
    assert_int_equal(a.priority, RK_PRIO_CRITICAL);
    assert_true(a.exclusive);
    assert_string_equal(json_string_value(json_object_get(a.selector_labels, "gpu")), "a100");
    enc = rk_job_info_encode(&a);
    json_t *labels = json_object_get(json_object_get(enc, "agent_selector"), "labels");
    assert_string_equal(json_string_value(json_object_get(labels, "zone")), "x");
    assert_int_equal(rk_job_info_copy(&a, &b), RK_OK);
    assert_true(rk_job_info_equal(&a, &b));
    json_object_set_new(b.selector_labels, "zone", json_string("y"));
    assert_false(rk_job_info_equal(&a, &b));
    b.priority = RK_PRIO_LOW;
    json_object_set_new(b.selector_labels, "zone", json_string("x"));
    assert_false(rk_job_info_equal(&a, &b));
    json_decref(enc);
    rk_job_info_cleanup(&a);
    rk_job_info_cleanup(&b);
    json_decref(v);
}

/* The jobs-over-time fields travel in extra: gathered on decode, merged
 * back on encode, compared and copied; none of them: no extra at all. */
static void test_info_extra(void **state)
{
    (void)state;
    json_t *v = load("{\"job_id\":\"j\",\"experiment_id\":\"e\",\"created_time\":\"" TS
                     "\",\"status\":" STATUS_OK ",\"attempt\":2,\"max_attempts\":3,"
                     "\"depends_on\":[\"job_00000001\"],\"waiting_for\":null,"
                     "\"schedule_id\":\"sch_1\",\"unknown\":1}");
    rk_job_info_t a, b;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_info_decode(v, "", &a, &e), RK_OK);
    assert_non_null(a.extra);
    assert_int_equal(json_object_size(a.extra), 4); /* null and unknown keys left out */
    assert_int_equal(json_integer_value(json_object_get(a.extra, "attempt")), 2);
    json_t *enc = rk_job_info_encode(&a);
    assert_int_equal(json_integer_value(json_object_get(enc, "max_attempts")), 3);
    assert_string_equal(json_string_value(json_object_get(enc, "schedule_id")), "sch_1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(enc, "depends_on"), 0)),
                        "job_00000001");
    assert_string_equal(json_string_value(json_object_get(enc, "job_id")), "j");
    assert_int_equal(rk_job_info_copy(&a, &b), RK_OK);
    assert_true(rk_job_info_equal(&a, &b));
    json_object_set_new(b.extra, "attempt", json_integer(3));
    assert_false(rk_job_info_equal(&a, &b));
    json_decref(enc);
    rk_job_info_cleanup(&a);
    rk_job_info_cleanup(&b);
    json_decref(v);

    v = load(INFO_OK);
    assert_int_equal(rk_job_info_decode(v, "", &a, &e), RK_OK);
    assert_null(a.extra);
    rk_job_info_cleanup(&a);
    json_decref(v);
}

static void test_info_errors(void **state)
{
    (void)state;
    const char *base = "\"experiment_id\":\"exp_1\",\"agent_id\":\"a\",\"created_time\":\"" TS
                       "\",\"status\":" STATUS_OK;
    char buf[1024];
    info_err("3", "body: expected an object");
    snprintf(buf, sizeof buf, "{%s}", base);
    info_err(buf, "job_id: field required");
    snprintf(buf, sizeof buf, "{\"job_id\":\"job/1\",%s}", base);
    info_err(buf, "job_id: expected an id of 1 to 64 characters from [A-Za-z0-9_.-]");
    snprintf(buf, sizeof buf, "{\"job_id\":7,%s}", base);
    info_err(buf, "job_id: expected a string");
    info_err("{\"job_id\":\"j\",\"experiment_id\":\"..\"}",
             "experiment_id: expected an id of 1 to 64 characters from [A-Za-z0-9_.-]");
    info_err("{\"job_id\":\"j\",\"experiment_id\":\"e\"}", "created_time: field required");
    snprintf(buf, sizeof buf, "{\"job_id\":\"j\",%s,\"priority\":\"urgent\"}", base);
    info_err(buf, "priority: expected one of low, medium, high, critical");
    snprintf(buf, sizeof buf, "{\"job_id\":\"j\",%s,\"exclusive\":1}", base);
    info_err(buf, "exclusive: expected true or false");
    snprintf(buf, sizeof buf, "{\"job_id\":\"j\",%s,\"agent_selector\":[]}", base);
    info_err(buf, "agent_selector: expected an object");
    snprintf(buf, sizeof buf, "{\"job_id\":\"j\",%s,\"agent_selector\":{\"labels\":{\"k\":1}}}",
             base);
    info_err(buf, "agent_selector.labels.k: expected a string of at most 255 bytes");
    info_err("{\"job_id\":\"j\",\"experiment_id\":\"e\",\"agent_id\":\"a\","
             "\"created_time\":\"2026-02-30T00:00:00Z\"}",
             "created_time: expected an RFC 3339 timestamp");
    info_err("{\"job_id\":\"j\",\"experiment_id\":\"e\",\"agent_id\":\"a\","
             "\"created_time\":\"" TS "\"}",
             "status: field required");
    info_err("{\"job_id\":\"j\",\"experiment_id\":\"e\",\"agent_id\":\"a\","
             "\"created_time\":\"" TS "\",\"status\":\"running\"}",
             "status: expected an object");
    info_err("{\"job_id\":\"j\",\"experiment_id\":\"e\",\"agent_id\":\"a\","
             "\"created_time\":\"" TS "\",\"status\":{\"status\":\"ok\"}}",
             "status.status: expected one of queued, assigned, running, completed, failed, "
             "cancelled, timeout, paused");
    snprintf(buf, sizeof buf, "{\"job_id\":\"j\",%s,\"history\":{}}", base);
    info_err(buf, "history: expected an array");
    snprintf(buf, sizeof buf,
             "{\"job_id\":\"j\",%s,\"history\":[" STATUS_OK ",{\"status\":\"queued\"}]}", base);
    info_err(buf, "history[1].timestamp: field required");
    snprintf(buf, sizeof buf, "{\"job_id\":\"j\",%s,\"history\":[1]}", base);
    info_err(buf, "history[0]: expected an object");
}

static void test_nested_path(void **state)
{
    (void)state;
    /* A caller decoding inside a larger document passes its own path. */
    json_t *v = load("{\"status\":{\"status\":\"queued\",\"timestamp\":\"" TS "\"}}");
    rk_job_info_t j;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_job_info_decode(v, "jobs.gpu-1[3]", &j, &e), RK_EINVAL);
    assert_string_equal(e.msg, "jobs.gpu-1[3].job_id: field required");
    /* NULL e is allowed. */
    assert_int_equal(rk_job_info_decode(v, "", &j, NULL), RK_EINVAL);
    json_decref(v);
}

static void test_copy(void **state)
{
    (void)state;
    json_t *v = load(INFO_OK);
    rk_job_info_t a, b;
    assert_int_equal(rk_job_info_decode(v, "", &a, NULL), RK_OK);
    json_decref(v);
    assert_int_equal(rk_job_info_copy(&a, &b), RK_OK);
    assert_true(rk_job_info_equal(&a, &b));
    assert_ptr_not_equal(a.job_id, b.job_id);
    assert_ptr_not_equal(a.history, b.history);
    rk_job_info_cleanup(&a);
    assert_string_equal(b.history[1].message, "go"); /* independent of a */
    rk_job_info_cleanup(&b);
    rk_job_info_cleanup(&b); /* cleanup twice is harmless */

    rk_job_status_t s = {.status = RK_JOB_TIMEOUT, .message = NULL}, c;
    assert_int_equal(rk_job_status_copy(&s, &c), RK_OK);
    assert_null(c.message);
    /* NULL and "" messages encode the same, so they are equal. */
    c.message = "";
    assert_true(rk_job_status_equal(&s, &c));
    c.message = "x";
    assert_false(rk_job_status_equal(&s, &c));
}

static void test_job_id(void **state)
{
    (void)state;
    char a[RK_JOB_ID_SIZE], b[RK_JOB_ID_SIZE];
    assert_int_equal(rk_job_id_generate(a), RK_OK);
    assert_int_equal(rk_job_id_generate(b), RK_OK);
    assert_int_equal(strlen(a), 12);
    assert_true(rk_job_id_valid(a));
    assert_true(rk_id_valid(a));
    assert_string_not_equal(a, b); /* 1 in 2^32 to fail by chance */
    assert_true(rk_job_id_valid("job_0123abcd"));
    assert_false(rk_job_id_valid("job_0123ABCD"));
    assert_false(rk_job_id_valid("job_0123abc"));
    assert_false(rk_job_id_valid("job_0123abcde"));
    assert_false(rk_job_id_valid("jab_0123abcd"));
    assert_false(rk_job_id_valid("job_0123abcg"));
    assert_false(rk_job_id_valid(NULL));
}

static void test_parse_json(void **state)
{
    (void)state;
    json_t *v = (json_t *)1;
    rk_verr_t e = {{0}};
    const char *ok = "{\"a\":1} trailing";
    assert_int_equal(rk_model_parse_json(ok, 7, &v, &e), RK_OK); /* len bounds the text */
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);

    assert_int_equal(rk_model_parse_json(ok, strlen(ok), &v, &e), RK_EINVAL);
    assert_null(v);
    assert_string_equal(e.msg,
                        "invalid JSON at line 1, column 16: end of file expected near 'trailing'");

    assert_int_equal(rk_model_parse_json("{\"a\":1,\"a\":2}", 13, &v, &e), RK_EINVAL);
    assert_non_null(strstr(e.msg, "duplicate object key"));
    assert_int_equal(strncmp(e.msg, "invalid JSON at line 1, column ", 31), 0);

    assert_int_equal(rk_model_parse_json("[1]", 3, &v, &e), RK_EINVAL);
    assert_string_equal(e.msg, "body: expected an object");
    assert_int_equal(rk_model_parse_json("\"s\"", 3, &v, &e), RK_EINVAL);
    assert_string_equal(e.msg, "body: expected an object");

    assert_int_equal(rk_model_parse_json("{\"a\":\"\\u0000\"}", 14, &v, &e), RK_EINVAL);
    assert_int_equal(rk_model_parse_json("{\n\"a\": tru}", 11, &v, &e), RK_EINVAL);
    assert_int_equal(strncmp(e.msg, "invalid JSON at line 2, column ", 31), 0);
    assert_int_equal(rk_model_parse_json("", 0, &v, &e), RK_EINVAL);
    assert_int_equal(rk_model_parse_json(NULL, 0, &v, &e), RK_EINVAL);
    assert_null(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_decode),
        cmocka_unit_test(test_status_errors),
        cmocka_unit_test(test_status_encode),
        cmocka_unit_test(test_info_round_trip),
        cmocka_unit_test(test_info_without_history),
        cmocka_unit_test(test_info_queue_fields),
        cmocka_unit_test(test_info_extra),
        cmocka_unit_test(test_info_errors),
        cmocka_unit_test(test_nested_path),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_job_id),
        cmocka_unit_test(test_parse_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
