/* System detection against what the test reads itself: /proc/meminfo,
 * uname, sysconf; cpuinfo parsing on recorded x86 and ARM samples; the
 * nvidia-smi path with fake programs; the models folder scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "sysinfo/sysinfo.h"

static char tmp[256];

static int setup(void **state)
{
    snprintf(tmp, sizeof tmp, "/tmp/rk_sysinfo_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, int mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static long long meminfo_kb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long long v = -1;
    size_t klen = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            v = atoll(line + klen + 1);
    if (f)
        fclose(f);
    return v;
}

static int have_nvidia(void)
{
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (h) {
        dlclose(h);
        return 1;
    }
    return system("command -v nvidia-smi >/dev/null 2>&1") == 0;
}

static void test_collect_fields(void **state)
{
    json_t *si = rk_sysinfo_collect(tmp, NULL);
    assert_non_null(si);
    struct utsname u;
    assert_int_equal(uname(&u), 0);

    json_t *cpu = json_object_get(si, "cpu");
    assert_true(json_is_object(cpu));
    json_int_t threads = json_integer_value(json_object_get(cpu, "threads"));
    json_int_t cores = json_integer_value(json_object_get(cpu, "cores"));
    assert_true(threads >= 1);
    assert_int_equal(threads, sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(cores >= 1 && cores <= threads);
    assert_string_equal(json_string_value(json_object_get(cpu, "architecture")), u.machine);
    assert_true(json_is_array(json_object_get(cpu, "flags")));
    if (strcmp(u.machine, "x86_64") == 0) {
        assert_true(json_array_size(json_object_get(cpu, "flags")) > 0);
        assert_true(json_integer_value(json_object_get(cpu, "fp64_flops_per_cycle")) >= 4);
    }
    assert_true(json_is_number(json_object_get(cpu, "peak_fp64_gflops")));

    json_t *os = json_object_get(si, "os");
    assert_string_equal(json_string_value(json_object_get(os, "type")), "linux");
    assert_string_equal(json_string_value(json_object_get(os, "kernel")), u.release);
    if (access("/etc/os-release", R_OK) == 0)
        assert_true(strlen(json_string_value(json_object_get(os, "name"))) > 0);
    /* The original agent's `system` block, from the same readings. */
    json_t *sys = json_object_get(si, "system");
    char sys_host[256] = "";
    gethostname(sys_host, sizeof sys_host - 1);
    assert_string_equal(json_string_value(json_object_get(sys, "hostname")), sys_host);
    assert_string_equal(json_string_value(json_object_get(sys, "os")), "linux");
    assert_string_equal(json_string_value(json_object_get(sys, "kernel")), u.release);
    assert_string_equal(json_string_value(json_object_get(sys, "architecture")), u.machine);
    assert_non_null(json_string_value(json_object_get(sys, "os_version")));
    assert_true(json_is_null(json_object_get(sys, "python_version")));

    json_t *mem = json_object_get(si, "memory");
    long long total_kb = meminfo_kb("MemTotal");
    assert_true(total_kb > 0);
    assert_int_equal(json_integer_value(json_object_get(mem, "total_mb")), total_kb / 1024);
    json_int_t avail = json_integer_value(json_object_get(mem, "available_mb"));
    assert_true(avail > 0 && avail <= total_kb / 1024);

    json_t *disk = json_object_get(si, "disk");
    assert_string_equal(json_string_value(json_object_get(disk, "path")), tmp);
    json_int_t dtotal = json_integer_value(json_object_get(disk, "total_bytes"));
    assert_true(dtotal > 0);
    assert_true(json_integer_value(json_object_get(disk, "free_bytes")) <= dtotal);

    char host[256] = "";
    gethostname(host, sizeof host - 1);
    assert_string_equal(json_string_value(json_object_get(si, "hostname")), host);

    json_t *gpus = json_object_get(si, "gpus");
    assert_true(json_is_array(gpus));
    assert_int_equal(json_integer_value(json_object_get(si, "gpu_count")), json_array_size(gpus));
    if (!have_nvidia())
        assert_int_equal(json_array_size(gpus), 0);
    assert_int_equal(json_array_size(json_object_get(si, "models")), 0);
    json_decref(si);
}

