/* Compute benchmark: dense GEMM through OpenBLAS, loaded at run time so the
 * agent binary neither links nor maps it. */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "bench/bench.h"
#include "sysinfo/sysinfo.h"

#define MAX_ORDER 16384
#define OPENBLAS_SONAME "libopenblas.so.0"

/* CBLAS as OpenBLAS exports it (LP64 build: 32-bit ints; enums are ints). */
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111 };
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *,
                         int, double, double *, int);
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
typedef char *(*config_fn)(void);
typedef int (*threads_fn)(void);

typedef struct blas {
    void *handle;
    dgemm_fn dgemm;
    sgemm_fn sgemm;
    config_fn config;   /* optional */
    threads_fn threads; /* optional */
} blas_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int blas_load(blas_t *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->handle = dlopen(OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!b->handle) {
        snprintf(err, errlen, "compute benchmark: cannot load " OPENBLAS_SONAME ": %s", dlerror());
        return RK_EUNSUP;
    }
    *(void **)&b->dgemm = dlsym(b->handle, "cblas_dgemm");
    *(void **)&b->sgemm = dlsym(b->handle, "cblas_sgemm");
    *(void **)&b->config = dlsym(b->handle, "openblas_get_config");
    *(void **)&b->threads = dlsym(b->handle, "openblas_get_num_threads");
    if (!b->dgemm || !b->sgemm) {
        snprintf(err, errlen, "compute benchmark: " OPENBLAS_SONAME " lacks cblas_dgemm/sgemm");
        dlclose(b->handle);
        b->handle = NULL;
        return RK_EUNSUP;
    }
    return RK_OK;
}

/* One precision and order: fills A and B, calls GEMM once to warm up
 * (thread start, page faults), then repeats it for min_s. Returns GFLOP/s
 * and the checksum of C, or a negative value when the matrices cannot be had. */
static double run_gemm(const blas_t *b, int fp64, int n, double min_s, double *checksum)
{
    size_t cells = (size_t)n * (size_t)n, esz = fp64 ? sizeof(double) : sizeof(float);
    void *a = malloc(cells * esz), *bm = malloc(cells * esz), *c = malloc(cells * esz);
    double gflops = -1;
    if (!a || !bm || !c)
        goto out;
    for (size_t i = 0; i < cells; i++) {
        if (fp64) {
            ((double *)a)[i] = rk_bench_gemm_a(i);
            ((double *)bm)[i] = rk_bench_gemm_b(i);
        } else {
            ((float *)a)[i] = (float)rk_bench_gemm_a(i);
            ((float *)bm)[i] = (float)rk_bench_gemm_b(i);
        }
    }
    long reps = 0;
    double t0 = 0, el = 0;
    for (long call = 0;; call++) {
        if (call == 1)
            t0 = now_s();
        if (fp64)
            b->dgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, n, n, n, 1.0, a, n, bm, n,
                     0.0, c, n);
        else
            b->sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, n, n, n, 1.0f, a, n, bm, n,
                     0.0f, c, n);
        if (call >= 1) {
            reps++;
            el = now_s() - t0;
            if (el >= min_s)
                break;
        }
    }
    /* Weighted so a misplaced cell shows; every term and partial sum is a
     * multiple of 1/64 well under 2^47, so the sum is exact in any order. */
    double sum = 0;
    for (size_t i = 0; i < cells; i++)
        sum += (fp64 ? ((double *)c)[i] : (double)((float *)c)[i]) * (double)(i % 7 + 1);
    *checksum = sum;
    gflops = 2.0 * (double)n * (double)n * (double)n * (double)reps / el / 1e9;
out:
    free(a);
    free(bm);
    free(c);
    return gflops;
}

static int set_num(json_t *m, const char *name, double v)
{
    return json_object_set_new(m, name, json_real(v)) ? RK_ENOMEM : RK_OK;
}

static int check_opts(const rk_bench_compute_opts_t *o, char *err, size_t errlen)
{
    uint64_t total = 0, avail = 0;
    if (!o || !o->n_sizes || !o->n_precisions) {
        snprintf(err, errlen, "compute benchmark: need matrix sizes and precisions");
        return RK_EINVAL;
    }
    int have_mem = rk_sysinfo_memory(&total, &avail) == 0;
    for (size_t i = 0; i < o->n_sizes; i++) {
        int64_t n = o->sizes[i];
        if (n < 1 || n > MAX_ORDER) {
            snprintf(err, errlen, "compute benchmark: matrix size %" PRId64 " out of 1..%d", n,
                     MAX_ORDER);
            return RK_EINVAL;
        }
        uint64_t need = 3 * (uint64_t)n * (uint64_t)n * sizeof(double);
        if (have_mem && need > avail) {
            snprintf(err, errlen,
                     "compute benchmark: matrix size %" PRId64 " needs %" PRIu64 " MiB, %" PRIu64
                     " MiB available",
                     n, need >> 20, avail >> 20);
            return RK_EINVAL;
        }
    }
    return RK_OK;
}

