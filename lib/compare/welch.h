/* Comparing two sets of measurements of one metric: Welch's t-test, the
 * difference with its 95 % confidence interval, and a verdict.
 *
 * a is the reference (a baseline, machine A); b is compared with it, so
 * diff = mean(b) - mean(a), ratio = mean(b) / mean(a), and the verdict says
 * whether b is better ("faster") or worse ("slower") than a, "same", or
 * "inconclusive":
 *   - faster/slower: p < 0.05 and |diff| > min_delta * |mean(a)|, in the
 *     metric's better direction;
 *   - same: otherwise, when the test could be made: the data show no
 *     difference (p >= 0.05: under no change that is 95 % of comparisons)
 *     or only one smaller than min_delta;
 *   - inconclusive: a side has fewer than 2 finite values (no variance, so
 *     no test: p and the interval are NaN), or a real and large difference
 *     in a metric whose better direction is unknown.
 * The interval says how large a difference the data cannot rule out; a
 * reader who wants "same" to mean "proved within min_delta" checks that it
 * lies inside +-min_delta * |mean(a)|.
 * Non-finite values are left out and counted, never used. Two sides with
 * zero variance are certain: p = 0 when the means differ, 1 when not.
 * The t distribution comes from GSL (gsl_cdf_tdist_Q, gsl_cdf_tdist_Qinv).
 * Pure computation: no I/O, no allocation.
 */
#ifndef RK_COMPARE_WELCH_H
#define RK_COMPARE_WELCH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum rk_verdict {
    RK_VERDICT_INCONCLUSIVE = 0,
    RK_VERDICT_SAME,
    RK_VERDICT_FASTER,
    RK_VERDICT_SLOWER,
} rk_verdict_t;

/* Which way is better for a metric. */
typedef enum rk_direction {
    RK_DIR_UNKNOWN = -1,
    RK_DIR_LOWER = 0,  /* times, sizes: less is better */
    RK_DIR_HIGHER = 1, /* rates, bandwidths, FLOPS: more is better */
} rk_direction_t;

typedef struct rk_welch {
    size_t a_n, b_n;             /* finite values used */
    size_t a_invalid, b_invalid; /* non-finite values left out */
    double a_mean, b_mean, a_std, b_std;
    double diff, ratio;         /* ratio NaN when mean(a) is 0 */
    double t, df, p;            /* NaN when not tested */
    double ci95_low, ci95_high; /* of diff; NaN when not tested */
    rk_direction_t direction;
    rk_verdict_t verdict;
} rk_welch_t;

/* Compares b with a (see above). min_delta is a fraction (0.02 = 2 %),
 * 0 <= min_delta < 1e6. Always fills *out. */
void rk_welch(const double *a, size_t na, const double *b, size_t nb, rk_direction_t dir,
              double min_delta, rk_welch_t *out);

/* The direction a metric's name implies by its unit suffix (protocol.md:
 * the unit comes last): _gb_s, _mb_s, _per_s, _per_sec, _gflops, _tflops,
 * _ops_s, _iops, _rps, _qps, _hz, _score are higher-is-better; _s, _ms,
 * _us, _ns, _seconds, _kib, _mib, _gib, _bytes are lower-is-better;
 * anything else is unknown. */
rk_direction_t rk_metric_direction(const char *name);

/* "faster", "slower", "same", "inconclusive". */
const char *rk_verdict_name(rk_verdict_t v);

#endif
