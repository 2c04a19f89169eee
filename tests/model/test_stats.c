/* Multi-run statistics against values worked out by hand. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/stats.h"

#define EPS 1e-9

static void assert_near(double got, double want)
{
    if (fabs(got - want) > EPS * (fabs(want) > 1 ? fabs(want) : 1))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void test_three_values(void **state)
{
    (void)state;
    /* 10, 12, 14: mean 12; deviations -2, 0, 2; sample variance 8 / 2 = 4. */
    const double v[] = {14, 10, 12};
    rk_metric_stats_t s;
    assert_int_equal(rk_stats_compute("t_s", v, 3, &s), RK_OK);
    assert_string_equal(s.name, "t_s");
    assert_near(s.mean, 12);
    assert_near(s.std, 2);
    assert_near(s.min, 10);
    assert_near(s.max, 14);
    assert_near(s.median, 12);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.n_raw, 3);
    assert_true(s.raw_values[0] == 14 && s.raw_values[1] == 10 && s.raw_values[2] == 12);
    assert_int_equal(s.n_outliers, 0);
    rk_metric_stats_cleanup(&s);
}

static void test_even_count_median(void **state)
{
    (void)state;
    /* 4, 1, 3, 2: mean 2.5, median (2 + 3) / 2; variance (2.25+2.25+0.25+0.25)/3 = 5/3. */
    const double v[] = {4, 1, 3, 2};
    rk_metric_stats_t s;
    assert_int_equal(rk_stats_compute("x", v, 4, &s), RK_OK);
    assert_near(s.mean, 2.5);
    assert_near(s.median, 2.5);
    assert_near(s.std, sqrt(5.0 / 3.0));
    assert_near(s.min, 1);
    assert_near(s.max, 4);
    rk_metric_stats_cleanup(&s);
}

static void test_single_value_has_zero_std(void **state)
{
    (void)state;
    const double v[] = {7.25};
    rk_metric_stats_t s;
    assert_int_equal(rk_stats_compute("x", v, 1, &s), RK_OK);
    assert_near(s.mean, 7.25);
    assert_true(s.std == 0);
    assert_near(s.median, 7.25);
    assert_int_equal(s.n_outliers, 0);
    rk_metric_stats_cleanup(&s);
    assert_int_equal(rk_stats_compute("x", v, 0, &s), RK_EINVAL);
    rk_metric_stats_cleanup(&s);
}

static void test_outliers(void **state)
{
    (void)state;
    /* Nine 10s and one 100: mean 19; squared deviations 9 * 81 + 81^2 = 7290;
     * variance 7290 / 9 = 810, std = sqrt(810) ~ 28.46. 100 is 81 from the
     * mean (> 2 std ~ 56.9), the 10s only 9. */
    const double v[] = {10, 10, 10, 100, 10, 10, 10, 10, 10, 10};
    rk_metric_stats_t s;
    assert_int_equal(rk_stats_compute("x", v, 10, &s), RK_OK);
    assert_near(s.mean, 19);
    assert_near(s.std, sqrt(810));
    assert_near(s.median, 10);
    assert_int_equal(s.n_outliers, 1);
    assert_true(s.outliers[0] == 100);
    rk_metric_stats_cleanup(&s);

    /* Five values cannot hold an outlier beyond 2 sample std: 1, 1, 1, 1, 11
     * has mean 3, squared deviations 4 * 4 + 8^2 = 80, variance 80 / 4 = 20,
     * and 11 is 8 away, less than 2 sqrt(20) ~ 8.94. */
    const double w[] = {1, 1, 1, 1, 11};
    assert_int_equal(rk_stats_compute("x", w, 5, &s), RK_OK);
    assert_near(s.mean, 3);
    assert_near(s.std, sqrt(20));
    assert_int_equal(s.n_outliers, 0);
    rk_metric_stats_cleanup(&s);
}

static void test_huge_values_stay_finite(void **state)
{
    (void)state;
    const double v[] = {DBL_MAX, DBL_MAX, -DBL_MAX};
    rk_metric_stats_t s;
    assert_int_equal(rk_stats_compute("x", v, 3, &s), RK_OK);
    assert_true(isfinite(s.mean) && isfinite(s.std) && isfinite(s.median));
    assert_near(s.mean, DBL_MAX / 3);
    rk_metric_stats_cleanup(&s);
}

static rk_run_t make_run(int id, const char *metrics_json)
{
    json_error_t je;
    rk_run_t r = {.run_id = id, .is_cold_start = id == 0};
    r.metrics = json_loads(metrics_json, 0, &je);
    assert_non_null(r.metrics);
    return r;
}

static void free_runs(rk_run_t *runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rk_run_cleanup(&runs[i]);
}

