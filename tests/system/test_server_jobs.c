/* The job manager's branches (seed 001 as protocol.md and design.md settle
 * them), black-box against the real server (sqlite) and a real agent:
 * idle agent -> assigned/running in the 201; busy -> queued, then run in
 * order, one at a time, each exactly once (from the workloads' own log);
 * completion with its result stored and the next job dispatched; a
 * failing job; the agent's timeout; cancel of queued, assigned and
 * running jobs; an agent in error (read-only data dir) fails the job.
 */
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/time.h"
#include "server_fixture.h"

static rk_time_t ts(const json_t *st)
{
    rk_time_t t = 0;
    rk_time_parse(json_string_value(json_object_get(st, "timestamp")), &t);
    return t;
}

/* The timestamp of the job's first history entry with status s. */
static rk_time_t when(const json_t *job, const char *s)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(job, "history"), i, h)
    {
        if (!strcmp(json_string_value(json_object_get(h, "status")), s))
            return ts(h);
    }
    return 0;
}

/* One queue, run once for the named behaviours below: four jobs POSTed at
 * once to an agent with one slot, each sleeping 0.3 s, all waited for. */
typedef struct queue_run {
    fx_t f;
    json_t *posted[4]; /* the 201 answers */
    json_t *done[4];   /* each job once completed, with history */
    const char *ids[4];
} queue_run_t;

static int queue_setup(void **state)
{
    queue_run_t *q = calloc(1, sizeof *q);
    assert_non_null(q);
    fx_init(&q->f);
    fx_server_start(&q->f, "sqlite", NULL);
    fx_agent_start(&q->f, 0, 1, NULL);
    char script[4096], exp[32];
    fx_logged_script(&q->f, "0.3", "echo done", script, sizeof script);
    fx_experiment(&q->f, "queue order", script, 0, exp);
    for (int i = 0; i < 4; i++) {
        q->posted[i] = fx_job(&q->f, exp, 0, 201);
        q->ids[i] = fx_id(q->posted[i]);
    }
    for (int i = 0; i < 4; i++)
        q->done[i] = fx_wait_job(&q->f, q->ids[i], "completed", 15000);
    *state = q;
    return 0;
}

static int queue_teardown(void **state)
{
    queue_run_t *q = *state;
    for (int i = 0; i < 4; i++) {
        json_decref(q->posted[i]);
        json_decref(q->done[i]);
    }
    fx_cleanup(&q->f);
    free(q);
    return 0;
}

static void test_idle_agent_dispatches_before_the_answer_busy_one_queues(void **state)
{
    queue_run_t *q = *state;
    const char *s0 = fx_state(q->posted[0]);
    assert_true(!strcmp(s0, "assigned") || !strcmp(s0, "running"));
    for (int i = 1; i < 4; i++)
        assert_string_equal(fx_state(q->posted[i]), "queued");
}

static void test_each_result_is_stored_with_its_agent(void **state)
{
    queue_run_t *q = *state;
    for (int i = 0; i < 4; i++) {
        long st;
        json_t *r = fx_callf(&q->f, "GET", &st, NULL, "/api/v1/results/%s", q->ids[i]);
        assert_int_equal(st, 200);
        json_t *res = json_object_get(r, "result");
        assert_string_equal(json_string_value(json_object_get(res, "agent_id")), q->f.agent_ids[0]);
        assert_string_equal(json_string_value(json_object_get(res, "status")), "completed");
        json_decref(r);
    }
}

static void test_history_is_kept_oldest_first(void **state)
{
    queue_run_t *q = *state;
    json_t *h = json_object_get(q->done[2], "history");
    assert_true(json_array_size(h) >= 4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "status")),
                        "queued");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(h, json_array_size(h) - 1), "status")),
        "completed");
}

static void test_next_job_is_dispatched_right_after_the_previous_end(void **state)
{
    queue_run_t *q = *state;
    for (int i = 1; i < 4; i++) {
        rk_time_t prev_end = when(q->done[i - 1], "completed");
        rk_time_t next = when(q->done[i], "assigned");
        assert_true(prev_end > 0 && next > 0);
        assert_true(next >= prev_end - 1000);
        assert_true(next - prev_end < 500000); /* well under the 0.2 s poll fallback x2 */
    }
}

