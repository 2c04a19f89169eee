/* CPU detection from /proc/cpuinfo and /sys/devices/system/cpu, and the
 * theoretical peak the compute benchmark compares against. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/err.h"
#include "sysinfo/internal.h"
#include "sysinfo/sysinfo.h"

#define CPUINFO_CAP (8u << 20) /* ~1.5 KiB per logical CPU on x86 */
#define MAX_CPUS 8192

char *rk_sysinfo_slurp(const char *path, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t size = 4096, len = 0;
    char *s = malloc(size + 1);
    while (s) {
        size_t got = fread(s + len, 1, size - len, f);
        len += got;
        if (got == 0 || len >= cap)
            break;
        if (len == size) {
            size_t nsize = size * 2 > cap ? cap : size * 2;
            char *ns = realloc(s, nsize + 1);
            if (!ns) {
                free(s);
                s = NULL;
                break;
            }
            s = ns;
            size = nsize;
        }
    }
    fclose(f);
    if (s)
        s[len] = '\0';
    return s;
}

static const char *skip_blank(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int rk_sysinfo_kv(const char *text, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        if (strncmp(line, key, klen) == 0) {
            const char *p = skip_blank(line + klen);
            if (*p == ':') {
                p = skip_blank(p + 1);
                size_t len = eol ? (size_t)(eol - p) : strlen(p);
                while (len && isspace((unsigned char)p[len - 1]))
                    len--;
                if (len >= n)
                    len = n - 1;
                memcpy(out, p, len);
                out[len] = '\0';
                return RK_OK;
            }
        }
        line = eol ? eol + 1 : NULL;
    }
    return RK_ENOENT;
}

static int has_flag(const rk_cpu_info_t *c, const char *flag)
{
    for (size_t i = 0; i < c->n_flags; i++)
        if (strcmp(c->flags[i], flag) == 0)
            return 1;
    return 0;
}

/* FLOPs per cycle per core, by the widest vector unit the flags announce.
 * Assumes two FMA pipes on AVX2/AVX-512 parts and one 128-bit FMA pipe on
 * ARM; docs/system-info.md has the table and its caveats. */
static void pick_simd(rk_cpu_info_t *c)
{
    struct row {
        const char *name;
        int fp64, fp32;
    } rows[] = {
        {"avx512f", 32, 64}, {"avx2_fma", 16, 32}, {"avx", 8, 16},
        {"sse2", 4, 8},      {"neon", 4, 8},       {"scalar", 2, 2},
    };
    int r = 5;
    if (has_flag(c, "avx512f"))
        r = 0;
    else if (has_flag(c, "avx2") && has_flag(c, "fma"))
        r = 1;
    else if (has_flag(c, "avx"))
        r = 2;
    else if (has_flag(c, "sse2") || strcmp(c->arch, "x86_64") == 0)
        r = 3;
    else if (has_flag(c, "asimd") || has_flag(c, "neon"))
        r = 4;
    snprintf(c->simd, sizeof c->simd, "%s", rows[r].name);
    c->fp64_flops_per_cycle = rows[r].fp64;
    c->fp32_flops_per_cycle = rows[r].fp32;
}

static int parse_flags(const char *list, rk_cpu_info_t *out)
{
    size_t cap = 64;
    out->flags = calloc(cap, sizeof *out->flags);
    if (!out->flags)
        return RK_ENOMEM;
    for (const char *p = list; *p && out->n_flags < RK_SYSINFO_MAX_FLAGS;) {
        p = skip_blank(p);
        size_t len = strcspn(p, " \t");
        if (!len)
            break;
        if (out->n_flags == cap) {
            char **nf = realloc(out->flags, cap * 2 * sizeof *nf);
            if (!nf)
                return RK_ENOMEM;
            out->flags = nf;
            cap *= 2;
        }
        char *f = strndup(p, len);
        if (!f)
            return RK_ENOMEM;
        out->flags[out->n_flags++] = f;
        p += len;
    }
    return RK_OK;
}

/* Counts distinct (physical id, core id) pairs over the processor blocks. */
static int count_cpuinfo_cores(const char *text)
{
    long(*pairs)[2] = malloc(MAX_CPUS * sizeof *pairs);
    if (!pairs)
        return 0;
    int n = 0;
    long phys = -1;
    for (const char *line = text; line && *line;) {
        long v;
        if (sscanf(line, "physical id : %ld", &v) == 1) {
            phys = v;
        } else if (sscanf(line, "core id : %ld", &v) == 1 && phys >= 0) {
            int seen = 0;
            for (int i = 0; i < n && !seen; i++)
                seen = pairs[i][0] == phys && pairs[i][1] == v;
            if (!seen && n < MAX_CPUS) {
                pairs[n][0] = phys;
                pairs[n][1] = v;
                n++;
            }
        }
        const char *eol = strchr(line, '\n');
        line = eol ? eol + 1 : NULL;
    }
    free(pairs);
    return n;
}

