/* Welch's t-test and the verdict (lib/compare/welch.c), against published
 * worked examples and against p-values integrated here independently of
 * GSL; the edges: one value on a side, zero variance, NaN and inf. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "compare/welch.h"

#define N(a) (sizeof(a) / sizeof *(a))

/* Two-sided p of Student's t with df degrees of freedom, by Simpson's rule
 * over the density: 1 - 2 * integral from 0 to |t|. */
static double p_by_integration(double t, double df)
{
    double c = exp(lgamma((df + 1) / 2) - lgamma(df / 2)) / sqrt(df * M_PI);
    int n = 20000;
    double h = fabs(t) / n, s = 0;
    for (int i = 0; i <= n; i++) {
        double x = i * h;
        double f = c * pow(1 + x * x / df, -(df + 1) / 2);
        s += f * (i == 0 || i == n ? 1 : (i % 2 ? 4 : 2));
    }
    return 1 - 2 * s * h / 3;
}

/* Two worked examples of Wikipedia's "Welch's t-test" article: p to the
 * three digits published there (0.021, 0.149); t and df as computed
 * separately from the same data (Python's statistics module: 2.4554/24.989,
 * 1.5654/9.905), and p again by integration here. */
static void test_published_examples(void **state)
{
    (void)state;
    static const double a1[] = {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1,
                                21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4};
    static const double b1[] = {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0,
                                24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4};
    static const double a2[] = {17.2, 20.9, 22.6, 18.1, 21.7, 21.4, 23.5, 24.2, 14.7, 21.8};
    static const double b2[] = {21.5, 22.8, 21.0, 23.0, 21.6, 23.6, 22.5, 20.7, 23.4, 21.8,
                                20.7, 21.7, 21.5, 22.5, 23.6, 21.5, 22.5, 23.5, 21.5, 21.8};
    struct {
        const double *a, *b;
        size_t na, nb;
        double t, df, p;
    } ex[] = {
        {a1, b1, N(a1), N(b1), 2.4554, 24.989, 0.021},
        {a2, b2, N(a2), N(b2), 1.5654, 9.905, 0.149},
    };
    for (size_t i = 0; i < N(ex); i++) {
        rk_welch_t w;
        rk_welch(ex[i].a, ex[i].na, ex[i].b, ex[i].nb, RK_DIR_HIGHER, 0.02, &w);
        assert_int_equal(w.a_n, ex[i].na);
        if (fabs(w.t - ex[i].t) >= 0.0005)
            fail_msg("example %zu: t %.6f df %.6f p %.6f", i, w.t, w.df, w.p);
        assert_true(fabs(w.df - ex[i].df) < 0.001);
        assert_true(fabs(w.p - ex[i].p) < 0.0005);
        assert_true(fabs(w.p - p_by_integration(w.t, w.df)) < 1e-6);
        /* The interval holds the difference and excludes 0 exactly when
         * p < 0.05. */
        assert_true(w.ci95_low < w.diff && w.diff < w.ci95_high);
        assert_true((w.ci95_low > 0) == (w.p < 0.05));
        /* A swap mirrors everything. */
        rk_welch_t m;
        rk_welch(ex[i].b, ex[i].nb, ex[i].a, ex[i].na, RK_DIR_HIGHER, 0.02, &m);
        assert_true(fabs(m.t + w.t) < 1e-12 && fabs(m.p - w.p) < 1e-12);
        assert_true(fabs(m.ci95_low + w.ci95_high) < 1e-9);
    }
}

/* p from GSL against p integrated here, over a spread of t and df. */
static void test_p_against_integration(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int k = 0; k < 40; k++) {
        double a[12], b[9];
        for (size_t i = 0; i < N(a) + N(b); i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double u = (double)(x >> 11) / 9007199254740992.0;
            if (i < N(a))
                a[i] = 10 + 2 * u;
            else
                b[i - N(a)] = 10 + k * 0.03 + 3 * u;
        }
        rk_welch_t w;
        rk_welch(a, N(a), b, N(b), RK_DIR_LOWER, 0.0, &w);
        double p = p_by_integration(w.t, w.df);
        assert_true(fabs(w.p - p) < 1e-6);
    }
}

static void test_verdicts(void **state)
{
    (void)state;
    /* Times ~10 % longer on b: slower; shorter: faster. */
    double a[] = {1.00, 1.01, 0.99, 1.00, 1.02, 0.98};
    double slow[] = {1.10, 1.11, 1.09, 1.10, 1.12, 1.08};
    double fast[] = {0.90, 0.91, 0.89, 0.90, 0.92, 0.88};
    double same[] = {1.001, 1.011, 0.991, 1.002, 1.019, 0.985};
    rk_welch_t w;
    rk_welch(a, N(a), slow, N(slow), RK_DIR_LOWER, 0.02, &w);
    assert_int_equal(w.verdict, RK_VERDICT_SLOWER);
    assert_true(fabs(w.ratio - 1.10) < 1e-9);
    rk_welch(a, N(a), fast, N(fast), RK_DIR_LOWER, 0.02, &w);
    assert_int_equal(w.verdict, RK_VERDICT_FASTER);
    /* For a bandwidth the same numbers read the other way. */
    rk_welch(a, N(a), slow, N(slow), RK_DIR_HIGHER, 0.02, &w);
    assert_int_equal(w.verdict, RK_VERDICT_FASTER);
    rk_welch(a, N(a), same, N(same), RK_DIR_LOWER, 0.02, &w);
    assert_int_equal(w.verdict, RK_VERDICT_SAME);
    /* 10 % but under a 20 % min_delta: same. */
    rk_welch(a, N(a), slow, N(slow), RK_DIR_LOWER, 0.2, &w);
    assert_int_equal(w.verdict, RK_VERDICT_SAME);
    /* Significant, big, but no known direction: inconclusive. */
    rk_welch(a, N(a), slow, N(slow), RK_DIR_UNKNOWN, 0.02, &w);
    assert_int_equal(w.verdict, RK_VERDICT_INCONCLUSIVE);
    /* Noisy: a 10 % difference in the means that the data cannot back is
     * no evidence of a change, and the interval shows how wide it is. */
    double n1[] = {0.5, 1.5, 1.0}, n2[] = {0.6, 1.7, 1.0};
    rk_welch(n1, N(n1), n2, N(n2), RK_DIR_LOWER, 0.02, &w);
    assert_true(w.p > 0.05);
    assert_int_equal(w.verdict, RK_VERDICT_SAME);
    assert_true(w.ci95_low < -0.5 && w.ci95_high > 0.5);
}

