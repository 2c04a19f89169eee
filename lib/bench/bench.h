/* Built-in benchmarks: memory bandwidth and latency, and CPU GEMM.
 *
 * Both are meant to run in a child process of the agent (they take seconds
 * and, for GEMM, load OpenBLAS, which the agent itself never loads). Each
 * returns its figures as a flat JSON object of metrics, named as
 * docs/system-info.md ("Benchmarks") lists, and keeps a checksum of the
 * data it read among them, so no compiler can drop the work and a reader
 * can check the run computed what it claims.
 */
#ifndef RK_BENCH_BENCH_H
#define RK_BENCH_BENCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/enums.h"

typedef struct rk_bench_memory_opts {
    const int64_t *sizes_mb; /* test sizes in MiB, each >= 1 */
    size_t n_sizes;
    bool sequential;         /* seq read, seq write and copy */
    bool random;             /* pointer-chasing latency */
    int iterations;          /* >= 1; the best iteration is reported */
    double min_pass_seconds; /* each iteration repeats passes this long; 0: 0.01 */
} rk_bench_memory_opts_t;

/* Word i (0-based, 64-bit) of every source buffer, so a test can recompute
 * mem_checksum: the high 32 bits of i * 0x9E3779B97F4A7C15 (mod 2^64). */
static inline uint64_t rk_bench_memory_word(uint64_t i)
{
    return (i * UINT64_C(0x9E3779B97F4A7C15)) >> 32;
}

/* Runs the memory benchmark for each size. *metrics is a new object of
 * numbers; on failure it is NULL and err[errlen] says why. RK_EINVAL for
 * bad options or a size that does not fit in available memory (2 buffers
 * of the size are needed), RK_ENOMEM. */
int rk_bench_memory(const rk_bench_memory_opts_t *o, json_t **metrics, char *err, size_t errlen);

typedef struct rk_bench_compute_opts {
    const rk_precision_t *precisions;
    size_t n_precisions;
    const int64_t *sizes; /* square matrix orders, each 1..16384 */
    size_t n_sizes;
    double min_seconds; /* timed calls per (precision, size) last this long; 0: 0.2 */
} rk_bench_compute_opts_t;

/* Element i (row-major, i = row * n + col) of the GEMM inputs, exact in
 * fp32 and fp64 so every product and sum is exact and the checksum of
 * C = A x B, sum over i of C[i] * (i % 7 + 1), is reproducible by a naive
 * loop. */
static inline double rk_bench_gemm_a(uint64_t i)
{
    return (double)((int)((i * 7) % 13) - 6) / 8.0;
}
static inline double rk_bench_gemm_b(uint64_t i)
{
    return (double)((int)((i * 5) % 11) - 5) / 8.0;
}

/* GEMM GFLOP/s for each precision and size with OpenBLAS, loaded here with
 * dlopen("libopenblas.so.0"). fp64 and fp32 are measured; the other
 * precisions are listed in the string metric unsupported_precisions.
 * *metrics is a new object; on failure it is NULL and err[errlen] says why:
 * RK_EUNSUP when OpenBLAS cannot be loaded or no requested precision can be
 * measured, RK_EINVAL for bad options or matrices that do not fit in
 * available memory, RK_ENOMEM. */
int rk_bench_compute(const rk_bench_compute_opts_t *o, json_t **metrics, char *err, size_t errlen);

#endif
