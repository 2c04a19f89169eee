/* Storage conformance, part 1: agents, experiments, jobs, listings, scans
 * and results, run against every registered backend. */
#include "conformance.h"

#include "store/faulty.h"

static void agents_crud(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    rk_registered_agent_t a = {0}, b = {0}, got = {0};
    make_agent("b-agent", "http://h:1", &b);
    make_agent("a-agent", "http://h:2", &a);
    assert_int_equal(rk_store_agent_get(s, "a-agent", &got), RK_ENOENT);
    assert_int_equal(rk_store_agent_put(s, &b), 0);
    assert_int_equal(rk_store_agent_put(s, &a), 0);
    assert_int_equal(rk_store_agent_get(s, "a-agent", &got), 0);
    assert_true(rk_registered_agent_equal(&a, &got));
    assert_non_null(json_object_get(got.info.extra, "unknown_top"));
    rk_registered_agent_cleanup(&got);

    /* put replaces: a new URL for the same agent. */
    rk_registered_agent_t moved = {0};
    make_agent("a-agent", "http://elsewhere:9", &moved);
    assert_int_equal(rk_store_agent_put(s, &moved), 0);
    assert_int_equal(rk_store_agent_get(s, "a-agent", &got), 0);
    assert_string_equal(got.agent_url, "http://elsewhere:9");
    rk_registered_agent_cleanup(&got);

    rk_registered_agent_t *v;
    size_t n;
    assert_int_equal(rk_store_agent_list(s, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].info.agent_id, "a-agent");
    assert_string_equal(v[1].info.agent_id, "b-agent");
    rk_store_agents_free(v, n);

    assert_int_equal(rk_store_agent_delete(s, "a-agent"), 0);
    assert_int_equal(rk_store_agent_delete(s, "a-agent"), RK_ENOENT);
    assert_int_equal(rk_store_agent_get(s, "a-agent", &got), RK_ENOENT);
    assert_int_equal(rk_store_agent_list(s, &v, &n), 0);
    assert_int_equal(n, 1);
    rk_store_agents_free(v, n);
    rk_registered_agent_cleanup(&a);
    rk_registered_agent_cleanup(&b);
    rk_registered_agent_cleanup(&moved);
}

