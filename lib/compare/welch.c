#include "compare/welch.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <string.h>

/* Mean and sample standard deviation of the finite values; returns their
 * count and puts the number left out in *invalid. Two passes, for accuracy
 * with values far from zero. */
static size_t moments(const double *v, size_t n, double *mean, double *std, size_t *invalid)
{
    size_t k = 0;
    double sum = 0;
    *invalid = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            sum += v[i];
            k++;
        } else {
            (*invalid)++;
        }
    }
    *mean = k ? sum / (double)k : NAN;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            ss += (v[i] - *mean) * (v[i] - *mean);
    *std = k > 1 ? sqrt(ss / (double)(k - 1)) : (k == 1 ? 0 : NAN);
    return k;
}

void rk_welch(const double *a, size_t na, const double *b, size_t nb, rk_direction_t dir,
              double min_delta, rk_welch_t *out)
{
    memset(out, 0, sizeof *out);
    out->direction = dir;
    out->verdict = RK_VERDICT_INCONCLUSIVE;
    out->a_n = moments(a, na, &out->a_mean, &out->a_std, &out->a_invalid);
    out->b_n = moments(b, nb, &out->b_mean, &out->b_std, &out->b_invalid);
    out->t = out->df = out->p = NAN;
    out->ci95_low = out->ci95_high = NAN;
    out->diff = out->b_mean - out->a_mean;
    out->ratio = out->a_mean != 0 ? out->b_mean / out->a_mean : NAN;
    if (out->a_n < 2 || out->b_n < 2 || !isfinite(out->diff))
        return;
    double va = out->a_std * out->a_std / (double)out->a_n;
    double vb = out->b_std * out->b_std / (double)out->b_n;
    double se = sqrt(va + vb);
    if (se == 0) {
        out->p = out->diff == 0 ? 1.0 : 0.0;
        out->ci95_low = out->ci95_high = out->diff;
        out->df = (double)(out->a_n + out->b_n - 2);
        out->t = out->diff == 0 ? 0 : copysign(INFINITY, out->diff);
    } else {
        out->t = out->diff / se;
        out->df = (va + vb) * (va + vb) /
                  (va * va / (double)(out->a_n - 1) + vb * vb / (double)(out->b_n - 1));
        out->p = 2.0 * gsl_cdf_tdist_Q(fabs(out->t), out->df);
        if (out->p > 1)
            out->p = 1;
        double tcrit = gsl_cdf_tdist_Qinv(0.025, out->df);
        out->ci95_low = out->diff - tcrit * se;
        out->ci95_high = out->diff + tcrit * se;
    }
    bool significant = out->p < 0.05;
    bool big = fabs(out->diff) > min_delta * fabs(out->a_mean);
    if (!significant || !big) {
        out->verdict = RK_VERDICT_SAME;
    } else if (dir != RK_DIR_UNKNOWN) {
        bool b_higher = out->diff > 0;
        out->verdict = b_higher == (dir == RK_DIR_HIGHER) ? RK_VERDICT_FASTER : RK_VERDICT_SLOWER;
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

rk_direction_t rk_metric_direction(const char *name)
{
    /* Rates first: "_gb_s" also ends in "_s". */
    static const char *const higher[] = {
        "_gb_s",       "_mb_s",   "_kb_s",   "_b_s",   "_per_s",         "_per_sec",
        "_per_second", "_gflops", "_tflops", "_flops", "_ops_s",         "_iops",
        "_rps",        "_qps",    "_hz",     "_score", "_tokens_per_sec"};
    static const char *const lower[] = {"_s",   "_ms",  "_us",    "_ns", "_seconds", "_kib",
                                        "_mib", "_gib", "_bytes", "_kb", "_mb"};
    for (size_t i = 0; i < sizeof higher / sizeof *higher; i++)
        if (ends_with(name, higher[i]))
            return RK_DIR_HIGHER;
    for (size_t i = 0; i < sizeof lower / sizeof *lower; i++)
        if (ends_with(name, lower[i]))
            return RK_DIR_LOWER;
    return RK_DIR_UNKNOWN;
}

const char *rk_verdict_name(rk_verdict_t v)
{
    switch (v) {
    case RK_VERDICT_SAME:
        return "same";
    case RK_VERDICT_FASTER:
        return "faster";
    case RK_VERDICT_SLOWER:
        return "slower";
    case RK_VERDICT_INCONCLUSIVE:
        break;
    }
    return "inconclusive";
}
