#include "model/params.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* True when v is an integer in [min, max]; like rk_json_get_int, a real
 * with no fractional part counts. */
static bool int_in_range(const json_t *v, int64_t min, int64_t max, int64_t *out)
{
    double d;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
    } else if (json_is_real(v) && (d = json_real_value(v)) > -9.2e18 && d < 9.2e18 &&
               d == (double)(int64_t)d) {
        *out = (int64_t)d;
    } else {
        return false;
    }
    return *out >= min && *out <= max;
}

/* Array of integers in [min, max], 1..max_items entries. Absent or null
 * leaves *out untouched (the caller's default stands). */
static int get_intv(const json_t *obj, const char *path, const char *key, int64_t min, int64_t max,
                    size_t max_items, int64_t **out, size_t *n, rk_verr_t *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, key);
    size_t count = json_array_size(v);
    if (!json_is_array(v) || count == 0)
        return rk_verr_set(e, p, "expected a non-empty array of integers");
    if (count > max_items)
        return rk_verr_set(e, p, "more than %zu items", max_items);
    int64_t *arr = calloc(count, sizeof *arr);
    if (!arr)
        return RK_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        if (!int_in_range(json_array_get(v, i), min, max, &arr[i])) {
            char ip[RK_PATH_MAX];
            rk_path_index(ip, p, i);
            free(arr);
            return rk_verr_set(e, ip, "expected an integer from %lld to %lld", (long long)min,
                               (long long)max);
        }
    }
    free(*out);
    *out = arr;
    *n = count;
    return RK_OK;
}

static int set_default_intv(int64_t **out, size_t *n, const int64_t *def, size_t count)
{
    if (*out)
        return RK_OK;
    *out = malloc(count * sizeof **out);
    if (!*out)
        return RK_ENOMEM;
    memcpy(*out, def, count * sizeof **out);
    *n = count;
    return RK_OK;
}

static bool workdir_ok(const char *w)
{
    if (w[0] == '/')
        return false;
    /* No ".." segment anywhere, so the path stays inside the job's folder. */
    for (const char *s = w; *s;) {
        size_t len = strcspn(s, "/");
        if (len == 2 && s[0] == '.' && s[1] == '.')
            return false;
        s += len;
        while (*s == '/')
            s++;
    }
    return true;
}

static int decode_env(const json_t *params, const char *path, rk_command_params_t *c, rk_verr_t *e)
{
    json_t *env = json_object_get(params, "env");
    if (!env || json_is_null(env))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "env");
    if (!json_is_object(env))
        return rk_verr_set(e, p, "expected an object of strings");
    size_t count = json_object_size(env);
    if (count > RK_ENV_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_ENV_MAX);
    c->env = calloc(count ? count : 1, sizeof *c->env);
    if (!c->env)
        return RK_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v)
    {
        char kp[RK_PATH_MAX];
        rk_path_key(kp, p, k);
        if (!*k || strchr(k, '='))
            return rk_verr_set(e, kp, "expected a variable name without '='");
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
            return rk_verr_set(e, kp, "expected a string");
        rk_env_var_t *ev = &c->env[c->n_env];
        ev->name = strdup(k);
        ev->value = strdup(json_string_value(v));
        c->n_env++;
        if (!ev->name || !ev->value)
            return RK_ENOMEM;
    }
    return RK_OK;
}

static int decode_rlimits(const json_t *params, const char *path, rk_rlimits_t *r, rk_verr_t *e)
{
    json_t *rl = NULL;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "rlimits");
    int rc = rk_json_get_obj(params, path, "rlimits", RK_OPTIONAL, &rl, e);
    if (rc || !rl)
        return rc;
    const int64_t imax = INT32_MAX;
    if ((rc = rk_json_get_int(rl, p, "cpu_seconds", RK_OPTIONAL, 1, imax, &r->cpu_seconds, NULL,
                              e)) ||
        (rc = rk_json_get_int(rl, p, "memory_mb", RK_OPTIONAL, 1, (int64_t)1 << 30, &r->memory_mb,
                              NULL, e)) ||
        (rc = rk_json_get_int(rl, p, "nofile", RK_OPTIONAL, 1, imax, &r->nofile, NULL, e)) ||
        (rc = rk_json_get_int(rl, p, "nproc", RK_OPTIONAL, 1, imax, &r->nproc, NULL, e))) {
        /* rc and e hold the first failure */
    }
    json_decref(rl);
    return rc;
}

