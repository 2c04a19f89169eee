/* The Prometheus text format of lib/base/prom.c: exact output for known
 * updates, escaping, histogram buckets, bad names refused, and promtool's
 * own check of what is rendered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "base/prom.h"

static int collected;

static void collect(rk_prom_t *r, void *ud)
{
    (void)r;
    collected++;
    rk_prom_set(ud, NULL, 42);
}

static void test_render(void **state)
{
    (void)state;
    rk_prom_t *r = rk_prom_new();
    assert_non_null(r);
    rk_prom_family_t *c =
        rk_prom_family(r, "jobs_total", "Jobs by \"status\"\\ end", RK_PROM_COUNTER,
                       (const char *const[]){"status", NULL}, NULL, 0);
    rk_prom_family_t *g =
        rk_prom_family(r, "queue_depth", "Queued jobs", RK_PROM_GAUGE, NULL, NULL, 0);
    static const double b[] = {0.1, 1, 10};
    rk_prom_family_t *h = rk_prom_family(r, "latency_seconds", "Latency", RK_PROM_HISTOGRAM,
                                         (const char *const[]){"route", NULL}, b, 3);
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(h);
    rk_prom_add(c, (const char *const[]){"completed"}, 2);
    rk_prom_add(c, (const char *const[]){"a\"b\\c\nd"}, 1);
    rk_prom_add(c, (const char *const[]){"completed"}, 1);
    rk_prom_add(c, (const char *const[]){"completed"}, -5); /* counters never go down */
    rk_prom_observe(h, (const char *const[]){"/x"}, 0.05);
    rk_prom_observe(h, (const char *const[]){"/x"}, 0.5);
    rk_prom_observe(h, (const char *const[]){"/x"}, 50);
    assert_int_equal(rk_prom_collector(r, collect, g), 0);
    rk_buf_t out;
    rk_buf_init(&out, 1 << 20);
    assert_int_equal(rk_prom_render(r, &out), 0);
    assert_int_equal(collected, 1);
    assert_string_equal(rk_buf_str(&out), "# HELP jobs_total Jobs by \"status\"\\\\ end\n"
                                          "# TYPE jobs_total counter\n"
                                          "jobs_total{status=\"completed\"} 3\n"
                                          "jobs_total{status=\"a\\\"b\\\\c\\nd\"} 1\n"
                                          "# HELP queue_depth Queued jobs\n"
                                          "# TYPE queue_depth gauge\n"
                                          "queue_depth 42\n"
                                          "# HELP latency_seconds Latency\n"
                                          "# TYPE latency_seconds histogram\n"
                                          "latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n"
                                          "latency_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
                                          "latency_seconds_bucket{route=\"/x\",le=\"10\"} 2\n"
                                          "latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
                                          "latency_seconds_sum{route=\"/x\"} 50.55\n"
                                          "latency_seconds_count{route=\"/x\"} 3\n");

    /* promtool, Prometheus's own linter, accepts it. */
    FILE *p = popen("command -v promtool >/dev/null 2>&1 && promtool check metrics "
                    ">/tmp/rk-promtool.$$ 2>&1; echo $? > /tmp/rk-promtool.rc",
                    "w");
    assert_non_null(p);
    fwrite(out.data, 1, out.len, p);
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    FILE *rc = fopen("/tmp/rk-promtool.rc", "r");
    int code = -1;
    assert_non_null(rc);
    assert_int_equal(fscanf(rc, "%d", &code), 1);
    fclose(rc);
    remove("/tmp/rk-promtool.rc");
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("SKIPPED: promtool is not installed (scripts/deps.sh installs it)\n");
    } else {
        assert_int_equal(code, 0);
    }
    rk_prom_reset(g);
    rk_buf_reset(&out);
    rk_prom_free(r);
    rk_buf_cleanup(&out);
}

static void test_refused(void **state)
{
    (void)state;
    rk_prom_t *r = rk_prom_new();
    assert_non_null(rk_prom_family(r, "ok_name", "", RK_PROM_GAUGE, NULL, NULL, 0));
    assert_null(rk_prom_family(r, "ok_name", "", RK_PROM_GAUGE, NULL, NULL, 0)); /* taken */
    assert_null(rk_prom_family(r, "9bad", "", RK_PROM_GAUGE, NULL, NULL, 0));
    assert_null(rk_prom_family(r, "bad-name", "", RK_PROM_GAUGE, NULL, NULL, 0));
    assert_null(
        rk_prom_family(r, "x", "", RK_PROM_GAUGE, (const char *const[]){"a:b", NULL}, NULL, 0));
    static const double down[] = {1, 0.5};
    assert_null(rk_prom_family(r, "h", "", RK_PROM_HISTOGRAM, NULL, down, 2));
    assert_null(rk_prom_family(r, "h2", "", RK_PROM_HISTOGRAM, NULL, NULL, 0));
    /* Updates of the wrong kind are ignored, NULL families too. */
    rk_prom_observe(NULL, NULL, 1);
    rk_prom_add(NULL, NULL, 1);
    rk_prom_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_render),
                                       cmocka_unit_test(test_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
