/* The small in-place writes behave the same on every backend. Documents
 * (doc_put/get/list/delete): round trip, replace, kinds kept apart, list in
 * id order, ENOENT, bad arguments, rollback undoing a put and a delete, and
 * survival of a reopen (sqlite: the file; postgresql: the database). A
 * running job's progress: set in place (no history entry), undone by a
 * rollback. doc_replace (compare and swap): replaces only the expected
 * text, undone by a rollback; and of two handles on one database (sqlite
 * file, postgresql server) claiming the same text at once, exactly one
 * wins, the other waiting for the winner's commit and then refused. */
/* Helpers of the shared header this file does not need. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "conformance.h"

#include <pthread.h>

static void docs_crud(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    char *j = NULL;
    assert_int_equal(rk_store_doc_get(s, "baseline", "b1", &j), RK_ENOENT);
    assert_int_equal(rk_store_doc_put(s, "baseline", "b2", "{\"n\":2}"), 0);
    assert_int_equal(rk_store_doc_put(s, "baseline", "b1", "{\"n\":1}"), 0);
    assert_int_equal(rk_store_doc_put(s, "other", "b1", "{\"other\":true}"), 0);
    assert_int_equal(rk_store_doc_get(s, "baseline", "b1", &j), 0);
    assert_string_equal(j, "{\"n\":1}");
    free(j);
    assert_int_equal(rk_store_doc_put(s, "baseline", "b1", "{\"n\":11}"), 0); /* replace */
    char **ids, **jsons;
    size_t n;
    assert_int_equal(rk_store_doc_list(s, "baseline", &ids, &jsons, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "b1");
    assert_string_equal(jsons[0], "{\"n\":11}");
    assert_string_equal(ids[1], "b2");
    rk_store_docs_free(ids, jsons, n);
    assert_int_equal(rk_store_doc_list(s, "none", &ids, &jsons, &n), 0);
    assert_int_equal(n, 0);
    rk_store_docs_free(ids, jsons, n);
    assert_int_equal(rk_store_doc_delete(s, "baseline", "b1"), 0);
    assert_int_equal(rk_store_doc_delete(s, "baseline", "b1"), RK_ENOENT);
    assert_int_equal(rk_store_doc_get(s, "other", "b1", &j), 0); /* the other kind stays */
    free(j);
    /* Bad arguments. */
    assert_int_equal(rk_store_doc_put(s, "", "x", "{}"), RK_EINVAL);
    assert_int_equal(rk_store_doc_put(s, "k", "", "{}"), RK_EINVAL);
    assert_int_equal(rk_store_doc_put(s, "k\x1fj", "x", "{}"), RK_EINVAL);
    assert_int_equal(rk_store_doc_put(s, "k", "x", NULL), RK_EINVAL);
}

static void docs_in_transactions(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    assert_int_equal(rk_store_doc_put(s, "baseline", "keep", "{\"v\":1}"), 0);
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_doc_put(s, "baseline", "new", "{}"), 0);
    assert_int_equal(rk_store_doc_put(s, "baseline", "keep", "{\"v\":2}"), 0);
    assert_int_equal(rk_store_rollback(s), 0);
    char *j = NULL;
    assert_int_equal(rk_store_doc_get(s, "baseline", "new", &j), RK_ENOENT);
    assert_int_equal(rk_store_doc_get(s, "baseline", "keep", &j), 0);
    assert_string_equal(j, "{\"v\":1}");
    free(j);
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_doc_delete(s, "baseline", "keep"), 0);
    assert_int_equal(rk_store_rollback(s), 0);
    assert_int_equal(rk_store_doc_get(s, "baseline", "keep", &j), 0);
    free(j);
    /* Kept across a reopen where the backend keeps anything. */
    if (strcmp(backend, "memory") != 0) {
        rk_store_close(s);
        assert_int_equal(rk_store_open(backend, f->path, &f->s), 0);
        assert_int_equal(rk_store_doc_get(f->s, "baseline", "keep", &j), 0);
        assert_string_equal(j, "{\"v\":1}");
        free(j);
    }
}

