/* Queue control in the job manager (issue 11), driven step by step
 * (mgr_fixture.h): priorities order each agent's queue (highest level
 * first, then arrival); a slot that frees takes the first job of the
 * highest level; PATCH moves a queued job at once, is refused once it
 * started, and a failed commit puts it back where it was; the cost of a
 * priority change does not grow with the queue.
 */
/* Helpers of the shared fixture this file does not need. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mgr_fixture.h"

/* POST /jobs of one job of priority prio for a1, run until settled. */
static void create_prio(fx_t *f, waiter_t *w, const char *job_id, rk_job_priority_t prio)
{
    rk_job_info_t *jobs = calloc(1, sizeof *jobs);
    int64_t *timeouts = calloc(1, sizeof *timeouts);
    jobs[0].job_id = strdup(job_id);
    jobs[0].experiment_id = strdup(f->exp_id);
    jobs[0].agent_id = strdup("a1");
    jobs[0].created_time = rk_time_now_us();
    jobs[0].priority = prio;
    timeouts[0] = 60;
    assert_int_equal(rk_srv_mgr_create(f->m, (rk_http_wait_t *)w, jobs, timeouts, 1, true), 0);
    settle(f);
    assert_int_equal(w->status, 201);
}

/* PATCH /jobs/{id} {priority}; the answer in w (reset first). */
static void patch(fx_t *f, waiter_t *w, const char *job_id, const char *prio)
{
    json_decref(w->body);
    *w = (waiter_t){0};
    assert_int_equal(rk_srv_mgr_priority(f->m, (rk_http_wait_t *)w, job_id, prio), 0);
    settle(f);
}

/* The agent's queue in dispatch order, as "id,id,...". */
static void queue_order(srv_agent_t *a, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (srv_job_t *j = srv__queue_first(a); j; j = srv__queue_next(j))
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", j->job_id);
}

static rk_job_priority_t stored_prio(fx_t *f, const char *job_id, size_t *n_history)
{
    rk_job_info_t ji = {0};
    assert_int_equal(rk_store_job_get(f->store, job_id, true, &ji), 0);
    rk_job_priority_t p = ji.priority;
    if (n_history)
        *n_history = ji.n_history;
    rk_job_info_cleanup(&ji);
    return p;
}

static void priorities_order_dispatch_then_arrival(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *id;
        rk_job_priority_t prio;
    } jobs[] = {{"j_l1", RK_PRIO_LOW},      {"j_m1", RK_PRIO_MEDIUM}, {"j_h1", RK_PRIO_HIGH},
                {"j_c1", RK_PRIO_CRITICAL}, {"j_l2", RK_PRIO_LOW},    {"j_c2", RK_PRIO_CRITICAL},
                {"j_m2", RK_PRIO_MEDIUM},   {"j_h2", RK_PRIO_HIGH}};
    const size_t n = sizeof jobs / sizeof jobs[0];
    f->agent->hold_until = INT64_MAX; /* busy: everything stays queued */
    for (size_t i = 0; i < n; i++) {
        create_prio(f, &f->w[i], jobs[i].id, jobs[i].prio);
        assert_string_equal(answer_status(&f->w[i]), "queued");
        assert_string_equal(json_string_value(json_object_get(f->w[i].body, "priority")),
                            rk_job_priority_name(jobs[i].prio));
        assert_int_equal(stored_prio(f, jobs[i].id, NULL), jobs[i].prio);
    }
    char order[256];
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "j_c1,j_c2,j_h1,j_h2,j_m1,j_m2,j_l1,j_l2");
    /* The agent frees up with room for all: they leave in that order. */
    f->agent->slots = (int64_t)n;
    f->agent->hold_until = 0;
    settle(f);
    assert_int_equal(count(&f->script, "submit", "/jobs"), n);
    size_t len = 0;
    for (srv_job_t *j = f->agent->r_head; j; j = j->next)
        len += (size_t)snprintf(order + len, sizeof order - len, "%s%s", len ? "," : "", j->job_id);
    assert_string_equal(order, "j_c1,j_c2,j_h1,j_h2,j_m1,j_m2,j_l1,j_l2");
}

