/* Dispatch under concurrency, proved from the workloads' own log (written
 * under flock), not from what the server reports: 50 POST /jobs at once at
 * a one-slot agent run one at a time, each exactly once; an agent with 3
 * slots runs 3 at once and never more; POST /experiments/{id}/run starts
 * one job on each of 3 agents.
 */
#include <pthread.h>

#include "server_fixture.h"

#define N_CONCURRENT 50

typedef struct poster {
    fx_t *f;
    const char *exp;
    long status;
    char id[32];
    char state[16];
} poster_t;

static void *post_one(void *arg)
{
    poster_t *p = arg;
    json_t *b = json_pack("{s:s,s:s}", "experiment_id", p->exp, "agent_id", p->f->agent_ids[0]);
    rk_test_resp_t r;
    rk_test_req_json(&p->f->srv, "POST", "/api/v1/jobs", b, NULL, &r);
    p->status = r.status;
    if (r.json) {
        snprintf(p->id, sizeof p->id, "%s", fx_id(r.json) ? fx_id(r.json) : "");
        snprintf(p->state, sizeof p->state, "%s", fx_state(r.json) ? fx_state(r.json) : "");
    }
    rk_test_resp_cleanup(&r);
    json_decref(b);
    return NULL;
}

static void test_fifty_at_once(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", (const char *const[]){"--threads", "8", NULL});
    fx_agent_start(&f, 0, 1, NULL);
    char script[4096], exp[32];
    fx_logged_script(&f, "0.01", "", script, sizeof script);
    fx_experiment(&f, "fifty", script, 0, exp);
    static poster_t p[N_CONCURRENT];
    pthread_t th[N_CONCURRENT];
    for (int i = 0; i < N_CONCURRENT; i++) {
        p[i] = (poster_t){.f = &f, .exp = exp};
        assert_int_equal(pthread_create(&th[i], NULL, post_one, &p[i]), 0);
    }
    int dispatched = 0;
    for (int i = 0; i < N_CONCURRENT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].status, 201);
        dispatched += strcmp(p[i].state, "queued") != 0;
    }
    /* never more than the one slot's worth accepted before the answers */
    assert_true(dispatched >= 1 && dispatched <= N_CONCURRENT);
    const char *ids[N_CONCURRENT];
    for (int i = 0; i < N_CONCURRENT; i++) {
        ids[i] = p[i].id;
        json_t *j = fx_wait_job(&f, ids[i], "completed", 30000);
        json_decref(j);
    }
    int starts[N_CONCURRENT];
    fx_log_check(&f, 1, ids, N_CONCURRENT, starts);
    for (int i = 0; i < N_CONCURRENT; i++)
        assert_int_equal(starts[i], 1);
    long st;
    json_t *res = fx_call(&f, "GET", "/api/v1/results?limit=100", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(res, "results")), N_CONCURRENT);
    json_decref(res);
    fx_cleanup(&f);
}

static void test_three_slots(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "memory", NULL);
    fx_agent_start(&f, 0, 3, NULL);
    char script[4096], exp[32];
    fx_logged_script(&f, "0.4", "", script, sizeof script);
    fx_experiment(&f, "three", script, 0, exp);
    json_t *jobs[7];
    const char *ids[7];
    int live = 0;
    for (int i = 0; i < 7; i++) {
        jobs[i] = fx_job(&f, exp, 0, 201);
        ids[i] = fx_id(jobs[i]);
        live += strcmp(fx_state(jobs[i]), "queued") != 0;
    }
    assert_int_equal(live, 3); /* three slots: three dispatched, four queued */
    for (int i = 0; i < 7; i++)
        json_decref(fx_wait_job(&f, ids[i], "completed", 20000));
    int starts[7];
    fx_log_check(&f, 3, ids, 7, starts);
    for (int i = 0; i < 7; i++)
        assert_int_equal(starts[i], 1);
    /* and three did run at the same time */
    char *text = rk_test_read_file(f.log, NULL);
    assert_non_null(text);
    assert_true(!strncmp(text, "start", 5));
    int open = 0, peak = 0;
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        open += !strncmp(l, "start", 5) ? 1 : !strncmp(l, "end", 3) ? -1 : 0;
        peak = open > peak ? open : peak;
    }
    free(text);
    assert_int_equal(peak, 3);
    for (int i = 0; i < 7; i++)
        json_decref(jobs[i]);
    fx_cleanup(&f);
}

