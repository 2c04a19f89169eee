/* rk_store_copy (store/copy.h): a SQLite store, as `ruckus-server migrate`
 * reads it, copied into every backend (the fixture's store is the target;
 * postgresql is a real server, rk_test_pg.h): everything arrives equal, in
 * the same order, the target must be empty, a failed commit stops the
 * copy with a message, and 100,000 jobs go across with counts and a
 * sample checked. */
#include "conformance.h"

#include <time.h>

#include "store/copy.h"
#include "store/faulty.h"

typedef struct src {
    char dir[64], path[128];
    rk_store_t *s;
} src_t;

/* A SQLite store holding n jobs over 2 agents and 3 experiments: every
 * 3rd completed (queued, running, completed, with a result), every 3rd+1
 * running with progress, the rest queued; a baseline and a token doc. */
static void src_make(src_t *x, size_t n)
{
    snprintf(x->dir, sizeof x->dir, "/tmp/rk_copy_XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->path, sizeof x->path, "%s/src.db", x->dir);
    assert_int_equal(rk_store_open("sqlite", x->path, &x->s), 0);
    rk_registered_agent_t a;
    const char *agents[] = {"ag-1", "ag-2"};
    for (int i = 0; i < 2; i++) {
        make_agent(agents[i], "http://127.0.0.1:9", &a);
        assert_int_equal(rk_store_agent_put(x->s, &a), 0);
        rk_registered_agent_cleanup(&a);
    }
    char exps[3][64];
    for (int i = 0; i < 3; i++) {
        rk_experiment_t e;
        char name[16];
        snprintf(name, sizeof name, "exp %d", i);
        make_experiment(name, &e);
        snprintf(exps[i], sizeof exps[i], "%s", e.id);
        assert_int_equal(rk_store_experiment_insert(x->s, &e), 0);
        rk_experiment_cleanup(&e);
    }
    assert_int_equal(rk_store_begin(x->s), 0);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "job_%08zx", i);
        rk_job_info_t j =
            job_of(id, exps[i % 3], agents[i % 2], RK_JOB_QUEUED, 1000 + (rk_time_t)i);
        char key[32];
        if (i % 4 == 0) { /* every fourth job submitted under an Idempotency-Key */
            snprintf(key, sizeof key, "key-%zu", i);
            j.idem_key = key;
            j.idem_fp = (char *)"0123456789abcdef0123456789abcdef";
        }
        int64_t seq;
        assert_int_equal(rk_store_job_insert(x->s, &j, &seq), 0);
        if (i % 3 == 0 || i % 3 == 1)
            set_state(x->s, id, RK_JOB_RUNNING, "running");
        if (i % 3 == 1)
            assert_int_equal(rk_store_job_set_progress(x->s, id, 0.25 + (double)(i % 50) / 100), 0);
        if (i % 3 == 0) {
            set_state(x->s, id, RK_JOB_COMPLETED, "done");
            rk_result_t r;
            make_result(id, exps[i % 3], agents[i % 2], &r);
            assert_int_equal(rk_store_result_put(x->s, &r), 0);
            rk_result_cleanup(&r);
        }
        if ((i + 1) % 5000 == 0) {
            assert_int_equal(rk_store_commit(x->s), 0);
            assert_int_equal(rk_store_begin(x->s), 0);
        }
    }
    assert_int_equal(rk_store_commit(x->s), 0);
    assert_int_equal(rk_store_doc_put(x->s, "baseline", "bl_1", "{\"job_id\":\"job_00000000\"}"),
                     0);
    assert_int_equal(rk_store_doc_put(x->s, "agent_token", "ag-1", "{\"token\":\"t\"}"), 0);
}

static void src_free(src_t *x)
{
    rk_store_close(x->s);
    char p[200];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", x->path, sfx[i]);
        unlink(p);
    }
    rmdir(x->dir);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static const char *const kinds[] = {"agent_token", "baseline", NULL};

