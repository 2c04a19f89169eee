#include "base/prom.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define MAX_COLLECTORS 16

typedef struct series {
    struct series *next; /* in its hash chain */
    struct series *all;  /* in creation order, for rendering */
    char *values[RK_PROM_MAX_LABELS];
    uint64_t hash;
    double value;                          /* counter, gauge; histogram sum */
    uint64_t count;                        /* histogram */
    uint64_t buckets[RK_PROM_MAX_BUCKETS]; /* histogram, not cumulative */
} series_t;

struct rk_prom_family {
    rk_prom_t *reg;
    rk_prom_family_t *next;
    char *name, *help;
    rk_prom_type_t type;
    char *labels[RK_PROM_MAX_LABELS];
    size_t n_labels;
    double bounds[RK_PROM_MAX_BUCKETS];
    size_t n_buckets;
    series_t *table[64];
    series_t *first, *last;
};

struct rk_prom {
    pthread_mutex_t mu;
    rk_prom_family_t *families, *tail;
    struct {
        rk_prom_collect_fn fn;
        void *ud;
    } collectors[MAX_COLLECTORS];
    size_t n_collectors;
};

rk_prom_t *rk_prom_new(void)
{
    rk_prom_t *r = calloc(1, sizeof *r);
    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void series_free_all(rk_prom_family_t *f)
{
    for (series_t *s = f->first, *n; s; s = n) {
        n = s->all;
        for (size_t i = 0; i < f->n_labels; i++)
            free(s->values[i]);
        free(s);
    }
    f->first = f->last = NULL;
    memset(f->table, 0, sizeof f->table);
}

void rk_prom_free(rk_prom_t *r)
{
    if (!r)
        return;
    for (rk_prom_family_t *f = r->families, *n; f; f = n) {
        n = f->next;
        series_free_all(f);
        for (size_t i = 0; i < f->n_labels; i++)
            free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f);
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':')))
            return false;
    }
    return true;
}

rk_prom_family_t *rk_prom_family(rk_prom_t *r, const char *name, const char *help,
                                 rk_prom_type_t type, const char *const *labels,
                                 const double *buckets, size_t n_buckets)
{
    size_t nl = 0;
    while (labels && labels[nl])
        if (!valid_name(labels[nl++], false) || nl > RK_PROM_MAX_LABELS)
            return NULL;
    if (!valid_name(name, true) || n_buckets > RK_PROM_MAX_BUCKETS ||
        (type == RK_PROM_HISTOGRAM) != (n_buckets > 0))
        return NULL;
    for (size_t i = 1; i < n_buckets; i++)
        if (!(buckets[i] > buckets[i - 1]))
            return NULL;
    rk_prom_family_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->reg = r;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    bool ok = f->name && f->help;
    for (size_t i = 0; i < nl; i++)
        ok = ok && (f->labels[f->n_labels++] = strdup(labels[i]));
    if (n_buckets)
        memcpy(f->bounds, buckets, n_buckets * sizeof *buckets);
    f->n_buckets = n_buckets;
    pthread_mutex_lock(&r->mu);
    for (rk_prom_family_t *g = r->families; ok && g; g = g->next)
        ok = strcmp(g->name, name) != 0;
    if (ok) {
        if (r->tail)
            r->tail->next = f;
        else
            r->families = f;
        r->tail = f;
    }
    pthread_mutex_unlock(&r->mu);
    if (!ok) {
        for (size_t i = 0; i < f->n_labels; i++)
            free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f);
        return NULL;
    }
    return f;
}

static uint64_t hash_values(const rk_prom_family_t *f, const char *const *values)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < f->n_labels; i++) {
        for (const char *p = values && values[i] ? values[i] : ""; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

/* The series for values, created when new. f->reg->mu held. */
static series_t *series_get(rk_prom_family_t *f, const char *const *values)
{
    uint64_t h = hash_values(f, values);
    series_t **slot = &f->table[h % 64];
    for (series_t *s = *slot; s; s = s->next) {
        if (s->hash != h)
            continue;
        size_t i = 0;
        while (i < f->n_labels && !strcmp(s->values[i], values && values[i] ? values[i] : ""))
            i++;
        if (i == f->n_labels)
            return s;
    }
    series_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (size_t i = 0; i < f->n_labels; i++) {
        if (!(s->values[i] = strdup(values && values[i] ? values[i] : ""))) {
            for (size_t k = 0; k < i; k++)
                free(s->values[k]);
            free(s);
            return NULL;
        }
    }
    s->hash = h;
    s->next = *slot;
    *slot = s;
    if (f->last)
        f->last->all = s;
    else
        f->first = s;
    f->last = s;
    return s;
}

void rk_prom_add(rk_prom_family_t *f, const char *const *values, double v)
{
    if (!f || (f->type == RK_PROM_COUNTER && !(v >= 0)) || f->type == RK_PROM_HISTOGRAM)
        return;
    pthread_mutex_lock(&f->reg->mu);
    series_t *s = series_get(f, values);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&f->reg->mu);
}

void rk_prom_set(rk_prom_family_t *f, const char *const *values, double v)
{
    if (!f || f->type != RK_PROM_GAUGE)
        return;
    pthread_mutex_lock(&f->reg->mu);
    series_t *s = series_get(f, values);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&f->reg->mu);
}

