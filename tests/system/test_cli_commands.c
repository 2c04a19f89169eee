/* The ruckus CLI end to end against a real ruckus-server and ruckus-agent:
 * every command, its --json output parsed, exit codes and errors (unknown
 * id, conflicts, wrong token).
 *
 * A test whose server route does not exist yet (the router's bare
 * "Not Found" 404, or 405) is skipped with a message naming the route, so
 * the suite tracks the server as it grows without failing on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "rk_test.h"
#include "rk_test_agent.h"

#define TOKEN "cli-test-token"

typedef struct fixture {
    rk_test_proc_t srv;
    rk_test_agent_t agent;
    char url[64];       /* the server */
    char agent_url[64]; /* the agent */
    char agent_id[128]; /* once registered */
    char *dir;          /* spec files */
    char why[512];      /* why everything is skipped, "" when running */
} fixture_t;

typedef struct {
    int code;
    char *out;
    char *err;
    json_t *json; /* stdout parsed, or NULL */
} run_t;

static void run_cleanup(run_t *r)
{
    free(r->out);
    free(r->err);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static char *slurp(const char *path)
{
    char *s = rk_test_read_file(path, NULL);
    return s ? s : strdup("");
}

/* Runs ruckus --server URL [--token T] args...; outputs go to files so a
 * big answer cannot block the child. */
static void cli_tok(const fixture_t *f, const char *token, run_t *r, const char *const *args)
{
    memset(r, 0, sizeof *r);
    char path[1024], outp[1200], errp[1200];
    const char *bin = getenv("RK_BIN_DIR");
    snprintf(path, sizeof path, "%s/ruckus", bin ? bin : "bin");
    snprintf(outp, sizeof outp, "%s/cli.out", f->dir);
    snprintf(errp, sizeof errp, "%s/cli.err", f->dir);
    char *argv[40] = {"ruckus", "--server", (char *)f->url};
    int n = 3;
    if (token) {
        argv[n++] = "--token";
        argv[n++] = (char *)token;
    }
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(outp, "w", stdout) || !freopen(errp, "w", stderr))
            _exit(126);
        unsetenv("RUCKUS_SERVER_API_TOKEN");
        setenv("NO_COLOR", "1", 1);
        execv(path, argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r->code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = slurp(outp);
    r->err = slurp(errp);
    r->json = json_loads(r->out, 0, NULL);
}

static void cli(const fixture_t *f, run_t *r, const char *const *args)
{
    cli_tok(f, TOKEN, r, args);
}

/* Fails with the command's output unless it exited with code. */
static void want(const run_t *r, int code, const char *what)
{
    if (r->code != code)
        fail_msg("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r->code, code, r->out,
                 r->err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* True (and the test skipped) when the server has no route for method
 * path: the router answers a bare "Not Found" or 405. */
static bool lacks(const fixture_t *f, const char *method, const char *path, const char *body)
{
    rk_test_resp_t r;
    rk_test_req(&f->srv, method, path, body, TOKEN, &r);
    const char *d = json_string_value(json_object_get(r.json, "detail"));
    bool missing = r.status == 405 || (r.status == 404 && d && strcmp(d, "Not Found") == 0);
    rk_test_resp_cleanup(&r);
    if (missing)
        print_message("SKIPPED: the server lacks %s %s\n", method, path);
    return missing;
}

#define NEED(f, method, path, body)                                                                \
    do {                                                                                           \
        if ((f)->why[0]) {                                                                         \
            print_message("SKIPPED: %s\n", (f)->why);                                              \
            skip();                                                                                \
        }                                                                                          \
        if (lacks((f), (method), (path), (body)))                                                  \
            skip();                                                                                \
    } while (0)

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = rk_test_tmpdir()))
        return -1;
    *state = f;
    char db[1200];
    snprintf(db, sizeof db, "%s/ruckus.db", f->dir);
    const char *sargs[] = {"--port",          "0",   "--db", db, "--token", TOKEN,
                           "--poll-interval", "0.2", NULL};
    int rc = rk_test_proc_start(&f->srv, "ruckus-server", sargs, NULL);
    if (rc) {
        char *log = rk_test_proc_log(&f->srv);
        snprintf(f->why, sizeof f->why, "ruckus-server did not start (%d): %.300s", rc,
                 log ? log : "");
        free(log);
        return 0;
    }
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u", f->srv.port);
    if (rk_test_agent_start(&f->agent, 2, NULL, NULL)) {
        snprintf(f->why, sizeof f->why, "ruckus-agent did not start");
        return 0;
    }
    snprintf(f->agent_url, sizeof f->agent_url, "http://127.0.0.1:%u", f->agent.p.port);
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->agent.p.pid > 0 || f->agent.root[0])
        rk_test_agent_cleanup(&f->agent);
    rk_test_proc_stop(&f->srv, SIGTERM, 5000, NULL);
    rk_test_proc_cleanup(&f->srv);
    rk_test_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Registers the agent once (the other tests need it). */
