/* The sqlite backend beyond the shared contract: durability across close
 * and reopen, the schema version and migrations, damaged files, location
 * options, and the indexes the hot queries rely on. */
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include "conformance.h"
#include "store/sqlite_int.h"

static const char *schema_version_sql = "PRAGMA user_version";

static int raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void reopen_keeps_everything(void **state)
{
    fx_t *f = *state;
    rk_experiment_t x = {0}, gx = {0};
    rk_registered_agent_t a = {0}, ga = {0};
    make_experiment("durable", &x);
    make_agent("a1", "http://h:1", &a);
    assert_int_equal(rk_store_experiment_insert(f->s, &x), 0);
    assert_int_equal(rk_store_agent_put(f->s, &a), 0);
    insert_job(f->s, "job_00000001", x.id, "a1", RK_JOB_QUEUED);
    assert_int_equal(rk_store_begin(f->s), 0);
    set_state(f->s, "job_00000001", RK_JOB_COMPLETED, "done");
    rk_result_t r = {0}, gr = {0};
    make_result("job_00000001", x.id, "a1", &r);
    assert_int_equal(rk_store_result_put(f->s, &r), 0);
    assert_int_equal(rk_store_commit(f->s), 0);
    rk_store_close(f->s);

    assert_int_equal(rk_store_open("sqlite", f->path, &f->s), 0);
    assert_int_equal(rk_store_experiment_get(f->s, x.id, &gx), 0);
    json_t *e1 = rk_experiment_encode(&x), *e2 = rk_experiment_encode(&gx);
    assert_true(json_equal(e1, e2));
    json_decref(e1);
    json_decref(e2);
    assert_int_equal(rk_store_agent_get(f->s, "a1", &ga), 0);
    assert_true(rk_registered_agent_equal(&a, &ga));
    rk_job_info_t j = {0};
    assert_int_equal(rk_store_job_get(f->s, "job_00000001", true, &j), 0);
    assert_int_equal(j.status.status, RK_JOB_COMPLETED);
    assert_int_equal(j.n_history, 2);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_result_get(f->s, "job_00000001", &gr), 0);
    json_t *r1 = rk_result_encode(&r), *r2 = rk_result_encode(&gr);
    assert_true(json_equal(r1, r2));
    json_decref(r1);
    json_decref(r2);
    /* The next job continues the sequence. */
    assert_int_equal(insert_job(f->s, "job_00000002", x.id, "a1", RK_JOB_QUEUED), 2);
    rk_result_cleanup(&r);
    rk_result_cleanup(&gr);
    rk_experiment_cleanup(&x);
    rk_experiment_cleanup(&gx);
    rk_registered_agent_cleanup(&a);
    rk_registered_agent_cleanup(&ga);
}

