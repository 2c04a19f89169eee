/* Storage conformance, part 3: listings at scale, run against every
 * registered backend. 100,000 jobs (a few agents and experiments, every
 * state, a small experiment at the oldest end) go through status changes,
 * a rolled-back transaction and a cascade delete; then every filter shape
 * (each of the 256 state masks, with and without an agent and an
 * experiment) must give the same total, first page and second page as a
 * model of the jobs kept by the test. For sqlite, each shape's page and
 * total must also be cheap in SQLite's own count of the work: a bound on
 * the virtual machine steps of the store's own SQL (sq_job_list_sql) that
 * holds at any size, where a scan of the matching key would take tens of
 * thousands.
 */
#include <sqlite3.h>

#include "conformance.h"
#include "store/sqlite_int.h"

#define N 100000 /* jobs; 20,000 under valgrind (n_jobs): the scale is the test stage's */
#define N_AGENTS 4
#define N_EXPS 10
#define OLD 500 /* the oldest jobs: experiment "x-old" */
#define LIMIT 50

typedef struct model {
    unsigned char state[N];
    bool result[N];
} model_t;

static model_t model;
static int n_jobs = N;

static void names(int i, char id[16], char agent[16], char exp[16])
{
    snprintf(id, 16, "job_%08x", i);
    snprintf(agent, 16, "ag-%d", i % N_AGENTS);
    if (i < OLD)
        snprintf(exp, 16, "x-old");
    else
        snprintf(exp, 16, "x-%d", i % N_EXPS);
}

static rk_job_state_t first_state(int i)
{
    /* Mostly completed; every state present, the rare ones sparse. */
    return i % 997 == 5     ? RK_JOB_TIMEOUT
           : i % 101 == 7   ? RK_JOB_CANCELLED
           : i % 13 == 1    ? RK_JOB_FAILED
           : i % 1009 == 11 ? RK_JOB_RUNNING
           : i % 499 == 3   ? RK_JOB_ASSIGNED
           : i % 211 == 9   ? RK_JOB_QUEUED
                            : RK_JOB_COMPLETED;
}

static void fill(rk_store_t *s)
{
    assert_int_equal(rk_store_begin(s), 0);
    for (int i = 0; i < n_jobs; i++) {
        char id[16], agent[16], exp[16];
        names(i, id, agent, exp);
        rk_job_info_t j = job_of(id, exp, agent, first_state(i), 1000);
        int64_t seq;
        assert_int_equal(rk_store_job_insert(s, &j, &seq), 0);
        assert_int_equal(seq, i + 1);
        model.state[i] = (unsigned char)first_state(i);
        if (i % 3 == 0) {
            rk_result_t r = {0};
            make_result(id, exp, agent, &r);
            assert_int_equal(rk_store_result_put(s, &r), 0);
            rk_result_cleanup(&r);
            model.result[i] = true;
        }
    }
    assert_int_equal(rk_store_commit(s), 0);

    /* Some unfinished jobs of the oldest end finish; others start. */
    assert_int_equal(rk_store_begin(s), 0);
    for (int i = 0; i < n_jobs; i += 7) {
        if (model.state[i] != RK_JOB_QUEUED && model.state[i] != RK_JOB_ASSIGNED)
            continue;
        char id[16], agent[16], exp[16];
        names(i, id, agent, exp);
        rk_job_state_t to = i < n_jobs / 2 ? RK_JOB_COMPLETED : RK_JOB_RUNNING;
        set_state(s, id, to, "moved");
        model.state[i] = (unsigned char)to;
    }
    assert_int_equal(rk_store_commit(s), 0);

    /* Rolled back: none of this may show. */
    assert_int_equal(rk_store_begin(s), 0);
    for (int i = 1; i < n_jobs; i += 5) {
        char id[16], agent[16], exp[16];
        names(i, id, agent, exp);
        set_state(s, id, RK_JOB_TIMEOUT, "undone");
        if (i % 2) {
            rk_result_t r = {0};
            make_result(id, "x-other", "ag-other", &r);
            assert_int_equal(rk_store_result_put(s, &r), 0);
            rk_result_cleanup(&r);
        }
    }
    insert_job(s, "job_rolled_back", "x-1", "ag-1", RK_JOB_QUEUED);
    assert_int_equal(rk_store_rollback(s), 0);

    /* The newest jobs, under every agent, go with their experiment. */
    rk_experiment_t x = {0};
    make_experiment("doomed", &x);
    assert_int_equal(rk_store_experiment_insert(s, &x), 0);
    for (int i = 0; i < 300; i++) {
        char id[16], agent[16];
        snprintf(id, sizeof id, "job_doomed%02x", i);
        snprintf(agent, sizeof agent, "ag-%d", i % N_AGENTS);
        insert_job(s, id, x.id, agent, i % 2 ? RK_JOB_COMPLETED : RK_JOB_FAILED);
        if (i % 3 == 0) {
            rk_result_t r = {0};
            make_result(id, x.id, agent, &r);
            assert_int_equal(rk_store_result_put(s, &r), 0);
            rk_result_cleanup(&r);
        }
    }
    assert_int_equal(rk_store_experiment_delete(s, x.id, true), 0);
    rk_experiment_cleanup(&x);
}

