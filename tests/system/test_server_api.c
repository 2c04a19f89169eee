/* The server's API edges, black-box: every 4xx of protocol.md (404 with
 * nothing stored, 422, 409, 400 bad JSON, 413, 401 with a token), agent
 * registration (502 unreachable, 409 same URL, moving to a new URL),
 * unregistering an agent with queued and running jobs, experiment delete
 * with and without cascade, and GET /events (resumable with
 * Last-Event-ID).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "server_fixture.h"

static long post_raw(fx_t *f, const char *path, const char *body)
{
    rk_test_resp_t r;
    rk_test_req(&f->srv, "POST", path, body, f->token, &r);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

static long total_jobs(fx_t *f)
{
    long st;
    json_t *v = fx_call(f, "GET", "/api/v1/jobs", NULL, &st);
    assert_int_equal(st, 200);
    long n = (long)json_integer_value(json_object_get(v, "total"));
    json_decref(v);
    return n;
}

/* One request and the answer it must get. Paths and bodies name values of
 * the running test as {exp}, {gpu_exp}, {agent}, {job}, {spec} and {big}. */
typedef struct row {
    const char *method, *path, *body;
    long want;
    const char *detail; /* a substring the answer's detail holds, or NULL */
} row_t;

typedef struct vars {
    const char *names[8], *values[8];
    size_t n;
} vars_t;

/* s with every {name} of v replaced (malloc'd). */
static char *expand(const char *s, const vars_t *v)
{
    rk_buf_t b;
    rk_buf_init(&b, 1 << 20);
    for (const char *p = s; *p;) {
        size_t i = 0;
        for (; i < v->n; i++) {
            size_t k = strlen(v->names[i]);
            if (*p == '{' && strncmp(p + 1, v->names[i], k) == 0 && p[k + 1] == '}') {
                assert_int_equal(rk_buf_add(&b, v->values[i], strlen(v->values[i])), 0);
                p += k + 2;
                break;
            }
        }
        if (i == v->n) {
            assert_int_equal(rk_buf_add(&b, p, 1), 0);
            p++;
        }
    }
    char *out = strndup(b.data ? b.data : "", b.len);
    rk_buf_cleanup(&b);
    assert_non_null(out);
    return out;
}

static void run_rows(fx_t *f, const row_t *rows, size_t n, const vars_t *v)
{
    for (size_t i = 0; i < n; i++) {
        char *path = expand(rows[i].path, v);
        char *body = rows[i].body ? expand(rows[i].body, v) : NULL;
        rk_test_resp_t r;
        rk_test_req(&f->srv, rows[i].method, path, body, f->token, &r);
        const char *detail = json_string_value(json_object_get(r.json, "detail"));
        bool ok = r.status == rows[i].want &&
                  (!rows[i].detail || (detail && strstr(detail, rows[i].detail)));
        if (!ok)
            fprintf(stderr, "row %zu: %s %s -> %ld (%s), want %ld%s%s\n", i, rows[i].method, path,
                    r.status, detail ? detail : "", rows[i].want, rows[i].detail ? " with " : "",
                    rows[i].detail ? rows[i].detail : "");
        rk_test_resp_cleanup(&r);
        free(path);
        free(body);
        assert_true(ok);
    }
}

#define BAD_ARGV_SPEC                                                                              \
    "{\"experiment_spec\":{\"name\":\"x\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":"      \
    "\"command\",\"params\":{\"argv\":5}},\"framework\":{\"name\":\"f\"},\"metrics\":"             \
    "{\"metrics\":{}}}}"

