/* Cron expressions: next firing times across minute, day, month and year
 * ends, leap days (2100 is not one), the day-of-month / day-of-week rule,
 * names, and every parse error naming its field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/cron.h"

/* "YYYY-MM-DDTHH:MM:SS" (UTC) as seconds since the epoch. */
static int64_t at(const char *s)
{
    struct tm tm = {0};
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
    return (int64_t)timegm(&tm);
}

static void fmt(int64_t t, char out[32])
{
    if (t < 0) {
        snprintf(out, 32, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
}

static const struct {
    const char *expr, *after, *want; /* want NULL: never */
} next_rows[] = {
    /* strictly after, minute resolution */
    {"* * * * *", "2024-01-01T00:00:00", "2024-01-01T00:01:00"},
    {"* * * * *", "2024-01-01T00:00:30", "2024-01-01T00:01:00"},
    {"* * * * *", "2024-12-31T23:59:00", "2025-01-01T00:00:00"},
    /* year ends */
    {"0 0 1 1 *", "2023-12-31T23:59:59", "2024-01-01T00:00:00"},
    {"0 0 1 1 *", "2024-01-01T00:00:00", "2025-01-01T00:00:00"},
    {"59 23 31 12 *", "2024-12-31T23:59:00", "2025-12-31T23:59:00"},
    /* leap days: 2100 is not a leap year */
    {"0 0 29 2 *", "2023-03-01T00:00:00", "2024-02-29T00:00:00"},
    {"0 0 29 2 *", "2024-02-29T00:00:00", "2028-02-29T00:00:00"},
    {"0 0 29 2 *", "2096-03-01T00:00:00", "2104-02-29T00:00:00"},
    {"0 0 1 mar *", "2100-02-28T00:00:00", "2100-03-01T00:00:00"},
    /* month ends: months without the day are skipped */
    {"30 3 31 * *", "2024-04-01T00:00:00", "2024-05-31T03:30:00"},
    {"0 0 31 * *", "2024-01-31T00:00:00", "2024-03-31T00:00:00"},
    {"0 0 * jan,jul *", "2024-02-01T00:00:00", "2024-07-01T00:00:00"},
    /* day of week: 2024-01-01 was a Monday, 2024-09-01 a Sunday */
    {"0 12 * * mon", "2024-01-01T12:00:00", "2024-01-08T12:00:00"},
    {"0 0 * * 7", "2024-09-01T00:00:00", "2024-09-08T00:00:00"},
    {"0 0 * * 0", "2024-09-01T00:00:00", "2024-09-08T00:00:00"},
    {"0 0 * * SUN", "2024-08-31T12:00:00", "2024-09-01T00:00:00"},
    {"0 0 * * 5-7", "2024-09-02T00:00:00", "2024-09-06T00:00:00"},
    {"*/15 9-17 * * 1-5", "2024-09-06T17:45:00", "2024-09-09T09:00:00"},
    {"*/15 9-17 * * 1-5", "2024-09-06T09:14:59", "2024-09-06T09:15:00"},
    /* both restricted: either matches (Friday 6th before the 13th) */
    {"0 0 13 * 5", "2024-09-01T00:00:00", "2024-09-06T00:00:00"},
    {"0 0 1-7 * mon", "2024-09-08T00:00:00", "2024-09-09T00:00:00"},
    {"0 0 1-7 * mon", "2024-09-30T00:00:00", "2024-10-01T00:00:00"},
    /* a field starting with '*' is not "restricted": both must match */
    {"0 0 */2 * 5", "2024-09-01T00:00:00", "2024-09-13T00:00:00"},
    {"0 0 13 * *", "2024-09-01T00:00:00", "2024-09-13T00:00:00"},
    /* steps and lists */
    {"5-10/2 * * * *", "2024-01-01T00:06:00", "2024-01-01T00:07:00"},
    {"5-10/2 * * * *", "2024-01-01T00:09:00", "2024-01-01T01:05:00"},
    {"50/5 * * * *", "2024-01-01T00:56:00", "2024-01-01T01:50:00"},
    {"1,30,59 */6 * * *", "2024-01-01T06:59:00", "2024-01-01T12:01:00"},
    {"0 0 1 */5 *", "2024-01-01T00:00:00", "2024-06-01T00:00:00"},
    /* before the epoch */
    {"0 0 1 1 *", "1969-06-01T00:00:00", "1970-01-01T00:00:00"},
    /* never */
    {"0 0 30 2 *", "2024-01-01T00:00:00", NULL},
    {"0 0 31 4,6,9,11 *", "2024-01-01T00:00:00", NULL},
};

static void test_next_times(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof next_rows / sizeof next_rows[0]; i++) {
        rk_cron_t c;
        char err[RK_CRON_ERR_SIZE];
        int rc = rk_cron_parse(next_rows[i].expr, &c, err, sizeof err);
        if (rc)
            fail_msg("%s: %s", next_rows[i].expr, err);
        char got[32], want[32];
        fmt(rk_cron_next(&c, at(next_rows[i].after)), got);
        snprintf(want, sizeof want, "%s", next_rows[i].want ? next_rows[i].want : "never");
        if (strcmp(got, want) != 0)
            fail_msg("%s after %s: got %s, want %s", next_rows[i].expr, next_rows[i].after, got,
                     want);
    }
}

/* Every minute of a year fires once and in order: the search never skips
 * or repeats one. */
static void test_every_minute_walk(void **state)
{
    (void)state;
    rk_cron_t c;
    assert_int_equal(rk_cron_parse("* * * * *", &c, NULL, 0), 0);
    int64_t t = at("2023-12-31T23:00:00");
    for (int i = 0; i < 60 * 24 * 2; i++) {
        int64_t u = rk_cron_next(&c, t);
        assert_int_equal(u, t + 60);
        t = u;
    }
}

static const struct {
    const char *expr, *err;
} bad_rows[] = {
    {"", "cron: expected 5 fields, got 0"},
    {"* * * *", "cron: expected 5 fields, got 4"},
    {"* * * * * *", "cron: expected 5 fields, got 6"},
    {"60 * * * *", "cron: minute: 60 out of range 0-59"},
    {"* 24 * * *", "cron: hour: 24 out of range 0-23"},
    {"* * 0 * *", "cron: day-of-month: 0 out of range 1-31"},
    {"* * 32 * *", "cron: day-of-month: 32 out of range 1-31"},
    {"* * * 0 *", "cron: month: 0 out of range 1-12"},
    {"* * * 13 *", "cron: month: 13 out of range 1-12"},
    {"* * * * 8", "cron: day-of-week: 8 out of range 0-7"},
    {"* * * foo *", "cron: month: bad value \"foo\""},
    {"* * * mon *", "cron: month: bad value \"mon\""},
    {"* * * * jan", "cron: day-of-week: bad value \"jan\""},
    {"1x * * * *", "cron: minute: bad value \"1x\""},
    {"-1 * * * *", "cron: minute: a value is missing"},
    {"* * * * mon-", "cron: day-of-week: a value is missing"},
    {"10-5 * * * *", "cron: minute: range 10-5 is backwards"},
    {"1,,2 * * * *", "cron: minute: empty list item"},
    {"1, * * * *", "cron: minute: empty list item"},
    {"*/0 * * * *", "cron: minute: step 0 out of range 1-60"},
    {"* */25 * * *", "cron: hour: step 25 out of range 1-24"},
    {"*/x * * * *", "cron: minute: bad step \"x\""},
    {"*/ * * * *", "cron: minute: bad step \"\""},
    {"1234567 * * * *", "cron: minute: bad value \"1234567\""},
};

static void test_errors_name_the_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
        rk_cron_t c;
        memset(&c, 0xff, sizeof c);
        char err[RK_CRON_ERR_SIZE];
        int rc = rk_cron_parse(bad_rows[i].expr, &c, err, sizeof err);
        if (rc != RK_EINVAL || strcmp(err, bad_rows[i].err) != 0)
            fail_msg("\"%s\": rc %d, \"%s\", want \"%s\"", bad_rows[i].expr, rc, err,
                     bad_rows[i].err);
        assert_int_equal(c.minute, 0); /* left zeroed */
        assert_int_equal(rk_cron_next(&c, 0), -1);
    }
}

static void test_too_long_and_null(void **state)
{
    (void)state;
    char text[RK_CRON_TEXT_MAX + 10];
    memset(text, ' ', sizeof text - 1);
    memcpy(text, "* * * * *", 9);
    text[sizeof text - 1] = '\0';
    rk_cron_t c;
    char err[RK_CRON_ERR_SIZE];
    assert_int_equal(rk_cron_parse(text, &c, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "cron: longer than 256 characters");
    assert_int_equal(rk_cron_parse(NULL, &c, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "cron: expected 5 fields, got 0");
    /* tabs and runs of spaces separate fields like one space */
    assert_int_equal(rk_cron_parse("  0\t3  * *\t* ", &c, err, sizeof err), 0);
    assert_int_equal(rk_cron_next(&c, at("2024-01-01T00:00:00")), at("2024-01-01T03:00:00"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_times),
        cmocka_unit_test(test_every_minute_walk),
        cmocka_unit_test(test_errors_name_the_field),
        cmocka_unit_test(test_too_long_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