/* The one slot frees (the running job completes and its result is
 * stored): the critical job queued last goes before the low one queued
 * first. */
static void a_freed_slot_takes_the_highest_level(void **state)
{
    fx_t *f = *state;
    accepted(f, "job_run");
    create_prio(f, &f->w[0], "job_low", RK_PRIO_LOW);
    create_prio(f, &f->w[1], "job_crit", RK_PRIO_CRITICAL);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
    answer(pending(&f->script, "status", "/status/job_run"), 200,
           "{\"job_id\":\"job_run\",\"status\":\"completed\","
           "\"timestamp\":\"2026-01-01T00:00:02Z\"}");
    settle(f);
    char body[512];
    result_body(body, sizeof body, "job_run", f->exp_id);
    answer(pending(&f->script, "result", "/results/job_run"), 200, body);
    settle(f);
    assert_int_equal(stored(f, "job_run", NULL, 0), RK_JOB_COMPLETED);
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
    assert_string_equal(f->agent->r_head->job_id, "job_crit");
    assert_int_equal(stored(f, "job_crit", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(stored(f, "job_low", NULL, 0), RK_JOB_QUEUED);
}

static void patch_moves_a_queued_job_at_once(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    f->agent->hold_until = INT64_MAX;
    create_prio(f, &f->w[0], "job_a", RK_PRIO_LOW);
    create_prio(f, &f->w[1], "job_b", RK_PRIO_LOW);
    create_prio(f, &f->w[2], "job_c", RK_PRIO_LOW);
    char order[128];
    patch(f, w, "job_c", "critical");
    assert_int_equal(w->status, 200);
    assert_string_equal(json_string_value(json_object_get(w->body, "priority")), "critical");
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_c,job_a,job_b");
    size_t hist = 0;
    assert_int_equal(stored_prio(f, "job_c", &hist), RK_PRIO_CRITICAL);
    assert_int_equal(hist, 1); /* no history entry for a priority */
    patch(f, w, "job_b", "high");
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_c,job_b,job_a");
    /* Back to low: by arrival within its level again. */
    patch(f, w, "job_c", "low");
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_b,job_a,job_c");
    patch(f, w, "job_c", "low"); /* the same level: nothing moves */
    assert_int_equal(w->status, 200);
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_b,job_a,job_c");

    /* Started (assigned): 409; unknown: 404. */
    f->agent->hold_until = 0;
    settle(f);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_ASSIGNED);
    patch(f, w, "job_b", "low");
    assert_int_equal(w->status, 409);
    assert_non_null(strstr(json_string_value(json_object_get(w->body, "detail")), "started"));
    assert_int_equal(stored_prio(f, "job_b", NULL), RK_PRIO_HIGH);
    patch(f, w, "job_nope", "low");
    assert_int_equal(w->status, 404);
}

static void a_failed_priority_commit_leaves_the_job_in_its_place(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    f->agent->hold_until = INT64_MAX;
    create_prio(f, &f->w[0], "job_a", RK_PRIO_MEDIUM);
    create_prio(f, &f->w[1], "job_b", RK_PRIO_MEDIUM);
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    patch(f, w, "job_b", "critical");
    assert_int_equal(w->status, 503);
    char order[128];
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_a,job_b");
    assert_int_equal(stored_prio(f, "job_b", NULL), RK_PRIO_MEDIUM);
    srv_job_t *b = srv__queue_next(srv__queue_first(f->agent));
    assert_int_equal(b->prio, RK_PRIO_MEDIUM);
    /* The storage is back: the change goes through. */
    patch(f, w, "job_b", "critical");
    assert_int_equal(w->status, 200);
    queue_order(f->agent, order, sizeof order);
    assert_string_equal(order, "job_b,job_a");
}

/* POST /jobs of an exclusive job for a1, run until settled. */
static void create_exclusive(fx_t *f, waiter_t *w, const char *job_id)
{
    rk_job_info_t *jobs = calloc(1, sizeof *jobs);
    int64_t *timeouts = calloc(1, sizeof *timeouts);
    jobs[0].job_id = strdup(job_id);
    jobs[0].experiment_id = strdup(f->exp_id);
    jobs[0].agent_id = strdup("a1");
    jobs[0].created_time = rk_time_now_us();
    jobs[0].priority = RK_PRIO_MEDIUM;
    jobs[0].exclusive = true;
    timeouts[0] = 60;
    assert_int_equal(rk_srv_mgr_create(f->m, (rk_http_wait_t *)w, jobs, timeouts, 1, true), 0);
    settle(f);
    assert_int_equal(w->status, 201);
    assert_true(json_is_true(json_object_get(w->body, "exclusive")));
}

/* Completes job_id on the agent (status, then result): its slot frees. */
static void complete(fx_t *f, const char *job_id)
{
    char part[64], body[512];
    snprintf(part, sizeof part, "/status/%s", job_id);
    snprintf(body, sizeof body,
             "{\"job_id\":\"%s\",\"status\":\"completed\",\"timestamp\":\"2026-01-01T00:00:02Z\"}",
             job_id);
    answer(pending(&f->script, "status", part), 200, body);
    settle(f);
    snprintf(part, sizeof part, "/results/%s", job_id);
    result_body(body, sizeof body, job_id, f->exp_id);
    answer(pending(&f->script, "result", part), 200, body);
    settle(f);
    assert_int_equal(stored(f, job_id, NULL, 0), RK_JOB_COMPLETED);
}

/* exclusive: true on a 3-slot agent: it waits for the agent to be idle,
 * then runs alone; nothing starts beside it until it ends. */
static void an_exclusive_job_runs_alone(void **state)
{
    fx_t *f = *state;
    f->agent->slots = 3;
    accepted(f, "job_a"); /* one running */
    create_exclusive(f, &f->w[0], "job_x");
    create_prio(f, &f->w[1], "job_b", RK_PRIO_MEDIUM);
    /* job_x waits for job_a, and job_b waits behind job_x (queue order). */
    assert_int_equal(count(&f->script, "submit", "/jobs"), 1);
    assert_int_equal(stored(f, "job_x", NULL, 0), RK_JOB_QUEUED);
    complete(f, "job_a");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 2);
    assert_int_equal(stored(f, "job_x", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_QUEUED); /* slots free, x is alone */
    answer(pending(&f->script, "submit", "/jobs"), 202, "{}");
    settle(f);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_QUEUED);
    complete(f, "job_x");
    assert_int_equal(count(&f->script, "submit", "/jobs"), 3);
    assert_int_equal(stored(f, "job_b", NULL, 0), RK_JOB_ASSIGNED);
    assert_int_equal(f->agent->n_exclusive, 0);
}