static void test_jobs_run_once_each_one_at_a_time_in_queue_order(void **state)
{
    queue_run_t *q = *state;
    int starts[4];
    fx_log_check(&q->f, 1, q->ids, 4, starts);
    for (int i = 0; i < 4; i++)
        assert_int_equal(starts[i], 1);
    char *text = rk_test_read_file(q->f.log, NULL);
    const char *p = text;
    for (int i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "start %s", q->ids[i]);
        p = strstr(p, want);
        assert_non_null(p);
    }
    free(text);
}

static void test_list_is_grouped_newest_first_with_total_and_cursor(void **state)
{
    queue_run_t *q = *state;
    fx_t *f = &q->f;
    long st;
    json_t *list =
        fx_callf(f, "GET", &st, NULL, "/api/v1/jobs?agent_id=%s&limit=3", f->agent_ids[0]);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 4);
    json_t *g = json_object_get(json_object_get(list, "jobs"), f->agent_ids[0]);
    assert_int_equal(json_array_size(g), 3);
    assert_string_equal(fx_id(json_array_get(g, 0)), q->ids[3]);
    const char *cursor = json_string_value(json_object_get(list, "next_cursor"));
    assert_non_null(cursor);
    json_t *list2 = fx_callf(f, "GET", &st, NULL, "/api/v1/jobs?limit=3&cursor=%s", cursor);
    g = json_object_get(json_object_get(list2, "jobs"), f->agent_ids[0]);
    assert_int_equal(json_array_size(g), 1);
    assert_string_equal(fx_id(json_array_get(g, 0)), q->ids[0]);
    assert_null(json_object_get(list2, "next_cursor"));
    json_decref(list2);
    json_decref(list);
}

static void test_status_filter_counts_only_matching_jobs(void **state)
{
    queue_run_t *q = *state;
    long st;
    json_t *list = fx_callf(&q->f, "GET", &st, NULL, "/api/v1/jobs?status=queued,running");
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 0);
    json_decref(list);
    list = fx_callf(&q->f, "GET", &st, NULL, "/api/v1/jobs?status=completed,failed");
    assert_int_equal(json_integer_value(json_object_get(list, "total")), 4);
    json_decref(list);
}

static void test_failure_and_timeout(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char fail_exp[32], slow_exp[32];
    fx_experiment(&f, "fails", "echo broken >&2; exit 3", 0, fail_exp);
    fx_experiment(&f, "too slow", "sleep 30", 1, slow_exp);
    json_t *a = fx_job(&f, fail_exp, 0, 201);
    json_t *b = fx_job(&f, slow_exp, 0, 201);
    json_t *fa = fx_wait_job(&f, fx_id(a), NULL, 10000);
    assert_string_equal(fx_state(fa), "failed");
    long st;
    json_t *r = fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s", fx_id(a));
    assert_int_equal(st, 200);
    const char *err = json_string_value(json_object_get(json_object_get(r, "result"), "error"));
    assert_non_null(err);
    assert_non_null(strstr(err, "broken"));
    /* Why, in the job's own message too (what job list, watch and the
     * dashboard show), on one line. */
    const char *why = json_string_value(json_object_get(json_object_get(fa, "status"), "message"));
    assert_non_null(why);
    assert_non_null(strstr(why, "exited with status 3"));
    assert_non_null(strstr(why, "broken"));
    assert_null(strchr(why, '\n'));
    json_decref(r);
    json_t *fb = fx_wait_job(&f, fx_id(b), NULL, 15000);
    assert_string_equal(fx_state(fb), "timeout");
    json_decref(fa);
    json_decref(fb);
    json_decref(a);
    json_decref(b);
    fx_cleanup(&f);
}

