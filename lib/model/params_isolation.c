/* task.params.isolation and task.params.limits (params_isolation.h). */
#include "model/params_isolation.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static const char *const network_names[] = {"none", "host"};
static const char *const pull_names[] = {"never", "missing", "always"};

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

bool rk_container_image_valid(const char *s)
{
    static const char archive[] = "oci-archive:";
    size_t n = strlen(s);
    if (strncmp(s, archive, sizeof archive - 1) == 0) {
        const char *path = s + sizeof archive - 1;
        if (path[0] != '/' || strlen(path) > 4096)
            return false;
        for (const char *c = path; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return false;
        for (const char *c = path; *c;) {
            c += strspn(c, "/");
            size_t len = strcspn(c, "/");
            if (len == 2 && c[0] == '.' && c[1] == '.')
                return false;
            c += len;
        }
        return true;
    }
    if (n == 0 || n > RK_CONTAINER_IMAGE_MAX || !isalnum((unsigned char)s[0]))
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._/:@-") == n;
}

const char *rk_container_pull_name(int pull)
{
    return pull >= 0 && pull < 3 ? pull_names[pull] : "never";
}

static bool env_name_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 128 || isdigit((unsigned char)k[0]))
        return false;
    return strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int decode_container_env(const json_t *c, const char *path, rk_container_params_t *out,
                                rk_verr_t *e)
{
    json_t *env = json_object_get(c, "env");
    if (!env || json_is_null(env))
        return RK_OK;
    char p[RK_PATH_MAX], kp[RK_PATH_MAX];
    rk_path_key(p, path, "env");
    if (!json_is_object(env))
        return rk_verr_set(e, p, "expected an object of strings");
    if (json_object_size(env) > RK_CONTAINER_ENV_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_CONTAINER_ENV_MAX);
    out->env = calloc(json_object_size(env) + 1, sizeof *out->env);
    if (!out->env)
        return RK_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        rk_path_key(kp, p, k);
        if (!env_name_ok(k))
            return rk_verr_set(e, kp,
                               "expected a variable name of [A-Za-z0-9_], not starting "
                               "with a digit");
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return rk_verr_set(e, kp, "expected a string");
        if (asprintf(&out->env[out->n_env], "%s=%s", k, json_string_value(v)) < 0) {
            out->env[out->n_env] = NULL;
            return RK_ENOMEM;
        }
        out->n_env++;
    }
    return RK_OK;
}

/* params.container; refused together with params.isolation (the container
 * is the job's isolation: no bwrap, no rootfs, inside it). */
static int decode_container(const json_t *params, const char *path, rk_isolation_params_t *iso,
                            rk_verr_t *e)
{
    rk_container_params_t *out = &iso->container;
    json_t *c = NULL;
    char p[RK_PATH_MAX], fp[RK_PATH_MAX];
    rk_path_key(p, path, "container");
    int rc = rk_json_get_obj(params, path, "container", RK_OPTIONAL, &c, e);
    if (rc || !c)
        return rc;
    out->present = true;
    if (iso->present) {
        rk_path_key(fp, path, iso->rootfs ? "isolation.rootfs" : "isolation");
        rc = rk_verr_set(e, fp,
                         "cannot be combined with task.params.container (the container is "
                         "the job's isolation)");
        goto out;
    }
    if ((rc = rk_json_get_str(c, p, "image", RK_REQUIRED, 0, &out->image, e)))
        goto out;
    if (!rk_container_image_valid(out->image)) {
        rk_path_key(fp, p, "image");
        rc = rk_verr_set(e, fp,
                         "expected an image name (1 to 255 of [A-Za-z0-9._/:@-], starting with a "
                         "letter or digit) or oci-archive:/absolute/path");
        goto out;
    }
    int net = 0;
    if ((rc = rk_json_get_enum(c, p, "pull", RK_OPTIONAL, pull_names, 3, &out->pull, e)) ||
        (rc = rk_json_get_enum(c, p, "network", RK_OPTIONAL, network_names, 2, &net, e)) ||
        (rc = rk_json_get_str(c, p, "workdir", RK_OPTIONAL, 4096, &out->workdir, e)))
        goto out;
    out->network = net == 1;
    if (out->workdir && (out->workdir[0] != '/' || strchr(out->workdir, ','))) {
        rk_path_key(fp, p, "workdir");
        rc = rk_verr_set(e, fp, "expected an absolute path inside the container");
        goto out;
    }
    rc = decode_container_env(c, p, out, e);
out:
    json_decref(c);
    return rc;
}

int rk_isolation_params_decode(const json_t *params, const char *path, rk_isolation_params_t *iso,
                               rk_limits_params_t *lim, rk_verr_t *e)
{
    int rc = decode_isolation(params, path, iso, e);
    if (!rc)
        rc = decode_container(params, path, iso, e);
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
    for (size_t i = 0; i < iso->container.n_env; i++)
        free(iso->container.env[i]);
    free(iso->container.env);
    free(iso->container.image);
    free(iso->container.workdir);
    memset(iso, 0, sizeof *iso);
}
