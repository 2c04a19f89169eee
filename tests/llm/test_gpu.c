/* GPU sampling (lib/llm/gpu.c): the pure figures from known samples, the
 * sampler thread against a fake NVML (tests/llm/fake_nvml.c, loaded as
 * the real one would be), and nothing sampled, reported or failed when
 * there is no NVML or no device, as on the machine these tests were
 * written on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/err.h"
#include "llm/gpu.h"

static double metric(const json_t *m, const char *k)
{
    const json_t *v = json_object_get(m, k);
    if (!json_is_number(v))
        fail_msg("no metric %s", k);
    return json_number_value(v);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_figures_from_samples(void **state)
{
    (void)state;
    /* 100, 200, 300 W at 0, 1, 2 s: 150 J + 250 J; 800 tokens / 400 J. */
    rk_llm_gpu_acc_t a = {0};
    rk_llm_gpu_acc_add(&a, 10, 20, 1000, 100);
    rk_llm_gpu_acc_add(&a, 11, 40, 3000, 200);
    rk_llm_gpu_acc_add(&a, 12, 90, 2000, 300);
    json_t *m = json_object();
    assert_int_equal(rk_llm_gpu_acc_report(&a, "c4", 800, m), 0);
    assert_true(fabs(metric(m, "c4_gpu_util_mean_pct") - 50) < 1e-9);
    assert_true(fabs(metric(m, "c4_gpu_mem_max_mib") - 3000) < 1e-9);
    assert_true(fabs(metric(m, "c4_gpu_power_mean_w") - 200) < 1e-9);
    assert_true(fabs(a.joules - 400) < 1e-9);
    assert_true(fabs(metric(m, "c4_tokens_per_joule") - 2) < 1e-9);
    assert_int_equal(json_object_size(m), 4);
    json_decref(m);

    /* Readings a sample did not have (negative) are left out of their
     * figure only; energy spans the power samples that exist, uneven gaps
     * weighted by their length: 0.5 s at 100->100 W, 1.5 s at 100->300 W. */
    rk_llm_gpu_acc_t b = {0};
    rk_llm_gpu_acc_add(&b, 0, 10, -1, 100);
    rk_llm_gpu_acc_add(&b, 0.5, -1, 500, 100);
    rk_llm_gpu_acc_add(&b, 1, 30, -1, -1);
    rk_llm_gpu_acc_add(&b, 2, -1, 400, 300);
    m = json_object();
    assert_int_equal(rk_llm_gpu_acc_report(&b, "r0p5", 50, m), 0);
    assert_true(fabs(metric(m, "r0p5_gpu_util_mean_pct") - 20) < 1e-9);
    assert_true(fabs(metric(m, "r0p5_gpu_mem_max_mib") - 500) < 1e-9);
    assert_true(fabs(metric(m, "r0p5_gpu_power_mean_w") - 500.0 / 3) < 1e-9);
    assert_true(fabs(b.joules - (0.5 * 100 + 1.5 * 200)) < 1e-9);
    assert_true(fabs(metric(m, "r0p5_tokens_per_joule") - 50 / 350.0) < 1e-12);
    json_decref(m);

    /* One power sample spans no time: no energy, so no tokens per joule;
     * no sample at all: nothing. */
    rk_llm_gpu_acc_t c = {0};
    rk_llm_gpu_acc_add(&c, 5, 70, 100, 250);
    m = json_object();
    assert_int_equal(rk_llm_gpu_acc_report(&c, "c1", 10, m), 0);
    assert_null(json_object_get(m, "c1_tokens_per_joule"));
    assert_int_equal(json_object_size(m), 3);
    json_decref(m);
    rk_llm_gpu_acc_t none = {0};
    m = json_object();
    assert_int_equal(rk_llm_gpu_acc_report(&none, "c1", 10, m), 0);
    assert_int_equal(json_object_size(m), 0);
    json_decref(m);
}

