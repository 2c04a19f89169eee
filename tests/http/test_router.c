/* Unit tests of path matching (lib/http/router.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "http/router.h"

static int A, B, C, D, E;

static int setup(void **state)
{
    rk_router_t *r;
    assert_int_equal(rk_router_new(&r), 0);
    assert_int_equal(rk_router_add(r, "GET", "/health", &A), 0);
    assert_int_equal(rk_router_add(r, "GET", "/api/v1/status/{job_id}", &B), 0);
    assert_int_equal(rk_router_add(r, "GET", "/api/v1/jobs/{job_id}/logs", &C), 0);
    assert_int_equal(rk_router_add(r, "GET", "/api/v1/jobs/stats", &D), 0);
    assert_int_equal(rk_router_add(r, "DELETE", "/api/v1/jobs/{id}", &E), 0);
    assert_int_equal(rk_router_add(r, "GET", "/api/v1/jobs/{id}", &E), 0);
    assert_int_equal(rk_router_add(r, "POST", "/experiments/", &A), 0);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    rk_router_free(*state);
    return 0;
}

static void test_literal_and_params(void **state)
{
    rk_route_match_t m;
    assert_int_equal(rk_router_match(*state, "GET", "/health", &m), RK_ROUTE_FOUND);
    assert_ptr_equal(m.target, &A);
    assert_int_equal(m.nparams, 0);

    assert_int_equal(rk_router_match(*state, "GET", "/api/v1/status/job_1a2b", &m), RK_ROUTE_FOUND);
    assert_ptr_equal(m.target, &B);
    assert_string_equal(rk_route_param(&m, "job_id"), "job_1a2b");
    assert_null(rk_route_param(&m, "other"));

    assert_int_equal(rk_router_match(*state, "GET", "/api/v1/jobs/j9/logs", &m), RK_ROUTE_FOUND);
    assert_ptr_equal(m.target, &C);
    assert_string_equal(rk_route_param(&m, "job_id"), "j9");
}

static void test_trailing_slash(void **state)
{
    rk_route_match_t m;
    assert_int_equal(rk_router_match(*state, "GET", "/health/", &m), RK_ROUTE_FOUND);
    assert_int_equal(rk_router_match(*state, "POST", "/experiments", &m), RK_ROUTE_FOUND);
    assert_int_equal(rk_router_match(*state, "POST", "/experiments/", &m), RK_ROUTE_FOUND);
    assert_int_equal(rk_router_match(*state, "GET", "/api/v1/status/x/", &m), RK_ROUTE_FOUND);
    assert_string_equal(rk_route_param(&m, "job_id"), "x");
}

static void test_not_found(void **state)
{
    rk_route_match_t m;
    const char *paths[] = {"/nope",
                           "/api/v1/status",
                           "/api/v1/status/",
                           "/api/v1/status//",
                           "/api/v1/status/a/b",
                           "//health",
                           "/health//",
                           "",
                           "health",
                           "/api/v1//jobs/x"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        assert_int_equal(rk_router_match(*state, "GET", paths[i], &m), RK_ROUTE_NO_PATH);
        assert_null(m.target);
    }
}

static void test_wrong_method(void **state)
{
    rk_route_match_t m;
    assert_int_equal(rk_router_match(*state, "POST", "/health", &m), RK_ROUTE_NO_METHOD);
    assert_string_equal(m.allow, "GET");
    assert_int_equal(rk_router_match(*state, "PUT", "/api/v1/jobs/j1", &m), RK_ROUTE_NO_METHOD);
    assert_string_equal(m.allow, "DELETE, GET");
}

static void test_literal_beats_param(void **state)
{
    rk_route_match_t m;
    assert_int_equal(rk_router_match(*state, "GET", "/api/v1/jobs/stats", &m), RK_ROUTE_FOUND);
    assert_ptr_equal(m.target, &D);
    assert_int_equal(rk_router_match(*state, "GET", "/api/v1/jobs/other", &m), RK_ROUTE_FOUND);
    assert_ptr_equal(m.target, &E);
    assert_string_equal(rk_route_param(&m, "id"), "other");
    /* DELETE only exists on the parameter route, so it takes "stats" too. */
    assert_int_equal(rk_router_match(*state, "DELETE", "/api/v1/jobs/stats", &m), RK_ROUTE_FOUND);
    assert_ptr_equal(m.target, &E);
}

