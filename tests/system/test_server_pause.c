/* Pause of a queued job against real processes (issue 11): held while the
 * job ahead runs and after it, through a kill -9 of the server and its
 * restart on the same database (paused stays paused, skipped by dispatch
 * while the job queued behind it runs); resumed, it runs once. A finished
 * job's pause is 409, an unknown job's 404.
 */
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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_paused_stays_paused_across_kill9)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
