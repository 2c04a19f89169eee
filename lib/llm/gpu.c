/* GPU sampling during a stage through NVML loaded at run time (gpu.h). No
 * NVIDIA header or library is needed to build. */
#include "llm/gpu.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

/* NVML caps the devices of one machine far below this; a bound keeps the
 * handle table fixed. */
#define GPU_MAX_DEVICES 64

/* The few NVML declarations used (stable C ABI since NVML 5). */
typedef int nvml_ret_t; /* nvmlReturn_t; 0 is NVML_SUCCESS */
typedef struct nvml_device *nvml_device_t;
typedef struct {
    unsigned int gpu, memory; /* percent of the last sample period */
} nvml_util_t;
typedef struct {
    unsigned long long total, free, used; /* bytes */
} nvml_memory_t;

struct rk_llm_gpu {
    void *lib;
    nvml_ret_t (*shutdown)(void);
    nvml_ret_t (*util)(nvml_device_t, nvml_util_t *);
    nvml_ret_t (*memory)(nvml_device_t, nvml_memory_t *);
    nvml_ret_t (*power)(nvml_device_t, unsigned int *); /* milliwatts */
    nvml_device_t dev[GPU_MAX_DEVICES];
    unsigned n_dev;
    /* The sampler: acc and stop under mu; cv wakes it to stop. */
    pthread_t thread;
    bool running, stop;
    int period_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rk_llm_gpu_acc_t acc;
};

void rk_llm_gpu_acc_add(rk_llm_gpu_acc_t *a, double t_s, double util_pct, double mem_mib,
                        double power_w)
{
    if (util_pct >= 0) {
        a->util_sum += util_pct;
        a->n_util++;
    }
    if (mem_mib >= 0) {
        if (a->n_mem == 0 || mem_mib > a->mem_max_mib)
            a->mem_max_mib = mem_mib;
        a->n_mem++;
    }
    if (power_w >= 0) {
        a->power_sum_w += power_w;
        a->n_power++;
        /* Energy: the trapezoid between this sample and the last one that
         * had a power reading. */
        if (a->has_last_w && t_s > a->last_t_s) {
            a->joules += (t_s - a->last_t_s) * (power_w + a->last_w) / 2;
            a->power_span_s += t_s - a->last_t_s;
        }
        a->last_t_s = t_s;
        a->last_w = power_w;
        a->has_last_w = true;
    }
}

static int set_real(json_t *out, const char *stage, const char *what, double v)
{
    char k[128];
    snprintf(k, sizeof k, "%s_%s", stage, what);
    return json_object_set_new(out, k, json_real(v)) ? RK_ENOMEM : 0;
}