/* A filter's keys as names() numbers them: -1 any, -2 none. */
typedef struct mfilter {
    unsigned mask;
    int agent, exp;
} mfilter_t;

static mfilter_t model_filter(const rk_job_filter_t *f)
{
    mfilter_t m = {f->state_mask ? f->state_mask : ~0u, -1, -1};
    if (f->agent_id)
        m.agent = sscanf(f->agent_id, "ag-%d", &m.agent) == 1 ? m.agent : -2;
    if (f->experiment_id)
        m.exp = strcmp(f->experiment_id, "x-old") == 0          ? N_EXPS
                : sscanf(f->experiment_id, "x-%d", &m.exp) == 1 ? m.exp
                                                                : -2;
    return m;
}

static bool model_matches(int i, const mfilter_t *f)
{
    int exp = i < OLD ? N_EXPS : i % N_EXPS;
    return (f->mask & (1u << model.state[i])) &&
           (f->agent < 0 ? f->agent == -1 : f->agent == i % N_AGENTS) &&
           (f->exp < 0 ? f->exp == -1 : f->exp == exp);
}

/* The store's first two pages and total for f against the model. */
static void check_shape(rk_store_t *s, const rk_job_filter_t *f)
{
    int want[2 * LIMIT];
    size_t n_want = 0;
    uint64_t total = 0;
    mfilter_t mf = model_filter(f);
    for (int i = n_jobs - 1; i >= 0; i--)
        if (model_matches(i, &mf)) {
            if (n_want < 2 * LIMIT)
                want[n_want++] = i;
            total++;
        }
    rk_page_t p = {.limit = LIMIT};
    size_t seen = 0;
    for (int page = 0; page < 2; page++) {
        rk_job_info_t *v;
        size_t n;
        assert_int_equal(rk_store_job_list(s, f, &p, &v, &n), 0);
        if (p.total != total)
            fail_msg("mask %#x agent %s exp %s: total %llu, want %llu", f->state_mask,
                     f->agent_id ? f->agent_id : "-", f->experiment_id ? f->experiment_id : "-",
                     (unsigned long long)p.total, (unsigned long long)total);
        for (size_t k = 0; k < n; k++) {
            char id[16], agent[16], exp[16];
            assert_true(seen < n_want);
            names(want[seen++], id, agent, exp);
            if (strcmp(v[k].job_id, id) != 0)
                fail_msg("mask %#x agent %s exp %s: row %zu is %s, want %s", f->state_mask,
                         f->agent_id ? f->agent_id : "-", f->experiment_id ? f->experiment_id : "-",
                         seen - 1, v[k].job_id, id);
            assert_int_equal(v[k].status.status, model.state[want[seen - 1]]);
        }
        rk_store_jobs_free(v, n);
        if (!p.next_cursor)
            break;
        p.cursor = p.next_cursor;
    }
    assert_int_equal(seen, n_want);
}

