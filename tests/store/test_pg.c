/* What only the postgresql backend has, against the real PostgreSQL the
 * test starts (rk_test_pg.h): dispatch leases and the dispatch lock, surviving a restart of the
 * server between two operations, reads beside an open transaction, the
 * schema version and its migration,
 * and the connection string from the environment. Skipped, saying why,
 * where no PostgreSQL can be started. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "conformance.h"
#include "store/pg_int.h"

static int pg_setup(void **state)
{
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        print_message("postgresql unavailable: %s\n", why);
        skip();
    }
    backend = "postgresql";
    return fx_setup(state);
}

/* One value of a query run on the test's database directly. */
static char *raw_value(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    char *v = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    PQclear(r);
    PQfinish(c);
    return v;
}

static void leases_take_renew_busy_lapse(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-1", 300), 0);
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-1", 300), 0); /* renew */
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-2", 300), RK_EBUSY);
    assert_int_equal(rk_store_lease_acquire(s, "a2", "server-2", 300), 0); /* another agent */
    /* Renewing pushes the expiry: still busy for the other after 200 ms. */
    usleep(200 * 1000);
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-1", 300), 0);
    usleep(200 * 1000);
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-2", 300), RK_EBUSY);
    /* Lapsed: taken over, and then the old owner is the one refused. */
    usleep(200 * 1000);
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-2", 1000), 0);
    assert_int_equal(rk_store_lease_acquire(s, "a1", "server-1", 1000), RK_EBUSY);
    /* Inside a transaction, like any write; a rollback gives it back. */
    assert_int_equal(rk_store_begin(s), 0);
    assert_int_equal(rk_store_lease_acquire(s, "a3", "server-1", 1000), 0);
    assert_int_equal(rk_store_rollback(s), 0);
    assert_int_equal(rk_store_lease_acquire(s, "a3", "server-2", 1000), 0);
}

static void total_jobs(rk_store_t *s, uint64_t want)
{
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(s, NULL, &p, &v, &n), 0);
    assert_int_equal(p.total, want);
    assert_int_equal(n, want);
    rk_store_jobs_free(v, n);
}

static void total_jobs_of(rk_store_t *s, const char *agent, uint64_t want)
{
    rk_job_filter_t f = {.agent_id = agent};
    rk_page_t p = {.limit = 1};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(s, &f, &p, &v, &n), 0);
    assert_int_equal(p.total, want);
    rk_store_jobs_free(v, n);
}

