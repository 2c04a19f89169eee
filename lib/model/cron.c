/* Cron expressions: the parser of the five fields and the search for the
 * next firing time (see cron.h for the syntax and the day rule).
 */
#include "model/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

/* The calendar repeats every 400 years (146,097 days, a whole number of
 * weeks): an expression with no firing in that span has none at all. */
#define CRON_SEARCH_DAYS 146097
/* A number longer than this is out of every field's range anyway. */
#define CRON_NUM_DIGITS 6

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo_name + i, or NULL */
    int lo_name;
} field_def_t;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const field_def_t fields[5] = {
    {"minute", 0, 59, NULL, 0},          {"hour", 0, 23, NULL, 0},
    {"day-of-month", 1, 31, NULL, 0},    {"month", 1, 12, month_names, 1},
    {"day-of-week", 0, 7, dow_names, 0},
};

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t n, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return RK_EINVAL;
}

/* One value of field f from s[0..len) (a number or, where the field has
 * them, a three-letter name) into *v. */
static int parse_value(const field_def_t *f, const char *s, size_t len, int *v, char *err, size_t n)
{
    if (len == 0)
        return fail(err, n, "cron: %s: a value is missing", f->name);
    if (isdigit((unsigned char)s[0])) {
        long x = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)s[i]) || i >= CRON_NUM_DIGITS)
                return fail(err, n, "cron: %s: bad value \"%.*s\"", f->name, (int)len, s);
            x = x * 10 + (s[i] - '0');
        }
        if (x < f->lo || x > f->hi)
            return fail(err, n, "cron: %s: %ld out of range %d-%d", f->name, x, f->lo, f->hi);
        *v = (int)x;
        return 0;
    }
    for (size_t i = 0; f->names && f->names[i]; i++) {
        if (len == 3 && strncasecmp(s, f->names[i], 3) == 0) {
            *v = f->lo_name + (int)i;
            return 0;
        }
    }
    return fail(err, n, "cron: %s: bad value \"%.*s\"", f->name, (int)len > 32 ? 32 : (int)len, s);
}

/* One comma-separated item of field f (s[0..len)) into the bits. */
static int parse_item(const field_def_t *f, const char *s, size_t len, uint64_t *bits, char *err,
                      size_t n)
{
    if (len == 0)
        return fail(err, n, "cron: %s: empty list item", f->name);
    const char *slash = memchr(s, '/', len);
    size_t blen = slash ? (size_t)(slash - s) : len;
    int lo, hi, step = 1;
    if (blen == 1 && s[0] == '*') {
        lo = f->lo;
        hi = f->hi;
    } else {
        const char *dash = memchr(s, '-', blen);
        size_t alen = dash ? (size_t)(dash - s) : blen;
        if (parse_value(f, s, alen, &lo, err, n))
            return RK_EINVAL;
        hi = lo;
        if (dash) {
            if (parse_value(f, dash + 1, blen - alen - 1, &hi, err, n))
                return RK_EINVAL;
            if (hi < lo)
                return fail(err, n, "cron: %s: range %d-%d is backwards", f->name, lo, hi);
        } else if (slash) {
            hi = f->hi; /* "a/n": from a to the end */
        }
    }
    if (slash) {
        const char *t = slash + 1;
        size_t tlen = len - blen - 1;
        long x = 0;
        if (tlen == 0 || tlen > CRON_NUM_DIGITS)
            return fail(err, n, "cron: %s: bad step \"%.*s\"", f->name,
                        (int)(tlen > 32 ? 32 : tlen), t);
        for (size_t i = 0; i < tlen; i++) {
            if (!isdigit((unsigned char)t[i]))
                return fail(err, n, "cron: %s: bad step \"%.*s\"", f->name,
                            (int)(tlen > 32 ? 32 : tlen), t);
            x = x * 10 + (t[i] - '0');
        }
        if (x < 1 || x > f->hi - f->lo + 1)
            return fail(err, n, "cron: %s: step %ld out of range 1-%d", f->name, x,
                        f->hi - f->lo + 1);
        step = (int)x;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << v;
    return 0;
}

static int parse_field(const field_def_t *f, const char *s, size_t len, uint64_t *bits, char *err,
                       size_t n)
{
    *bits = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ',') {
            if (parse_item(f, s + start, i - start, bits, err, n))
                return RK_EINVAL;
            start = i + 1;
        }
    }
    return 0;
}

int rk_cron_parse(const char *text, rk_cron_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    if (err && err_size)
        err[0] = '\0';
    if (!text)
        text = "";
    size_t tlen = strnlen(text, RK_CRON_TEXT_MAX + 1);
    if (tlen > RK_CRON_TEXT_MAX)
        return fail(err, err_size, "cron: longer than %d characters", RK_CRON_TEXT_MAX);
    const char *start[5];
    size_t len[5];
    int nf = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != ' ' && *q != '\t')
            q++;
        if (nf < 5) {
            start[nf] = p;
            len[nf] = (size_t)(q - p);
        }
        nf++;
        p = q;
    }
    if (nf != 5)
        return fail(err, err_size, "cron: expected 5 fields, got %d", nf);
    uint64_t bits[5];
    for (int i = 0; i < 5; i++) {
        if (parse_field(&fields[i], start[i], len[i], &bits[i], err, err_size)) {
            memset(out, 0, sizeof *out);
            return RK_EINVAL;
        }
    }
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    uint64_t dow = bits[4];
    if (dow & (1ull << 7)) /* 7 is Sunday too */
        dow = (dow | 1u) & 0x7f;
    out->dow = (uint8_t)dow;
    out->dom_any = start[2][0] == '*';
    out->dow_any = start[4][0] == '*';
    return 0;
}

/* Days since 1970-01-01 of a civil date, and back (H. Hinnant's
 * algorithms: exact for every year, no tables). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool day_matches(const rk_cron_t *c, int dom, int dow)
{
    bool dom_ok = c->dom >> dom & 1u, dow_ok = c->dow >> dow & 1u;
    if (c->dom_any || c->dow_any)
        return dom_ok && dow_ok;
    return dom_ok || dow_ok;
}

int64_t rk_cron_next(const rk_cron_t *c, int64_t after)
{
    if (!c->minute || !c->hour || !c->dom || !c->month || !c->dow)
        return -1; /* a zeroed (unparsed) expression */
    int64_t t = floor_div(after, 60) * 60 + 60;
    int64_t day = floor_div(t, 86400);
    int64_t secs = t - day * 86400;
    int h0 = (int)(secs / 3600), m0 = (int)(secs % 3600 / 60);
    for (int64_t last = day + CRON_SEARCH_DAYS; day <= last; day++, h0 = 0, m0 = 0) {
        int64_t y;
        int mo, d;
        civil_from_days(day, &y, &mo, &d);
        if (!(c->month >> mo & 1u)) { /* the rest of this month cannot match */
            day = days_from_civil(mo == 12 ? y + 1 : y, mo == 12 ? 1 : mo + 1, 1) - 1;
            continue;
        }
        int dow = (int)((day % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        if (!day_matches(c, d, dow))
            continue;
        for (int h = h0; h < 24; h++) {
            if (!(c->hour >> h & 1u))
                continue;
            for (int mi = h == h0 ? m0 : 0; mi < 60; mi++)
                if (c->minute >> mi & 1u)
                    return day * 86400 + h * 3600 + mi * 60;
        }
    }
    return -1;
}
