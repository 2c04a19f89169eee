/* Unknown fields in the known objects of a spec are said, with a hint;
 * free-form objects never are (lib/model/lint.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/lint.h"

static json_t *lint(const char *text)
{
    json_error_t je;
    json_t *spec = json_loads(text, 0, &je);
    assert_non_null(spec);
    json_t *w = rk_experiment_lint(spec, "experiment_spec");
    json_decref(spec);
    assert_non_null(w);
    return w;
}

static const char *at(const json_t *w, size_t i)
{
    return json_string_value(json_array_get(w, i));
}

static void test_clean_spec(void **state)
{
    (void)state;
    json_t *w =
        lint("{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":\"command\","
             "\"params\":{\"argv\":[\"true\"],\"runs_per_job\":3,\"rlimits\":{\"nofile\":64}}},"
             "\"framework\":{\"name\":\"f\",\"params\":{\"anything\":1}},"
             "\"metrics\":{\"metrics\":{\"wall_time_s\":{\"higher_is_better\":false}}},"
             "\"capability_requirements\":{\"timeout_seconds\":5,"
             "\"system_requirements\":{\"min_cpu_cores\":1}}}");
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);
}

static void test_typos(void **state)
{
    (void)state;
    json_t *w =
        lint("{\"name\":\"x\",\"model\":\"m\",\"descripton\":\"d\","
             "\"task\":{\"name\":\"t\",\"type\":\"command\",\"params\":{\"argv\":[\"true\"],"
             "\"timeout_secs\":10,\"rlimits\":{\"memory\":5}}},"
             "\"framework\":{\"name\":\"f\"},\"metrics\":{\"metrics\":{}},"
             "\"capability_requirements\":{\"timeout_secs\":10,"
             "\"gpu_requirements\":{\"min_gpus\":1},\"zzz\":1}}");
    assert_int_equal(json_array_size(w), 6);
    assert_string_equal(
        at(w, 0), "experiment_spec.descripton: unknown field, ignored; did you mean description?");
    assert_string_equal(at(w, 1), "experiment_spec.task.params.timeout_secs: unknown field, "
                                  "ignored; it belongs in capability_requirements.timeout_seconds");
    assert_string_equal(at(w, 2), "experiment_spec.task.params.rlimits.memory: unknown field, "
                                  "ignored; did you mean memory_mb?");
    assert_string_equal(at(w, 3), "experiment_spec.capability_requirements.timeout_secs: unknown "
                                  "field, ignored; did you mean timeout_seconds?");
    assert_string_equal(at(w, 4),
                        "experiment_spec.capability_requirements.zzz: unknown field, ignored");
    assert_string_equal(at(w, 5), "experiment_spec.capability_requirements.gpu_requirements."
                                  "min_gpus: unknown field, ignored; did you mean min_gpu_count?");
    json_decref(w);
}

static void test_llm_typos(void **state)
{
    (void)state;
    json_t *w = lint("{\"task\":{\"type\":\"llm_generation\",\"params\":{"
                     "\"endpoint\":{\"base_url\":\"http://h\",\"api\":\"chat\",\"modle\":\"m\"},"
                     "\"prompts\":[],\"concurrancy\":[1],\"slo\":{\"tpot_m\":1},"
                     "\"server\":{\"argv\":[\"x\"],\"ready_path\":\"/\"},"
                     "\"synthetic\":{\"input_tokens\":1,\"output_tokens\":1}}}}");
    assert_int_equal(json_array_size(w), 3);
    assert_string_equal(at(w, 0), "experiment_spec.task.params.concurrancy: unknown field, "
                                  "ignored; did you mean concurrency?");
    assert_string_equal(at(w, 1), "experiment_spec.task.params.endpoint.modle: unknown field, "
                                  "ignored; did you mean model?");
    assert_string_equal(at(w, 2), "experiment_spec.task.params.slo.tpot_m: unknown field, "
                                  "ignored; did you mean tpot_ms?");
    json_decref(w);
}

/* issue 13's isolation and limits: known keys pass, a typo is named. */
static void test_isolation(void **state)
{
    (void)state;
    json_t *w = lint("{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":"
                     "\"command\",\"params\":{\"argv\":[\"true\"],\"isolation\":{\"network\":"
                     "\"none\",\"rootfs\":\"bb\",\"binds\":[]},\"limits\":{\"memory_mb\":64,"
                     "\"pids\":9,\"cpus\":1,\"cpu_weight\":5,\"memory\":1}}},"
                     "\"framework\":{\"name\":\"f\"},\"metrics\":{\"metrics\":{}}}");
    assert_int_equal(json_array_size(w), 1);
    assert_string_equal(at(w, 0), "experiment_spec.task.params.limits.memory: unknown field, "
                                  "ignored; did you mean memory_mb?");
    json_decref(w);
}

/* task.params.container: known keys pass, a typo is named. */
static void test_container(void **state)
{
    (void)state;
    json_t *w = lint("{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":"
                     "\"command\",\"params\":{\"argv\":[\"true\"],\"container\":{\"image\":"
                     "\"bb\",\"pull\":\"never\",\"env\":{},\"workdir\":\"/w\",\"network\":"
                     "\"none\",\"imge\":1}}},\"framework\":{\"name\":\"f\"},\"metrics\":{"
                     "\"metrics\":{}}}");
    assert_int_equal(json_array_size(w), 1);
    assert_string_equal(at(w, 0), "experiment_spec.task.params.container.imge: unknown field, "
                                  "ignored; did you mean image?");
    json_decref(w);
}

static void test_free_form_and_garbage(void **state)
{
    (void)state;
    /* GPU params are free-form here; a missing task type is no crash. */
    json_t *w = lint("{\"task\":{\"type\":\"gpu_benchmark\",\"params\":{\"whatever\":1}}}");
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);
    w = lint("{\"task\":{\"params\":{\"x\":1}},\"capability_requirements\":[1]}");
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);
    w = lint("[1,2]");
    assert_int_equal(json_array_size(w), 0);
    json_decref(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_spec), cmocka_unit_test(test_typos),
        cmocka_unit_test(test_llm_typos),  cmocka_unit_test(test_isolation),
        cmocka_unit_test(test_container),  cmocka_unit_test(test_free_form_and_garbage)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