static void test_cancel(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char script[4096], exp[32];
    fx_logged_script(&f, "30", "", script, sizeof script);
    fx_experiment(&f, "long", script, 0, exp);
    json_t *run = fx_job(&f, exp, 0, 201);
    json_t *q = fx_job(&f, exp, 0, 201);
    assert_string_equal(fx_state(q), "queued");
    json_decref(fx_wait_job(&f, fx_id(run), "running", 10000));
    for (int i = 0; i < 500; i++) { /* the workload itself has started */
        char *t = rk_test_read_file(f.log, NULL);
        bool started = t && strstr(t, fx_id(run));
        free(t);
        if (started)
            break;
        rk_test_sleep_ms(10);
    }

    /* queued: cancelled at once */
    long st;
    json_t *v = fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs/%s", fx_id(q));
    assert_int_equal(st, 200);
    assert_string_equal(fx_state(v), "cancelled");
    json_decref(v);
    /* running: 202, being stopped, ends cancelled */
    v = fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs/%s", fx_id(run));
    assert_int_equal(st, 202);
    json_decref(v);
    json_t *end = fx_wait_job(&f, fx_id(run), NULL, 10000);
    assert_string_equal(fx_state(end), "cancelled");
    json_decref(end);
    /* finished: 409 */
    json_decref(fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs/%s", fx_id(run)));
    assert_int_equal(st, 409);

    /* assigned (cancelled right after the 201, before or as it starts) */
    json_t *c = fx_job(&f, exp, 0, 201);
    v = fx_callf(&f, "DELETE", &st, NULL, "/api/v1/jobs/%s", fx_id(c));
    assert_true(st == 200 || st == 202);
    json_decref(v);
    end = fx_wait_job(&f, fx_id(c), NULL, 10000);
    assert_string_equal(fx_state(end), "cancelled");
    json_decref(end);
    /* the slot comes free: a next job runs to its end */
    char exp2[32];
    fx_experiment(&f, "quick", "true", 0, exp2);
    json_t *next = fx_job(&f, exp2, 0, 201);
    json_decref(fx_wait_job(&f, fx_id(next), "completed", 10000));
    /* the queued one never started */
    char *text = rk_test_read_file(f.log, NULL);
    assert_non_null(text);
    assert_null(strstr(text, fx_id(q)));
    assert_null(strstr(text, "end ")); /* nothing ran to its end */
    free(text);
    json_decref(next);
    json_decref(c);
    json_decref(run);
    json_decref(q);
    fx_cleanup(&f);
}

static void test_agent_error(void **state)
{
    fx_t f;
    fx_init(&f);
    char mnt[PATH_MAX + 8];
    snprintf(mnt, sizeof mnt, "%s/agentfs", f.dir);
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        fprintf(stderr, "skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        fx_cleanup(&f);
        skip();
    }
    fx_server_start(&f, "sqlite", NULL);
    const char *args[] = {"--data-dir", mnt, NULL};
    fx_agent_start(&f, 0, 1, args);
    char exp[32];
    fx_experiment(&f, "never runs", "true", 0, exp);
    assert_int_equal(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
    rk_test_sleep_ms(1700); /* the agent's last probe of its data dir is at most 1.5 s old */
    json_t *j = fx_job(&f, exp, 0, 201);
    assert_string_equal(fx_state(j), "failed");
    const char *msg = json_string_value(json_object_get(json_object_get(j, "status"), "message"));
    assert_non_null(msg);
    assert_true(strstr(msg, "error") || strstr(msg, "cannot"));
    json_decref(j);
    rk_test_agent_cleanup(&f.agents[0]);
    f.n_agents = 0;
    umount2(mnt, MNT_DETACH);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest queue[] = {
        cmocka_unit_test(test_idle_agent_dispatches_before_the_answer_busy_one_queues),
        cmocka_unit_test(test_each_result_is_stored_with_its_agent),
        cmocka_unit_test(test_history_is_kept_oldest_first),
        cmocka_unit_test(test_next_job_is_dispatched_right_after_the_previous_end),
        cmocka_unit_test(test_jobs_run_once_each_one_at_a_time_in_queue_order),
        cmocka_unit_test(test_list_is_grouped_newest_first_with_total_and_cursor),
        cmocka_unit_test(test_status_filter_counts_only_matching_jobs),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_and_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_agent_error),
    };
    int failed = cmocka_run_group_tests_name("one queue", queue, queue_setup, queue_teardown);
    return failed + cmocka_run_group_tests_name("job branches", tests, NULL, NULL);
}
