#include "cli/metrics.h"

#include <stdlib.h>
#include <string.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

const char *rk_cli_metric_unit(const char *name)
{
    /* Longest first: "_gb_s" also ends in "_s". */
    static const char *const map[][2] = {
        {"_tokens_per_sec", "tokens/s"},
        /* llm_generation (docs/llm.md): tok/s, req/s, counts of tokens,
         * and the GPU sampled during a stage. */
        {"_tok_per_s", "tok/s"},
        {"_req_per_s", "req/s"},
        {"_tokens_per_joule", "tok/J"},
        {"_tokens", "tokens"},
        {"_pct", "%"},
        {"_w", "W"},
        {"_per_sec", "/s"},
        {"_per_s", "/s"},
        {"_gb_s", "GB/s"},
        {"_mb_s", "MB/s"},
        {"_gflops", "GFLOP/s"},
        {"_tflops", "TFLOP/s"},
        {"_seconds", "s"},
        {"_ms", "ms"},
        {"_us", "us"},
        {"_ns", "ns"},
        {"_s", "s"},
        {"_kib", "KiB"},
        {"_mib", "MiB"},
        {"_gib", "GiB"},
        {"_bytes", "bytes"},
        {"_share", "fraction"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (ends_with(name, map[i][0]))
            return map[i][1];
    return "";
}

bool rk_cli_metric_bookkeeping(const char *name)
{
    static const char *const exact[] = {
        "exit_status", "term_signal", "blas_threads", "blas_config", "unsupported_precisions",
        "converged",   "runs_used"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (!strcmp(name, exact[i]))
            return true;
    return ends_with(name, "_checksum") || !strcmp(name, "mem_checksum");
}

static bool listed(const json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!strcmp(json_string_value(v), name))
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *rk_cli_metric_order(const json_t *names, const char *filter, const json_t *spec_metrics,
                            bool all)
{
    json_t *out = json_array();
    if (!out)
        return NULL;
    if (filter) {
        for (const char *p = filter; *p;) {
            size_t len = strcspn(p, ",");
            char name[256];
            if (len < sizeof name) {
                memcpy(name, p, len);
                name[len] = '\0';
                if (listed(names, name) && !listed(out, name))
                    json_array_append_new(out, json_string(name));
            }
            p += len + (p[len] == ',');
        }
        return out;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)spec_metrics, k, v)
    {
        (void)v;
        if (listed(names, k))
            json_array_append_new(out, json_string(k));
    }
    size_t n = json_array_size(names), m = 0;
    const char **rest = calloc(n ? n : 1, sizeof *rest);
    if (!rest) {
        json_decref(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(names, i));
        if (s && !listed(out, s) && (all || !rk_cli_metric_bookkeeping(s)))
            rest[m++] = s;
    }
    qsort(rest, m, sizeof *rest, cmp_str);
    for (size_t i = 0; i < m; i++)
        json_array_append_new(out, json_string(rest[i]));
    free(rest);
    return out;
}
