/* ruckus-agent's spare job folders, end to end: the background thread makes
 * them, jobs run in them (output/ and the records in place), they never
 * show as jobs, a kill -9 with spares on disk restarts cleanly, and with
 * the pool switched off (or empty) a job's folder is made at accept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rk_test_agent.h"

/* Complete spares on disk: the folders named by a number in the pool
 * folders jobs/.pool~* (docs/agent.md, "The data dir"). */
static int count_spares(const rk_test_agent_t *a)
{
    char jobs[PATH_MAX + 16];
    snprintf(jobs, sizeof jobs, "%s/jobs", a->data);
    DIR *d = opendir(jobs);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".pool~", 6) != 0)
            continue;
        char p[PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", jobs, de->d_name);
        DIR *pd = opendir(p);
        if (!pd)
            continue; /* removed meanwhile */
        struct dirent *e;
        while ((e = readdir(pd)) != NULL)
            n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
        closedir(pd);
    }
    closedir(d);
    return n;
}

/* Waits until at least n spares are ready on disk. */
static int wait_spares(const rk_test_agent_t *a, int n)
{
    int k = 0;
    for (double end = rk_test_now_ms() + 5000; (k = count_spares(a)) < n && rk_test_now_ms() < end;)
        rk_test_sleep_ms(5);
    return k;
}

/* Runs job id (writes an artifact) to completion and checks its result. */
static void run_job(rk_test_agent_t *a, const char *id)
{
    json_t *job = rk_test_job_sh(id, "echo hi > \"$RUCKUS_OUTPUT_DIR/a.txt\"; echo out");
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    char *st = rk_test_agent_wait(a, id, NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    json_t *res = rk_test_agent_result(a, id);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_array_get(json_object_get(res, "artifacts"), 0)),
                        "a.txt");
    json_decref(res);
    json_decref(job);
}

static size_t available(rk_test_agent_t *a)
{
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", "/api/v1/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    size_t n = json_array_size(json_object_get(r.json, "available_results"));
    rk_test_resp_cleanup(&r);
    return n;
}

static void test_spares_used_and_restart(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, NULL, NULL), 0);
    /* 2 x slots + 2 are made ahead. */
    assert_int_equal(wait_spares(&a, 6), 6);
    run_job(&a, "job_s1");
    assert_int_equal(wait_spares(&a, 6), 6); /* refilled */
    assert_int_equal(available(&a), 1);      /* spares are not jobs */
    rk_test_resp_t r;
    /* A spare's name is no id ('~'), so it cannot even be asked for. */
    rk_test_req(&a.p, "GET", "/api/v1/status/.pool~0", NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    rk_test_resp_cleanup(&r);

    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_true(count_spares(&a) > 0);
    assert_int_equal(rk_test_agent_restart(&a, 2, NULL, NULL), 0);
    assert_int_equal(available(&a), 1);
    char *st = rk_test_agent_state(&a, "job_s1");
    assert_string_equal(st, "completed");
    free(st);
    assert_int_equal(wait_spares(&a, 6), 6);
    run_job(&a, "job_s2");
    assert_int_equal(available(&a), 2);
    rk_test_agent_cleanup(&a);
}

static void test_no_spares(void **state)
{
    (void)state;
    rk_test_agent_t a;
    const char *env[] = {"RUCKUS_AGENT_TEST_SPARES=0", NULL};
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, env), 0);
    run_job(&a, "job_n1");
    run_job(&a, "job_n2");
    assert_int_equal(count_spares(&a), 0);
    assert_int_equal(available(&a), 2);
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spares_used_and_restart),
        cmocka_unit_test(test_no_spares),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
