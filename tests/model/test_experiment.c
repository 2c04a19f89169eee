/* ExperimentSpec and ExecuteJobRequest: decode, validation messages, ids,
 * unknown fields and round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/execute.h"
#include "model/experiment.h"

static const char *const valid_spec =
    "{\"name\": \"ls\", \"description\": \"list\", \"model\": \"none\","
    " \"task\": {\"name\": \"list\", \"type\": \"command\","
    "   \"params\": {\"argv\": [\"ls\", \"-l\"], \"runs_per_job\": 3}},"
    " \"framework\": {\"name\": \"shell\", \"params\": {}},"
    " \"metrics\": {\"metrics\": {\"wall_time_s\": {}}},"
    " \"capability_requirements\": {\"timeout_seconds\": 60},"
    " \"created_at\": \"2026-11-23T13:07:37.123456Z\"}";

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    return v;
}

/* Decodes text (which must fail) and checks the exact message. */
static void expect_error(const char *text, const char *msg)
{
    json_t *v = load(text);
    rk_experiment_t x;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), RK_EINVAL);
    assert_string_equal(e.msg, msg);
    rk_experiment_cleanup(&x); /* a failed decode leaves x freeable */
    json_decref(v);
}

/* valid_spec with obj[key] replaced by the JSON text repl (NULL deletes). */
static char *patched(const char *section, const char *key, const char *repl)
{
    json_t *v = load(valid_spec);
    json_t *target = section ? json_object_get(v, section) : v;
    if (repl)
        json_object_set_new(target, key, load(repl));
    else
        json_object_del(target, key);
    char *s = json_dumps(v, 0);
    json_decref(v);
    return s;
}

static void expect_patched_error(const char *section, const char *key, const char *repl,
                                 const char *msg)
{
    char *s = patched(section, key, repl);
    expect_error(s, msg);
    free(s);
}

static void test_id_md5(void **state)
{
    (void)state;
    /* Expected values from `printf %s NAME | md5sum`. */
    static const struct {
        const char *name, *id;
    } cases[] = {{"hello", "exp_5d4140"},
                 {"matmul-bench", "exp_7a7cb2"},
                 {"ls", "exp_44ba5c"},
                 {"exp with spaces", "exp_56d309"},
                 {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "exp_00110a"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char id[RK_EXPERIMENT_ID_SIZE];
        assert_int_equal(rk_experiment_id(cases[i].name, id), RK_OK);
        assert_string_equal(id, cases[i].id);
    }
}

static void test_decode_valid(void **state)
{
    (void)state;
    json_t *v = load(valid_spec);
    rk_experiment_t x;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), RK_OK);
    assert_string_equal(x.id, "exp_44ba5c");
    assert_string_equal(x.name, "ls");
    assert_string_equal(x.description, "list");
    assert_string_equal(x.model, "none");
    assert_string_equal(x.task.name, "list");
    assert_int_equal(x.task.type, RK_TASK_COMMAND);
    assert_null(x.task.description);
    assert_int_equal(x.params.runs_per_job, 3);
    assert_int_equal(x.params.command.argc, 2);
    assert_string_equal(x.params.command.argv[1], "-l");
    assert_null(x.params.command.argv[2]);
    assert_string_equal(x.framework.name, "shell");
    assert_non_null(json_object_get(x.metrics.metrics, "wall_time_s"));
    assert_int_equal(x.requirements.timeout_seconds, 60);
    assert_true(x.has_created_at);
    assert_int_equal(x.created_at, 1795439257123456LL);
    assert_false(x.has_updated_at);
    assert_null(x.extra);
    rk_experiment_cleanup(&x);
    json_decref(v);
}

static void test_defaults_when_optional_absent(void **state)
{
    (void)state;
    json_t *v = load("{\"name\": \"hello\", \"model\": \"m\","
                     " \"task\": {\"name\": \"t\", \"type\": \"gpu_benchmark\"},"
                     " \"framework\": {\"name\": \"f\"}, \"metrics\": {}}");
    rk_experiment_t x;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), RK_OK);
    assert_int_equal(x.params.runs_per_job, 1);
    assert_int_equal(x.requirements.timeout_seconds, 3600);
    assert_null(x.capability_requirements);
    /* Absent params objects encode as {}. */
    json_t *enc = rk_experiment_encode(&x);
    assert_non_null(enc);
    assert_int_equal(json_object_size(json_object_get(json_object_get(enc, "task"), "params")), 0);
    assert_true(json_is_object(json_object_get(json_object_get(enc, "metrics"), "metrics")));
    assert_int_equal(json_object_size(json_object_get(json_object_get(enc, "metrics"), "metrics")),
                     0);
    assert_null(json_object_get(enc, "capability_requirements"));
    assert_null(json_object_get(enc, "created_at"));
    assert_string_equal(json_string_value(json_object_get(enc, "id")), "exp_5d4140");
    json_decref(enc);
    rk_experiment_cleanup(&x);
    json_decref(v);
}