static void registered(fixture_t *f)
{
    if (f->agent_id[0])
        return;
    run_t r;
    cli(f, &r, ARGS("--json", "agent", "register", f->agent_url));
    want(&r, 0, "agent register");
    const char *id = json_string_value(json_object_get(r.json, "agent_id"));
    assert_non_null(id);
    snprintf(f->agent_id, sizeof f->agent_id, "%s", id);
    run_cleanup(&r);
}

static void test_agents(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/agents", NULL);
    registered(f);
    run_t r;

    cli(f, &r, ARGS("agent", "list"));
    want(&r, 0, "agent list");
    assert_non_null(strstr(r.out, "AGENT"));
    assert_non_null(strstr(r.out, f->agent_id));
    assert_non_null(strstr(r.out, f->agent_url));
    run_cleanup(&r);

    cli(f, &r, ARGS("--json", "agent", "list"));
    want(&r, 0, "agent list --json");
    json_t *a0 = json_array_get(json_object_get(r.json, "agents"), 0);
    assert_string_equal(json_string_value(json_object_get(a0, "agent_id")), f->agent_id);
    run_cleanup(&r);

    cli(f, &r, ARGS("agent", "show", f->agent_id, "--json"));
    want(&r, 0, "agent show --json");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "agent"), "agent_url")),
        f->agent_url);
    run_cleanup(&r);
    cli(f, &r, ARGS("agent", "show", f->agent_id));
    want(&r, 0, "agent show");
    assert_non_null(strstr(r.out, "hardware:"));
    run_cleanup(&r);

    cli(f, &r, ARGS("agent", "show", "no-such-agent"));
    want(&r, 3, "agent show unknown");
    assert_non_null(strstr(r.err, "ruckus: "));
    run_cleanup(&r);

    /* Same id at the same URL again: 409. */
    cli(f, &r, ARGS("agent", "register", f->agent_url));
    want(&r, 6, "agent register twice");
    run_cleanup(&r);

    /* Nothing listens there: the server cannot reach it (502/504). */
    cli(f, &r, ARGS("agent", "register", "http://127.0.0.1:1"));
    want(&r, 1, "agent register unreachable agent");
    run_cleanup(&r);
}

static void test_agent_status(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/agents/status", NULL);
    registered(f);
    run_t r;
    cli(f, &r, ARGS("--json", "agent", "status"));
    want(&r, 0, "agent status --json");
    json_t *s0 = json_array_get(json_object_get(r.json, "agents"), 0);
    assert_string_equal(json_string_value(json_object_get(s0, "agent_id")), f->agent_id);
    run_cleanup(&r);
    cli(f, &r, ARGS("agent", "status", f->agent_id));
    want(&r, 0, "agent status ID");
    assert_true(strstr(r.out, "idle") || strstr(r.out, "active"));
    run_cleanup(&r);
}

static const char spec_fmt[] =
    "{\"name\":\"%s\",\"model\":\"none\",\"task\":{\"name\":\"t\",\"type\":\"command\","
    "\"params\":{\"argv\":[\"/bin/sh\",\"-c\",\"%s\"]}},\"framework\":{\"name\":\"sh\"},"
    "\"metrics\":{\"metrics\":{}},\"capability_requirements\":{\"timeout_seconds\":60}}";

/* Writes a spec running script, creates it, returns its id (static). */
static const char *create(fixture_t *f, const char *name, const char *script)
{
    static char id[64];
    char path[1200], text[2048];
    snprintf(path, sizeof path, "%s/%s.json", f->dir, name);
    snprintf(text, sizeof text, spec_fmt, name, script);
    assert_int_equal(rk_test_write_file(path, text, 0644), 0);
    run_t r;
    cli(f, &r, ARGS("--json", "experiment", "create", path));
    want(&r, 0, "experiment create");
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "experiment_id")));
    assert_int_equal(strncmp(id, "exp_", 4), 0);
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "create", path));
    want(&r, 6, "experiment create twice");
    run_cleanup(&r);
    return id;
}