static void on_lost(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Kills the writer session of store s from outside (a cut connection);
 * with gone, waits until its backend has exited (and freed its locks). */
static void cut_writer(const char *conninfo, rk_store_t *s, bool gone)
{
    char sql[128];
    int pid = PQbackendPID(PG(s)->w.conn);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
    free(raw_value(conninfo, sql));
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
    for (int i = 0; gone && i < 300; i++) {
        char *n = raw_value(conninfo, sql);
        bool done = strcmp(n, "0") == 0;
        free(n);
        if (done)
            return;
        usleep(10 * 1000);
    }
}

/* The dispatch lock: one store at a time; a closed store frees it (a
 * store asking with a grace takes it once it saw it free that long, one
 * that never saw it held at once); one
 * whose connection was cut takes it again on reconnect when nobody else
 * did, and is fenced (every write refused, told once) when a standby did.
 * Scale: 1,000 writes by the leader keep it; a standby asking 200 times
 * never gets it. */
static void dispatch_lock_one_leader_fenced_after(void **state)
{
    fx_t *f = *state;
    atomic_int lost1 = 0, lost2 = 0;
    rk_store_t *b = NULL, *c = NULL;
    assert_int_equal(rk_store_open("postgresql", f->path, &b), 0);
    assert_int_equal(rk_store_open("postgresql", f->path, &c), 0);
    assert_int_equal(rk_store_lead(f->s, 0, on_lost, &lost1), 0);
    assert_int_equal(rk_store_lead(f->s, 0, on_lost, &lost1), 0); /* again: still ours */
    assert_int_equal(rk_store_lead(b, 0, on_lost, &lost2), RK_EBUSY);
    for (int i = 0; i < 1000; i++) {
        char id[16];
        snprintf(id, sizeof id, "job_%08d", i);
        insert_job(f->s, id, "e", "a", RK_JOB_QUEUED);
        if (i % 5 == 0)
            assert_int_equal(rk_store_lead(c, 0, on_lost, &lost2), RK_EBUSY);
    }
    /* Cut, nobody else asked: the reconnect takes it back (waiting for its
     * old session to end, if need be), writes go on. */
    cut_writer(f->path, f->s, false);
    rk_job_info_t dup = job_of("job_10000000", "e", "a", RK_JOB_QUEUED, 1);
    int rc = rk_store_job_insert(f->s, &dup, NULL);
    assert_true(rc == RK_EIO || rc == RK_ECONN);
    insert_job(f->s, "job_10000000", "e", "a", RK_JOB_QUEUED);
    assert_int_equal(rk_store_lead(b, 0, on_lost, &lost2), RK_EBUSY);
    assert_int_equal(atomic_load(&lost1), 0);
    /* Cut, and a standby takes it first: fenced for good, told once. */
    cut_writer(f->path, f->s, true);
    assert_int_equal(rk_store_lead(b, 0, on_lost, &lost2), 0);
    rk_job_info_t late = job_of("job_10000001", "e", "a", RK_JOB_QUEUED, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rk_store_job_insert(f->s, &late, NULL), RK_EIO);
    assert_int_equal(rk_store_begin(f->s), RK_EIO);
    assert_int_equal(atomic_load(&lost1), 1);
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(b, "job_10000001", false, &j), RK_ENOENT);
    total_jobs_of(b, NULL, 1001); /* nothing of the fenced store's landed */
    /* The new leader writes; a closed leader frees the lock. */
    insert_job(b, "job_10000002", "e", "a", RK_JOB_QUEUED);
    assert_int_equal(rk_store_lead(c, 0, on_lost, &lost2), RK_EBUSY);
    rk_store_close(b);
    /* With a grace: taken only once this store's asks have seen it free
     * that long (its session ends on the database's side just after the
     * close, so the first asks may still see it held). */
    struct timespec t0 = {0}, t1;
    for (int i = 0; i < 300 && (rc = rk_store_lead(c, 300, on_lost, &lost2)) == RK_EBUSY; i++) {
        if (!t0.tv_sec && PG(c)->free_since_ms)
            clock_gettime(CLOCK_MONOTONIC, &t0);
        usleep(10 * 1000);
    }
    assert_int_equal(rc, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t0.tv_sec != 0);
    double waited = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(waited >= 280 && waited < 2000);
    assert_int_equal(atomic_load(&lost2), 0);
    rk_store_close(c);
    /* A store that never saw it held (a server starting alone) takes a
     * free lock at its first ask, whatever its grace. */
    for (int i = 0; i < 200; i++) {
        char *held = raw_value(f->path, "SELECT count(*) FROM pg_locks WHERE locktype = "
                                        "'advisory' AND objid = 1919640688 AND granted");
        bool free_now = strcmp(held, "0") == 0;
        free(held);
        if (free_now)
            break;
        usleep(10 * 1000);
    }
    rk_store_t *d = NULL;
    assert_int_equal(rk_store_open("postgresql", f->path, &d), 0);
    assert_int_equal(rk_store_lead(d, 60000, on_lost, &lost2), 0);
    rk_store_close(d);
}

static void survives_server_restart(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    insert_job(s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    rk_job_info_t j = {0};
    /* A read: the store now has its read connection open too. */
    assert_int_equal(rk_store_job_get(s, "job_00000001", false, &j), 0);
    rk_job_info_cleanup(&j);

    /* Between two operations: the next fails with a clear error, the one
     * after reconnects and works (and so do writes, on their own
     * connection, without failing once more), and nothing was lost. */
    assert_int_equal(rk_test_pg_restart(), 0);
    int rc = rk_store_job_get(s, "job_00000001", false, &j);
    assert_true(rc == RK_EIO || rc == RK_ECONN);
    assert_int_equal(rk_store_job_get(s, "job_00000001", false, &j), 0);
    rk_job_info_cleanup(&j);
    set_state(s, "job_00000001", RK_JOB_RUNNING, "after the restart");

    /* Inside a transaction: the transaction is lost whole, its commit says
     * so, and none of it is in the store. */
    assert_int_equal(rk_store_begin(s), 0);
    insert_job(s, "job_00000002", "e", "a", RK_JOB_QUEUED);
    set_state(s, "job_00000001", RK_JOB_COMPLETED, "never committed");
    assert_int_equal(rk_test_pg_restart(), 0);
    rk_job_info_t dup = job_of("job_00000003", "e", "a", RK_JOB_QUEUED, 1);
    assert_int_equal(rk_store_job_insert(s, &dup, NULL), RK_EIO);
    assert_int_equal(rk_store_job_insert(s, &dup, NULL), RK_EIO); /* still lost */
    assert_int_equal(rk_store_commit(s), RK_EIO);
    assert_int_equal(rk_store_job_get(s, "job_00000002", false, &j), RK_ENOENT);
    assert_int_equal(rk_store_job_get(s, "job_00000001", true, &j), 0);
    assert_int_equal(j.status.status, RK_JOB_RUNNING);
    assert_int_equal(j.n_history, 2);
    rk_job_info_cleanup(&j);
    total_jobs(s, 1);

    /* A write right after a restart (the write connection in use before
     * it): refused whole, then done once. */
    assert_int_equal(rk_store_lease_acquire(s, "a", "server-1", 60000), 0);
    assert_int_equal(rk_test_pg_restart(), 0);
    rc = rk_store_job_insert(s, &dup, NULL);
    assert_true(rc == RK_EIO || rc == RK_ECONN);
    total_jobs(s, 1);
    int64_t seq = insert_job(s, "job_00000003", "e", "a", RK_JOB_QUEUED);
    assert_int_equal(seq, 2);
    total_jobs(s, 2);
}

typedef struct beside {
    rk_store_t *s;
    atomic_bool committed;
    int rc;
    bool committed_when_done;
    uint64_t total;
} beside_t;

static void *read_beside(void *arg)
{
    beside_t *b = arg;
    rk_job_info_t j = {0};
    b->rc = rk_store_job_get(b->s, "job_00000002", false, &j);
    rk_job_info_cleanup(&j);
    rk_page_t p = {.limit = 5};
    rk_job_info_t *v;
    size_t n;
    if (rk_store_job_list(b->s, NULL, &p, &v, &n) == 0)
        b->total = p.total;
    rk_store_jobs_free(v, n);
    b->committed_when_done = atomic_load(&b->committed);
    return NULL;
}

/* Reads of other threads run on their own connections beside an open
 * transaction (they do not wait for it) and see only what is committed. */
static void reads_run_beside_a_transaction(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    insert_job(s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    beside_t b = {.s = s};
    assert_int_equal(rk_store_begin(s), 0);
    insert_job(s, "job_00000002", "e", "a", RK_JOB_QUEUED);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_beside, &b), 0);
    pthread_join(t, NULL); /* before the commit: it did not wait for it */
    atomic_store(&b.committed, true);
    assert_int_equal(rk_store_commit(s), 0);
    assert_false(b.committed_when_done);
    assert_int_equal(b.rc, RK_ENOENT);
    assert_int_equal(b.total, 1);
    total_jobs(s, 2);
}

