/* Paths a job names over the network: an image name and binds. The input
 * is split on NUL bytes into an image name, then (source, target) pairs.
 * Whatever comes, a name is either refused or one safe path component, a
 * bind outside the allowed directory is refused, and an accepted argv holds
 * no target with a ".." component. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "isolate/image.h"
#include "isolate/sandbox.h"

#define MAX_BINDS 4
/* The only directory binds may come from: one every machine has. */
#define ALLOWED "/usr/share"

static int has_dotdot(const char *p)
{
    for (const char *c = p; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return 1;
        c += len;
        while (*c == '/')
            c++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *parts[1 + 2 * MAX_BINDS];
    size_t n = 0;
    for (char *p = copy; p <= copy + size && n < sizeof parts / sizeof parts[0]; p += strlen(p) + 1)
        parts[n++] = p;

    const char *name = parts[0];
    if (rk_image_name_valid(name) && (strchr(name, '/') || name[0] == '.' || !*name))
        abort();
    char root[PATH_MAX], err[512];
    int rc = rk_image_prepare("/nonexistent-rk-images", "/nonexistent-rk-cache", name, root,
                              sizeof root, err, sizeof err);
    if (rc != RK_EINVAL && rc != RK_ENOENT)
        abort();

    rk_sandbox_bind_t binds[MAX_BINDS];
    size_t nb = 0;
    for (size_t i = 1; i + 1 < n && nb < MAX_BINDS; i += 2)
        binds[nb++] = (rk_sandbox_bind_t){parts[i], parts[i + 1], (parts[i + 1][0] & 1) != 0};
    static const char *const allow[] = {ALLOWED, NULL};
    static const char *const cmd[] = {"/bin/true", NULL};
    rk_sandbox_spec_t spec = {
        .job_dir = "/", .binds = binds, .nbinds = nb, .allow_binds = allow, .argv = cmd};
    char **argv = NULL;
    if (rk_sandbox_argv(&spec, &argv, err, sizeof err) == 0) {
        for (size_t i = 0; i < nb; i++) {
            char real[PATH_MAX];
            if (!realpath(binds[i].source, real) || strncmp(real, ALLOWED, strlen(ALLOWED)) != 0 ||
                has_dotdot(binds[i].target))
                abort();
        }
        rk_sandbox_argv_free(argv);
    } else if (argv) {
        abort();
    }
    free(copy);
    return 0;
}