static void docs_replace(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    char *j = NULL;
    assert_int_equal(rk_store_doc_replace(s, "schedule", "s1", "{}", "{\"n\":1}"), RK_ESTATE);
    assert_int_equal(rk_store_doc_get(s, "schedule", "s1", &j), RK_ENOENT); /* absent: no insert */
    assert_int_equal(rk_store_doc_put(s, "schedule", "s1", "{\"n\":1}"), 0);
    assert_int_equal(rk_store_doc_replace(s, "schedule", "s1", "{\"n\":0}", "{\"n\":9}"),
                     RK_ESTATE);
    assert_int_equal(rk_store_doc_replace(s, "schedule", "s1", "{\"n\":1}", "{\"n\":2}"), 0);
    assert_int_equal(rk_store_doc_replace(s, "schedule", "s1", "{\"n\":1}", "{\"n\":3}"),
                     RK_ESTATE); /* the old text no longer matches */
    assert_int_equal(rk_store_doc_get(s, "schedule", "s1", &j), 0);
    assert_string_equal(j, "{\"n\":2}");
    free(j);
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_doc_replace(s, "schedule", "s1", "{\"n\":2}", "{\"n\":4}"), 0);
    assert_int_equal(rk_store_rollback(s), 0);
    assert_int_equal(rk_store_doc_get(s, "schedule", "s1", &j), 0);
    assert_string_equal(j, "{\"n\":2}");
    free(j);
    assert_int_equal(rk_store_doc_replace(s, "schedule", "s1", NULL, "{}"), RK_EINVAL);
    assert_int_equal(rk_store_doc_replace(s, "", "s1", "{}", "{}"), RK_EINVAL);
}

typedef struct claim {
    rk_store_t *s;
    int begin_rc, replace_rc, commit_rc;
} claim_t;

static void *claim_main(void *arg)
{
    claim_t *c = arg;
    c->begin_rc = rk_store_begin(c->s);
    c->replace_rc = c->begin_rc ? -1
                                : rk_store_doc_replace(c->s, "schedule", "race", "{\"slot\":1}",
                                                       "{\"slot\":2,\"by\":\"b\"}");
    c->commit_rc = c->begin_rc ? -1 : rk_store_commit(c->s);
    return NULL;
}

/* Two servers' stores on one database claim the same slot at once: a holds
 * its claim uncommitted while b tries; b waits, then is refused. */
static void docs_replace_race(void **state)
{
    fx_t *f = *state;
    if (strcmp(backend, "memory") == 0)
        skip(); /* one process's memory: no second handle to race with */
    rk_store_t *a = f->s, *b = NULL;
    assert_int_equal(rk_store_doc_put(a, "schedule", "race", "{\"slot\":1}"), 0);
    assert_int_equal(rk_store_open(backend, f->path, &b), 0);
    assert_int_equal(rk_store_begin(a), 0);
    assert_int_equal(
        rk_store_doc_replace(a, "schedule", "race", "{\"slot\":1}", "{\"slot\":2,\"by\":\"a\"}"),
        0);
    claim_t c = {.s = b};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, claim_main, &c), 0);
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL); /* b is waiting on a's write by now */
    assert_int_equal(rk_store_commit(a), 0);
    pthread_join(t, NULL);
    assert_int_equal(c.begin_rc, 0);
    assert_int_equal(c.replace_rc, RK_ESTATE);
    assert_int_equal(c.commit_rc, 0);
    char *j = NULL;
    assert_int_equal(rk_store_doc_get(b, "schedule", "race", &j), 0);
    assert_string_equal(j, "{\"slot\":2,\"by\":\"a\"}");
    free(j);
    rk_store_close(b);
}

static void job_progress_in_place(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("progress", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    insert_job(s, "job_p1", x.id, "a1", RK_JOB_QUEUED);
    set_state(s, "job_p1", RK_JOB_RUNNING, "running");
    assert_int_equal(rk_store_job_set_progress(s, "job_p1", 0.4), 0);
    rk_job_info_t j = {0};
    assert_int_equal(rk_store_job_get(s, "job_p1", true, &j), 0);
    assert_true(j.status.has_progress);
    assert_true(j.status.progress == 0.4);
    assert_int_equal(j.status.status, RK_JOB_RUNNING);
    assert_int_equal(j.n_history, 2); /* queued, running: no entry for progress */
    /* The history entry stays as it was appended, in every backend (a
     * migration compares them). */
    assert_false(j.history[1].has_progress);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_job_set_progress(s, "job_p1", 0.9), 0);
    assert_int_equal(rk_store_rollback(s), 0);
    assert_int_equal(rk_store_job_get(s, "job_p1", false, &j), 0);
    assert_true(j.status.progress == 0.4);
    rk_job_info_cleanup(&j);
    /* A new status brings its own progress; undoing it brings back 0.4. */
    assert_int_equal(rk_store_begin(s), 0);
    set_state(s, "job_p1", RK_JOB_COMPLETED, "done");
    assert_int_equal(rk_store_job_get(s, "job_p1", false, &j), 0);
    assert_false(j.status.has_progress);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_rollback(s), 0);
    assert_int_equal(rk_store_job_get(s, "job_p1", false, &j), 0);
    assert_true(j.status.has_progress && j.status.progress == 0.4);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_set_progress(s, "job_nope", 0.5), RK_ENOENT);
    assert_int_equal(rk_store_job_set_progress(s, "job_p1", 1.5), RK_EINVAL);
    rk_experiment_cleanup(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(docs_crud),         T(docs_in_transactions),  T(docs_replace),
        T(docs_replace_race), T(job_progress_in_place),
    };
    return run_all_backends(tests, sizeof tests / sizeof tests[0]);
}
