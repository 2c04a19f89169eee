/* The memory benchmark on small sizes: every metric present and positive,
 * and mem_checksum equal to what the test computes from the documented
 * buffer content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/err.h"
#include "bench/bench.h"

/* Word i of a source buffer, as docs/system-info.md defines it. */
static uint64_t word(uint64_t i)
{
    return (i * 0x9E3779B97F4A7C15ull) >> 32;
}

/* Checksum of `iterations` read passes and chase rounds over `mb` MiB. */
static uint64_t expected(int64_t mb, int iterations, int seq, int rnd)
{
    uint64_t words = (uint64_t)mb << 17, slots = words / 8, sum = 0, one = 0;
    for (uint64_t i = 0; i < words; i++)
        one += word(i);
    for (int it = 0; it < iterations; it++) {
        if (seq)
            sum += one;
        if (rnd)
            sum += slots * (slots - 1) / 2;
    }
    return sum & ((1ull << 53) - 1);
}

static double metric(json_t *m, const char *name)
{
    json_t *v = json_object_get(m, name);
    assert_non_null(v);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_all_patterns(void **state)
{
    int64_t sizes[] = {1, 2};
    rk_bench_memory_opts_t o = {.sizes_mb = sizes,
                                .n_sizes = 2,
                                .sequential = true,
                                .random = true,
                                .iterations = 2,
                                .min_pass_seconds = 0.002};
    json_t *m = NULL;
    char err[256];
    assert_int_equal(rk_bench_memory(&o, &m, err, sizeof err), 0);
    const char *names[] = {"mem_seq_read_1mb_gb_s", "mem_seq_write_1mb_gb_s",
                           "mem_copy_1mb_gb_s",     "mem_random_1mb_ns",
                           "mem_seq_read_2mb_gb_s", "mem_seq_write_2mb_gb_s",
                           "mem_copy_2mb_gb_s",     "mem_random_2mb_ns"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_true(metric(m, names[i]) > 0);
    /* The original clients' summary: the largest size, sequential. */
    assert_true(metric(m, "memory_read_bandwidth_gb_s") == metric(m, "mem_seq_read_2mb_gb_s"));
    assert_true(metric(m, "memory_write_bandwidth_gb_s") == metric(m, "mem_seq_write_2mb_gb_s"));
    assert_true(metric(m, "memory_copy_bandwidth_gb_s") == metric(m, "mem_copy_2mb_gb_s"));
    assert_int_equal(json_object_size(m), 12);         /* the 8 above, 3 summaries, the checksum */
    assert_true(metric(m, "mem_random_1mb_ns") < 1e6); /* one load, not a whole pass */
    uint64_t want = (expected(1, 2, 1, 1) + expected(2, 2, 1, 1)) & ((1ull << 53) - 1);
    assert_int_equal(json_integer_value(json_object_get(m, "mem_checksum")), want);
    json_decref(m);
}

static void test_random_only(void **state)
{
    int64_t sizes[] = {1};
    rk_bench_memory_opts_t o = {.sizes_mb = sizes,
                                .n_sizes = 1,
                                .random = true,
                                .iterations = 3,
                                .min_pass_seconds = 0.001};
    json_t *m = NULL;
    char err[256];
    assert_int_equal(rk_bench_memory(&o, &m, err, sizeof err), 0);
    assert_true(metric(m, "mem_random_1mb_ns") > 0);
    assert_null(json_object_get(m, "mem_seq_read_1mb_gb_s"));
    assert_null(json_object_get(m, "memory_read_bandwidth_gb_s")); /* no sequential pass */
    assert_int_equal(json_integer_value(json_object_get(m, "mem_checksum")), expected(1, 3, 0, 1));
    json_decref(m);
}

static void test_bad_options(void **state)
{
    int64_t sizes[] = {1};
    rk_bench_memory_opts_t o = {
        .sizes_mb = sizes, .n_sizes = 1, .sequential = true, .iterations = 0};
    json_t *m = (json_t *)1;
    char err[256];
    assert_int_equal(rk_bench_memory(&o, &m, err, sizeof err), RK_EINVAL);
    assert_null(m);
    assert_true(strlen(err) > 0);

    int64_t huge[] = {INT64_C(1) << 20}; /* 1 TiB: more than this machine has */
    o.iterations = 1;
    o.sizes_mb = huge;
    assert_int_equal(rk_bench_memory(&o, &m, err, sizeof err), RK_EINVAL);
    assert_non_null(strstr(err, "available"));
    assert_null(m);

    int64_t zero[] = {0};
    o.sizes_mb = zero;
    assert_int_equal(rk_bench_memory(&o, &m, err, sizeof err), RK_EINVAL);
    o.sizes_mb = sizes;
    o.sequential = false;
    assert_int_equal(rk_bench_memory(&o, &m, err, sizeof err), RK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_patterns),
        cmocka_unit_test(test_random_only),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
