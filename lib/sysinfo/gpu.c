/* NVIDIA GPU detection: NVML loaded at run time, else nvidia-smi, else
 * nothing. No NVIDIA header or library is needed to build. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/time.h"
#include "sysinfo/sysinfo.h"

extern char **environ;

#define SMI_OUTPUT_CAP (64u << 10)
#define SMI_TIMEOUT_MS 5000

/* The few NVML declarations used (stable C ABI since NVML 5; the _v2 names
 * exist since driver 319). */
typedef int nvml_ret_t; /* nvmlReturn_t; 0 is NVML_SUCCESS */
typedef struct nvml_device *nvml_device_t;
typedef struct {
    unsigned long long total, free, used;
} nvml_memory_t;

typedef struct nvml_api {
    nvml_ret_t (*init)(void);
    nvml_ret_t (*shutdown)(void);
    nvml_ret_t (*count)(unsigned int *);
    nvml_ret_t (*handle)(unsigned int, nvml_device_t *);
    nvml_ret_t (*name)(nvml_device_t, char *, unsigned int);
    nvml_ret_t (*memory)(nvml_device_t, nvml_memory_t *);
    nvml_ret_t (*uuid)(nvml_device_t, char *, unsigned int);
    nvml_ret_t (*driver)(char *, unsigned int);
} nvml_api_t;

static json_t *gpu_entry(unsigned idx, const char *name, double mem_mb, const char *uuid,
                         const char *driver)
{
    return json_pack("{s:I, s:s, s:s, s:I, s:s, s:s}", "index", (json_int_t)idx, "vendor", "nvidia",
                     "name", name, "memory_total_mb", (json_int_t)mem_mb, "uuid", uuid,
                     "driver_version", driver);
}

/* 1 when NVML answered (even with zero devices), 0 when it is unusable. */
static int gpus_from_nvml(json_t *arr)
{
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 0;
    nvml_api_t n;
    *(void **)&n.init = dlsym(h, "nvmlInit_v2");
    *(void **)&n.shutdown = dlsym(h, "nvmlShutdown");
    *(void **)&n.count = dlsym(h, "nvmlDeviceGetCount_v2");
    *(void **)&n.handle = dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
    *(void **)&n.name = dlsym(h, "nvmlDeviceGetName");
    *(void **)&n.memory = dlsym(h, "nvmlDeviceGetMemoryInfo");
    *(void **)&n.uuid = dlsym(h, "nvmlDeviceGetUUID");
    *(void **)&n.driver = dlsym(h, "nvmlSystemGetDriverVersion");
    int ok = 0;
    if (!n.init || !n.shutdown || !n.count || !n.handle || !n.name || !n.memory || !n.uuid ||
        !n.driver || n.init() != 0)
        goto out;
    char driver[96] = "";
    n.driver(driver, sizeof driver);
    unsigned count = 0;
    if (n.count(&count) == 0) {
        ok = 1;
        for (unsigned i = 0; i < count && i < 64; i++) {
            nvml_device_t d;
            char name[96] = "", uuid[96] = "";
            nvml_memory_t mem = {0, 0, 0};
            if (n.handle(i, &d) != 0)
                continue;
            n.name(d, name, sizeof name);
            n.uuid(d, uuid, sizeof uuid);
            n.memory(d, &mem);
            json_array_append_new(arr, gpu_entry(i, name, (double)(mem.total >> 20), uuid, driver));
        }
    }
    n.shutdown();
out:
    dlclose(h);
    return ok;
}

/* A name without a slash is looked up on PATH, as execvp would. */
static int find_program(const char *prog, char *out, size_t n)
{
    if (strchr(prog, '/')) {
        snprintf(out, n, "%s", prog);
        return access(out, X_OK) == 0 ? RK_OK : RK_ENOENT;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len && (size_t)snprintf(out, n, "%.*s/%s", (int)len, path, prog) < n &&
            access(out, X_OK) == 0)
            return RK_OK;
        path += len + (path[len] == ':');
    }
    return RK_ENOENT;
}

/* Runs path with argv, stdout captured into b (capped), stdin and stderr on
 * /dev/null; kills it at the deadline. Returns its exit status or -1. */
static int run_capture(const char *path, char *const argv[], int timeout_ms, rk_buf_t *b)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    int64_t deadline = rk_deadline_in_us((int64_t)timeout_ms * 1000);
    int killed = 0;
    for (;;) {
        int left = rk_deadline_ms_left(deadline);
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int pr = left > 0 ? poll(&p, 1, left) : 0;
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        char chunk[4096];
        ssize_t got = read(fds[0], chunk, sizeof chunk);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (rk_buf_add(b, chunk, (size_t)got)) { /* over the cap: stop it */
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (killed || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void trim(char *s)
{
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\r' || s[len - 1] == '\t'))
        s[--len] = '\0';
    size_t lead = strspn(s, " \t");
    memmove(s, s + lead, len - lead + 1);
}

/* One "name, memory.total, uuid, driver_version" line; the name may hold
 * commas, so the other three are taken from the right. */
static json_t *parse_smi_line(char *line, unsigned idx)
{
    char *f[3];
    for (int i = 2; i >= 0; i--) {
        char *c = strrchr(line, ',');
        if (!c)
            return NULL;
        *c = '\0';
        f[i] = c + 1;
        trim(f[i]);
    }
    trim(line);
    char *end;
    double mem = strtod(f[0], &end);
    if (!*line || end == f[0] || *end || mem < 0)
        return NULL;
    return gpu_entry(idx, line, mem, f[1], f[2]);
}

int rk_sysinfo_gpus_from_smi(const char *prog, int timeout_ms, json_t **out)
{
    *out = json_array();
    if (!*out)
        return RK_ENOMEM;
    char path[4096];
    if (find_program(prog, path, sizeof path))
        return RK_OK;
    char *argv[] = {(char *)prog, "--query-gpu=name,memory.total,uuid,driver_version",
                    "--format=csv,noheader,nounits", NULL};
    rk_buf_t b;
    rk_buf_init(&b, SMI_OUTPUT_CAP);
    if (run_capture(path, argv, timeout_ms, &b) == 0 && b.data) {
        unsigned idx = 0;
        for (char *save = NULL, *line = strtok_r(b.data, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            json_t *g = parse_smi_line(line, idx);
            if (g && json_array_append_new(*out, g) == 0)
                idx++;
        }
    }
    rk_buf_cleanup(&b);
    return RK_OK;
}

static json_t *gpus_cached;
static pthread_once_t gpus_once = PTHREAD_ONCE_INIT;

static void detect_gpus(void)
{
    json_t *arr = json_array();
    if (!arr)
        return;
    if (!gpus_from_nvml(arr)) {
        json_decref(arr);
        arr = NULL;
        rk_sysinfo_gpus_from_smi("nvidia-smi", SMI_TIMEOUT_MS, &arr);
    }
    gpus_cached = arr;
}

json_t *rk_sysinfo_gpus(void)
{
    pthread_once(&gpus_once, detect_gpus);
    /* A copy, so no caller can change what the next one sees. */
    return gpus_cached ? json_deep_copy(gpus_cached) : json_array();
}