void rk_prom_observe(rk_prom_family_t *f, const char *const *values, double v)
{
    if (!f || f->type != RK_PROM_HISTOGRAM || isnan(v))
        return;
    pthread_mutex_lock(&f->reg->mu);
    series_t *s = series_get(f, values);
    if (s) {
        size_t b = 0;
        while (b < f->n_buckets && v > f->bounds[b])
            b++;
        if (b < f->n_buckets)
            s->buckets[b]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&f->reg->mu);
}

void rk_prom_reset(rk_prom_family_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->reg->mu);
    series_free_all(f);
    pthread_mutex_unlock(&f->reg->mu);
}

int rk_prom_collector(rk_prom_t *r, rk_prom_collect_fn fn, void *ud)
{
    pthread_mutex_lock(&r->mu);
    int rc = RK_ENOMEM;
    if (r->n_collectors < MAX_COLLECTORS) {
        r->collectors[r->n_collectors].fn = fn;
        r->collectors[r->n_collectors++].ud = ud;
        rc = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* A number as Prometheus reads it: integers plainly, +Inf/-Inf/NaN. */
static int put_num(rk_buf_t *out, double v)
{
    if (isnan(v))
        return rk_buf_adds(out, "NaN");
    if (isinf(v))
        return rk_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 9.007199254740992e15)
        return rk_buf_printf(out, "%.0f", v);
    /* The shortest form that reads back as the same double. */
    char tmp[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return rk_buf_adds(out, tmp);
}

static int put_escaped(rk_buf_t *out, const char *s, bool help)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        if (*s == '\\')
            rc = rk_buf_adds(out, "\\\\");
        else if (*s == '\n')
            rc = rk_buf_adds(out, "\\n");
        else if (*s == '"' && !help)
            rc = rk_buf_adds(out, "\\\"");
        else
            rc = rk_buf_add(out, s, 1);
    }
    return rc;
}

/* {a="x",b="y"[,le="..."]} or nothing. */
static int put_labels(rk_buf_t *out, const rk_prom_family_t *f, const series_t *s, const char *le)
{
    if (!f->n_labels && !le)
        return 0;
    int rc = rk_buf_adds(out, "{");
    for (size_t i = 0; i < f->n_labels && !rc; i++) {
        rc = rk_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        rc = rc ? rc : put_escaped(out, s->values[i], false);
        rc = rc ? rc : rk_buf_adds(out, "\"");
    }
    if (le && !rc)
        rc = rk_buf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    return rc ? rc : rk_buf_adds(out, "}");
}

static int render_family(const rk_prom_family_t *f, rk_buf_t *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    int rc = rk_buf_printf(out, "# HELP %s ", f->name);
    rc = rc ? rc : put_escaped(out, f->help, true);
    rc = rc ? rc : rk_buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
    for (const series_t *s = f->first; s && !rc; s = s->all) {
        if (f->type != RK_PROM_HISTOGRAM) {
            rc = rk_buf_adds(out, f->name);
            rc = rc ? rc : put_labels(out, f, s, NULL);
            rc = rc ? rc : rk_buf_adds(out, " ");
            rc = rc ? rc : put_num(out, s->value);
            rc = rc ? rc : rk_buf_adds(out, "\n");
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b <= f->n_buckets && !rc; b++) {
            char le[40];
            if (b < f->n_buckets) {
                cum += s->buckets[b];
                rk_buf_t tmp;
                rk_buf_init(&tmp, sizeof le);
                put_num(&tmp, f->bounds[b]);
                snprintf(le, sizeof le, "%s", rk_buf_str(&tmp));
                rk_buf_cleanup(&tmp);
            } else {
                cum = s->count;
                snprintf(le, sizeof le, "+Inf");
            }
            rc = rk_buf_printf(out, "%s_bucket", f->name);
            rc = rc ? rc : put_labels(out, f, s, le);
            rc = rc ? rc : rk_buf_printf(out, " %llu\n", (unsigned long long)cum);
        }
        rc = rc ? rc : rk_buf_printf(out, "%s_sum", f->name);
        rc = rc ? rc : put_labels(out, f, s, NULL);
        rc = rc ? rc : rk_buf_adds(out, " ");
        rc = rc ? rc : put_num(out, s->value);
        rc = rc ? rc : rk_buf_printf(out, "\n%s_count", f->name);
        rc = rc ? rc : put_labels(out, f, s, NULL);
        rc = rc ? rc : rk_buf_printf(out, " %llu\n", (unsigned long long)s->count);
    }
    return rc;
}

int rk_prom_render(rk_prom_t *r, rk_buf_t *out)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_collectors;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++)
        r->collectors[i].fn(r, r->collectors[i].ud);
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    for (const rk_prom_family_t *f = r->families; f && !rc; f = f->next)
        rc = render_family(f, out);
    pthread_mutex_unlock(&r->mu);
    return rc;
}
