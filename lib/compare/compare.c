#include "compare/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static int push(double **v, size_t *n, size_t *cap, double x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        double *p = realloc(*v, c * sizeof *p);
        if (!p)
            return RK_ENOMEM;
        *v = p;
        *cap = c;
    }
    (*v)[(*n)++] = x;
    return 0;
}

long rk_compare_values(const rk_result_t *r, const char *name, double **v, size_t *n, size_t *cap)
{
    for (size_t i = 0; i < r->n_stats; i++) {
        const rk_metric_stats_t *s = &r->stats[i];
        if (strcmp(s->name, name) != 0 || s->n_raw == 0)
            continue;
        for (size_t k = 0; k < s->n_raw; k++)
            if (push(v, n, cap, s->raw_values[k]))
                return RK_ENOMEM;
        return (long)s->n_raw;
    }
    json_t *m = json_object_get(r->metrics, name);
    if (!json_is_number(m))
        return 0;
    return push(v, n, cap, json_number_value(m)) ? RK_ENOMEM : 1;
}

rk_direction_t rk_compare_direction(const json_t *spec_metrics, const char *name)
{
    json_t *hib = json_object_get(json_object_get(spec_metrics, name), "higher_is_better");
    if (json_is_boolean(hib))
        return json_is_true(hib) ? RK_DIR_HIGHER : RK_DIR_LOWER;
    return rk_metric_direction(name);
}

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *rk_welch_to_json(const rk_welch_t *w)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "a_mean", num(w->a_mean));
    json_object_set_new(o, "b_mean", num(w->b_mean));
    json_object_set_new(o, "a_std", num(w->a_std));
    json_object_set_new(o, "b_std", num(w->b_std));
    json_object_set_new(o, "a_n", json_integer((json_int_t)w->a_n));
    json_object_set_new(o, "b_n", json_integer((json_int_t)w->b_n));
    json_object_set_new(o, "diff", num(w->diff));
    json_object_set_new(o, "ratio", num(w->ratio));
    json_object_set_new(o, "ci95_low", num(w->ci95_low));
    json_object_set_new(o, "ci95_high", num(w->ci95_high));
    json_object_set_new(o, "p_value", num(w->p));
    json_object_set_new(o, "verdict", json_string(rk_verdict_name(w->verdict)));
    json_object_set_new(
        o, "higher_is_better",
        w->direction == RK_DIR_UNKNOWN ? json_null() : json_boolean(w->direction == RK_DIR_HIGHER));
    if (w->a_invalid || w->b_invalid) {
        json_object_set_new(o, "a_invalid", json_integer((json_int_t)w->a_invalid));
        json_object_set_new(o, "b_invalid", json_integer((json_int_t)w->b_invalid));
    }
    return o;
}

/* Pools the values of name over results[0..n); *out malloc'd (may be NULL
 * with *len 0). */
static int pool(const rk_result_t *rs, size_t n, const char *name, double **out, size_t *len)
{
    size_t cap = 0;
    *out = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++)
        if (rk_compare_values(&rs[i], name, out, len, &cap) < 0)
            return RK_ENOMEM;
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The numeric metric names of the first result of a that b has too, sorted;
 * *names borrowed from a's JSON, malloc'd array. */
static int common_names(const rk_result_t *a, size_t na, const rk_result_t *b, size_t nb,
                        const char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    if (!na || !nb)
        return 0;
    size_t cap = json_object_size(a[0].metrics);
    if (!cap)
        return 0;
    const char **v = calloc(cap, sizeof *v);
    if (!v)
        return RK_ENOMEM;
    const char *k;
    json_t *x;
    json_object_foreach(a[0].metrics, k, x)
    {
        if (json_is_number(x) && json_is_number(json_object_get(b[0].metrics, k)))
            v[(*n)++] = k;
    }
    qsort(v, *n, sizeof *v, cmp_str);
    *names = v;
    return 0;
}

int rk_compare_build(const rk_result_t *a, size_t na, const rk_result_t *b, size_t nb,
                     const char *const *metrics, size_t nmetrics, const json_t *spec_metrics,
                     double min_delta, json_t **out, rk_verr_t *e)
{
    *out = NULL;
    const char **names = (const char **)metrics;
    size_t n = nmetrics;
    int rc = 0;
    if (!nmetrics && (rc = common_names(a, na, b, nb, &names, &n)))
        return rc;
    json_t *o = json_object();
    double *va = NULL, *vb = NULL;
    if (!o) {
        rc = RK_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size_t la, lb;
        free(va);
        free(vb);
        va = vb = NULL;
        if ((rc = pool(a, na, names[i], &va, &la)) || (rc = pool(b, nb, names[i], &vb, &lb)))
            goto done;
        if (!la || !lb) {
            rk_verr_set(e, "metric", "%s: no numeric value on side %s", names[i], la ? "b" : "a");
            rc = RK_ENOENT;
            goto done;
        }
        rk_welch_t w;
        rk_welch(va, la, vb, lb, rk_compare_direction(spec_metrics, names[i]), min_delta, &w);
        json_t *m = rk_welch_to_json(&w);
        if (!m || json_object_set_new(o, names[i], m)) {
            rc = RK_ENOMEM;
            goto done;
        }
    }
done:
    free(va);
    free(vb);
    if (names != (const char **)metrics)
        free(names);
    if (rc)
        json_decref(o);
    else
        *out = o;
    return rc;
}
