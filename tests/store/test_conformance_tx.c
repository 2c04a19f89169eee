/* Storage conformance, part 2: transactions and threads, run against every
 * registered backend. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "conformance.h"

/* A store with one experiment holding one completed job, one queued job
 * ("job_00000002") and no agents. */
static void seed(rk_store_t *s, rk_experiment_t *x)
{
    make_experiment("tx", x);
    assert_int_equal(rk_store_experiment_insert(s, x), 0);
    insert_job(s, "job_00000001", x->id, "a1", RK_JOB_COMPLETED);
    insert_job(s, "job_00000002", "exp_other", "a1", RK_JOB_QUEUED);
}

/* Every kind of write, inside the caller's transaction; the thread's own
 * reads see them. */
static void write_everything(rk_store_t *s, const rk_experiment_t *x)
{
    rk_registered_agent_t a = {0};
    make_agent("tx-agent", "http://h:1", &a);
    assert_int_equal(rk_store_agent_put(s, &a), 0);
    rk_registered_agent_cleanup(&a);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "job_0000010%d", i);
        insert_job(s, id, "exp_other", "a2", RK_JOB_QUEUED);
    }
    set_state(s, "job_00000002", RK_JOB_RUNNING, "tx");
    rk_result_t r = {0};
    make_result("job_00000002", "exp_other", "a1", &r);
    assert_int_equal(rk_store_result_put(s, &r), 0);
    rk_result_cleanup(&r);
    assert_int_equal(rk_store_experiment_delete(s, x->id, true), 0);

    rk_job_info_t j = {0};
    assert_int_equal(rk_store_job_get(s, "job_00000101", false, &j), 0);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_00000002", false, &j), 0);
    assert_int_equal(j.status.status, RK_JOB_RUNNING);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_00000001", false, &j), RK_ENOENT);
}

static void rollback_leaves_nothing(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    rk_experiment_t x = {0}, gx = {0};
    seed(s, &x);
    assert_int_equal(rk_store_begin(s), 0);
    write_everything(s, &x);
    assert_int_equal(rk_store_rollback(s), 0);

    rk_registered_agent_t a;
    rk_job_info_t j;
    rk_result_t r;
    assert_int_equal(rk_store_agent_get(s, "tx-agent", &a), RK_ENOENT);
    assert_int_equal(rk_store_job_get(s, "job_00000101", false, &j), RK_ENOENT);
    assert_int_equal(rk_store_result_get(s, "job_00000002", &r), RK_ENOENT);
    assert_int_equal(rk_store_experiment_get(s, x.id, &gx), 0);
    rk_experiment_cleanup(&gx);
    assert_int_equal(rk_store_job_get(s, "job_00000001", true, &j), 0);
    assert_int_equal(j.n_history, 1);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_00000002", true, &j), 0);
    assert_int_equal(j.status.status, RK_JOB_QUEUED);
    assert_int_equal(j.n_history, 1);
    rk_job_info_cleanup(&j);
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(s, NULL, &p, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(p.total, 2);
    rk_store_jobs_free(v, n);
    /* The store works on after a rollback. */
    assert_int_equal(insert_job(s, "job_00000003", x.id, "a1", RK_JOB_QUEUED), 3);
    rk_experiment_cleanup(&x);
}

static void commit_keeps_all(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    rk_experiment_t x = {0}, gx;
    seed(s, &x);
    assert_int_equal(rk_store_begin(s), 0);
    write_everything(s, &x);
    assert_int_equal(rk_store_commit(s), 0);

    rk_registered_agent_t a;
    rk_job_info_t j;
    rk_result_t r;
    assert_int_equal(rk_store_agent_get(s, "tx-agent", &a), 0);
    rk_registered_agent_cleanup(&a);
    assert_int_equal(rk_store_job_get(s, "job_00000102", false, &j), 0);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_result_get(s, "job_00000002", &r), 0);
    rk_result_cleanup(&r);
    assert_int_equal(rk_store_experiment_get(s, x.id, &gx), RK_ENOENT);
    assert_int_equal(rk_store_job_get(s, "job_00000002", true, &j), 0);
    assert_int_equal(j.n_history, 2);
    rk_job_info_cleanup(&j);
    rk_experiment_cleanup(&x);
}

/* A failed write inside a transaction leaves the rest of it intact. */
static void failed_write_in_transaction(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    assert_int_equal(rk_store_begin(s), 0);
    insert_job(s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    rk_job_info_t dup = job_of("job_00000001", "e", "a", RK_JOB_QUEUED, 1);
    assert_int_equal(rk_store_job_insert(s, &dup, NULL), RK_EEXIST);
    insert_job(s, "job_00000002", "e", "a", RK_JOB_QUEUED);
    assert_int_equal(rk_store_commit(s), 0);
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(s, "job_00000001", true, &j), 0);
    assert_int_equal(j.n_history, 1);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(s, "job_00000002", false, &j), 0);
    rk_job_info_cleanup(&j);
}

