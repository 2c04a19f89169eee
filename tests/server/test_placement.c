/* Placement on any matching agent (issue 11) in the job manager, driven
 * step by step (mgr_fixture.h): a job without an agent waits unplaced in
 * its pool and goes to the least loaded agent that can run it; a selector
 * keeps it to matching agents; a job only a busy agent can take does not
 * hold up the others; a busy answer or a failed commit puts it back
 * unplaced; unplaced jobs survive a restart; exclusive jobs wait for an
 * idle agent; and at 100,000 unplaced jobs each free slot takes one.
 */
/* Helpers of the shared fixture this file does not need. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mgr_fixture.h"

/* Registers agent id at port with slots and labels (a JSON object text,
 * or NULL). */
static srv_agent_t *add_labelled(fx_t *f, const char *id, int port, int slots, const char *labels)
{
    char text[768];
    snprintf(text, sizeof text,
             "{\"agent_id\":\"%s\",\"agent_type\":\"white_box\",\"system_info\":{\"os\":\"x\"},"
             "\"capabilities\":{\"slots\":%d,\"task_types\":[\"command\"]},%s%s%s"
             "\"last_updated\":\"2026-01-01T00:00:00Z\",\"agent_url\":\"http://127.0.0.1:%d\","
             "\"registered_at\":\"2026-01-01T00:00:01Z\"}",
             id, slots, labels ? "\"labels\":" : "", labels ? labels : "", labels ? "," : "", port);
    json_t *v = load(text);
    rk_registered_agent_t a = {0};
    rk_verr_t e = {{0}};
    if (rk_registered_agent_decode(v, "", &a, &e))
        fail_msg("agent: %s", e.msg);
    json_decref(v);
    assert_int_equal(rk_store_agent_put(f->store, &a), 0);
    srv_agent_t *sa = srv__agent_add(f->m, &a, NULL);
    assert_non_null(sa);
    sa->health_at = INT64_MAX;
    rk_registered_agent_cleanup(&a);
    return sa;
}

/* n jobs named prefix0.. for any agent (selector: labels JSON or NULL),
 * handed to the manager in one create and run until settled. */
static void create_any(fx_t *f, waiter_t *w, const char *prefix, size_t n, const char *selector,
                       bool exclusive)
{
    rk_job_info_t *jobs = calloc(n, sizeof *jobs);
    int64_t *timeouts = calloc(n, sizeof *timeouts);
    for (size_t i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s%zu", prefix, i);
        jobs[i].job_id = strdup(id);
        jobs[i].experiment_id = strdup(f->exp_id);
        jobs[i].created_time = rk_time_now_us();
        jobs[i].exclusive = exclusive;
        if (selector)
            jobs[i].selector_labels = load(selector);
        timeouts[i] = 60;
    }
    assert_int_equal(rk_srv_mgr_create(f->m, (rk_http_wait_t *)w, jobs, timeouts, n, n == 1), 0);
    settle(f); /* answered once each job is queued or its agent took it */
}

/* The stored agent_id of job_id ("" while unplaced). */
static void stored_agent(fx_t *f, const char *job_id, char *out, size_t n)
{
    rk_job_info_t ji = {0};
    assert_int_equal(rk_store_job_get(f->store, job_id, false, &ji), 0);
    snprintf(out, n, "%s", ji.agent_id ? ji.agent_id : "");
    rk_job_info_cleanup(&ji);
}

static void assert_agent(fx_t *f, const char *job_id, const char *want)
{
    char got[64];
    stored_agent(f, job_id, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("job %s stored on agent '%s', expected '%s'", job_id, got, want);
}

static void least_loaded_first(void **state)
{
    fx_t *f = *state;
    /* a1 (fixture, 1 slot), a2 and a3 (2 slots each). */
    add_labelled(f, "a2", 9002, 2, NULL);
    add_labelled(f, "a3", 9003, 2, NULL);
    f->agent->n_running = 0;
    create_any(f, &f->w[0], "j", 4, NULL, false);
    /* j0 -> a1 (0/1), j1 -> a2 (0/2; a tie, and neither was given a job
     * yet: list order), j2 -> a3 (0/2 beats a2's 1/2), j3 -> a2 (both 1/2:
     * a2 was given its job longer ago). */
    assert_agent(f, "j0", "a1");
    assert_agent(f, "j1", "a2");
    assert_agent(f, "j2", "a3");
    assert_agent(f, "j3", "a2");
    assert_int_equal(count(&f->script, "submit", ":9/"), 1);
    assert_int_equal(count(&f->script, "submit", ":9002/"), 2);
    assert_int_equal(count(&f->script, "submit", ":9003/"), 1);
    /* The create's answer (once the agents took them) names where each
     * went. */
    assert_int_equal(f->w[0].status, 0);
    rec_t *r;
    while ((r = pending(&f->script, "submit", "/jobs")))
        answer(r, 202, "{}");
    settle(f);
    assert_int_equal(f->w[0].status, 201);
    json_t *arr = json_object_get(f->w[0].body, "jobs");
    assert_int_equal(json_array_size(arr), 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "agent_id")),
                        "a1");
    /* A fifth takes the last free slot (a3's second); a sixth waits,
     * unplaced, shown with agent_id null. */
    create_any(f, &f->w[1], "k", 1, NULL, false);
    assert_agent(f, "k0", "a3");
    create_any(f, &f->w[2], "l", 1, NULL, false);
    assert_int_equal(f->w[2].status, 201);
    assert_agent(f, "l0", "");
    assert_true(json_is_null(json_object_get(f->w[2].body, "agent_id")));
    assert_string_equal(answer_status(&f->w[2]), "queued");
}

