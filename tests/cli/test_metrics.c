/* Units, bookkeeping and the order of metrics in a comparison
 * (lib/cli/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/metrics.h"

static void test_units(void **state)
{
    (void)state;
    assert_string_equal(rk_cli_metric_unit("mem_seq_read_64mb_gb_s"), "GB/s");
    assert_string_equal(rk_cli_metric_unit("wall_time_s"), "s");
    assert_string_equal(rk_cli_metric_unit("max_rss_kib"), "KiB");
    assert_string_equal(rk_cli_metric_unit("gemm_fp32_2048_gflops"), "GFLOP/s");
    assert_string_equal(rk_cli_metric_unit("peak_compute_tflops"), "TFLOP/s");
    assert_string_equal(rk_cli_metric_unit("mem_random_64mb_ns"), "ns");
    assert_string_equal(rk_cli_metric_unit("inference_time_seconds"), "s");
    assert_string_equal(rk_cli_metric_unit("throughput_tokens_per_sec"), "tokens/s");
    assert_string_equal(rk_cli_metric_unit("exit_status"), "");
    /* llm_generation's stage metrics (docs/llm.md). */
    assert_string_equal(rk_cli_metric_unit("c4_ttft_p99_ms"), "ms");
    assert_string_equal(rk_cli_metric_unit("c4_output_tok_per_s"), "tok/s");
    assert_string_equal(rk_cli_metric_unit("r0p5_total_tok_per_s"), "tok/s");
    assert_string_equal(rk_cli_metric_unit("c4_req_per_s"), "req/s");
    assert_string_equal(rk_cli_metric_unit("c4_goodput_req_per_s"), "req/s");
    assert_string_equal(rk_cli_metric_unit("c4_duration_s"), "s");
    assert_string_equal(rk_cli_metric_unit("c4_output_tokens"), "tokens");
    assert_string_equal(rk_cli_metric_unit("c4_requests_ok"), "");
    assert_string_equal(rk_cli_metric_unit("c4_rouge1_f1"), "");
    assert_string_equal(rk_cli_metric_unit("c4_gpu_util_mean_pct"), "%");
    assert_string_equal(rk_cli_metric_unit("c4_gpu_mem_max_mib"), "MiB");
    assert_string_equal(rk_cli_metric_unit("c4_gpu_power_mean_w"), "W");
    assert_string_equal(rk_cli_metric_unit("c4_tokens_per_joule"), "tok/J");
    assert_true(rk_cli_metric_bookkeeping("exit_status"));
    assert_true(rk_cli_metric_bookkeeping("gemm_fp64_64_checksum"));
    assert_true(rk_cli_metric_bookkeeping("mem_checksum"));
    assert_true(rk_cli_metric_bookkeeping("blas_threads"));
    assert_false(rk_cli_metric_bookkeeping("wall_time_s"));
}

static char *order(const char *names_json, const char *filter, const char *spec_json, bool all)
{
    json_t *names = json_loads(names_json, 0, NULL),
           *spec = spec_json ? json_loads(spec_json, 0, NULL) : NULL;
    json_t *o = rk_cli_metric_order(names, filter, spec, all);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    json_decref(names);
    json_decref(spec);
    return s;
}

static void test_order(void **state)
{
    (void)state;
    const char *names = "[\"exit_status\",\"max_rss_kib\",\"mem_checksum\",\"wall_time_s\","
                        "\"work_s\",\"a_s\"]";
    char *s = order(names, NULL, NULL, false);
    assert_string_equal(s, "[\"a_s\",\"max_rss_kib\",\"wall_time_s\",\"work_s\"]");
    free(s);
    /* The spec's declared metrics first, in its order. */
    s = order(names, NULL, "{\"work_s\":{},\"wall_time_s\":{},\"not_there\":{}}", false);
    assert_string_equal(s, "[\"work_s\",\"wall_time_s\",\"a_s\",\"max_rss_kib\"]");
    free(s);
    /* --all keeps the bookkeeping. */
    s = order(names, NULL, NULL, true);
    assert_string_equal(s, "[\"a_s\",\"exit_status\",\"max_rss_kib\",\"mem_checksum\","
                           "\"wall_time_s\",\"work_s\"]");
    free(s);
    /* --metric: its order, only names that exist, bookkeeping when named. */
    s = order(names, "wall_time_s,nope,exit_status,wall_time_s", NULL, false);
    assert_string_equal(s, "[\"wall_time_s\",\"exit_status\"]");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_units), cmocka_unit_test(test_order)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