static int decode_command(const json_t *params, const char *path, rk_command_params_t *c,
                          rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "argv");
    int rc =
        rk_json_get_strv(params, path, "argv", RK_REQUIRED, RK_ARGV_MAX, &c->argv, &c->argc, e);
    if (rc)
        return rc;
    if (c->argc == 0)
        return rk_verr_set(e, p, "expected a non-empty array of strings");
    if (!c->argv[0][0]) {
        char ip[RK_PATH_MAX];
        rk_path_index(ip, p, 0);
        return rk_verr_set(e, ip, "expected a non-empty string");
    }
    if ((rc = decode_env(params, path, c, e)))
        return rc;
    if ((rc = rk_json_get_str(params, path, "workdir", RK_OPTIONAL, 4096, &c->workdir, e)))
        return rc;
    if (c->workdir && !workdir_ok(c->workdir)) {
        rk_path_key(p, path, "workdir");
        return rk_verr_set(e, p, "expected a relative path without '..'");
    }
    if ((rc = rk_json_get_str(params, path, "stdin", RK_OPTIONAL, RK_STDIN_MAX, &c->stdin_data, e)))
        return rc;
    c->stdin_len = c->stdin_data ? strlen(c->stdin_data) : 0;
    return decode_rlimits(params, path, &c->rlimits, e);
}

static int decode_patterns(const json_t *params, const char *path, rk_memory_params_t *m,
                           rk_verr_t *e)
{
    json_t *v = json_object_get(params, "test_patterns");
    if (!v || json_is_null(v))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "test_patterns");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return rk_verr_set(e, p, "expected a non-empty array of sequential, random");
    m->sequential = m->random = false;
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it)
    {
        const char *s = json_string_value(it);
        if (s && strcmp(s, "sequential") == 0) {
            m->sequential = true;
        } else if (s && strcmp(s, "random") == 0) {
            m->random = true;
        } else {
            char ip[RK_PATH_MAX];
            rk_path_index(ip, p, i);
            return rk_verr_set(e, ip, "expected one of sequential, random");
        }
    }
    return RK_OK;
}

static int decode_memory(const json_t *params, const char *path, rk_memory_params_t *m,
                         rk_verr_t *e)
{
    static const int64_t sizes[] = {64, 256};
    m->sequential = m->random = true;
    m->iterations_per_size = 3;
    int rc = get_intv(params, path, "test_sizes_mb", 1, 65536, RK_BENCH_LIST_MAX, &m->test_sizes_mb,
                      &m->n_sizes, e);
    if (!rc)
        rc = set_default_intv(&m->test_sizes_mb, &m->n_sizes, sizes, 2);
    if (!rc)
        rc = decode_patterns(params, path, m, e);
    if (!rc)
        rc = rk_json_get_int(params, path, "iterations_per_size", RK_OPTIONAL, 1, 1000,
                             &m->iterations_per_size, NULL, e);
    return rc;
}

static int decode_precisions(const json_t *params, const char *path, rk_compute_params_t *c,
                             rk_verr_t *e)
{
    json_t *v = json_object_get(params, "precision_types");
    if (!v || json_is_null(v)) {
        static const rk_precision_t def[] = {RK_PREC_FP64, RK_PREC_FP32};
        c->precisions = malloc(sizeof def);
        if (!c->precisions)
            return RK_ENOMEM;
        memcpy(c->precisions, def, sizeof def);
        c->n_precisions = 2;
        return RK_OK;
    }
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "precision_types");
    size_t count = json_array_size(v);
    if (!json_is_array(v) || count == 0)
        return rk_verr_set(e, p, "expected a non-empty array of precision types");
    if (count > RK_BENCH_LIST_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_BENCH_LIST_MAX);
    c->precisions = calloc(count, sizeof *c->precisions);
    if (!c->precisions)
        return RK_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const char *s = json_string_value(json_array_get(v, i));
        if (rk_precision_parse(s, &c->precisions[i]) != RK_OK) {
            char ip[RK_PATH_MAX];
            rk_path_index(ip, p, i);
            return rk_verr_set(e, ip, "expected one of fp64, fp32, tf32, fp16, bf16, int8, fp8");
        }
    }
    c->n_precisions = count;
    return RK_OK;
}

