/* Retention against real processes (docs/storage.md, "Retention").
 *
 * "Long ago" is made by writing jobs straight into the server's SQLite
 * file while the server is stopped (seed(): rows in jobs, job_history,
 * results and docs, the schema of lib/store/sqlite_schema.c, counters kept
 * by its triggers), with status times N days in the past; the server is
 * started on the file afterwards. Nothing shifts the clock.
 *
 * - cleanup_and_purge: POST /maintenance/cleanup {older_than_days: 30}
 *   deletes exactly the finished jobs older than 30 days (results, history
 *   and per-job documents gone; a baseline's job kept; 10-day-old ones
 *   kept); bad bodies 422; DELETE /jobs/{id}?purge=true 200 / 404 / 409
 *   for a running job; a job that ran on the real agent, once deleted by a
 *   cleanup, is gone from the agent too; a running job survives
 *   older_than_days 0; the store's counters and tables agree afterwards.
 * - sweep_scale: 1,000 quick jobs on one one-slot agent without any
 *   retention work (what the machine gives now), then 100,000 finished
 *   jobs 40 days old seeded and the server restarted with --retention-days
 *   1, deleting them in batches while another 1,000 run; the finish ->
 *   next start gap (the agent's completed_at -> started_at of the next
 *   result, one clock; the server's ruckus_slot_gap_seconds histogram is
 *   printed too) must have p99 under 10 ms (or, when the machine is so
 *   loaded that the run without retention misses that, under 4 x its
 *   p99 + 5 ms; RK_RETENTION_P99_MS sets a bound), and all 100,000 go.
 * - sweep_kill9: kill -9 of the server in the middle of a sweep leaves the
 *   store consistent (no orphan history or results, counters equal to the
 *   rows) and the sweep of the next start deletes the rest.
 */
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "base/time.h"
#include "server_fixture.h"

#define DAY_US (86400LL * 1000000LL)

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sqlite: %s: %s", sql, err ? err : "?");
}

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static int64_t db_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* n finished jobs "<prefix><i>" of exp on agent, completed days ago, each
 * with three history entries and a result; with docs, a job_attempt
 * document and two result_attempt ones per job. */