static void test_experiments(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/experiments", NULL);
    char id[64];
    snprintf(id, sizeof id, "%s", create(f, "cli-exp-list", "true"));
    run_t r;
    cli(f, &r, ARGS("--json", "experiment", "list"));
    want(&r, 0, "experiment list --json");
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(r.json, "experiments"), i, x) found |=
        strcmp(json_string_value(json_object_get(x, "id"))
                   ? json_string_value(json_object_get(x, "id"))
                   : "",
               id) == 0;
    assert_true(found);
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "list"));
    want(&r, 0, "experiment list");
    assert_non_null(strstr(r.out, "cli-exp-list"));
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "show", id, "--json"));
    want(&r, 0, "experiment show --json");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "experiment"), "name")),
        "cli-exp-list");
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "show", "exp_000000"));
    want(&r, 3, "experiment show unknown");
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "delete", id));
    want(&r, 0, "experiment delete");
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "delete", id));
    want(&r, 3, "experiment delete twice");
    run_cleanup(&r);
}

static void test_check(void **state)
{
    fixture_t *f = *state;
    NEED(f, "POST", "/api/v1/agents/compatibility/check", "{\"experiment_id\":\"exp_000000\"}");
    registered(f);
    char id[64];
    snprintf(id, sizeof id, "%s", create(f, "cli-exp-check", "true"));
    run_t r;
    cli(f, &r, ARGS("--json", "experiment", "check", id));
    want(&r, 0, "experiment check --json");
    json_t *c0 = json_array_get(json_object_get(r.json, "compatibility_results"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "agent_id")), f->agent_id);
    assert_true(json_is_true(json_object_get(c0, "can_run")));
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "check", id));
    want(&r, 0, "experiment check");
    assert_non_null(strstr(r.out, "1 of 1 agents can run"));
    run_cleanup(&r);
}

static void test_job_lifecycle(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/jobs/job_00000000", NULL);
    registered(f);
    char exp[64], job[64];
    snprintf(exp, sizeof exp, "%s",
             create(f, "cli-exp-ok", "echo hello-cli; echo oops >&2; echo data > out.txt"));
    run_t r;
    cli(f, &r, ARGS("job", "submit", exp, f->agent_id, "--wait"));
    want(&r, 0, "job submit --wait");
    assert_non_null(strstr(r.out, "completed"));
    run_cleanup(&r);

    cli(f, &r, ARGS("--json", "job", "list", "--experiment", exp));
    want(&r, 0, "job list --json");
    json_t *j0 = json_array_get(json_object_get(json_object_get(r.json, "jobs"), f->agent_id), 0);
    assert_non_null(j0);
    snprintf(job, sizeof job, "%s", json_string_value(json_object_get(j0, "job_id")));
    run_cleanup(&r);

    cli(f, &r, ARGS("job", "list", "--status", "completed", "--agent", f->agent_id));
    want(&r, 0, "job list");
    assert_non_null(strstr(r.out, job));
    run_cleanup(&r);

    cli(f, &r, ARGS("--json", "job", "show", job));
    want(&r, 0, "job show --json");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "status"), "status")),
        "completed");
    assert_true(json_array_size(json_object_get(r.json, "history")) >= 2);
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "show", job));
    want(&r, 0, "job show");
    assert_non_null(strstr(r.out, "history:"));
    run_cleanup(&r);

    cli(f, &r, ARGS("job", "watch", job));
    want(&r, 0, "job watch of a completed job");
    run_cleanup(&r);

    cli(f, &r, ARGS("job", "cancel", job));
    want(&r, 6, "job cancel of a finished job");
    run_cleanup(&r);

    cli(f, &r, ARGS("job", "show", "job_00000000"));
    want(&r, 3, "job show unknown");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "watch", "job_00000000"));
    want(&r, 3, "job watch unknown");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "submit", "exp_000000", f->agent_id));
    want(&r, 3, "job submit unknown experiment");
    run_cleanup(&r);

    if (!lacks(f, "GET", "/api/v1/jobs/job_00000000/logs", NULL)) {
        cli(f, &r, ARGS("job", "logs", job));
        want(&r, 0, "job logs");
        assert_non_null(strstr(r.out, "hello-cli"));
        run_cleanup(&r);
        cli(f, &r, ARGS("job", "logs", job, "-f", "--stream", "stderr"));
        want(&r, 0, "job logs -f --stream stderr");
        assert_non_null(strstr(r.out, "oops"));
        run_cleanup(&r);
    }
    if (!lacks(f, "GET", "/api/v1/jobs/job_00000000/artifacts", NULL)) {
        char zip[1200];
        snprintf(zip, sizeof zip, "%s/out.zip", f->dir);
        cli(f, &r, ARGS("job", "artifacts", job, "-o", zip));
        want(&r, 0, "job artifacts");
        run_cleanup(&r);
        size_t len = 0;
        char *z = rk_test_read_file(zip, &len);
        assert_non_null(z);
        assert_true(len > 4 && memcmp(z, "PK", 2) == 0);
        free(z);
    }
}