static void experiments_crud_and_unknown_fields(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    rk_experiment_t x = {0}, y = {0}, got = {0};
    make_experiment("first", &x);
    make_experiment("second", &y);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    assert_int_equal(rk_store_experiment_insert(s, &x), RK_EEXIST);
    assert_int_equal(rk_store_experiment_insert(s, &y), 0);
    assert_int_equal(rk_store_experiment_get(s, x.id, &got), 0);
    assert_string_equal(got.id, x.id);
    assert_string_equal(got.name, "first");
    json_t *a = rk_experiment_encode(&x), *b = rk_experiment_encode(&got);
    assert_true(json_equal(a, b));
    assert_non_null(json_object_get(json_object_get(b, "future_field"), "kept"));
    assert_true(json_is_true(json_object_get(json_object_get(b, "task"), "task_extra")));
    json_decref(a);
    json_decref(b);
    rk_experiment_cleanup(&got);

    rk_experiment_t *v;
    size_t n;
    assert_int_equal(rk_store_experiment_list(s, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_true(strcmp(v[0].id, v[1].id) < 0);
    rk_store_experiments_free(v, n);

    assert_int_equal(rk_store_experiment_get(s, "exp_000000", &got), RK_ENOENT);
    assert_int_equal(rk_store_experiment_delete(s, "exp_000000", false), RK_ENOENT);
    assert_int_equal(rk_store_experiment_delete(s, y.id, false), 0);
    assert_int_equal(rk_store_experiment_get(s, y.id, &got), RK_ENOENT);
    rk_experiment_cleanup(&x);
    rk_experiment_cleanup(&y);
}

static void experiment_delete_states(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    rk_experiment_t x = {0}, other = {0}, got = {0};
    make_experiment("cascade-me", &x);
    make_experiment("other", &other);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    assert_int_equal(rk_store_experiment_insert(s, &other), 0);
    insert_job(s, "job_00000001", x.id, "a1", RK_JOB_QUEUED);
    insert_job(s, "job_00000002", x.id, "a1", RK_JOB_COMPLETED);
    insert_job(s, "job_00000003", other.id, "a1", RK_JOB_QUEUED);
    rk_result_t r = {0};
    make_result("job_00000002", x.id, "a1", &r);
    assert_int_equal(rk_store_result_put(s, &r), 0);
    rk_result_cleanup(&r);

    /* Any job refers to it: refused without cascade. */
    assert_int_equal(rk_store_experiment_delete(s, x.id, false), RK_ESTATE);
    /* An unfinished job: refused even with cascade, and nothing goes. */
    assert_int_equal(rk_store_experiment_delete(s, x.id, true), RK_ESTATE);
    rk_job_info_t j = {0};
    assert_int_equal(rk_store_job_get(s, "job_00000002", false, &j), 0);
    rk_job_info_cleanup(&j);

    set_state(s, "job_00000001", RK_JOB_CANCELLED, "cancelled by user");
    assert_int_equal(rk_store_experiment_delete(s, x.id, false), RK_ESTATE);
    assert_int_equal(rk_store_experiment_delete(s, x.id, true), 0);
    assert_int_equal(rk_store_experiment_get(s, x.id, &got), RK_ENOENT);
    assert_int_equal(rk_store_job_get(s, "job_00000001", true, &j), RK_ENOENT);
    assert_int_equal(rk_store_job_get(s, "job_00000002", false, &j), RK_ENOENT);
    assert_int_equal(rk_store_result_get(s, "job_00000002", &r), RK_ENOENT);
    /* The other experiment's job stays. */
    assert_int_equal(rk_store_job_get(s, "job_00000003", false, &j), 0);
    rk_job_info_cleanup(&j);

    /* Sequence numbers are never reused after a delete. */
    int64_t seq = insert_job(s, "job_00000004", other.id, "a1", RK_JOB_QUEUED);
    assert_int_equal(seq, 4);
    rk_experiment_cleanup(&x);
    rk_experiment_cleanup(&other);
}

static void jobs_insert_status_history(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    int64_t s1 = insert_job(s, "job_0000000a", "exp_1", "a1", RK_JOB_QUEUED);
    int64_t s2 = insert_job(s, "job_0000000b", "exp_1", "a1", RK_JOB_QUEUED);
    assert_true(s2 > s1);
    rk_job_info_t dup = job_of("job_0000000a", "exp_2", "a2", RK_JOB_QUEUED, 5);
    int64_t seq = -1;
    assert_int_equal(rk_store_job_insert(s, &dup, &seq), RK_EEXIST);

    rk_job_status_t st = {.status = RK_JOB_RUNNING,
                          .timestamp = 3000,
                          .message = (char *)"go",
                          .has_progress = true,
                          .progress = 0.25};
    assert_int_equal(rk_store_job_set_status(s, "job_0000000a", &st), 0);
    set_state(s, "job_0000000a", RK_JOB_COMPLETED, "done");
    assert_int_equal(rk_store_job_set_status(s, "job_ffffffff", &st), RK_ENOENT);

    rk_job_info_t j = {0};
    assert_int_equal(rk_store_job_get(s, "job_0000000a", false, &j), 0);
    assert_string_equal(j.job_id, "job_0000000a");
    assert_string_equal(j.experiment_id, "exp_1");
    assert_string_equal(j.agent_id, "a1");
    assert_int_equal(j.created_time, 1000);
    assert_int_equal(j.status.status, RK_JOB_COMPLETED);
    assert_string_equal(j.status.message, "done");
    assert_false(j.has_history);
    assert_int_equal(j.n_history, 0);
    rk_job_info_cleanup(&j);

    assert_int_equal(rk_store_job_get(s, "job_0000000a", true, &j), 0);
    assert_true(j.has_history);
    assert_int_equal(j.n_history, 3);
    assert_int_equal(j.history[0].status, RK_JOB_QUEUED);
    assert_string_equal(j.history[0].message, "created");
    assert_false(j.history[0].has_progress);
    assert_int_equal(j.history[1].status, RK_JOB_RUNNING);
    assert_int_equal(j.history[1].timestamp, 3000);
    assert_true(j.history[1].has_progress);
    assert_true(j.history[1].progress == 0.25);
    assert_int_equal(j.history[2].status, RK_JOB_COMPLETED);
    assert_true(rk_job_status_equal(&j.status, &j.history[2]));
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_99999999", true, &j), RK_ENOENT);
}

/* 30 jobs over agents a0..a2 and experiments e0..e1; every third queued,
 * the rest completed or failed. */
static void seed_jobs(rk_store_t *s)
{
    for (int i = 0; i < 30; i++) {
        char id[16], agent[8], exp[8];
        snprintf(id, sizeof id, "job_%08x", i);
        snprintf(agent, sizeof agent, "a%d", i % 3);
        snprintf(exp, sizeof exp, "e%d", i % 2);
        rk_job_state_t st = i % 3 == 0   ? RK_JOB_QUEUED
                            : i % 3 == 1 ? RK_JOB_COMPLETED
                                         : RK_JOB_FAILED;
        insert_job(s, id, exp, agent, st);
    }
}

/* Pages through f with page size limit; checks newest first, no
 * duplicates or gaps against the expected ids (newest first). */
static void page_all(rk_store_t *s, const rk_job_filter_t *f, size_t limit, int *want,
                     size_t n_want)
{
    rk_page_t p = {.cursor = 0, .limit = limit};
    size_t seen = 0, pages = 0;
    for (;;) {
        rk_job_info_t *v;
        size_t n;
        assert_int_equal(rk_store_job_list(s, f, &p, &v, &n), 0);
        assert_int_equal(p.total, n_want);
        assert_true(n <= limit);
        for (size_t i = 0; i < n; i++) {
            char id[16];
            assert_true(seen < n_want);
            snprintf(id, sizeof id, "job_%08x", want[seen++]);
            assert_string_equal(v[i].job_id, id);
            assert_false(v[i].has_history);
            if (f && f->state_mask)
                assert_true(f->state_mask & MASK(v[i].status.status));
            if (f && f->agent_id)
                assert_string_equal(f->agent_id, v[i].agent_id);
            if (f && f->experiment_id)
                assert_string_equal(f->experiment_id, v[i].experiment_id);
        }
        rk_store_jobs_free(v, n);
        pages++;
        if (!p.next_cursor)
            break;
        assert_int_equal(n, limit);
        p.cursor = p.next_cursor;
    }
    assert_int_equal(seen, n_want);
    assert_int_equal(pages, n_want ? (n_want + limit - 1) / limit : 1);
}

static void job_list_filters_and_paging(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    seed_jobs(s);
    int want[30];
    size_t n;
    for (size_t limit = 1; limit <= 31; limit += 7) {
        n = 0;
        for (int i = 29; i >= 0; i--)
            want[n++] = i;
        page_all(s, NULL, limit, want, n);
    }
    struct {
        rk_job_filter_t f;
        int mod3, mod2; /* -1 = any */
        bool terminal;  /* state mask: completed|failed instead of mod3 */
    } cases[] = {
        {{MASK(RK_JOB_QUEUED), NULL, NULL}, 0, -1, false},
        {{0, "a1", NULL}, 1, -1, false},
        {{0, NULL, "e1"}, -1, 1, false},
        {{MASK(RK_JOB_QUEUED), "a0", "e0"}, 0, 0, false},
        {{MASK(RK_JOB_COMPLETED) | MASK(RK_JOB_FAILED), NULL, "e0"}, -1, 0, true},
        {{MASK(RK_JOB_QUEUED) | MASK(RK_JOB_ASSIGNED) | MASK(RK_JOB_RUNNING), NULL, NULL},
         0,
         -1,
         false},
        {{MASK(RK_JOB_RUNNING), NULL, NULL}, 99, -1, false},
        {{0, "nobody", NULL}, 99, -1, false},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        n = 0;
        for (int i = 29; i >= 0; i--) {
            bool ok = (cases[c].mod3 < 0 || i % 3 == cases[c].mod3) &&
                      (cases[c].mod2 < 0 || i % 2 == cases[c].mod2) &&
                      (!cases[c].terminal || i % 3 != 0);
            if (ok)
                want[n++] = i;
        }
        page_all(s, &cases[c].f, 2, want, n);
        page_all(s, &cases[c].f, 1000, want, n);
    }
}

static void job_list_sees_status_changes(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    seed_jobs(s);
    set_state(s, "job_00000003", RK_JOB_RUNNING, "started");
    rk_job_filter_t f = {.state_mask = MASK(RK_JOB_RUNNING)};
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(s, &f, &p, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p.total, 1);
    assert_int_equal(p.next_cursor, 0);
    assert_string_equal(v[0].job_id, "job_00000003");
    assert_string_equal(v[0].status.message, "started");
    rk_store_jobs_free(v, n);
}

typedef struct scan_acc {
    int64_t last_seq;
    int count, stop_at;
    char first[16];
} scan_acc_t;

static int scan_cb(void *ud, const rk_job_brief_t *b)
{
    scan_acc_t *a = ud;
    if (b->seq <= a->last_seq)
        return -100; /* out of order */
    if (b->state != RK_JOB_QUEUED && b->state != RK_JOB_RUNNING)
        return -101;
    if (!a->count)
        snprintf(a->first, sizeof a->first, "%s", b->job_id);
    if (!b->agent_id[0] || !b->experiment_id[0])
        return -102;
    a->last_seq = b->seq;
    a->count++;
    return a->count == a->stop_at ? 7 : 0;
}

static void job_scan_order_and_mask(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    seed_jobs(s);
    set_state(s, "job_00000006", RK_JOB_RUNNING, "r");
    scan_acc_t a = {0};
    assert_int_equal(
        rk_store_job_scan(s, MASK(RK_JOB_QUEUED) | MASK(RK_JOB_ASSIGNED) | MASK(RK_JOB_RUNNING),
                          scan_cb, &a),
        0);
    assert_int_equal(a.count, 10);
    assert_string_equal(a.first, "job_00000000");
    a = (scan_acc_t){0};
    assert_int_equal(rk_store_job_scan(s, MASK(RK_JOB_RUNNING), scan_cb, &a), 0);
    assert_int_equal(a.count, 1);
    assert_string_equal(a.first, "job_00000006");
    /* A non-zero return stops the scan and is returned. */
    a = (scan_acc_t){.stop_at = 3};
    assert_int_equal(rk_store_job_scan(s, MASK(RK_JOB_QUEUED), scan_cb, &a), 7);
    assert_int_equal(a.count, 3);
}

static void results_put_get_list(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    seed_jobs(s);
    rk_result_t r = {0}, got = {0};
    make_result("job_ffffffff", "e0", "a0", &r);
    assert_int_equal(rk_store_result_put(s, &r), RK_ENOENT); /* no such job */
    rk_result_cleanup(&r);
    for (int i = 1; i < 30; i += 3) { /* the completed ones */
        char id[16], agent[8], exp[8];
        snprintf(id, sizeof id, "job_%08x", i);
        snprintf(agent, sizeof agent, "a%d", i % 3);
        snprintf(exp, sizeof exp, "e%d", i % 2);
        make_result(id, exp, agent, &r);
        assert_int_equal(rk_store_result_put(s, &r), 0);
        rk_result_cleanup(&r);
    }
    assert_int_equal(rk_store_result_get(s, "job_00000000", &got), RK_ENOENT);
    assert_int_equal(rk_store_result_get(s, "job_00000004", &got), 0);
    assert_string_equal(got.job_id, "job_00000004");
    assert_string_equal(got.agent_id, "a1");
    assert_non_null(json_object_get(got.extra, "result_extra"));
    rk_result_cleanup(&got);

    /* Replace. */
    make_result("job_00000004", "e0", "a1", &r);
    r.duration_seconds = 42;
    assert_int_equal(rk_store_result_put(s, &r), 0);
    rk_result_cleanup(&r);
    assert_int_equal(rk_store_result_get(s, "job_00000004", &got), 0);
    assert_true(got.duration_seconds == 42);
    rk_result_cleanup(&got);

    /* All 10, newest first, in pages of 3; then filtered by experiment. */
    int want_all[] = {28, 25, 22, 19, 16, 13, 10, 7, 4, 1};
    int want_e0[] = {28, 22, 16, 10, 4};
    struct {
        rk_result_filter_t f;
        int *want;
        size_t n;
    } cases[] = {{{NULL, NULL}, want_all, 10},
                 {{"e0", NULL}, want_e0, 5},
                 {{"e0", "a1"}, want_e0, 5},
                 {{NULL, "a0"}, NULL, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rk_page_t p = {.limit = 3};
        size_t seen = 0;
        do {
            rk_result_t *v;
            size_t n;
            p.cursor = p.next_cursor;
            assert_int_equal(rk_store_result_list(s, &cases[c].f, &p, &v, &n), 0);
            for (size_t i = 0; i < n; i++) {
                char id[16];
                assert_true(seen < cases[c].n);
                snprintf(id, sizeof id, "job_%08x", cases[c].want[seen++]);
                assert_string_equal(v[i].job_id, id);
            }
            rk_store_results_free(v, n);
        } while (p.next_cursor);
        assert_int_equal(seen, cases[c].n);
    }
}

/* result_list_text: the same pages as result_list (same rows, same
 * cursors), each as the stored text, which is what encoding the decoded
 * result gives; through the faulty wrapper, an armed fault answers before
 * the inner store is asked. */
static void results_list_text(void **state)
{
    fx_t *fx = *state;
    rk_store_t *s = fx->s;
    seed_jobs(s);
    for (int i = 1; i < 30; i += 3) {
        char id[16], agent[8], exp[8];
        snprintf(id, sizeof id, "job_%08x", i);
        snprintf(agent, sizeof agent, "a%d", i % 3);
        snprintf(exp, sizeof exp, "e%d", i % 2);
        rk_result_t r = {0};
        make_result(id, exp, agent, &r);
        assert_int_equal(rk_store_result_put(s, &r), 0);
        rk_result_cleanup(&r);
    }
    rk_result_filter_t fs[] = {
        {NULL, NULL}, {"e0", NULL}, {"e0", "a1"}, {NULL, "a1"}, {NULL, "a0"}};
    for (size_t c = 0; c < sizeof fs / sizeof fs[0]; c++) {
        rk_page_t p = {.limit = 3}, q = {.limit = 3};
        size_t pages = 0;
        do {
            rk_result_t *v;
            char **t;
            size_t n, nt;
            p.cursor = p.next_cursor;
            q.cursor = q.next_cursor;
            assert_int_equal(rk_store_result_list(s, &fs[c], &p, &v, &n), 0);
            assert_int_equal(rk_store_result_list_text(s, &fs[c], &q, &t, &nt), 0);
            assert_int_equal(nt, n);
            assert_true(q.next_cursor == p.next_cursor);
            for (size_t i = 0; i < n; i++) {
                json_t *enc = rk_result_encode(&v[i]);
                char *want = json_dumps(enc, JSON_COMPACT);
                json_decref(enc);
                assert_non_null(want);
                assert_string_equal(t[i], want);
                free(want);
            }
            rk_store_results_free(v, n);
            rk_store_texts_free(t, nt);
            pages++;
        } while (p.next_cursor);
        assert_true(pages >= 1);
    }
    rk_store_texts_free(NULL, 0);
    rk_page_t bad = {.limit = 0};
    char **t = NULL;
    size_t nt = 7;
    assert_int_equal(rk_store_result_list_text(s, NULL, &bad, &t, &nt), RK_EINVAL);

    /* Fault injection: the wrapper takes the store (teardown closes it). */
    rk_store_t *w;
    assert_int_equal(rk_store_faulty_wrap(s, &w), 0);
    fx->s = w;
    rk_store_faulty_arm(w, RK_FAULTY_RESULT_LIST_TEXT, RK_EIO, 1, 1);
    rk_page_t p = {.limit = 100};
    assert_int_equal(rk_store_result_list_text(w, NULL, &p, &t, &nt), 0);
    assert_int_equal(nt, 10);
    rk_store_texts_free(t, nt);
    assert_int_equal(rk_store_result_list_text(w, NULL, &p, &t, &nt), RK_EIO);
    assert_null(t);
    assert_int_equal(nt, 0);
    assert_int_equal(rk_store_result_list_text(w, NULL, &p, &t, &nt), 0);
    assert_int_equal(nt, 10);
    rk_store_texts_free(t, nt);
    assert_int_equal(rk_store_faulty_calls(w, RK_FAULTY_RESULT_LIST_TEXT), 3);
}

static void registry_and_bad_arguments(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    rk_store_t *none = NULL;
    assert_int_equal(rk_store_open("nosuch", "", &none), RK_ENOENT);
    assert_null(none);
    assert_non_null(rk_store_find(backend));
    assert_null(rk_store_find("nosuch"));
    rk_page_t p = {.limit = 0};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(s, NULL, &p, &v, &n), RK_EINVAL);
    /* A table of another interface version, or with a slot missing, is
     * refused before its open runs. */
    rk_store_ops_t ops = *rk_store_find(backend);
    ops.version = RK_STORE_OPS_VERSION + 1;
    assert_int_equal(rk_store_open_ops(&ops, "", &none), RK_EINVAL);
    assert_null(none);
    ops.version = 0;
    assert_int_equal(rk_store_open_ops(&ops, "", &none), RK_EINVAL);
    ops.version = RK_STORE_OPS_VERSION;
    ops.job_list = NULL;
    assert_int_equal(rk_store_open_ops(&ops, "", &none), RK_EINVAL);
    ops = *rk_store_find(backend);
    ops.result_list_text = NULL;
    assert_int_equal(rk_store_open_ops(&ops, "", &none), RK_EINVAL);
    assert_null(none);
    assert_int_equal(rk_store_open_ops(NULL, "", &none), RK_EINVAL);
    for (const char *const *b = rk_store_backends(); *b; b++)
        assert_int_equal(rk_store_find(*b)->version, RK_STORE_OPS_VERSION);
    /* A first lease is granted (single server: always). */
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-1", 1000), 0);
    /* Not nested; commit without begin is refused. */
    assert_int_equal(rk_store_commit(s), RK_ESTATE);
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_begin(s), RK_ESTATE);
    assert_int_equal(rk_store_rollback(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(agents_crud),
        T(experiments_crud_and_unknown_fields),
        T(experiment_delete_states),
        T(jobs_insert_status_history),
        T(job_list_filters_and_paging),
        T(job_list_sees_status_changes),
        T(job_scan_order_and_mask),
        T(results_put_get_list),
        T(results_list_text),
        T(registry_and_bad_arguments),
    };
    return run_all_backends(tests, sizeof tests / sizeof tests[0]);
}
