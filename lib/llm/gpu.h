/* GPU sampling during an llm_generation stage (docs/llm.md, "GPU
 * sampling"): when NVIDIA's NVML can be loaded and sees a device, a
 * sampler thread in the job's child reads every device's utilization,
 * memory used and power draw every RK_LLM_GPU_PERIOD_MS while a stage runs;
 * the stage then reports <s>_gpu_util_mean_pct, <s>_gpu_mem_max_mib,
 * <s>_gpu_power_mean_w and <s>_tokens_per_joule. Without NVML (or without a
 * device) nothing is sampled and nothing reported, and nothing fails.
 *
 * The accumulator (rk_llm_gpu_acc_t) is the pure part: samples in, the
 * four figures out, so they are tested without a GPU.
 */
#ifndef RK_LLM_GPU_H
#define RK_LLM_GPU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One sample every 100 ms: NVML's utilization is itself an average over
 * a driver-defined window (1/6 s to 1 s), so sampling faster adds no
 * information, and a stage of a few seconds still gets tens of samples. */
#define RK_LLM_GPU_PERIOD_MS 100

/* The NVML library loaded by rk_llm_gpu_open (the driver installs it). */
#define RK_LLM_GPU_NVML "libnvidia-ml.so.1"

/* What one stage's samples add up to. Zero-initialise, then add samples in
 * time order. util_pct and power_w are the devices' values at one instant
 * (utilization averaged over the devices, memory and power summed); a
 * negative value means "not read" and is left out of its figure. */
typedef struct rk_llm_gpu_acc {
    size_t n_util, n_mem, n_power;
    double util_sum, mem_max_mib, power_sum_w;
    double joules;       /* power integrated over time (trapezoids) */
    double power_span_s; /* time the integration covers */
    double last_t_s, last_w;
    bool has_last_w;
} rk_llm_gpu_acc_t;

/* Adds one sample taken at t_s seconds (any monotonic origin). */
void rk_llm_gpu_acc_add(rk_llm_gpu_acc_t *a, double t_s, double util_pct, double mem_mib,
                        double power_w);

/* Adds stage's figures to out: "<stage>_gpu_util_mean_pct",
 * "<stage>_gpu_mem_max_mib", "<stage>_gpu_power_mean_w" (each when at least
 * one sample had it) and "<stage>_tokens_per_joule" (output_tokens over the
 * joules, when two power samples spanned some time and used some energy).
 * RK_ENOMEM, else 0. */
int rk_llm_gpu_acc_report(const rk_llm_gpu_acc_t *a, const char *stage, double output_tokens,
                          json_t *out);

typedef struct rk_llm_gpu rk_llm_gpu_t;

/* Loads NVML from RK_LLM_GPU_NVML and finds its devices. RK_EUNSUP when the
 * library is not there, lacks a function used, fails to initialise or sees
 * no device: the caller samples nothing then. On success *out is to be
 * closed with rk_llm_gpu_close. */
int rk_llm_gpu_open(rk_llm_gpu_t **out);
/* The same from the library at path (tests load a fake NVML). */
int rk_llm_gpu_open_lib(const char *path, rk_llm_gpu_t **out);
/* How many devices g samples. */
unsigned rk_llm_gpu_devices(const rk_llm_gpu_t *g);
/* Starts sampling into a fresh accumulator: one sample at once, then every
 * period_ms. RK_ESTATE when already started, RK_EIO when the thread could
 * not start. */
int rk_llm_gpu_start(rk_llm_gpu_t *g, int period_ms);
/* Takes a last sample, stops the thread and copies the accumulator to
 * *out. A g not started gives an empty accumulator. */
void rk_llm_gpu_stop(rk_llm_gpu_t *g, rk_llm_gpu_acc_t *out);
/* Stops sampling if it runs, shuts NVML down and frees g (NULL: nothing). */
void rk_llm_gpu_close(rk_llm_gpu_t *g);

#endif