/* The text `seq from to` prints, appended to b. */
static void seq_text(rk_buf_t *b, int from, int to)
{
    for (int i = from; i <= to; i++)
        assert_int_equal(rk_buf_printf(b, "%d\n", i), 0);
}

/* Submits exp to the agent and waits until the job runs; its id into id. */
static void submit_running(fixture_t *f, const char *exp, char *id, size_t n)
{
    run_t r;
    cli(f, &r, ARGS("--json", "job", "submit", exp, f->agent_id));
    want(&r, 0, "job submit");
    snprintf(id, n, "%s", json_string_value(json_object_get(r.json, "job_id")));
    run_cleanup(&r);
    for (double end = rk_test_now_ms() + 10000; rk_test_now_ms() < end; rk_test_sleep_ms(20)) {
        cli(f, &r, ARGS("--json", "job", "show", id));
        const char *st =
            json_string_value(json_object_get(json_object_get(r.json, "status"), "status"));
        bool started = st && strcmp(st, "queued") != 0 && strcmp(st, "assigned") != 0;
        run_cleanup(&r);
        if (started)
            return;
    }
    fail_msg("job %s did not start", id);
}

static void want_text(const run_t *r, const rk_buf_t *b, const char *what)
{
    size_t n = strlen(r->out);
    if (n != b->len || memcmp(r->out, b->data, n) != 0)
        fail_msg("%s: %zu bytes printed, want %zu", what, n, b->len);
}

/* A log of 3.4 MB (the agent answers 1 MiB at a time) is printed whole:
 * followed (-f) while its job runs, through the server (which may not pass
 * the agent's X-Ruckus-* headers: the CLI then reads until an empty answer
 * and asks whether the job ended) and straight from the agent (headers:
 * the CLI follows the offsets and the finished flag). */
/* Logs of a job still queued: without -f "no output yet"; with -f the CLI
 * waits for it to start and prints its output to the end. */
static void test_logs_of_a_queued_job(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/jobs/job_00000000/logs", NULL);
    registered(f);
    char busy[64], later[64], j1[64], j2[64], j3[64];
    snprintf(busy, sizeof busy, "%s", create(f, "cli-exp-busy", "sleep 1.5"));
    snprintf(later, sizeof later, "%s", create(f, "cli-exp-later", "echo queued-output"));
    run_t r;
    const char *ids[3] = {busy, busy, later};
    char *out[3] = {j1, j2, j3};
    for (int i = 0; i < 3; i++) {
        cli(f, &r, ARGS("--json", "job", "submit", ids[i], f->agent_id));
        want(&r, 0, "job submit");
        snprintf(out[i], 64, "%s", json_string_value(json_object_get(r.json, "job_id")));
        run_cleanup(&r);
    }
    cli(f, &r, ARGS("job", "logs", j3));
    want(&r, 0, "job logs of a queued job");
    assert_non_null(strstr(r.err, "no output yet"));
    assert_string_equal(r.out, "");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "logs", j3, "-f"));
    want(&r, 0, "job logs -f of a queued job");
    assert_non_null(strstr(r.err, "waiting for it to start"));
    assert_string_equal(r.out, "queued-output\n");
    run_cleanup(&r);
}

static void test_big_log(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/jobs/job_00000000/logs", NULL);
    registered(f);
    char exp1[64], exp2[64], job1[64], job2[64];
    snprintf(exp1, sizeof exp1, "%s",
             create(f, "cli-exp-biglog1", "seq 1 400000; sleep 1; seq 400001 500000"));
    snprintf(exp2, sizeof exp2, "%s",
             create(f, "cli-exp-biglog2", "seq 1 400000; sleep 2.5; seq 400001 500000"));
    rk_buf_t want_buf;
    rk_buf_init(&want_buf, 16u << 20);
    seq_text(&want_buf, 1, 500000);
    submit_running(f, exp1, job1, sizeof job1);
    submit_running(f, exp2, job2, sizeof job2);
    run_t r;
    cli(f, &r, ARGS("job", "logs", job1, "-f"));
    want(&r, 0, "job logs -f through the server");
    want_text(&r, &want_buf, "job logs -f through the server");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "logs", job1));
    want(&r, 0, "job logs through the server");
    want_text(&r, &want_buf, "job logs through the server");
    run_cleanup(&r);
    /* The agent itself, without a token, as the CLI's --server. */
    fixture_t g = *f;
    snprintf(g.url, sizeof g.url, "%s", f->agent_url);
    cli_tok(&g, NULL, &r, ARGS("job", "logs", job2, "-f"));
    want(&r, 0, "job logs -f from the agent");
    want_text(&r, &want_buf, "job logs -f from the agent");
    run_cleanup(&r);
    cli_tok(&g, NULL, &r, ARGS("job", "logs", job2));
    want(&r, 0, "job logs from the agent");
    want_text(&r, &want_buf, "job logs from the agent");
    run_cleanup(&r);
    rk_buf_cleanup(&want_buf);
}

