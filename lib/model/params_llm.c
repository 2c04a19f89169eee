/* Decoding and validation of an llm_generation task's params
 * (params_llm.h). Each rule's message names the field it is about. */
#include "model/params_llm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static int decode_messages(const json_t *msgs, const char *path, rk_verr_t *e)
{
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return rk_verr_set(e, path, "expected a non-empty array of {role, content}");
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        char ip[RK_PATH_MAX];
        rk_path_index(ip, path, i);
        if (!json_is_object(m))
            return rk_verr_set(e, ip, "expected an object {role, content}");
        const char *keys[] = {"role", "content"};
        for (size_t k = 0; k < 2; k++) {
            json_t *s = json_object_get(m, keys[k]);
            if (!json_is_string(s) || json_string_length(s) > RK_LLM_TEXT_MAX) {
                char kp[RK_PATH_MAX];
                rk_path_key(kp, ip, keys[k]);
                return rk_verr_set(e, kp, "expected a string");
            }
        }
    }
    return RK_OK;
}

int rk_llm_prompt_decode(const json_t *v, const char *path, rk_llm_api_t api, rk_llm_prompt_t *out,
                         rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    int rc = rk_json_expect_obj(v, path, e);
    if (rc)
        return rc;
    char p[RK_PATH_MAX];
    json_t *msgs = json_object_get(v, "messages");
    bool has_msgs = msgs && !json_is_null(msgs);
    if ((rc = rk_json_get_str(v, path, "prompt", RK_OPTIONAL, RK_LLM_TEXT_MAX, &out->prompt, e)))
        return rc;
    if (out->prompt && has_msgs) {
        rk_path_key(p, path, "messages");
        return rk_verr_set(e, p, "not with prompt: give one of the two");
    }
    if (!out->prompt && !has_msgs) {
        rk_path_key(p, path, "prompt");
        return rk_verr_set(e, p, "field required (or messages)");
    }
    if (has_msgs) {
        rk_path_key(p, path, "messages");
        if (api != RK_LLM_API_CHAT)
            return rk_verr_set(e, p, "needs endpoint.api chat");
        if ((rc = decode_messages(msgs, p, e)))
            return rc;
        out->messages = json_incref(msgs);
    }
    if ((rc = rk_json_get_int(v, path, "max_tokens", RK_OPTIONAL, 1, RK_LLM_TOKENS_MAX,
                              &out->max_tokens, NULL, e)))
        return rc;
    return rk_json_get_str(v, path, "reference", RK_OPTIONAL, RK_LLM_TEXT_MAX, &out->reference, e);
}

void rk_llm_prompt_cleanup(rk_llm_prompt_t *p)
{
    free(p->prompt);
    json_decref(p->messages);
    free(p->reference);
    memset(p, 0, sizeof *p);
}

/* "http://" and a host: the load generator speaks plain HTTP/1.1 (lib/llm
 * says why); an https endpoint is refused here rather than failing later. */
static int check_url(const char *url, const char *p, rk_verr_t *e)
{
    if (strncmp(url, "https://", 8) == 0)
        return rk_verr_set(e, p, "https is not supported: give an http:// URL");
    if (strncmp(url, "http://", 7) != 0 || !url[7] || url[7] == '/' || strpbrk(url, " \r\n\t"))
        return rk_verr_set(e, p, "expected an http://host[:port][/path] URL");
    return RK_OK;
}

static int decode_endpoint(const json_t *params, const char *path, bool managed, rk_llm_params_t *o,
                           rk_verr_t *e)
{
    static const char *const apis[] = {"completions", "chat"};
    json_t *ep = NULL;
    char p[RK_PATH_MAX], up[RK_PATH_MAX];
    rk_path_key(p, path, "endpoint");
    rk_path_key(up, p, "base_url");
    int api = 0;
    int rc = rk_json_get_obj(params, path, "endpoint", RK_REQUIRED, &ep, e);
    if (!rc)
        rc = rk_json_get_str(ep, p, "base_url", managed ? RK_OPTIONAL : RK_REQUIRED, RK_LLM_URL_MAX,
                             &o->base_url, e);
    if (!rc && !o->base_url && !(o->base_url = strdup("http://127.0.0.1:{port}")))
        rc = RK_ENOMEM;
    if (!rc)
        rc = check_url(o->base_url, up, e);
    if (!rc && !managed && strstr(o->base_url, "{port}"))
        rc = rk_verr_set(e, up, "{port} needs a server to start");
    if (!rc)
        rc = rk_json_get_enum(ep, p, "api", RK_REQUIRED, apis, 2, &api, e);
    o->api = (rk_llm_api_t)api;
    if (!rc)
        rc = rk_json_get_str(ep, p, "model", RK_REQUIRED, 1024, &o->model, e);
    json_decref(ep);
    return rc;
}

