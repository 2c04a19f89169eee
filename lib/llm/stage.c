/* Running one load stage (stage.h). */
#include "llm/stage.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void rk_llm_stage_name(rk_llm_stage_t *st)
{
    if (st->concurrency > 0) {
        snprintf(st->name, sizeof st->name, "c%lld", (long long)st->concurrency);
        return;
    }
    snprintf(st->name, sizeof st->name, "r%g", st->rate);
    for (char *p = st->name; *p; p++)
        if (*p == '.')
            *p = 'p';
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double uniform(uint64_t *s)
{
    return ((double)(splitmix(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
    return sqrt(-2 * log(uniform(s))) * cos(2 * M_PI * uniform(s));
}

/* Marsaglia and Tsang's method; shape < 1 through the boost
 * gamma(a) = gamma(a + 1) * U^(1/a). */
static double gamma_unit(uint64_t *s, double a)
{
    if (a < 1)
        return gamma_unit(s, a + 1) * pow(uniform(s), 1 / a);
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = normal(s), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = uniform(s);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

double rk_llm_gamma_interval(uint64_t *rng, double mean, double shape)
{
    return gamma_unit(rng, shape) * mean / shape;
}

typedef struct loop {
    rk_llm_stage_t *st;
    size_t ended;
} loop_t;

static void on_done(rk_llm_sample_t *s, void *ud)
{
    loop_t *l = ud;
    l->ended++;
    if (s->t_end > l->st->t_end)
        l->st->t_end = s->t_end;
}

static int start_one(rk_llm_client_t *c, const rk_llm_workload_t *w, rk_llm_stage_t *st,
                     size_t *cap)
{
    if (st->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        rk_llm_sample_t **p = realloc(st->samples, nc * sizeof *p);
        if (!p)
            return RK_ENOMEM;
        st->samples = p;
        *cap = nc;
    }
    rk_llm_sample_t *s = calloc(1, sizeof *s);
    if (!s)
        return RK_ENOMEM;
    s->prompt_index = st->n % w->n;
    const rk_llm_request_t *r = &w->reqs[s->prompt_index];
    int rc = rk_llm_client_start(c, r->bytes, r->len, s, r->reference != NULL);
    if (rc) {
        free(s);
        return rc;
    }
    if (!st->t_begin)
        st->t_begin = s->t_start;
    st->samples[st->n++] = s;
    return 0;
}

int rk_llm_stage_run(rk_llm_client_t *c, const rk_llm_workload_t *w, int64_t num_requests,
                     double duration_s, uint64_t seed, rk_llm_stage_t *st)
{
    rk_llm_stage_name(st);
    loop_t l = {.st = st};
    size_t cap = 0;
    int64_t t0 = rk_llm_now();
    int64_t stop = duration_s > 0 ? t0 + (int64_t)(duration_s * 1e9) : 0;
    size_t limit = duration_s > 0 ? SIZE_MAX : (size_t)num_requests;
    uint64_t rng = seed;
    int64_t next = t0; /* open loop: the next arrival */
    int rc = 0;
    for (;;) {
        int64_t now = rk_llm_now();
        bool more = st->n < limit && (!stop || now < stop);
        if (more && st->concurrency > 0) {
            while (!rc && more && rk_llm_client_open(c) < (size_t)st->concurrency) {
                rc = start_one(c, w, st, &cap);
                more = st->n < limit;
            }
        } else if (more && now >= next) {
            if ((rc = start_one(c, w, st, &cap)))
                break;
            next += (int64_t)rk_llm_gamma_interval(&rng, 1e9 / st->rate, st->burstiness);
            continue;
        }
        if (rc)
            break;
        if (!more && rk_llm_client_open(c) == 0)
            break;
        int64_t until = 0;
        if (more && st->concurrency == 0)
            until = stop && stop < next ? stop : next;
        else if (more && stop)
            until = stop;
        int n = rk_llm_client_poll(c, until, on_done, &l);
        if (n < 0) {
            rc = n;
            break;
        }
    }
    return rc;
}

void rk_llm_stage_cleanup(rk_llm_stage_t *st)
{
    for (size_t i = 0; i < st->n; i++) {
        rk_llm_sample_cleanup(st->samples[i]);
        free(st->samples[i]);
    }
    free(st->samples);
    st->samples = NULL;
    st->n = 0;
}
