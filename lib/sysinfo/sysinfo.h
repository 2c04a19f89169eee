/* What machine is this: OS, CPU, memory, disk, GPUs and local models.
 *
 * The agent reports the result of rk_sysinfo_collect() as AgentInfo's
 * `system_info`; docs/system-info.md lists every field and its unit. Facts
 * that cannot change while the process runs (OS, CPU, GPUs) are detected
 * once and cached; memory, disk and the model list are read on each call
 * (the model list through a short-lived cache, as sizing a big model folder
 * walks its files). Everything here is thread-safe.
 *
 * Nothing in here fails because a machine lacks something: no GPU gives an
 * empty list, an unreadable file leaves its fields out.
 */
#ifndef RK_SYSINFO_SYSINFO_H
#define RK_SYSINFO_SYSINFO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Longest CPU flag list kept, in entries. */
#define RK_SYSINFO_MAX_FLAGS 512

typedef struct rk_cpu_info {
    char model[128];          /* "AMD EPYC 7B13", "" when unknown */
    char vendor[64];          /* cpuinfo vendor_id / CPU implementer, "" when unknown */
    char arch[32];            /* uname -m: x86_64, aarch64, armv7l ... */
    int threads;              /* logical CPUs online, >= 1 */
    int cores;                /* physical cores online, 1..threads */
    double max_mhz;           /* highest clock in MHz, 0 when unknown */
    int fp64_flops_per_cycle; /* per core, from the vector table (docs) */
    int fp32_flops_per_cycle;
    char simd[16]; /* the table row used: avx512f, avx2_fma, avx, sse2, neon, scalar */
    char **flags;  /* feature flags, in the kernel's order */
    size_t n_flags;
} rk_cpu_info_t;

/* The process-wide CPU facts, detected once; the result is shared and
 * must not be freed or changed. Never NULL. */
const rk_cpu_info_t *rk_sysinfo_cpu(void);

/* Theoretical peak in GFLOP/s (cores x MHz x FLOPs per cycle / 1000) for
 * fp64 (double_precision != 0) or fp32; 0 when the clock is unknown. */
double rk_sysinfo_cpu_peak_gflops(const rk_cpu_info_t *cpu, int double_precision);

/* Parses /proc/cpuinfo text into the model, vendor, flags, clock (largest
 * "cpu MHz") and core count (distinct physical id/core id pairs; 0 when the
 * text has none) of out, and picks the FLOPs-per-cycle row from the flags
 * and arch (set out->arch before). Frees nothing already in out: call on a
 * zeroed struct; release with rk_sysinfo_cpu_cleanup. RK_ENOMEM. */
int rk_sysinfo_cpu_parse(const char *cpuinfo, rk_cpu_info_t *out);
void rk_sysinfo_cpu_cleanup(rk_cpu_info_t *cpu);

/* MemTotal and MemAvailable of /proc/meminfo in bytes. RK_EIO when it cannot
 * be read or lacks them (MemAvailable falls back to MemFree). */
int rk_sysinfo_memory(uint64_t *total_bytes, uint64_t *available_bytes);

/* NVIDIA GPUs as a JSON array of {index, vendor, name, memory_total_mb,
 * uuid, driver_version}: through NVML (dlopen'ed at run time) when it loads,
 * else through `nvidia-smi` when found on PATH, else []. Detected once and
 * cached. Returns a new array (a copy); NULL only on ENOMEM. */
json_t *rk_sysinfo_gpus(void);

/* The nvidia-smi path of rk_sysinfo_gpus, uncached, for tests: runs `prog`
 * (a path, or a name looked up on PATH) with the query arguments, no shell,
 * killing it after timeout_ms and reading at most 64 KiB of its output.
 * *out is a new array: [] when prog does not exist, fails or says nothing
 * usable. RK_ENOMEM only. */
int rk_sysinfo_gpus_from_smi(const char *prog, int timeout_ms, json_t **out);

/* The models in models_dir: each immediate subfolder holding a config.json
 * is one model {name, path, size_bytes, model_type?, architectures?}.
 * *out is a new array, [] when the folder is missing or unreadable, sorted
 * by name. Uncached. RK_ENOMEM only. */
int rk_sysinfo_models_scan(const char *models_dir, json_t **out);

/* The whole system_info object (see docs/system-info.md). data_dir is the
 * folder whose file system is reported as `disk`; models_dir may be NULL
 * (no models). Returns a new reference; NULL only on ENOMEM. */
json_t *rk_sysinfo_collect(const char *data_dir, const char *models_dir);

/* Tests that jobs can be stored under dir: creates, writes, fsyncs and
 * removes a small probe file. 0 when it can; otherwise RK_EIO with a short
 * reason in reason[n] ("data dir is read-only", "disk full", "data dir
 * does not exist", ...) for the agent's `error` status. */
int rk_sysinfo_writable(const char *dir, char *reason, size_t n);

/* {name: "openblas", version, path} for the OpenBLAS the compute benchmark
 * would load (found by its resolved file name, never loaded here), or NULL
 * when there is none. version is null when the file name does not say. */
json_t *rk_sysinfo_openblas(void);
/* The version in a resolved OpenBLAS file name, "" when none (for tests). */
void rk_sysinfo_openblas_version_from_path(const char *path, char *out, size_t n);

/* Forgets the cached model list, so the next collect rescans (tests, or
 * after the agent downloads a model). */
void rk_sysinfo_models_invalidate(void);

#endif