static int decode_server_env(const json_t *srv, const char *path, rk_llm_params_t *o, rk_verr_t *e)
{
    json_t *env = json_object_get(srv, "env");
    if (!env || json_is_null(env))
        return RK_OK;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "env");
    if (!json_is_object(env) || json_object_size(env) > 4096)
        return rk_verr_set(e, p, "expected an object of strings (at most 4096)");
    o->server_env = calloc(json_object_size(env) + 1, sizeof *o->server_env);
    if (!o->server_env)
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
        if (asprintf(&o->server_env[o->n_server_env], "%s=%s", k, json_string_value(v)) < 0)
            return RK_ENOMEM;
        o->n_server_env++;
    }
    return RK_OK;
}

static int decode_server(const json_t *srv, const char *p, rk_llm_params_t *o, rk_verr_t *e)
{
    char ap[RK_PATH_MAX];
    rk_path_key(ap, p, "argv");
    int rc =
        rk_json_get_strv(srv, p, "argv", RK_REQUIRED, 4096, &o->server_argv, &o->server_argc, e);
    if (!rc && (o->server_argc == 0 || !o->server_argv[0][0]))
        rc = rk_verr_set(e, ap, "expected a non-empty array of strings");
    if (!rc)
        rc = decode_server_env(srv, p, o, e);
    if (!rc)
        rc = rk_json_get_int(srv, p, "port", RK_OPTIONAL, 1, 65535, &o->server_port, NULL, e);
    if (!rc)
        rc = rk_json_get_str(srv, p, "ready_path", RK_OPTIONAL, 1024, &o->ready_path, e);
    if (!rc && !o->ready_path && !(o->ready_path = strdup("/health")))
        rc = RK_ENOMEM;
    if (!rc && o->ready_path[0] != '/') {
        rk_path_key(ap, p, "ready_path");
        rc = rk_verr_set(e, ap, "expected a path starting with '/'");
    }
    o->ready_timeout_s = 600;
    if (!rc)
        rc = rk_json_get_int(srv, p, "ready_timeout_s", RK_OPTIONAL, 1, 86400, &o->ready_timeout_s,
                             NULL, e);
    return rc;
}

static int decode_prompts(const json_t *v, const char *p, rk_llm_params_t *o, rk_verr_t *e)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0)
        return rk_verr_set(e, p, "expected a non-empty array of {prompt | messages}");
    if (n > RK_LLM_PROMPTS_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_LLM_PROMPTS_MAX);
    if (!(o->prompts = calloc(n, sizeof *o->prompts)))
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char ip[RK_PATH_MAX];
        rk_path_index(ip, p, i);
        int rc = rk_llm_prompt_decode(json_array_get(v, i), ip, o->api, &o->prompts[i], e);
        o->n_prompts = i + 1; /* cleanup frees what this one holds, too */
        if (rc)
            return rc;
    }
    return RK_OK;
}

static int decode_synthetic(const json_t *params, const char *path, rk_llm_params_t *o,
                            rk_verr_t *e)
{
    json_t *s = NULL;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "synthetic");
    int rc = rk_json_get_obj(params, path, "synthetic", RK_REQUIRED, &s, e);
    o->synthetic = true;
    o->synthetic_count = 1;
    if (!rc)
        rc = rk_json_get_int(s, p, "input_tokens", RK_REQUIRED, 1, RK_LLM_TOKENS_MAX,
                             &o->synthetic_input_tokens, NULL, e);
    if (!rc)
        rc = rk_json_get_int(s, p, "output_tokens", RK_REQUIRED, 1, RK_LLM_TOKENS_MAX,
                             &o->synthetic_output_tokens, NULL, e);
    if (!rc)
        rc = rk_json_get_int(s, p, "count", RK_OPTIONAL, 1, RK_LLM_PROMPTS_MAX, &o->synthetic_count,
                             NULL, e);
    json_decref(s);
    return rc;
}

