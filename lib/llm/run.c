/* One llm_generation run (run.h). */
#include "llm/run.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "llm/client.h"
#include "llm/gpu.h"
#include "llm/metrics.h"
#include "llm/server.h"
#include "llm/stage.h"
#include "llm/workload.h"

typedef struct url {
    char host[256]; /* as in the Host header, with the port */
    char name[256]; /* for getaddrinfo */
    char port[8];
    char path[1024]; /* the request path */
} url_t;

/* Splits "http://host[:port][/prefix]" and makes the request path: the
 * prefix, "/v1" unless it already ends so, and the API's route. */
static int parse_url(const char *u, rk_llm_api_t api, url_t *o, char *err, size_t errlen)
{
    const char *h = u + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof o->host) {
        snprintf(err, errlen, "endpoint.base_url: no host in %s", u);
        return RK_EINVAL;
    }
    memcpy(o->host, h, hl);
    o->host[hl] = '\0';
    const char *colon = o->host[0] == '[' ? strstr(o->host, "]:") : strrchr(o->host, ':');
    if (colon && o->host[0] == '[')
        colon++;
    size_t nl = colon ? (size_t)(colon - o->host) : hl;
    snprintf(o->port, sizeof o->port, "%s", colon ? colon + 1 : "80");
    if (o->host[0] == '[') /* [::1] */
        snprintf(o->name, sizeof o->name, "%.*s", (int)(nl - 2), o->host + 1);
    else
        snprintf(o->name, sizeof o->name, "%.*s", (int)nl, o->host);
    char prefix[512] = "";
    if (slash)
        snprintf(prefix, sizeof prefix, "%s", slash);
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/')
        prefix[--pl] = '\0';
    bool v1 = pl >= 3 && strcmp(prefix + pl - 3, "/v1") == 0;
    snprintf(o->path, sizeof o->path, "%s%s%s", prefix, v1 ? "" : "/v1",
             api == RK_LLM_API_CHAT ? "/chat/completions" : "/completions");
    return 0;
}

static int resolve(const url_t *u, struct sockaddr_storage *ss, socklen_t *len, char *err,
                   size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(u->name, u->port, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(err, errlen, "endpoint.base_url: cannot resolve %s: %s", u->name, gai_strerror(g));
        return RK_ECONN;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static void write_jsonl(FILE *f, const rk_llm_stage_t *st)
{
    for (size_t i = 0; i < st->n; i++) {
        const rk_llm_sample_t *s = st->samples[i];
        json_t *chunks = json_array();
        for (size_t k = 0; k < s->n_chunks; k++)
            json_array_append_new(chunks, json_integer((s->chunk_t[k] - s->t_sent) / 1000));
        /* Times in microseconds: absolute ones on the monotonic clock,
         * chunk_us relative to t_sent. */
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:s, s:s*, s:s*}",
            "stage", st->name, "request", (json_int_t)i, "prompt_index",
            (json_int_t)s->prompt_index, "outcome", rk_llm_fail_name(s->fail), "status", s->status,
            "t_start_us", (json_int_t)(s->t_start / 1000), "t_sent_us",
            (json_int_t)(s->t_sent / 1000), "t_first_byte_us", (json_int_t)(s->t_first_byte / 1000),
            "t_first_token_us", (json_int_t)(s->t_first_token / 1000), "t_end_us",
            (json_int_t)(s->t_end / 1000), "chunk_us", chunks, "output_tokens",
            (json_int_t)s->output_tokens, "input_tokens", (json_int_t)s->input_tokens,
            "token_source", s->usage ? "usage" : "chunks", "error", s->error, "text", s->text);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (line)
            fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    }
}

static void progress(double frac)
{
    const char *p = getenv("RUCKUS_PROGRESS_FILE");
    FILE *f = p ? fopen(p, "we") : NULL;
    if (f) {
        fprintf(f, "%.3f\n", frac);
        fclose(f);
    }
}

typedef struct run {
    const rk_llm_params_t *p;
    url_t url;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    rk_llm_workload_t w;
    rk_llm_client_t *c;
    rk_llm_server_t server;
    FILE *jsonl;
    rk_llm_gpu_t *gpu; /* NULL: no NVIDIA GPU to sample */
    size_t total, failed;
    char first_error[512];
} run_t;

