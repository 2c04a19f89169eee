/* system_info assembly: OS, memory, disk, and the writable-data-dir probe.
 * The field list lives in docs/system-info.md; keep the two in step. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/err.h"
#include "base/time.h"
#include "sysinfo/internal.h"
#include "sysinfo/sysinfo.h"

#define MODELS_TTL_US (60 * 1000000LL)

int rk_sysinfo_memory(uint64_t *total_bytes, uint64_t *available_bytes)
{
    char *text = rk_sysinfo_slurp("/proc/meminfo", 64u << 10);
    if (!text)
        return RK_EIO;
    unsigned long long total = 0, avail = 0, free_kb = 0;
    int have_total = 0, have_avail = 0;
    for (const char *p = text; p && *p;) {
        unsigned long long v;
        if (sscanf(p, "MemTotal: %llu kB", &v) == 1)
            total = v, have_total = 1;
        else if (sscanf(p, "MemAvailable: %llu kB", &v) == 1)
            avail = v, have_avail = 1;
        else if (sscanf(p, "MemFree: %llu kB", &v) == 1)
            free_kb = v;
        const char *eol = strchr(p, '\n');
        p = eol ? eol + 1 : NULL;
    }
    free(text);
    if (!have_total)
        return RK_EIO;
    *total_bytes = (uint64_t)total * 1024;
    *available_bytes = (uint64_t)(have_avail ? avail : free_kb) * 1024; /* kernels < 3.14 */
    return RK_OK;
}

/* Value of KEY=value or KEY="value" in os-release text, unquoted. */
static void os_release_get(const char *text, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
            const char *v = line + klen + 1;
            size_t vlen = len - klen - 1;
            if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
                v++;
                vlen -= 2;
            }
            snprintf(out, n, "%.*s", (int)vlen, v);
            return;
        }
        line = eol ? eol + 1 : NULL;
    }
}

static json_t *os_object(void)
{
    struct utsname u;
    char type[sizeof u.sysname] = "unknown", name[256] = "", id[64] = "", version[64] = "";
    char *rel = rk_sysinfo_slurp("/etc/os-release", 16u << 10);
    if (!rel)
        rel = rk_sysinfo_slurp("/usr/lib/os-release", 16u << 10);
    if (rel) {
        os_release_get(rel, "PRETTY_NAME", name, sizeof name);
        if (!name[0])
            os_release_get(rel, "NAME", name, sizeof name);
        os_release_get(rel, "ID", id, sizeof id);
        os_release_get(rel, "VERSION_ID", version, sizeof version);
        free(rel);
    }
    int have_uname = uname(&u) == 0;
    if (have_uname) {
        size_t i = 0;
        for (; u.sysname[i] && i + 1 < sizeof type; i++)
            type[i] = (char)(u.sysname[i] >= 'A' && u.sysname[i] <= 'Z' ? u.sysname[i] + 32
                                                                        : u.sysname[i]);
        type[i] = '\0';
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "name", name, "id", id,
                     "version_id", version, "kernel", have_uname ? u.release : "");
}

static double round1(double v)
{
    return round(v * 10.0) / 10.0;
}

static json_t *cpu_object(void)
{
    const rk_cpu_info_t *c = rk_sysinfo_cpu();
    json_t *flags = json_array();
    for (size_t i = 0; flags && i < c->n_flags; i++)
        json_array_append_new(flags, json_string(c->flags[i]));
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:o?, s:s, s:i, s:i, s:f, s:f}", "model",
                     c->model, "vendor", c->vendor, "architecture", c->arch, "cores", c->cores,
                     "threads", c->threads, "max_mhz", (json_int_t)llround(c->max_mhz), "flags",
                     flags, "simd", c->simd, "fp64_flops_per_cycle", c->fp64_flops_per_cycle,
                     "fp32_flops_per_cycle", c->fp32_flops_per_cycle, "peak_fp64_gflops",
                     round1(rk_sysinfo_cpu_peak_gflops(c, 1)), "peak_fp32_gflops",
                     round1(rk_sysinfo_cpu_peak_gflops(c, 0)));
}

static json_t *memory_object(void)
{
    uint64_t total, avail;
    if (rk_sysinfo_memory(&total, &avail))
        return json_object();
    return json_pack("{s:I, s:I}", "total_mb", (json_int_t)(total >> 20), "available_mb",
                     (json_int_t)(avail >> 20));
}

static json_t *disk_object(const char *dir)
{
    struct statvfs v;
    if (!dir || statvfs(dir, &v) < 0)
        return json_pack("{s:s?}", "path", dir);
    return json_pack("{s:s, s:I, s:I, s:I}", "path", dir, "total_bytes",
                     (json_int_t)((uint64_t)v.f_blocks * v.f_frsize), "free_bytes",
                     (json_int_t)((uint64_t)v.f_bfree * v.f_frsize), "available_bytes",
                     (json_int_t)((uint64_t)v.f_bavail * v.f_frsize));
}