static int decode_compute(const json_t *params, const char *path, rk_compute_params_t *c,
                          rk_verr_t *e)
{
    static const int64_t sizes[] = {512, 1024, 2048};
    int rc = decode_precisions(params, path, c, e);
    if (!rc)
        rc = get_intv(params, path, "matrix_sizes", 1, 16384, RK_BENCH_LIST_MAX, &c->matrix_sizes,
                      &c->n_matrix_sizes, e);
    if (!rc)
        rc = set_default_intv(&c->matrix_sizes, &c->n_matrix_sizes, sizes, 3);
    return rc;
}

/* min_runs, max_runs and target_cv: all three or none (with defaults for
 * the two counts), never with runs_per_job. */
static int decode_settling(const json_t *params, const char *path, bool has_runs,
                           rk_task_params_t *out, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    const json_t *cv = json_object_get(params, "target_cv");
    bool any = cv || json_object_get(params, "min_runs") || json_object_get(params, "max_runs");
    if (!any)
        return 0;
    rk_path_key(p, path, "target_cv");
    if (!cv || json_is_null(cv))
        return rk_verr_set(e, p, "field required with min_runs or max_runs");
    if (!json_is_number(cv) || !(json_number_value(cv) > 0) || !(json_number_value(cv) < 1))
        return rk_verr_set(e, p, "expected a number between 0 and 1 (0.035 = 3.5 %%)");
    if (has_runs) {
        rk_path_key(p, path, "runs_per_job");
        return rk_verr_set(e, p, "not with target_cv: give min_runs and max_runs instead");
    }
    out->target_cv = json_number_value(cv);
    out->min_runs = 3;
    out->max_runs = 10;
    int rc = rk_json_get_int(params, path, "min_runs", RK_OPTIONAL, 3, RK_RUNS_PER_JOB_MAX,
                             &out->min_runs, NULL, e);
    if (!rc)
        rc = rk_json_get_int(params, path, "max_runs", RK_OPTIONAL, 3, RK_RUNS_PER_JOB_MAX,
                             &out->max_runs, NULL, e);
    if (!rc && out->max_runs < out->min_runs) {
        rk_path_key(p, path, "max_runs");
        rc = rk_verr_set(e, p, "expected at least min_runs (%lld)", (long long)out->min_runs);
    }
    /* The run loop and progress count runs_per_job: the most it may take. */
    if (!rc)
        out->runs_per_job = out->max_runs;
    return rc;
}

int rk_task_params_decode(const json_t *params, const char *path, rk_task_type_t type,
                          rk_task_params_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    out->runs_per_job = 1;
    json_t *empty = NULL;
    if (!params) {
        if (!(empty = json_object()))
            return RK_ENOMEM;
        params = empty;
    }
    int rc = rk_json_expect_obj(params, path, e);
    bool has_runs = false;
    if (!rc)
        rc = rk_json_get_int(params, path, "runs_per_job", RK_OPTIONAL, 1, RK_RUNS_PER_JOB_MAX,
                             &out->runs_per_job, &has_runs, e);
    if (!rc)
        rc = decode_settling(params, path, has_runs, out, e);
    if (!rc) {
        switch (type) {
        case RK_TASK_COMMAND:
            rc = decode_command(params, path, &out->command, e);
            if (!rc)
                rc = rk_isolation_params_decode(params, path, &out->isolation, &out->limits, e);
            break;
        case RK_TASK_MEMORY_BENCHMARK:
            rc = decode_memory(params, path, &out->memory, e);
            break;
        case RK_TASK_COMPUTE_BENCHMARK:
            rc = decode_compute(params, path, &out->compute, e);
            break;
        case RK_TASK_LLM_GENERATION:
            rc = rk_llm_params_decode(params, path, &out->llm, e);
            break;
        default:
            break; /* gpu_benchmark params are the runner's business */
        }
    }
    json_decref(empty);
    if (rc)
        rk_task_params_cleanup(out);
    return rc;
}