static void selector_keeps_to_matching_agents(void **state)
{
    fx_t *f = *state;
    f->agent->hold_until = INT64_MAX; /* a1 (no labels) takes nothing */
    srv_agent_t *gpu = add_labelled(f, "g1", 9010, 1, "{\"gpu\":\"yes\"}");
    add_labelled(f, "c1", 9011, 4, "{\"gpu\":\"no\"}");
    /* Two gpu jobs: the first takes g1, the second waits for it. */
    create_any(f, &f->w[0], "g", 2, "{\"gpu\":\"yes\"}", false);
    assert_agent(f, "g0", "g1");
    assert_agent(f, "g1", "");
    /* Jobs behind it that any agent can run are not held up by it. */
    create_any(f, &f->w[1], "c", 3, NULL, false);
    assert_agent(f, "c0", "c1");
    assert_agent(f, "c1", "c1");
    assert_agent(f, "c2", "c1");
    assert_int_equal(count(&f->script, "submit", ":9010/"), 1);
    assert_int_equal(gpu->n_running, 1);
    /* g1's job ends: the waiting gpu job goes there, nowhere else. */
    answer(pending(&f->script, "submit", ":9010/"), 202, "{}");
    settle(f);
    rec_t *poll = pending(&f->script, "status", ":9010/");
    answer(poll, 200,
           "{\"job_id\":\"g0\",\"status\":\"completed\",\"timestamp\":\"2026-01-01T00:00:02Z\"}");
    settle(f);
    char body[512];
    result_body(body, sizeof body, "g0", f->exp_id);
    answer(pending(&f->script, "result", ":9010/"), 200, body);
    settle(f);
    assert_int_equal(stored(f, "g0", NULL, 0), RK_JOB_COMPLETED);
    assert_agent(f, "g1", "g1");
    assert_int_equal(count(&f->script, "submit", ":9010/"), 2);
    assert_int_equal(count(&f->script, "submit", ":9/"), 0);
}

static void busy_answer_puts_it_back_unplaced(void **state)
{
    fx_t *f = *state;
    add_labelled(f, "a2", 9002, 1, NULL);
    create_any(f, &f->w[0], "j", 1, NULL, false);
    assert_agent(f, "j0", "a1");
    /* a1 says busy: the job goes back to its pool, unplaced, and a2 (not
     * held) takes it. */
    answer(pending(&f->script, "submit", ":9/"), 409, "{\"detail\":\"no free slot\"}");
    settle(f);
    assert_agent(f, "j0", "a2");
    assert_int_equal(count(&f->script, "submit", ":9002/"), 1);
    assert_int_equal(f->agent->n_running, 0);
}