static void schema_version_and_wal(void **state)
{
    fx_t *f = *state;
    assert_int_equal(raw_int(f->path, schema_version_sql), RK_SQLITE_SCHEMA_VERSION);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Fails unless sql's plan reads only by key or index: no SCAN of a table
 * or index (a full pass), no temporary B-tree (a sort of every match). */
static void assert_plan_searches(sqlite3 *db, const char *sql)
{
    char text[SQ_LIST_SQL_MAX + 32];
    snprintf(text, sizeof text, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, text, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int searches = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        if (strncmp(detail, "SCAN", 4) == 0 || strstr(detail, "TEMP B-TREE"))
            fail_msg("%s: plan has %s", sql, detail);
        searches += strncmp(detail, "SEARCH", 6) == 0;
    }
    sqlite3_finalize(st);
    if (!searches)
        fail_msg("%s: no SEARCH in its plan", sql);
}

/* Every listing shape the store runs (each state mask with and without an
 * agent and an experiment, page and total; results by each key pair)
 * searches an index: none scans or sorts. */
static void every_listing_shape_searches_an_index(void **state)
{
    fx_t *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    char sql[SQ_LIST_SQL_MAX];
    for (unsigned mask = 0; mask < (1u << RK_JOB_STATE_COUNT); mask++)
        for (int k = 0; k < 4; k++) {
            rk_job_filter_t flt = {mask, k & 1 ? "a" : NULL, k & 2 ? "e" : NULL};
            sq_job_list_sql(&flt, false, sql, sizeof sql);
            assert_plan_searches(db, sql);
            sq_job_list_sql(&flt, true, sql, sizeof sql);
            assert_plan_searches(db, sql);
        }
    for (int k = 0; k < 4; k++) {
        rk_result_filter_t rf = {k & 1 ? "e" : NULL, k & 2 ? "a" : NULL};
        sq_result_list_sql(&rf, sql, sizeof sql);
        assert_plan_searches(db, sql);
    }
    /* The start-up scan of unfinished jobs passes over the partial index,
     * which holds the unfinished jobs only. */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "EXPLAIN QUERY PLAN SELECT seq FROM jobs INDEXED BY"
                                        " jobs_unfinished WHERE 1 AND state IN"
                                        " ('queued','assigned','running','paused') ORDER BY seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "jobs_unfinished"));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void older_file_is_migrated(void **state)
{
    fx_t *f = *state;
    rk_store_close(f->s);
    f->s = NULL;
    unlink(f->path);
    /* A version-0 file: a database that has never seen this schema. */
    raw_exec(f->path, "CREATE TABLE unrelated(x); PRAGMA user_version = 0;");
    assert_int_equal(rk_store_open("sqlite", f->path, &f->s), 0);
    assert_int_equal(raw_int(f->path, schema_version_sql), RK_SQLITE_SCHEMA_VERSION);
    insert_job(f->s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM unrelated"), 0);
}

static int count_scan(void *ud, const rk_job_brief_t *b)
{
    (void)b;
    ++*(int *)ud;
    return 0;
}

/* A file of schema 4 (before queue control) with jobs in it upgrades in
 * place: its jobs read medium, not exclusive, placed; the partial index of
 * unfinished jobs takes paused ones in; new jobs keep the new fields. */
static void schema_4_file_gains_queue_control(void **state)
{
    fx_t *f = *state;
    insert_job(f->s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    insert_job(f->s, "job_00000002", "e", "a", RK_JOB_RUNNING);
    insert_job(f->s, "job_00000003", "e", "a", RK_JOB_COMPLETED);
    rk_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path,
             "DROP INDEX jobs_idem; ALTER TABLE jobs DROP COLUMN idem_key;"
             "ALTER TABLE jobs DROP COLUMN idem_fp;"
             "DROP INDEX jobs_unfinished;"
             "ALTER TABLE jobs DROP COLUMN priority; ALTER TABLE jobs DROP COLUMN exclusive;"
             "ALTER TABLE jobs DROP COLUMN selector; ALTER TABLE jobs DROP COLUMN extra;"
             "CREATE INDEX jobs_unfinished ON jobs(seq)"
             "  WHERE state IN ('queued','assigned','running');"
             "PRAGMA user_version = 4;");
    assert_int_equal(
        raw_int(f->path, "SELECT count(*) FROM pragma_table_info('jobs') WHERE name = 'priority'"),
        0);
    assert_int_equal(rk_store_open("sqlite", f->path, &f->s), 0);
    assert_int_equal(raw_int(f->path, schema_version_sql), RK_SQLITE_SCHEMA_VERSION);
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(f->s, "job_00000002", true, &j), 0);
    assert_int_equal(j.priority, RK_PRIO_MEDIUM);
    assert_false(j.exclusive);
    assert_null(j.selector_labels);
    assert_string_equal(j.agent_id, "a");
    assert_int_equal(j.n_history, 1);
    rk_job_info_cleanup(&j);

    set_state(f->s, "job_00000001", RK_JOB_PAUSED, "held");
    int n = 0;
    assert_int_equal(rk_store_job_scan(f->s,
                                       MASK(RK_JOB_QUEUED) | MASK(RK_JOB_ASSIGNED) |
                                           MASK(RK_JOB_RUNNING) | MASK(RK_JOB_PAUSED),
                                       count_scan, &n),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM jobs INDEXED BY jobs_unfinished WHERE"
                                      " state IN ('queued','assigned','running','paused')"),
                     2);

    rk_job_info_t k = job_of("job_00000004", "e", NULL, RK_JOB_QUEUED, 1000);
    k.priority = RK_PRIO_CRITICAL;
    assert_int_equal(rk_store_job_insert(f->s, &k, NULL), 0);
    assert_int_equal(rk_store_job_get(f->s, "job_00000004", false, &j), 0);
    assert_int_equal(j.priority, RK_PRIO_CRITICAL);
    assert_null(j.agent_id);
    assert_null(j.idem_key); /* the old jobs and this one: no key */
    rk_job_info_cleanup(&j);
    /* ... and the migrated file takes idempotency keys (schema 7). */
    rk_job_info_t kk = job_of("job_00000005", "e", "a", RK_JOB_QUEUED, 1000);
    kk.idem_key = (char *)"after-migration";
    kk.idem_fp = (char *)"00000000000000000000000000000000";
    assert_int_equal(rk_store_job_insert(f->s, &kk, NULL), 0);
    char *kid = NULL, *kfp = NULL;
    assert_int_equal(rk_store_job_find_key(f->s, "after-migration", &kid, &kfp), 0);
    assert_string_equal(kid, "job_00000005");
    free(kid);
    free(kfp);
}

static void newer_or_damaged_files_are_refused(void **state)
{
    fx_t *f = *state;
    rk_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path, "PRAGMA user_version = 99");
    rk_store_t *s = NULL;
    assert_int_equal(rk_store_open("sqlite", f->path, &s), RK_EIO);
    assert_null(s);

    unlink(f->path);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, just text. ", fp);
    fclose(fp);
    assert_int_equal(rk_store_open("sqlite", f->path, &s), RK_EIO);
    assert_null(s);

    assert_int_equal(rk_store_open("sqlite", "/nonexistent-dir/x/y.db", &s), RK_EIO);
    assert_int_equal(rk_store_open("sqlite", "", &s), RK_EINVAL);
}