static void test_memory_matches_meminfo(void **state)
{
    uint64_t total = 0, avail = 0;
    assert_int_equal(rk_sysinfo_memory(&total, &avail), 0);
    assert_int_equal(total, (uint64_t)meminfo_kb("MemTotal") * 1024);
    assert_true(avail > 0 && avail <= total);
}

static const char x86_sample[] =
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\n"
    "cpu MHz\t\t: 2200.000\nphysical id\t: 0\ncore id\t\t: 0\n"
    "flags\t\t: fpu sse sse2 avx fma avx2\n\n"
    "processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU\n"
    "cpu MHz\t\t: 3100.500\nphysical id\t: 0\ncore id\t\t: 0\n"
    "flags\t\t: fpu sse sse2 avx fma avx2\n\n"
    "processor\t: 2\nphysical id\t: 0\ncore id\t\t: 1\n\n"
    "processor\t: 3\nphysical id\t: 0\ncore id\t\t: 1\n";

static const char arm_sample[] =
    "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
    "CPU implementer\t: 0x41\nCPU part\t: 0xd08\n\n"
    "processor\t: 1\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n\n"
    "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n";

static void test_cpuinfo_samples(void **state)
{
    rk_cpu_info_t c = {0};
    snprintf(c.arch, sizeof c.arch, "x86_64");
    assert_int_equal(rk_sysinfo_cpu_parse(x86_sample, &c), 0);
    assert_string_equal(c.model, "Intel(R) Xeon(R) CPU");
    assert_string_equal(c.vendor, "GenuineIntel");
    assert_int_equal(c.n_flags, 6);
    assert_string_equal(c.flags[5], "avx2");
    assert_int_equal(c.cores, 2); /* 4 logical CPUs on 2 cores */
    assert_true(c.max_mhz > 3100.4 && c.max_mhz < 3100.6);
    assert_string_equal(c.simd, "avx2_fma");
    assert_int_equal(c.fp64_flops_per_cycle, 16);
    assert_int_equal(c.fp32_flops_per_cycle, 32);
    c.threads = 4;
    /* 2 cores x 3100.5 MHz x 16 / 1000 */
    assert_true(rk_sysinfo_cpu_peak_gflops(&c, 1) > 99.2 &&
                rk_sysinfo_cpu_peak_gflops(&c, 1) < 99.3);
    rk_sysinfo_cpu_cleanup(&c);

    rk_cpu_info_t a = {0};
    snprintf(a.arch, sizeof a.arch, "aarch64");
    assert_int_equal(rk_sysinfo_cpu_parse(arm_sample, &a), 0);
    assert_string_equal(a.model, "Raspberry Pi 4 Model B Rev 1.4");
    assert_string_equal(a.vendor, "0x41");
    assert_int_equal(a.n_flags, 5);
    assert_string_equal(a.flags[1], "asimd");
    assert_int_equal(a.cores, 0); /* not in this cpuinfo: sysfs decides */
    assert_true(a.max_mhz == 0);
    assert_string_equal(a.simd, "neon");
    assert_int_equal(a.fp64_flops_per_cycle, 4);
    assert_true(rk_sysinfo_cpu_peak_gflops(&a, 1) == 0); /* clock unknown: no peak */
    rk_sysinfo_cpu_cleanup(&a);

    rk_cpu_info_t s = {0};
    snprintf(s.arch, sizeof s.arch, "riscv64");
    assert_int_equal(rk_sysinfo_cpu_parse("processor\t: 0\n", &s), 0);
    assert_string_equal(s.simd, "scalar");
    assert_int_equal(s.fp64_flops_per_cycle, 2);
    assert_int_equal(s.fp32_flops_per_cycle, 2);
    rk_sysinfo_cpu_cleanup(&s);
}

