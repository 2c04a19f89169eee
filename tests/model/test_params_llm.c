/* llm_generation task params: defaults, a full spec, and one row per
 * validation rule with the exact message naming the field. */
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
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("%s: %s", text, je.text);
    return v;
}

#define EP                                                                                         \
    "\"endpoint\": {\"base_url\": \"http://127.0.0.1:8000\", \"api\": \"chat\", \"model\": \"m\"}"
#define PR "\"prompts\": [{\"prompt\": \"hi\"}]"
#define CC "\"concurrency\": [1]"

static void test_defaults(void **state)
{
    (void)state;
    json_t *v = load("{" EP ", " PR ", " CC "}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_LLM_GENERATION, &p, &e), 0);
    const rk_llm_params_t *l = &p.llm;
    assert_string_equal(l->base_url, "http://127.0.0.1:8000");
    assert_int_equal(l->api, RK_LLM_API_CHAT);
    assert_string_equal(l->model, "m");
    assert_int_equal(l->server_argc, 0);
    assert_int_equal(l->n_prompts, 1);
    assert_string_equal(l->prompts[0].prompt, "hi");
    assert_int_equal(l->prompts[0].max_tokens, 0);
    assert_null(l->prompts[0].reference);
    assert_int_equal(l->n_concurrency, 1);
    assert_int_equal(l->concurrency[0], 1);
    assert_int_equal(l->num_requests, 100);
    assert_true(l->duration_s == 0);
    assert_int_equal(l->max_tokens, 128);
    assert_false(l->has_temperature);
    assert_false(l->has_seed);
    assert_false(l->ignore_eos);
    assert_true(l->burstiness == 1);
    assert_true(l->slo_ttft_ms == 0 && l->slo_tpot_ms == 0 && l->slo_e2e_ms == 0);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_full_managed_open_loop(void **state)
{
    (void)state;
    json_t *v = load(
        "{\"endpoint\": {\"api\": \"completions\", \"model\": \"tiny\"},"
        " \"server\": {\"argv\": [\"srv\", \"--port\", \"{port}\"], \"env\": {\"A\": \"1\"},"
        "  \"ready_path\": \"/v1/models\", \"ready_timeout_s\": 30},"
        " \"synthetic\": {\"input_tokens\": 32, \"output_tokens\": 64, \"count\": 5},"
        " \"request_rate\": [0.5, 2], \"burstiness\": 0.5, \"duration_s\": 10,"
        " \"warmup_requests\": 2, \"max_tokens\": 64, \"temperature\": 0, \"seed\": 7,"
        " \"ignore_eos\": true, \"slo\": {\"ttft_ms\": 200, \"tpot_ms\": 50, \"e2e_ms\": 5000}}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_LLM_GENERATION, &p, &e), 0);
    const rk_llm_params_t *l = &p.llm;
    assert_string_equal(l->base_url, "http://127.0.0.1:{port}");
    assert_int_equal(l->api, RK_LLM_API_COMPLETIONS);
    assert_int_equal(l->server_argc, 3);
    assert_string_equal(l->server_argv[2], "{port}");
    assert_null(l->server_argv[3]);
    assert_int_equal(l->n_server_env, 1);
    assert_string_equal(l->server_env[0], "A=1");
    assert_int_equal(l->server_port, 0);
    assert_string_equal(l->ready_path, "/v1/models");
    assert_int_equal(l->ready_timeout_s, 30);
    assert_true(l->synthetic);
    assert_int_equal(l->synthetic_input_tokens, 32);
    assert_int_equal(l->synthetic_output_tokens, 64);
    assert_int_equal(l->synthetic_count, 5);
    assert_int_equal(l->n_request_rate, 2);
    assert_true(l->request_rate[0] == 0.5 && l->request_rate[1] == 2);
    assert_true(l->burstiness == 0.5);
    assert_true(l->duration_s == 10);
    assert_int_equal(l->warmup_requests, 2);
    assert_true(l->has_temperature && l->temperature == 0);
    assert_true(l->has_seed && l->seed == 7);
    assert_true(l->ignore_eos);
    assert_true(l->slo_ttft_ms == 200 && l->slo_tpot_ms == 50 && l->slo_e2e_ms == 5000);
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static void test_messages_and_references(void **state)
{
    (void)state;
    json_t *v = load("{" EP ", " CC ", \"prompts\": [{\"messages\": [{\"role\": \"user\","
                     " \"content\": \"2+2?\"}], \"max_tokens\": 4, \"reference\": \"4\"}]}");
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_LLM_GENERATION, &p, &e), 0);
    assert_null(p.llm.prompts[0].prompt);
    assert_int_equal(json_array_size(p.llm.prompts[0].messages), 1);
    assert_int_equal(p.llm.prompts[0].max_tokens, 4);
    assert_string_equal(p.llm.prompts[0].reference, "4");
    rk_task_params_cleanup(&p);
    json_decref(v);
}

static const struct {
    const char *params, *msg;
} bad[] = {
    {"{" PR ", " CC "}", "task.params.endpoint: field required"},
    {"{\"endpoint\": {\"api\": \"chat\", \"model\": \"m\"}, " PR ", " CC "}",
     "task.params.endpoint.base_url: field required"},
    {"{\"endpoint\": {\"base_url\": \"https://x\", \"api\": \"chat\", \"model\": \"m\"}, " PR
     ", " CC "}",
     "task.params.endpoint.base_url: https is not supported: give an http:// URL"},
    {"{\"endpoint\": {\"base_url\": \"ftp://x\", \"api\": \"chat\", \"model\": \"m\"}, " PR ", " CC
     "}",
     "task.params.endpoint.base_url: expected an http://host[:port][/path] URL"},
    {"{\"endpoint\": {\"base_url\": \"http://h:{port}\", \"api\": \"chat\", \"model\": \"m\"}, " PR
     ", " CC "}",
     "task.params.endpoint.base_url: {port} needs a server to start"},
    {"{\"endpoint\": {\"base_url\": \"http://h\", \"api\": \"embed\", \"model\": \"m\"}, " PR
     ", " CC "}",
     "task.params.endpoint.api: expected one of completions, chat"},
    {"{\"endpoint\": {\"base_url\": \"http://h\", \"api\": \"chat\"}, " PR ", " CC "}",
     "task.params.endpoint.model: field required"},
    {"{" EP ", \"server\": {\"argv\": []}, " PR ", " CC "}",
     "task.params.server.argv: expected a non-empty array of strings"},
    {"{" EP ", \"server\": {\"argv\": [\"s\"], \"port\": 0}, " PR ", " CC "}",
     "task.params.server.port: expected an integer from 1 to 65535"},
    {"{" EP ", \"server\": {\"argv\": [\"s\"], \"ready_path\": \"health\"}, " PR ", " CC "}",
     "task.params.server.ready_path: expected a path starting with '/'"},
    {"{" EP ", \"server\": {\"argv\": [\"s\"], \"ready_timeout_s\": 0}, " PR ", " CC "}",
     "task.params.server.ready_timeout_s: expected an integer from 1 to 86400"},
    {"{" EP ", \"server\": {\"argv\": [\"s\"], \"env\": {\"A=B\": \"x\"}}, " PR ", " CC "}",
     "task.params.server.env.A=B: expected a variable name without '='"},
    {"{" EP ", " CC "}", "task.params.prompts: field required (or dataset_path or synthetic)"},
    {"{" EP ", " CC ", \"prompts\": []}",
     "task.params.prompts: expected a non-empty array of {prompt | messages}"},
    {"{" EP ", " CC ", \"prompts\": [{\"max_tokens\": 3}]}",
     "task.params.prompts[0].prompt: field required (or messages)"},
    {"{" EP ", " CC ", \"prompts\": [{\"prompt\": \"a\"}, {\"prompt\": \"a\", \"messages\": []}]}",
     "task.params.prompts[1].messages: not with prompt: give one of the two"},
    {"{" EP ", " CC ", \"prompts\": [{\"messages\": [{\"role\": \"user\"}]}]}",
     "task.params.prompts[0].messages[0].content: expected a string"},
    {"{\"endpoint\": {\"base_url\": \"http://h\", \"api\": \"completions\", \"model\": \"m\"}, " CC
     ", \"prompts\": [{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}]}",
     "task.params.prompts[0].messages: needs endpoint.api chat"},
    {"{" EP ", " CC ", \"prompts\": [{\"prompt\": \"a\", \"max_tokens\": 0}]}",
     "task.params.prompts[0].max_tokens: expected an integer from 1 to 1000000"},
    {"{" EP ", " CC ", " PR ", \"dataset_path\": \"/d.jsonl\"}",
     "task.params.dataset_path: not with prompts: give one workload"},
    {"{" EP ", " CC ", \"dataset_path\": \"d.jsonl\"}",
     "task.params.dataset_path: expected an absolute path on the agent"},
    {"{" EP ", " CC ", \"synthetic\": {\"input_tokens\": 8}}",
     "task.params.synthetic.output_tokens: field required"},
    {"{" EP ", " CC ", \"synthetic\": {\"input_tokens\": 0, \"output_tokens\": 8}}",
     "task.params.synthetic.input_tokens: expected an integer from 1 to 1000000"},
    {"{" EP ", " PR "}", "task.params.concurrency: field required (or request_rate)"},
    {"{" EP ", " PR ", \"concurrency\": [0]}",
     "task.params.concurrency[0]: expected an integer from 1 to 10000"},
    {"{" EP ", " PR ", \"concurrency\": [1, 2.5]}",
     "task.params.concurrency[1]: expected an integer from 1 to 10000"},
    {"{" EP ", " PR ", \"concurrency\": []}",
     "task.params.concurrency: expected a non-empty array of integers"},
    {"{" EP ", " PR ", " CC ", \"request_rate\": [1]}",
     "task.params.request_rate: not with concurrency: give one kind of load"},
    {"{" EP ", " PR ", \"request_rate\": [0]}",
     "task.params.request_rate[0]: expected requests per second, above 0 and at most 1e6"},
    {"{" EP ", " PR ", " CC ", \"burstiness\": 2}", "task.params.burstiness: needs request_rate"},
    {"{" EP ", " PR ", \"request_rate\": [1], \"burstiness\": 0}",
     "task.params.burstiness: expected a number from 0.01 to 100"},
    {"{" EP ", " PR ", " CC ", \"num_requests\": 5, \"duration_s\": 5}",
     "task.params.duration_s: not with num_requests: give one stage length"},
    {"{" EP ", " PR ", " CC ", \"num_requests\": 0}",
     "task.params.num_requests: expected an integer from 1 to 10000000"},
    {"{" EP ", " PR ", " CC ", \"temperature\": 3}",
     "task.params.temperature: expected a number from 0 to 2"},
    {"{" EP ", " PR ", " CC ", \"ignore_eos\": 1}",
     "task.params.ignore_eos: expected true or false"},
    {"{" EP ", " PR ", " CC ", \"slo\": {\"ttft_ms\": -1}}",
     "task.params.slo.ttft_ms: expected a number from 0.001 to 1e+09"},
};

static void test_bad_params(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *v = load(bad[i].params);
        rk_task_params_t p;
        rk_verr_t e = {{0}};
        int rc = rk_task_params_decode(v, "task.params", RK_TASK_LLM_GENERATION, &p, &e);
        if (rc != RK_EINVAL || strcmp(e.msg, bad[i].msg) != 0)
            fail_msg("row %zu: rc %d, \"%s\", expected \"%s\"", i, rc, e.msg, bad[i].msg);
        rk_task_params_cleanup(&p);
        json_decref(v);
    }
}

static void test_many_prompts(void **state)
{
    (void)state;
    /* Scale: 10,000 inline prompts decode, and one bad one deep in the list
     * is named by its index. */
    json_t *v = load("{" EP ", " CC "}");
    json_t *arr = json_array();
    for (int i = 0; i < 10000; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "prompt", "p", "reference", "r"));
    json_object_set_new(v, "prompts", arr);
    rk_task_params_t p;
    rk_verr_t e = {{0}};
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_LLM_GENERATION, &p, &e), 0);
    assert_int_equal(p.llm.n_prompts, 10000);
    rk_task_params_cleanup(&p);
    json_array_set_new(arr, 9876, json_pack("{s:i}", "prompt", 1));
    assert_int_equal(rk_task_params_decode(v, "task.params", RK_TASK_LLM_GENERATION, &p, &e),
                     RK_EINVAL);
    assert_string_equal(e.msg, "task.params.prompts[9876].prompt: expected a string");
    rk_task_params_cleanup(&p);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_managed_open_loop),
        cmocka_unit_test(test_messages_and_references),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_many_prompts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