static void seed(const char *path, const char *prefix, int n, const char *exp, const char *agent,
                 double days, bool docs)
{
    sqlite3 *db = db_open(path);
    exec_ok(db, "BEGIN");
    sqlite3_stmt *job = NULL, *hist = NULL, *res = NULL, *doc = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO jobs(job_id, experiment_id, agent_id,"
                                        " created_time, state, status_time, message)"
                                        " VALUES(?1, ?2, ?3, ?4, 'completed', ?5, 'finished')",
                                        -1, &job, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO job_history(job_seq, idx, state, time,"
                                        " message) VALUES(?1, ?2, ?3, ?4, ?3)",
                                        -1, &hist, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO results(job_seq, job_id, experiment_id,"
                                        " agent_id, body) VALUES(?1, ?2, ?3, ?4, ?5)",
                                        -1, &res, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO docs(kind, id, body) VALUES(?1, ?2, '{}')",
                                        -1, &doc, NULL),
                     SQLITE_OK);
    int64_t end = now_us() - (int64_t)(days * (double)DAY_US);
    char id[64], body[512], did[80];
    const char *states[3] = {"queued", "running", "completed"};
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s%d", prefix, i);
        sqlite3_reset(job);
        sqlite3_bind_text(job, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(job, 2, exp, -1, SQLITE_STATIC);
        sqlite3_bind_text(job, 3, agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(job, 4, end - 2000000);
        sqlite3_bind_int64(job, 5, end);
        assert_int_equal(sqlite3_step(job), SQLITE_DONE);
        int64_t seq = sqlite3_last_insert_rowid(db);
        for (int k = 0; k < 3; k++) {
            sqlite3_reset(hist);
            sqlite3_bind_int64(hist, 1, seq);
            sqlite3_bind_int(hist, 2, k);
            sqlite3_bind_text(hist, 3, states[k], -1, SQLITE_STATIC);
            sqlite3_bind_int64(hist, 4, end - 2000000 + k * 1000000);
            assert_int_equal(sqlite3_step(hist), SQLITE_DONE);
        }
        snprintf(body, sizeof body,
                 "{\"job_id\":\"%s\",\"experiment_id\":\"%s\",\"agent_id\":\"%s\","
                 "\"status\":\"completed\",\"started_at\":\"2026-01-01T00:00:00Z\","
                 "\"completed_at\":\"2026-01-01T00:00:02Z\",\"duration_seconds\":2,"
                 "\"metrics\":{\"wall_time_s\":2},\"hardware_info\":{},\"artifacts\":[]}",
                 id, exp, agent);
        sqlite3_reset(res);
        sqlite3_bind_int64(res, 1, seq);
        sqlite3_bind_text(res, 2, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(res, 3, exp, -1, SQLITE_STATIC);
        sqlite3_bind_text(res, 4, agent, -1, SQLITE_STATIC);
        sqlite3_bind_text(res, 5, body, -1, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(res), SQLITE_DONE);
        for (int k = 0; docs && k < 3; k++) {
            if (k == 0)
                snprintf(did, sizeof did, "%s", id);
            else
                snprintf(did, sizeof did, "%s/%d", id, k);
            sqlite3_reset(doc);
            sqlite3_bind_text(doc, 1, k ? "result_attempt" : "job_attempt", -1, SQLITE_STATIC);
            sqlite3_bind_text(doc, 2, did, -1, SQLITE_TRANSIENT);
            assert_int_equal(sqlite3_step(doc), SQLITE_DONE);
        }
    }
    sqlite3_finalize(job);
    sqlite3_finalize(hist);
    sqlite3_finalize(res);
    sqlite3_finalize(doc);
    exec_ok(db, "COMMIT");
    sqlite3_close(db);
}

/* The store agrees with itself: no history or result without its job, and
 * every counter row equals the rows it counts (job_counts overall, per
 * agent, per experiment; job_pair_counts). */
static void db_consistent(const char *path)
{
    sqlite3 *db = db_open(path);
    assert_int_equal(
        db_int(db, "SELECT count(*) FROM job_history WHERE job_seq NOT IN (SELECT seq FROM jobs)"),
        0);
    assert_int_equal(
        db_int(db, "SELECT count(*) FROM results WHERE job_seq NOT IN (SELECT seq FROM jobs)"), 0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM jobs WHERE seq NOT IN"
                                " (SELECT job_seq FROM job_history)"),
                     0);
    static const char *const checks[] = {
        "SELECT count(*) FROM (SELECT state, count(*) c FROM jobs GROUP BY state) j"
        " LEFT JOIN job_counts k ON k.kind = 0 AND k.key = '' AND k.state = j.state"
        " WHERE k.n IS NOT j.c",
        "SELECT count(*) FROM job_counts k WHERE k.kind = 0 AND k.n !="
        " (SELECT count(*) FROM jobs WHERE state = k.state)",
        "SELECT count(*) FROM job_counts k WHERE k.kind = 1 AND k.n !="
        " (SELECT count(*) FROM jobs WHERE agent_id = k.key AND state = k.state)",
        "SELECT count(*) FROM job_counts k WHERE k.kind = 2 AND k.n !="
        " (SELECT count(*) FROM jobs WHERE experiment_id = k.key AND state = k.state)",
        "SELECT count(*) FROM job_pair_counts k WHERE k.n != (SELECT count(*) FROM jobs"
        " WHERE agent_id = k.agent_id AND experiment_id = k.experiment_id AND state = k.state)",
        "SELECT count(*) FROM (SELECT agent_id, experiment_id, state, count(*) c FROM jobs"
        " GROUP BY agent_id, experiment_id, state) j LEFT JOIN job_pair_counts k"
        " ON k.agent_id = j.agent_id AND k.experiment_id = j.experiment_id AND k.state = j.state"
        " WHERE k.n IS NOT j.c",
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        int64_t bad = db_int(db, checks[i]);
        if (bad)
            fprintf(stderr, "inconsistent counters (%lld rows): %s\n", (long long)bad, checks[i]);
        assert_int_equal(bad, 0);
    }
    sqlite3_close(db);
}

static uint64_t jobs_total(fx_t *f, const char *query)
{
    long st;
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/jobs?limit=1%s", query);
    assert_int_equal(st, 200);
    uint64_t t = (uint64_t)json_integer_value(json_object_get(v, "total"));
    json_decref(v);
    return t;
}

static long status_of(fx_t *f, const char *method, const char *path)
{
    long st;
    json_decref(fx_call(f, method, path, NULL, &st));
    return st;
}

static json_t *cleanup(fx_t *f, const char *body, long *st)
{
    rk_test_resp_t r;
    rk_test_req(&f->srv, "POST", "/api/v1/maintenance/cleanup", body, f->token, &r);
    *st = r.status;
    json_t *v = r.json ? json_incref(r.json) : NULL;
    rk_test_resp_cleanup(&r);
    return v;
}

/* Runs the CLI against the server with --json; its exit code, and its
 * output parsed into *out (new reference, may be NULL). */
static int cli(fx_t *f, const char *args, json_t **out)
{
    const char *bin = getenv("RK_BIN_DIR");
    char cmd[2048], outp[600];
    snprintf(outp, sizeof outp, "%s/cli.out", f->dir);
    snprintf(cmd, sizeof cmd, "%s/ruckus --server http://127.0.0.1:%u --json %s > %s 2>&1",
             bin ? bin : "bin", f->srv.port, args, outp);
    int st = system(cmd);
    char *text = rk_test_read_file(outp, NULL);
    *out = text ? json_loads(text, 0, NULL) : NULL;
    if (WEXITSTATUS(st) != 0)
        fprintf(stderr, "ruckus %s: exit %d: %s\n", args, WEXITSTATUS(st), text ? text : "");
    free(text);
    return WEXITSTATUS(st);
}

static void server_stop(fx_t *f)
{
    int status = 0;
    int rc = rk_test_proc_stop(&f->srv, SIGTERM, 10000, &status);
    if (rc != 0 || status != 0 || rk_test_proc_log_has(&f->srv, "Sanitizer")) {
        char *log = rk_test_proc_log(&f->srv);
        fprintf(stderr, "server stop: rc %d, exit status %d; its log:\n%s\n", rc, status,
                log ? log : "");
        free(log);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(status, 0);
    f->srv.pid = -1;
}

static void cleanup_and_purge(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 2, NULL);
    char quick[32], slow[32];
    fx_experiment(&f, "quick", "true", 0, quick);
    fx_experiment(&f, "slow", "sleep 60", 0, slow);
    server_stop(&f);
    const char *agent = f.agent_ids[0];
    seed(f.db, "old-", 10, quick, agent, 40, true);
    seed(f.db, "mid-", 5, quick, agent, 10, false);
    seed(f.db, "base-", 1, quick, agent, 40, false);
    /* A baseline pins base-0 (the shape baselines.c stores). */
    sqlite3 *db = db_open(f.db);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO docs(kind, id, body) VALUES('baseline', 'bl_test',"
             " '{\"baseline_id\":\"bl_test\",\"experiment_id\":\"%s\",\"agent_id\":\"%s\","
             "\"job_id\":\"base-0\"}')",
             quick, agent);
    exec_ok(db, sql);
    sqlite3_close(db);
    fx_server_start(&f, "sqlite", NULL);
    assert_int_equal(jobs_total(&f, ""), 16);

    /* Bad bodies: 422, nothing deleted. */
    const char *bad[] = {"{}", "{\"older_than_days\":-1}", "{\"older_than_days\":\"30\"}", "[30]",
                         "{\"older_than_days\":null}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long st;
        json_decref(cleanup(&f, bad[i], &st));
        assert_int_equal(st, 422);
    }
    assert_int_equal(jobs_total(&f, ""), 16);

    /* Older than 30 days: the ten old ones, not the baseline's, not the
     * 10-day-old ones. */
    long st;
    json_t *v = NULL;
    assert_int_equal(cli(&f, "maintenance cleanup --older-than-days -1", &v), 2);
    json_decref(v);
    assert_int_equal(cli(&f, "maintenance cleanup --older-than-days 30", &v), 0);
    assert_int_equal(json_integer_value(json_object_get(v, "deleted_jobs")), 10);
    assert_int_equal(json_integer_value(json_object_get(v, "deleted_results")), 10);
    json_decref(v);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/old-0"), 404);
    assert_int_equal(status_of(&f, "GET", "/api/v1/results/old-0"), 404);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/old-9"), 404);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/mid-0"), 200);
    assert_int_equal(status_of(&f, "GET", "/api/v1/results/mid-0"), 200);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/base-0"), 200);
    assert_int_equal(jobs_total(&f, ""), 6);
    db = db_open(f.db);
    assert_int_equal(db_int(db, "SELECT count(*) FROM docs WHERE id LIKE 'old-%'"), 0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM docs WHERE kind = 'baseline'"), 1);
    sqlite3_close(db);

    /* One job: purge, then it is unknown. */
    assert_int_equal(cli(&f, "job delete mid-0", &v), 2); /* --purge is required */
    json_decref(v);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/mid-0"), 200);
    assert_int_equal(cli(&f, "job delete mid-0 --purge", &v), 0);
    assert_string_equal(json_string_value(json_object_get(v, "job_id")), "mid-0");
    assert_non_null(json_string_value(json_object_get(v, "deleted_at")));
    json_decref(v);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/mid-0"), 404);
    assert_int_equal(status_of(&f, "GET", "/api/v1/results/mid-0"), 404);
    assert_int_equal(status_of(&f, "DELETE", "/api/v1/jobs/mid-0?purge=true"), 404);
    assert_int_equal(cli(&f, "job delete mid-0 --purge", &v), 3);
    json_decref(v);
    assert_int_equal(status_of(&f, "DELETE", "/api/v1/jobs/nope?purge=true"), 404);
    assert_int_equal(status_of(&f, "DELETE", "/api/v1/jobs/mid-1?purge=maybe"), 422);
    assert_int_equal(jobs_total(&f, ""), 5);

    /* A running job: 409, and kept by any cleanup. */
    json_t *run = fx_job(&f, slow, 0, 201);
    char run_id[64];
    snprintf(run_id, sizeof run_id, "%s", fx_id(run));
    json_decref(run);
    json_decref(fx_wait_job(&f, run_id, "running", 20000));
    char path[256];
    snprintf(path, sizeof path, "/api/v1/jobs/%s?purge=true", run_id);
    assert_int_equal(status_of(&f, "DELETE", path), 409);

    /* A job that ran on the agent: the agent keeps its record until the
     * server deletes the job, then drops it. */
    json_t *q = fx_job(&f, quick, 0, 201);
    char q_id[64];
    snprintf(q_id, sizeof q_id, "%s", fx_id(q));
    json_decref(q);
    json_decref(fx_wait_job(&f, q_id, "completed", 20000));
    char apath[256];
    snprintf(apath, sizeof apath, "/api/v1/status/%s", q_id);
    rk_test_resp_t ar;
    rk_test_req(&f.agents[0].p, "GET", apath, NULL, NULL, &ar);
    assert_int_equal(ar.status, 200);
    rk_test_resp_cleanup(&ar);
    /* Just finished: left for later (the server may still settle it). */
    v = cleanup(&f, "{\"older_than_days\":0}", &st);
    assert_int_equal(st, 200);
    json_decref(v);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/mid-1"), 404); /* 10 days old: gone */
    snprintf(path, sizeof path, "/api/v1/jobs/%s", q_id);
    int64_t t0 = (int64_t)rk_test_now_ms();
    while (status_of(&f, "GET", path) == 200 && (int64_t)rk_test_now_ms() - t0 < 20000) {
        rk_test_sleep_ms(1000);
        json_decref(cleanup(&f, "{\"older_than_days\":0}", &st));
        assert_int_equal(st, 200);
    }
    assert_int_equal(status_of(&f, "GET", path), 404);
    rk_test_req(&f.agents[0].p, "GET", apath, NULL, NULL, &ar);
    assert_int_equal(ar.status, 404); /* the agent dropped its copy */
    rk_test_resp_cleanup(&ar);
    /* Still there: the running job and the baseline's. */
    snprintf(path, sizeof path, "/api/v1/jobs/%s", run_id);
    assert_int_equal(status_of(&f, "GET", path), 200);
    assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/base-0"), 200);
    assert_int_equal(jobs_total(&f, ""), 2);
    assert_int_equal(status_of(&f, "DELETE", path), 202);
    json_decref(fx_wait_job(&f, run_id, NULL, 20000));
    /* Cancelled while it ran: purged once its agent has let go. Until then
     * the answer is a 409 that says so, never a purge under the manager. */
    snprintf(path, sizeof path, "/api/v1/jobs/%s?purge=true", run_id);
    int64_t t1 = (int64_t)rk_test_now_ms();
    for (;;) {
        rk_test_resp_t pr;
        rk_test_req(&f.srv, "DELETE", path, NULL, f.token, &pr);
        if (pr.status == 200) {
            rk_test_resp_cleanup(&pr);
            break;
        }
        assert_int_equal(pr.status, 409);
        assert_non_null(strstr(pr.body, "still stopping it on its agent"));
        rk_test_resp_cleanup(&pr);
        assert_true((int64_t)rk_test_now_ms() - t1 < 20000);
        rk_test_sleep_ms(50);
    }
    /* Purged at once after it completed, 20 in a row: no settling window
     * (the manager lets go of a job in the commit that stores its end). */
    for (int i = 0; i < 20; i++) {
        json_t *nj = fx_job(&f, quick, 0, 201);
        char nid[64];
        snprintf(nid, sizeof nid, "%s", fx_id(nj));
        json_decref(nj);
        json_decref(fx_wait_job(&f, nid, "completed", 20000));
        snprintf(path, sizeof path, "/api/v1/jobs/%s?purge=true", nid);
        assert_int_equal(status_of(&f, "DELETE", path), 200);
        snprintf(path, sizeof path, "/api/v1/results/%s", nid);
        assert_int_equal(status_of(&f, "GET", path), 404);
    }
    assert_int_equal(jobs_total(&f, ""), 1); /* the baseline's */
    server_stop(&f);
    db_consistent(f.db);
    fx_cleanup(&f);
}

/* ---- scale ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The cumulative count of ruckus_slot_gap_seconds at bucket le and the
 * total count, from GET /metrics. */
static void gap_hist(fx_t *f, const char *le, double *in_bucket, double *count)
{
    rk_test_resp_t r;
    rk_test_req(&f->srv, "GET", "/metrics", NULL, f->token, &r);
    assert_int_equal(r.status, 200);
    char want[96];
    snprintf(want, sizeof want, "ruckus_slot_gap_seconds_bucket{le=\"%s\"} ", le);
    const char *b = strstr(r.body, want), *c = strstr(r.body, "ruckus_slot_gap_seconds_count ");
    /* No series before the first gap is observed. */
    *in_bucket = b ? strtod(b + strlen(want), NULL) : 0;
    *count = c ? strtod(c + strlen("ruckus_slot_gap_seconds_count "), NULL) : 0;
    rk_test_resp_cleanup(&r);
}

/* Queues a blocker then n `true` jobs of exp on agent 0 (one slot), waits
 * until all ran and returns the p99 of the finish -> next start gaps (the
 * agent's completed_at of a job -> started_at of the next, one clock),
 * printing p50/p90/p95/p99/max and the server's slot gap histogram. */
static double run_jobs(fx_t *f, const char *what, const char *exp, const char *block, int n_new)
{
    json_decref(fx_job(f, block, 0, 201));
    json_t *b = json_pack("{s:s,s:s,s:i}", "experiment_id", exp, "agent_id", f->agent_ids[0],
                          "count", n_new);
    long st;
    json_decref(fx_call(f, "POST", "/api/v1/jobs", b, &st));
    json_decref(b);
    assert_int_equal(st, 201);
    double before_in = 0, before_n = 0;
    gap_hist(f, "0.01", &before_in, &before_n);
    double t = rk_test_now_ms();
    while (jobs_total(f, "&status=queued,assigned,running") > 0 && rk_test_now_ms() - t < 300000)
        rk_test_sleep_ms(200);
    assert_int_equal(jobs_total(f, "&status=queued,assigned,running"), 0);
    double ran_ms = rk_test_now_ms() - t;
    double in = 0, n = 0;
    gap_hist(f, "0.01", &in, &n);
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/results?experiment_id=%s&limit=2000", exp);
    assert_int_equal(st, 200);
    json_t *arr = json_object_get(v, "results");
    size_t k = json_array_size(arr);
    assert_true(k >= (size_t)n_new);
    int64_t *s = calloc(k, sizeof *s), *e = calloc(k, sizeof *e);
    double *gaps = calloc(k, sizeof *gaps);
    size_t m = 0, g = 0;
    for (size_t i = k; i-- > 0;) { /* newest first: walk back for run order */
        json_t *r = json_array_get(arr, i);
        if (strncmp(json_string_value(json_object_get(r, "job_id")), "old-", 4) == 0 ||
            rk_time_parse(json_string_value(json_object_get(r, "started_at")), &s[m]) ||
            rk_time_parse(json_string_value(json_object_get(r, "completed_at")), &e[m]))
            continue;
        m++;
    }
    for (size_t i = 1; i < m; i++)
        gaps[g++] = (double)(s[i] - e[i - 1]) / 1000.0;
    assert_true(g >= (size_t)n_new - 1);
    qsort(gaps, g, sizeof *gaps, cmp_double);
#define PCT(q) gaps[(size_t)((double)(g - 1) * (q))]
    double p99 = PCT(0.99);
    size_t over = 0;
    for (size_t i = 0; i < g; i++)
        over += gaps[i] >= 10.0;
    printf("%s: %d jobs ran in %.0f ms; finish -> next start over %zu gaps: p50 %.2f, p90 %.2f, "
           "p95 %.2f, p99 %.2f, max %.2f ms; %zu gaps >= 10 ms; server slot gap histogram: "
           "%.1f %% of %.0f <= 10 ms\n",
           what, n_new, ran_ms, g, PCT(0.5), PCT(0.9), PCT(0.95), p99, gaps[g - 1], over,
           n - before_n > 0 ? (in - before_in) / (n - before_n) * 100 : 0, n - before_n);
#undef PCT
    json_decref(v);
    free(s);
    free(e);
    free(gaps);
    return p99;
}

static void sweep_scale(void **state)
{
    (void)state;
    /* RK_RETENTION_SEED=N seeds N instead of 100,000. */
    const char *seed_env = getenv("RK_RETENTION_SEED");
    const int n_old = seed_env ? atoi(seed_env) : (int)rk_test_scale(100000, 10000), n_new = 1000;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char quick[32], quick0[32], block[32];
    fx_experiment(&f, "quick", "true", 0, quick);
    fx_experiment(&f, "quick0", "true", 0, quick0);
    fx_experiment(&f, "block", "sleep 2", 0, block);
    /* The same run without any retention work first: what this machine
     * gives right now. */
    double base_p99 = run_jobs(&f, "without retention", quick0, block, n_new);
    server_stop(&f);
    double t = rk_test_now_ms();
    /* On an agent id never registered: the server has nobody to tell. */
    seed(f.db, "old-", n_old, quick, "gone-agent", 40, false);
    printf("seeded %d finished jobs in %.0f ms\n", n_old, rk_test_now_ms() - t);
    const char *extra[] = {
        "--retention-days", "1", "--retention-period", "1", "--log-level", "info", NULL};
    fx_server_start(&f, "sqlite", extra);
    /* The sweep starts now; the new jobs run back to back while it deletes. */
    uint64_t total0 = jobs_total(&f, "");
    double p99 = run_jobs(&f, "during the sweep", quick, block, n_new);
    uint64_t total1 = jobs_total(&f, "");
    printf("old jobs deleted while the 1,000 ran: about %lld\n",
           (long long)total0 - (long long)total1 + n_new + 1);
    /* All old ones go (the sweep may still be at it). */
    uint64_t want = (uint64_t)(2 * (n_new + 1)), left;
    t = rk_test_now_ms();
    while ((left = jobs_total(&f, "")) > want && rk_test_now_ms() - t < 300000)
        rk_test_sleep_ms(500);
    printf("all %d old jobs deleted %.0f ms after the new ones were done\n", n_old,
           rk_test_now_ms() - t);
    assert_int_equal(left, want);
    if (n_old)
        assert_int_equal(status_of(&f, "GET", "/api/v1/jobs/old-0"), 404);
    /* The bound: p99 under 10 ms, met on this shared 2-core
     * machine when it is not overloaded (p99 3.9 ms during the sweep, 8.3
     * ms without one: docs/storage.md). Other work sometimes pushes even
     * the run without retention past it (load averages of 15 were seen;
     * then a sweep thread holding the write side gets descheduled); then
     * the bound is 4 x that run's p99 + 5 ms: the sweep must not turn
     * dispatch into the half-second stalls of whole 500-job transactions.
     * RK_RETENTION_P99_MS sets an absolute bound instead. */
    const char *bound = getenv("RK_RETENTION_P99_MS");
    double limit = bound ? atof(bound) : 10.0;
#ifdef __SANITIZE_ADDRESS__
    /* The ASan+UBSan build checks memory, not speed: every request costs
     * several times more, and the sweep's batches with it (CI saw p99 6.1
     * ms without retention and 11.8 ms during the sweep). There the bound
     * is relative to the same build's run without retention. */
    if (!bound) {
        limit = base_p99 * 3 + 5 > limit ? base_p99 * 3 + 5 : limit;
        printf("sanitizer build: bound %.2f ms\n", limit);
    }
#endif
    if (!bound && base_p99 >= limit) {
        limit = base_p99 * 4 + 5;
        printf("machine too loaded for the 10 ms bound (p99 %.2f ms without retention): "
               "bound %.2f ms\n",
               base_p99, limit);
    }
    assert_true(p99 < limit);
    server_stop(&f);
    db_consistent(f.db);
    fx_cleanup(&f);
}

/* ---- kill -9 mid-sweep ---- */

static void sweep_kill9(void **state)
{
    (void)state;
    const int n_old = (int)rk_test_scale(30000, 10000);
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    char quick[32];
    fx_experiment(&f, "quick", "true", 0, quick);
    server_stop(&f);
    seed(f.db, "old-", n_old, quick, "gone-agent", 40, true);
    const char *extra[] = {
        "--retention-days", "1", "--retention-batch", "100", "--log-level", "info", NULL};
    fx_server_start(&f, "sqlite", extra);
    /* Kill once some batches went, long before all did. */
    double t = rk_test_now_ms();
    uint64_t left = (uint64_t)n_old;
    while ((left = jobs_total(&f, "")) > (uint64_t)n_old - 1000 && rk_test_now_ms() - t < 60000)
        rk_test_sleep_ms(5);
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    f.srv.pid = -1;
    db_consistent(f.db);
    sqlite3 *db = db_open(f.db);
    int64_t after_kill = db_int(db, "SELECT count(*) FROM jobs");
    /* The documents of the deleted jobs went in the same transactions. */
    assert_int_equal(db_int(db, "SELECT count(*) FROM docs WHERE kind = 'job_attempt'"),
                     after_kill);
    assert_int_equal(db_int(db, "SELECT count(*) FROM docs WHERE kind = 'result_attempt'"),
                     2 * after_kill);
    sqlite3_close(db);
    printf("killed with %lld of %d old jobs left\n", (long long)after_kill, n_old);
    assert_true(after_kill < n_old && after_kill > 0);
    /* The next start's sweep finishes the work (what is checked is that
     * it does, not how fast: CI runs other heavy tests beside this one). */
    fx_server_start(&f, "sqlite", extra);
    t = rk_test_now_ms();
    while (jobs_total(&f, "") > 0 && rk_test_now_ms() - t < 300000)
        rk_test_sleep_ms(200);
    printf("the restarted sweep left %llu after %.0f ms\n", (unsigned long long)jobs_total(&f, ""),
           rk_test_now_ms() - t);
    assert_int_equal(jobs_total(&f, ""), 0);
    server_stop(&f);
    db_consistent(f.db);
    db = db_open(f.db);
    assert_int_equal(db_int(db, "SELECT count(*) FROM docs"), 0);
    assert_int_equal(db_int(db, "SELECT count(*) FROM results"), 0);
    sqlite3_close(db);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sweep_scale),
        cmocka_unit_test(cleanup_and_purge),
        cmocka_unit_test(sweep_kill9),
    };
    /* RK_TEST_FILTER=sweep_scale runs one (cmocka's pattern). */
    if (getenv("RK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("RK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