/* The ids of a newest-first listing of every job. */
static void page_ids(rk_store_t *s, char *out, size_t cap)
{
    rk_page_t p = {.limit = 50};
    rk_job_info_t *v;
    size_t n, len = 0;
    assert_int_equal(rk_store_job_list(s, NULL, &p, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s,", v[i].job_id);
    rk_store_jobs_free(v, n);
}

static void copies_everything_in_order(void **state)
{
    rk_store_t *dst = ((fx_t *)*state)->s;
    src_t x;
    src_make(&x, 300);
    rk_copy_counts_t c;
    char err[512];
    rk_copy_opts_t o = {.doc_kinds = kinds, .sample_stride = 1};
    if (rk_store_copy(x.s, dst, &o, &c, err, sizeof err))
        fail_msg("copy: %s", err);
    assert_int_equal(c.agents, 2);
    assert_int_equal(c.experiments, 3);
    assert_int_equal(c.jobs, 300);
    assert_int_equal(c.history, 100 * 3 + 100 * 2 + 100);
    assert_int_equal(c.results, 100);
    assert_int_equal(c.docs, 2);
    assert_int_equal(c.checked, 300);
    /* Read back independently of the copy's own check. */
    for (size_t i = 0; i < 300; i += 7) {
        char id[32];
        snprintf(id, sizeof id, "job_%08zx", i);
        rk_job_info_t a, b;
        assert_int_equal(rk_store_job_get(x.s, id, true, &a), 0);
        assert_int_equal(rk_store_job_get(dst, id, true, &b), 0);
        assert_true(rk_job_info_equal(&a, &b));
        assert_int_equal(b.n_history, i % 3 == 0 ? 3 : i % 3 == 1 ? 2 : 1);
        if (i % 3 == 1) {
            assert_true(b.status.has_progress);
            assert_true(b.status.progress > 0.2);
        }
        if (i % 4 == 0) { /* its Idempotency-Key came along and still finds it */
            char key[32], *kid = NULL, *kfp = NULL;
            snprintf(key, sizeof key, "key-%zu", i);
            assert_string_equal(b.idem_key, key);
            assert_int_equal(rk_store_job_find_key(dst, key, &kid, &kfp), 0);
            assert_string_equal(kid, id);
            free(kid);
            free(kfp);
        } else {
            assert_null(b.idem_key);
        }
        rk_job_info_cleanup(&a);
        rk_job_info_cleanup(&b);
    }
    char la[4096], lb[4096];
    page_ids(x.s, la, sizeof la);
    page_ids(dst, lb, sizeof lb);
    assert_string_equal(la, lb); /* the same order: oldest first in, newest first out */
    char *doc = NULL;
    assert_int_equal(rk_store_doc_get(dst, "baseline", "bl_1", &doc), 0);
    assert_string_equal(doc, "{\"job_id\":\"job_00000000\"}");
    free(doc);
    rk_registered_agent_t a;
    assert_int_equal(rk_store_agent_get(dst, "ag-2", &a), 0);
    rk_registered_agent_t b;
    assert_int_equal(rk_store_agent_get(x.s, "ag-2", &b), 0);
    assert_true(rk_registered_agent_equal(&a, &b));
    rk_registered_agent_cleanup(&a);
    rk_registered_agent_cleanup(&b);
    src_free(&x);
}

static void refuses_a_target_that_is_not_empty(void **state)
{
    rk_store_t *dst = ((fx_t *)*state)->s;
    rk_registered_agent_t a;
    make_agent("already", "http://127.0.0.1:9", &a);
    assert_int_equal(rk_store_agent_put(dst, &a), 0);
    rk_registered_agent_cleanup(&a);
    src_t x;
    src_make(&x, 10);
    rk_copy_counts_t c;
    char err[512];
    assert_int_equal(rk_store_copy(x.s, dst, NULL, &c, err, sizeof err), RK_ESTATE);
    assert_non_null(strstr(err, "the target is not empty (0 jobs, 1 agents, 0 experiments)"));
    rk_registered_agent_t *v;
    size_t n;
    assert_int_equal(rk_store_agent_list(dst, &v, &n), 0);
    assert_int_equal(n, 1); /* untouched */
    rk_store_agents_free(v, n);
    src_free(&x);
}

static void a_failed_commit_stops_the_copy(void **state)
{
    fx_t *f = *state;
    rk_store_t *w;
    assert_int_equal(rk_store_faulty_wrap(f->s, &w), 0);
    f->s = w; /* closed by the teardown through the wrapper */
    src_t x;
    src_make(&x, 2500);
    /* The second batch of jobs fails to commit. */
    rk_store_faulty_arm(w, RK_FAULTY_COMMIT, RK_EIO, 1, 1);
    rk_copy_counts_t c;
    char err[512];
    assert_int_equal(rk_store_copy(x.s, w, NULL, &c, err, sizeof err), RK_EIO);
    assert_non_null(strstr(err, "committing jobs 1000 to 2000"));
    /* What did commit is there, the failed batch is not. */
    rk_page_t p = {.limit = 1};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(w, NULL, &p, &v, &n), 0);
    assert_int_equal(p.total, 1000);
    rk_store_jobs_free(v, n);
    src_free(&x);
}

static void hundred_thousand_jobs(void **state)
{
    rk_store_t *dst = ((fx_t *)*state)->s;
    size_t n = getenv("RK_UNDER_VALGRIND") ? 3000 : (size_t)rk_test_scale(100000, 10000);
    src_t x;
    src_make(&x, n);
    rk_copy_counts_t c;
    char err[512];
    double t0 = now_ms();
    rk_copy_opts_t o = {.doc_kinds = kinds};
    if (rk_store_copy(x.s, dst, &o, &c, err, sizeof err))
        fail_msg("copy: %s", err);
    printf("copied %zu jobs into %s in %.0f ms, %llu compared\n", n, backend, now_ms() - t0,
           (unsigned long long)c.checked);
    assert_int_equal(c.jobs, n);
    assert_int_equal(c.results, (n + 2) / 3);
    assert_true(c.checked >= n / 97);
    src_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(copies_everything_in_order),
        T(refuses_a_target_that_is_not_empty),
        T(a_failed_commit_stops_the_copy),
        T(hundred_thousand_jobs),
    };
    return run_all_backends(tests, sizeof tests / sizeof tests[0]);
}

__attribute__((unused)) static void (*const unused_fixtures[])(void) = {(void (*)(void))insert_job};
