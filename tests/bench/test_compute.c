/* The GEMM benchmark through OpenBLAS: figures present and positive, the
 * checksum equal to a naive triple loop over the documented inputs, the
 * precisions a CPU cannot do listed, never measured. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "bench/bench.h"

/* Sum of C[i] * (i % 7 + 1) for C = A x B with A[i] = ((7i mod 13) - 6) / 8 and
 * B[i] = ((5i mod 11) - 5) / 8, row-major n x n. */
static double naive_checksum(int n)
{
    double *a = malloc(sizeof *a * (size_t)n * (size_t)n);
    double *b = malloc(sizeof *b * (size_t)n * (size_t)n);
    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < (size_t)n * (size_t)n; i++) {
        a[i] = (double)((int)((i * 7) % 13) - 6) / 8.0;
        b[i] = (double)((int)((i * 5) % 11) - 5) / 8.0;
    }
    double sum = 0;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            double cell = 0;
            for (int k = 0; k < n; k++)
                cell += a[r * n + k] * b[k * n + c];
            sum += cell * (double)((r * n + c) % 7 + 1);
        }
    free(a);
    free(b);
    return sum;
}

static double metric(json_t *m, const char *name)
{
    json_t *v = json_object_get(m, name);
    assert_non_null(v);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_fp64_fp32(void **state)
{
    rk_precision_t precs[] = {RK_PREC_FP64, RK_PREC_FP16, RK_PREC_FP32, RK_PREC_INT8, RK_PREC_FP16};
    int64_t sizes[] = {64, 33};
    rk_bench_compute_opts_t o = {
        .precisions = precs, .n_precisions = 5, .sizes = sizes, .n_sizes = 2, .min_seconds = 0.02};
    json_t *m = NULL;
    char err[256];
    assert_int_equal(rk_bench_compute(&o, &m, err, sizeof err), 0);
    assert_true(metric(m, "gemm_fp64_64_gflops") > 0);
    assert_true(metric(m, "gemm_fp32_64_gflops") > 0);
    assert_true(metric(m, "gemm_fp64_33_gflops") > 0);
    assert_true(metric(m, "gemm_fp32_33_gflops") > 0);
    double want64 = naive_checksum(64), want33 = naive_checksum(33);
    assert_true(want64 != 0);
    assert_true(metric(m, "gemm_fp64_64_checksum") == want64);
    assert_true(metric(m, "gemm_fp32_64_checksum") == want64);
    assert_true(metric(m, "gemm_fp64_33_checksum") == want33);
    assert_true(metric(m, "gemm_fp32_33_checksum") == want33);
    if (json_object_get(m, "cpu_peak_fp64_gflops")) {
        double share = metric(m, "gemm_fp64_64_peak_share");
        assert_true(share > 0);
        assert_true(share * metric(m, "cpu_peak_fp64_gflops") - metric(m, "gemm_fp64_64_gflops") <
                    1e-6);
        assert_true(metric(m, "cpu_peak_fp32_gflops") > 0);
    }
    /* The original clients' summary: best rate per precision, in TFLOPS. */
    double b64 = fmax(metric(m, "gemm_fp64_64_gflops"), metric(m, "gemm_fp64_33_gflops"));
    double b32 = fmax(metric(m, "gemm_fp32_64_gflops"), metric(m, "gemm_fp32_33_gflops"));
    assert_true(fabs(metric(m, "compute_fp64_tflops") - b64 / 1000) < 1e-12);
    assert_true(fabs(metric(m, "compute_fp32_tflops") - b32 / 1000) < 1e-12);
    assert_true(fabs(metric(m, "peak_compute_tflops") - fmax(b64, b32) / 1000) < 1e-12);
    assert_string_equal(json_string_value(json_object_get(m, "unsupported_precisions")),
                        "fp16,int8");
    assert_null(json_object_get(m, "gemm_fp16_64_gflops"));
    json_decref(m);
}

static void test_only_unsupported(void **state)
{
    rk_precision_t precs[] = {RK_PREC_BF16, RK_PREC_FP8};
    int64_t sizes[] = {64};
    rk_bench_compute_opts_t o = {
        .precisions = precs, .n_precisions = 2, .sizes = sizes, .n_sizes = 1, .min_seconds = 0.01};
    json_t *m = (json_t *)1;
    char err[256];
    assert_int_equal(rk_bench_compute(&o, &m, err, sizeof err), RK_EUNSUP);
    assert_null(m);
    assert_non_null(strstr(err, "bf16,fp8"));
}

static void test_bad_sizes(void **state)
{
    rk_precision_t precs[] = {RK_PREC_FP64};
    int64_t sizes[] = {0};
    rk_bench_compute_opts_t o = {
        .precisions = precs, .n_precisions = 1, .sizes = sizes, .n_sizes = 1};
    json_t *m = NULL;
    char err[256];
    assert_int_equal(rk_bench_compute(&o, &m, err, sizeof err), RK_EINVAL);
    assert_null(m);
    sizes[0] = 16385;
    assert_int_equal(rk_bench_compute(&o, &m, err, sizeof err), RK_EINVAL);
    o.n_sizes = 0;
    assert_int_equal(rk_bench_compute(&o, &m, err, sizeof err), RK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp64_fp32),
        cmocka_unit_test(test_only_unsupported),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
