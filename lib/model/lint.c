#include "model/lint.h"

#include <stdio.h>
#include <string.h>

#include "model/enums.h"
#include "model/json.h"

static const char *const top_keys[] = {
    "id",         "name",       "description", "model",
    "task",       "framework",  "metrics",     "capability_requirements",
    "created_at", "updated_at", NULL};
static const char *const task_keys[] = {"name", "type", "description", "params", NULL};
static const char *const framework_keys[] = {"name", "params", NULL};
static const char *const metrics_keys[] = {"metrics", NULL};
/* Every task with runs. A key is listed here only once something reads
 * it: a key that is accepted and ignored is what this module warns about. */
#define RUN_KEYS "runs_per_job", "min_runs", "max_runs", "target_cv"
static const char *const command_keys[] = {"argv",      "env",    "workdir",   "stdin",  "rlimits",
                                           "isolation", "limits", "container", RUN_KEYS, NULL};
static const char *const rlimit_keys[] = {"cpu_seconds", "memory_mb", "nofile", "nproc", NULL};
static const char *const isolation_keys[] = {"network", "rootfs", "binds", NULL};
static const char *const limits_keys[] = {"memory_mb", "pids", "cpus", "cpu_weight", NULL};
static const char *const container_keys[] = {"image", "pull", "env", "workdir", "network", NULL};
static const char *const memory_keys[] = {"test_sizes_mb", "test_patterns", "iterations_per_size",
                                          RUN_KEYS, NULL};
static const char *const compute_keys[] = {"precision_types", "matrix_sizes", RUN_KEYS, NULL};
static const char *const llm_keys[] = {
    "endpoint",     "server",     "prompts",      "dataset_path", "synthetic",  "concurrency",
    "request_rate", "burstiness", "num_requests", "duration_s",   "max_tokens", "warmup_requests",
    "temperature",  "seed",       "ignore_eos",   "slo",          RUN_KEYS,     NULL};
/* The objects inside an llm_generation's params, by key. */
static const struct {
    const char *key;
    const char *const *keys;
} llm_subs[] = {
    {"endpoint", (const char *const[]){"base_url", "api", "model", NULL}},
    {"server", (const char *const[]){"argv", "env", "port", "ready_path", "ready_timeout_s", NULL}},
    {"synthetic", (const char *const[]){"input_tokens", "output_tokens", "count", NULL}},
    {"slo", (const char *const[]){"ttft_ms", "tpot_ms", "e2e_ms", NULL}},
};
static const char *const req_keys[] = {"timeout_seconds",    "required_capabilities",
                                       "gpu_requirements",   "system_requirements",
                                       "model_requirements", NULL};
static const char *const gpu_keys[] = {"min_gpu_count", "min_memory_mb", "required_vendors", NULL};
static const char *const system_keys[] = {"min_total_memory_gb", "required_os_types",
                                          "required_cpu_architectures", "min_cpu_cores", NULL};
static const char *const model_keys[] = {"required_frameworks", NULL};

/* Levenshtein distance, capped: small keys only. */
static size_t distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63)
        return 99;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (m + 1) * sizeof *prev);
    }
    return prev[m];
}

static bool known(const char *const *keys, const char *k)
{
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(keys[i], k))
            return true;
    return false;
}

/* The closest known key within a third of its length (at least 2), or a
 * shared prefix of 5 ("timeout_secs" ~ "timeout_seconds"). */
static const char *closest(const char *const *keys, const char *k)
{
    const char *best = NULL;
    size_t bd = 99;
    for (size_t i = 0; keys[i]; i++) {
        size_t d = distance(keys[i], k);
        size_t lim = strlen(keys[i]) / 3 < 2 ? 2 : strlen(keys[i]) / 3;
        if ((d <= lim || (strlen(k) >= 5 && !strncmp(keys[i], k, 5))) && d < bd) {
            best = keys[i];
            bd = d;
        }
    }
    return best;
}

/* Where a key that belongs elsewhere goes. */
static const char *elsewhere(const char *k)
{
    if (!strncmp(k, "timeout", 7))
        return "capability_requirements.timeout_seconds";
    if (!strcmp(k, "runs_per_job") || !strcmp(k, "runs"))
        return "task.params.runs_per_job";
    return NULL;
}

static void check(json_t *out, const json_t *obj, const char *path, const char *const *keys)
{
    if (!json_is_object(obj))
        return;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        (void)v;
        if (known(keys, k))
            continue;
        char p[RK_PATH_MAX], msg[RK_PATH_MAX + 160];
        rk_path_key(p, path, k);
        const char *near = closest(keys, k), *other = elsewhere(k);
        if (near)
            snprintf(msg, sizeof msg, "%s: unknown field, ignored; did you mean %s?", p, near);
        else if (other)
            snprintf(msg, sizeof msg, "%s: unknown field, ignored; it belongs in %s", p, other);
        else
            snprintf(msg, sizeof msg, "%s: unknown field, ignored", p);
        json_array_append_new(out, json_string(msg));
    }
}

json_t *rk_experiment_lint(const json_t *spec, const char *prefix)
{
    json_t *out = json_array();
    if (!out || !json_is_object(spec))
        return out;
    char p[RK_PATH_MAX], q[RK_PATH_MAX];
    check(out, spec, prefix, top_keys);
    const json_t *task = json_object_get(spec, "task");
    rk_path_key(p, prefix, "task");
    check(out, task, p, task_keys);
    rk_task_type_t type;
    const json_t *params = json_object_get(task, "params");
    rk_path_key(q, p, "params");
    const char *tname = json_string_value(json_object_get(task, "type"));
    if (tname && rk_task_type_parse(tname, &type) == 0) {
        if (type == RK_TASK_COMMAND) {
            check(out, params, q, command_keys);
            char r[RK_PATH_MAX];
            rk_path_key(r, q, "rlimits");
            check(out, json_object_get(params, "rlimits"), r, rlimit_keys);
            rk_path_key(r, q, "isolation");
            check(out, json_object_get(params, "isolation"), r, isolation_keys);
            rk_path_key(r, q, "limits");
            check(out, json_object_get(params, "limits"), r, limits_keys);
            rk_path_key(r, q, "container");
            check(out, json_object_get(params, "container"), r, container_keys);
        } else if (type == RK_TASK_MEMORY_BENCHMARK) {
            check(out, params, q, memory_keys);
        } else if (type == RK_TASK_COMPUTE_BENCHMARK) {
            check(out, params, q, compute_keys);
        } else if (type == RK_TASK_LLM_GENERATION) {
            check(out, params, q, llm_keys);
            for (size_t i = 0; i < sizeof llm_subs / sizeof *llm_subs; i++) {
                char r[RK_PATH_MAX];
                rk_path_key(r, q, llm_subs[i].key);
                check(out, json_object_get(params, llm_subs[i].key), r, llm_subs[i].keys);
            }
        }
    }
    rk_path_key(p, prefix, "framework");
    check(out, json_object_get(spec, "framework"), p, framework_keys);
    rk_path_key(p, prefix, "metrics");
    check(out, json_object_get(spec, "metrics"), p, metrics_keys);
    const json_t *req = json_object_get(spec, "capability_requirements");
    rk_path_key(p, prefix, "capability_requirements");
    check(out, req, p, req_keys);
    static const struct {
        const char *key;
        const char *const *keys;
    } subs[] = {{"gpu_requirements", gpu_keys},
                {"system_requirements", system_keys},
                {"model_requirements", model_keys}};
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        rk_path_key(q, p, subs[i].key);
        check(out, json_object_get(req, subs[i].key), q, subs[i].keys);
    }
    return out;
}