static void test_smi_absent(void **state)
{
    json_t *g = NULL;
    assert_int_equal(rk_sysinfo_gpus_from_smi("rk-no-such-nvidia-smi", 1000, &g), 0);
    assert_true(json_is_array(g));
    assert_int_equal(json_array_size(g), 0);
    json_decref(g);
    char path[300];
    snprintf(path, sizeof path, "%s/not-here", tmp);
    assert_int_equal(rk_sysinfo_gpus_from_smi(path, 1000, &g), 0);
    assert_int_equal(json_array_size(g), 0);
    json_decref(g);
}

static void test_smi_fake(void **state)
{
    char path[300];
    snprintf(path, sizeof path, "%s/nvidia-smi", tmp);
    /* Checks it got the query arguments, then answers for two GPUs and a
     * line that is not a GPU. */
    write_file(path,
               "#!/bin/sh\n"
               "[ \"$1\" = --query-gpu=name,memory.total,uuid,driver_version ] || exit 3\n"
               "[ \"$2\" = --format=csv,noheader,nounits ] || exit 4\n"
               "echo 'NVIDIA A100-SXM4-40GB, 40960, GPU-aaaa-1111, 535.104.05'\n"
               "echo 'Tesla T4, 15360, GPU-bbbb-2222, 535.104.05'\n"
               "echo 'garbage'\n",
               0755);
    json_t *g = NULL;
    assert_int_equal(rk_sysinfo_gpus_from_smi(path, 5000, &g), 0);
    assert_int_equal(json_array_size(g), 2);
    json_t *g0 = json_array_get(g, 0), *g1 = json_array_get(g, 1);
    assert_string_equal(json_string_value(json_object_get(g0, "name")), "NVIDIA A100-SXM4-40GB");
    assert_int_equal(json_integer_value(json_object_get(g0, "memory_total_mb")), 40960);
    assert_string_equal(json_string_value(json_object_get(g0, "uuid")), "GPU-aaaa-1111");
    assert_string_equal(json_string_value(json_object_get(g0, "driver_version")), "535.104.05");
    assert_string_equal(json_string_value(json_object_get(g0, "vendor")), "nvidia");
    assert_int_equal(json_integer_value(json_object_get(g1, "index")), 1);
    assert_string_equal(json_string_value(json_object_get(g1, "name")), "Tesla T4");
    json_decref(g);

    /* A failing program gives no GPUs, whatever it printed. */
    write_file(path, "#!/bin/sh\necho 'Tesla T4, 15360, GPU-b, 1'\nexit 9\n", 0755);
    assert_int_equal(rk_sysinfo_gpus_from_smi(path, 5000, &g), 0);
    assert_int_equal(json_array_size(g), 0);
    json_decref(g);

    /* A hung one is killed at the timeout. */
    write_file(path, "#!/bin/sh\nexec sleep 30\n", 0755);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(rk_sysinfo_gpus_from_smi(path, 200, &g), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(json_array_size(g), 0);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    json_decref(g);
}

static void test_models_scan(void **state)
{
    char p[512];
    snprintf(p, sizeof p, "%s/models", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/models/llama-tiny", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    const char *cfg = "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"]}";
    snprintf(p, sizeof p, "%s/models/llama-tiny/config.json", tmp);
    write_file(p, cfg, 0644);
    snprintf(p, sizeof p, "%s/models/llama-tiny/sub", tmp);
    assert_int_equal(mkdir(p, 0755), 0);
    char weights[1000];
    memset(weights, 'w', sizeof weights - 1);
    weights[sizeof weights - 1] = '\0';
    snprintf(p, sizeof p, "%s/models/llama-tiny/sub/model.bin", tmp);
    write_file(p, weights, 0644);
    snprintf(p, sizeof p, "%s/models/notes", tmp); /* no config.json: not a model */
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/models/notes/README.md", tmp);
    write_file(p, "hello", 0644);
    snprintf(p, sizeof p, "%s/models/config.json", tmp); /* a file, not a folder */
    write_file(p, "{}", 0644);
    snprintf(p, sizeof p, "%s/models/qwen-0.5b-q4.gguf", tmp); /* llama.cpp's one file */
    write_file(p, "GGUFxxxx", 0644);
    snprintf(p, sizeof p, "%s/models/.gguf", tmp); /* hidden: not a model */
    write_file(p, "x", 0644);

    snprintf(p, sizeof p, "%s/models", tmp);
    json_t *m = NULL;
    assert_int_equal(rk_sysinfo_models_scan(p, &m), 0);
    assert_int_equal(json_array_size(m), 2); /* sorted by name */
    json_t *g = json_array_get(m, 1);
    assert_string_equal(json_string_value(json_object_get(g, "name")), "qwen-0.5b-q4");
    assert_string_equal(json_string_value(json_object_get(g, "format")), "gguf");
    assert_int_equal(json_integer_value(json_object_get(g, "size_bytes")), 8);
    json_t *m0 = json_array_get(m, 0);
    assert_string_equal(json_string_value(json_object_get(m0, "name")), "llama-tiny");
    char want_path[512];
    snprintf(want_path, sizeof want_path, "%s/models/llama-tiny", tmp);
    assert_string_equal(json_string_value(json_object_get(m0, "path")), want_path);
    assert_int_equal(json_integer_value(json_object_get(m0, "size_bytes")),
                     (json_int_t)(strlen(cfg) + sizeof weights - 1));
    assert_string_equal(json_string_value(json_object_get(m0, "model_type")), "llama");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m0, "architectures"), 0)),
                        "LlamaForCausalLM");
    json_decref(m);

    json_t *si = rk_sysinfo_collect(tmp, p);
    assert_non_null(si);
    /* As the original clients read it: keyed by name, with loaded. */
    json_t *by_name = json_object_get(si, "models");
    assert_true(json_is_object(by_name));
    assert_int_equal(json_object_size(by_name), 2);
    json_t *tiny = json_object_get(by_name, "llama-tiny");
    assert_non_null(tiny);
    assert_true(json_is_false(json_object_get(tiny, "loaded")));
    assert_string_equal(json_string_value(json_object_get(tiny, "format")), "huggingface");
    assert_string_equal(json_string_value(json_object_get(si, "models_dir")), p);
    json_decref(si);
    rk_sysinfo_models_invalidate();

    snprintf(p, sizeof p, "%s/no-such-folder", tmp);
    assert_int_equal(rk_sysinfo_models_scan(p, &m), 0);
    assert_int_equal(json_array_size(m), 0);
    json_decref(m);
}

static void test_writable_basic(void **state)
{
    char reason[128] = "x";
    assert_int_equal(rk_sysinfo_writable(tmp, reason, sizeof reason), 0);
    assert_string_equal(reason, "");
    char p[300];
    snprintf(p, sizeof p, "%s/missing", tmp);
    assert_int_equal(rk_sysinfo_writable(p, reason, sizeof reason), RK_EIO);
    assert_string_equal(reason, "data dir does not exist");
    snprintf(p, sizeof p, "%s/file", tmp);
    write_file(p, "x", 0644);
    assert_int_equal(rk_sysinfo_writable(p, reason, sizeof reason), RK_EIO);
    assert_string_equal(reason, "data dir is not a directory");
    /* The probe leaves nothing behind. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep ruckus-probe)\"", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_collect_fields, setup, teardown),
        cmocka_unit_test(test_memory_matches_meminfo),
        cmocka_unit_test(test_cpuinfo_samples),
        cmocka_unit_test_setup_teardown(test_smi_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smi_fake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_models_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writable_basic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