static void cancel_many(fx_t *f, waiter_t *w, int prio, unsigned states)
{
    rk_srv_cancel_filter_t *flt = calloc(1, sizeof *flt);
    flt->priority = prio;
    flt->state_mask = states;
    json_decref(w->body);
    *w = (waiter_t){0};
    assert_int_equal(rk_srv_mgr_cancel_many(f->m, (rk_http_wait_t *)w, flt), 0);
    settle(f);
}

/* DELETE /jobs: only the matching unfinished jobs, in one commit; a
 * failed commit cancels none. */
static void bulk_cancel_takes_the_matching_jobs_in_one_commit(void **state)
{
    fx_t *f = *state;
    waiter_t *w = &f->w[8];
    f->agent->hold_until = INT64_MAX;
    create_prio(f, &f->w[0], "job_l1", RK_PRIO_LOW);
    create_prio(f, &f->w[1], "job_h1", RK_PRIO_HIGH);
    create_prio(f, &f->w[2], "job_l2", RK_PRIO_LOW);
    rk_store_faulty_arm(f->store, RK_FAULTY_COMMIT, RK_EIO, 0, 1);
    cancel_many(f, w, RK_PRIO_LOW, 0);
    assert_int_equal(w->status, 503);
    assert_int_equal(stored(f, "job_l1", NULL, 0), RK_JOB_QUEUED);
    assert_int_equal(f->agent->n_queued, 3);
    unsigned long commits = rk_store_faulty_calls(f->store, RK_FAULTY_COMMIT);
    cancel_many(f, w, RK_PRIO_LOW, 1u << RK_JOB_QUEUED);
    assert_int_equal(w->status, 200);
    assert_int_equal(json_integer_value(json_object_get(w->body, "cancelled")), 2);
    assert_int_equal(rk_store_faulty_calls(f->store, RK_FAULTY_COMMIT) - commits, 1);
    assert_int_equal(stored(f, "job_l1", NULL, 0), RK_JOB_CANCELLED);
    assert_int_equal(stored(f, "job_l2", NULL, 0), RK_JOB_CANCELLED);
    assert_int_equal(stored(f, "job_h1", NULL, 0), RK_JOB_QUEUED);
    assert_int_equal(f->agent->n_queued, 1);
    /* A state no job is in matches nothing. */
    cancel_many(f, w, -1, 1u << RK_JOB_RUNNING);
    assert_int_equal(json_integer_value(json_object_get(w->body, "cancelled")), 0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Moving a job costs what it costs at the head of the queue wherever the
 * job sits in a long queue of mixed priorities (a sorted list would walk
 * to its place). */
static void a_priority_change_costs_the_same_deep_in_a_long_queue(void **state)
{
    fx_t *f = *state;
    const size_t n = getenv("RK_UNDER_VALGRIND") ? 5000 : 200000, k = 40;
    f->agent->hold_until = INT64_MAX;
    rk_job_info_t *jobs = calloc(n, sizeof *jobs);
    int64_t *timeouts = calloc(n, sizeof *timeouts);
    rk_time_t now = rk_time_now_us();
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "job_%06zu", i);
        jobs[i].job_id = strdup(id);
        jobs[i].experiment_id = strdup(f->exp_id);
        jobs[i].agent_id = strdup("a1");
        jobs[i].created_time = now;
        jobs[i].priority = (rk_job_priority_t)(i % RK_PRIORITY_COUNT);
    }
    assert_int_equal(rk_srv_mgr_create(f->m, (rk_http_wait_t *)&f->w[0], jobs, timeouts, n, false),
                     0);
    settle(f);
    assert_int_equal(f->w[0].status, 201);
    assert_int_equal(f->agent->n_queued, n);
    double head[40], tail[40];
    waiter_t *w = &f->w[1];
    for (size_t i = 0; i < k; i++) {
        char id[32];
        const char *to = i % 2 ? "high" : "low";
        snprintf(id, sizeof id, "job_%06zu", i);
        int64_t t0 = rk_time_mono_us();
        patch(f, w, id, to);
        head[i] = (double)(rk_time_mono_us() - t0) / 1000.0;
        assert_int_equal(w->status, 200);
        snprintf(id, sizeof id, "job_%06zu", n - 1 - i);
        t0 = rk_time_mono_us();
        patch(f, w, id, to);
        tail[i] = (double)(rk_time_mono_us() - t0) / 1000.0;
        assert_int_equal(w->status, 200);
    }
    assert_int_equal(f->agent->n_queued, n);
    /* The first to go is the oldest critical one not moved (0..39 were). */
    assert_string_equal(srv__queue_first(f->agent)->job_id, "job_000043");
    qsort(head, k, sizeof *head, cmp_d);
    qsort(tail, k, sizeof *tail, cmp_d);
    if (!getenv("RK_UNDER_VALGRIND"))
        assert_true(tail[k / 2] <= 3 * head[k / 2] + 0.2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(priorities_order_dispatch_then_arrival, setup, teardown),
        cmocka_unit_test_setup_teardown(a_freed_slot_takes_the_highest_level, setup, teardown),
        cmocka_unit_test_setup_teardown(patch_moves_a_queued_job_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_priority_commit_leaves_the_job_in_its_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_exclusive_job_runs_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(bulk_cancel_takes_the_matching_jobs_in_one_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_priority_change_costs_the_same_deep_in_a_long_queue,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