typedef struct chunked {
    rk_store_t *s;
    int64_t last;
    int count, bad;
} chunked_t;

static int chunk_cb(void *ud, const rk_job_brief_t *b)
{
    chunked_t *c = ud;
    if (b->seq <= c->last || b->state != RK_JOB_QUEUED)
        c->bad++;
    c->last = b->seq;
    /* The store is usable from inside the callback. */
    if (++c->count % 5000 == 0) {
        rk_job_info_t j = {0};
        if (rk_store_job_get(c->s, b->job_id, false, &j))
            c->bad++;
        rk_job_info_cleanup(&j);
    }
    return 0;
}

/* A scan bigger than one chunk (pg_jobs.c reads 10,000 rows at a time):
 * every job once, oldest first, with store calls from the callback. */
static void scan_in_chunks(void **state)
{
    rk_store_t *s = ((fx_t *)*state)->s;
    enum { JOBS = 25001 };
    assert_int_equal(rk_store_begin(s), 0);
    for (int i = 0; i < JOBS; i++) {
        char id[16];
        snprintf(id, sizeof id, "job_%08x", i);
        rk_job_info_t j = job_of(id, "e", "a", i % 5 ? RK_JOB_QUEUED : RK_JOB_COMPLETED, 1);
        assert_int_equal(rk_store_job_insert(s, &j, NULL), 0);
    }
    assert_int_equal(rk_store_commit(s), 0);
    chunked_t c = {.s = s};
    assert_int_equal(rk_store_job_scan(s, MASK(RK_JOB_QUEUED), chunk_cb, &c), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.count, JOBS - (JOBS + 4) / 5);
}

typedef struct server_run {
    rk_store_t *s;
    int id;
    int failed;
} server_run_t;

static void *server_writes(void *arg)
{
    server_run_t *r = arg;
    for (int b = 0; b < 20; b++) {
        r->failed += rk_store_begin(r->s) != 0;
        for (int i = 0; i < 10; i++) {
            char id[16], agent[8];
            snprintf(id, sizeof id, "job_%d%07d", r->id, b * 10 + i);
            snprintf(agent, sizeof agent, "a%d", r->id);
            rk_job_info_t j = job_of(id, "e", agent, RK_JOB_QUEUED, 1);
            rk_job_status_t st = {.status = RK_JOB_RUNNING, .timestamp = 2, .message = (char *)""};
            r->failed += rk_store_job_insert(r->s, &j, NULL) != 0;
            r->failed += rk_store_job_set_status(r->s, id, &st) != 0;
        }
        r->failed += rk_store_commit(r->s) != 0;
    }
    return NULL;
}

static int collect_seq(void *ud, const rk_job_brief_t *b)
{
    int64_t *seqs = ud;
    seqs[++seqs[0]] = b->seq;
    return seqs[0] > 400 ? -1 : 0;
}

