/* ruckus-server on a real PostgreSQL that goes away (issue 17): the test
 * starts PostgreSQL itself (tests/support/rk_test_pg.h), runs a server on
 * it with two agents, and kills PostgreSQL (pg_ctl stop -m immediate, as a
 * crash) for 5 s in the middle of the run. Meanwhile the server answers
 * 503 (never 500, never a success it could not store); then it goes on by
 * itself, and every job completes, each run exactly once, none lost.
 */
#include "rk_test_pg.h"
#include "server_fixture.h"

enum { N_JOBS = 60 };

static void test_postgresql_away_for_5s(void **state)
{
    (void)state;
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        fprintf(stderr, "skipped: PostgreSQL cannot run here: %s\n", why);
        skip();
    }
    fx_t f;
    fx_init(&f);
    char url[256];
    assert_int_equal(rk_test_pg_create_db(url, sizeof url), 0);
    const char *const pg_args[] = {"--postgres-url", url, NULL};
    fx_server_start(&f, "postgresql", pg_args);
    fx_agent_start(&f, 0, 2, NULL);
    fx_agent_start(&f, 1, 2, NULL);
    char script[4096], exp[32];
    fx_logged_script(&f, "0.2", "", script, sizeof script);
    fx_experiment(&f, "logged", script, 0, exp);
    char ids[N_JOBS][32];
    const char *idp[N_JOBS];
    for (int i = 0; i < N_JOBS; i++) {
        json_t *j = fx_job(&f, exp, i % 2, 201);
        snprintf(ids[i], sizeof ids[i], "%s", fx_id(j));
        idp[i] = ids[i];
        json_decref(j);
    }
    json_decref(fx_wait_job(&f, ids[6], "completed", 20000));

    /* PostgreSQL goes away: the server says 503 to what needs the store. */
    assert_int_equal(rk_test_pg_kill(), 0);
    double t0 = rk_test_now_ms();
    int n503 = 0, other = 0;
    json_t *b = json_pack("{s:s,s:s}", "experiment_id", exp, "agent_id", f.agent_ids[0]);
    while (rk_test_now_ms() - t0 < 5000) {
        long st;
        json_decref(fx_call(&f, "POST", "/api/v1/jobs", b, &st));
        if (st == 503)
            n503++;
        else
            other++, fprintf(stderr, "POST /jobs while PostgreSQL is away: HTTP %ld\n", st);
        json_decref(fx_call(&f, "GET", "/api/v1/jobs?limit=1", NULL, &st));
        if (st == 503)
            n503++;
        else
            other++, fprintf(stderr, "GET /jobs while PostgreSQL is away: HTTP %ld\n", st);
        rk_test_sleep_ms(200);
    }
    json_decref(b);
    assert_int_equal(rk_test_pg_start_again(), 0);
    assert_true(n503 > 10);
    assert_int_equal(other, 0);

    /* It goes on by itself (its connections come back within their
     * backoff, 2 s at most): every job completes, each ran once. */
    long st = 0;
    for (double end = rk_test_now_ms() + 15000; st != 200 && rk_test_now_ms() < end;) {
        json_decref(fx_call(&f, "GET", "/api/v1/jobs?limit=1", NULL, &st));
        if (st != 200)
            rk_test_sleep_ms(100);
    }
    assert_int_equal(st, 200);
    for (int i = 0; i < N_JOBS; i++)
        json_decref(fx_wait_job(&f, ids[i], "completed", 60000));
    int starts[N_JOBS];
    fx_log_check(&f, 4, idp, N_JOBS, starts);
    for (int i = 0; i < N_JOBS; i++) {
        if (starts[i] != 1)
            fprintf(stderr, "job %s started %d times\n", ids[i], starts[i]);
        assert_int_equal(starts[i], 1);
    }
    /* Nothing was stored for the refused requests, and the server takes
     * jobs again. */
    json_t *v = fx_call(&f, "GET", "/api/v1/jobs?limit=1", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), N_JOBS);
    json_decref(v);
    json_decref(fx_job(&f, exp, 0, 201));
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_postgresql_away_for_5s)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
