/* Typed task params and capability requirements: defaults, accepted values
 * and every validation message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/params.h"

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    return v;
}

static void expect_params_error(rk_task_type_t type, const char *text, const char *msg)
{
    json_t *v = load(text);
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", type, &p, &e), RK_EINVAL);
    assert_string_equal(e.msg, msg);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void expect_req_error(const char *text, const char *msg)
{
    json_t *v = load(text);
    rk_requirements_t r;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_requirements_decode(v, "capability_requirements", &r, &e), RK_EINVAL);
    assert_string_equal(e.msg, msg);
    rk_requirements_cleanup(&r);
    json_decref(v);
}

static void test_runs_per_job(void **state)
{
    (void)state;
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(NULL, "task.params", RK_TASK_GPU_BENCHMARK, &p, &e),
                     RK_OK);
    assert_int_equal(p.runs_per_job, 1);
    rk_task_params_cleanup(&p);

    json_t *v = load("{\"runs_per_job\": 100, \"anything\": [1]}");
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_GPU_BENCHMARK, &p, &e), RK_OK);
    assert_int_equal(p.runs_per_job, 100);
    rk_task_params_cleanup(&p);
    json_decref(v);

    for (int t = 0; t < RK_TASK_TYPE_COUNT; t++) {
        expect_params_error((rk_task_type_t)t, "{\"runs_per_job\": 0, \"argv\": [\"x\"]}",
                            "task.params.runs_per_job: expected an integer from 1 to 100");
        expect_params_error((rk_task_type_t)t, "{\"runs_per_job\": 101, \"argv\": [\"x\"]}",
                            "task.params.runs_per_job: expected an integer from 1 to 100");
    }
    expect_params_error(RK_TASK_GPU_BENCHMARK, "{\"runs_per_job\": 1.5}",
                        "task.params.runs_per_job: expected an integer");
    expect_params_error(RK_TASK_GPU_BENCHMARK, "[]", "task.params: expected an object");
}

static void test_command_full(void **state)
{
    (void)state;
    json_t *v =
        load("{\"argv\": [\"sh\", \"-c\", \"echo $X\"], \"env\": {\"X\": \"1\", \"Y\": \"\"},"
             " \"workdir\": \"out/run\", \"stdin\": \"hello\","
             " \"rlimits\": {\"cpu_seconds\": 10, \"memory_mb\": 512, \"nofile\": 64,"
             "   \"nproc\": 8}}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    const rk_command_params_t *c = &p.command;
    assert_int_equal(c->argc, 3);
    assert_string_equal(c->argv[2], "echo $X");
    assert_null(c->argv[3]);
    assert_int_equal(c->n_env, 2);
    assert_string_equal(c->env[0].name, "X");
    assert_string_equal(c->env[0].value, "1");
    assert_string_equal(c->env[1].name, "Y");
    assert_string_equal(c->env[1].value, "");
    assert_string_equal(c->workdir, "out/run");
    assert_string_equal(c->stdin_data, "hello");
    assert_int_equal(c->stdin_len, 5);
    assert_int_equal(c->rlimits.cpu_seconds, 10);
    assert_int_equal(c->rlimits.memory_mb, 512);
    assert_int_equal(c->rlimits.nofile, 64);
    assert_int_equal(c->rlimits.nproc, 8);
    rk_task_params_cleanup(&p);
    json_decref(v);

    v = load("{\"argv\": [\"true\"]}");
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    assert_null(p.command.workdir);
    assert_null(p.command.stdin_data);
    assert_int_equal(p.command.n_env, 0);
    assert_int_equal(p.command.rlimits.memory_mb, 0);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_command_errors(void **state)
{
    (void)state;
    const rk_task_type_t c = RK_TASK_COMMAND;
    expect_params_error(c, "{}", "task.params.argv: field required");
    expect_params_error(c, "{\"argv\": \"ls\"}", "task.params.argv: expected an array of strings");
    expect_params_error(c, "{\"argv\": [\"ls\", 1]}",
                        "task.params.argv: expected an array of strings");
    expect_params_error(c, "{\"argv\": []}",
                        "task.params.argv: expected a non-empty array of strings");
    expect_params_error(c, "{\"argv\": [\"\"]}",
                        "task.params.argv[0]: expected a non-empty string");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"env\": []}",
                        "task.params.env: expected an object of strings");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"env\": {\"A\": 1}}",
                        "task.params.env.A: expected a string");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"env\": {\"A=B\": \"x\"}}",
                        "task.params.env.A=B: expected a variable name without '='");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"env\": {\"\": \"x\"}}",
                        "task.params.env.: expected a variable name without '='");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"workdir\": \"/tmp\"}",
                        "task.params.workdir: expected a relative path without '..'");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"workdir\": \"..\"}",
                        "task.params.workdir: expected a relative path without '..'");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"workdir\": \"a/../../b\"}",
                        "task.params.workdir: expected a relative path without '..'");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"workdir\": \"a//..\"}",
                        "task.params.workdir: expected a relative path without '..'");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"workdir\": 3}",
                        "task.params.workdir: expected a string");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"stdin\": {}}",
                        "task.params.stdin: expected a string");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"rlimits\": 5}",
                        "task.params.rlimits: expected an object");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"rlimits\": {\"cpu_seconds\": 0}}",
                        "task.params.rlimits.cpu_seconds: expected an integer from 1 to "
                        "2147483647");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"rlimits\": {\"memory_mb\": -1}}",
                        "task.params.rlimits.memory_mb: expected an integer from 1 to "
                        "1073741824");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"rlimits\": {\"nofile\": \"9\"}}",
                        "task.params.rlimits.nofile: expected an integer");
    expect_params_error(c, "{\"argv\": [\"ls\"], \"rlimits\": {\"nproc\": 2.5}}",
                        "task.params.rlimits.nproc: expected an integer");

    /* Names that merely contain dots are fine. */
    json_t *v = load("{\"argv\": [\"ls\"], \"workdir\": \"..a/b..c/.\"}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMMAND, &p, &e), RK_OK);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_memory_benchmark(void **state)
{
    (void)state;
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    json_t *v = load("{}");
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_MEMORY_BENCHMARK, &p, &e),
                     RK_OK);
    assert_int_equal(p.memory.n_sizes, 2);
    assert_int_equal(p.memory.test_sizes_mb[0], 64);
    assert_int_equal(p.memory.test_sizes_mb[1], 256);
    assert_true(p.memory.sequential);
    assert_true(p.memory.random);
    assert_int_equal(p.memory.iterations_per_size, 3);
    rk_task_params_cleanup(&p);
    json_decref(v);

    v = load("{\"test_sizes_mb\": [1, 65536, 8.0], \"test_patterns\": [\"random\"],"
             " \"iterations_per_size\": 1000}");
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_MEMORY_BENCHMARK, &p, &e),
                     RK_OK);
    assert_int_equal(p.memory.n_sizes, 3);
    assert_int_equal(p.memory.test_sizes_mb[1], 65536);
    assert_int_equal(p.memory.test_sizes_mb[2], 8);
    assert_false(p.memory.sequential);
    assert_true(p.memory.random);
    assert_int_equal(p.memory.iterations_per_size, 1000);
    rk_task_params_cleanup(&p);
    json_decref(v);

    const rk_task_type_t m = RK_TASK_MEMORY_BENCHMARK;
    expect_params_error(m, "{\"test_sizes_mb\": 64}",
                        "task.params.test_sizes_mb: expected a non-empty array of integers");
    expect_params_error(m, "{\"test_sizes_mb\": []}",
                        "task.params.test_sizes_mb: expected a non-empty array of integers");
    expect_params_error(m, "{\"test_sizes_mb\": [64, 0]}",
                        "task.params.test_sizes_mb[1]: expected an integer from 1 to 65536");
    expect_params_error(m, "{\"test_sizes_mb\": [65537]}",
                        "task.params.test_sizes_mb[0]: expected an integer from 1 to 65536");
    expect_params_error(m, "{\"test_sizes_mb\": [\"64\"]}",
                        "task.params.test_sizes_mb[0]: expected an integer from 1 to 65536");
    expect_params_error(m, "{\"test_patterns\": [\"sequential\", \"strided\"]}",
                        "task.params.test_patterns[1]: expected one of sequential, random");
    expect_params_error(m, "{\"test_patterns\": []}",
                        "task.params.test_patterns: expected a non-empty array of sequential, "
                        "random");
    expect_params_error(m, "{\"iterations_per_size\": 0}",
                        "task.params.iterations_per_size: expected an integer from 1 to 1000");
    expect_params_error(m, "{\"iterations_per_size\": 1001}",
                        "task.params.iterations_per_size: expected an integer from 1 to 1000");
}