int rk_llm_gpu_acc_report(const rk_llm_gpu_acc_t *a, const char *stage, double output_tokens,
                          json_t *out)
{
    int rc = 0;
    if (!rc && a->n_util)
        rc = set_real(out, stage, "gpu_util_mean_pct", a->util_sum / (double)a->n_util);
    if (!rc && a->n_mem)
        rc = set_real(out, stage, "gpu_mem_max_mib", a->mem_max_mib);
    if (!rc && a->n_power)
        rc = set_real(out, stage, "gpu_power_mean_w", a->power_sum_w / (double)a->n_power);
    if (!rc && a->power_span_s > 0 && a->joules > 0)
        rc = set_real(out, stage, "tokens_per_joule", output_tokens / a->joules);
    return rc;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One reading of every device into g->acc (the caller holds mu). A
 * figure some device did not give is left out of that sample: a sum over
 * part of the devices would read low. */
static void sample(rk_llm_gpu_t *g)
{
    double util = 0, mem = 0, power = 0;
    unsigned n_util = 0;
    bool mem_ok = true, power_ok = true;
    for (unsigned i = 0; i < g->n_dev; i++) {
        nvml_util_t u;
        nvml_memory_t m;
        unsigned int mw;
        if (g->util(g->dev[i], &u) == 0) {
            util += u.gpu;
            n_util++;
        }
        if (g->memory(g->dev[i], &m) == 0)
            mem += (double)m.used / (1024.0 * 1024.0);
        else
            mem_ok = false;
        if (g->power(g->dev[i], &mw) == 0)
            power += mw / 1000.0;
        else
            power_ok = false;
    }
    rk_llm_gpu_acc_add(&g->acc, mono_s(), n_util ? util / n_util : -1, mem_ok ? mem : -1,
                       power_ok ? power : -1);
}

static void *sampler(void *arg)
{
    rk_llm_gpu_t *g = arg;
    pthread_mutex_lock(&g->mu);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!g->stop) {
        long ns = next.tv_nsec + (long)g->period_ms * 1000000L;
        next.tv_sec += ns / 1000000000L;
        next.tv_nsec = ns % 1000000000L;
        /* Wakes at the next period or at once when told to stop. */
        while (!g->stop && pthread_cond_timedwait(&g->cv, &g->mu, &next) == 0)
            ;
        if (!g->stop)
            sample(g);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

#define SYM(field, name) (*(void **)&(field) = dlsym(lib, name))

int rk_llm_gpu_open_lib(const char *path, rk_llm_gpu_t **out)
{
    *out = NULL;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return RK_EUNSUP;
    rk_llm_gpu_t *g = calloc(1, sizeof *g);
    if (!g) {
        dlclose(lib);
        return RK_ENOMEM;
    }
    g->lib = lib;
    nvml_ret_t (*init)(void);
    nvml_ret_t (*count)(unsigned int *);
    nvml_ret_t (*handle)(unsigned int, nvml_device_t *);
    SYM(init, "nvmlInit_v2");
    SYM(count, "nvmlDeviceGetCount_v2");
    SYM(handle, "nvmlDeviceGetHandleByIndex_v2");
    SYM(g->shutdown, "nvmlShutdown");
    SYM(g->util, "nvmlDeviceGetUtilizationRates");
    SYM(g->memory, "nvmlDeviceGetMemoryInfo");
    SYM(g->power, "nvmlDeviceGetPowerUsage");
    if (!init || !count || !handle || !g->shutdown || !g->util || !g->memory || !g->power ||
        init() != 0) {
        dlclose(lib);
        free(g);
        return RK_EUNSUP;
    }
    unsigned n = 0;
    if (count(&n) == 0)
        for (unsigned i = 0; i < n && g->n_dev < GPU_MAX_DEVICES; i++)
            if (handle(i, &g->dev[g->n_dev]) == 0)
                g->n_dev++;
    if (g->n_dev == 0) {
        g->shutdown();
        dlclose(lib);
        free(g);
        return RK_EUNSUP;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&g->mu, NULL);
    *out = g;
    return 0;
}

int rk_llm_gpu_open(rk_llm_gpu_t **out)
{
    return rk_llm_gpu_open_lib(RK_LLM_GPU_NVML, out);
}

unsigned rk_llm_gpu_devices(const rk_llm_gpu_t *g)
{
    return g->n_dev;
}

int rk_llm_gpu_start(rk_llm_gpu_t *g, int period_ms)
{
    if (g->running)
        return RK_ESTATE;
    memset(&g->acc, 0, sizeof g->acc);
    g->stop = false;
    g->period_ms = period_ms > 0 ? period_ms : RK_LLM_GPU_PERIOD_MS;
    pthread_mutex_lock(&g->mu);
    sample(g);
    pthread_mutex_unlock(&g->mu);
    if (pthread_create(&g->thread, NULL, sampler, g) != 0)
        return RK_EIO;
    g->running = true;
    return 0;
}

void rk_llm_gpu_stop(rk_llm_gpu_t *g, rk_llm_gpu_acc_t *out)
{
    if (!g->running) {
        memset(out, 0, sizeof *out);
        return;
    }
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    g->running = false;
    sample(g); /* the stage's end: the energy integral covers all of it */
    *out = g->acc;
}

void rk_llm_gpu_close(rk_llm_gpu_t *g)
{
    if (!g)
        return;
    if (g->running) {
        rk_llm_gpu_acc_t drop;
        rk_llm_gpu_stop(g, &drop);
    }
    g->shutdown();
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    dlclose(g->lib);
    free(g);
}
