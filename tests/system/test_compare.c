/* GET /compare against a real server and agent: a command workload whose
 * duration the test controls (it sleeps what a file says) is made 10 %
 * slower on purpose and flagged `slower` against its baseline, by the
 * agent's own wall_time_s. Unchanged, it is `same` in at least 19 of 20
 * trials: that property is about the test's false alarms when nothing
 * changed, so it is checked on a metric the workload reports with known
 * noise (work_s: 0.1 s x scale x (1 + 1 % Gaussian noise)), where nothing
 * else (a busy CI machine between two jobs) can change. Selectors by job id
 * and by experiment:agent[:N], and the 4xx answers.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rk_test_run.h"
#include "server_fixture.h"

/* Reads GET /events from the start of the server's ring until needle
 * shows up (or timeout_ms); true when it did. */
static bool events_have(fx_t *f, const char *needle, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->srv.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n"
                       "Connection: close\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    static char got[1 << 20];
    size_t used = 0;
    bool found = false;
    double end = rk_test_now_ms() + timeout_ms;
    while (!found && rk_test_now_ms() < end && used + 1 < sizeof got) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, got + used, sizeof got - used - 1);
        if (r <= 0)
            break;
        used += (size_t)r;
        got[used] = '\0';
        found = strstr(got, needle) != NULL;
    }
    close(fd);
    return found;
}

/* An experiment of `runs` runs of `sleep $(cat DIR/sleep)` that also
 * reports work_s = 0.1 * $(cat DIR/scale) with 1 % Gaussian noise. */
static void sleep_experiment(fx_t *f, const char *name, const char *dir, int runs, char id[32])
{
    char script[2048];
    snprintf(script, sizeof script,
             "sleep $(cat %s/sleep); awk -v k=$(cat %s/scale) -v s=$$ 'BEGIN { srand(s); "
             "u = rand(); v = rand(); if (u < 1e-12) u = 1e-12; "
             "z = sqrt(-2 * log(u)) * cos(6.283185307 * v); "
             "printf \"{\\\"work_s\\\": %%.9f}\", 0.1 * k * (1 + 0.01 * z) }' "
             "> \"$RUCKUS_METRICS_FILE\"",
             dir, dir);
    json_t *spec =
        json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:[s,s,s],s:i}},s:{s:s,s:{}},s:{s:{s:{s:b}}}}", "name",
                  name, "model", "hardware-test", "task", "name", "sleep", "type", "command",
                  "params", "argv", "sh", "-c", script, "runs_per_job", runs, "framework", "name",
                  "sh", "params", "metrics", "metrics", "work_s", "higher_is_better", 0);
    json_t *b = json_pack("{s:o}", "experiment_spec", spec);
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/experiments", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    snprintf(id, 32, "%s", json_string_value(json_object_get(v, "experiment_id")));
    json_decref(v);
}

static void set(const char *dir, const char *name, const char *value)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(rk_test_write_file(path, value, 0644), 0);
}

/* Runs one job of exp to completion; its id into id. */
static void run_job(fx_t *f, const char *exp, char id[80])
{
    json_t *j = fx_job(f, exp, 0, 201);
    snprintf(id, 80, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(f, id, "completed", 30000));
}

/* GET /compare?a=&b=&metric=; the metric's entry (new ref). */
static json_t *compare(fx_t *f, const char *a, const char *b, const char *metric)
{
    long st;
    json_t *v = fx_callf(f, "GET", &st, NULL, "/api/v1/compare?a=%s&b=%s&metric=%s", a, b, metric);
    assert_int_equal(st, 200);
    json_t *m = json_incref(json_object_get(json_object_get(v, "metrics"), metric));
    json_decref(v);
    assert_non_null(m);
    return m;
}

static const char *verdict(const json_t *m)
{
    return json_string_value(json_object_get(m, "verdict"));
}