void rk_task_params_cleanup(rk_task_params_t *p)
{
    rk_strv_free(p->command.argv, p->command.argc);
    for (size_t i = 0; i < p->command.n_env; i++) {
        free(p->command.env[i].name);
        free(p->command.env[i].value);
    }
    free(p->command.env);
    free(p->command.workdir);
    free(p->command.stdin_data);
    free(p->memory.test_sizes_mb);
    free(p->compute.precisions);
    free(p->compute.matrix_sizes);
    rk_llm_params_cleanup(&p->llm);
    rk_isolation_params_cleanup(&p->isolation);
    memset(p, 0, sizeof *p);
}

int rk_requirements_decode(const json_t *req, const char *path, rk_requirements_t *out,
                           rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    out->timeout_seconds = RK_TIMEOUT_DEFAULT_S;
    if (!req || json_is_null(req))
        return RK_OK;
    json_t *gpu = NULL, *sys = NULL, *model = NULL;
    char gp[RK_PATH_MAX], sp[RK_PATH_MAX], mp[RK_PATH_MAX];
    rk_path_key(gp, path, "gpu_requirements");
    rk_path_key(sp, path, "system_requirements");
    rk_path_key(mp, path, "model_requirements");
    const size_t lmax = RK_REQ_LIST_MAX;
    int rc = rk_json_expect_obj(req, path, e);
    if (rc)
        goto out;
    if ((rc = rk_json_get_int(req, path, "timeout_seconds", RK_OPTIONAL, 1, INT32_MAX,
                              &out->timeout_seconds, NULL, e)) ||
        (rc = rk_json_get_strv(req, path, "required_capabilities", RK_OPTIONAL, lmax,
                               &out->capabilities, &out->n_capabilities, e)) ||
        (rc = rk_json_get_obj(req, path, "gpu_requirements", RK_OPTIONAL, &gpu, e)) ||
        (rc = rk_json_get_obj(req, path, "system_requirements", RK_OPTIONAL, &sys, e)) ||
        (rc = rk_json_get_obj(req, path, "model_requirements", RK_OPTIONAL, &model, e)))
        goto out;
    if (gpu && ((rc = rk_json_get_int(gpu, gp, "min_gpu_count", RK_OPTIONAL, 0, INT32_MAX,
                                      &out->min_gpu_count, NULL, e)) ||
                (rc = rk_json_get_int(gpu, gp, "min_memory_mb", RK_OPTIONAL, 0, INT64_MAX / 2,
                                      &out->min_gpu_memory_mb, NULL, e)) ||
                (rc = rk_json_get_strv(gpu, gp, "required_vendors", RK_OPTIONAL, lmax,
                                       &out->gpu_vendors, &out->n_gpu_vendors, e))))
        goto out;
    if (sys && ((rc = rk_json_get_num(sys, sp, "min_total_memory_gb", RK_OPTIONAL, 0, 1e12,
                                      &out->min_total_memory_gb, NULL, e)) ||
                (rc = rk_json_get_strv(sys, sp, "required_os_types", RK_OPTIONAL, lmax,
                                       &out->os_types, &out->n_os_types, e)) ||
                (rc = rk_json_get_strv(sys, sp, "required_cpu_architectures", RK_OPTIONAL, lmax,
                                       &out->cpu_architectures, &out->n_cpu_architectures, e)) ||
                (rc = rk_json_get_int(sys, sp, "min_cpu_cores", RK_OPTIONAL, 0, INT32_MAX,
                                      &out->min_cpu_cores, NULL, e))))
        goto out;
    if (model)
        rc = rk_json_get_strv(model, mp, "required_frameworks", RK_OPTIONAL, lmax, &out->frameworks,
                              &out->n_frameworks, e);
out:
    json_decref(gpu);
    json_decref(sys);
    json_decref(model);
    if (rc)
        rk_requirements_cleanup(out);
    return rc;
}

void rk_requirements_cleanup(rk_requirements_t *r)
{
    rk_strv_free(r->capabilities, r->n_capabilities);
    rk_strv_free(r->gpu_vendors, r->n_gpu_vendors);
    rk_strv_free(r->os_types, r->n_os_types);
    rk_strv_free(r->cpu_architectures, r->n_cpu_architectures);
    rk_strv_free(r->frameworks, r->n_frameworks);
    memset(r, 0, sizeof *r);
}
