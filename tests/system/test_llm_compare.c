/* One LLM serving experiment over several machines, through the CLI: a
 * real server and four real agents (named fast, mid, slow and broken),
 * each serving the deterministic test server (rk-llm-testserver) as the
 * job's managed server with the timing its models dir holds, so one spec
 * runs everywhere and the machines differ the way real ones would.
 * `ruckus experiment create` + `ruckus experiment run --wait` make one job
 * per agent; `ruckus result compare EXPERIMENT` then shows the machines
 * side by side with the LLM metrics' units, ordered as their configured
 * timings say. The broken machine's server answers every request with a
 * 500 (the fault case): its job fails, `run --wait` says so, and the
 * comparison leaves it out rather than showing empty numbers.
 */
#include <sys/stat.h>

#include "rk_test_run.h"
#include "server_fixture.h"

#define N_AGENTS 4
#define TOKENS 8

/* Each machine's test-server options: what its models dir holds. */
static const struct {
    const char *name;
    const char *opts;
    double ttft_ms;
} machines[N_AGENTS] = {
    {"fast", "--ttft-ms 5 --itl-ms 1", 5},
    {"mid", "--ttft-ms 40 --itl-ms 4", 40},
    {"slow", "--ttft-ms 120 --itl-ms 10", 120},
    {"broken", "--fault http_500", 0},
};

static void write_spec(const char *path)
{
    char script[PATH_MAX + 128];
    snprintf(script, sizeof script,
             "exec %s/rk-llm-testserver --port {port} --tokens %d $(cat "
             "{models_dir}/testserver.opts)",
             getenv("RK_BIN_DIR"), TOKENS);
    json_t *spec = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:{s:{s:s, s:s}, s:{s:[s, s, s], s:i}, s:[{s:s}], s:[i, i], "
        "s:i, s:i, s:i}}, s:{s:s, s:{}}, s:{s:{s:{s:b}, s:{s:b}, s:{s:b}}}, s:{s:i}}",
        "name", "llm over machines", "model", "test", "task", "name", "serve", "type",
        "llm_generation", "params", "endpoint", "api", "completions", "model", "test", "server",
        "argv", "sh", "-c", script, "ready_timeout_s", 30, "prompts", "prompt", "hello",
        "concurrency", 1, 4, "num_requests", 12, "warmup_requests", 1, "max_tokens", TOKENS,
        "framework", "name", "openai", "params", "metrics", "metrics", "c1_ttft_p50_ms",
        "higher_is_better", 0, "c4_tpot_p50_ms", "higher_is_better", 0, "c4_output_tok_per_s",
        "higher_is_better", 1, "capability_requirements", "timeout_seconds", 120);
    assert_non_null(spec);
    assert_int_equal(json_dump_file(spec, path, JSON_INDENT(2)), 0);
    json_decref(spec);
}

/* The whitespace-separated cells of the table line starting with `first`
 * (a word of its own) into cells; how many. */
static int table_row(const char *out, const char *first, char cells[][64], int max)
{
    size_t fl = strlen(first);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, first, fl) != 0 || (l[fl] != ' ' && l[fl] != '\n'))
            continue;
        int n = 0;
        const char *p = l;
        while (n < max && *p && *p != '\n') {
            while (*p == ' ')
                p++;
            if (!*p || *p == '\n')
                break;
            size_t k = strcspn(p, " \n");
            snprintf(cells[n++], 64, "%.*s", (int)(k < 63 ? k : 63), p);
            p += k;
        }
        return n;
    }
    return 0;
}

static double cell_of(const char *out, const char *metric, int col)
{
    char cells[8][64];
    int n = table_row(out, metric, cells, 8);
    if (n <= col)
        fail_msg("no row %s column %d in:\n%s", metric, col, out);
    return atof(cells[col]);
}