int rk_bench_compute(const rk_bench_compute_opts_t *o, json_t **metrics, char *err, size_t errlen)
{
    blas_t b = {0};
    json_t *m = NULL;
    rk_buf_t unsup;
    rk_buf_init(&unsup, 256);
    *metrics = NULL;
    if (err && errlen)
        err[0] = '\0';
    int rc = check_opts(o, err, errlen);
    if (rc)
        goto out;
    int want[2] = {0, 0}; /* fp64, fp32 */
    for (size_t i = 0; i < o->n_precisions; i++) {
        rk_precision_t p = o->precisions[i];
        if (p == RK_PREC_FP64 || p == RK_PREC_FP32) {
            want[p == RK_PREC_FP32] = 1;
        } else if (!strstr(rk_buf_str(&unsup), rk_precision_name(p))) {
            rc = rk_buf_printf(&unsup, "%s%s", unsup.len ? "," : "", rk_precision_name(p));
            if (rc)
                goto out;
        }
    }
    if (!want[0] && !want[1]) {
        snprintf(err, errlen,
                 "compute benchmark: no requested precision can run on this CPU"
                 " (unsupported: %s)",
                 rk_buf_str(&unsup));
        rc = RK_EUNSUP;
        goto out;
    }
    rc = blas_load(&b, err, errlen);
    if (rc)
        goto out;
    rc = RK_ENOMEM;
    m = json_object();
    if (!m)
        goto out;
    const rk_cpu_info_t *cpu = rk_sysinfo_cpu();
    double peak[2] = {rk_sysinfo_cpu_peak_gflops(cpu, 1), rk_sysinfo_cpu_peak_gflops(cpu, 0)};
    double min_s = o->min_seconds > 0 ? o->min_seconds : 0.2;
    /* The original clients' summary: the best GEMM rate per precision and
     * overall, in TFLOPS, beside our per-size names. */
    double best[2] = {0, 0};
    for (size_t si = 0; si < o->n_sizes; si++) {
        int n = (int)o->sizes[si];
        for (int fp32 = 0; fp32 < 2; fp32++) {
            if (!want[fp32])
                continue;
            const char *prec = fp32 ? "fp32" : "fp64";
            double sum = 0, gflops = run_gemm(&b, !fp32, n, min_s, &sum);
            if (gflops < 0) {
                snprintf(err, errlen, "compute benchmark: cannot allocate %dx%d matrices", n, n);
                goto out;
            }
            if (gflops > best[fp32])
                best[fp32] = gflops;
            char name[96];
            snprintf(name, sizeof name, "gemm_%s_%d_gflops", prec, n);
            if (set_num(m, name, gflops))
                goto out;
            snprintf(name, sizeof name, "gemm_%s_%d_checksum", prec, n);
            if (set_num(m, name, sum))
                goto out;
            snprintf(name, sizeof name, "gemm_%s_%d_peak_share", prec, n);
            if (peak[fp32] > 0 && set_num(m, name, gflops / peak[fp32]))
                goto out;
        }
    }
    if ((want[0] && set_num(m, "compute_fp64_tflops", best[0] / 1000)) ||
        (want[1] && set_num(m, "compute_fp32_tflops", best[1] / 1000)) ||
        set_num(m, "peak_compute_tflops", (best[0] > best[1] ? best[0] : best[1]) / 1000))
        goto out;
    if ((want[0] && peak[0] > 0 && set_num(m, "cpu_peak_fp64_gflops", peak[0])) ||
        (want[1] && peak[1] > 0 && set_num(m, "cpu_peak_fp32_gflops", peak[1])))
        goto out;
    if (unsup.len && json_object_set_new(m, "unsupported_precisions", json_string(unsup.data)))
        goto out;
    if (b.threads && json_object_set_new(m, "blas_threads", json_integer(b.threads())))
        goto out;
    if (b.config && json_object_set_new(m, "blas_config", json_string(b.config())))
        goto out;
    *metrics = m;
    m = NULL;
    rc = RK_OK;
out:
    if (rc == RK_ENOMEM && err && errlen && !err[0])
        snprintf(err, errlen, "compute benchmark: out of memory");
    json_decref(m);
    rk_buf_cleanup(&unsup);
    if (b.handle)
        dlclose(b.handle);
    return rc;
}