typedef struct peek {
    rk_store_t *s;
    atomic_bool committed;
    int rc;
    bool committed_when_seen;
} peek_t;

static void *peek_thread(void *arg)
{
    peek_t *p = arg;
    rk_job_info_t j = {0};
    p->rc = rk_store_job_get(p->s, "job_00000009", false, &j);
    p->committed_when_seen = atomic_load(&p->committed);
    rk_job_info_cleanup(&j);
    return NULL;
}

static void other_threads_see_only_committed(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    peek_t p = {.s = s};
    assert_int_equal(rk_store_begin(s), 0);
    insert_job(s, "job_00000009", "e", "a", RK_JOB_QUEUED);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, peek_thread, &p), 0);
    usleep(50 * 1000);
    atomic_store(&p.committed, true);
    assert_int_equal(rk_store_commit(s), 0);
    pthread_join(t, NULL);
    /* Either it read before the commit and saw nothing, or it waited. */
    if (p.rc == 0)
        assert_true(p.committed_when_seen);
    else
        assert_int_equal(p.rc, RK_ENOENT);
}

#define WRITERS 2
#define BATCHES 25
#define BATCH 10

typedef struct race {
    rk_store_t *s;
    int writer;
    atomic_int writers_done;
    atomic_int bad;
    int reads;
} race_t;

static void *writer_thread(void *arg)
{
    race_t *r = arg;
    int w = r->writer;
    race_t *shared = r - w;
    for (int b = 0; b < BATCHES; b++) {
        if (rk_store_begin(r->s))
            atomic_fetch_add(&shared->bad, 1);
        for (int i = 0; i < BATCH; i++) {
            char id[16];
            snprintf(id, sizeof id, "job_%d%07d", w, b * BATCH + i);
            rk_job_info_t j = job_of(id, "e", w ? "a1" : "a0", RK_JOB_QUEUED, 1);
            rk_job_status_t st = {.status = RK_JOB_RUNNING, .timestamp = 2, .message = (char *)""};
            if (rk_store_job_insert(r->s, &j, NULL) || rk_store_job_set_status(r->s, id, &st))
                atomic_fetch_add(&shared->bad, 1);
        }
        if (rk_store_commit(r->s))
            atomic_fetch_add(&shared->bad, 1);
    }
    atomic_fetch_add(&shared->writers_done, 1);
    return NULL;
}

static void *reader_thread(void *arg)
{
    race_t *r = arg;
    bool slow = getenv("RK_UNDER_VALGRIND") != NULL;
    race_t *shared = r - r->writer;
    while (atomic_load(&shared->writers_done) < WRITERS) {
        rk_page_t p = {.limit = 50};
        rk_job_info_t *v;
        size_t n;
        rk_job_filter_t f = {.state_mask = 1u << RK_JOB_QUEUED};
        if (rk_store_job_list(r->s, NULL, &p, &v, &n))
            atomic_fetch_add(&shared->bad, 1);
        /* Batches are atomic: whole ones only, every job already running. */
        if (p.total % BATCH)
            atomic_fetch_add(&shared->bad, 1);
        for (size_t i = 0; i < n; i++)
            if (v[i].status.status != RK_JOB_RUNNING ||
                (i && strcmp(v[i].job_id, v[i - 1].job_id) == 0))
                atomic_fetch_add(&shared->bad, 1);
        rk_store_jobs_free(v, n);
        p = (rk_page_t){.limit = 1};
        if (rk_store_job_list(r->s, &f, &p, &v, &n) || n || p.total)
            atomic_fetch_add(&shared->bad, 1);
        rk_store_jobs_free(v, n);
        r->reads++;
        /* Under valgrind, which runs one thread at a time, three readers
         * spinning starve the writers for minutes: let them through. */
        if (slow)
            usleep(1000);
    }
    return NULL;
}

static void concurrent_readers_and_writers(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    race_t r[WRITERS + 3] = {0};
    pthread_t t[WRITERS + 3];
    for (int i = 0; i < WRITERS + 3; i++) {
        r[i].s = s;
        r[i].writer = i;
    }
    for (int i = 0; i < WRITERS + 3; i++)
        assert_int_equal(
            pthread_create(&t[i], NULL, i < WRITERS ? writer_thread : reader_thread, &r[i]), 0);
    for (int i = 0; i < WRITERS + 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&r[0].bad), 0);
    rk_page_t p = {.limit = 1};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(s, NULL, &p, &v, &n), 0);
    assert_int_equal(p.total, WRITERS * BATCHES * BATCH);
    rk_store_jobs_free(v, n);
    rk_job_filter_t f = {.agent_id = "a1"};
    assert_int_equal(rk_store_job_list(s, &f, &p, &v, &n), 0);
    assert_int_equal(p.total, BATCHES * BATCH);
    rk_store_jobs_free(v, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(rollback_leaves_nothing),        T(commit_keeps_all),
        T(failed_write_in_transaction),    T(other_threads_see_only_committed),
        T(concurrent_readers_and_writers),
    };
    return run_all_backends(tests, sizeof tests / sizeof tests[0]);
}
