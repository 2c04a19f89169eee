/* A real ruckus-agent running llm_generation jobs against the
 * deterministic OpenAI-compatible test server: the stored result carries
 * every stage's metrics and the summary, requests.jsonl the raw samples,
 * the API key comes from the agent's environment; a managed server is
 * started, logged and stopped (and killed with its job); bad targets and
 * datasets fail clearly and quickly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "llm_server.h"
#include "rk_test_agent.h"

#define KEY "sk-test-0123"

static int setup(void **state)
{
    rk_test_agent_t *a = calloc(1, sizeof *a);
    const char *args[] = {"--llm-api-key-env", "RK_TEST_LLM_KEY", NULL};
    const char *env[] = {"RK_TEST_LLM_KEY=" KEY, NULL};
    if (!a || rk_test_agent_start(a, 2, args, env) != 0) {
        if (a)
            rk_test_agent_cleanup(a);
        free(a);
        return -1;
    }
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    rk_test_agent_t *a = *state;
    rk_test_agent_cleanup(a);
    free(a);
    return 0;
}

static const json_t *metrics_of(const json_t *r)
{
    const json_t *res = json_object_get(r, "result");
    return json_object_get(res ? res : r, "metrics");
}

static const char *error_of(const json_t *r)
{
    const json_t *res = json_object_get(r, "result");
    return json_string_value(json_object_get(res ? res : r, "error"));
}

/* Submits, waits for the end, checks the status; the result (new ref). */
static json_t *run_job(rk_test_agent_t *a, const char *id, json_t *params, const char *want,
                       int timeout_s)
{
    json_t *req = json_pack("{s:I}", "timeout_seconds", (json_int_t)timeout_s);
    json_t *job = rk_test_job(id, "llm_generation", params, req);
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(a, id, NULL, 60000);
    assert_non_null(st);
    if (strcmp(st, want) != 0) {
        json_t *r = rk_test_agent_result(a, id);
        fail_msg("%s: %s (%s), expected %s", id, st, r ? error_of(r) : "no result", want);
    }
    free(st);
    json_t *r = rk_test_agent_result(a, id);
    assert_non_null(r);
    return r;
}

static double num(const json_t *m, const char *k)
{
    const json_t *v = json_object_get(m, k);
    if (!json_is_number(v))
        fail_msg("no metric %s", k);
    return json_number_value(v);
}