/* Warm-up requests at the first level's concurrency (1 for rates), not
 * recorded. */
static int warmup(run_t *r)
{
    const rk_llm_params_t *p = r->p;
    if (p->warmup_requests == 0)
        return 0;
    rk_llm_stage_t st = {.concurrency = p->n_concurrency ? p->concurrency[0] : 1};
    int rc = rk_llm_stage_run(r->c, &r->w, p->warmup_requests, 0, 0, &st);
    rk_llm_stage_cleanup(&st);
    fprintf(stderr, "llm: %lld warm-up requests done\n", (long long)p->warmup_requests);
    return rc;
}

static int stages(run_t *r, json_t *m)
{
    const rk_llm_params_t *p = r->p;
    rk_llm_slo_t slo = {p->slo_ttft_ms, p->slo_tpot_ms, p->slo_e2e_ms};
    size_t n = p->n_concurrency ? p->n_concurrency : p->n_request_rate;
    double best = 0, total_s = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rk_llm_stage_t st = {0};
        if (p->n_concurrency) {
            st.concurrency = p->concurrency[i];
        } else {
            st.rate = p->request_rate[i];
            st.burstiness = p->burstiness;
        }
        uint64_t seed = (uint64_t)(p->has_seed ? p->seed : 0) * 1000003u + i;
        /* The GPU is sampled while the stage's requests run; a sampler
         * that cannot start leaves the stage without GPU figures. */
        bool sampling = r->gpu && rk_llm_gpu_start(r->gpu, RK_LLM_GPU_PERIOD_MS) == 0;
        rc = rk_llm_stage_run(r->c, &r->w, p->num_requests, p->duration_s, seed, &st);
        rk_llm_gpu_acc_t gpu = {0};
        if (sampling)
            rk_llm_gpu_stop(r->gpu, &gpu);
        if (!rc)
            rc = rk_llm_metrics_stage(&st, &r->w, &slo, m);
        if (!rc && sampling) {
            char k[96];
            snprintf(k, sizeof k, "%s_output_tokens", st.name);
            rc = rk_llm_gpu_acc_report(&gpu, st.name, json_number_value(json_object_get(m, k)), m);
        }
        if (!rc) {
            char k[96];
            snprintf(k, sizeof k, "%s_output_tok_per_s", st.name);
            double t = json_number_value(json_object_get(m, k));
            best = t > best ? t : best;
            total_s += rk_llm_stage_seconds(&st);
            if (r->jsonl)
                write_jsonl(r->jsonl, &st);
            for (size_t k2 = 0; k2 < st.n; k2++) {
                const rk_llm_sample_t *s = st.samples[k2];
                r->total++;
                if (s->fail != RK_LLM_FAIL_NONE && r->failed++ == 0)
                    snprintf(r->first_error, sizeof r->first_error, "%s: %s",
                             rk_llm_fail_name(s->fail), s->error ? s->error : "");
            }
            fprintf(stderr, "llm: stage %s: %zu requests in %.3f s\n", st.name, st.n,
                    rk_llm_stage_seconds(&st));
            progress((double)(i + 1) / (double)n);
        }
        rk_llm_stage_cleanup(&st);
    }
    json_object_set_new(m, "throughput_tokens_per_sec", json_real(best));
    json_object_set_new(m, "inference_time_seconds", json_real(total_s));
    return rc;
}

/* The target: {port} filled in, the URL split and resolved, the requests
 * built (with the API key from the agent's environment). */
static int prepare(run_t *r, int port, char *err, size_t errlen)
{
    const rk_llm_params_t *p = r->p;
    char *url = rk_llm_subst(p->base_url, port, NULL);
    if (!url)
        return RK_ENOMEM;
    int rc = parse_url(url, p->api, &r->url, err, errlen);
    free(url);
    if (!rc)
        rc = resolve(&r->url, &r->addr, &r->addrlen, err, errlen);
    const char *kv = getenv(RK_LLM_API_KEY_ENV);
    const char *key = kv && *kv ? getenv(kv) : NULL;
    rk_llm_target_http_t t = {r->url.host, r->url.path, key && *key ? key : NULL};
    if (!rc)
        rc = rk_llm_workload_build(p, &t, &r->w, err, errlen);
    return rc;
}