/* The model list of one folder, rescanned at most once a minute. */
static struct {
    pthread_mutex_t lock;
    char *dir;
    int64_t at;
    json_t *models;
} models_cache = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, NULL};

void rk_sysinfo_models_invalidate(void)
{
    pthread_mutex_lock(&models_cache.lock);
    free(models_cache.dir);
    json_decref(models_cache.models);
    models_cache.dir = NULL;
    models_cache.models = NULL;
    pthread_mutex_unlock(&models_cache.lock);
}

static json_t *models_cached(const char *dir)
{
    json_t *copy = NULL;
    int64_t now = rk_time_mono_us();
    pthread_mutex_lock(&models_cache.lock);
    if (!models_cache.models || !models_cache.dir || strcmp(models_cache.dir, dir) != 0 ||
        now - models_cache.at > MODELS_TTL_US) {
        json_t *fresh = NULL;
        char *d = strdup(dir);
        if (d && rk_sysinfo_models_scan(dir, &fresh) == 0) {
            free(models_cache.dir);
            json_decref(models_cache.models);
            models_cache.dir = d;
            models_cache.models = fresh;
            models_cache.at = now;
            d = NULL;
        }
        free(d);
    }
    if (models_cache.models)
        copy = json_deep_copy(models_cache.models);
    pthread_mutex_unlock(&models_cache.lock);
    return copy ? copy : json_array();
}

/* The scanned list as the original clients read it: an object keyed by
 * name, each with `loaded` (a model is only ever loaded by a job's own
 * server process, never by the agent). Takes list. */
static json_t *models_by_name(json_t *list)
{
    json_t *o = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (!o || !name)
            continue;
        json_object_set_new(m, "loaded", json_false());
        json_object_set(o, name, m);
    }
    json_decref(list);
    return o;
}

/* What the original ruckus agent reported under `system`. */
static json_t *system_object(const char *host, const json_t *os, const json_t *cpu)
{
    const char *ver = json_string_value(json_object_get(os, "version_id"));
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:n}", "hostname", host, "os",
                     json_string_value(json_object_get(os, "type")), "os_version",
                     ver && *ver ? ver : json_string_value(json_object_get(os, "name")), "kernel",
                     json_string_value(json_object_get(os, "kernel")), "architecture",
                     json_string_value(json_object_get(cpu, "architecture")), "python_version");
}

json_t *rk_sysinfo_collect(const char *data_dir, const char *models_dir)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0)
        host[0] = '\0';
    json_t *gpus = rk_sysinfo_gpus();
    json_t *models = models_by_name(models_dir ? models_cached(models_dir) : json_array());
    size_t n_gpus = json_array_size(gpus);
    json_t *os = os_object(), *cpu = cpu_object();
    json_t *system = system_object(host, os, cpu);
    return json_pack("{s:s, s:o?, s:o?, s:o?, s:o?, s:o?, s:I, s:s?, s:o?, s:o?}", "hostname", host,
                     "os", os, "cpu", cpu, "memory", memory_object(), "disk", disk_object(data_dir),
                     "gpus", gpus, "gpu_count", (json_int_t)n_gpus, "models_dir", models_dir,
                     "models", models, "system", system);
}

static int reason_for(int err, const char *what, char *reason, size_t n)
{
    if (err == EROFS)
        snprintf(reason, n, "data dir is read-only");
    else if (err == ENOSPC || err == EDQUOT)
        snprintf(reason, n, "disk full");
    else if (err == EACCES || err == EPERM)
        snprintf(reason, n, "data dir is not writable: permission denied");
    else
        snprintf(reason, n, "cannot %s in data dir: %s", what, strerror(err));
    return RK_EIO;
}

int rk_sysinfo_writable(const char *dir, char *reason, size_t n)
{
    static atomic_uint seq;
    struct stat st;
    if (!dir || stat(dir, &st) < 0) {
        if (!dir || errno == ENOENT)
            snprintf(reason, n, "data dir does not exist");
        else
            snprintf(reason, n, "cannot access data dir: %s", strerror(errno));
        return RK_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(reason, n, "data dir is not a directory");
        return RK_EIO;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/.ruckus-probe-%ld-%u", dir, (long)getpid(),
             atomic_fetch_add(&seq, 1));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return reason_for(errno, "create a file", reason, n);
    char block[4096];
    memset(block, 'r', sizeof block);
    int rc = RK_OK;
    ssize_t w = write(fd, block, sizeof block);
    if (w < 0)
        rc = reason_for(errno, "write", reason, n);
    else if ((size_t)w < sizeof block)
        rc = reason_for(ENOSPC, "write", reason, n);
    else if (fsync(fd) < 0)
        rc = reason_for(errno, "sync a file", reason, n);
    close(fd);
    unlink(path);
    if (rc == RK_OK && n)
        reason[0] = '\0';
    return rc;
}
