/* Memory benchmark: sequential read, write and copy bandwidth, and random
 * access latency by pointer chasing, over buffers of each test size. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "bench/bench.h"
#include "sysinfo/sysinfo.h"

#define SLOT_WORDS 8                            /* one 64-byte cache line per chase step */
#define CHECKSUM_MASK ((UINT64_C(1) << 53) - 1) /* exact as a JSON double */

/* Tells the compiler the buffer's content is used, so stores stay. */
#define KEEP(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t read_pass(const uint64_t *w, size_t n)
{
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += w[i];
        s1 += w[i + 1];
        s2 += w[i + 2];
        s3 += w[i + 3];
    }
    for (; i < n; i++)
        s0 += w[i];
    return s0 + s1 + s2 + s3;
}

static void write_pass(uint64_t *w, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        w[i] = v;
    KEEP(w);
}

/* Turns the buffer into one random cycle over its cache lines (Sattolo's
 * algorithm, fixed seed): slot i's first word holds the next slot. */
static void build_chase(uint64_t *w, size_t slots)
{
    uint64_t x = UINT64_C(0x2545F4914F6CDD1D);
    for (size_t i = 0; i < slots; i++)
        w[i * SLOT_WORDS] = i;
    for (size_t i = slots - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i);
        uint64_t t = w[i * SLOT_WORDS];
        w[i * SLOT_WORDS] = w[j * SLOT_WORDS];
        w[j * SLOT_WORDS] = t;
    }
}

/* Follows the cycle once round; returns the sum of the slots visited,
 * n(n-1)/2 for an intact cycle, which only the loads can produce. */
static uint64_t chase_pass(const uint64_t *w, size_t slots)
{
    uint64_t idx = 0, sum = 0;
    for (size_t k = 0; k < slots; k++) {
        sum += idx;
        idx = w[idx * SLOT_WORDS];
    }
    return sum;
}

enum kind { SEQ_READ, SEQ_WRITE, COPY, RANDOM, KIND_COUNT };

typedef struct run {
    uint64_t *src, *dst;
    size_t words;
    double min_pass_s;
    uint64_t sum; /* the checksum of the last pass */
    int mismatch; /* a pass read something other than the first did */
} run_t;

/* Runs passes of one kind for at least min_pass_s; returns seconds per pass. */
static double timed(run_t *r, enum kind k)
{
    size_t slots = r->words / SLOT_WORDS;
    int passes = 0;
    uint64_t first = 0;
    double t0 = now_s(), el;
    do {
        uint64_t s = 0;
        switch (k) {
        case SEQ_READ:
            s = read_pass(r->src, r->words);
            break;
        case SEQ_WRITE:
            write_pass(r->dst, r->words, (uint64_t)passes);
            break;
        case COPY:
            memcpy(r->dst, r->src, r->words * sizeof *r->dst);
            KEEP(r->dst);
            break;
        case RANDOM:
            s = chase_pass(r->dst, slots);
            break;
        default:
            break;
        }
        if (passes == 0)
            first = s;
        else if (s != first)
            r->mismatch = 1;
        r->sum = s;
        passes++;
        el = now_s() - t0;
    } while (el < r->min_pass_s);
    return el / passes;
}

/* Sets metric "<what>_<mb>mb_<unit>". */
static int put(json_t *m, const char *what, int64_t mb, const char *unit, double v)
{
    char name[96];
    snprintf(name, sizeof name, "%s_%" PRId64 "mb_%s", what, mb, unit);
    return json_object_set_new(m, name, json_real(v)) ? RK_ENOMEM : RK_OK;
}

static int check_opts(const rk_bench_memory_opts_t *o, char *err, size_t errlen)
{
    uint64_t total = 0, avail = 0;
    if (!o || !o->n_sizes || o->iterations < 1 || (!o->sequential && !o->random)) {
        snprintf(err, errlen, "memory benchmark: need sizes, a pattern and iterations >= 1");
        return RK_EINVAL;
    }
    int have_mem = rk_sysinfo_memory(&total, &avail) == 0;
    for (size_t i = 0; i < o->n_sizes; i++) {
        int64_t mb = o->sizes_mb[i];
        if (mb < 1 || mb > (INT64_C(1) << 20)) {
            snprintf(err, errlen, "memory benchmark: test size %" PRId64 " MB out of range", mb);
            return RK_EINVAL;
        }
        if (have_mem && (uint64_t)mb * 2 > avail >> 20) {
            snprintf(err, errlen,
                     "memory benchmark: test size %" PRId64 " MB needs %" PRId64 " MiB, %" PRIu64
                     " MiB available",
                     mb, mb * 2, avail >> 20);
            return RK_EINVAL;
        }
    }
    return RK_OK;
}