static void test_compute_benchmark(void **state)
{
    (void)state;
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(NULL, "task.params", RK_TASK_COMPUTE_BENCHMARK, &p, &e),
                     RK_OK);
    assert_int_equal(p.compute.n_precisions, 2);
    assert_int_equal(p.compute.precisions[0], RK_PREC_FP64);
    assert_int_equal(p.compute.precisions[1], RK_PREC_FP32);
    assert_int_equal(p.compute.n_matrix_sizes, 3);
    assert_int_equal(p.compute.matrix_sizes[2], 2048);
    rk_task_params_cleanup(&p);

    json_t *v = load("{\"precision_types\": [\"bf16\", \"int8\"], \"matrix_sizes\": [16384]}");
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_COMPUTE_BENCHMARK, &p, &e),
                     RK_OK);
    assert_int_equal(p.compute.n_precisions, 2);
    assert_int_equal(p.compute.precisions[0], RK_PREC_BF16);
    assert_int_equal(p.compute.precisions[1], RK_PREC_INT8);
    assert_int_equal(p.compute.n_matrix_sizes, 1);
    assert_int_equal(p.compute.matrix_sizes[0], 16384);
    rk_task_params_cleanup(&p);
    json_decref(v);

    const rk_task_type_t c = RK_TASK_COMPUTE_BENCHMARK;
    expect_params_error(c, "{\"precision_types\": [\"fp32\", \"fp4\"]}",
                        "task.params.precision_types[1]: expected one of fp64, fp32, tf32, fp16, "
                        "bf16, int8, fp8");
    expect_params_error(c, "{\"precision_types\": \"fp32\"}",
                        "task.params.precision_types: expected a non-empty array of precision "
                        "types");
    expect_params_error(c, "{\"matrix_sizes\": [0]}",
                        "task.params.matrix_sizes[0]: expected an integer from 1 to 16384");
    expect_params_error(c, "{\"matrix_sizes\": [16385]}",
                        "task.params.matrix_sizes[0]: expected an integer from 1 to 16384");
}

