/* task.params.isolation and task.params.limits (params_isolation.h). */
#include "model/params_isolation.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static const char *const network_names[] = {"none", "host"};

/* The image name rule of lib/isolate (rk_image_name_valid), checked here so
 * a spec naming no possible image is refused before it reaches an agent. */
static bool image_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 127 || s[0] == '.')
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int decode_binds(const json_t *iso, const char *path, rk_isolation_params_t *out,
                        rk_verr_t *e)
{
    json_t *v = json_object_get(iso, "binds");
    if (!v || json_is_null(v))
        return RK_OK;
    char p[RK_PATH_MAX], ip[RK_PATH_MAX];
    rk_path_key(p, path, "binds");
    if (!json_is_array(v))
        return rk_verr_set(e, p, "expected an array of {source, target, writable}");
    if (json_array_size(v) > RK_BINDS_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_BINDS_MAX);
    out->binds = calloc(json_array_size(v) + 1, sizeof *out->binds);
    if (!out->binds)
        return RK_ENOMEM;
    size_t i;
    json_t *b;
    json_array_foreach(v, i, b)
    {
        rk_bind_param_t *d = &out->binds[i];
        out->n_binds = i + 1;
        rk_path_index(ip, p, i);
        int rc = rk_json_expect_obj(b, ip, e);
        if (!rc)
            rc = rk_json_get_str(b, ip, "source", RK_REQUIRED, 4096, &d->source, e);
        if (!rc)
            rc = rk_json_get_str(b, ip, "target", RK_REQUIRED, 4096, &d->target, e);
        if (!rc)
            rc = rk_json_get_bool(b, ip, "writable", RK_OPTIONAL, &d->writable, NULL, e);
        if (rc)
            return rc;
        char fp[RK_PATH_MAX];
        if (!d->source[0] || !d->target[0]) {
            rk_path_key(fp, ip, d->source[0] ? "target" : "source");
            return rk_verr_set(e, fp, "expected a non-empty path");
        }
    }
    return RK_OK;
}

static int decode_isolation(const json_t *params, const char *path, rk_isolation_params_t *out,
                            rk_verr_t *e)
{
    json_t *iso = NULL;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "isolation");
    int rc = rk_json_get_obj(params, path, "isolation", RK_OPTIONAL, &iso, e);
    if (rc || !iso)
        return rc;
    out->present = true;
    int net = 0;
    rc = rk_json_get_enum(iso, p, "network", RK_OPTIONAL, network_names, 2, &net, e);
    out->network = net == 1;
    if (!rc)
        rc = rk_json_get_str(iso, p, "rootfs", RK_OPTIONAL, 0, &out->rootfs, e);
    if (!rc && out->rootfs && !image_name_ok(out->rootfs)) {
        char rp[RK_PATH_MAX];
        rk_path_key(rp, p, "rootfs");
        rc = rk_verr_set(e, rp,
                         "expected an image name: 1 to 127 characters from [A-Za-z0-9._-], not "
                         "starting with '.'");
    }
    if (!rc)
        rc = decode_binds(iso, p, out, e);
    json_decref(iso);
    return rc;
}

static int decode_limits(const json_t *params, const char *path, rk_limits_params_t *out,
                         rk_verr_t *e)
{
    json_t *l = NULL;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "limits");
    int rc = rk_json_get_obj(params, path, "limits", RK_OPTIONAL, &l, e);
    if (rc || !l)
        return rc;
    if ((rc = rk_json_get_int(l, p, "memory_mb", RK_OPTIONAL, RK_LIMIT_MEMORY_MB_MIN,
                              RK_LIMIT_MEMORY_MB_MAX, &out->memory_mb, NULL, e)) ||
        (rc = rk_json_get_int(l, p, "pids", RK_OPTIONAL, 1, RK_LIMIT_PIDS_MAX, &out->pids, NULL,
                              e)) ||
        (rc = rk_json_get_num(l, p, "cpus", RK_OPTIONAL, RK_LIMIT_CPUS_MIN, RK_LIMIT_CPUS_MAX,
                              &out->cpus, NULL, e)) ||
        (rc = rk_json_get_int(l, p, "cpu_weight", RK_OPTIONAL, 1, RK_LIMIT_CPU_WEIGHT_MAX,
                              &out->cpu_weight, NULL, e))) {
        /* rc and e hold the first failure */
    }
    out->present = !rc && (out->memory_mb || out->pids || out->cpus > 0 || out->cpu_weight);
    json_decref(l);
    return rc;
}

int rk_isolation_params_decode(const json_t *params, const char *path, rk_isolation_params_t *iso,
                               rk_limits_params_t *lim, rk_verr_t *e)
{
    int rc = decode_isolation(params, path, iso, e);
    return rc ? rc : decode_limits(params, path, lim, e);
}

void rk_isolation_params_cleanup(rk_isolation_params_t *iso)
{
    for (size_t i = 0; i < iso->n_binds; i++) {
        free(iso->binds[i].source);
        free(iso->binds[i].target);
    }
    free(iso->binds);
    free(iso->rootfs);
    memset(iso, 0, sizeof *iso);
}