static void location_options(void **state)
{
    fx_t *f = *state;
    rk_store_close(f->s);
    f->s = NULL;
    char loc[300];
    snprintf(loc, sizeof loc, "%s?synchronous=full", f->path);
    assert_int_equal(rk_store_open("sqlite", loc, &f->s), 0);
    insert_job(f->s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    rk_store_close(f->s);
    f->s = NULL;
    snprintf(loc, sizeof loc, "%s?synchronous=sometimes", f->path);
    assert_int_equal(rk_store_open("sqlite", loc, &f->s), RK_EINVAL);
    snprintf(loc, sizeof loc, "%s?synchronous=normal", f->path);
    assert_int_equal(rk_store_open("sqlite", loc, &f->s), 0);
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(f->s, "job_00000001", false, &j), 0);
    rk_job_info_cleanup(&j);
}

static void set_state_rc(rk_store_t *s, const char *id, rk_job_state_t st, int want)
{
    rk_job_status_t js = {.status = st, .timestamp = 3000, .message = (char *)"late"};
    assert_int_equal(rk_store_job_set_status(s, id, &js), want);
}

/* What the store holds of the jobs job_00000001..3, compared after a fault. */
static void assert_unchanged(fx_t *f)
{
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(f->s, "job_00000001", true, &j), 0);
    assert_int_equal(j.status.status, RK_JOB_QUEUED);
    assert_int_equal(j.n_history, 1);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(f->s, "job_00000002", false, &j), RK_ENOENT);
    assert_int_equal(rk_store_job_get(f->s, "job_00000003", false, &j), RK_ENOENT);
    rk_result_t r;
    assert_int_equal(rk_store_result_get(f->s, "job_00000001", &r), RK_ENOENT);
    rk_job_filter_t flt = {0};
    rk_page_t p = {.limit = 10};
    rk_job_info_t *v;
    size_t n;
    assert_int_equal(rk_store_job_list(f->s, &flt, &p, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p.total, 1);
    rk_store_jobs_free(v, n);
    flt.state_mask = MASK(RK_JOB_COMPLETED);
    flt.agent_id = "a";
    flt.experiment_id = "e";
    assert_int_equal(rk_store_job_list(f->s, &flt, &p, &v, &n), 0);
    assert_int_equal(p.total, 0);
    rk_store_jobs_free(v, n);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM jobs"), 1);
    assert_int_equal(raw_int(f->path, "SELECT count(*) FROM job_history"), 1);
    assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM job_pair_counts"), 1);
}

/* A transaction's writes: a status change with a message of msg_bytes,
 * a new job and a result. Returns the first failure, or 0. */
static int big_transaction(fx_t *f, size_t msg_bytes)
{
    char *msg = malloc(msg_bytes + 1);
    assert_non_null(msg);
    memset(msg, 'x', msg_bytes);
    msg[msg_bytes] = '\0';
    int first = rk_store_begin(f->s);
    assert_int_equal(first, 0);
    rk_job_status_t js = {.status = RK_JOB_COMPLETED, .timestamp = 5, .message = msg};
    int rc = rk_store_job_set_status(f->s, "job_00000001", &js);
    first = first ? first : rc;
    if (!rc) {
        rk_job_info_t j = job_of("job_00000002", "e", "a", RK_JOB_QUEUED, 1);
        int64_t seq;
        rc = rk_store_job_insert(f->s, &j, &seq);
        first = first ? first : rc;
        rk_result_t r = {0};
        make_result("job_00000001", "e", "a", &r);
        rc = rk_store_result_put(f->s, &r);
        first = first ? first : rc;
        rk_result_cleanup(&r);
    }
    free(msg);
    return first;
}

