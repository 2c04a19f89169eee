/* Building a run's requests (workload.h). */
#include "llm/workload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* Words a synthetic prompt is made of: common English words, each one
 * token in the usual BPE vocabularies, so input_tokens words come close
 * to input_tokens tokens. */
static const char *const words[] = {
    "the",   "time",   "people", "way",    "day",   "man",     "thing",   "woman", "life", "child",
    "world", "school", "state",  "family", "group", "country", "problem", "hand",  "part", "place"};

static int add_request(rk_llm_workload_t *w, const rk_llm_params_t *p,
                       const rk_llm_target_http_t *t, json_t *body, const char *reference)
{
    json_object_set_new(body, "model", json_string(p->model));
    json_object_set_new(body, "stream", json_true());
    json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
    if (p->has_temperature)
        json_object_set_new(body, "temperature", json_real(p->temperature));
    if (p->has_seed)
        json_object_set_new(body, "seed", json_integer(p->seed));
    if (p->ignore_eos)
        json_object_set_new(body, "ignore_eos", json_true());
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return RK_ENOMEM;
    rk_llm_request_t *r = &w->reqs[w->n];
    char auth[1024] = "";
    if (t->api_key)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", t->api_key);
    int n = asprintf(&r->bytes,
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Accept: text/event-stream\r\nConnection: close\r\n%sContent-Length: %zu\r\n"
                     "\r\n%s",
                     t->path, t->host, auth, strlen(text), text);
    free(text);
    if (n < 0) {
        r->bytes = NULL;
        return RK_ENOMEM;
    }
    r->len = (size_t)n;
    w->n++; /* from here on cleanup frees it */
    if (reference && !(r->reference = strdup(reference)))
        return RK_ENOMEM;
    w->has_references = w->has_references || reference;
    return 0;
}

static int add_prompt(rk_llm_workload_t *w, const rk_llm_params_t *p, const rk_llm_target_http_t *t,
                      const rk_llm_prompt_t *pr)
{
    json_t *body = json_object();
    if (!body)
        return RK_ENOMEM;
    int64_t max_tokens = pr->max_tokens ? pr->max_tokens : p->max_tokens;
    json_object_set_new(body, "max_tokens", json_integer(max_tokens));
    if (p->api == RK_LLM_API_CHAT) {
        json_t *msgs = pr->messages
                           ? json_incref(pr->messages)
                           : json_pack("[{s:s, s:s}]", "role", "user", "content", pr->prompt);
        json_object_set_new(body, "messages", msgs);
    } else {
        json_object_set_new(body, "prompt", json_string(pr->prompt));
    }
    int rc = add_request(w, p, t, body, pr->reference);
    json_decref(body);
    return rc;
}

static int add_synthetic(rk_llm_workload_t *w, const rk_llm_params_t *p,
                         const rk_llm_target_http_t *t, size_t i)
{
    size_t nw = sizeof words / sizeof *words;
    char *text = malloc((size_t)p->synthetic_input_tokens * 8 + 32);
    if (!text)
        return RK_ENOMEM;
    /* Each prompt starts with its own number, so a prefix cache cannot
     * serve one prompt from another. */
    size_t len = (size_t)sprintf(text, "%zu", i);
    for (int64_t k = 1; k < p->synthetic_input_tokens; k++)
        len += (size_t)sprintf(text + len, " %s", words[(i * 7 + (size_t)k) % nw]);
    rk_llm_prompt_t pr = {.prompt = text, .max_tokens = p->synthetic_output_tokens};
    int rc = RK_ENOMEM;
    if (p->api == RK_LLM_API_CHAT) {
        pr.messages = json_pack("[{s:s, s:s}]", "role", "user", "content", text);
        pr.prompt = NULL;
        if (pr.messages)
            rc = add_prompt(w, p, t, &pr);
        json_decref(pr.messages);
    } else {
        rc = add_prompt(w, p, t, &pr);
    }
    free(text);
    return rc;
}

static int grow(rk_llm_workload_t *w, size_t *cap)
{
    if (w->n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    rk_llm_request_t *r = realloc(w->reqs, nc * sizeof *r);
    if (!r)
        return RK_ENOMEM;
    memset(r + *cap, 0, (nc - *cap) * sizeof *r);
    w->reqs = r;
    *cap = nc;
    return 0;
}

/* One JSONL prompt object per line; blank lines are skipped. */
static int load_dataset(rk_llm_workload_t *w, const rk_llm_params_t *p,
                        const rk_llm_target_http_t *t, size_t *cap, char *err, size_t errlen)
{
    FILE *f = fopen(p->dataset_path, "re");
    if (!f) {
        snprintf(err, errlen, "dataset_path: cannot open %s: %s", p->dataset_path, strerror(errno));
        return RK_EINVAL;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int rc = 0;
    for (size_t lineno = 1; !rc && (n = getline(&line, &lcap, f)) >= 0; lineno++) {
        size_t s = strspn(line, " \t\r\n");
        if ((size_t)n == s)
            continue;
        if (w->n >= RK_LLM_PROMPTS_MAX) {
            snprintf(err, errlen, "dataset_path line %zu: more than %d prompts", lineno,
                     RK_LLM_PROMPTS_MAX);
            rc = RK_EINVAL;
            break;
        }
        json_error_t je;
        json_t *v = json_loadb(line, (size_t)n, 0, &je);
        rk_llm_prompt_t pr = {0};
        rk_verr_t e = {{0}};
        char path[64];
        snprintf(path, sizeof path, "dataset_path line %zu", lineno);
        if (!v) {
            snprintf(err, errlen, "%s: not JSON: %s", path, je.text);
            rc = RK_EINVAL;
        } else if ((rc = rk_llm_prompt_decode(v, path, p->api, &pr, &e))) {
            snprintf(err, errlen, "%s", e.msg);
        } else if (!(rc = grow(w, cap))) {
            rc = add_prompt(w, p, t, &pr);
        }
        rk_llm_prompt_cleanup(&pr);
        json_decref(v);
    }
    free(line);
    fclose(f);
    if (!rc && w->n == 0) {
        snprintf(err, errlen, "dataset_path: %s holds no prompts", p->dataset_path);
        rc = RK_EINVAL;
    }
    return rc;
}

int rk_llm_workload_build(const rk_llm_params_t *p, const rk_llm_target_http_t *t,
                          rk_llm_workload_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    int rc = 0;
    if (p->dataset_path)
        return load_dataset(out, p, t, &cap, err, errlen);
    size_t n = p->synthetic ? (size_t)p->synthetic_count : p->n_prompts;
    for (size_t i = 0; !rc && i < n; i++) {
        if (!(rc = grow(out, &cap)))
            rc = p->synthetic ? add_synthetic(out, p, t, i) : add_prompt(out, p, t, &p->prompts[i]);
    }
    if (rc)
        snprintf(err, errlen, "cannot build the requests: %s", rk_strerror(rc));
    return rc;
}

void rk_llm_workload_cleanup(rk_llm_workload_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->reqs[i].bytes);
        free(w->reqs[i].reference);
    }
    free(w->reqs);
    memset(w, 0, sizeof *w);
}
