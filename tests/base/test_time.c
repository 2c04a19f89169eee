/* RFC 3339 formatting and parsing, and the clocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/time.h"

#define T_2026 INT64_C(1795439257123456) /* 2026-11-23T13:07:37.123456Z */

static rk_time_t parse_ok(const char *s)
{
    rk_time_t t = -1;
    assert_int_equal(rk_time_parse(s, &t), 0);
    return t;
}

static void test_format(void **state)
{
    char out[RK_TIME_STRLEN];
    rk_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000000Z");
    rk_time_format(T_2026, out);
    assert_string_equal(out, "2026-11-23T13:07:37.123456Z");
    rk_time_format_ms(T_2026, out);
    assert_string_equal(out, "2026-11-23T13:07:37.123Z");
    rk_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999999Z");
    rk_time_format(INT64_C(-62135596800000000), out);
    assert_string_equal(out, "0001-01-01T00:00:00.000000Z");
    rk_time_format(INT64_C(253402300799999999), out);
    assert_string_equal(out, "9999-12-31T23:59:59.999999Z");
    rk_time_format(INT64_C(951782400) * 1000000, out); /* leap day in a 400-year */
    assert_string_equal(out, "2000-02-29T00:00:00.000000Z");
}

static void test_round_trip(void **state)
{
    char out[RK_TIME_STRLEN];
    /* A spread of instants from year 1 to 9999, negative ones included. */
    for (rk_time_t t = INT64_C(-62135596800000000); t < INT64_C(253402300799999999);
         t += INT64_C(86399999997) * 101 + 7) {
        rk_time_format(t, out);
        assert_int_equal(parse_ok(out), t);
    }
    assert_int_equal(parse_ok("2026-11-23T13:07:37.123456Z"), T_2026);
}

static void test_offsets_and_forms(void **state)
{
    rk_time_t base = T_2026 - 123456;
    assert_int_equal(parse_ok("2026-11-23T13:07:37Z"), base);
    assert_int_equal(parse_ok("2026-11-23t13:07:37z"), base);
    assert_int_equal(parse_ok("2026-11-23 13:07:37Z"), base);
    assert_int_equal(parse_ok("2026-11-23T15:07:37+02:00"), base);
    assert_int_equal(parse_ok("2026-11-23T07:37:37-05:30"), base);
    assert_int_equal(parse_ok("2026-11-23T13:07:37-00:00"), base);
    /* An offset can move the date across a day, month and year boundary. */
    assert_int_equal(parse_ok("2027-01-01T00:30:00+01:00"), parse_ok("2026-12-31T23:30:00Z"));
}

static void test_fractions(void **state)
{
    rk_time_t base = T_2026 - 123456;
    assert_int_equal(parse_ok("2026-11-23T13:07:37.1Z"), base + 100000);
    assert_int_equal(parse_ok("2026-11-23T13:07:37.000001Z"), base + 1);
    assert_int_equal(parse_ok("2026-11-23T13:07:37.1234569Z"), base + 123456); /* truncated */
    assert_int_equal(parse_ok("2026-11-23T13:07:37.123456789012Z"), base + 123456);
    assert_int_equal(parse_ok("2026-11-23T15:07:37.5+02:00"), base + 500000);
    rk_time_t t;
    assert_int_equal(rk_time_parse("2026-11-23T13:07:37.Z", &t), RK_EINVAL);
    assert_int_equal(rk_time_parse("2026-11-23T13:07:37,5Z", &t), RK_EINVAL);
}

static void test_leap_years(void **state)
{
    rk_time_t t;
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z") + INT64_C(86400000000),
                     parse_ok("2024-03-01T00:00:00Z"));
    parse_ok("2000-02-29T12:00:00Z");
    assert_int_equal(rk_time_parse("2023-02-29T00:00:00Z", &t), RK_EINVAL);
    assert_int_equal(rk_time_parse("1900-02-29T00:00:00Z", &t), RK_EINVAL);
    assert_int_equal(rk_time_parse("2100-02-29T00:00:00Z", &t), RK_EINVAL);
    /* A leap second reads as the next second, so order is kept. */
    rk_time_t leap = parse_ok("2016-12-31T23:59:60Z");
    assert_int_equal(leap, parse_ok("2017-01-01T00:00:00Z"));
    assert_true(parse_ok("2016-12-31T23:59:59.999999Z") < leap);
    assert_true(parse_ok("2016-12-31T23:59:60.5Z") > leap);
}

static void test_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "junk",
        "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:60:00Z",
        "2026-01-01T23:59:61Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00Zjunk",
        "2026-01-01T00:00:00 Z",
        "2026-01-01T00:00:00+0200",
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00+01:60",
        "2026-01-01X00:00:00Z",
        "2026-1-01T00:00:00Z",
        "26-01-01T00:00:00Z",
        "2026-01-01",
        "2026-01-01T0:00:00Z",
        " 2026-01-01T00:00:00Z",
        "+2026-01-01T00:00:00Z",
        "2026-01-01T00:00:-1Z",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        rk_time_t t = 42;
        if (rk_time_parse(bad[i], &t) != RK_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(t, 42); /* untouched on failure */
    }
    rk_time_t t;
    assert_int_equal(rk_time_parse(NULL, &t), RK_EINVAL);
}

static void test_clocks(void **state)
{
    rk_time_t now = rk_time_now_us();
    assert_true(now > INT64_C(1577836800000000)); /* after 2020 */
    int64_t a = rk_time_mono_us();
    int64_t b = rk_time_mono_us();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_offsets_and_forms),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
