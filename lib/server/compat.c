/* Compatibility: can an agent run an experiment? The experiment's task type
 * and capability_requirements (model/params.h) against the AgentInfo the
 * agent gave at registration (docs/system-info.md names the fields). What
 * is missing is listed in words a person can act on; a requirement the
 * agent does not report counts as missing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"
#include "model/parse.h"
#include "server/internal.h"

static void addf(json_t *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(json_t *arr, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(arr, json_string(buf));
}

static bool in_list(const char *s, char *const *v, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcasecmp(s, v[i]) == 0)
            return true;
    return false;
}

static const char *path_str(const json_t *root, const char *a, const char *b)
{
    return json_string_value(json_object_get(json_object_get(root, a), b));
}

static bool path_num(const json_t *root, const char *a, const char *b, double *out)
{
    const json_t *v = b ? json_object_get(json_object_get(root, a), b) : json_object_get(root, a);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static bool truthy(const json_t *v)
{
    return json_is_true(v) || (json_is_number(v) && json_number_value(v) != 0) ||
           (json_is_string(v) && json_string_length(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0) || json_is_object(v);
}

static bool has_capability(const rk_agent_info_t *a, const char *cap)
{
    rk_task_type_t t;
    if (rk_task_type_parse(cap, &t) == 0 && rk_agent_info_can_run(a, t))
        return true;
    return a->capabilities.extra && truthy(json_object_get(a->capabilities.extra, cap));
}

static void check_gpus(const rk_requirements_t *r, const json_t *si, json_t *missing)
{
    double count = 0;
    bool known = path_num(si, "gpu_count", NULL, &count);
    if (r->min_gpu_count > 0 && (!known || count < (double)r->min_gpu_count))
        addf(missing, "at least %lld GPUs (agent has %.0f)", (long long)r->min_gpu_count, count);
    const json_t *gpus = json_object_get(si, "gpus");
    if (r->min_gpu_memory_mb > 0) {
        size_t ok = 0, i;
        const json_t *g;
        json_array_foreach(gpus, i, g)
        {
            double mb = 0;
            if (path_num(g, "memory_total_mb", NULL, &mb) && mb >= (double)r->min_gpu_memory_mb)
                ok++;
        }
        size_t need = r->min_gpu_count > 0 ? (size_t)r->min_gpu_count : 1;
        if (ok < need)
            addf(missing, "%zu GPUs with at least %lld MiB of memory (agent has %zu)", need,
                 (long long)r->min_gpu_memory_mb, ok);
    }
    if (r->n_gpu_vendors) {
        bool found = false;
        size_t i;
        const json_t *g;
        json_array_foreach(gpus, i, g)
        {
            if (in_list(json_string_value(json_object_get(g, "vendor")), r->gpu_vendors,
                        r->n_gpu_vendors))
                found = true;
        }
        if (!found)
            addf(missing, "a GPU from vendor %s%s", r->gpu_vendors[0],
                 r->n_gpu_vendors > 1 ? " (or another listed one)" : "");
    }
}

/* A command's isolation and limits (protocol.md, "Isolation") against the
 * capabilities sandbox, cgroups, images and container_runtime: an experiment asking for more
 * than the agent gives is never run open. */
static void check_isolation(const rk_task_params_t *p, const json_t *caps, json_t *missing)
{
    if (p->type != RK_TASK_COMMAND)
        return;
    if (p->isolation.present && !json_is_string(json_object_get(caps, "sandbox")))
        addf(missing, "a sandbox for task.params.isolation (agent has none)");
    const char *rootfs = p->isolation.rootfs;
    bool found = false;
    size_t i;
    const json_t *img;
    json_array_foreach(json_object_get(caps, "images"), i, img)
    {
        if (rootfs && json_is_string(img) && strcmp(json_string_value(img), rootfs) == 0)
            found = true;
    }
    if (rootfs && !found)
        addf(missing, "image %s for task.params.isolation.rootfs (agent does not have it)", rootfs);
    /* A container's limits are its runtime's flags, not the agent's cgroups. */
    if (p->isolation.container.present &&
        !json_is_string(json_object_get(caps, "container_runtime")))
        addf(missing, "a container runtime for task.params.container (agent has none)");
    else if (p->limits.present && !p->isolation.container.present &&
             !json_is_string(json_object_get(caps, "cgroups")))
        addf(missing, "cgroups for task.params.limits (agent has none)");
}

