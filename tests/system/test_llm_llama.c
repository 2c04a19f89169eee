/* A real llama.cpp behind ruckus: a managed-server llm_generation job on a
 * real agent starts tests/llama/server.mjs (node-llama-cpp, llama.cpp
 * prebuilt for the CPU) serving a random-weight GGUF that
 * tests/llama/make_model.mjs writes, sweeps concurrency 1, 2, 4, and stops
 * it. Every request must succeed with exactly max_tokens tokens (byte
 * tokens and end-of-stream are banned, so random weights neither emit
 * invalid UTF-8 nor stop early), and, on a machine idle enough to give
 * llama.cpp its cores, the throughput curve must rise from 1 to 2 streams
 * (the server batches its sequences) and then gain less.
 *
 * Skips, saying why, where node or tests/llama/node_modules (scripts/
 * deps.sh installs it) is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk_test_agent.h"

static const char *source_dir(void)
{
    const char *s = getenv("RK_SOURCE_DIR");
    return s ? s : "..";
}

/* Why this machine cannot run the test, or NULL. */
static const char *cannot_run(void)
{
    static char why[PATH_MAX + 64];
    char path[PATH_MAX];
    struct stat st;
    if (system("node --version >/dev/null 2>&1") != 0)
        return "node is not on PATH";
    snprintf(path, sizeof path, "%s/tests/llama/node_modules/node-llama-cpp", source_dir());
    if (stat(path, &st) != 0) {
        snprintf(why, sizeof why, "%s is missing (scripts/deps.sh installs it)", path);
        return why;
    }
    return NULL;
}

/* The 1-minute load average, -1 if unknown. */
static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static double num(const json_t *m, const char *k)
{
    const json_t *v = json_object_get(m, k);
    if (!json_is_number(v))
        fail_msg("no metric %s", k);
    return json_number_value(v);
}

static int setup(void **state)
{
    rk_test_agent_t *a = calloc(1, sizeof *a);
    if (!a || rk_test_agent_start(a, 1, NULL, NULL) != 0) {
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

static void test_concurrency_sweep(void **state)
{
    rk_test_agent_t *ap = *state;
    char model[PATH_MAX + 16], cmd[3 * PATH_MAX], server[PATH_MAX], threads[16];
    snprintf(model, sizeof model, "%s/tiny.gguf", ap->root);
    snprintf(cmd, sizeof cmd,
             "node '%s/tests/llama/make_model.mjs' '%s' --embd 768 --layers 6 --ff 2048 >/dev/null",
             source_dir(), model);
    assert_int_equal(system(cmd), 0);
    snprintf(server, sizeof server, "%s/tests/llama/server.mjs", source_dir());
    /* On an idle machine llama.cpp gets every core (on two, one thread
     * crawls). On a loaded one its threads spin at each barrier waiting
     * for a peer the scheduler gave away (measured here at load 4.7 on 2
     * cores: 6.5 tokens/s with 2 threads, 99 with 1), so it gets one, and
     * the curve's shape is not judged: it is the machine's. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double load = load_average();
    bool idle = load >= 0 && load < 0.5 * (double)cores;
    snprintf(threads, sizeof threads, "%ld", idle ? cores : 1);
    json_t *params =
        json_pack("{s:{s:s, s:s}, s:{s:[s, s, s, s, s, s, s, s, s, s, s], s:i},"
                  " s:{s:i, s:i, s:i}, s:[i, i, i], s:i, s:i, s:b, s:f}",
                  "endpoint", "api", "completions", "model", "tiny", "server", "argv", "node",
                  server, "--model", model, "--port", "{port}", "--threads", threads, "--parallel",
                  "4", "--ban-byte-tokens", "ready_timeout_s", 120, "synthetic", "input_tokens", 16,
                  "output_tokens", 32, "count", 8, "concurrency", 1, 2, 4, "num_requests", 12,
                  "warmup_requests", 2, "ignore_eos", 1, "temperature", 0.8);
    json_t *job = rk_test_job("job_llama", "llm_generation", params,
                              json_pack("{s:i}", "timeout_seconds", 600));
    assert_int_equal(rk_test_agent_submit(ap, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(ap, "job_llama", NULL, 600000);
    assert_non_null(st);
    json_t *r = rk_test_agent_result(ap, "job_llama");
    assert_non_null(r);
    const json_t *res = json_object_get(r, "result");
    res = res ? res : r;
    if (strcmp(st, "completed") != 0)
        fail_msg("job %s: %s", st, json_string_value(json_object_get(res, "error")));
    free(st);
    const json_t *m = json_object_get(res, "metrics");
    double tps[3];
    const char *stages[] = {"c1", "c2", "c4"};
    for (int i = 0; i < 3; i++) {
        char k[64];
        snprintf(k, sizeof k, "%s_requests_ok", stages[i]);
        assert_int_equal((int)num(m, k), 12);
        snprintf(k, sizeof k, "%s_output_tokens", stages[i]);
        assert_int_equal((int)num(m, k), 12 * 32);
        snprintf(k, sizeof k, "%s_token_source", stages[i]);
        assert_string_equal(json_string_value(json_object_get(m, k)), "usage");
        snprintf(k, sizeof k, "%s_output_tok_per_s", stages[i]);
        tps[i] = num(m, k);
        snprintf(k, sizeof k, "%s_ttft_p50_ms", stages[i]);
        printf("%s: %.1f output tokens/s, TTFT p50 %.1f ms\n", stages[i], tps[i], num(m, k));
    }
    /* Rises, then flattens: 2 streams beat 1, and 4 gain less over 2 than
     * 2 did over 1. Judged only when the machine was idle at the start and
     * still is at the end (other tests started meanwhile take the cores
     * the curve is about; seen once under ctest -j2). */
    double load_end = load_average();
    if (idle && !(load_end >= 0 && load_end < 0.5 * (double)cores))
        idle = false;
    if (!idle)
        printf("curve not judged: load average %.2f then %.2f on %ld cores\n", load, load_end,
               cores);
    else if (!(tps[1] > tps[0] * 1.1))
        fail_msg("no rise: %.1f tokens/s at 1 stream, %.1f at 2", tps[0], tps[1]);
    else if (!(tps[2] / tps[1] < tps[1] / tps[0]))
        fail_msg("no flattening: %.1f, %.1f, %.1f tokens/s at 1, 2, 4", tps[0], tps[1], tps[2]);
    json_decref(r);
    /* The server was stopped with its job. */
    rk_test_job_ref_t ref = {ap, "job_llama"};
    assert_true(rk_test_wait_until(rk_test_job_procs_gone, &ref, 20000));
}

int main(void)
{
    const char *why = cannot_run();
    if (why) {
        printf("SKIP test_llm_llama: %s\n", why);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrency_sweep, setup, teardown)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
