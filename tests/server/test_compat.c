/* rk_srv_compat: an experiment's task type and capability_requirements
 * against an agent's AgentInfo, with what is missing spelled out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/internal.h"

static const char *agent_json =
    "{\"agent_id\":\"a1\",\"agent_type\":\"white_box\",\"last_updated\":\"2026-01-01T00:00:00Z\","
    "\"capabilities\":{\"slots\":2,\"task_types\":[\"command\",\"memory_benchmark\"],"
    "\"frameworks\":[\"PyTorch\"],\"docker\":true},"
    "\"system_info\":{\"os\":{\"type\":\"linux\"},\"cpu\":{\"architecture\":\"x86_64\",\"cores\":8}"
    ","
    "\"memory\":{\"total_mb\":16384},\"gpu_count\":1,"
    "\"gpus\":[{\"vendor\":\"nvidia\",\"memory_total_mb\":24576}]}}";

static void load(const char *text, rk_agent_info_t *a)
{
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    rk_verr_t e;
    assert_int_equal(rk_agent_info_decode(v, "", a, &e), 0);
    json_decref(v);
}

/* Checks spec (with the given type and requirements JSON) and returns the
 * missing list joined by "|". */
static bool check(const char *type, const char *req, char *out, size_t n)
{
    char text[2048];
    snprintf(
        text, sizeof text,
        "{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":\"%s\",\"params\":%s},"
        "\"framework\":{\"name\":\"f\"},\"metrics\":{\"metrics\":{}}%s%s}",
        type, strcmp(type, "command") ? "{}" : "{\"argv\":[\"true\"]}",
        req ? ",\"capability_requirements\":" : "", req ? req : "");
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    rk_experiment_t x = {0};
    rk_verr_t e;
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), 0);
    rk_agent_info_t a = {0};
    load(agent_json, &a);
    json_t *missing = json_array(), *warnings = json_array();
    bool ok = rk_srv_compat(&x, &a, missing, warnings);
    out[0] = '\0';
    size_t i;
    json_t *s;
    json_array_foreach(missing, i, s)
    {
        strncat(out, json_string_value(s), n - strlen(out) - 2);
        strcat(out, "|");
    }
    assert_int_equal(ok, json_array_size(missing) == 0);
    json_decref(missing);
    json_decref(warnings);
    rk_agent_info_cleanup(&a);
    rk_experiment_cleanup(&x);
    json_decref(v);
    return ok;
}

static void test_fits(void **state)
{
    char m[2048];
    assert_true(check("command", NULL, m, sizeof m));
    assert_true(
        check("memory_benchmark",
              "{\"required_capabilities\":[\"docker\",\"command\"],"
              "\"gpu_requirements\":{\"min_gpu_count\":1,\"min_memory_mb\":16000,"
              "\"required_vendors\":[\"NVIDIA\"]},"
              "\"system_requirements\":{\"min_total_memory_gb\":16,"
              "\"required_os_types\":[\"Linux\"],\"required_cpu_architectures\":[\"x86_64\"],"
              "\"min_cpu_cores\":8},\"model_requirements\":{\"required_frameworks\":[\"pytorch\"]},"
              "\"timeout_seconds\":5}",
              m, sizeof m));
}

static void test_missing(void **state)
{
    char m[2048];
    assert_false(check("compute_benchmark", NULL, m, sizeof m));
    assert_string_equal(m, "task type compute_benchmark|");
    assert_false(
        check("command",
              "{\"required_capabilities\":[\"infiniband\"],"
              "\"gpu_requirements\":{\"min_gpu_count\":2,\"required_vendors\":[\"amd\"]},"
              "\"system_requirements\":{\"min_total_memory_gb\":64,"
              "\"required_os_types\":[\"darwin\"],\"required_cpu_architectures\":[\"aarch64\"],"
              "\"min_cpu_cores\":64},\"model_requirements\":{\"required_frameworks\":[\"jax\"]}}",
              m, sizeof m));
    assert_non_null(strstr(m, "capability infiniband|"));
    assert_non_null(strstr(m, "at least 2 GPUs (agent has 1)|"));
    assert_non_null(strstr(m, "a GPU from vendor amd|"));
    assert_non_null(strstr(m, "64 GB of memory (agent has 16.0)|"));
    assert_non_null(strstr(m, "operating system darwin (agent runs linux)|"));
    assert_non_null(strstr(m, "CPU architecture aarch64 (agent has x86_64)|"));
    assert_non_null(strstr(m, "64 CPU cores (agent has 8)|"));
    assert_non_null(strstr(m, "framework jax|"));
}