static void test_edges(void **state)
{
    (void)state;
    rk_welch_t w;
    /* One value on a side: means, no test, never a division by zero. */
    double one[] = {2.0}, many[] = {1.0, 1.1, 0.9};
    rk_welch(one, 1, many, N(many), RK_DIR_LOWER, 0.02, &w);
    assert_int_equal(w.a_n, 1);
    assert_true(w.a_mean == 2.0 && w.a_std == 0);
    assert_true(isnan(w.p) && isnan(w.ci95_low) && isnan(w.t));
    assert_int_equal(w.verdict, RK_VERDICT_INCONCLUSIVE);
    rk_welch(one, 1, one, 1, RK_DIR_LOWER, 0.02, &w);
    assert_int_equal(w.verdict, RK_VERDICT_INCONCLUSIVE);
    /* Nothing at all. */
    rk_welch(NULL, 0, NULL, 0, RK_DIR_LOWER, 0.02, &w);
    assert_true(isnan(w.a_mean) && isnan(w.diff));
    assert_int_equal(w.verdict, RK_VERDICT_INCONCLUSIVE);
    /* Zero variance on both sides: certain. */
    double c1[] = {3, 3, 3}, c2[] = {4, 4, 4, 4};
    rk_welch(c1, N(c1), c2, N(c2), RK_DIR_LOWER, 0.02, &w);
    assert_true(w.p == 0 && w.ci95_low == 1 && w.ci95_high == 1);
    assert_int_equal(w.verdict, RK_VERDICT_SLOWER);
    rk_welch(c1, N(c1), c1, N(c1), RK_DIR_LOWER, 0.02, &w);
    assert_true(w.p == 1);
    assert_int_equal(w.verdict, RK_VERDICT_SAME);
    /* Zero variance on one side only: still a test. */
    double v2[] = {3.5, 4.5, 4.0};
    rk_welch(c1, N(c1), v2, N(v2), RK_DIR_LOWER, 0.02, &w);
    assert_true(isfinite(w.p) && w.p > 0 && w.p < 1);
    /* A mean of zero on a: no ratio, the rest computed. */
    double z[] = {-1, 1, 0};
    rk_welch(z, N(z), v2, N(v2), RK_DIR_LOWER, 0.02, &w);
    assert_true(isnan(w.ratio) && isfinite(w.p));
    /* NaN and inf are left out and counted, never propagated. */
    double bad[] = {1.0, NAN, 1.1, INFINITY, 0.9, -INFINITY};
    rk_welch(bad, N(bad), many, N(many), RK_DIR_LOWER, 0.02, &w);
    assert_int_equal(w.a_n, 3);
    assert_int_equal(w.a_invalid, 3);
    assert_true(isfinite(w.a_mean) && isfinite(w.p));
    double allbad[] = {NAN, NAN};
    rk_welch(allbad, N(allbad), many, N(many), RK_DIR_LOWER, 0.02, &w);
    assert_int_equal(w.a_n, 0);
    assert_int_equal(w.verdict, RK_VERDICT_INCONCLUSIVE);
}

static void test_direction(void **state)
{
    (void)state;
    assert_int_equal(rk_metric_direction("wall_time_s"), RK_DIR_LOWER);
    assert_int_equal(rk_metric_direction("max_rss_kib"), RK_DIR_LOWER);
    assert_int_equal(rk_metric_direction("inference_time_seconds"), RK_DIR_LOWER);
    assert_int_equal(rk_metric_direction("ttft_ms"), RK_DIR_LOWER);
    assert_int_equal(rk_metric_direction("mem_seq_read_64mb_gb_s"), RK_DIR_HIGHER);
    assert_int_equal(rk_metric_direction("gemm_fp32_2048_gflops"), RK_DIR_HIGHER);
    assert_int_equal(rk_metric_direction("peak_compute_tflops"), RK_DIR_HIGHER);
    assert_int_equal(rk_metric_direction("throughput_tokens_per_sec"), RK_DIR_HIGHER);
    assert_int_equal(rk_metric_direction("exit_status"), RK_DIR_UNKNOWN);
    assert_int_equal(rk_metric_direction("_s"), RK_DIR_UNKNOWN);
    assert_string_equal(rk_verdict_name(RK_VERDICT_SLOWER), "slower");
    assert_string_equal(rk_verdict_name(RK_VERDICT_INCONCLUSIVE), "inconclusive");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_examples), cmocka_unit_test(test_p_against_integration),
        cmocka_unit_test(test_verdicts),           cmocka_unit_test(test_edges),
        cmocka_unit_test(test_direction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