/* Two stores on one database (two servers): their batches interleave, the
 * job numbers stay unique and gapless, the totals exact. */
static void two_servers_one_database(void **state)
{
    fx_t *f = *state;
    server_run_t r[2] = {{.s = f->s, .id = 1}, {.id = 2}};
    assert_int_equal(rk_store_open("postgresql", f->path, &r[1].s), 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, server_writes, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r[0].failed + r[1].failed, 0);
    total_jobs_of(f->s, NULL, 400);
    total_jobs_of(r[1].s, "a1", 200);
    total_jobs_of(r[1].s, "a2", 200);
    static int64_t seqs[402];
    seqs[0] = 0;
    assert_int_equal(rk_store_job_scan(r[1].s, MASK(RK_JOB_RUNNING), collect_seq, seqs), 0);
    assert_int_equal(seqs[0], 400);
    for (int i = 1; i <= 400; i++)
        assert_int_equal(seqs[i], i);
    rk_store_close(r[1].s);
}

static void schema_version_and_migration(void **state)
{
    fx_t *f = *state;
    char *v = raw_value(f->path, "SELECT version FROM schema_version");
    char want[16];
    snprintf(want, sizeof want, "%d", RK_PG_SCHEMA_VERSION);
    assert_string_equal(v, want);
    free(v);
    v = raw_value(f->path, "SELECT count(*) FROM schema_version");
    assert_string_equal(v, "1");
    free(v);
    /* Reopening migrates nothing and keeps the data. */
    insert_job(f->s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    rk_store_close(f->s);
    f->s = NULL;
    assert_int_equal(rk_store_open("postgresql", f->path, &f->s), 0);
    total_jobs(f->s, 1);
    rk_store_close(f->s);
    f->s = NULL;
    /* A newer schema than this build knows is refused. */
    free(raw_value(f->path, "UPDATE schema_version SET version = 99"));
    assert_int_equal(rk_store_open("postgresql", f->path, &f->s), RK_EIO);
    assert_null(f->s);
    /* A version-1 database (before queue control) is migrated in place:
     * its jobs read medium, not exclusive, without a selector, and paused
     * jobs count as unfinished from then on. */
    free(raw_value(f->path, "DROP INDEX jobs_unfinished; ALTER TABLE jobs DROP COLUMN priority,"
                            " DROP COLUMN exclusive, DROP COLUMN selector, DROP COLUMN extra,"
                            " DROP COLUMN idem_key, DROP COLUMN idem_fp;"
                            " CREATE INDEX jobs_unfinished ON jobs(seq)"
                            "  WHERE state IN ('queued','assigned','running');"
                            " UPDATE schema_version SET version = 1"));
    assert_int_equal(rk_store_open("postgresql", f->path, &f->s), 0);
    v = raw_value(f->path, "SELECT version FROM schema_version");
    assert_string_equal(v, want);
    free(v);
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(f->s, "job_00000001", false, &j), 0);
    assert_int_equal(j.priority, RK_PRIO_MEDIUM);
    assert_false(j.exclusive);
    assert_null(j.selector_labels);
    assert_string_equal(j.agent_id, "a");
    rk_job_info_cleanup(&j);
    v = raw_value(f->path, "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_unfinished'");
    assert_non_null(strstr(v, "paused"));
    free(v);
}

static void location_from_environment(void **state)
{
    fx_t *f = *state;
    rk_store_t *s = NULL;
    unsetenv("RUCKUS_POSTGRES_DATABASE_URL");
    assert_int_equal(rk_store_open("postgresql", "", &s), RK_EINVAL);
    setenv("RUCKUS_POSTGRES_DATABASE_URL", f->path, 1);
    assert_int_equal(rk_store_open("postgresql", "", &s), 0);
    unsetenv("RUCKUS_POSTGRES_DATABASE_URL");
    insert_job(s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    rk_store_close(s);
    total_jobs(f->s, 1);
    /* Nothing listening: a clear error, no store. */
    assert_int_equal(rk_store_open("postgresql", "host=127.0.0.1 port=1 connect_timeout=2", &s),
                     RK_ECONN);
    assert_null(s);
}

int main(void)
{
    rk_log_set_level(RK_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(leases_take_renew_busy_lapse, pg_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(dispatch_lock_one_leader_fenced_after, pg_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(survives_server_restart, pg_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(reads_run_beside_a_transaction, pg_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(scan_in_chunks, pg_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(two_servers_one_database, pg_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(schema_version_and_migration, pg_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(location_from_environment, pg_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* conformance.h's fixtures this file has no use for. */
__attribute__((unused)) static void (*const unused_fixtures[])(void) = {
    (void (*)(void))make_agent, (void (*)(void))make_experiment, (void (*)(void))make_result,
    (void (*)(void))run_all_backends};