/* A command with params (JSON) against an agent with capabilities caps
 * (JSON members added to slots and task_types); the missing list joined
 * by "|". */
static bool check_iso(const char *params, const char *caps, char *out, size_t n)
{
    char text[2048], agent[2048];
    snprintf(text, sizeof text,
             "{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":\"command\","
             "\"params\":%s},\"framework\":{\"name\":\"f\"},\"metrics\":{\"metrics\":{}}}",
             params);
    snprintf(
        agent, sizeof agent,
        "{\"agent_id\":\"a1\",\"agent_type\":\"white_box\",\"last_updated\":"
        "\"2026-01-01T00:00:00Z\",\"capabilities\":{\"slots\":1,\"task_types\":[\"command\"]%s},"
        "\"system_info\":{\"os\":{\"type\":\"linux\"}}}",
        caps);
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    rk_experiment_t x = {0};
    rk_verr_t e;
    assert_int_equal(rk_experiment_decode(v, "", &x, &e), 0);
    rk_agent_info_t a = {0};
    load(agent, &a);
    json_t *missing = json_array(), *warnings = json_array();
    bool ok = rk_srv_compat(&x, &a, missing, warnings);
    out[0] = '\0';
    size_t i;
    json_t *s;
    json_array_foreach(missing, i, s)
    {
        strncat(out, json_string_value(s), n - strlen(out) - 2);
        strcat(out, "|");
    }
    json_decref(missing);
    json_decref(warnings);
    rk_agent_info_cleanup(&a);
    rk_experiment_cleanup(&x);
    json_decref(v);
    return ok;
}

/* Isolation, an image and limits need the agent's sandbox, that image and
 * cgroups; an agent reporting none of them (an older one) lacks them. */
static void test_isolation(void **state)
{
    (void)state;
    char m[2048];
    const char *asks = "{\"argv\":[\"true\"],\"isolation\":{\"rootfs\":\"bb\"},"
                       "\"limits\":{\"memory_mb\":64}}";
    assert_true(check_iso(
        asks, ",\"sandbox\":\"bwrap\",\"cgroups\":\"v1\",\"images\":[\"a\",\"bb\"]", m, sizeof m));
    assert_true(check_iso("{\"argv\":[\"true\"]}", "", m, sizeof m));
    assert_false(check_iso(asks, "", m, sizeof m));
    assert_string_equal(m, "a sandbox for task.params.isolation (agent has none)|"
                           "image bb for task.params.isolation.rootfs (agent does not have it)|"
                           "cgroups for task.params.limits (agent has none)|");
    assert_false(
        check_iso(asks, ",\"sandbox\":null,\"cgroups\":\"v2\",\"images\":[\"bbb\"]", m, sizeof m));
    assert_string_equal(m, "a sandbox for task.params.isolation (agent has none)|"
                           "image bb for task.params.isolation.rootfs (agent does not have it)|");
}

/* A container needs the agent's container runtime; its limits are the
 * runtime's, so no cgroups are asked for. */
static void test_container(void **state)
{
    (void)state;
    char m[2048];
    const char *asks = "{\"argv\":[\"true\"],\"container\":{\"image\":\"localhost/bb\"},"
                       "\"limits\":{\"memory_mb\":64}}";
    assert_true(check_iso(asks, ",\"cgroups\":null,\"container_runtime\":\"podman\"", m, sizeof m));
    assert_false(check_iso(asks, ",\"cgroups\":\"v2\",\"container_runtime\":null", m, sizeof m));
    assert_string_equal(m, "a container runtime for task.params.container (agent has none)|");
    assert_false(check_iso(asks, "", m, sizeof m)); /* an older agent */
    assert_string_equal(m, "a container runtime for task.params.container (agent has none)|");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_isolation),
        cmocka_unit_test(test_container),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