static void test_failed_job_and_cancel(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/jobs/job_00000000", NULL);
    registered(f);
    char fail[64], slow[64];
    snprintf(fail, sizeof fail, "%s", create(f, "cli-exp-fail", "exit 3"));
    snprintf(slow, sizeof slow, "%s", create(f, "cli-exp-slow", "sleep 30"));
    run_t r;
    cli(f, &r, ARGS("job", "submit", fail, f->agent_id, "--wait"));
    want(&r, 1, "job submit --wait of a failing job");
    assert_non_null(strstr(r.err, "ended failed"));
    run_cleanup(&r);

    cli(f, &r, ARGS("--json", "job", "submit", slow, f->agent_id));
    want(&r, 0, "job submit --json");
    char job[64];
    snprintf(job, sizeof job, "%s", json_string_value(json_object_get(r.json, "job_id")));
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "cancel", job));
    want(&r, 0, "job cancel");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "watch", job));
    want(&r, 1, "job watch of a cancelled job");
    assert_non_null(strstr(r.out, "cancelled"));
    run_cleanup(&r);

    /* Jobs refer to it: refused without --cascade, gone with it. */
    cli(f, &r, ARGS("experiment", "delete", slow));
    want(&r, 6, "experiment delete with jobs");
    /* Said in the CLI's words, not the API's. */
    assert_non_null(strstr(r.err, "--cascade"));
    assert_null(strstr(r.err, "?cascade=true"));
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "delete", slow, "--cascade"));
    want(&r, 0, "experiment delete --cascade");
    run_cleanup(&r);
}

/* Queue control through the CLI (cmd_queue.c) against the real server. */
static void test_queue_control(void **state)
{
    fixture_t *f = *state;
    NEED(f, "POST", "/api/v1/jobs/job_00000000/pause", NULL);
    registered(f);
    char slow[64];
    snprintf(slow, sizeof slow, "%s", create(f, "cli-exp-queued", "sleep 30"));
    run_t r;
    cli(f, &r, ARGS("agent", "pause", f->agent_id));
    want(&r, 0, "agent pause");
    assert_non_null(strstr(r.out, "scheduling paused"));
    run_cleanup(&r);
    cli(f, &r,
        ARGS("--json", "job", "submit", slow, f->agent_id, "--priority", "high", "--count", "3"));
    want(&r, 0, "job submit --count 3");
    json_t *jobs = json_object_get(r.json, "jobs");
    assert_int_equal(json_array_size(jobs), 3);
    char id[64];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_array_get(jobs, 0), "job_id")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(jobs, 2), "priority")),
                        "high");
    run_cleanup(&r);

    cli(f, &r, ARGS("job", "priority", id, "critical"));
    want(&r, 0, "job priority");
    run_cleanup(&r);
    cli(f, &r, ARGS("--json", "job", "show", id));
    want(&r, 0, "job show");
    assert_string_equal(json_string_value(json_object_get(r.json, "priority")), "critical");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "pause", id));
    want(&r, 0, "job pause");
    assert_non_null(strstr(r.out, "(paused)"));
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "resume", id));
    want(&r, 0, "job resume");
    assert_non_null(strstr(r.out, "(queued)"));
    run_cleanup(&r);

    /* All three, by filter, in one request; then one of them by id is
     * finished (exit 6). */
    cli(f, &r, ARGS("job", "cancel", "--status", "queued,paused", "--experiment", slow));
    want(&r, 0, "job cancel by filter");
    assert_non_null(strstr(r.out, "cancelled 3 jobs"));
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "cancel", id));
    want(&r, 6, "job cancel of a cancelled job");
    run_cleanup(&r);

    cli(f, &r, ARGS("agent", "drain", f->agent_id, "--deadline", "0"));
    want(&r, 0, "agent drain");
    assert_non_null(strstr(r.out, "scheduling draining"));
    run_cleanup(&r);
    cli(f, &r, ARGS("agent", "resume", f->agent_id));
    want(&r, 0, "agent resume");
    assert_non_null(strstr(r.out, "scheduling enabled"));
    run_cleanup(&r);
}