static void test_bad_patterns(void **state)
{
    rk_router_t *r = *state;
    const char *bad[] = {"",        "health",     "/a/{}", "/a/{x",  "/a/x}",
                         "/a/{x}y", "/a/{x}/{x}", "/a//b", "/{a{b}}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(rk_router_add(r, "GET", bad[i], &A), RK_EINVAL);
    assert_int_equal(rk_router_add(r, "GET", "/health/", &A), RK_EEXIST);
    assert_int_equal(rk_router_add(r, "GET", "/api/v1/status/{other}", &A), RK_EEXIST);
    assert_int_equal(rk_router_add(r, "", "/x", &A), RK_EINVAL);
    char deep[512] = "";
    for (int i = 0; i < RK_ROUTER_MAX_SEGS + 1; i++)
        strcat(deep, "/s");
    assert_int_equal(rk_router_add(r, "GET", deep, &A), RK_EINVAL);
}

static void test_limits(void **state)
{
    rk_route_match_t m;
    char long_path[RK_ROUTER_PATH_MAX + 64];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    assert_int_equal(rk_router_match(*state, "GET", long_path, &m), RK_ROUTE_BAD_PATH);
    assert_string_equal(m.why, "path over 1024 bytes");
    assert_int_equal(rk_router_match(*state, "GET", "/", &m), RK_ROUTE_NO_PATH);
}

static bool id_ok(const char *s)
{
    return strlen(s) <= 8 && !strchr(s, '/') && strcmp(s, "..") != 0;
}

/* The path is matched raw: split first, each segment decoded after. */
static void test_encoded(void **state)
{
    rk_router_t *r = *state;
    rk_route_match_t m;
    assert_int_equal(rk_router_match(r, "GET", "/api/v1/jobs/j%5F1/logs", &m), RK_ROUTE_FOUND);
    assert_string_equal(rk_route_param(&m, "job_id"), "j_1");
    assert_int_equal(rk_router_match(r, "GET", "/%68ealth", &m), RK_ROUTE_FOUND);
    assert_ptr_equal(m.target, &A);
    /* "%2f" stays inside its segment. */
    assert_int_equal(rk_router_match(r, "GET", "/api/v1/status/a%2Fb", &m), RK_ROUTE_FOUND);
    assert_string_equal(rk_route_param(&m, "job_id"), "a/b");
    assert_int_equal(rk_router_match(r, "GET", "/api%2fv1/jobs/stats", &m), RK_ROUTE_NO_PATH);
    /* An encoded NUL is refused anywhere, before any route is looked at. */
    const char *bad[] = {"/api/v1/jobs/%00",
                         "/api/v1/jobs/abc%00def",
                         "/health%00",
                         "/nope/%00",
                         "/%00/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q",
                         "/api/v1/status/x%00/",
                         "/api/v1/jobs/%zz",
                         "/health%",
                         "/api/v1/jobs/%4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(rk_router_match(r, "GET", bad[i], &m), RK_ROUTE_BAD_PATH);
        assert_null(m.target);
        assert_non_null(m.why);
    }
    assert_int_equal(rk_router_match(r, "DELETE", "/api/v1/jobs/%00", &m), RK_ROUTE_BAD_PATH);
    assert_string_equal(m.why, "encoded NUL byte");
}

static void test_param_check(void **state)
{
    rk_router_t *r = *state;
    rk_router_set_check(r, id_ok);
    rk_route_match_t m;
    assert_int_equal(rk_router_match(r, "GET", "/api/v1/status/short", &m), RK_ROUTE_FOUND);
    assert_int_equal(rk_router_match(r, "GET", "/api/v1/status/toolong_id", &m),
                     RK_ROUTE_BAD_PARAM);
    assert_null(m.target);
    assert_string_equal(m.names[m.bad], "job_id");
    assert_int_equal(rk_router_match(r, "GET", "/api/v1/status/a%2fb", &m), RK_ROUTE_BAD_PARAM);
    assert_int_equal(rk_router_match(r, "GET", "/api/v1/jobs/%2e%2e/logs", &m), RK_ROUTE_BAD_PARAM);
    /* A method that does not match is still 405, not a parameter error. */
    assert_int_equal(rk_router_match(r, "PUT", "/api/v1/jobs/toolong_id", &m), RK_ROUTE_NO_METHOD);
}

/* rk_router_each lists every route once, in registration order, with the
 * pattern spelled canonically (trailing slash dropped) and its target. */
typedef struct seen {
    char text[1024];
    size_t calls;
} seen_t;

static int collect(const char *method, const char *pattern, void *target, void *ud)
{
    seen_t *s = ud;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof s->text - len, "%s %s %d;", method, pattern,
             target == &A   ? 'A'
             : target == &B ? 'B'
             : target == &E ? 'E'
                            : '?');
    s->calls++;
    return 0;
}

static int stop_at_third(const char *method, const char *pattern, void *target, void *ud)
{
    (void)method, (void)pattern, (void)target;
    return ++((seen_t *)ud)->calls == 3 ? 42 : 0;
}

static void test_each(void **state)
{
    rk_router_t *r = *state;
    assert_int_equal(rk_router_add(r, "GET", "/", &A), 0);
    seen_t s = {"", 0};
    assert_int_equal(rk_router_each(r, collect, &s), 0);
    assert_int_equal(s.calls, 8);
    assert_string_equal(s.text, "GET /health 65;GET /api/v1/status/{job_id} 66;"
                                "GET /api/v1/jobs/{job_id}/logs 63;GET /api/v1/jobs/stats 63;"
                                "DELETE /api/v1/jobs/{id} 69;GET /api/v1/jobs/{id} 69;"
                                "POST /experiments 65;GET / 65;");
    seen_t t = {"", 0};
    assert_int_equal(rk_router_each(r, stop_at_third, &t), 42);
    assert_int_equal(t.calls, 3);
    rk_router_t *empty;
    assert_int_equal(rk_router_new(&empty), 0);
    assert_int_equal(rk_router_each(empty, stop_at_third, &t), 0);
    rk_router_free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literal_and_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literal_beats_param, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_param_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
