/* Stage metrics from raw samples (metrics.h). */
#include "llm/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "llm/rouge.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double rk_llm_percentile(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * (pos - (double)lo);
}

double rk_llm_stage_seconds(const rk_llm_stage_t *st)
{
    return st->t_end > st->t_begin ? (double)(st->t_end - st->t_begin) / 1e9 : 0;
}

typedef struct series {
    double *v;
    size_t n;
} series_t;

static void set(json_t *o, const char *stage, const char *what, double v)
{
    char k[96];
    snprintf(k, sizeof k, "%s_%s", stage, what);
    json_object_set_new(o, k, json_real(v));
}

static void set_int(json_t *o, const char *stage, const char *what, int64_t v)
{
    char k[96];
    snprintf(k, sizeof k, "%s_%s", stage, what);
    json_object_set_new(o, k, json_integer(v));
}

/* <stage>_<name>_{mean,p50,p90,p99}_ms; nothing when there are no values. */
static void stats(json_t *o, const char *stage, const char *name, series_t *s)
{
    if (s->n == 0)
        return;
    qsort(s->v, s->n, sizeof *s->v, cmp);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}};
    char what[64];
    snprintf(what, sizeof what, "%s_mean_ms", name);
    set(o, stage, what, sum / (double)s->n);
    for (size_t i = 0; i < 3; i++) {
        snprintf(what, sizeof what, "%s_%s_ms", name, qs[i].name);
        set(o, stage, what, rk_llm_percentile(s->v, s->n, qs[i].q));
    }
}

static bool meets(const rk_llm_slo_t *slo, double ttft, double tpot, double e2e)
{
    return (!slo->ttft_ms || ttft <= slo->ttft_ms) && (!slo->tpot_ms || tpot <= slo->tpot_ms) &&
           (!slo->e2e_ms || e2e <= slo->e2e_ms);
}

typedef struct quality {
    double r1, r2, rl, exact;
    size_t n;
} quality_t;

static int score(const rk_llm_sample_t *s, const char *ref, quality_t *q)
{
    rk_llm_rouge_t r;
    int rc = rk_llm_rouge(s->text ? s->text : "", ref, &r);
    if (rc)
        return rc;
    q->r1 += r.r1;
    q->r2 += r.r2;
    q->rl += r.rl;
    q->exact += rk_llm_exact_match(s->text ? s->text : "", ref);
    q->n++;
    return 0;
}

int rk_llm_metrics_stage(const rk_llm_stage_t *st, const rk_llm_workload_t *w,
                         const rk_llm_slo_t *slo, json_t *out)
{
    size_t n_itl = 0;
    for (size_t i = 0; i < st->n; i++)
        if (st->samples[i]->fail == RK_LLM_FAIL_NONE && st->samples[i]->n_chunks > 1)
            n_itl += st->samples[i]->n_chunks - 1;
    series_t ttft = {calloc(st->n + 1, sizeof(double)), 0};
    series_t tpot = {calloc(st->n + 1, sizeof(double)), 0};
    series_t e2e = {calloc(st->n + 1, sizeof(double)), 0};
    series_t itl = {calloc(n_itl + 1, sizeof(double)), 0};
    int rc = RK_ENOMEM;
    if (!ttft.v || !tpot.v || !e2e.v || !itl.v)
        goto out;
    int64_t ok = 0, good = 0, out_tok = 0, in_tok = 0, by_usage = 0;
    int64_t failed[RK_LLM_FAIL_COUNT] = {0};
    quality_t q = {0};
    for (size_t i = 0; i < st->n; i++) {
        const rk_llm_sample_t *s = st->samples[i];
        if (s->fail != RK_LLM_FAIL_NONE) {
            failed[s->fail]++;
            continue;
        }
        ok++;
        out_tok += s->output_tokens;
        in_tok += s->input_tokens;
        by_usage += s->usage;
        double e = (double)(s->t_end - s->t_sent) / 1e6, t = 0, tp = 0;
        e2e.v[e2e.n++] = e;
        if (s->t_first_token) {
            t = (double)(s->t_first_token - s->t_sent) / 1e6;
            ttft.v[ttft.n++] = t;
        }
        if (s->t_first_token && s->output_tokens > 1) {
            tp = (e - t) / (double)(s->output_tokens - 1);
            tpot.v[tpot.n++] = tp;
        }
        for (size_t k = 1; k < s->n_chunks; k++)
            itl.v[itl.n++] = (double)(s->chunk_t[k] - s->chunk_t[k - 1]) / 1e6;
        good += meets(slo, t, tp, e);
        const char *ref = w->reqs[s->prompt_index].reference;
        if (ref && (rc = score(s, ref, &q)))
            goto out;
    }
    const char *stage = st->name;
    double secs = rk_llm_stage_seconds(st);
    double per = secs > 0 ? 1 / secs : 0;
    stats(out, stage, "ttft", &ttft);
    stats(out, stage, "tpot", &tpot);
    stats(out, stage, "itl", &itl);
    stats(out, stage, "e2e", &e2e);
    set(out, stage, "duration_s", secs);
    set(out, stage, "req_per_s", (double)ok * per);
    set(out, stage, "output_tok_per_s", (double)out_tok * per);
    set(out, stage, "total_tok_per_s", (double)(out_tok + in_tok) * per);
    set(out, stage, "goodput_req_per_s", (double)good * per);
    set_int(out, stage, "requests_ok", ok);
    set_int(out, stage, "requests_failed", (int64_t)st->n - ok);
    for (int f = 1; f < RK_LLM_FAIL_COUNT; f++) {
        char what[64];
        snprintf(what, sizeof what, "failed_%s", rk_llm_fail_name((rk_llm_fail_t)f));
        if (failed[f])
            set_int(out, stage, what, failed[f]);
    }
    set_int(out, stage, "output_tokens", out_tok);
    set_int(out, stage, "input_tokens", in_tok);
    char k[96];
    snprintf(k, sizeof k, "%s_token_source", stage);
    json_object_set_new(out, k,
                        json_string(by_usage == ok  ? "usage"
                                    : by_usage == 0 ? "chunks"
                                                    : "mixed"));
    if (q.n) {
        set(out, stage, "rouge1_f1", q.r1 / (double)q.n);
        set(out, stage, "rouge2_f1", q.r2 / (double)q.n);
        set(out, stage, "rougel_f1", q.rl / (double)q.n);
        set(out, stage, "exact_match", q.exact / (double)q.n);
    }
    rc = 0;
out:
    free(ttft.v);
    free(tpot.v);
    free(e2e.v);
    free(itl.v);
    return rc;
}
