/* Queue control in storage behaves the same on every backend: a job's
 * priority, exclusive flag and agent selector round-trip through insert,
 * get, list and the start-up scan; an unplaced job reads agent_id NULL and
 * is listed under agent ""; job_set_priority and job_place change a job in
 * place (no history entry), are undone by a rollback and survive a reopen;
 * paused counts as unfinished (scan, cascade delete refused). */
/* Helpers of the shared header this file does not need. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "conformance.h"

static void make_queue_job(rk_store_t *s, const char *id, const char *exp, const char *agent,
                           rk_job_priority_t prio, bool exclusive, const char *selector)
{
    rk_job_info_t j = job_of(id, exp, agent, RK_JOB_QUEUED, 1000);
    j.priority = prio;
    j.exclusive = exclusive;
    j.selector_labels = selector ? load(selector) : NULL;
    assert_int_equal(rk_store_job_insert(s, &j, NULL), 0);
    json_decref(j.selector_labels);
}

static uint64_t total_of(rk_store_t *s, const char *agent)
{
    rk_job_filter_t f = {.agent_id = agent};
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n = 0;
    assert_int_equal(rk_store_job_list(s, &f, &p, &v, &n), 0);
    rk_store_jobs_free(v, n);
    return p.total;
}

typedef struct seen {
    int n;
    char ids[8][16];
    rk_job_priority_t prio[8];
    bool exclusive[8], placed[8];
    char gpu[8][16];
    json_int_t attempt[8];
} seen_t;

static int scan_cb(void *ud, const rk_job_brief_t *b)
{
    seen_t *s = ud;
    assert_true(s->n < 8);
    snprintf(s->ids[s->n], sizeof s->ids[0], "%s", b->job_id);
    s->prio[s->n] = b->priority;
    s->exclusive[s->n] = b->exclusive;
    s->placed[s->n] = b->agent_id != NULL;
    const json_t *g = b->selector_labels ? json_object_get(b->selector_labels, "gpu") : NULL;
    snprintf(s->gpu[s->n], sizeof s->gpu[0], "%s", g ? json_string_value(g) : "");
    s->attempt[s->n] = json_integer_value(json_object_get(b->extra, "attempt"));
    s->n++;
    return 0;
}

static void queue_fields_round_trip(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("q", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    make_queue_job(s, "job_q1", x.id, NULL, RK_PRIO_HIGH, true, "{\"gpu\":\"a100\"}");
    make_queue_job(s, "job_q2", x.id, "a1", RK_PRIO_MEDIUM, false, NULL);

    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(s, "job_q1", true, &j), 0);
    assert_null(j.agent_id);
    assert_int_equal(j.priority, RK_PRIO_HIGH);
    assert_true(j.exclusive);
    assert_string_equal(json_string_value(json_object_get(j.selector_labels, "gpu")), "a100");
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_q2", false, &j), 0);
    assert_string_equal(j.agent_id, "a1");
    assert_false(j.exclusive);
    assert_null(j.selector_labels);
    rk_job_info_cleanup(&j);

    /* A listing by agent "" gives the unplaced job, with its fields. */
    rk_job_filter_t flt = {.agent_id = ""};
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n = 0;
    assert_int_equal(rk_store_job_list(s, &flt, &p, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p.total, 1);
    assert_string_equal(v[0].job_id, "job_q1");
    assert_null(v[0].agent_id);
    assert_int_equal(v[0].priority, RK_PRIO_HIGH);
    assert_non_null(v[0].selector_labels);
    rk_store_jobs_free(v, n);

    seen_t seen = {0};
    assert_int_equal(rk_store_job_scan(s, MASK(RK_JOB_QUEUED), scan_cb, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.ids[0], "job_q1");
    assert_false(seen.placed[0]);
    assert_int_equal(seen.prio[0], RK_PRIO_HIGH);
    assert_true(seen.exclusive[0]);
    assert_string_equal(seen.gpu[0], "a100");
    assert_true(seen.placed[1]);
    assert_string_equal(seen.gpu[1], "");

    /* Bad arguments: "" is not an agent id, a priority out of range. */
    rk_job_info_t bad = job_of("job_q3", x.id, "", RK_JOB_QUEUED, 1000);
    assert_int_equal(rk_store_job_insert(s, &bad, NULL), RK_EINVAL);
    bad.agent_id = "a1";
    bad.priority = RK_PRIORITY_COUNT;
    assert_int_equal(rk_store_job_insert(s, &bad, NULL), RK_EINVAL);
    assert_int_equal(rk_store_job_set_priority(s, "job_q1", RK_PRIORITY_COUNT), RK_EINVAL);
    assert_int_equal(rk_store_job_place(s, "job_q1", ""), RK_EINVAL);
    assert_int_equal(rk_store_job_get(s, "job_q3", false, &j), RK_ENOENT);
    rk_experiment_cleanup(&x);
}

static void priority_and_place_in_place(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("q", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    make_queue_job(s, "job_p1", x.id, NULL, RK_PRIO_LOW, false, "{\"gpu\":\"h100\"}");

    assert_int_equal(rk_store_job_set_priority(s, "job_p1", RK_PRIO_CRITICAL), 0);
    assert_int_equal(rk_store_job_place(s, "job_p1", "a7"), 0);
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(s, "job_p1", true, &j), 0);
    assert_int_equal(j.priority, RK_PRIO_CRITICAL);
    assert_string_equal(j.agent_id, "a7");
    assert_int_equal(j.n_history, 1); /* no history entry for either */
    rk_job_info_cleanup(&j);
    assert_int_equal(total_of(s, "a7"), 1);
    assert_int_equal(total_of(s, ""), 0);

    /* A rollback undoes both. */
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_job_set_priority(s, "job_p1", RK_PRIO_LOW), 0);
    assert_int_equal(rk_store_job_place(s, "job_p1", "a8"), 0);
    assert_int_equal(total_of(s, "a8"), 1); /* the transaction sees its own writes */
    assert_int_equal(rk_store_rollback(s), 0);
    assert_int_equal(rk_store_job_get(s, "job_p1", false, &j), 0);
    assert_int_equal(j.priority, RK_PRIO_CRITICAL);
    assert_string_equal(j.agent_id, "a7");
    rk_job_info_cleanup(&j);
    assert_int_equal(total_of(s, "a8"), 0);
    assert_int_equal(total_of(s, "a7"), 1);

    /* Back to unplaced (a drained "any" job returns to the server queue). */
    assert_int_equal(rk_store_job_place(s, "job_p1", NULL), 0);
    assert_int_equal(total_of(s, ""), 1);
    assert_int_equal(total_of(s, "a7"), 0);
    assert_int_equal(rk_store_job_place(s, "job_p1", "a9"), 0);

    assert_int_equal(rk_store_job_set_priority(s, "job_nope", RK_PRIO_LOW), RK_ENOENT);
    assert_int_equal(rk_store_job_place(s, "job_nope", "a1"), RK_ENOENT);

    /* Durable: a reopen reads the same (memory has nothing to reopen). */
    if (strcmp(backend, "memory") != 0) {
        rk_store_close(f->s);
        f->s = NULL;
        assert_int_equal(rk_store_open(backend, f->path, &f->s), 0);
        assert_int_equal(rk_store_job_get(f->s, "job_p1", false, &j), 0);
        assert_int_equal(j.priority, RK_PRIO_CRITICAL);
        assert_string_equal(j.agent_id, "a9");
        assert_string_equal(json_string_value(json_object_get(j.selector_labels, "gpu")), "h100");
        rk_job_info_cleanup(&j);
    }
    rk_experiment_cleanup(&x);
}

