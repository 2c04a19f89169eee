/* What the agent can drive besides its own code: OpenBLAS, found without
 * loading it (the agent keeps it out of its own address space; only the
 * compute benchmark's child loads it). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "sysinfo/sysinfo.h"

/* "0.3.21" from a resolved library path such as
 * ".../openblas-pthread/libopenblasp-r0.3.21.so" or "libopenblas.so.0.3";
 * "" when it does not say. */
void rk_sysinfo_openblas_version_from_path(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *r = strstr(base, "-r");
    int a, b, c;
    if (r && sscanf(r + 2, "%d.%d.%d", &a, &b, &c) == 3) {
        snprintf(out, n, "%d.%d.%d", a, b, c);
        return;
    }
    const char *so = strstr(base, ".so.");
    if (so && sscanf(so + 4, "%d.%d.%d", &a, &b, &c) == 3)
        snprintf(out, n, "%d.%d.%d", a, b, c);
}

/* The multiarch folder Debian uses for this machine. */
static const char *multiarch(void)
{
    struct utsname u;
    if (uname(&u) != 0)
        return NULL;
    if (!strcmp(u.machine, "x86_64"))
        return "x86_64-linux-gnu";
    if (!strcmp(u.machine, "aarch64"))
        return "aarch64-linux-gnu";
    if (!strncmp(u.machine, "armv7", 5) || !strncmp(u.machine, "armv6", 5))
        return "arm-linux-gnueabihf";
    if (!strcmp(u.machine, "riscv64"))
        return "riscv64-linux-gnu";
    return NULL;
}

json_t *rk_sysinfo_openblas(void)
{
    char cands[4][256];
    size_t n = 0;
    const char *ma = multiarch();
    if (ma)
        snprintf(cands[n++], sizeof cands[0], "/usr/lib/%s/libopenblas.so.0", ma);
    snprintf(cands[n++], sizeof cands[0], "/usr/lib64/libopenblas.so.0");
    snprintf(cands[n++], sizeof cands[0], "/usr/lib/libopenblas.so.0");
    snprintf(cands[n++], sizeof cands[0], "/usr/local/lib/libopenblas.so.0");
    for (size_t i = 0; i < n; i++) {
        char real[PATH_MAX];
        if (!realpath(cands[i], real))
            continue;
        char version[32];
        rk_sysinfo_openblas_version_from_path(real, version, sizeof version);
        return json_pack("{s:s, s:s?, s:s}", "name", "openblas", "version",
                         version[0] ? version : NULL, "path", real);
    }
    return NULL;
}