bool rk_srv_compat(const rk_experiment_t *x, const rk_agent_info_t *a, json_t *missing,
                   json_t *warnings)
{
    size_t before = json_array_size(missing);
    const rk_requirements_t *r = &x->requirements;
    const json_t *si = a->system_info;
    if (!rk_agent_info_can_run(a, x->task.type))
        addf(missing, "task type %s", rk_task_type_name(x->task.type));
    for (size_t i = 0; i < r->n_capabilities; i++)
        if (!has_capability(a, r->capabilities[i]))
            addf(missing, "capability %s", r->capabilities[i]);
    check_gpus(r, si, missing);
    check_isolation(&x->params, a->capabilities.extra, missing);
    double mb = 0;
    if (r->min_total_memory_gb > 0) {
        if (!path_num(si, "memory", "total_mb", &mb))
            addf(missing, "%g GB of memory (not reported)", r->min_total_memory_gb);
        else if (mb / 1024.0 < r->min_total_memory_gb)
            addf(missing, "%g GB of memory (agent has %.1f)", r->min_total_memory_gb, mb / 1024.0);
    }
    const char *os = path_str(si, "os", "type");
    if (r->n_os_types && !in_list(os, r->os_types, r->n_os_types))
        addf(missing, "operating system %s (agent runs %s)", r->os_types[0], os ? os : "unknown");
    const char *arch = path_str(si, "cpu", "architecture");
    if (r->n_cpu_architectures && !in_list(arch, r->cpu_architectures, r->n_cpu_architectures))
        addf(missing, "CPU architecture %s (agent has %s)", r->cpu_architectures[0],
             arch ? arch : "unknown");
    double cores = 0;
    if (r->min_cpu_cores > 0) {
        if (!path_num(si, "cpu", "cores", &cores))
            addf(missing, "%lld CPU cores (not reported)", (long long)r->min_cpu_cores);
        else if (cores < (double)r->min_cpu_cores)
            addf(missing, "%lld CPU cores (agent has %.0f)", (long long)r->min_cpu_cores, cores);
    }
    const json_t *fw =
        a->capabilities.extra ? json_object_get(a->capabilities.extra, "frameworks") : NULL;
    for (size_t i = 0; i < r->n_frameworks; i++) {
        bool found = false;
        size_t k;
        const json_t *f;
        json_array_foreach(fw, k, f)
        {
            if (json_is_string(f) && strcasecmp(json_string_value(f), r->frameworks[i]) == 0)
                found = true;
        }
        /* AgentInfo.system_info.frameworks: [{name, version}] */
        json_array_foreach(json_object_get(si, "frameworks"), k, f)
        {
            const char *name = json_string_value(json_object_get(f, "name"));
            if (name && strcasecmp(name, r->frameworks[i]) == 0)
                found = true;
        }
        if (!found)
            addf(missing, "framework %s", r->frameworks[i]);
    }
    if (!json_is_object(si) || json_object_size(si) == 0)
        addf(warnings, "agent reports no system information");
    return json_array_size(missing) == before;
}

/* ---- POST /agents/compatibility/check ---- */

static json_t *check_one(const rk_experiment_t *x, const rk_registered_agent_t *a, bool *ok)
{
    json_t *missing = json_array(), *warnings = json_array();
    *ok = rk_srv_compat(x, &a->info, missing, warnings);
    return json_pack("{s:s,s:s?,s:b,s:o,s:o}", "agent_id", a->info.agent_id, "agent_name",
                     a->info.agent_name, "can_run", *ok, "missing_requirements", missing,
                     "warnings", warnings);
}