static void test_summarize(void **state)
{
    (void)state;
    rk_run_t runs[4] = {
        make_run(0, "{\"t_s\": 100, \"host\": \"a\", \"cold_only\": 1}"),
        make_run(1, "{\"t_s\": 10, \"host\": \"a\", \"rate\": 4}"),
        make_run(2, "{\"t_s\": 14, \"host\": \"b\"}"),
        make_run(3, "{\"t_s\": 12, \"rate\": \"n/a\", \"host\": \"c\"}"),
    };
    rk_stats_summary_t s;
    assert_int_equal(rk_stats_summarize(runs, 4, &s), RK_OK);

    /* Cold start: the first run's metrics, whole. */
    assert_true(json_equal(s.cold_start_metrics, runs[0].metrics));

    /* Statistics over the warm runs only, numeric metrics only, in order of
     * first appearance. */
    assert_int_equal(s.n_stats, 2);
    assert_string_equal(s.stats[0].name, "t_s");
    assert_near(s.stats[0].mean, 12);
    assert_near(s.stats[0].std, 2);
    assert_near(s.stats[0].median, 12);
    assert_int_equal(s.stats[0].count, 3);
    assert_true(s.stats[0].raw_values[0] == 10 && s.stats[0].raw_values[1] == 14 &&
                s.stats[0].raw_values[2] == 12);
    /* rate is a number in one warm run only. */
    assert_string_equal(s.stats[1].name, "rate");
    assert_int_equal(s.stats[1].count, 1);
    assert_near(s.stats[1].mean, 4);
    assert_true(s.stats[1].std == 0);

    /* Top-level metrics: warm means; a string metric takes its last warm value;
     * a metric of the cold run only is not there. */
    assert_near(json_number_value(json_object_get(s.metrics, "t_s")), 12);
    assert_near(json_number_value(json_object_get(s.metrics, "rate")), 4);
    assert_string_equal(json_string_value(json_object_get(s.metrics, "host")), "c");
    assert_null(json_object_get(s.metrics, "cold_only"));
    assert_int_equal(json_object_size(s.metrics), 3);
    rk_stats_summary_cleanup(&s);
    free_runs(runs, 4);
}

static void test_summarize_edge_counts(void **state)
{
    (void)state;
    rk_stats_summary_t s;
    assert_int_equal(rk_stats_summarize(NULL, 0, &s), RK_OK);
    assert_int_equal(json_object_size(s.metrics), 0);
    assert_null(s.cold_start_metrics);
    assert_int_equal(s.n_stats, 0);
    rk_stats_summary_cleanup(&s);

    rk_run_t one[1] = {make_run(0, "{\"t_s\": 3}")};
    assert_int_equal(rk_stats_summarize(one, 1, &s), RK_OK);
    assert_true(json_equal(s.metrics, one[0].metrics));
    assert_true(json_equal(s.cold_start_metrics, one[0].metrics));
    assert_int_equal(s.n_stats, 0);
    rk_stats_summary_cleanup(&s);
    free_runs(one, 1);
}

static void test_apply_to_result(void **state)
{
    (void)state;
    rk_result_t r = {0};
    r.n_runs = 3;
    r.runs = calloc(3, sizeof *r.runs);
    assert_non_null(r.runs);
    r.runs[0] = make_run(0, "{\"t_s\": 9}");
    r.runs[1] = make_run(1, "{\"t_s\": 1}");
    r.runs[2] = make_run(2, "{\"t_s\": 2}");
    r.metrics = json_object(); /* replaced */
    r.job_id = strdup("j");
    r.experiment_id = strdup("e");
    assert_int_equal(rk_stats_apply(&r), RK_OK);
    assert_true(r.has_runs);
    assert_near(json_number_value(json_object_get(r.metrics, "t_s")), 1.5);
    assert_int_equal(json_integer_value(json_object_get(r.cold_start_metrics, "t_s")), 9);
    assert_int_equal(r.n_stats, 1);
    assert_near(r.stats[0].std, sqrt(0.5));

    /* The encoding carries the protocol's fields. */
    json_t *enc = rk_result_encode(&r);
    assert_non_null(enc);
    json_t *st = json_object_get(json_object_get(enc, "metric_statistics"), "t_s");
    assert_near(json_number_value(json_object_get(st, "median")), 1.5);
    assert_int_equal(json_integer_value(json_object_get(st, "count")), 2);
    assert_int_equal(json_array_size(json_object_get(st, "raw_values")), 2);
    assert_int_equal(json_array_size(json_object_get(st, "outliers")), 0);
    assert_int_equal(json_array_size(json_object_get(enc, "runs")), 3);
    json_decref(enc);
    rk_result_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_values),
        cmocka_unit_test(test_even_count_median),
        cmocka_unit_test(test_single_value_has_zero_std),
        cmocka_unit_test(test_outliers),
        cmocka_unit_test(test_huge_values_stay_finite),
        cmocka_unit_test(test_summarize),
        cmocka_unit_test(test_summarize_edge_counts),
        cmocka_unit_test(test_apply_to_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