static void test_round_trip_keeps_unknown_fields(void **state)
{
    (void)state;
    json_t *v = load("{\"name\": \"hello\", \"model\": \"m\", \"future\": [1, 2],"
                     " \"id\": \"exp_wrong\","
                     " \"task\": {\"name\": \"t\", \"type\": \"memory_benchmark\", \"x\": 1,"
                     "   \"params\": {\"test_sizes_mb\": [8], \"tuning\": {\"a\": true}}},"
                     " \"framework\": {\"name\": \"f\", \"version\": \"2\"},"
                     " \"metrics\": {\"metrics\": {}, \"units\": \"si\"},"
                     " \"capability_requirements\": {\"gpu_requirements\": {\"min_gpu_count\": 1},"
                     "   \"new_req\": 5},"
                     " \"updated_at\": \"2026-01-02T03:04:05Z\"}");
    rk_experiment_t x, y;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), RK_OK);
    json_t *enc = rk_experiment_encode(&x);
    assert_non_null(enc);
    assert_true(json_equal(json_object_get(enc, "future"), json_object_get(v, "future")));
    /* The id is always the derived one. */
    assert_string_equal(json_string_value(json_object_get(enc, "id")), "exp_5d4140");
    json_t *task = json_object_get(enc, "task");
    assert_int_equal(json_integer_value(json_object_get(task, "x")), 1);
    assert_non_null(json_object_get(json_object_get(task, "params"), "tuning"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(enc, "framework"), "version")), "2");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(enc, "metrics"), "units")), "si");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(enc, "capability_requirements"), "new_req")),
                     5);
    assert_string_equal(json_string_value(json_object_get(enc, "updated_at")),
                        "2026-01-02T03:04:05.000000Z");
    assert_int_equal(x.requirements.min_gpu_count, 1);

    /* Second round: identical encoding. */
    assert_int_equal(rk_experiment_decode(enc, "", &y, &e), RK_OK);
    json_t *enc2 = rk_experiment_encode(&y);
    assert_true(json_equal(enc, enc2));
    json_decref(enc2);
    rk_experiment_cleanup(&y);
    json_decref(enc);
    rk_experiment_cleanup(&x);
    json_decref(v);
}

static void test_encode_is_independent_of_spec(void **state)
{
    (void)state;
    json_t *v = load(valid_spec);
    rk_experiment_t x;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), RK_OK);
    json_t *enc = rk_experiment_encode(&x);
    json_object_set_new(json_object_get(json_object_get(enc, "task"), "params"), "runs_per_job",
                        json_integer(99));
    assert_int_equal(json_integer_value(json_object_get(x.task.params, "runs_per_job")), 3);
    json_decref(enc);
    rk_experiment_cleanup(&x);
    json_decref(v);
}

static void test_top_level_errors(void **state)
{
    (void)state;
    expect_error("[1]", "body: expected an object");
    expect_patched_error(NULL, "name", NULL, "name: field required");
    expect_patched_error(NULL, "name", "\"\"", "name: expected 1 to 256 characters");
    expect_patched_error(NULL, "name", "7", "name: expected a string");
    expect_patched_error(NULL, "model", NULL, "model: field required");
    expect_patched_error(NULL, "description", "false", "description: expected a string");
    expect_patched_error(NULL, "task", NULL, "task: field required");
    expect_patched_error(NULL, "task", "\"x\"", "task: expected an object");
    expect_patched_error(NULL, "framework", NULL, "framework: field required");
    expect_patched_error(NULL, "metrics", "[]", "metrics: expected an object");
    expect_patched_error(NULL, "capability_requirements", "3",
                         "capability_requirements: expected an object");
    expect_patched_error(NULL, "created_at", "\"yesterday\"",
                         "created_at: expected an RFC 3339 timestamp");
    expect_patched_error(NULL, "updated_at", "\"2026-02-30T00:00:00Z\"",
                         "updated_at: expected an RFC 3339 timestamp");
}