static void test_run_on_three_agents(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    for (int i = 0; i < 3; i++)
        fx_agent_start(&f, i, 1, NULL);
    char exp[32];
    fx_experiment(&f, "compare", "echo $RUCKUS_JOB_ID", 0, exp);
    long st;
    json_t *v = fx_callf(&f, "POST", &st, NULL, "/api/v1/experiments/%s/run", exp);
    assert_int_equal(st, 201);
    json_t *jobs = json_object_get(v, "jobs");
    assert_int_equal(json_array_size(jobs), 3);
    bool seen[3] = {false};
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j)
    {
        const char *agent = json_string_value(json_object_get(j, "agent_id"));
        for (int k = 0; k < 3; k++)
            if (!strcmp(agent, f.agent_ids[k]))
                seen[k] = true;
        assert_string_not_equal(fx_state(j), "queued"); /* all idle: all dispatched */
        json_decref(fx_wait_job(&f, fx_id(j), "completed", 10000));
    }
    assert_true(seen[0] && seen[1] && seen[2]);
    json_decref(v);
    /* listed agents only; results filter by experiment */
    json_t *b = json_pack("{s:[s]}", "agent_ids", f.agent_ids[1]);
    v = fx_callf(&f, "POST", &st, b, "/api/v1/experiments/%s/run", exp);
    json_decref(b);
    assert_int_equal(st, 201);
    assert_int_equal(json_array_size(json_object_get(v, "jobs")), 1);
    json_decref(
        fx_wait_job(&f, fx_id(json_array_get(json_object_get(v, "jobs"), 0)), "completed", 10000));
    json_decref(v);
    v = fx_callf(&f, "GET", &st, NULL, "/api/v1/results?experiment_id=%s", exp);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 4);
    json_decref(v);
    v = fx_callf(&f, "GET", &st, NULL, "/api/v1/results?agent_id=%s", f.agent_ids[1]);
    assert_int_equal(json_array_size(json_object_get(v, "results")), 2);
    json_decref(v);
    /* compatibility: every agent can run a command; none has 64 GPUs */
    b = json_pack("{s:s}", "experiment_id", exp);
    v = fx_call(&f, "POST", "/api/v1/agents/compatibility/check", b, &st);
    json_decref(b);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "compatible_agents_count")), 3);
    json_decref(v);
    b = json_pack("{s:{s:s,s:s,s:{s:s,s:s,s:{s:[s]}},s:{s:s},s:{s:{}},s:{s:{s:i}}}}",
                  "experiment_spec", "name", "gpu", "model", "m", "task", "name", "t", "type",
                  "command", "params", "argv", "true", "framework", "name", "x", "metrics",
                  "metrics", "capability_requirements", "gpu_requirements", "min_gpu_count", 64);
    v = fx_call(&f, "POST", "/api/v1/agents/compatibility/check", b, &st);
    json_decref(b);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "compatible_agents_count")), 0);
    json_t *first = json_array_get(json_object_get(v, "compatibility_results"), 0);
    assert_false(json_is_true(json_object_get(first, "can_run")));
    assert_true(json_array_size(json_object_get(first, "missing_requirements")) >= 1);
    json_decref(v);
    /* live status of all agents at once */
    v = fx_call(&f, "GET", "/api/v1/agents/status", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(v, "agents")), 3);
    json_decref(v);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifty_at_once),
        cmocka_unit_test(test_three_slots),
        cmocka_unit_test(test_run_on_three_agents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