/* Before any job exists: nothing of these may be stored. */
static const row_t rows_4xx[] = {
    /* POST /jobs: 404 unknown experiment or agent */
    {"POST", "/api/v1/jobs", "{\"experiment_id\":\"exp_000000\",\"agent_id\":\"{agent}\"}", 404,
     "exp_000000"},
    {"POST", "/api/v1/jobs", "{\"experiment_id\":\"{exp}\",\"agent_id\":\"no-such-agent\"}", 404,
     "no-such-agent"},
    /* 422: missing field, not an object, an agent that cannot run it */
    {"POST", "/api/v1/jobs", "{\"experiment_id\":\"x\",\"agent_id\":7}", 422, "agent_id"},
    /* No agent_id: any agent, but one that could run it must exist. */
    {"POST", "/api/v1/jobs", "{\"experiment_id\":\"{gpu_exp}\"}", 422,
     "no registered agent can ever run"},
    {"POST", "/api/v1/jobs",
     "{\"experiment_id\":\"{exp}\",\"agent_selector\":{\"labels\":{\"rack\":\"nope\"}}}", 422,
     "lacks the selector's labels"},
    {"POST", "/api/v1/jobs", "[1]", 422, NULL},
    {"POST", "/api/v1/jobs", "{\"experiment_id\":\"{gpu_exp}\",\"agent_id\":\"{agent}\"}", 422,
     "GPU"},
    /* 400 bad JSON, 413 too large */
    {"POST", "/api/v1/jobs", "{\"experiment_id\":", 400, NULL},
    {"POST", "/api/v1/experiments", "{big}", 413, "2048"},
    /* experiments: 422 invalid, 409 duplicate, 404 unknown */
    {"POST", "/api/v1/experiments", BAD_ARGV_SPEC, 422, "argv"},
    {"POST", "/api/v1/experiments", "{\"experiment_spec\":{spec}}", 409, NULL},
    {"GET", "/api/v1/experiments/exp_ffffff", NULL, 404, "exp_ffffff"},
    {"GET", "/api/v1/experiments/", NULL, 200, NULL}, /* trailing slash */
    /* jobs and results: 404 unknown, 422 bad filters */
    {"GET", "/api/v1/jobs/job_00000000", NULL, 404, "job_00000000"},
    {"DELETE", "/api/v1/jobs/job_00000000", NULL, 404, "job_00000000"},
    {"GET", "/api/v1/results/job_00000000", NULL, 404, "job_00000000"},
    {"GET", "/api/v1/jobs?limit=0", NULL, 422, "limit"},
    {"GET", "/api/v1/jobs?limit=10001", NULL, 422, "limit"},
    {"GET", "/api/v1/jobs?status=bogus", NULL, 422, "status"},
};

/* After one job of {exp} completed: delete is 409 while it refers to the
 * experiment, cascade takes both, and then everything is 404. */
static const row_t rows_delete[] = {
    {"DELETE", "/api/v1/experiments/{exp}", NULL, 409, NULL},
    {"DELETE", "/api/v1/experiments/{exp}?cascade=true", NULL, 200, NULL},
    {"GET", "/api/v1/jobs/{job}", NULL, 404, NULL},
    {"DELETE", "/api/v1/experiments/{exp}", NULL, 404, NULL},
    {"POST", "/api/v1/experiments/{exp}/run", NULL, 404, NULL},
};

static void test_4xx(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", (const char *const[]){"--max-body", "2048", NULL});
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "edges", "true", 0, exp);
    long st;
    json_t *b =
        json_pack("{s:{s:s,s:s,s:{s:s,s:s,s:{s:[s]}},s:{s:s},s:{s:{}},s:{s:{s:i}}}}",
                  "experiment_spec", "name", "needs gpus", "model", "m", "task", "name", "t",
                  "type", "command", "params", "argv", "true", "framework", "name", "x", "metrics",
                  "metrics", "capability_requirements", "gpu_requirements", "min_gpu_count", 8);
    json_t *v = fx_call(&f, "POST", "/api/v1/experiments", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    char gpu_exp[32];
    snprintf(gpu_exp, sizeof gpu_exp, "%s", json_string_value(json_object_get(v, "experiment_id")));
    json_decref(v);
    v = fx_callf(&f, "GET", &st, NULL, "/api/v1/experiments/%s", exp);
    assert_int_equal(st, 200);
    char *spec = json_dumps(json_object_get(v, "experiment"), 0);
    json_decref(v);
    char big[4096];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    vars_t vars = {.names = {"exp", "gpu_exp", "agent", "spec", "big"},
                   .values = {exp, gpu_exp, f.agent_ids[0], spec, big},
                   .n = 5};
    run_rows(&f, rows_4xx, sizeof rows_4xx / sizeof *rows_4xx, &vars);
    assert_int_equal(total_jobs(&f), 0);

    json_t *j = fx_job(&f, exp, 0, 201);
    json_decref(fx_wait_job(&f, fx_id(j), "completed", 10000));
    vars.names[vars.n] = "job";
    vars.values[vars.n++] = fx_id(j);
    run_rows(&f, rows_delete, sizeof rows_delete / sizeof *rows_delete, &vars);
    assert_int_equal(total_jobs(&f), 0);
    json_decref(j);
    free(spec);
    fx_cleanup(&f);
}

