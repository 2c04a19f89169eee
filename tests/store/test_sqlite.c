/* The sqlite backend beyond the shared contract: durability across close
 * and reopen, the schema version and migrations, damaged files, location
 * options, and the indexes the hot queries rely on. */
#include <sqlite3.h>

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
                                        " ('queued','assigned','running') ORDER BY seq",
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
    char loc[160];
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(reopen_keeps_everything),
        T(schema_version_and_wal),
        T(every_listing_shape_searches_an_index),
        T(older_file_is_migrated),
        T(newer_or_damaged_files_are_refused),
        T(location_options),
    };
    backend = "sqlite";
    rk_log_set_level(RK_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