static void test_requirements(void **state)
{
    (void)state;
    rk_requirements_t r;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_requirements_decode(NULL, "capability_requirements", &r, &e), RK_OK);
    assert_int_equal(r.timeout_seconds, 3600);
    assert_int_equal(r.n_capabilities, 0);
    rk_requirements_cleanup(&r);

    json_t *v = load("{\"timeout_seconds\": 30, \"required_capabilities\": [\"docker\"],"
                     " \"gpu_requirements\": {\"min_gpu_count\": 2, \"min_memory_mb\": 8192,"
                     "   \"required_vendors\": [\"nvidia\", \"amd\"]},"
                     " \"system_requirements\": {\"min_total_memory_gb\": 15.5,"
                     "   \"required_os_types\": [\"linux\"], \"required_cpu_architectures\":"
                     "   [\"x86_64\"], \"min_cpu_cores\": 4},"
                     " \"model_requirements\": {\"required_frameworks\": [\"pytorch\"]},"
                     " \"unknown\": true}");
    assert_int_equal(rk_requirements_decode(v, "capability_requirements", &r, &e), RK_OK);
    assert_int_equal(r.timeout_seconds, 30);
    assert_int_equal(r.n_capabilities, 1);
    assert_string_equal(r.capabilities[0], "docker");
    assert_int_equal(r.min_gpu_count, 2);
    assert_int_equal(r.min_gpu_memory_mb, 8192);
    assert_int_equal(r.n_gpu_vendors, 2);
    assert_string_equal(r.gpu_vendors[1], "amd");
    assert_true(r.min_total_memory_gb == 15.5);
    assert_string_equal(r.os_types[0], "linux");
    assert_string_equal(r.cpu_architectures[0], "x86_64");
    assert_int_equal(r.min_cpu_cores, 4);
    assert_int_equal(r.n_frameworks, 1);
    assert_string_equal(r.frameworks[0], "pytorch");
    rk_requirements_cleanup(&r);
    json_decref(v);

    expect_req_error("[]", "capability_requirements: expected an object");
    expect_req_error("{\"timeout_seconds\": 0}",
                     "capability_requirements.timeout_seconds: expected an integer from 1 to "
                     "2147483647");
    expect_req_error("{\"timeout_seconds\": \"1h\"}",
                     "capability_requirements.timeout_seconds: expected an integer");
    expect_req_error("{\"required_capabilities\": \"gpu\"}",
                     "capability_requirements.required_capabilities: expected an array of "
                     "strings");
    expect_req_error("{\"gpu_requirements\": []}",
                     "capability_requirements.gpu_requirements: expected an object");
    expect_req_error("{\"gpu_requirements\": {\"min_gpu_count\": -1}}",
                     "capability_requirements.gpu_requirements.min_gpu_count: expected an "
                     "integer from 0 to 2147483647");
    expect_req_error("{\"gpu_requirements\": {\"required_vendors\": [1]}}",
                     "capability_requirements.gpu_requirements.required_vendors: expected an "
                     "array of strings");
    expect_req_error("{\"system_requirements\": {\"min_total_memory_gb\": -1}}",
                     "capability_requirements.system_requirements.min_total_memory_gb: "
                     "expected a number from 0 to 1e+12");
    expect_req_error("{\"system_requirements\": {\"min_cpu_cores\": 1.5}}",
                     "capability_requirements.system_requirements.min_cpu_cores: expected an "
                     "integer");
    expect_req_error("{\"system_requirements\": {\"required_os_types\": {}}}",
                     "capability_requirements.system_requirements.required_os_types: expected "
                     "an array of strings");
    expect_req_error("{\"model_requirements\": {\"required_frameworks\": null, \"x\": 1},"
                     " \"system_requirements\": 4}",
                     "capability_requirements.system_requirements: expected an object");
    expect_req_error("{\"model_requirements\": {\"required_frameworks\": [true]}}",
                     "capability_requirements.model_requirements.required_frameworks: expected "
                     "an array of strings");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_per_job),      cmocka_unit_test(test_command_full),
        cmocka_unit_test(test_command_errors),    cmocka_unit_test(test_memory_benchmark),
        cmocka_unit_test(test_compute_benchmark), cmocka_unit_test(test_requirements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