/* Dependencies through the CLI: --after, --after-any, and the waiting_for
 * job show prints. */
static void test_dependencies(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/jobs/job_00000000", NULL);
    registered(f);
    char slow[64], quick[64], a[64], b[64], c[64];
    snprintf(slow, sizeof slow, "%s", create(f, "cli-exp-dep-slow", "sleep 30"));
    snprintf(quick, sizeof quick, "%s", create(f, "cli-exp-dep-quick", "true"));
    run_t r;
    cli(f, &r, ARGS("--json", "job", "submit", slow, f->agent_id));
    want(&r, 0, "job submit");
    snprintf(a, sizeof a, "%s", json_string_value(json_object_get(r.json, "job_id")));
    run_cleanup(&r);
    cli(f, &r, ARGS("--json", "job", "submit", quick, f->agent_id, "--after", a));
    want(&r, 0, "job submit --after");
    snprintf(b, sizeof b, "%s", json_string_value(json_object_get(r.json, "job_id")));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r.json, "waiting_for"), 0)), a);
    assert_string_equal(json_string_value(json_object_get(r.json, "dependency")), "afterok");
    run_cleanup(&r);
    cli(f, &r, ARGS("--json", "job", "submit", quick, f->agent_id, "--after", a, "--after-any"));
    want(&r, 0, "job submit --after --after-any");
    snprintf(c, sizeof c, "%s", json_string_value(json_object_get(r.json, "job_id")));
    assert_string_equal(json_string_value(json_object_get(r.json, "dependency")), "afterany");
    run_cleanup(&r);
    /* experiment run --after: its job waits for a too. */
    char e[64];
    cli(f, &r, ARGS("--json", "experiment", "run", quick, "--agents", f->agent_id, "--after", a));
    want(&r, 0, "experiment run --after");
    json_t *ej = json_array_get(json_object_get(r.json, "jobs"), 0);
    snprintf(e, sizeof e, "%s", json_string_value(json_object_get(ej, "job_id")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(ej, "waiting_for"), 0)),
                        a);
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "run", quick, "--after-any"));
    want(&r, 2, "experiment run --after-any without --after");
    run_cleanup(&r);
    cli(f, &r, ARGS("experiment", "run", quick, "--after", "x/../y"));
    want(&r, 2, "experiment run --after with a bad id");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "show", b));
    want(&r, 0, "job show of a waiting job");
    assert_non_null(strstr(r.out, "waiting for:"));
    assert_non_null(strstr(r.out, a));
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "cancel", a, "--force"));
    want(&r, 0, "job cancel of the dependency");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "watch", b));
    want(&r, 1, "job watch of a job whose dependency was cancelled");
    assert_non_null(strstr(r.out, "cancelled"));
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "watch", c));
    want(&r, 0, "job watch of an afterany job");
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "watch", e));
    want(&r, 1, "job watch of an experiment run's job whose dependency was cancelled");
    run_cleanup(&r);
}

