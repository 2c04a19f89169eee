/* Pause against real processes (issue 11). A queued job: held while the
 * job ahead runs and after it, through a kill -9 of the server and its
 * restart on the same database (paused stays paused, skipped by dispatch
 * while the job queued behind it runs); resumed, it runs once. A finished
 * job's pause is 409, an unknown job's 404. A running job, paused through
 * the server: its counter stands still, it goes on after the resume, and
 * its timeout counts running time only.
 */
#include <time.h>

#include "base/time.h"
#include "server_fixture.h"

static json_t *post(fx_t *f, const char *id, const char *verb, long *st)
{
    return fx_callf(f, "POST", st, NULL, "/api/v1/jobs/%s/%s", id, verb);
}

static void test_paused_stays_paused_across_kill9(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char block[32], exp[32];
    fx_experiment(&f, "block", "sleep 2", 0, block);
    fx_experiment(&f, "quick", "true", 0, exp);
    char ids[3][32];
    const char *exps[3] = {block, exp, exp};
    for (int i = 0; i < 3; i++) {
        json_t *j = fx_job(&f, exps[i], 0, 201);
        snprintf(ids[i], sizeof ids[i], "%s", fx_id(j));
        json_decref(j);
    }
    long st;
    json_t *v = post(&f, ids[1], "pause", &st);
    assert_int_equal(st, 200);
    assert_string_equal(fx_state(v), "paused");
    json_decref(v);

    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    fx_server_start(&f, "sqlite", NULL);
    json_t *j = fx_get_job(&f, ids[1]);
    assert_string_equal(fx_state(j), "paused");
    json_decref(j);
    /* The job behind it runs; it stays held. */
    json_decref(fx_wait_job(&f, ids[0], "completed", 20000));
    json_decref(fx_wait_job(&f, ids[2], "completed", 20000));
    j = fx_get_job(&f, ids[1]);
    assert_string_equal(fx_state(j), "paused");
    json_decref(j);

    v = post(&f, ids[2], "pause", &st); /* finished */
    assert_int_equal(st, 409);
    assert_non_null(strstr(json_string_value(json_object_get(v, "detail")), "completed"));
    json_decref(v);
    json_decref(post(&f, "job_00000000", "resume", &st));
    assert_int_equal(st, 404);

    v = post(&f, ids[1], "resume", &st);
    assert_int_equal(st, 200);
    assert_string_equal(fx_state(v), "queued");
    json_decref(v);
    j = fx_wait_job(&f, ids[1], "completed", 20000);
    /* queued, paused, queued (resumed), assigned, running?, completed */
    json_t *h = json_object_get(j, "history");
    int paused = 0;
    for (size_t i = 0; i < json_array_size(h); i++)
        paused +=
            !strcmp(json_string_value(json_object_get(json_array_get(h, i), "status")), "paused");
    assert_int_equal(paused, 1);
    json_decref(j);
    fx_cleanup(&f);
}

/* The counter the running job writes (0 before its first write). */
static long counter(const char *path)
{
    FILE *fp = fopen(path, "r");
    long n = 0;
    if (fp) {
        if (fscanf(fp, "%ld", &n) != 1)
            n = 0;
        fclose(fp);
    }
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_running_job_paused_through_the_server(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char path[600], script[2048], exp[32];
    snprintf(path, sizeof path, "%s/n", f.dir);
    snprintf(script, sizeof script,
             "i=0; while :; do i=$((i+1)); echo $i > %s.tmp; mv %s.tmp %s; sleep 0.1; done", path,
             path, path);
    fx_experiment(&f, "counter", script, 3, exp); /* a 3 s timeout */
    json_t *j = fx_job(&f, exp, 0, 201);
    char id[32];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, id, "running", 10000));
    for (int i = 0; i < 200 && counter(path) < 3; i++)
        sleep_ms(20);
    assert_true(counter(path) >= 3);

    long st;
    int64_t paused_at = rk_time_mono_us();
    json_t *v = post(&f, id, "pause", &st);
    assert_int_equal(st, 200);
    assert_string_equal(fx_state(v), "paused");
    json_decref(v);
    sleep_ms(300); /* a write under way when it stopped lands */
    long c1 = counter(path);
    sleep_ms(4000); /* longer than the timeout: paused time does not count */
    long c2 = counter(path);
    assert_int_equal(c1, c2);
    j = fx_get_job(&f, id);
    assert_string_equal(fx_state(j), "paused");
    json_decref(j);

    v = post(&f, id, "resume", &st);
    assert_int_equal(st, 200);
    assert_string_equal(fx_state(v), "running");
    json_decref(v);
    int64_t resumed_at = rk_time_mono_us();
    for (int i = 0; i < 100 && counter(path) <= c2 + 2; i++)
        sleep_ms(20);
    assert_true(counter(path) > c2 + 2); /* it goes on */
    /* It times out once it has run 3 s in all: after the resume, not
     * before, and not 3 s after its start. */
    j = fx_wait_job(&f, id, "timeout", 20000);
    int64_t ended = rk_time_mono_us();
    json_decref(j);
    assert_true(resumed_at - paused_at >= 4000000);
    assert_true(ended - resumed_at < 3500000); /* the rest of its 3 s, plus polling */
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paused_stays_paused_across_kill9),
        cmocka_unit_test(test_running_job_paused_through_the_server)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