static void failed_commit_leaves_it_unplaced(void **state)
{
    fx_t *f = *state;
    f->agent->hold_until = INT64_MAX;
    create_any(f, &f->w[0], "j", 1, NULL, false);
    assert_agent(f, "j0", "");
    /* The commit that would place it fails: memory goes back to the store's
     * view (unplaced, queued), nothing is sent; the next try places it. */
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    f->agent->hold_until = 0;
    srv__mgr_step(f->m, 0);
    assert_agent(f, "j0", "");
    assert_int_equal(stored(f, "j0", NULL, 0), RK_JOB_QUEUED);
    assert_int_equal(f->agent->n_running, 0);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 0);
    settle(f);
    assert_agent(f, "j0", "a1");
    assert_int_equal(stored(f, "j0", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
}

static void unplaced_jobs_survive_a_restart(void **state)
{
    fx_t *f = *state;
    f->agent->hold_until = INT64_MAX;
    create_any(f, &f->w[0], "j", 3, NULL, false);
    waiter_t *w = &f->w[1];
    assert_int_equal(rk_srv_mgr_pause(f->m, (rk_http_wait_t *)w, "j1"), 0);
    settle(f);
    assert_int_equal(w->status, 200);
    rk_srv_mgr_free(f->m);
    rk_srv_mgr_config_t cfg = {
        .poll_interval_s = 0.2, .agent_timeout_s = 3600, .timeout_grace_s = 60};
    assert_int_equal(rk_srv_mgr_new(&f->srv, &cfg, &f->m), 0);
    srv__mgr_set_transport(f->m, &scripted, &f->script);
    f->m->reply_finish = reply_finish;
    f->m->reply_release = reply_release;
    assert_int_equal(rk_srv_mgr_recover(f->m), 0);
    f->agent = srv__agent_find(f->m, "a1");
    f->agent->health_at = INT64_MAX;
    f->agent->slots = 3;
    settle(f);
    /* The queued ones are placed; the paused one stays paused, unplaced. */
    assert_agent(f, "j0", "a1");
    assert_agent(f, "j2", "a1");
    assert_agent(f, "j1", "");
    assert_int_equal(stored(f, "j1", NULL, 0), RK_JOB_PAUSED);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
    /* Resumed, it is placed too. */
    json_decref(w->body);
    *w = (waiter_t){0};
    assert_int_equal(rk_srv_mgr_resume(f->m, (rk_http_wait_t *)w, "j1"), 0);
    settle(f);
    assert_int_equal(w->status, 200);
    assert_agent(f, "j1", "a1");
}

static void exclusive_waits_for_an_idle_agent(void **state)
{
    fx_t *f = *state;
    f->agent->slots = 2;
    create(f, &f->w[0], "own", "a1"); /* a1 runs one job of its own */
    create_any(f, &f->w[1], "x", 1, NULL, true);
    assert_agent(f, "x0", "");
    /* A non-exclusive job behind it still takes a1's free slot. */
    create_any(f, &f->w[2], "n", 1, NULL, false);
    assert_agent(f, "n0", "a1");
    /* A second agent, idle: the exclusive job goes there, and nothing
     * else starts beside it. */
    srv_agent_t *a2 = add_labelled(f, "a2", 9002, 4, NULL);
    settle(f);
    assert_agent(f, "x0", "a2");
    create_any(f, &f->w[3], "m", 1, NULL, false);
    assert_agent(f, "m0", "");
    assert_int_equal(a2->n_running, 1);
}

static void priority_orders_pools_and_own_queues(void **state)
{
    fx_t *f = *state;
    f->agent->hold_until = INT64_MAX;
    create(f, &f->w[0], "own_low", "a1");
    /* own_low is medium; an "any" job of critical priority goes first. */
    rk_job_info_t *jobs = calloc(1, sizeof *jobs);
    int64_t *timeouts = calloc(1, sizeof *timeouts);
    jobs[0].job_id = strdup("crit");
    jobs[0].experiment_id = strdup(f->exp_id);
    jobs[0].created_time = rk_time_now_us();
    jobs[0].priority = RK_PRIO_CRITICAL;
    timeouts[0] = 60;
    assert_int_equal(rk_srv_mgr_create(f->m, (rk_http_wait_t *)&f->w[1], jobs, timeouts, 1, true),
                     0);
    settle(f);
    f->agent->hold_until = 0;
    settle(f);
    assert_agent(f, "crit", "a1");
    assert_int_equal(stored(f, "crit", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(stored(f, "own_low", NULL, 0), RK_JOB_QUEUED);
}

static void scale_100k_unplaced(void **state)
{
    fx_t *f = *state;
    enum { N = 100000 };
    f->agent->hold_until = INT64_MAX;
    srv_agent_t *a[4];
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        a[i] = add_labelled(f, id, 9100 + i, 4, NULL);
        a[i]->hold_until = INT64_MAX;
    }
    for (int b = 0; b < 10; b++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "b%d_", b);
        create_any(f, &f->w[b], prefix, N / 10, NULL, false);
    }
    srv_agent_t *pool = f->m->pools;
    assert_non_null(pool);
    assert_null(pool->pool->next_pool); /* one pool: same experiment, no selector */
    assert_int_equal(pool->n_queued, N);
    /* The agents free up: each takes exactly its slots, in arrival order. */
    for (int i = 0; i < 4; i++)
        a[i]->hold_until = 0;
    settle(f);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 16);
    for (int i = 0; i < 4; i++)
        assert_int_equal(a[i]->n_running, 4);
    assert_int_equal(pool->n_queued, N - 16);
    for (int k = 0; k < 16; k++) {
        char id[16];
        snprintf(id, sizeof id, "b0_%d", k);
        assert_int_equal(stored(f, id, NULL, 0), RK_JOB_ASSIGNED);
    }
    assert_int_equal(stored(f, "b0_16", NULL, 0), RK_JOB_QUEUED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(least_loaded_first, setup, teardown),
        cmocka_unit_test_setup_teardown(selector_keeps_to_matching_agents, setup, teardown),
        cmocka_unit_test_setup_teardown(busy_answer_puts_it_back_unplaced, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_commit_leaves_it_unplaced, setup, teardown),
        cmocka_unit_test_setup_teardown(unplaced_jobs_survive_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(exclusive_waits_for_an_idle_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(priority_orders_pools_and_own_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(scale_100k_unplaced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
