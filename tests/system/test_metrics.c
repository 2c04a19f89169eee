/* GET /metrics on both daemons: what promtool (Prometheus's own linter)
 * accepts, values read back after known work, and the token rule (open on
 * loopback without a token; with one, only with it). */
#include <stdlib.h>
#include <sys/wait.h>

#include "server_fixture.h"

/* The value of the sample line starting with `series ` in text, or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

/* promtool check metrics on text: 0 when it passes; -2 when promtool is
 * not installed (scripts/deps.sh installs it). */
static int promtool(const char *dir, const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        return -2;
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/metrics.txt", dir);
    assert_int_equal(rk_test_write_file(path, text, 0644), 0);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
    int st = system(cmd);
    if (st != 0) {
        snprintf(cmd, sizeof cmd, "cat %s.out >&2", path);
        if (system(cmd) != 0)
            fprintf(stderr, "promtool failed\n");
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *scrape(const rk_test_proc_t *p, const char *token, long *status)
{
    rk_test_resp_t r;
    rk_test_req(p, "GET", "/metrics", NULL, token, &r);
    *status = r.status;
    char *body = strdup(r.body ? r.body : "");
    char ct[128] = "";
    if (r.status == 200) {
        assert_true(rk_test_resp_header(&r, "Content-Type", ct, sizeof ct));
        assert_non_null(strstr(ct, "text/plain; version=0.0.4"));
    }
    rk_test_resp_cleanup(&r);
    return body;
}

static void test_metrics(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "counted", "echo hi; echo oops >&2", 0, exp);
    for (int i = 0; i < 3; i++) {
        json_t *j = fx_job(&f, exp, 0, 201);
        json_decref(fx_wait_job(&f, fx_id(j), "completed", 15000));
        json_decref(j);
    }
    long st;
    char *srv = scrape(&f.srv, NULL, &st);
    assert_int_equal(st, 200);
    int pt = promtool(f.dir, srv);
    if (pt == -2)
        print_message("SKIPPED promtool: not installed (scripts/deps.sh installs it)\n");
    else
        assert_int_equal(pt, 0);
    /* Three POST /jobs answered 201, counted by their route. */
    assert_true(sample(srv, "ruckus_http_requests_total{route=\"/api/v1/jobs\",method=\"POST\","
                            "code=\"201\"}") == 3);
    assert_true(sample(srv, "ruckus_http_request_duration_seconds_count{route=\"/api/v1/jobs\","
                            "method=\"POST\"}") == 3);
    /* The job manager's own: the store's counts, each job's dispatch, the
     * agent's queue and availability, the batches committed. */
    assert_true(sample(srv, "ruckus_jobs{status=\"completed\"}") == 3);
    assert_true(sample(srv, "ruckus_jobs{status=\"queued\"}") == 0);
    assert_true(sample(srv, "ruckus_dispatch_seconds_count") == 3);
    assert_true(sample(srv, "ruckus_store_commit_seconds_count") >= 3);
    assert_true(sample(srv, "ruckus_store_batch_jobs_count") >= 3);
    /* The per-agent gauges are set by the manager about once a second. */
    char series[200];
    snprintf(series, sizeof series, "ruckus_agent_available{agent_id=\"%s\"}", f.agent_ids[0]);
    for (int i = 0; i < 30 && sample(srv, series) != 1; i++) {
        rk_test_sleep_ms(100);
        free(srv);
        srv = scrape(&f.srv, NULL, &st);
    }
    assert_true(sample(srv, series) == 1);
    snprintf(series, sizeof series, "ruckus_agent_queued_jobs{agent_id=\"%s\"}", f.agent_ids[0]);
    assert_true(sample(srv, series) == 0);
    free(srv);

    char *ag = scrape(&f.agents[0].p, NULL, &st);
    assert_int_equal(st, 200);
    if (pt != -2)
        assert_int_equal(promtool(f.dir, ag), 0);
    assert_true(sample(ag, "ruckus_agent_jobs_finished_total{status=\"completed\"}") == 3);
    assert_true(sample(ag, "ruckus_agent_job_duration_seconds_count{status=\"completed\"}") == 3);
    assert_true(sample(ag, "ruckus_agent_spawn_seconds_count") == 3);
    assert_true(sample(ag, "ruckus_agent_jobs_running") == 0);
    assert_true(sample(ag, "ruckus_agent_slots") == 1);
    assert_true(sample(ag, "ruckus_agent_jobs_retained") == 3);
    assert_true(sample(ag, "ruckus_agent_log_bytes_total{stream=\"stdout\"}") == 9); /* "hi\n" x3 */
    assert_true(sample(ag, "ruckus_agent_log_bytes_total{stream=\"stderr\"}") == 15);
    assert_true(sample(ag, "ruckus_agent_data_dir_free_bytes") > 0);
    free(ag);
    fx_cleanup(&f);
}

static void test_metrics_token(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    f.token = "metrics-token";
    fx_server_start(&f, "memory", (const char *const[]){"--token", "metrics-token", NULL});
    long st;
    free(scrape(&f.srv, NULL, &st));
    assert_int_equal(st, 401);
    free(scrape(&f.srv, "wrong", &st));
    assert_int_equal(st, 401);
    char *m = scrape(&f.srv, "metrics-token", &st);
    assert_int_equal(st, 200);
    /* The refused scrapes were counted too, with their code (a request is
     * counted once its answer has left: the count may trail by a moment). */
    const char *refused = "ruckus_http_requests_total{route=\"/metrics\",method=\"GET\","
                          "code=\"401\"}";
    for (int i = 0; i < 20 && sample(m, refused) != 2; i++) {
        rk_test_sleep_ms(50);
        free(m);
        m = scrape(&f.srv, "metrics-token", &st);
    }
    assert_true(sample(m, refused) == 2);
    free(m);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_metrics),
                                       cmocka_unit_test(test_metrics_token)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