static void test_three_machines_side_by_side(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    for (int i = 0; i < N_AGENTS; i++) {
        const char *args[] = {"--name", machines[i].name, NULL};
        fx_agent_start(&f, i, 1, args);
        char dir[PATH_MAX + 16], file[PATH_MAX + 48];
        snprintf(dir, sizeof dir, "%s/models", f.agents[i].data);
        mkdir(dir, 0755);
        snprintf(file, sizeof file, "%s/testserver.opts", dir);
        assert_int_equal(rk_test_write_file(file, machines[i].opts, 0644), 0);
    }
    char url[64], spec_path[600];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f.srv.port);
    snprintf(spec_path, sizeof spec_path, "%s/llm.json", f.dir);
    write_spec(spec_path);
    setenv("NO_COLOR", "1", 1);
    static rk_test_run_t r;
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "experiment", "create",
                                                  spec_path, "--json", NULL},
                                 0),
                     0);
    if (r.code != 0)
        fail_msg("experiment create: %s", r.err);
    json_t *v = json_loads(r.out, 0, NULL);
    assert_non_null(v);
    char exp[40];
    snprintf(exp, sizeof exp, "%s", json_string_value(json_object_get(v, "experiment_id")));
    json_decref(v);

    /* One job per machine, followed to its end: the broken one fails, so
     * --wait does not exit 0. */
    double t0 = rk_test_now_ms();
    assert_int_equal(
        rk_test_run(&r, "ruckus",
                    (const char *[]){"--server", url, "experiment", "run", exp, "--wait", NULL}, 0),
        0);
    fprintf(stderr, "experiment run --wait: exit %d after %.1f s\n%s%s", r.code,
            (rk_test_now_ms() - t0) / 1000, r.out, r.err);
    assert_int_not_equal(r.code, 0);
    long st;
    v = fx_callf(&f, "GET", &st, NULL, "/api/v1/jobs?experiment_id=%s", exp);
    assert_int_equal(st, 200);
    size_t i;
    json_t *j, *list;
    const char *agent;
    int completed = 0, failed = 0;
    /* GET /jobs groups the jobs by agent. */
    json_object_foreach(json_object_get(v, "jobs"), agent, list)
    {
        json_array_foreach(list, i, j)
        {
            bool broken = !strcmp(agent, f.agent_ids[3]);
            assert_string_equal(fx_state(j), broken ? "failed" : "completed");
            completed += !broken;
            failed += broken;
        }
    }
    json_decref(v);
    assert_int_equal(completed, 3);
    assert_int_equal(failed, 1);

    /* The table: metrics as rows with their unit, one column per machine
     * that completed it (the broken one is not there). */
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *[]){"--server", url, "result", "compare", exp, NULL},
                                 0),
                     0);
    fprintf(stderr, "%s", r.out);
    assert_int_equal(r.code, 0);
    char hdr[8][64];
    int nh = table_row(r.out, "METRIC", hdr, 8);
    assert_int_equal(nh, 5);
    assert_string_equal(hdr[1], "UNIT");
    int col[3] = {-1, -1, -1};
    for (int c = 2; c < nh; c++)
        for (int m = 0; m < 3; m++)
            if (!strcmp(hdr[c], machines[m].name))
                col[m] = c;
    for (int m = 0; m < 3; m++)
        assert_true(col[m] >= 2);
    assert_null(strstr(r.out, "broken"));
    /* No NVIDIA GPU here (docs/llm.md): no GPU figure, and no failure. */
    assert_null(strstr(r.out, "_gpu_"));
    assert_null(strstr(r.out, "tokens_per_joule"));
    /* The declared metrics come first, then the rest, each with its unit. */
    static const struct {
        const char *metric, *unit;
    } units[] = {
        {"c1_ttft_p50_ms", "ms"},
        {"c4_tpot_p50_ms", "ms"},
        {"c4_output_tok_per_s", "tok/s"},
        {"c1_req_per_s", "req/s"},
        {"c4_goodput_req_per_s", "req/s"},
        {"c4_itl_p99_ms", "ms"},
        {"c1_duration_s", "s"},
        {"c4_output_tokens", "tokens"},
        {"throughput_tokens_per_sec", "tokens/s"},
    };
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        char cells[8][64];
        int n = table_row(r.out, units[u].metric, cells, 8);
        if (n != 5 || strcmp(cells[1], units[u].unit) != 0)
            fail_msg("%s: expected unit %s in:\n%s", units[u].metric, units[u].unit, r.out);
    }
    char metrics_col[8][64];
    assert_int_equal(table_row(r.out, "c4_requests_ok", metrics_col, 8), 4); /* no unit */
    /* Ordered as configured: each TTFT at least what the server waits (it
     * sleeps to that deadline) and the slow one slowest; the fast one
     * streams the most tokens per second. */
    const char *ttfts[] = {"c1_ttft_p50_ms", "c4_ttft_p50_ms"};
    for (int k = 0; k < 2; k++) {
        double t[3];
        for (int m = 0; m < 3; m++) {
            t[m] = cell_of(r.out, ttfts[k], col[m]);
            assert_true(t[m] >= machines[m].ttft_ms - 0.5);
        }
        assert_true(t[0] < t[1] && t[1] < t[2]);
    }
    assert_true(cell_of(r.out, "c4_output_tok_per_s", col[0]) >
                cell_of(r.out, "c4_output_tok_per_s", col[2]));
    assert_true(cell_of(r.out, "c4_tpot_p50_ms", col[0]) <
                cell_of(r.out, "c4_tpot_p50_ms", col[2]));
    assert_int_equal((int)cell_of(r.out, "c4_output_tokens", col[1]), 12 * TOKENS);

    /* --metric: those rows only, in its order (docs/llm.md shows this). */
    assert_int_equal(
        rk_test_run(&r, "ruckus",
                    (const char *[]){"--server", url, "result", "compare", exp, "--metric",
                                     "c1_ttft_p50_ms,c4_ttft_p50_ms,c4_tpot_p50_ms,"
                                     "c4_itl_p99_ms,c4_output_tok_per_s,c4_req_per_s",
                                     NULL},
                    0),
        0);
    fprintf(stderr, "%s", r.out);
    assert_int_equal(r.code, 0);
    const char *a1 = strstr(r.out, "\nc1_ttft_p50_ms "), *a2 = strstr(r.out, "\nc4_req_per_s ");
    assert_true(a1 && a2 && a1 < a2);
    assert_null(strstr(r.out, "c1_req_per_s"));

    /* --json: the same, for scripts: units by metric and each machine's
     * means. */
    assert_int_equal(
        rk_test_run(&r, "ruckus",
                    (const char *[]){"--server", url, "result", "compare", exp, "--metric",
                                     "c1_ttft_p50_ms,c4_output_tok_per_s,c4_req_per_s", "--json",
                                     NULL},
                    0),
        0);
    assert_int_equal(r.code, 0);
    v = json_loads(r.out, 0, NULL);
    assert_non_null(v);
    json_t *u = json_object_get(v, "units");
    assert_string_equal(json_string_value(json_object_get(u, "c1_ttft_p50_ms")), "ms");
    assert_string_equal(json_string_value(json_object_get(u, "c4_output_tok_per_s")), "tok/s");
    assert_string_equal(json_string_value(json_object_get(u, "c4_req_per_s")), "req/s");
    assert_int_equal(json_array_size(json_object_get(v, "metrics")), 3);
    json_t *rows = json_object_get(v, "agents");
    assert_int_equal(json_array_size(rows), 3);
    double ttft[3] = {-1, -1, -1};
    json_array_foreach(rows, i, j)
    {
        const char *id = json_string_value(json_object_get(j, "agent_id"));
        for (int m = 0; m < 3; m++)
            if (!strcmp(id, f.agent_ids[m]))
                ttft[m] = json_number_value(
                    json_object_get(json_object_get(j, "metrics"), "c1_ttft_p50_ms"));
        assert_true(strcmp(id, f.agent_ids[3]) != 0);
        assert_int_equal(json_integer_value(json_object_get(j, "jobs")), 1);
    }
    assert_true(ttft[0] >= 5 - 0.5 && ttft[0] < ttft[1] && ttft[1] < ttft[2]);
    json_decref(v);
    fx_cleanup(&f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_machines_side_by_side),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