static void test_no_gpu_no_sampling(void **state)
{
    (void)state;
    rk_llm_gpu_t *g = (rk_llm_gpu_t *)1;
    assert_int_equal(rk_llm_gpu_open_lib("/nonexistent/libnvidia-ml.so.1", &g), RK_EUNSUP);
    assert_null(g);
    /* A library that is no NVML (lacks its functions). */
    assert_int_equal(rk_llm_gpu_open_lib("libm.so.6", &g), RK_EUNSUP);
    assert_null(g);
    /* NVML with no device. */
    setenv("FAKE_NVML_DEVICES", "0", 1);
    assert_int_equal(rk_llm_gpu_open_lib(RK_FAKE_NVML, &g), RK_EUNSUP);
    assert_null(g);
    unsetenv("FAKE_NVML_DEVICES");
    /* This machine: without the driver's NVML, the real open says so. */
    void *real = dlopen(RK_LLM_GPU_NVML, RTLD_NOW | RTLD_LOCAL);
    if (real) {
        dlclose(real);
        fprintf(stderr, "%s is here: not checking the no-GPU answer\n", RK_LLM_GPU_NVML);
    } else {
        assert_int_equal(rk_llm_gpu_open(&g), RK_EUNSUP);
        assert_null(g);
    }
    rk_llm_gpu_close(NULL);
}

static void test_sampler_with_fake_nvml(void **state)
{
    (void)state;
    rk_llm_gpu_t *g;
    assert_int_equal(rk_llm_gpu_open_lib(RK_FAKE_NVML, &g), 0);
    assert_int_equal(rk_llm_gpu_devices(g), 2);
    assert_int_equal(rk_llm_gpu_start(g, 10), 0);
    assert_int_equal(rk_llm_gpu_start(g, 10), RK_ESTATE);
    sleep_ms(300);
    rk_llm_gpu_acc_t a;
    rk_llm_gpu_stop(g, &a);
    /* A sample at the start, every 10 ms, one at the end: on a loaded
     * machine fewer wake-ups than 30, never fewer than the two ends. */
    fprintf(stderr, "%zu samples over %.3f s\n", a.n_util, a.power_span_s);
    assert_true(a.n_util >= 3);
    assert_int_equal(a.n_util, a.n_power);
    assert_true(a.power_span_s >= 0.29 && a.power_span_s < 5);
    json_t *m = json_object();
    assert_int_equal(rk_llm_gpu_acc_report(&a, "c2", 1000, m), 0);
    /* Utilization is the devices' mean, memory and power their sums. */
    assert_true(fabs(metric(m, "c2_gpu_util_mean_pct") - 50) < 1e-9);
    assert_true(fabs(metric(m, "c2_gpu_mem_max_mib") - 4096) < 1e-9);
    assert_true(fabs(metric(m, "c2_gpu_power_mean_w") - 200) < 1e-9);
    /* 200 W all along: joules = 200 x the time sampled. */
    assert_true(fabs(a.joules - 200 * a.power_span_s) < 1e-6);
    assert_true(fabs(metric(m, "c2_tokens_per_joule") - 1000 / (200 * a.power_span_s)) < 1e-9);
    json_decref(m);

    /* Started again, a fresh accumulator; power readings failing (a GPU
     * without power management): no power, no energy, the rest still. */
    setenv("FAKE_NVML_NO_POWER", "1", 1);
    assert_int_equal(rk_llm_gpu_start(g, 10), 0);
    sleep_ms(50);
    rk_llm_gpu_stop(g, &a);
    unsetenv("FAKE_NVML_NO_POWER");
    m = json_object();
    assert_int_equal(rk_llm_gpu_acc_report(&a, "c2", 1000, m), 0);
    assert_true(fabs(metric(m, "c2_gpu_util_mean_pct") - 50) < 1e-9);
    assert_non_null(json_object_get(m, "c2_gpu_mem_max_mib"));
    assert_null(json_object_get(m, "c2_gpu_power_mean_w"));
    assert_null(json_object_get(m, "c2_tokens_per_joule"));
    json_decref(m);
    /* Not started: empty; closed while sampling: the thread stops. */
    rk_llm_gpu_stop(g, &a);
    assert_int_equal(a.n_util, 0);
    assert_int_equal(rk_llm_gpu_start(g, 10), 0);
    rk_llm_gpu_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures_from_samples),
        cmocka_unit_test(test_no_gpu_no_sampling),
        cmocka_unit_test(test_sampler_with_fake_nvml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