void rk_srv_h_compat(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    json_t *body = NULL;
    rk_experiment_t x = {0};
    rk_registered_agent_t *agents = NULL;
    size_t n = 0;
    char **ids = NULL;
    size_t n_ids = 0;
    rk_verr_t e;
    if (rk_http_req_json(req, resp, &body))
        return;
    json_t *spec = json_object_get(body, "experiment_spec");
    if (spec) {
        if (rk_experiment_decode(spec, "experiment_spec", &x, &e)) {
            rk_http_resp_error(resp, 422, e.msg);
            goto done;
        }
    } else {
        char *id = NULL;
        if (rk_json_get_id(body, "", "experiment_id", RK_REQUIRED, &id, &e)) {
            rk_http_resp_error(resp, 422, "experiment_spec or experiment_id: field required");
            goto done;
        }
        int rc = rk_store_experiment_get(srv->store, id, &x);
        if (rc)
            rk_http_resp_errorf(resp, rc == RK_ENOENT ? 404 : 500, "experiment %s %s", id,
                                rc == RK_ENOENT ? "not found" : "could not be read");
        free(id);
        if (rc)
            goto done;
    }
    if (rk_json_get_strv(body, "", "agent_ids", RK_OPTIONAL, 10000, &ids, &n_ids, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        goto done;
    }
    if (ids) {
        agents = calloc(n_ids ? n_ids : 1, sizeof *agents);
        if (!agents) {
            rk_http_resp_error(resp, 500, "out of memory");
            goto done;
        }
        for (; n < n_ids; n++) {
            int rc = rk_store_agent_get(srv->store, ids[n], &agents[n]);
            if (rc) {
                rk_http_resp_errorf(resp, rc == RK_ENOENT ? 404 : 500, "agent %s not found",
                                    ids[n]);
                goto done;
            }
        }
    } else if (rk_store_agent_list(srv->store, &agents, &n)) {
        rk_http_resp_error(resp, 500, "could not read the agents");
        goto done;
    }
    json_t *results = json_array();
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok;
        json_array_append_new(results, check_one(&x, &agents[i], &ok));
        good += ok;
    }
    json_t *out = json_pack("{s:o,s:s,s:I,s:I}", "compatibility_results", results,
                            "experiment_name", x.name ? x.name : "", "total_agents_checked",
                            (json_int_t)n, "compatible_agents_count", (json_int_t)good);
    if (out)
        rk_json_set_time(out, "checked_at", rk_time_now_us());
    rk_http_resp_json_take(resp, 200, out);
done:
    rk_store_agents_free(agents, n);
    rk_strv_free(ids, n_ids);
    rk_experiment_cleanup(&x);
    json_decref(body);
}

/* ---- GET /agents/compatibility/matrix ---- */

/* What the agent says it can do: its task types, then every capability
 * flag it sets true. */
static json_t *available(const rk_agent_info_t *a)
{
    json_t *out = json_array();
    for (size_t i = 0; i < a->capabilities.n_task_types; i++)
        json_array_append_new(out, json_string(rk_task_type_name(a->capabilities.task_types[i])));
    const char *k;
    json_t *v;
    json_object_foreach(a->capabilities.extra, k, v)
    {
        rk_task_type_t t;
        if (json_is_true(v) && rk_task_type_parse(k, &t) != 0)
            json_array_append_new(out, json_string(k));
    }
    return out;
}

void rk_srv_h_compat_matrix(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req;
    rk_server_t *srv = ud;
    rk_registered_agent_t *agents = NULL;
    size_t n = 0;
    int rc = rk_store_agent_list(srv->store, &agents, &n);
    if (rc) {
        rk_srv_store_error(resp, rc, "agents");
        return;
    }
    json_t *types = json_array(), *by_agent = json_object();
    for (int t = 0; t < RK_TASK_TYPE_COUNT; t++)
        json_array_append_new(types, json_string(rk_task_type_name((rk_task_type_t)t)));
    for (size_t i = 0; i < n; i++) {
        const rk_agent_info_t *a = &agents[i].info;
        json_t *per_type = json_object();
        for (int t = 0; t < RK_TASK_TYPE_COUNT; t++) {
            /* An experiment of that type that asks for nothing more. */
            rk_experiment_t x = {0};
            x.task.type = (rk_task_type_t)t;
            json_t *missing = json_array(), *warnings = json_array();
            bool ok = rk_srv_compat(&x, a, missing, warnings);
            json_object_set_new(per_type, rk_task_type_name((rk_task_type_t)t),
                                json_pack("{s:b,s:o,s:o,s:o}", "compatible", ok,
                                          "missing_requirements", missing, "warnings", warnings,
                                          "available_capabilities", available(a)));
        }
        json_object_set_new(by_agent, a->agent_id,
                            json_pack("{s:s?,s:o}", "agent_name", a->agent_name,
                                      "experiment_compatibility", per_type));
    }
    json_t *out = json_pack("{s:o,s:o,s:I}", "agents", by_agent, "experiment_types", types,
                            "total_agents", (json_int_t)n);
    if (out)
        rk_json_set_time(out, "checked_at", rk_time_now_us());
    rk_http_resp_json_take(resp, 200, out);
    rk_store_agents_free(agents, n);
}
