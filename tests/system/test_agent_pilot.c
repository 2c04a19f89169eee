/* A pilot agent (issue 17, "Agents from Slurm"): ruckus-agent
 * --register-with URL --exit-when-idle S registers itself, runs the jobs
 * it is given, stays while a job runs or a result waits to be collected,
 * then exits 0 on its own, unregistered, with every result kept by the
 * server. A server gone at that moment does not keep it from exiting. */
#include "server_fixture.h"

#include <unistd.h>

/* Starts agent 0 as a pilot of f's server; waits until the server lists
 * it and sets f->agent_ids[0]. */
static void pilot_start(fx_t *f, const char *idle_s)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f->srv.port);
    const char *args[] = {"--register-with", url, "--exit-when-idle", idle_s, NULL};
    assert_int_equal(rk_test_agent_start(&f->agents[0], 1, args, NULL), 0);
    f->n_agents = 1;
    for (int i = 0; i < 200; i++) {
        long st;
        json_t *v = fx_call(f, "GET", "/api/v1/agents", NULL, &st);
        json_t *list = json_object_get(v, "agents");
        if (json_array_size(list) == 1) {
            snprintf(f->agent_ids[0], sizeof f->agent_ids[0], "%s",
                     json_string_value(json_object_get(json_array_get(list, 0), "agent_id")));
            json_decref(v);
            return;
        }
        json_decref(v);
        rk_test_sleep_ms(50);
    }
    fail_msg("the pilot agent did not register");
}

static size_t n_agents(fx_t *f)
{
    long st;
    json_t *v = fx_call(f, "GET", "/api/v1/agents", NULL, &st);
    size_t n = json_array_size(json_object_get(v, "agents"));
    json_decref(v);
    return n;
}

static void test_pilot_runs_then_leaves(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    pilot_start(&f, "1");
    char exp[32], ids[3][64];
    /* Each job outlives the idle period: a running job keeps the pilot. */
    fx_experiment(&f, "pilot", "sleep 1.5; echo '{\"ok\": 1}' > \"$RUCKUS_METRICS_FILE\"", 0, exp);
    for (int i = 0; i < 3; i++) {
        json_t *j = fx_job(&f, exp, 0, 201);
        snprintf(ids[i], sizeof ids[i], "%s", fx_id(j));
        json_decref(j);
    }
    for (int i = 0; i < 3; i++)
        json_decref(fx_wait_job(&f, ids[i], "completed", 30000));
    int status = -1;
    assert_int_equal(rk_test_proc_wait_exit(&f.agents[0].p, 15000, &status), 0);
    assert_int_equal(status, 0);
    assert_true(rk_test_proc_log_has(&f.agents[0].p, "idle: exiting"));
    assert_true(rk_test_proc_log_has(&f.agents[0].p, "unregistered from the server"));
    assert_int_equal(n_agents(&f), 0);
    /* Every result stayed with the server, and no job was cut short. */
    for (int i = 0; i < 3; i++) {
        long st;
        json_t *r = fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s", ids[i]);
        assert_int_equal(st, 200);
        json_decref(r);
        json_t *j = fx_callf(&f, "GET", &st, NULL, "/api/v1/jobs/%s", ids[i]);
        assert_string_equal(fx_state(j), "completed");
        json_decref(j);
    }
    fx_cleanup(&f);
}

static void test_pilot_exits_when_the_server_is_gone(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    pilot_start(&f, "2");
    assert_int_equal(rk_test_proc_stop(&f.srv, SIGTERM, 10000, NULL), 0);
    int status = -1;
    assert_int_equal(rk_test_proc_wait_exit(&f.agents[0].p, 20000, &status), 0);
    assert_int_equal(status, 0);
    assert_true(rk_test_proc_log_has(&f.agents[0].p, "could not unregister from the server"));
    fx_cleanup(&f);
}

static void test_exit_when_idle_is_checked(void **state)
{
    (void)state;
    rk_test_agent_t a;
    memset(&a, 0, sizeof a);
    const char *args[] = {"--exit-when-idle", "-1", NULL};
    assert_int_not_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    assert_true(rk_test_proc_log_has(&a.p, "--exit-when-idle"));
    rk_test_proc_cleanup(&a.p);
    rk_test_rmrf(a.root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pilot_runs_then_leaves),
        cmocka_unit_test(test_pilot_exits_when_the_server_is_gone),
        cmocka_unit_test(test_exit_when_idle_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