static void test_regression_and_same(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    set(f.dir, "sleep", "0.2");
    set(f.dir, "scale", "1");
    sleep_experiment(&f, "controlled sleep", f.dir, 8, exp);

    char base[80], slow[80];
    run_job(&f, exp, base);
    set(f.dir, "sleep", "0.22"); /* 10 % slower */
    set(f.dir, "scale", "1.1");
    run_job(&f, exp, slow);
    const char *metrics[] = {"wall_time_s", "work_s"};
    for (int k = 0; k < 2; k++) {
        json_t *m = compare(&f, base, slow, metrics[k]);
        char *dump = json_dumps(m, JSON_SORT_KEYS);
        fprintf(stderr, "%s 10 %% slower: %s\n", metrics[k], dump);
        free(dump);
        assert_int_equal(json_integer_value(json_object_get(m, "a_n")), 7); /* warm runs */
        assert_true(json_is_false(json_object_get(m, "higher_is_better")));
        /* The agent's wall clock is only as steady as the machine: on a
         * busy one (CI running other tests beside this) its runs can
         * spread too much to tell 10 %. Quiet (every run within a few %),
         * it must be flagged; busy, it must at least never read faster.
         * work_s, whose noise the workload sets, must always be flagged. */
        double cv = fmax(json_real_value(json_object_get(m, "a_std")) /
                             json_real_value(json_object_get(m, "a_mean")),
                         json_real_value(json_object_get(m, "b_std")) /
                             json_real_value(json_object_get(m, "b_mean")));
        bool steady = k == 1 || cv < 0.02;
        if (steady) {
            assert_string_equal(verdict(m), "slower");
            assert_true(json_real_value(json_object_get(m, "p_value")) < 0.05);
            double ratio = json_real_value(json_object_get(m, "ratio"));
            assert_true(ratio > 1.05 && ratio < 1.15);
        } else {
            fprintf(stderr, "%s: runs spread %.1f %%, too busy a machine to require 'slower'\n",
                    metrics[k], 100 * cv);
            assert_string_not_equal(verdict(m), "faster");
        }
        json_decref(m);
        /* The other way round it is faster. */
        m = compare(&f, slow, base, metrics[k]);
        assert_string_equal(verdict(m), steady ? "faster" : verdict(m));
        assert_string_not_equal(verdict(m), "slower");
        json_decref(m);
    }

    /* Unchanged: same in at least 19 of 20 trials. */
    set(f.dir, "sleep", "0");
    set(f.dir, "scale", "1");
    run_job(&f, exp, base);
    int same = 0;
    for (int i = 0; i < 20; i++) {
        char id[80];
        run_job(&f, exp, id);
        json_t *m = compare(&f, base, id, "work_s");
        if (!strcmp(verdict(m), "same"))
            same++;
        else
            fprintf(stderr, "trial %d: %s (p %.3f, ratio %.4f)\n", i, verdict(m),
                    json_real_value(json_object_get(m, "p_value")),
                    json_real_value(json_object_get(m, "ratio")));
        json_decref(m);
    }
    fprintf(stderr, "same in %d of 20 trials\n", same);
    assert_true(same >= 19);

    /* experiment:agent is the latest completed result; :N pools the last N. */
    char sel[160];
    snprintf(sel, sizeof sel, "%s:%s", exp, f.agent_ids[0]);
    long st;
    json_t *v = fx_callf(&f, "GET", &st, NULL, "/api/v1/compare?a=%s&b=%s:5", base, sel);
    assert_int_equal(st, 200);
    json_t *w = json_object_get(json_object_get(v, "metrics"), "work_s");
    assert_int_equal(json_integer_value(json_object_get(w, "b_n")), 35);
    assert_int_equal(json_array_size(json_object_get(json_object_get(v, "b"), "job_ids")), 5);
    /* Without metric=: every numeric metric both sides have. */
    json_decref(v);
    v = fx_callf(&f, "GET", &st, NULL, "/api/v1/compare?a=%s&b=%s", base, sel);
    assert_non_null(json_object_get(json_object_get(v, "metrics"), "work_s"));
    assert_int_equal(st, 200);
    assert_non_null(json_object_get(json_object_get(v, "metrics"), "max_rss_kib"));
    json_decref(v);

    /* Bad input: a clear 4xx, nothing computed. */
    struct {
        const char *query;
        long want;
    } bad[] = {
        {"a=job_nope&b=job_nope", 404},
        {"b=x", 422},
        {"a=x", 422},
        {"a=exp_000000:nobody&b=exp_000000:nobody", 404},
        {"a=x:y:0&b=x:y", 422},
        {"a=x:y:101&b=x:y", 422},
        {"a=x:y:z&b=x:y", 422},
        {"a=..&b=x", 422},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_decref(fx_callf(&f, "GET", &st, NULL, "/api/v1/compare?%s", bad[i].query));
        if (st != bad[i].want)
            fprintf(stderr, "%s -> %ld\n", bad[i].query, st);
        assert_int_equal(st, bad[i].want);
    }
    json_decref(
        fx_callf(&f, "GET", &st, NULL, "/api/v1/compare?a=%s&b=%s&min_delta=-1", base, slow));
    assert_int_equal(st, 422);
    json_decref(
        fx_callf(&f, "GET", &st, NULL, "/api/v1/compare?a=%s&b=%s&metric=nope", base, slow));
    assert_int_equal(st, 422);

    /* Baselines: pin the unchanged run of this agent; one per pair (a
     * second pin replaces it); bad pins are refused. */
    json_t *b = json_pack("{s:s,s:s,s:s}", "experiment_id", exp, "agent_id", f.agent_ids[0],
                          "job_id", base);
    v = fx_call(&f, "POST", "/api/v1/baselines", b, &st);
    assert_int_equal(st, 201);
    char bl[32];
    snprintf(bl, sizeof bl, "%s", json_string_value(json_object_get(v, "baseline_id")));
    json_decref(v);
    v = fx_call(&f, "POST", "/api/v1/baselines", b, &st);
    assert_int_equal(st, 201);
    assert_string_equal(json_string_value(json_object_get(v, "baseline_id")), bl);
    json_decref(v);
    json_decref(b);
    v = fx_call(&f, "GET", "/api/v1/baselines", NULL, &st);
    assert_int_equal(json_array_size(json_object_get(v, "baselines")), 1);
    json_decref(v);
    const char *bad_pins[][3] = {{exp, "no-such-agent", base}, {exp, f.agent_ids[0], "job_nope"}};
    const long bad_codes[] = {422, 404};
    for (int i = 0; i < 2; i++) {
        b = json_pack("{s:s,s:s,s:s}", "experiment_id", bad_pins[i][0], "agent_id", bad_pins[i][1],
                      "job_id", bad_pins[i][2]);
        json_decref(fx_call(&f, "POST", "/api/v1/baselines", b, &st));
        json_decref(b);
        assert_int_equal(st, bad_codes[i]);
    }

    /* A new result slower than the pinned baseline is a regression event;
     * one that is not, is none. */
    set(f.dir, "scale", "1.1");
    char regressed[80];
    run_job(&f, exp, regressed);
    char needle[200];
    snprintf(needle, sizeof needle, "event: regression\ndata: {\"job_id\":\"%s\"", regressed);
    assert_true(events_have(&f, needle, 5000));
    set(f.dir, "scale", "1");

    /* History: one series for the agent, oldest first, every completed
     * job, the baseline named, the 10 % slower job marked slower. */
    v = fx_callf(&f, "GET", &st, NULL, "/api/v1/results/history?experiment_id=%s&metric=work_s",
                 exp);
    assert_int_equal(st, 200);
    json_t *series = json_array_get(json_object_get(v, "series"), 0);
    assert_string_equal(json_string_value(json_object_get(series, "agent_id")), f.agent_ids[0]);
    assert_string_equal(json_string_value(json_object_get(series, "baseline_job_id")), base);
    json_t *points = json_object_get(series, "points");
    assert_int_equal(json_array_size(points),
                     24); /* base, slow, base again, 20 trials, one more slow */
    assert_string_equal(json_string_value(json_object_get(json_array_get(points, 1), "job_id")),
                        slow);
    assert_string_equal(json_string_value(json_object_get(json_array_get(points, 1), "verdict")),
                        "slower");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(points, 1), "n")), 7);
    json_decref(v);
    json_decref(fx_callf(&f, "GET", &st, NULL, "/api/v1/results/history?metric=work_s"));
    assert_int_equal(st, 422);
    json_decref(fx_callf(&f, "GET", &st, NULL,
                         "/api/v1/results/history?experiment_id=%s&metric=work_s&since=yesterday",
                         exp));
    assert_int_equal(st, 422);
    v = fx_callf(
        &f, "GET", &st, NULL,
        "/api/v1/results/history?experiment_id=%s&metric=work_s&since=2999-01-01T00:00:00Z", exp);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(v, "series")), 0);
    json_decref(v);

    /* The CLI: B against A as a table, --json for scripts, and exit 7 with
     * --fail-on-regression only when something is slower. */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f.srv.port);
    static rk_test_run_t r;
    setenv("NO_COLOR", "1", 1);
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "result", "compare", base, slow,
                                                  "--metric", "wall_time_s,work_s", NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "VERDICT"));
    assert_non_null(strstr(r.out, "wall_time_s"));
    assert_non_null(strstr(r.out, "slower"));
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "result", "compare", base, slow,
                                                  "--fail-on-regression", "--json", NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 7);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "metrics"), "work_s"), "verdict")),
                        "slower");
    json_decref(j);
    assert_non_null(strstr(r.err, "slower than the baseline"));
    /* Faster is no regression. */
    assert_int_equal(
        rk_test_run(&r, "ruckus",
                    (const char *[]){"--server", url, "result", "compare", slow, base, "--metric",
                                     "work_s", "--fail-on-regression", NULL},
                    0),
        0);
    assert_int_equal(r.code, 0);
    /* Every agent's latest against a baseline: the latest is unchanged. */
    assert_int_equal(
        rk_test_run(&r, "ruckus",
                    (const char *[]){"--server", url, "result", "compare", exp, "--baseline", slow,
                                     "--metric", "work_s", "--fail-on-regression", NULL},
                    0),
        0);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, f.agent_ids[0]));
    assert_non_null(strstr(r.out, "faster"));
    /* Usage errors and a missing job. */
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "result", "compare", base, slow,
                                                  "--baseline", base, NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 2);
    assert_int_equal(
        rk_test_run(&r, "ruckus",
                    (const char *[]){"--server", url, "result", "compare", base, "job_nope", NULL},
                    0),
        0);
    assert_int_equal(r.code, 3);
    assert_non_null(strstr(r.err, "job_nope"));

    /* result history: a table with the baseline and the slower job marked,
     * and CSV for scripts. */
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "result", "history", exp,
                                                  "--metric", "work_s", NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "VERDICT"));
    assert_non_null(strstr(r.out, "baseline"));
    assert_non_null(strstr(r.out, "slower"));
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "result", "history", exp,
                                                  "--metric", "work_s", "--format", "csv", NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 0);
    assert_int_equal(
        strncmp(r.out, "agent_id,job_id,completed_at,mean,std,n,verdict,baseline\n", 57), 0);
    size_t lines = 0;
    for (const char *q = r.out; (q = strchr(q, '\n')); q++)
        lines++;
    assert_int_equal(lines, 25); /* header + 24 points */
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "result", "history", exp, NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 2); /* --metric is required */

    /* Unpinned: gone, then 404. */
    json_decref(fx_callf(&f, "DELETE", &st, NULL, "/api/v1/baselines/%s", bl));
    assert_int_equal(st, 200);
    json_decref(fx_callf(&f, "DELETE", &st, NULL, "/api/v1/baselines/%s", bl));
    assert_int_equal(st, 404);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regression_and_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
