/* ruckus-agent under churn: short jobs POSTed one after another with a
 * DELETE sent at the same moment as each POST (every third one once the
 * agent knows the job), so cancels land before the
 * job is known, while its child is being spawned (the agent's lock is
 * dropped then), while it runs and after it ended. Every job must end, and
 * end as its DELETE's answer says: 202 -> cancelled, 404 or 409 ->
 * completed; no process of any job may be left; the agent stops cleanly
 * (exit 0, no sanitizer report: rk_test_agent_cleanup checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "rk_test_agent.h"

typedef struct post {
    const rk_test_agent_t *a;
    json_t *job;
    long status;
} post_t;

static void *post_main(void *arg)
{
    post_t *p = arg;
    p->status = rk_test_agent_submit(p->a, p->job);
    return NULL;
}

static long delete_job(rk_test_agent_t *a, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    rk_test_resp_t r;
    rk_test_req(&a->p, "DELETE", path, NULL, NULL, &r);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

/* n jobs, each POSTed from a thread while the DELETE goes out here. */
static void churn(const char *const *env, const char *prefix, int n)
{
    static const char *const args[] = {"--grace", "0.2", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, args, env), 0);
    int cancelled = 0, completed = 0;
    for (int i = 0; i < n; i++) {
        char id[64], script[64];
        snprintf(id, sizeof id, "%s_%d", prefix, i);
        snprintf(script, sizeof script, "sleep 0.0%d", 1 + i % 4);
        post_t p = {&a, rk_test_job_sh(id, script), 0};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, post_main, &p), 0);
        /* Every third DELETE waits until the agent knows the job, so that
         * some surely land on a live one whatever the timing. */
        char *known = NULL;
        for (double end = rk_test_now_ms() + 5000; i % 3 == 0 && !known && rk_test_now_ms() < end;)
            if (!(known = rk_test_agent_state(&a, id)))
                rk_test_sleep_ms(1);
        free(known);
        long del = delete_job(&a, id);
        pthread_join(t, NULL);
        json_decref(p.job);
        assert_int_equal(p.status, 200);
        char *st = rk_test_agent_wait(&a, id, NULL, 10000);
        assert_non_null(st);
        if (del == 202) {
            assert_string_equal(st, "cancelled");
            cancelled++;
        } else {
            assert_true(del == 404 || del == 409);
            assert_string_equal(st, "completed");
            completed++;
        }
        free(st);
    }
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s_%d", prefix, i);
        assert_true(rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, id}, 3000));
    }
    printf("# %s: %d jobs, %d cancelled, %d completed\n", prefix, n, cancelled, completed);
    assert_true(cancelled > 0); /* the DELETEs did land on live jobs */
    rk_test_agent_cleanup(&a);
}

static void test_churn(void **state)
{
    (void)state;
    churn(NULL, "job_churn", 120);
}

/* The same with the spawn made 3 ms longer, so many DELETEs come while
 * the child is being spawned. */
static void test_churn_slow_spawn(void **state)
{
    (void)state;
    static const char *const env[] = {RK_AGENT_TEST_SPAWN_DELAY_ENV "=3", NULL};
    churn(env, "job_slowspawn", 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_churn_slow_spawn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
