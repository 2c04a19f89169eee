/* AgentInfo as the original ruckus clients read it (protocol.md,
 * "Compatibility"): system_info.system, frameworks (command, and OpenBLAS
 * with the version of the library the compute benchmark would load),
 * models keyed by name, metrics, hooks; capabilities with a boolean per
 * task type. From a real agent, and through the server unchanged. Its
 * --label labels, and the startup error for a bad one. */
#include "model/agent.h"
#include "rk_test_run.h"
#include "server_fixture.h"
#include "sysinfo/sysinfo.h"

static void test_agent_info_compat(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "memory", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    rk_test_resp_t r;
    rk_test_req(&f.agents[0].p, "GET", "/api/v1/info", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *info = json_object_get(r.json, "agent_info");
    json_t *si = json_object_get(info, "system_info");
    json_t *sys = json_object_get(si, "system");
    assert_string_equal(json_string_value(json_object_get(sys, "hostname")),
                        json_string_value(json_object_get(si, "hostname")));
    assert_string_equal(json_string_value(json_object_get(sys, "os")), "linux");
    assert_true(json_is_object(json_object_get(si, "models")));
    assert_true(json_is_array(json_object_get(si, "hooks")));
    assert_int_equal(json_array_size(json_object_get(si, "hooks")), 0);
    /* frameworks: command and openai (llm_generation) always; OpenBLAS as
     * the benchmark child finds it. */
    json_t *fw = json_object_get(si, "frameworks");
    assert_string_equal(json_string_value(json_object_get(json_array_get(fw, 0), "name")),
                        "command");
    assert_string_equal(json_string_value(json_object_get(json_array_get(fw, 1), "name")),
                        "openai");
    json_t *blas = rk_sysinfo_openblas();
    if (blas) {
        assert_int_equal(json_array_size(fw), 3);
        json_t *b = json_array_get(fw, 2);
        assert_string_equal(json_string_value(json_object_get(b, "name")), "openblas");
        assert_true(json_equal(json_object_get(b, "version"), json_object_get(blas, "version")));
        json_decref(blas);
    }
    /* metrics: each with a name and a unit. */
    json_t *metrics = json_object_get(si, "metrics");
    assert_true(json_array_size(metrics) >= 5);
    size_t i;
    json_t *m;
    bool read_bw = false;
    json_array_foreach(metrics, i, m)
    {
        assert_non_null(json_string_value(json_object_get(m, "name")));
        assert_non_null(json_string_value(json_object_get(m, "unit")));
        read_bw |=
            !strcmp(json_string_value(json_object_get(m, "name")), "memory_read_bandwidth_gb_s");
    }
    assert_true(read_bw);
    /* capabilities: slots, task_types, and a flag per task type. */
    json_t *caps = json_object_get(info, "capabilities");
    assert_int_equal(json_integer_value(json_object_get(caps, "slots")), 2);
    assert_int_equal(json_array_size(json_object_get(caps, "task_types")), 4);
    assert_true(json_is_true(json_object_get(caps, "memory_benchmark")));
    assert_true(json_is_true(json_object_get(caps, "compute_benchmark")));
    assert_true(json_is_true(json_object_get(caps, "command")));
    assert_true(json_is_false(json_object_get(caps, "gpu_benchmark")));
    assert_true(json_is_true(json_object_get(caps, "llm_generation")));

    /* The server keeps and serves all of it. */
    long st;
    json_t *v = fx_callf(&f, "GET", &st, NULL, "/api/v1/agents/%s", f.agent_ids[0]);
    assert_int_equal(st, 200);
    json_t *stored = json_object_get(v, "agent");
    json_t *sc = json_object_get(stored, "capabilities");
    assert_true(json_is_false(json_object_get(sc, "gpu_benchmark")));
    assert_true(json_is_true(json_object_get(sc, "memory_benchmark")));
    json_t *ssi = json_object_get(stored, "system_info");
    assert_true(json_equal(json_object_get(ssi, "frameworks"), fw));
    assert_true(json_equal(json_object_get(ssi, "system"), sys));
    json_decref(v);

    /* The matrix: every agent x every task type, with why not. */
    v = fx_call(&f, "GET", "/api/v1/agents/compatibility/matrix", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total_agents")), 1);
    assert_int_equal(json_array_size(json_object_get(v, "experiment_types")), 5);
    assert_non_null(json_string_value(json_object_get(v, "checked_at")));
    json_t *ec = json_object_get(json_object_get(json_object_get(v, "agents"), f.agent_ids[0]),
                                 "experiment_compatibility");
    json_t *mem = json_object_get(ec, "memory_benchmark");
    assert_true(json_is_true(json_object_get(mem, "compatible")));
    assert_int_equal(json_array_size(json_object_get(mem, "missing_requirements")), 0);
    json_t *gpu = json_object_get(ec, "gpu_benchmark");
    assert_true(json_is_false(json_object_get(gpu, "compatible")));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(gpu, "missing_requirements"), 0)),
        "task type gpu_benchmark");
    json_t *avail = json_object_get(gpu, "available_capabilities");
    bool has_cmd = false;
    json_array_foreach(avail, i, m) has_cmd |= !strcmp(json_string_value(m), "command");
    assert_true(has_cmd);
    json_decref(v);
    rk_test_resp_cleanup(&r);
    fx_cleanup(&f);
}