int rk_sysinfo_cpu_parse(const char *cpuinfo, rk_cpu_info_t *out)
{
    char line[8192];
    if (rk_sysinfo_kv(cpuinfo, "model name", out->model, sizeof out->model) &&
        rk_sysinfo_kv(cpuinfo, "Model", out->model, sizeof out->model))
        rk_sysinfo_kv(cpuinfo, "cpu model", out->model, sizeof out->model);
    if (rk_sysinfo_kv(cpuinfo, "vendor_id", out->vendor, sizeof out->vendor))
        rk_sysinfo_kv(cpuinfo, "CPU implementer", out->vendor, sizeof out->vendor);
    /* Flag lists are long; the line buffer keeps the first 8 KiB. */
    if (rk_sysinfo_kv(cpuinfo, "flags", line, sizeof line) == 0 ||
        rk_sysinfo_kv(cpuinfo, "Features", line, sizeof line) == 0) {
        if (parse_flags(line, out))
            return RK_ENOMEM;
    }
    for (const char *p = cpuinfo; p && *p;) {
        double mhz;
        if (sscanf(p, "cpu MHz : %lf", &mhz) == 1 && mhz > out->max_mhz)
            out->max_mhz = mhz;
        const char *eol = strchr(p, '\n');
        p = eol ? eol + 1 : NULL;
    }
    out->cores = count_cpuinfo_cores(cpuinfo);
    pick_simd(out);
    return RK_OK;
}

void rk_sysinfo_cpu_cleanup(rk_cpu_info_t *cpu)
{
    for (size_t i = 0; i < cpu->n_flags; i++)
        free(cpu->flags[i]);
    free(cpu->flags);
    cpu->flags = NULL;
    cpu->n_flags = 0;
}

static long read_long(const char *path)
{
    char *s = rk_sysinfo_slurp(path, 64);
    long v = -1;
    if (s && sscanf(s, "%ld", &v) != 1)
        v = -1;
    free(s);
    return v;
}

/* Physical cores from sysfs topology: distinct (package, core_id) pairs
 * over the online CPUs ("0-3,6"). 0 when sysfs does not say. */
static int count_sysfs_cores(void)
{
    char *online = rk_sysinfo_slurp("/sys/devices/system/cpu/online", 4096);
    long(*pairs)[2] = malloc(MAX_CPUS * sizeof *pairs);
    int n = 0;
    if (!online || !pairs)
        goto done;
    for (char *p = online; *p && *p != '\n';) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p)
            break;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        for (long cpu = lo; cpu <= hi && cpu < MAX_CPUS; cpu++) {
            char path[128];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
            long core = read_long(path);
            snprintf(path, sizeof path,
                     "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
            long pkg = read_long(path);
            if (core < 0) {
                n = 0;
                goto done;
            }
            int seen = 0;
            for (int i = 0; i < n && !seen; i++)
                seen = pairs[i][0] == pkg && pairs[i][1] == core;
            if (!seen && n < MAX_CPUS) {
                pairs[n][0] = pkg;
                pairs[n][1] = core;
                n++;
            }
        }
        p = *end == ',' ? end + 1 : end;
        if (*end != ',')
            break;
    }
done:
    free(pairs);
    free(online);
    return n;
}

static rk_cpu_info_t cpu_cached;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void detect_cpu(void)
{
    rk_cpu_info_t *c = &cpu_cached;
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(c->arch, sizeof c->arch, "%.31s", u.machine);
    char *text = rk_sysinfo_slurp("/proc/cpuinfo", CPUINFO_CAP);
    if (!text || rk_sysinfo_cpu_parse(text, c)) {
        rk_sysinfo_cpu_cleanup(c); /* out of memory: keep the rest, no flags */
        pick_simd(c);
    }
    free(text);
    if (!c->model[0]) { /* most ARM boards name themselves in the device tree */
        char *m = rk_sysinfo_slurp("/proc/device-tree/model", sizeof c->model - 1);
        if (m)
            snprintf(c->model, sizeof c->model, "%s", m);
        free(m);
    }
    long khz = read_long("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
    if (khz > 0)
        c->max_mhz = (double)khz / 1000.0;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = online > 0 ? (int)online : 1;
    int sys_cores = count_sysfs_cores();
    if (sys_cores > 0)
        c->cores = sys_cores;
    if (c->cores <= 0 || c->cores > c->threads)
        c->cores = c->threads;
}

const rk_cpu_info_t *rk_sysinfo_cpu(void)
{
    pthread_once(&cpu_once, detect_cpu);
    return &cpu_cached;
}

double rk_sysinfo_cpu_peak_gflops(const rk_cpu_info_t *cpu, int double_precision)
{
    int per_cycle = double_precision ? cpu->fp64_flops_per_cycle : cpu->fp32_flops_per_cycle;
    return (double)cpu->cores * cpu->max_mhz * per_cycle / 1000.0;
}