/* Exactly one of prompts, dataset_path and synthetic. */
static int decode_workload(const json_t *params, const char *path, rk_llm_params_t *o, rk_verr_t *e)
{
    const char *keys[] = {"prompts", "dataset_path", "synthetic"};
    int given = -1;
    char p[RK_PATH_MAX];
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(params, keys[i]);
        if (!v || json_is_null(v))
            continue;
        if (given >= 0) {
            rk_path_key(p, path, keys[i]);
            return rk_verr_set(e, p, "not with %s: give one workload", keys[given]);
        }
        given = i;
    }
    if (given < 0) {
        rk_path_key(p, path, "prompts");
        return rk_verr_set(e, p, "field required (or dataset_path or synthetic)");
    }
    rk_path_key(p, path, keys[given]);
    if (given == 0)
        return decode_prompts(json_object_get(params, "prompts"), p, o, e);
    if (given == 2)
        return decode_synthetic(params, path, o, e);
    int rc = rk_json_get_str(params, path, "dataset_path", RK_REQUIRED, 4096, &o->dataset_path, e);
    if (!rc && o->dataset_path[0] != '/')
        rc = rk_verr_set(e, p, "expected an absolute path on the agent");
    return rc;
}

static int decode_rates(const json_t *v, const char *p, rk_llm_params_t *o, rk_verr_t *e)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0)
        return rk_verr_set(e, p, "expected a non-empty array of numbers");
    if (n > RK_LLM_STAGES_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_LLM_STAGES_MAX);
    if (!(o->request_rate = calloc(n, sizeof *o->request_rate)))
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(v, i);
        double d = json_number_value(r);
        if (!json_is_number(r) || !isfinite(d) || !(d > 0) || d > RK_LLM_RATE_MAX) {
            char ip[RK_PATH_MAX];
            rk_path_index(ip, p, i);
            return rk_verr_set(e, ip, "expected requests per second, above 0 and at most 1e6");
        }
        o->request_rate[i] = d;
    }
    o->n_request_rate = n;
    return RK_OK;
}

static int decode_concurrency(const json_t *v, const char *p, rk_llm_params_t *o, rk_verr_t *e)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0)
        return rk_verr_set(e, p, "expected a non-empty array of integers");
    if (n > RK_LLM_STAGES_MAX)
        return rk_verr_set(e, p, "more than %d items", RK_LLM_STAGES_MAX);
    if (!(o->concurrency = calloc(n, sizeof *o->concurrency)))
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(v, i);
        if (!json_is_integer(c) || json_integer_value(c) < 1 ||
            json_integer_value(c) > RK_LLM_CONCURRENCY_MAX) {
            char ip[RK_PATH_MAX];
            rk_path_index(ip, p, i);
            return rk_verr_set(e, ip, "expected an integer from 1 to %d", RK_LLM_CONCURRENCY_MAX);
        }
        o->concurrency[i] = (int64_t)json_integer_value(c);
    }
    o->n_concurrency = n;
    return RK_OK;
}

/* Exactly one of concurrency and request_rate (+ burstiness). */
static int decode_load(const json_t *params, const char *path, rk_llm_params_t *o, rk_verr_t *e)
{
    json_t *c = json_object_get(params, "concurrency");
    json_t *r = json_object_get(params, "request_rate");
    char p[RK_PATH_MAX];
    if (c && !json_is_null(c) && r && !json_is_null(r)) {
        rk_path_key(p, path, "request_rate");
        return rk_verr_set(e, p, "not with concurrency: give one kind of load");
    }
    o->burstiness = 1;
    if (r && !json_is_null(r)) {
        rk_path_key(p, path, "request_rate");
        int rc = decode_rates(r, p, o, e);
        return rc ? rc
                  : rk_json_get_num(params, path, "burstiness", RK_OPTIONAL, 0.01, 100,
                                    &o->burstiness, NULL, e);
    }
    if (json_object_get(params, "burstiness")) {
        rk_path_key(p, path, "burstiness");
        return rk_verr_set(e, p, "needs request_rate");
    }
    rk_path_key(p, path, "concurrency");
    if (!c || json_is_null(c))
        return rk_verr_set(e, p, "field required (or request_rate)");
    return decode_concurrency(c, p, o, e);
}