static int start_server(run_t *r, int port, char *err, size_t errlen)
{
    const rk_llm_params_t *p = r->p;
    /* The agent's models dir (RUCKUS_MODELS_DIR), so one spec finds its
     * model file on every agent. */
    const char *models = getenv("RUCKUS_MODELS_DIR");
    char **argv = calloc(p->server_argc + 1, sizeof *argv);
    char **env = calloc(p->n_server_env + 1, sizeof *env);
    int rc = argv && env ? 0 : RK_ENOMEM;
    for (size_t i = 0; !rc && i < p->server_argc; i++)
        if (!(argv[i] = rk_llm_subst(p->server_argv[i], port, models)))
            rc = RK_ENOMEM;
    for (size_t i = 0; !rc && i < p->n_server_env; i++)
        if (!(env[i] = rk_llm_subst(p->server_env[i], port, models)))
            rc = RK_ENOMEM;
    if (!rc)
        rc = rk_llm_server_start(argv, env, p->n_server_env, &r->server, err, errlen);
    if (!rc)
        rc = rk_llm_server_wait_ready(&r->server, (struct sockaddr *)&r->addr, r->addrlen,
                                      r->url.host, p->ready_path, p->ready_timeout_s, err, errlen);
    for (size_t i = 0; argv && i < p->server_argc; i++)
        free(argv[i]);
    /* putenv keeps env's strings in the server's environment only: its own
     * copy of our memory. */
    for (size_t i = 0; env && i < p->n_server_env; i++)
        free(env[i]);
    free(argv);
    free(env);
    return rc;
}

int rk_llm_run(const rk_llm_params_t *p, const char *out_dir, json_t **metrics, char *err,
               size_t errlen)
{
    *metrics = NULL;
    err[0] = '\0';
    run_t r = {.p = p};
    int port = 0;
    if (p->server_argc)
        port = p->server_port ? (int)p->server_port : rk_llm_free_port();
    json_t *m = json_object();
    int rc = m ? prepare(&r, port, err, errlen) : RK_ENOMEM;
    if (!rc && p->server_argc)
        rc = start_server(&r, port, err, errlen);
    if (!rc && (rc = rk_llm_client_new((struct sockaddr *)&r.addr, r.addrlen, p->api, &r.c)))
        snprintf(err, errlen, "cannot make the client: %s", rk_strerror(rc));
    if (!rc && out_dir) {
        char path[4200];
        snprintf(path, sizeof path, "%s/requests.jsonl", out_dir);
        /* Appended: a job of several runs keeps every run's samples. */
        if (!(r.jsonl = fopen(path, "ae"))) {
            snprintf(err, errlen, "cannot write %s", path);
            rc = RK_EIO;
        }
    }
    /* No NVML or no device: no GPU figures, and no failure either. */
    if (!rc && rk_llm_gpu_open(&r.gpu) == 0)
        fprintf(stderr, "llm: sampling %u NVIDIA GPU%s during each stage\n",
                rk_llm_gpu_devices(r.gpu), rk_llm_gpu_devices(r.gpu) == 1 ? "" : "s");
    if (!rc)
        rc = warmup(&r);
    if (!rc)
        rc = stages(&r, m);
    if (rc && !err[0])
        snprintf(err, errlen, "%s", rk_strerror(rc));
    if (!rc && r.total && r.failed == r.total) {
        snprintf(err, errlen, "all %zu requests failed; the first: %s", r.total, r.first_error);
        rc = RK_EIO;
    }
    rk_llm_gpu_close(r.gpu);
    rk_llm_client_free(r.c);
    rk_llm_server_stop(&r.server, RK_LLM_SERVER_GRACE_MS);
    if (r.jsonl)
        fclose(r.jsonl);
    rk_llm_workload_cleanup(&r.w);
    if (rc)
        json_decref(m);
    else
        *metrics = m;
    return rc;
}