int rk_bench_memory(const rk_bench_memory_opts_t *o, json_t **metrics, char *err, size_t errlen)
{
    run_t r = {0};
    uint64_t checksum = 0;
    if (err && errlen)
        err[0] = '\0';
    int rc = check_opts(o, err, errlen);
    *metrics = NULL;
    if (rc)
        return rc;
    json_t *m = json_object();
    rc = RK_ENOMEM;
    if (!m)
        goto out;
    r.min_pass_s = o->min_pass_seconds > 0 ? o->min_pass_seconds : 0.01;
    /* The original clients chart one figure per kind: the largest size's
     * sequential bandwidth, kept beside our per-size names. */
    int64_t largest = -1;
    double summary[3] = {0};
    for (size_t si = 0; si < o->n_sizes; si++) {
        int64_t mb = o->sizes_mb[si];
        size_t bytes = (size_t)mb << 20;
        r.words = bytes / sizeof(uint64_t);
        if (posix_memalign((void **)&r.src, 64, bytes) ||
            posix_memalign((void **)&r.dst, 64, bytes)) {
            snprintf(err, errlen, "memory benchmark: cannot allocate 2 x %" PRId64 " MiB", mb);
            goto out;
        }
        /* Fault every page in before any clock starts. */
        for (size_t i = 0; i < r.words; i++)
            r.src[i] = rk_bench_memory_word(i);
        memset(r.dst, 0, bytes);
        double best[KIND_COUNT] = {0};
        for (int it = 0; it < o->iterations; it++) {
            for (int k = 0; k < KIND_COUNT; k++) {
                if ((k == RANDOM && !o->random) || (k != RANDOM && !o->sequential))
                    continue;
                if (k == RANDOM)
                    build_chase(r.dst, r.words / SLOT_WORDS);
                double t = timed(&r, (enum kind)k);
                if (k == SEQ_READ || k == RANDOM)
                    checksum += r.sum;
                if (best[k] == 0 || t < best[k])
                    best[k] = t;
            }
        }
        if (r.mismatch) {
            snprintf(err, errlen,
                     "memory benchmark: a pass read different data than the first"
                     " (memory error?)");
            rc = RK_EIO;
            goto out;
        }
        double gb = (double)bytes / 1e9;
        if (o->sequential && (put(m, "mem_seq_read", mb, "gb_s", gb / best[SEQ_READ]) ||
                              put(m, "mem_seq_write", mb, "gb_s", gb / best[SEQ_WRITE]) ||
                              put(m, "mem_copy", mb, "gb_s", 2 * gb / best[COPY])))
            goto out;
        if (o->sequential && mb > largest) {
            largest = mb;
            summary[0] = gb / best[SEQ_READ];
            summary[1] = gb / best[SEQ_WRITE];
            summary[2] = 2 * gb / best[COPY];
        }
        if (o->random &&
            put(m, "mem_random", mb, "ns", best[RANDOM] * 1e9 / (double)(r.words / SLOT_WORDS)))
            goto out;
        free(r.src);
        free(r.dst);
        r.src = r.dst = NULL;
    }
    if (largest >= 0 &&
        (json_object_set_new(m, "memory_read_bandwidth_gb_s", json_real(summary[0])) ||
         json_object_set_new(m, "memory_write_bandwidth_gb_s", json_real(summary[1])) ||
         json_object_set_new(m, "memory_copy_bandwidth_gb_s", json_real(summary[2]))))
        goto out;
    if (json_object_set_new(m, "mem_checksum",
                            json_integer((json_int_t)(checksum & CHECKSUM_MASK))))
        goto out;
    *metrics = m;
    m = NULL;
    rc = RK_OK;
out:
    if (rc == RK_ENOMEM && err && errlen && !err[0])
        snprintf(err, errlen, "memory benchmark: out of memory");
    free(r.src);
    free(r.dst);
    json_decref(m);
    return rc;
}