/* --label key=value (repeated) is AgentInfo labels, which the model's
 * decoder (the server's) takes; no label: no labels member. */
static void test_labels(void **state)
{
    (void)state;
    const char *args[] = {"--label", "gpu=a100", "--label", "zone=eu,1", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/info", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *info = json_object_get(r.json, "agent_info");
    json_t *labels = json_object_get(info, "labels");
    assert_int_equal(json_object_size(labels), 2);
    assert_string_equal(json_string_value(json_object_get(labels, "gpu")), "a100");
    assert_string_equal(json_string_value(json_object_get(labels, "zone")), "eu,1");
    rk_agent_info_t ai = {0};
    rk_verr_t e = {{0}};
    assert_int_equal(rk_agent_info_decode(info, "", &ai, &e), 0);
    json_t *want = json_pack("{s:s}", "gpu", "a100");
    assert_true(rk_agent_info_labels_match(&ai, want));
    json_object_set_new(want, "gpu", json_string("h100"));
    assert_false(rk_agent_info_labels_match(&ai, want));
    json_decref(want);
    rk_agent_info_cleanup(&ai);
    rk_test_resp_cleanup(&r);
    rk_test_agent_cleanup(&a);

    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    rk_test_req(&a.p, "GET", "/api/v1/info", NULL, NULL, &r);
    assert_null(json_object_get(json_object_get(r.json, "agent_info"), "labels"));
    rk_test_resp_cleanup(&r);
    rk_test_agent_cleanup(&a);
}

/* A bad label stops the agent at startup, exit 2, naming the option. */
static void test_bad_label(void **state)
{
    (void)state;
    static rk_test_run_t r;
    const char *args[] = {"--port", "0", "--label", "bad key=1", NULL};
    assert_int_equal(rk_test_run(&r, "ruckus-agent", args, 0), 0);
    assert_int_equal(r.code, 2);
    assert_non_null(
        strstr(r.err, "ruckus-agent: --label (RUCKUS_AGENT_LABELS): expected key=value"));
    assert_non_null(strstr(r.err, "got \"bad key=1\""));
}

static void test_openblas_version_from_path(void **state)
{
    (void)state;
    char v[32];
    rk_sysinfo_openblas_version_from_path(
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so", v, sizeof v);
    assert_string_equal(v, "0.3.21");
    rk_sysinfo_openblas_version_from_path("/opt/lib/libopenblas.so.0.3.26", v, sizeof v);
    assert_string_equal(v, "0.3.26");
    rk_sysinfo_openblas_version_from_path("/usr/lib/libopenblas.so.0", v, sizeof v);
    assert_string_equal(v, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_info_compat),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_bad_label),
        cmocka_unit_test(test_openblas_version_from_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
