/* A fake NVML (libnvidia-ml) for tests/llm/test_gpu.c: the functions
 * lib/llm/gpu.c loads, answering fixed readings of two devices. Built as
 * a shared library and loaded with rk_llm_gpu_open_lib, so the sampler is
 * tested for real on a machine without a GPU.
 *
 *   device 0: 40 % busy, 1 GiB used, 150 W;  device 1: 60 %, 3 GiB, 50 W
 *   FAKE_NVML_NO_POWER=1: power readings fail (NVML_ERROR_NOT_SUPPORTED)
 *   FAKE_NVML_DEVICES=N: N devices (0..2) instead of 2
 */
#include <stdint.h>
#include <stdlib.h>

#define FAKE_NOT_SUPPORTED 3

typedef struct {
    unsigned int gpu, memory;
} fake_util_t;
typedef struct {
    unsigned long long total, free, used;
} fake_memory_t;

static unsigned devices(void)
{
    const char *n = getenv("FAKE_NVML_DEVICES");
    return n ? (unsigned)atoi(n) : 2;
}

/* Handles are the device index + 1, never NULL. */
static unsigned index_of(void *d)
{
    return (unsigned)((uintptr_t)d - 1);
}

int nvmlInit_v2(void)
{
    return 0;
}

int nvmlShutdown(void)
{
    return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *n)
{
    *n = devices();
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **d)
{
    if (i >= devices())
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *d = (void *)(uintptr_t)(i + 1);
    return 0;
}

int nvmlDeviceGetUtilizationRates(void *d, fake_util_t *u)
{
    u->gpu = index_of(d) == 0 ? 40 : 60;
    u->memory = 10;
    return 0;
}

int nvmlDeviceGetMemoryInfo(void *d, fake_memory_t *m)
{
    m->total = 16ull << 30;
    m->used = index_of(d) == 0 ? 1ull << 30 : 3ull << 30;
    m->free = m->total - m->used;
    return 0;
}

int nvmlDeviceGetPowerUsage(void *d, unsigned int *mw)
{
    const char *off = getenv("FAKE_NVML_NO_POWER");
    if (off && *off == '1')
        return FAKE_NOT_SUPPORTED;
    *mw = index_of(d) == 0 ? 150000 : 50000;
    return 0;
}