/* SQLite's count of the virtual machine steps of sql run to the end. */
static int vm_steps(sqlite3 *db, const char *sql, const rk_job_filter_t *f)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, INT64_MAX);
    if (f->agent_id)
        sqlite3_bind_text(st, 2, f->agent_id, -1, SQLITE_STATIC);
    if (f->experiment_id)
        sqlite3_bind_text(st, 3, f->experiment_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, LIMIT + 1);
    while (sqlite3_step(st) == SQLITE_ROW)
        ;
    int steps = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
    int full = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
    int sorts = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_SORT, 0);
    sqlite3_finalize(st);
    if (full || sorts)
        fail_msg("%s: %d full-scan steps, %d sorts", sql, full, sorts);
    return steps;
}

static void every_shape_at_scale(void **state)
{
    fx_t *fx = *state;
    memset(&model, 0, sizeof model);
    fill(fx->s);
    static const char *const agents[] = {NULL, "ag-1", "ag-3", "ag-none"};
    static const char *const exps[] = {NULL, "x-old", "x-3", "x-none"};
    sqlite3 *db = NULL;
    if (strcmp(backend, "sqlite") == 0)
        assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    int most = 0;
    for (unsigned mask = 0; mask < (1u << RK_JOB_STATE_COUNT); mask++)
        for (size_t a = 0; a < 4; a++)
            for (size_t e = 0; e < 4; e++) {
                /* Every mask with each key kind; the key values rotate. */
                if ((a > 1 || e > 1) && (mask + a + e) % 3 != 0)
                    continue;
                rk_job_filter_t f = {mask, agents[a], exps[e]};
                check_shape(fx->s, &f);
                if (!db)
                    continue;
                char sql[SQ_LIST_SQL_MAX];
                sq_job_list_sql(&f, false, sql, sizeof sql);
                int page = vm_steps(db, sql, &f);
                sq_job_list_sql(&f, true, sql, sizeof sql);
                int count = vm_steps(db, sql, &f);
                /* A page of LIMIT + 1 rows of up to 7 merged ranges, and a
                 * sum of up to 7 counters: a few thousand steps at most. */
                if (page > 60 * (LIMIT + 1) + 400 || count > 400)
                    fail_msg("mask %#x agent %s exp %s: %d + %d VM steps", mask,
                             f.agent_id ? f.agent_id : "-", f.experiment_id ? f.experiment_id : "-",
                             page, count);
                most = page + count > most ? page + count : most;
            }
    if (db) {
        print_message("most VM steps for a first page of %d and its total: %d\n", LIMIT, most);
        sqlite3_close(db);
    }

    /* Results: newest first under each key pair, against the model. */
    for (size_t a = 0; a < 4; a++)
        for (size_t e = 0; e < 4; e++) {
            rk_result_filter_t rf = {exps[e], agents[a]};
            rk_job_filter_t jf = {0, agents[a], exps[e]};
            mfilter_t mf = model_filter(&jf);
            rk_page_t p = {.limit = LIMIT};
            rk_result_t *v;
            size_t n, k = 0;
            assert_int_equal(rk_store_result_list(fx->s, &rf, &p, &v, &n), 0);
            for (int i = n_jobs - 1; i >= 0 && k < LIMIT; i--) {
                if (!model.result[i] || !model_matches(i, &mf))
                    continue;
                char id[16], agent[16], exp[16];
                names(i, id, agent, exp);
                assert_true(k < n);
                assert_string_equal(v[k].job_id, id);
                k++;
            }
            assert_int_equal(k, n);
            rk_store_results_free(v, n);
        }
}

int main(void)
{
    if (getenv("RK_UNDER_VALGRIND")) /* valgrind checks memory here, not scale: ~10 min at N */
        n_jobs = 20000;
    n_jobs = (int)rk_test_scale(n_jobs, 20000);
    const struct CMUnitTest tests[] = {
        T(every_shape_at_scale),
    };
    return run_all_backends(tests, sizeof tests / sizeof tests[0]);
}

/* conformance.h's fixtures this file has no use for. */
__attribute__((unused)) static void (*const unused_fixtures[])(void) = {(void (*)(void))make_agent};
