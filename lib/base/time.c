#include "base/time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

rk_time_t rk_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (rk_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t rk_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since the epoch of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static void split(rk_time_t t, int *y, int *mo, int *d, int *h, int *mi, int *s, int64_t *us)
{
    int64_t secs = t / 1000000;
    int64_t frac = t % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    civil_from_days(days, y, mo, d);
    *h = (int)(rem / 3600);
    *mi = (int)(rem % 3600 / 60);
    *s = (int)(rem % 60);
    *us = frac;
}

/* v as n decimal digits (zero-padded) at p; the end. */
static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* "YYYY-MM-DDTHH:MM:SS.<frac>Z", frac in 3 digits (ms) or 6, written
 * digit by digit (listings and the agent's status format many times per
 * answer; vfprintf showed in the agent's status profile). Years outside
 * 0..9999 go through snprintf, as before.
 * The "% 1000000u" below changes nothing (split keeps us in range) but lets
 * gcc prove the field fits, so -Werror=format-truncation holds at -O0. */
static void format(rk_time_t t, char out[RK_TIME_STRLEN], bool ms)
{
    int y, mo, d, h, mi, s;
    int64_t us;
    split(t, &y, &mo, &d, &h, &mi, &s, &us);
    unsigned frac = ms ? (unsigned)(us / 1000) % 1000u : (unsigned)us % 1000000u;
    if (y < 0 || y > 9999) {
        snprintf(out, RK_TIME_STRLEN,
                 ms ? "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ" : "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ",
                 y, mo, d, h, mi, s, frac);
        return;
    }
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, (unsigned)mo, 2);
    *p++ = '-';
    p = put_digits(p, (unsigned)d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)h, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)mi, 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)s, 2);
    *p++ = '.';
    p = put_digits(p, frac, ms ? 3 : 6);
    *p++ = 'Z';
    *p = '\0';
}

void rk_time_format(rk_time_t t, char out[RK_TIME_STRLEN])
{
    format(t, out, false);
}

void rk_time_format_ms(rk_time_t t, char out[RK_TIME_STRLEN])
{
    format(t, out, true);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return RK_EINVAL;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return RK_OK;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return RK_EINVAL;
    (*p)++;
    return RK_OK;
}

int rk_time_parse(const char *s, rk_time_t *out)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (!s || digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
        digits(&p, 2, &d))
        return RK_EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return RK_EINVAL;
    p++;
    if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) || expect(&p, ':') ||
        digits(&p, 2, &sec))
        return RK_EINVAL;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return RK_EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int maxd = mdays[mo - 1] + (mo == 2 && leap);
    if (d > maxd)
        return RK_EINVAL;
    /* A leap second (sec == 60) is left to the arithmetic below, which reads
     * it as the next minute's first second and so keeps timestamps ordered. */
    int64_t us = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 6)
                us = us * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return RK_EINVAL;
        for (int i = nd; i < 6; i++)
            us *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ':') || digits(&p, 2, &om) || oh > 23 || om > 59)
            return RK_EINVAL;
        offset = sign * (oh * 3600 + om * 60);
    } else {
        return RK_EINVAL;
    }
    if (*p != '\0')
        return RK_EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    /* An offset or leap second can carry the instant out of years 0001..9999,
     * which rk_time_format could not write back in a form this accepts. */
    if (secs < days_from_civil(1, 1, 1) * 86400 || secs >= days_from_civil(10000, 1, 1) * 86400)
        return RK_EINVAL;
    *out = secs * 1000000 + us;
    return RK_OK;
}
