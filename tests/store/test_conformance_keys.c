/* Storage conformance: idempotency keys (store.h, job_find_key), on every
 * backend. A key names one job, is found inside the writer's own open
 * transaction, goes with its job, and a second job cannot take it.
 */
#include "conformance.h"

static int64_t insert_keyed(rk_store_t *s, const char *id, const char *exp, const char *key,
                            const char *fp, int want)
{
    rk_job_info_t j = job_of(id, exp, "a1", RK_JOB_QUEUED, 1000);
    j.idem_key = (char *)key;
    j.idem_fp = (char *)fp;
    int64_t seq = 0;
    assert_int_equal(rk_store_job_insert(s, &j, &seq), want);
    return seq;
}

static void expect_key(rk_store_t *s, const char *key, const char *job_id, const char *fp)
{
    char *id = (char *)"x", *got = (char *)"x";
    int rc = rk_store_job_find_key(s, key, &id, &got);
    if (!job_id) {
        assert_int_equal(rc, RK_ENOENT);
        assert_null(id);
        assert_null(got);
        return;
    }
    assert_int_equal(rc, 0);
    assert_string_equal(id, job_id);
    assert_string_equal(got, fp);
    free(id);
    free(got);
}

static const char *FP1 = "0123456789abcdef0123456789abcdef";
static const char *FP2 = "fedcba9876543210fedcba9876543210";

static void keys_name_one_job(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("keys", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    insert_keyed(s, "job_k1", x.id, "order-42", FP1, 0);
    insert_job(s, "job_k2", x.id, "a1", RK_JOB_QUEUED); /* no key */
    expect_key(s, "order-42", "job_k1", FP1);
    expect_key(s, "order-43", NULL, NULL);
    /* The key comes back with the job; a job without one has none. */
    rk_job_info_t j = {0};
    assert_int_equal(rk_store_job_get(s, "job_k1", true, &j), 0);
    assert_string_equal(j.idem_key, "order-42");
    assert_string_equal(j.idem_fp, FP1);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_k2", false, &j), 0);
    assert_null(j.idem_key);
    assert_null(j.idem_fp);
    rk_job_info_cleanup(&j);
    /* A second job cannot take the key: nothing of it is stored. */
    insert_keyed(s, "job_k3", x.id, "order-42", FP2, RK_EEXIST);
    assert_int_equal(rk_store_job_get(s, "job_k3", false, &j), RK_ENOENT);
    expect_key(s, "order-42", "job_k1", FP1);
    /* Keys are compared exactly. */
    expect_key(s, "ORDER-42", NULL, NULL);
    insert_keyed(s, "job_k4", x.id, "ORDER-42", FP2, 0);
    expect_key(s, "ORDER-42", "job_k4", FP2);
    /* Bad arguments. */
    char *id = NULL, *fp = NULL;
    assert_int_equal(rk_store_job_find_key(s, "", &id, &fp), RK_EINVAL);
    assert_int_equal(rk_store_job_find_key(s, NULL, &id, &fp), RK_EINVAL);
    rk_experiment_cleanup(&x);
}

/* The manager looks a key up inside its open batch: its own uncommitted
 * insert is found; a rollback takes the key away with the job. */
static void keys_in_transactions(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("keys-tx", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    assert_int_equal(rk_store_begin(s), 0);
    insert_keyed(s, "job_t1", x.id, "k-tx", FP1, 0);
    expect_key(s, "k-tx", "job_t1", FP1);
    assert_int_equal(rk_store_rollback(s), 0);
    expect_key(s, "k-tx", NULL, NULL);
    assert_int_equal(rk_store_begin(s), 0);
    insert_keyed(s, "job_t2", x.id, "k-tx", FP2, 0);
    assert_int_equal(rk_store_commit(s), 0);
    expect_key(s, "k-tx", "job_t2", FP2);
    rk_experiment_cleanup(&x);
}

/* A key goes with its job: retention's purge, and an experiment deleted
 * with its jobs. Then the key is free for a new job. */
static void keys_go_with_their_job(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0}, y = {0};
    make_experiment("keys-purge", &x);
    make_experiment("keys-cascade", &y);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    assert_int_equal(rk_store_experiment_insert(s, &y), 0);
    insert_keyed(s, "job_p1", x.id, "k-purge", FP1, 0);
    set_state(s, "job_p1", RK_JOB_COMPLETED, "done");
    bool had = true;
    assert_int_equal(rk_store_job_purge(s, "job_p1", &had), 0);
    expect_key(s, "k-purge", NULL, NULL);
    insert_keyed(s, "job_p2", x.id, "k-purge", FP2, 0);
    expect_key(s, "k-purge", "job_p2", FP2);

    insert_keyed(s, "job_c1", y.id, "k-cascade", FP1, 0);
    set_state(s, "job_c1", RK_JOB_FAILED, "no");
    assert_int_equal(rk_store_experiment_delete(s, y.id, true), 0);
    expect_key(s, "k-cascade", NULL, NULL);
    rk_experiment_cleanup(&x);
    rk_experiment_cleanup(&y);
}

/* Scale: 100,000 keyed jobs among 100,000 without (10,000 each with
 * RK_TEST_LIGHT, the ASan stage's), inserted 5,000 a commit; a sample
 * of the keys is found, each naming its own job. */
static void keys_at_scale(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = f->s;
    rk_experiment_t x = {0};
    make_experiment("keys-scale", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    size_t n = (size_t)rk_test_scale(100000, 10000);
    char id[32], key[64];
    assert_int_equal(rk_store_begin(s), 0);
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "job_%08zx", 2 * i);
        snprintf(key, sizeof key, "client-7/request-%zu", i);
        insert_keyed(s, id, x.id, key, FP1, 0);
        snprintf(id, sizeof id, "job_%08zx", 2 * i + 1);
        insert_job(s, id, x.id, "a1", RK_JOB_QUEUED);
        /* Commits of 5,000 as the manager's batches would be (one
         * transaction of all of them makes PostgreSQL rewrite the same
         * counter rows into ever longer version chains). */
        if ((i + 1) % 2500 == 0) {
            assert_int_equal(rk_store_commit(s), 0);
            assert_int_equal(rk_store_begin(s), 0);
        }
    }
    assert_int_equal(rk_store_commit(s), 0);
    for (size_t i = 0; i < n; i += 997) {
        snprintf(id, sizeof id, "job_%08zx", 2 * i);
        snprintf(key, sizeof key, "client-7/request-%zu", i);
        expect_key(s, key, id, FP1);
    }
    expect_key(s, "client-7/request-none", NULL, NULL);
    rk_experiment_cleanup(&x);
}

int main(void)
{
    (void)make_agent; /* conformance.h's, unused here */
    (void)make_result;
    const struct CMUnitTest tests[] = {
        T(keys_name_one_job),
        T(keys_in_transactions),
        T(keys_go_with_their_job),
        T(keys_at_scale),
    };
    return run_all_backends(tests, sizeof tests / sizeof tests[0]);
}