static void test_run_and_results(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/results", NULL);
    registered(f);
    char exp[64], job[64];
    snprintf(exp, sizeof exp, "%s", create(f, "cli-exp-run", "echo run"));
    run_t r;
    cli(f, &r, ARGS("--json", "experiment", "run", exp, "--agents", f->agent_id));
    want(&r, 0, "experiment run --json");
    json_t *jobs = json_object_get(r.json, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    snprintf(job, sizeof job, "%s",
             json_string_value(json_object_get(json_array_get(jobs, 0), "job_id")));
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "watch", job));
    want(&r, 0, "job watch");
    assert_non_null(strstr(r.out, "completed"));
    run_cleanup(&r);
    /* run --wait: follows the jobs to their end; --json gives their final
     * JobInfo. */
    char wexp[64];
    snprintf(wexp, sizeof wexp, "%s", create(f, "cli-exp-wait", "echo waited"));
    cli(f, &r, ARGS("--json", "experiment", "run", wexp, "--agents", f->agent_id, "--wait"));
    want(&r, 0, "experiment run --wait --json");
    json_t *waited = json_array_get(json_object_get(r.json, "jobs"), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(waited, "status"), "status")),
        "completed");
    run_cleanup(&r);

    cli(f, &r, ARGS("--json", "result", "show", job));
    want(&r, 0, "result show --json");
    json_t *res = json_object_get(r.json, "result");
    assert_string_equal(json_string_value(json_object_get(res, "agent_id")), f->agent_id);
    assert_true(json_is_object(json_object_get(res, "metrics")));
    run_cleanup(&r);
    cli(f, &r, ARGS("result", "show", job));
    want(&r, 0, "result show");
    assert_non_null(strstr(r.out, "METRIC"));
    run_cleanup(&r);

    cli(f, &r, ARGS("--json", "result", "list", "--experiment", exp));
    want(&r, 0, "result list --json");
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 1);
    run_cleanup(&r);
    cli(f, &r, ARGS("result", "list", "--agent", f->agent_id));
    want(&r, 0, "result list");
    assert_non_null(strstr(r.out, job));
    run_cleanup(&r);

    cli(f, &r, ARGS("result", "export", "--format", "csv", "--experiment", exp));
    want(&r, 0, "result export csv");
    assert_int_equal(strncmp(r.out, "job_id,experiment_id,agent_id,status,", 37), 0);
    assert_non_null(strstr(r.out, job));
    run_cleanup(&r);
    cli(f, &r, ARGS("result", "export", "--format", "json", "--experiment", exp));
    want(&r, 0, "result export json");
    assert_string_equal(json_string_value(json_object_get(json_array_get(r.json, 0), "job_id")),
                        job);
    run_cleanup(&r);

    cli(f, &r, ARGS("--json", "result", "compare", exp));
    want(&r, 0, "result compare --json");
    json_t *row = json_array_get(json_object_get(r.json, "agents"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "agent_id")), f->agent_id);
    assert_int_equal(json_integer_value(json_object_get(row, "jobs")), 1);
    run_cleanup(&r);
    cli(f, &r, ARGS("result", "compare", exp));
    want(&r, 0, "result compare");
    /* Metrics as rows with units, machines as columns by name; the
     * bookkeeping (exit_status) only with --all. */
    assert_non_null(strstr(r.out, "METRIC"));
    assert_non_null(strstr(r.out, "UNIT"));
    assert_non_null(strstr(r.out, "hardware"));
    assert_non_null(strstr(r.out, "wall_time_s"));
    assert_null(strstr(r.out, "exit_status"));
    json_t *ag = NULL;
    {
        run_t r2;
        cli(f, &r2, ARGS("--json", "agent", "show", f->agent_id));
        ag = json_incref(json_object_get(r2.json, "agent"));
        run_cleanup(&r2);
    }
    const char *name = json_string_value(json_object_get(ag, "agent_name"));
    assert_non_null(name);
    assert_non_null(strstr(r.out, name));
    json_decref(ag);
    run_cleanup(&r);
    cli(f, &r, ARGS("result", "compare", exp, "--all"));
    want(&r, 0, "result compare --all");
    assert_non_null(strstr(r.out, "exit_status"));
    run_cleanup(&r);

    cli(f, &r, ARGS("result", "show", "job_00000000"));
    want(&r, 3, "result show unknown");
    run_cleanup(&r);
}

static void test_wrong_token(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/agents", NULL);
    run_t r;
    cli_tok(f, "wrong", &r, ARGS("agent", "list"));
    want(&r, 5, "wrong token");
    assert_non_null(strstr(r.err, "--token"));
    run_cleanup(&r);
    cli_tok(f, NULL, &r, ARGS("job", "list"));
    want(&r, 5, "no token");
    run_cleanup(&r);
}

/* Agents by name, as every --help example writes them, and several
 * statuses at once, as the API takes them. */
static void test_agent_names_and_statuses(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/agents", NULL);
    registered(f);
    run_t r;
    cli(f, &r, ARGS("--json", "agent", "show", f->agent_id));
    want(&r, 0, "agent show by id");
    char name[256];
    snprintf(name, sizeof name, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "agent"), "agent_name")));
    run_cleanup(&r);
    cli(f, &r, ARGS("--json", "agent", "show", name));
    want(&r, 0, "agent show by name");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "agent"), "agent_id")),
        f->agent_id);
    run_cleanup(&r);
    cli(f, &r, ARGS("agent", "status", name));
    want(&r, 0, "agent status by name");
    run_cleanup(&r);
    const char *exp = create(f, "by-name", "true");
    cli(f, &r, ARGS("--json", "job", "submit", exp, name, "--wait"));
    want(&r, 0, "job submit to an agent by name");
    assert_string_equal(json_string_value(json_object_get(r.json, "agent_id")), f->agent_id);
    run_cleanup(&r);
    cli(f, &r, ARGS("--json", "job", "list", "--agent", name, "--status", "completed,failed"));
    want(&r, 0, "job list --agent NAME --status A,B");
    assert_true(json_array_size(json_object_get(json_object_get(r.json, "jobs"), f->agent_id)) >=
                1);
    run_cleanup(&r);
    cli(f, &r, ARGS("--json", "result", "list", "--agent", name));
    want(&r, 0, "result list --agent NAME");
    assert_true(json_array_size(json_object_get(r.json, "results")) >= 1);
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "list", "--agent", "no such agent"));
    want(&r, 3, "job list --agent unknown");
    assert_non_null(strstr(r.err, "no agent with id or name"));
    run_cleanup(&r);
    cli(f, &r, ARGS("job", "list", "--status", "completed,bogus"));
    want(&r, 2, "job list --status with a bad value");
    run_cleanup(&r);
}