/* The agent's log headers pass through the server: where to go on, the
 * log's size, whether the job finished. */
static void test_log_headers_pass_through(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "memory", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "logged", "echo one; echo two", 0, exp);
    json_t *j = fx_job(&f, exp, 0, 201);
    json_decref(fx_wait_job(&f, fx_id(j), "completed", 10000));
    char path[160], v[64];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/logs?offset=4", fx_id(j));
    rk_test_resp_t r;
    rk_test_req(&f.srv, "GET", path, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "two\n");
    assert_true(rk_test_resp_header(&r, "X-Ruckus-Next-Offset", v, sizeof v));
    assert_string_equal(v, "8");
    assert_true(rk_test_resp_header(&r, "X-Ruckus-Log-Size", v, sizeof v));
    assert_string_equal(v, "8");
    assert_true(rk_test_resp_header(&r, "X-Ruckus-Job-Finished", v, sizeof v));
    assert_string_equal(v, "true");
    rk_test_resp_cleanup(&r);
    json_decref(j);
    fx_cleanup(&f);
}

static void test_agents(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    long st;
    /* 422 bad URL, 502 nothing listening, 409 same URL again */
    assert_int_equal(post_raw(&f, "/api/v1/agents/register", "{\"agent_url\":\"ftp://x\"}"), 422);
    assert_int_equal(post_raw(&f, "/api/v1/agents/register", "{}"), 422);
    assert_int_equal(
        post_raw(&f, "/api/v1/agents/register", "{\"agent_url\":\"http://127.0.0.1:1\"}"), 502);
    char body[128];
    snprintf(body, sizeof body, "{\"agent_url\":\"http://127.0.0.1:%u/\"}", f.agents[0].p.port);
    assert_int_equal(post_raw(&f, "/api/v1/agents/register", body), 409);
    /* the same agent at a new URL moves */
    rk_test_proc_stop(&f.agents[0].p, SIGTERM, 10000, NULL);
    assert_int_equal(rk_test_agent_restart(&f.agents[0], 1, NULL, NULL), 0);
    snprintf(body, sizeof body, "{\"agent_url\":\"http://127.0.0.1:%u\"}", f.agents[0].p.port);
    assert_int_equal(post_raw(&f, "/api/v1/agents/register", body), 200);
    json_t *v = fx_callf(&f, "GET", &st, NULL, "/api/v1/agents/%s", f.agent_ids[0]);
    assert_int_equal(st, 200);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f.agents[0].p.port);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "agent"), "agent_url")), url);
    json_decref(v);
    v = fx_call(&f, "GET", "/api/v1/agents", NULL, &st);
    assert_int_equal(json_array_size(json_object_get(v, "agents")), 1);
    json_decref(v);
    json_decref(fx_call(&f, "GET", "/api/v1/agents/nobody", NULL, &st));
    assert_int_equal(st, 404);
    json_decref(fx_call(&f, "GET", "/api/v1/agents/nobody/status", NULL, &st));
    assert_int_equal(st, 404);
    /* unregister with a running and a queued job: both cancelled, saying why */
    char exp[32];
    fx_experiment(&f, "orphaned", "sleep 30", 0, exp);
    json_t *run = fx_job(&f, exp, 0, 201);
    json_t *q = fx_job(&f, exp, 0, 201);
    json_decref(fx_wait_job(&f, fx_id(run), "running", 10000));
    assert_int_equal(post_raw(&f, "/api/v1/agents/unregister", "{\"agent_id\":\"nobody\"}"), 404);
    /* A job for any agent is taken while one could run it (the answer is
     * kept until the agents change)... */
    char any_body[128];
    snprintf(any_body, sizeof any_body, "{\"experiment_id\":\"%s\",\"priority\":\"low\"}", exp);
    assert_int_equal(post_raw(&f, "/api/v1/jobs", any_body), 201);
    snprintf(body, sizeof body, "{\"agent_id\":\"%s\"}", f.agent_ids[0]);
    assert_int_equal(post_raw(&f, "/api/v1/agents/unregister", body), 200);
    /* ...and refused once none is registered. */
    assert_int_equal(post_raw(&f, "/api/v1/jobs", any_body), 422);
    json_t *a = fx_get_job(&f, fx_id(run)), *b = fx_get_job(&f, fx_id(q));
    assert_string_equal(fx_state(a), "cancelled");
    assert_string_equal(fx_state(b), "cancelled");
    const char *msg = json_string_value(json_object_get(json_object_get(b, "status"), "message"));
    assert_non_null(strstr(msg, "unregistered"));
    json_decref(a);
    json_decref(b);
    /* and the agent was told to stop the running one */
    char *st_name = NULL;
    for (int i = 0; i < 500; i++) {
        free(st_name);
        st_name = rk_test_agent_state(&f.agents[0], fx_id(run));
        if (st_name && fx_terminal(st_name))
            break;
        rk_test_sleep_ms(10);
    }
    assert_string_equal(st_name, "cancelled");
    free(st_name);
    json_decref(run);
    json_decref(q);
    json_decref(fx_call(&f, "GET", "/api/v1/agents/status", NULL, &st));
    assert_int_equal(st, 200);
    fx_cleanup(&f);
}

