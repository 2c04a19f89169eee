/* The metric formulas on hand-made samples with known answers: TTFT, TPOT,
 * ITL, e2e, rates, goodput, token sources, failure counts; percentiles;
 * ROUGE and exact match; the open loop's arrival distribution. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "llm/metrics.h"
#include "llm/rouge.h"
#include "llm/stage.h"

#define MS 1000000LL /* ns */

static double num(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        fail_msg("no metric %s", k);
    return json_number_value(v);
}

static void near(double got, double want)
{
    if (fabs(got - want) > 1e-9 * (fabs(want) + 1))
        fail_msg("%.12g, expected %.12g", got, want);
}

/* A successful sample sent at `sent` ms, chunks at the given ms. */
static rk_llm_sample_t *ok_sample(int64_t sent, const int64_t *chunks, size_t n, int64_t end,
                                  bool usage, int64_t tokens)
{
    rk_llm_sample_t *s = calloc(1, sizeof *s);
    s->t_start = sent * MS - 1;
    s->t_sent = sent * MS;
    s->t_first_byte = sent * MS + 1;
    s->chunk_t = calloc(n + 1, sizeof *s->chunk_t);
    for (size_t i = 0; i < n; i++)
        s->chunk_t[i] = chunks[i] * MS;
    s->n_chunks = s->cap_chunks = n;
    s->t_first_token = n ? s->chunk_t[0] : 0;
    s->t_end = end * MS;
    s->usage = usage;
    s->output_tokens = usage ? tokens : (int64_t)n;
    s->input_tokens = usage ? 10 : 0;
    return s;
}

static void test_stage_formulas(void **state)
{
    (void)state;
    rk_llm_stage_t st = {.concurrency = 2};
    rk_llm_stage_name(&st);
    assert_string_equal(st.name, "c2");
    st.samples = calloc(4, sizeof *st.samples);
    /* A: sent 0, chunks 100, 110, 130, end 130, usage says 5 tokens.
     *    TTFT 100, e2e 130, TPOT (130-100)/(5-1) = 7.5, ITL 10, 20. */
    st.samples[0] = ok_sample(0, (int64_t[]){100, 110, 130}, 3, 130, true, 5);
    /* B: sent 10, chunks 60, 90, end 100, no usage: 2 tokens counted.
     *    TTFT 50, e2e 90, TPOT (90-50)/1 = 40, ITL 30. */
    st.samples[1] = ok_sample(10, (int64_t[]){60, 90}, 2, 100, false, 0);
    /* C: failed mid-stream: in the counts, in no latency. */
    st.samples[2] = ok_sample(20, (int64_t[]){25}, 1, 30, false, 0);
    st.samples[2]->fail = RK_LLM_FAIL_EVENT;
    /* D: failed to connect. */
    st.samples[3] = calloc(1, sizeof **st.samples);
    st.samples[3]->fail = RK_LLM_FAIL_CONNECT;
    st.n = 4;
    st.t_begin = 0;
    st.t_end = 200 * MS; /* 0.2 s */
    rk_llm_workload_t w = {0};
    rk_llm_request_t reqs[1] = {{0}};
    w.reqs = reqs;
    w.n = 1;
    rk_llm_slo_t slo = {.ttft_ms = 60}; /* only B meets it */
    json_t *m = json_object();
    assert_int_equal(rk_llm_metrics_stage(&st, &w, &slo, m), 0);
    near(num(m, "c2_ttft_mean_ms"), 75);
    near(num(m, "c2_ttft_p50_ms"), 75);
    near(num(m, "c2_ttft_p90_ms"), 50 + 0.9 * 50);
    near(num(m, "c2_ttft_p99_ms"), 50 + 0.99 * 50);
    near(num(m, "c2_e2e_mean_ms"), 110);
    near(num(m, "c2_tpot_mean_ms"), (7.5 + 40) / 2);
    near(num(m, "c2_tpot_p50_ms"), (7.5 + 40) / 2);
    near(num(m, "c2_itl_mean_ms"), 20);
    near(num(m, "c2_itl_p50_ms"), 20);
    near(num(m, "c2_itl_p90_ms"), 28);
    near(num(m, "c2_duration_s"), 0.2);
    near(num(m, "c2_req_per_s"), 2 / 0.2);
    near(num(m, "c2_output_tok_per_s"), 7 / 0.2);
    near(num(m, "c2_total_tok_per_s"), 17 / 0.2);
    near(num(m, "c2_goodput_req_per_s"), 1 / 0.2);
    near(num(m, "c2_requests_ok"), 2);
    near(num(m, "c2_requests_failed"), 2);
    near(num(m, "c2_failed_error_event"), 1);
    near(num(m, "c2_failed_connect"), 1);
    assert_null(json_object_get(m, "c2_failed_broken"));
    near(num(m, "c2_output_tokens"), 7);
    assert_string_equal(json_string_value(json_object_get(m, "c2_token_source")), "mixed");
    assert_null(json_object_get(m, "c2_rouge1_f1"));
    json_decref(m);
    rk_llm_stage_cleanup(&st);
}