/* The disk fills (a file size limit: writes past 64 KiB fail): a commit
 * that cannot be written, or a write inside a transaction that cannot
 * spill, fails and leaves every stored job, history row, result and
 * counter as it was, also when the caller goes on writing in the doomed
 * transaction; once there is room again the store works and the file
 * reopens whole. */
static void full_disk_leaves_data_unchanged(void **state)
{
    fx_t *f = *state;
    insert_job(f->s, "job_00000001", "e", "a", RK_JOB_QUEUED);
    struct rlimit was;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {64 * 1024, was.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    /* 256 KiB fits the page cache: the writes succeed, the commit fails. */
    assert_int_equal(big_transaction(f, 256 << 10), 0);
    assert_int_not_equal(rk_store_commit(f->s), 0);
    assert_unchanged(f);

    /* 16 MiB spills from the cache inside the transaction: that write
     * fails, and SQLite rolls the whole transaction back. There is room
     * again at once, and the caller, not knowing, goes on writing in what
     * it takes for its transaction and commits: none of it may be stored
     * (each write refused, not committed on its own), and the commit
     * fails. */
    assert_int_equal(rk_store_begin(f->s), 0);
    char *huge = malloc((16 << 20) + 1);
    assert_non_null(huge);
    memset(huge, 'h', 16 << 20);
    huge[16 << 20] = '\0';
    rk_job_status_t hs = {.status = RK_JOB_RUNNING, .timestamp = 4, .message = huge};
    assert_int_not_equal(rk_store_job_set_status(f->s, "job_00000001", &hs), 0);
    free(huge);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    rk_job_info_t j3 = job_of("job_00000003", "e", "a", RK_JOB_QUEUED, 1);
    int64_t seq;
    assert_int_equal(rk_store_job_insert(f->s, &j3, &seq), RK_EIO);
    set_state_rc(f->s, "job_00000001", RK_JOB_FAILED, RK_EIO);
    rk_result_t r = {0};
    make_result("job_00000001", "e", "a", &r);
    assert_int_equal(rk_store_result_put(f->s, &r), RK_EIO);
    rk_result_cleanup(&r);
    assert_int_equal(rk_store_commit(f->s), RK_EIO);
    assert_unchanged(f);
    /* The next transaction is a fresh one. */
    assert_int_equal(rk_store_begin(f->s), 0);
    assert_int_equal(rk_store_rollback(f->s), 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    /* A write outside any transaction fails alone. */
    char *msg = malloc((1 << 20) + 1);
    assert_non_null(msg);
    memset(msg, 'y', 1 << 20);
    msg[1 << 20] = '\0';
    rk_job_status_t js = {.status = RK_JOB_FAILED, .timestamp = 6, .message = msg};
    assert_int_not_equal(rk_store_job_set_status(f->s, "job_00000001", &js), 0);
    free(msg);
    assert_unchanged(f);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(big_transaction(f, 256 << 10), 0);
    assert_int_equal(rk_store_commit(f->s), 0);
    rk_store_close(f->s);
    assert_int_equal(rk_store_open("sqlite", f->path, &f->s), 0);
    rk_job_info_t j;
    assert_int_equal(rk_store_job_get(f->s, "job_00000001", true, &j), 0);
    assert_int_equal(j.status.status, RK_JOB_COMPLETED);
    assert_int_equal(j.n_history, 2);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(f->s, "job_00000002", false, &j), 0);
    rk_job_info_cleanup(&j);
    assert_int_equal(rk_store_job_get(f->s, "job_00000003", false, &j), RK_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(reopen_keeps_everything),
        T(schema_version_and_wal),
        T(every_listing_shape_searches_an_index),
        T(older_file_is_migrated),
        T(schema_4_file_gains_queue_control),
        T(newer_or_damaged_files_are_refused),
        T(location_options),
        T(full_disk_leaves_data_unchanged),
    };
    backend = "sqlite";
    rk_log_set_level(RK_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