static void test_token(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "memory", (const char *const[]){"--token", "s3cret", NULL});
    long st;
    json_decref(fx_call(&f, "GET", "/api/v1/agents", NULL, &st));
    assert_int_equal(st, 401);
    f.token = "wrong";
    json_decref(fx_call(&f, "GET", "/api/v1/agents", NULL, &st));
    assert_int_equal(st, 401);
    f.token = "s3cret";
    json_decref(fx_call(&f, "GET", "/api/v1/agents", NULL, &st));
    assert_int_equal(st, 200);
    json_decref(fx_call(&f, "GET", "/health", NULL, &st));
    assert_int_equal(st, 200);
    assert_false(rk_test_proc_log_has(&f.srv, "s3cret"));
    fx_cleanup(&f);
}

/* Reads the event stream until needle shows up (or timeout_ms). */
static bool events_until(fx_t *f, const char *last_id, const char *needle, int timeout_ms,
                         char *got, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->srv.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int len =
        snprintf(req, sizeof req,
                 "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n",
                 last_id ? "Last-Event-ID: " : "", last_id ? last_id : "", last_id ? "\r\n" : "");
    assert_int_equal(write(fd, req, (size_t)len), len);
    size_t used = 0;
    got[0] = '\0';
    double end = rk_test_now_ms() + timeout_ms;
    bool found = false;
    while (!found && rk_test_now_ms() < end && used + 1 < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, got + used, n - used - 1);
        if (r <= 0)
            break;
        used += (size_t)r;
        got[used] = '\0';
        found = strstr(got, needle) != NULL;
    }
    close(fd);
    return found;
}

static void test_events(void **state)
{
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "memory", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "watched", "true", 0, exp);
    json_t *j = fx_job(&f, exp, 0, 201);
    json_decref(fx_wait_job(&f, fx_id(j), "completed", 10000));
    static char got[65536];
    /* from the start: the agent's registration and the job's whole life */
    assert_true(events_until(&f, "0", "\"completed\"", 3000, got, sizeof got));
    assert_non_null(strstr(got, "text/event-stream"));
    assert_non_null(strstr(got, "event: agent"));
    assert_non_null(strstr(got, "event: job"));
    assert_non_null(strstr(got, fx_id(j)));
    assert_non_null(strstr(got, "id: 1\n"));
    /* resumed after id 2: id 3 comes, 1 and 2 do not */
    assert_true(events_until(&f, "2", "id: 3\n", 3000, got, sizeof got));
    assert_null(strstr(got, "id: 1\n"));
    assert_null(strstr(got, "id: 2\n"));
    json_decref(j);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4xx),    cmocka_unit_test(test_log_headers_pass_through),
        cmocka_unit_test(test_agents), cmocka_unit_test(test_token),
        cmocka_unit_test(test_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