static void test_references(void **state)
{
    (void)state;
    rk_llm_stage_t st = {.rate = 0.5};
    rk_llm_stage_name(&st);
    assert_string_equal(st.name, "r0p5");
    st.samples = calloc(2, sizeof *st.samples);
    st.samples[0] = ok_sample(0, (int64_t[]){1, 2}, 2, 3, false, 0);
    st.samples[0]->text = strdup(" the cat sat\n");
    st.samples[1] = ok_sample(0, (int64_t[]){1, 2}, 2, 3, false, 0);
    st.samples[1]->text = strdup("a dog");
    st.samples[1]->prompt_index = 1;
    st.n = 2;
    st.t_end = 1000 * MS;
    rk_llm_request_t reqs[2] = {{.reference = "the cat sat"}, {.reference = "the cat sat"}};
    rk_llm_workload_t w = {.reqs = reqs, .n = 2, .has_references = true};
    rk_llm_slo_t slo = {0};
    json_t *m = json_object();
    assert_int_equal(rk_llm_metrics_stage(&st, &w, &slo, m), 0);
    near(num(m, "r0p5_rouge1_f1"), 0.5);
    near(num(m, "r0p5_rouge2_f1"), 0.5);
    near(num(m, "r0p5_rougel_f1"), 0.5);
    near(num(m, "r0p5_exact_match"), 0.5);
    assert_string_equal(json_string_value(json_object_get(m, "r0p5_token_source")), "chunks");
    near(num(m, "r0p5_goodput_req_per_s"), 2); /* no SLO: every success */
    json_decref(m);
    rk_llm_stage_cleanup(&st);
}

static void test_rouge_known_values(void **state)
{
    (void)state;
    rk_llm_rouge_t r;
    /* rouge-score: "the cat was found under the bed" vs "the cat was under
     * the bed": R1 P 6/7 R 6/6; R2 4/6, 4/5; LCS 6. */
    assert_int_equal(
        rk_llm_rouge("the cat was found under the bed", "the cat was under the bed", &r), 0);
    near(r.r1, 2 * (6.0 / 7) * 1 / (6.0 / 7 + 1));
    near(r.r2, 2 * (4.0 / 6) * (4.0 / 5) / (4.0 / 6 + 4.0 / 5));
    near(r.rl, r.r1);
    /* Order matters to ROUGE-2 and L only. */
    assert_int_equal(rk_llm_rouge("bed the under", "under the bed", &r), 0);
    near(r.r1, 1);
    near(r.r2, 0);
    near(r.rl, 1.0 / 3);
    assert_int_equal(rk_llm_rouge("", "x", &r), 0);
    near(r.r1, 0);
    assert_true(rk_llm_exact_match("  4\n", "4"));
    assert_false(rk_llm_exact_match("4.", "4"));
}

static void test_percentile(void **state)
{
    (void)state;
    double v[] = {1, 2, 3, 4};
    near(rk_llm_percentile(v, 4, 0.5), 2.5);
    near(rk_llm_percentile(v, 4, 0.99), 3.97);
    near(rk_llm_percentile(v, 4, 1), 4);
    near(rk_llm_percentile(v, 1, 0.9), 1);
    near(rk_llm_percentile(v, 0, 0.9), 0);
}

static void test_gamma_arrivals(void **state)
{
    (void)state;
    /* Mean 1/rate for every shape; variance mean^2/shape (Poisson at 1:
     * CV 1; burstier below 1, smoother above). */
    const double shapes[] = {0.25, 1, 4};
    for (size_t k = 0; k < 3; k++) {
        uint64_t rng = 42;
        double sum = 0, sq = 0;
        const int n = 200000;
        for (int i = 0; i < n; i++) {
            double x = rk_llm_gamma_interval(&rng, 0.1, shapes[k]);
            sum += x;
            sq += x * x;
        }
        double mean = sum / n, var = sq / n - mean * mean;
        if (fabs(mean - 0.1) > 0.002 || fabs(var / (0.01 / shapes[k]) - 1) > 0.05)
            fail_msg("shape %g: mean %g var %g", shapes[k], mean, var);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_formulas),     cmocka_unit_test(test_references),
        cmocka_unit_test(test_rouge_known_values), cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_gamma_arrivals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