static void test_endpoint_job(void **state)
{
    rk_test_agent_t *a = *state;
    llm_server_cfg_t cfg = {
        .ttft_us = 20000, .itl_us = 2000, .tokens = 10, .role_first = true, .api_key = KEY};
    llm_server_t *srv;
    assert_int_equal(llm_server_start(&cfg, &srv), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", llm_server_port(srv));
    /* The server answers "w0 w1 ... w9 ": a reference of its first five
     * words scores ROUGE-1 F1 2*(5/10)*(5/5)/(5/10+5/5) = 2/3. */
    json_t *params =
        json_pack("{s:{s:s, s:s, s:s}, s:[{s:s, s:s}], s:[i, i], s:i, s:i, s:{s:f}}", "endpoint",
                  "base_url", url, "api", "chat", "model", "test", "prompts", "prompt", "hello",
                  "reference", "w0 w1 w2 w3 w4", "concurrency", 1, 4, "num_requests", 8,
                  "warmup_requests", 2, "slo", "ttft_ms", 1000.0);
    json_t *r = run_job(a, "job_llm1", params, "completed", 120);
    const json_t *m = metrics_of(r);
    const char *stages[] = {"c1", "c4"};
    for (int i = 0; i < 2; i++) {
        char k[64];
#define K(what) (snprintf(k, sizeof k, "%s_%s", stages[i], what), k)
        assert_int_equal((int)num(m, K("requests_ok")), 8);
        assert_int_equal((int)num(m, K("requests_failed")), 0);
        assert_int_equal((int)num(m, K("output_tokens")), 80);
        double ttft = num(m, K("ttft_p50_ms"));
        /* Sane, not precise (tests/llm checks the timing): the server waits
         * at least 20 ms, and a late first chunk lets the rest catch up on
         * their schedule, so TPOT may fall under the 2 ms ITL. */
        if (ttft < 20 || ttft > 250)
            fail_msg("%s TTFT p50 %.3f ms, the server waits 20 ms", stages[i], ttft);
        assert_true(num(m, K("tpot_mean_ms")) > 0);
        assert_true(num(m, K("itl_p99_ms")) >= num(m, K("itl_p50_ms")));
        assert_true(num(m, K("e2e_p90_ms")) >= ttft);
        assert_true(num(m, K("req_per_s")) > 0);
        assert_true(num(m, K("output_tok_per_s")) > 0);
        assert_true(num(m, K("total_tok_per_s")) > num(m, K("output_tok_per_s")));
        assert_true(fabs(num(m, K("goodput_req_per_s")) - num(m, K("req_per_s"))) < 1e-9);
        assert_true(fabs(num(m, K("rouge1_f1")) - 2.0 / 3) < 1e-9);
        assert_true(num(m, K("exact_match")) == 0);
        assert_string_equal(json_string_value(json_object_get(m, K("token_source"))), "usage");
#undef K
    }
    double best = fmax(num(m, "c1_output_tok_per_s"), num(m, "c4_output_tok_per_s"));
    assert_true(fabs(num(m, "throughput_tokens_per_sec") - best) < 1e-9);
    assert_true(num(m, "inference_time_seconds") > 0);
    /* Warm-up plus two stages of 8, each with the key (else 401s). */
    assert_int_equal(llm_server_requests(srv), 18);
    /* Raw samples: one line per measured request. */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs/job_llm1/output/requests.jsonl", a->data);
    char *text = rk_test_read_file(path, NULL);
    assert_non_null(text);
    size_t lines = 0;
    for (char *l = text; (l = strchr(l, '\n')); l++)
        lines++;
    assert_int_equal(lines, 16);
    json_t *first = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(first);
    assert_string_equal(json_string_value(json_object_get(first, "outcome")), "ok");
    assert_int_equal(json_array_size(json_object_get(first, "chunk_us")), 10);
    json_decref(first);
    free(text);
    json_decref(r);
    llm_server_stop(srv);
}

static void test_runs_statistics(void **state)
{
    /* Several runs of one job: the multi-run statistics of every stage
     * metric, and every run's samples kept in requests.jsonl. */
    rk_test_agent_t *a = *state;
    llm_server_cfg_t cfg = {.tokens = 6, .itl_us = 500, .api_key = KEY};
    llm_server_t *srv;
    assert_int_equal(llm_server_start(&cfg, &srv), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", llm_server_port(srv));
    json_t *params = json_pack("{s:{s:s, s:s, s:s}, s:[{s:s}], s:[i], s:i, s:i}", "endpoint",
                               "base_url", url, "api", "chat", "model", "m", "prompts", "prompt",
                               "x", "concurrency", 2, "num_requests", 4, "runs_per_job", 3);
    json_t *r = run_job(a, "job_llm_runs", params, "completed", 120);
    assert_int_equal(json_array_size(json_object_get(r, "runs")), 3);
    const json_t *st = json_object_get(json_object_get(r, "metric_statistics"), "c2_ttft_p50_ms");
    assert_non_null(st);
    assert_int_equal((int)num(st, "count"), 2); /* the warm runs */
    assert_int_equal((int)num(metrics_of(r), "c2_output_tokens"), 24);
    assert_string_equal(json_string_value(json_object_get(metrics_of(r), "c2_token_source")),
                        "usage");
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs/job_llm_runs/output/requests.jsonl", a->data);
    char *text = rk_test_read_file(path, NULL);
    assert_non_null(text);
    size_t lines = 0;
    for (char *l = text; (l = strchr(l, '\n')); l++)
        lines++;
    assert_int_equal(lines, 12);
    free(text);
    json_decref(r);
    llm_server_stop(srv);
}

static void test_managed_server_job(void **state)
{
    rk_test_agent_t *a = *state;
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/rk-llm-testserver", getenv("RK_BIN_DIR"));
    /* The "model" is found through the agent's models dir: the server
     * starts only when {models_dir}/tiny.gguf is there. */
    char models[PATH_MAX + 32], model_file[PATH_MAX + 48], script[PATH_MAX + 128];
    snprintf(models, sizeof models, "%s/models", a->data);
    mkdir(models, 0755);
    snprintf(model_file, sizeof model_file, "%s/tiny.gguf", models);
    assert_int_equal(rk_test_write_file(model_file, "GGUF", 0644), 0);
    snprintf(script, sizeof script,
             "test -f {models_dir}/tiny.gguf && exec %s --port {port} --tokens 4 --usage none",
             bin);
    json_t *params =
        json_pack("{s:{s:s, s:s}, s:{s:[s, s, s], s:i}, s:{s:i, s:i, s:i}, s:[f], s:i}", "endpoint",
                  "api", "completions", "model", "test", "server", "argv", "sh", "-c", script,
                  "ready_timeout_s", 30, "synthetic", "input_tokens", 16, "output_tokens", 4,
                  "count", 3, "request_rate", 50.0, "num_requests", 10);
    json_t *r = run_job(a, "job_llm_managed", params, "completed", 120);
    const json_t *m = metrics_of(r);
    assert_int_equal((int)num(m, "r50_requests_ok"), 10);
    assert_int_equal((int)num(m, "r50_output_tokens"), 40);
    assert_string_equal(json_string_value(json_object_get(m, "r50_token_source")), "chunks");
    json_decref(r);
    /* The server's output is in the job's logs, and it is gone. */
    rk_test_resp_t lr;
    assert_int_equal(rk_test_req(&a->p, "GET", "/api/v1/jobs/job_llm_managed/logs?stream=stderr",
                                 NULL, NULL, &lr),
                     0);
    assert_non_null(strstr(lr.body, "rk-llm-testserver: listening on"));
    assert_non_null(strstr(lr.body, "rk-llm-testserver: 10 requests, stopping"));
    rk_test_resp_cleanup(&lr);
    rk_test_job_ref_t ref = {a, "job_llm_managed"};
    assert_true(rk_test_wait_until(rk_test_job_procs_gone, &ref, 10000));
}

static void test_cancel_stops_the_managed_server(void **state)
{
    /* Fault: the job is cancelled mid-stage; its managed server goes with
     * its process group. */
    rk_test_agent_t *a = *state;
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/rk-llm-testserver", getenv("RK_BIN_DIR"));
    json_t *params = json_pack("{s:{s:s, s:s}, s:{s:[s, s, s, s, s, s, s]}, s:[{s:s}], s:[i], "
                               "s:i}",
                               "endpoint", "api", "chat", "model", "m", "server", "argv", bin,
                               "--port", "{port}", "--tokens", "1000", "--itl-ms", "10", "prompts",
                               "prompt", "x", "concurrency", 2, "num_requests", 100);
    json_t *job = rk_test_job("job_llm_cancel", "llm_generation", params, NULL);
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(a, "job_llm_cancel", "running", 10000);
    assert_non_null(st);
    free(st);
    rk_test_job_ref_t ref = {a, "job_llm_cancel"};
    /* Wait for the server to be up (its process carries the job's id). */
    double end = rk_test_now_ms() + 10000;
    while (!rk_test_job_procs_alive(a, "job_llm_cancel") && rk_test_now_ms() < end)
        rk_test_sleep_ms(10);
    rk_test_resp_t cr;
    assert_int_equal(rk_test_req(&a->p, "DELETE", "/api/v1/jobs/job_llm_cancel", NULL, NULL, &cr),
                     0);
    rk_test_resp_cleanup(&cr);
    st = rk_test_agent_wait(a, "job_llm_cancel", NULL, 30000);
    assert_non_null(st);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(rk_test_wait_until(rk_test_job_procs_gone, &ref, 10000));
}

static void test_bad_targets_fail_clearly(void **state)
{
    rk_test_agent_t *a = *state;
    char bin[PATH_MAX], url[64], ds[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/rk-llm-testserver", getenv("RK_BIN_DIR"));
    /* Nothing listens on the endpoint. */
    llm_server_cfg_t none = {0};
    llm_server_t *tmp;
    assert_int_equal(llm_server_start(&none, &tmp), 0);
    int dead_port = llm_server_port(tmp);
    llm_server_stop(tmp);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", dead_port);
    double t0 = rk_test_now_ms();
    json_t *r = run_job(a, "job_llm_unreachable",
                        json_pack("{s:{s:s, s:s, s:s}, s:[{s:s}], s:[i], s:i}", "endpoint",
                                  "base_url", url, "api", "chat", "model", "m", "prompts", "prompt",
                                  "x", "concurrency", 1, "num_requests", 3),
                        "failed", 60);
    assert_non_null(strstr(error_of(r), "all 3 requests failed; the first: connect"));
    json_decref(r);
    /* A server that never gets ready: failed after ready_timeout_s. */
    r = run_job(a, "job_llm_never_ready",
                json_pack("{s:{s:s, s:s}, s:{s:[s, s], s:i}, s:[{s:s}], s:[i]}", "endpoint", "api",
                          "chat", "model", "m", "server", "argv", bin, "--never-ready",
                          "ready_timeout_s", 1, "prompts", "prompt", "x", "concurrency", 1),
                "failed", 60);
    assert_non_null(strstr(error_of(r), "server not ready after 1 s"));
    json_decref(r);
    rk_test_job_ref_t ref = {a, "job_llm_never_ready"};
    assert_true(rk_test_wait_until(rk_test_job_procs_gone, &ref, 10000));
    /* A dataset whose second line is not JSON: its line number. */
    snprintf(ds, sizeof ds, "%s/prompts.jsonl", a->root);
    assert_int_equal(rk_test_write_file(ds, "{\"prompt\": \"a\"}\n{prompt: b}\n", 0644), 0);
    r = run_job(a, "job_llm_dataset",
                json_pack("{s:{s:s, s:s, s:s}, s:s, s:[i]}", "endpoint", "base_url", url, "api",
                          "chat", "model", "m", "dataset_path", ds, "concurrency", 1),
                "failed", 60);
    assert_non_null(strstr(error_of(r), "dataset_path line 2: not JSON"));
    json_decref(r);
    /* None of it came near the job timeout. */
    assert_true(rk_test_now_ms() - t0 < 30000);
    /* concurrency 0 is refused on the way in. */
    json_t *job = rk_test_job("job_llm_c0", "llm_generation",
                              json_pack("{s:{s:s, s:s, s:s}, s:[{s:s}], s:[i]}", "endpoint",
                                        "base_url", url, "api", "chat", "model", "m", "prompts",
                                        "prompt", "x", "concurrency", 0),
                              NULL);
    rk_test_resp_t resp;
    assert_int_equal(rk_test_req_json(&a->p, "POST", "/api/v1/jobs", job, NULL, &resp), 0);
    assert_int_equal(resp.status, 422);
    assert_non_null(strstr(resp.body, "task.params.concurrency[0]"));
    rk_test_resp_cleanup(&resp);
    json_decref(job);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_endpoint_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_statistics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_managed_server_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_stops_the_managed_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_targets_fail_clearly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