static void paused_counts_as_unfinished(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("q", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    insert_job(s, "job_u1", x.id, "a1", RK_JOB_QUEUED);
    insert_job(s, "job_u2", x.id, "a1", RK_JOB_QUEUED);
    set_state(s, "job_u1", RK_JOB_PAUSED, "held");
    set_state(s, "job_u2", RK_JOB_COMPLETED, "done");

    unsigned unfinished =
        MASK(RK_JOB_QUEUED) | MASK(RK_JOB_ASSIGNED) | MASK(RK_JOB_RUNNING) | MASK(RK_JOB_PAUSED);
    seen_t seen = {0};
    assert_int_equal(rk_store_job_scan(s, unfinished, scan_cb, &seen), 0);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.ids[0], "job_u1");

    rk_job_filter_t flt = {.state_mask = MASK(RK_JOB_PAUSED), .agent_id = "a1"};
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n = 0;
    assert_int_equal(rk_store_job_list(s, &flt, &p, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p.total, 1);
    rk_store_jobs_free(v, n);

    /* A paused job holds its experiment like any unfinished one. */
    assert_int_equal(rk_store_experiment_delete(s, x.id, true), RK_ESTATE);
    set_state(s, "job_u1", RK_JOB_CANCELLED, "cancelled while paused");
    assert_int_equal(rk_store_experiment_delete(s, x.id, true), 0);
    rk_experiment_cleanup(&x);
}

/* The jobs-over-time extra: stored whole at insert, replaced in place by
 * job_set_extra (no history entry), cleared by NULL or {}, undone by a
 * rollback, given by get, listings and scans, kept across a reopen. */
static void extra_round_trip(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("q", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    rk_job_info_t j = job_of("job_e1", x.id, "a1", RK_JOB_QUEUED, 1000);
    j.extra = load("{\"attempt\":1,\"max_attempts\":3,\"waiting_for\":[\"job_e0\"]}");
    assert_int_equal(rk_store_job_insert(s, &j, NULL), 0);
    json_decref(j.extra);
    insert_job(s, "job_e2", x.id, "a1", RK_JOB_QUEUED);
    j = job_of("job_e3", x.id, "a1", RK_JOB_QUEUED, 1000);
    j.extra = json_string("not an object");
    assert_int_equal(rk_store_job_insert(s, &j, NULL), RK_EINVAL);
    json_decref(j.extra);

    assert_int_equal(rk_store_job_get(s, "job_e1", true, &j), 0);
    assert_int_equal(json_integer_value(json_object_get(j.extra, "max_attempts")), 3);
    assert_int_equal(j.n_history, 1);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_e2", false, &j), 0);
    assert_null(j.extra);
    rk_job_info_cleanup(&j);

    json_t *next =
        load("{\"attempt\":2,\"max_attempts\":3,\"not_before\":\"2026-12-06T00:00:00Z\"}");
    assert_int_equal(rk_store_job_set_extra(s, "job_e1", next), 0);
    assert_int_equal(rk_store_job_set_extra(s, "job_nope", next), RK_ENOENT);
    assert_int_equal(rk_store_job_get(s, "job_e1", true, &j), 0);
    assert_true(json_equal(j.extra, next));
    assert_int_equal(j.n_history, 1); /* no history entry */
    rk_job_info_cleanup(&j);

    /* A rollback undoes a change; a listing and a scan see the extra. */
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_job_set_extra(s, "job_e1", NULL), 0);
    assert_int_equal(rk_store_rollback(s), 0);
    rk_job_filter_t flt = {.agent_id = "a1"};
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n = 0;
    assert_int_equal(rk_store_job_list(s, &flt, &p, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[1].job_id, "job_e1");
    assert_true(json_equal(v[1].extra, next));
    assert_null(v[0].extra);
    rk_store_jobs_free(v, n);
    seen_t seen = {0};
    assert_int_equal(rk_store_job_scan(s, MASK(RK_JOB_QUEUED), scan_cb, &seen), 0);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.attempt[0], 2);
    assert_int_equal(seen.attempt[1], 0);

    /* Durable: a reopen reads the same; {} clears. */
    if (strcmp(backend, "memory") != 0) {
        rk_store_close(f->s);
        f->s = NULL;
        assert_int_equal(rk_store_open(backend, f->path, &f->s), 0);
        s = f->s;
        assert_int_equal(rk_store_job_get(s, "job_e1", false, &j), 0);
        assert_true(json_equal(j.extra, next));
        rk_job_info_cleanup(&j);
    }
    json_t *empty = json_object();
    assert_int_equal(rk_store_job_set_extra(s, "job_e1", empty), 0);
    assert_int_equal(rk_store_job_get(s, "job_e1", false, &j), 0);
    assert_null(j.extra);
    rk_job_info_cleanup(&j);
    json_decref(empty);
    json_decref(next);
    rk_experiment_cleanup(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(queue_fields_round_trip),
        T(priority_and_place_in_place),
        T(paused_counts_as_unfinished),
        T(extra_round_trip),
    };
    return run_all_backends(tests, sizeof tests / sizeof tests[0]);
}