static int decode_slo(const json_t *params, const char *path, rk_llm_params_t *o, rk_verr_t *e)
{
    json_t *s = NULL;
    char p[RK_PATH_MAX];
    rk_path_key(p, path, "slo");
    int rc = rk_json_get_obj(params, path, "slo", RK_OPTIONAL, &s, e);
    if (rc || !s)
        return rc;
    if ((rc = rk_json_get_num(s, p, "ttft_ms", RK_OPTIONAL, 1e-3, 1e9, &o->slo_ttft_ms, NULL, e)) ||
        (rc = rk_json_get_num(s, p, "tpot_ms", RK_OPTIONAL, 1e-3, 1e9, &o->slo_tpot_ms, NULL, e)) ||
        (rc = rk_json_get_num(s, p, "e2e_ms", RK_OPTIONAL, 1e-3, 1e9, &o->slo_e2e_ms, NULL, e))) {
        /* rc and e hold the first failure */
    }
    json_decref(s);
    return rc;
}

static int decode_sampling(const json_t *params, const char *path, rk_llm_params_t *o, rk_verr_t *e)
{
    bool has_n = false, has_d = false;
    o->num_requests = 100;
    o->max_tokens = 128;
    int rc;
    if ((rc = rk_json_get_int(params, path, "num_requests", RK_OPTIONAL, 1, RK_LLM_REQUESTS_MAX,
                              &o->num_requests, &has_n, e)) ||
        (rc = rk_json_get_num(params, path, "duration_s", RK_OPTIONAL, 1e-3, 86400, &o->duration_s,
                              &has_d, e)))
        return rc;
    if (has_n && has_d) {
        char p[RK_PATH_MAX];
        rk_path_key(p, path, "duration_s");
        return rk_verr_set(e, p, "not with num_requests: give one stage length");
    }
    if ((rc = rk_json_get_int(params, path, "warmup_requests", RK_OPTIONAL, 0, 100000,
                              &o->warmup_requests, NULL, e)) ||
        (rc = rk_json_get_int(params, path, "max_tokens", RK_OPTIONAL, 1, RK_LLM_TOKENS_MAX,
                              &o->max_tokens, NULL, e)) ||
        (rc = rk_json_get_num(params, path, "temperature", RK_OPTIONAL, 0, 2, &o->temperature,
                              &o->has_temperature, e)) ||
        (rc = rk_json_get_int(params, path, "seed", RK_OPTIONAL, INT32_MIN, INT64_MAX / 2, &o->seed,
                              &o->has_seed, e)) ||
        (rc = rk_json_get_bool(params, path, "ignore_eos", RK_OPTIONAL, &o->ignore_eos, NULL, e)))
        return rc;
    return decode_slo(params, path, o, e);
}

int rk_llm_params_decode(const json_t *params, const char *path, rk_llm_params_t *out, rk_verr_t *e)
{
    memset(out, 0, sizeof *out);
    json_t *srv = NULL;
    char sp[RK_PATH_MAX];
    rk_path_key(sp, path, "server");
    int rc = rk_json_get_obj(params, path, "server", RK_OPTIONAL, &srv, e);
    if (!rc)
        rc = decode_endpoint(params, path, srv != NULL, out, e);
    if (!rc && srv)
        rc = decode_server(srv, sp, out, e);
    if (!rc)
        rc = decode_workload(params, path, out, e);
    if (!rc)
        rc = decode_load(params, path, out, e);
    if (!rc)
        rc = decode_sampling(params, path, out, e);
    json_decref(srv);
    if (rc)
        rk_llm_params_cleanup(out);
    return rc;
}

void rk_llm_params_cleanup(rk_llm_params_t *p)
{
    free(p->base_url);
    free(p->model);
    rk_strv_free(p->server_argv, p->server_argc);
    rk_strv_free(p->server_env, p->n_server_env);
    free(p->ready_path);
    for (size_t i = 0; i < p->n_prompts; i++)
        rk_llm_prompt_cleanup(&p->prompts[i]);
    free(p->prompts);
    free(p->dataset_path);
    free(p->concurrency);
    free(p->request_rate);
    memset(p, 0, sizeof *p);
}