/* An agent that refuses the token: exit 5 (authentication), the agent's
 * own status said once, and what to check. */
static void test_register_refused_token(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/agents", NULL);
    rk_test_agent_t ag;
    assert_int_equal(
        rk_test_agent_start(&ag, 1, (const char *const[]){"--token", "agtok", NULL}, NULL), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ag.p.port);
    run_t r;
    cli(f, &r, ARGS("agent", "register", url, "--agent-token", "wrong"));
    want(&r, 5, "agent register with a wrong agent token");
    assert_non_null(strstr(r.err, "refused the token (HTTP 401)"));
    assert_null(strstr(r.err, "(HTTP 502)"));
    assert_non_null(strstr(r.err, "check --agent-token"));
    run_cleanup(&r);
    cli(f, &r, ARGS("--json", "agent", "register", url, "--agent-token", "agtok"));
    want(&r, 0, "agent register with the agent's token");
    char id[128];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "agent_id")));
    run_cleanup(&r);
    cli(f, &r, ARGS("agent", "unregister", id));
    want(&r, 0, "agent unregister");
    run_cleanup(&r);
    rk_test_agent_cleanup(&ag);
}

/* A typo'd key is stored but said, by the server and so by the CLI. */
static void test_spec_warnings(void **state)
{
    fixture_t *f = *state;
    NEED(f, "GET", "/api/v1/experiments", NULL);
    char path[1200];
    snprintf(path, sizeof path, "%s/typo.json", f->dir);
    assert_int_equal(
        rk_test_write_file(path,
                           "{\"name\":\"typo\",\"model\":\"none\",\"task\":{\"name\":\"t\","
                           "\"type\":\"command\",\"params\":{\"argv\":[\"true\"]}},"
                           "\"framework\":{\"name\":\"sh\"},\"metrics\":{\"metrics\":{}},"
                           "\"capability_requirements\":{\"timeout_secs\":60}}",
                           0644),
        0);
    run_t r;
    cli(f, &r, ARGS("experiment", "create", path));
    want(&r, 0, "experiment create with a typo");
    assert_non_null(strstr(r.err, "warning: experiment_spec.capability_requirements.timeout_secs: "
                                  "unknown field, ignored; did you mean timeout_seconds?"));
    run_cleanup(&r);
}

static void test_unregister(void **state)
{
    fixture_t *f = *state;
    NEED(f, "POST", "/api/v1/agents/unregister", "{\"agent_id\":\"no-such-agent\"}");
    registered(f);
    run_t r;
    cli(f, &r, ARGS("--json", "agent", "unregister", f->agent_id));
    want(&r, 0, "agent unregister");
    assert_string_equal(json_string_value(json_object_get(r.json, "agent_id")), f->agent_id);
    run_cleanup(&r);
    cli(f, &r, ARGS("agent", "unregister", f->agent_id));
    want(&r, 3, "agent unregister twice");
    run_cleanup(&r);
    f->agent_id[0] = '\0';
}

int main(void)
{
    /* In this order: unregister last, the others share the agent. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agents),
        cmocka_unit_test(test_agent_status),
        cmocka_unit_test(test_experiments),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_job_lifecycle),
        cmocka_unit_test(test_big_log),
        cmocka_unit_test(test_logs_of_a_queued_job),
        cmocka_unit_test(test_failed_job_and_cancel),
        cmocka_unit_test(test_queue_control),
        cmocka_unit_test(test_dependencies),
        cmocka_unit_test(test_run_and_results),
        cmocka_unit_test(test_wrong_token),
        cmocka_unit_test(test_agent_names_and_statuses),
        cmocka_unit_test(test_register_refused_token),
        cmocka_unit_test(test_spec_warnings),
        cmocka_unit_test(test_unregister),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