static void test_name_length_counts_characters(void **state)
{
    (void)state;
    /* 256 three-byte characters are allowed (768 bytes); 257 are not. */
    char name[3 * 257 + 1];
    for (int i = 0; i < 257; i++)
        memcpy(name + 3 * i, "\xe6\x97\xa5", 3);
    name[3 * 256] = '\0';
    json_t *v = load(valid_spec);
    json_object_set_new(v, "name", json_string(name));
    rk_experiment_t x;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), RK_OK);
    rk_experiment_cleanup(&x);
    name[3 * 256] = '\xe6'; /* back to 257 characters */
    name[3 * 257] = '\0';
    json_object_set_new(v, "name", json_string(name));
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), RK_EINVAL);
    assert_string_equal(e.msg, "name: expected 1 to 256 characters");
    rk_experiment_cleanup(&x);
    json_decref(v);
}

static void test_nested_errors(void **state)
{
    (void)state;
    expect_patched_error("task", "type", "\"dance\"",
                         "task.type: expected one of llm_generation, gpu_benchmark, "
                         "memory_benchmark, compute_benchmark, command");
    expect_patched_error("task", "name", NULL, "task.name: field required");
    expect_patched_error("task", "description", "1", "task.description: expected a string");
    expect_patched_error("task", "params", "[]", "task.params: expected an object");
    expect_patched_error("task", "params", "{\"argv\": \"ls\"}",
                         "task.params.argv: expected an array of strings");
    expect_patched_error("framework", "name", NULL, "framework.name: field required");
    expect_patched_error("framework", "params", "1", "framework.params: expected an object");
    expect_patched_error("metrics", "metrics", "\"a\"", "metrics.metrics: expected an object");
    expect_patched_error("capability_requirements", "timeout_seconds", "0",
                         "capability_requirements.timeout_seconds: expected an integer from 1 "
                         "to 2147483647");
}

static void test_execute_request(void **state)
{
    (void)state;
    json_t *spec = load(valid_spec);
    json_t *req = json_pack("{s:O, s:s, s:i}", "experiment_spec", spec, "job_id", "job_0123abcd",
                            "ignored", 1);
    rk_execute_request_t r, r2;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_execute_request_decode(req, "", &r, &e), RK_OK);
    assert_string_equal(r.job_id, "job_0123abcd");
    assert_string_equal(r.spec.id, "exp_44ba5c");
    json_t *enc = rk_execute_request_encode(&r);
    assert_non_null(enc);
    assert_null(json_object_get(enc, "ignored"));
    assert_int_equal(rk_execute_request_decode(enc, "", &r2, &e), RK_OK);
    json_t *enc2 = rk_execute_request_encode(&r2);
    assert_true(json_equal(enc, enc2));
    json_decref(enc2);
    json_decref(enc);
    rk_execute_request_cleanup(&r2);
    rk_execute_request_cleanup(&r);

    /* Errors inside the spec carry the experiment_spec prefix. */
    json_object_set_new(json_object_get(spec, "task"), "type", json_string("x"));
    assert_int_equal(rk_execute_request_decode(req, "", &r, &e), RK_EINVAL);
    assert_int_equal(strncmp(e.msg, "experiment_spec.task.type: expected one of", 42), 0);
    rk_execute_request_cleanup(&r);

    json_object_set_new(req, "job_id", json_string("../etc"));
    assert_int_equal(rk_execute_request_decode(req, "", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, "job_id: expected an id of 1 to 64 characters from [A-Za-z0-9_.-]");
    rk_execute_request_cleanup(&r);

    json_object_set_new(req, "job_id", json_string("job_1"));
    json_object_del(req, "experiment_spec");
    assert_int_equal(rk_execute_request_decode(req, "", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, "experiment_spec: field required");
    rk_execute_request_cleanup(&r);

    json_object_set_new(req, "experiment_spec", json_integer(1));
    assert_int_equal(rk_execute_request_decode(req, "", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, "experiment_spec: expected an object");
    rk_execute_request_cleanup(&r);

    json_decref(req);
    json_decref(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_md5),
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_defaults_when_optional_absent),
        cmocka_unit_test(test_round_trip_keeps_unknown_fields),
        cmocka_unit_test(test_encode_is_independent_of_spec),
        cmocka_unit_test(test_top_level_errors),
        cmocka_unit_test(test_name_length_counts_characters),
        cmocka_unit_test(test_nested_errors),
        cmocka_unit_test(test_execute_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
