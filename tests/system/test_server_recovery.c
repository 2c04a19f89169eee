/* Crashes and silences: kill -9 of the server mid-run and a restart on the
 * same database (nothing lost, nothing run twice, order kept); kill -9 of
 * an agent that comes back (its job ends failed, the queue goes on); an
 * agent unreachable when a job is created (queued, runs when it is back);
 * an agent silent past --agent-timeout (its running job fails "agent
 * unreachable", its queue waits and runs when it answers again).
 */
#include "server_fixture.h"

static bool log_has(const fx_t *f, const char *needle)
{
    char *t = rk_test_read_file(f->log, NULL);
    bool has = t && strstr(t, needle);
    free(t);
    return has;
}

static void wait_log(const fx_t *f, const char *needle, int ms)
{
    double end = rk_test_now_ms() + ms;
    while (!log_has(f, needle)) {
        assert_true(rk_test_now_ms() < end);
        rk_test_sleep_ms(10);
    }
}

static void test_server_kill9_restart(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char script[4096], exp[32];
    fx_logged_script(&f, "0.3", "", script, sizeof script);
    fx_experiment(&f, "survives", script, 0, exp);
    enum { N = 6 };
    char ids[N][32];
    const char *idp[N];
    for (int i = 0; i < N; i++) {
        json_t *j = fx_job(&f, exp, 0, 201);
        snprintf(ids[i], sizeof ids[i], "%s", fx_id(j));
        idp[i] = ids[i];
        json_decref(j);
    }
    char want[64];
    snprintf(want, sizeof want, "start %s", ids[1]);
    wait_log(&f, want, 10000); /* the second job is running */
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    rk_test_sleep_ms(500); /* the agent finishes the job meanwhile */
    fx_server_start(&f, "sqlite", NULL);
    for (int i = 0; i < N; i++)
        json_decref(fx_wait_job(&f, ids[i], "completed", 20000));
    int starts[N];
    fx_log_check(&f, 1, idp, N, starts);
    for (int i = 0; i < N; i++)
        assert_int_equal(starts[i], 1);
    /* every result is there after the restart too */
    for (int i = 0; i < N; i++) {
        long st;
        json_decref(fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s", ids[i]));
        assert_int_equal(st, 200);
    }
    fx_cleanup(&f);
}

static void test_agent_kill9_returns(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", (const char *const[]){"--agent-timeout", "20", NULL});
    fx_agent_start(&f, 0, 1, NULL);
    char script[4096], exp[32], quick[32];
    fx_logged_script(&f, "30", "", script, sizeof script);
    fx_experiment(&f, "interrupted", script, 0, exp);
    fx_experiment(&f, "after", "true", 0, quick);
    json_t *a = fx_job(&f, exp, 0, 201);
    json_t *b = fx_job(&f, quick, 0, 201);
    assert_string_equal(fx_state(b), "queued");
    char want[64];
    snprintf(want, sizeof want, "start %s", fx_id(a));
    wait_log(&f, want, 10000);
    assert_int_equal(rk_test_proc_kill9(&f.agents[0].p), 0);
    rk_test_sleep_ms(300);
    fx_agent_restart(&f, 0, 1);
    json_t *ea = fx_wait_job(&f, fx_id(a), NULL, 15000);
    assert_string_equal(fx_state(ea), "failed");
    json_t *eb = fx_wait_job(&f, fx_id(b), "completed", 15000);
    json_decref(ea);
    json_decref(eb);
    json_decref(a);
    json_decref(b);
    fx_cleanup(&f);
}

static void test_unreachable_then_back(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL); /* --agent-timeout 2 */
    fx_agent_start(&f, 0, 1, NULL);
    char script[4096], exp[32], quick[32];
    fx_logged_script(&f, "30", "", script, sizeof script);
    fx_experiment(&f, "stranded", script, 0, exp);
    fx_experiment(&f, "waits", "true", 0, quick);

    /* agent down when the job comes: queued, and it runs once it is back */
    assert_int_equal(rk_test_proc_stop(&f.agents[0].p, SIGTERM, 10000, NULL), 0);
    json_t *q = fx_job(&f, quick, 0, 201);
    assert_string_equal(fx_state(q), "queued");
    rk_test_sleep_ms(500);
    json_t *still = fx_get_job(&f, fx_id(q));
    assert_string_equal(fx_state(still), "queued");
    json_decref(still);
    fx_agent_restart(&f, 0, 1);
    json_decref(fx_wait_job(&f, fx_id(q), "completed", 10000));
    json_decref(q);

    /* silent past the agent timeout with a running job: it fails, the
     * queue waits, and runs when the agent answers again */
    json_t *run = fx_job(&f, exp, 0, 201);
    char want[64];
    snprintf(want, sizeof want, "start %s", fx_id(run));
    wait_log(&f, want, 10000);
    assert_int_equal(rk_test_proc_kill9(&f.agents[0].p), 0);
    json_t *later = fx_job(&f, quick, 0, 201);
    assert_string_equal(fx_state(later), "queued");
    json_t *end = fx_wait_job(&f, fx_id(run), "failed", 10000);
    const char *msg = json_string_value(json_object_get(json_object_get(end, "status"), "message"));
    assert_non_null(strstr(msg, "unreachable"));
    json_decref(end);
    json_t *w = fx_get_job(&f, fx_id(later));
    assert_string_equal(fx_state(w), "queued");
    json_decref(w);
    long st;
    json_t *s = fx_callf(&f, "GET", &st, NULL, "/api/v1/agents/%s/status", f.agent_ids[0]);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "agent"), "status")),
                        "unavailable");
    json_decref(s);
    fx_agent_restart(&f, 0, 1);
    json_decref(fx_wait_job(&f, fx_id(later), "completed", 10000));
    json_decref(later);
    json_decref(run);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_kill9_restart),
        cmocka_unit_test(test_agent_kill9_returns),
        cmocka_unit_test(test_unreachable_then_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
