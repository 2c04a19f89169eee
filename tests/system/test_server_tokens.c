/* Tokens from files (issue 13, "a closed door"), against real processes:
 * - ruckus-server --token-file / --read-token-file: SIGHUP rotates them
 *   (the old token 401, the new one 200); a bad file at SIGHUP keeps the
 *   old ones and says why in the log;
 * - the read-only token gets 403 on every write route of the OpenAPI
 *   document and 200 on GETs, while the full token still does everything;
 * - an agent's token (its --token-file) is in no answer of the server and
 *   not in the server's log; the agent rotates it on SIGHUP too;
 * - 1,000 requests while SIGHUPs swap the token: each 200 or 401;
 * - an empty, garbage or missing token file is a clear start error. */
#include <sys/types.h>
#include <unistd.h>

#include "server_fixture.h"

static void put_token(const char *path, const char *tok)
{
    assert_int_equal(rk_test_write_file(path, tok, 0600), 0);
}

static long get_status(fx_t *f, const char *path, const char *token)
{
    rk_test_resp_t r;
    rk_test_req(&f->srv, "GET", path, NULL, token, &r);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

typedef struct tok_wait {
    fx_t *f;
    const char *token;
    long want;
} tok_wait_t;

static bool tok_answers(void *ud)
{
    tok_wait_t *w = ud;
    return get_status(w->f, "/api/v1/agents", w->token) == w->want;
}

typedef struct log_wait {
    const rk_test_proc_t *p;
    const char *needle;
} log_wait_t;

static bool log_has(void *ud)
{
    log_wait_t *w = ud;
    return rk_test_proc_log_has(w->p, w->needle);
}

/* 0 once p's log holds needle, -1 after timeout_ms. */
static int wait_log(const rk_test_proc_t *p, const char *needle, int timeout_ms)
{
    log_wait_t w = {p, needle};
    return rk_test_wait_until(log_has, &w, timeout_ms) ? 0 : -1;
}

static void sighup(pid_t pid)
{
    assert_int_equal(kill(pid, SIGHUP), 0);
}

/* Every non-GET route of the served OpenAPI document, path parameters
 * filled in: the read-only token gets 403 on each; returns how many. */
static int writes_refused(fx_t *f, const char *ro)
{
    rk_test_resp_t r;
    rk_test_req(&f->srv, "GET", "/api/v1/openapi.json", NULL, ro, &r);
    assert_int_equal(r.status, 200);
    json_t *paths = json_object_get(r.json, "paths");
    assert_non_null(paths);
    int n = 0;
    const char *path;
    json_t *ops;
    json_object_foreach(paths, path, ops)
    {
        char real[512];
        size_t k = 0;
        for (const char *p = path; *p && k < sizeof real - 8; p++) {
            if (*p == '{') {
                const char *e = strchr(p, '}');
                assert_non_null(e);
                memcpy(real + k, "x1", 2);
                k += 2;
                p = e;
            } else {
                real[k++] = *p;
            }
        }
        real[k] = '\0';
        const char *method;
        json_t *op;
        json_object_foreach(ops, method, op)
        {
            char m[16];
            size_t i = 0;
            for (; method[i] && i < sizeof m - 1; i++)
                m[i] = (char)(method[i] >= 'a' && method[i] <= 'z' ? method[i] - 32 : method[i]);
            m[i] = '\0';
            if (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") ||
                !strcmp(m, "PARAMETERS") || strncmp(real, "/api/v1", 7) != 0)
                continue;
            rk_test_resp_t w;
            rk_test_req(&f->srv, m, real, "{}", ro, &w);
            if (w.status != 403)
                fprintf(stderr, "%s %s with the read-only token: %ld %s\n", m, real, w.status,
                        w.body);
            assert_int_equal(w.status, 403);
            assert_non_null(strstr(w.body, "read-only token"));
            rk_test_resp_cleanup(&w);
            n++;
        }
    }
    rk_test_resp_cleanup(&r);
    return n;
}

static void test_rotation_and_read_token(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    char tokf[600], rof[600], agf[600];
    snprintf(tokf, sizeof tokf, "%s/token", f.dir);
    snprintf(rof, sizeof rof, "%s/read-token", f.dir);
    snprintf(agf, sizeof agf, "%s/agent-token", f.dir);
    put_token(tokf, "tok-one-full\n");
    put_token(rof, "tok-one-read\n");
    put_token(agf, "agent-secret-1\n");
    fx_server_start(&f, "sqlite",
                    (const char *const[]){"--token-file", tokf, "--read-token-file", rof, NULL});
    f.token = "tok-one-full";
    assert_int_equal(get_status(&f, "/api/v1/agents", NULL), 401);
    assert_int_equal(get_status(&f, "/api/v1/agents", "tok-one-full"), 200);
    assert_int_equal(get_status(&f, "/api/v1/agents", "tok-one-read"), 200);

    /* An agent with its token from a file, registered with it. */
    rk_test_agent_t *ag = &f.agents[0];
    assert_int_equal(
        rk_test_agent_start(ag, 1, (const char *const[]){"--token-file", agf, NULL}, NULL), 0);
    f.n_agents = 1;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ag->p.port);
    json_t *b = json_pack("{s:s,s:s}", "agent_url", url, "agent_token", "agent-secret-1");
    long st;
    json_t *v = fx_call(&f, "POST", "/api/v1/agents/register", b, &st);
    assert_int_equal(st, 200);
    snprintf(f.agent_ids[0], sizeof f.agent_ids[0], "%s",
             json_string_value(json_object_get(v, "agent_id")));
    json_decref(v);
    /* The read-only token cannot register (or re-register) anything. */
    rk_test_resp_t r;
    rk_test_req_json(&f.srv, "POST", "/api/v1/agents/register", b, "tok-one-read", &r);
    assert_int_equal(r.status, 403);
    rk_test_resp_cleanup(&r);
    json_decref(b);

    char exp[32];
    fx_experiment(&f, "door", "echo hi", 0, exp);
    json_t *j = fx_job(&f, exp, 0, 201);
    json_decref(fx_wait_job(&f, fx_id(j), "completed", 20000));
    char jpath[128];
    snprintf(jpath, sizeof jpath, "/api/v1/jobs/%s", fx_id(j));

    /* Read-only: GETs answer, every write route is refused, nothing changes. */
    const char *reads[] = {"/api/v1/agents", "/api/v1/agents/status", "/api/v1/jobs",
                           "/api/v1/experiments", jpath};
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++)
        assert_int_equal(get_status(&f, reads[i], "tok-one-read"), 200);
    rk_test_req(&f.srv, "DELETE", jpath, NULL, "tok-one-read", &r);
    assert_int_equal(r.status, 403);
    rk_test_resp_cleanup(&r);
    json_t *eb = json_pack("{s:s,s:s}", "experiment_id", exp, "agent_id", f.agent_ids[0]);
    rk_test_req_json(&f.srv, "POST", "/api/v1/jobs", eb, "tok-one-read", &r);
    assert_int_equal(r.status, 403);
    rk_test_resp_cleanup(&r);
    json_decref(eb);
    int nw = writes_refused(&f, "tok-one-read");
    assert_true(nw >= 10);
    rk_test_req(&f.srv, "GET", "/api/v1/jobs", NULL, "tok-one-read", &r);
    /* No write went through: still the one job. */
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), 1);
    rk_test_resp_cleanup(&r);
    json_decref(j);

    /* The agent token is in no answer and not in the server's log. */
    const char *listings[] = {"/api/v1/agents", "/api/v1/agents/status", "/api/v1/jobs"};
    for (size_t i = 0; i < sizeof listings / sizeof *listings; i++) {
        rk_test_req(&f.srv, "GET", listings[i], NULL, "tok-one-full", &r);
        assert_int_equal(r.status, 200);
        assert_null(strstr(r.body, "agent-secret-1"));
        rk_test_resp_cleanup(&r);
    }
    char apath[160];
    snprintf(apath, sizeof apath, "/api/v1/agents/%s", f.agent_ids[0]);
    rk_test_req(&f.srv, "GET", apath, NULL, "tok-one-full", &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "agent-secret-1"));
    rk_test_resp_cleanup(&r);

    /* Rotation: new files, SIGHUP, the old tokens stop working. */
    put_token(tokf, "tok-two-full\n");
    put_token(rof, "tok-two-read");
    sighup(f.srv.pid);
    tok_wait_t w = {&f, "tok-two-full", 200};
    assert_true(rk_test_wait_until(tok_answers, &w, 5000));
    assert_int_equal(get_status(&f, "/api/v1/agents", "tok-one-full"), 401);
    assert_int_equal(get_status(&f, "/api/v1/agents", "tok-one-read"), 401);
    assert_int_equal(get_status(&f, "/api/v1/agents", "tok-two-read"), 200);
    f.token = "tok-two-full";
    assert_true(writes_refused(&f, "tok-two-read") == nw);

    /* A bad file at SIGHUP keeps the old tokens and says why. */
    put_token(tokf, "");
    sighup(f.srv.pid);
    assert_int_equal(wait_log(&f.srv, "keeping the old tokens", 5000), 0);
    assert_true(rk_test_proc_log_has(&f.srv, "empty"));
    assert_int_equal(get_status(&f, "/api/v1/agents", "tok-two-full"), 200);

    /* The agent rotates its own token on SIGHUP. */
    char aurl[96];
    snprintf(aurl, sizeof aurl, "http://127.0.0.1:%u/api/v1/info", ag->p.port);
    put_token(agf, "agent-secret-2\n");
    sighup(ag->p.pid);
    assert_int_equal(wait_log(&ag->p, "SIGHUP: token re-read", 5000), 0);
    rk_test_http("GET", aurl, NULL, 0, "agent-secret-1", &r);
    assert_int_equal(r.status, 401);
    rk_test_resp_cleanup(&r);
    rk_test_http("GET", aurl, NULL, 0, "agent-secret-2", &r);
    assert_int_equal(r.status, 200);
    rk_test_resp_cleanup(&r);
    assert_false(rk_test_proc_log_has(&f.srv, "agent-secret"));
    assert_false(rk_test_proc_log_has(&f.srv, "tok-one"));
    assert_false(rk_test_proc_log_has(&f.srv, "tok-two"));
    fx_cleanup(&f);
}

/* 1,000 requests while SIGHUPs swap the token back and forth: every one
 * answered 200 or 401, never 5xx or a lost connection; the server ends
 * cleanly (fx_cleanup). */
static void test_rotation_under_load(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    char tokf[600];
    snprintf(tokf, sizeof tokf, "%s/token", f.dir);
    put_token(tokf, "tok-A\n");
    fx_server_start(&f, "memory", (const char *const[]){"--token-file", tokf, NULL});
    int n200 = 0, n401 = 0;
    for (int i = 0; i < 1000; i++) {
        if (i % 50 == 25) {
            put_token(tokf, (i / 50) % 2 ? "tok-A\n" : "tok-B\n");
            sighup(f.srv.pid);
        }
        long st = get_status(&f, "/api/v1/jobs", i % 2 ? "tok-A" : "tok-B");
        if (st == 200)
            n200++;
        else if (st == 401)
            n401++;
        else
            fail_msg("request %d answered %ld", i, st);
    }
    assert_int_equal(n200 + n401, 1000);
    assert_true(n200 > 0 && n401 > 0);
    fx_cleanup(&f);
}

/* prog with args exits non-zero at start, its log saying want. */
static void start_fails(const char *prog, const char *const *args, const char *want)
{
    rk_test_proc_t p = {.pid = -1};
    rk_test_proc_opts_t o = {.no_listen_wait = true};
    assert_int_equal(rk_test_proc_start(&p, prog, args, &o), 0);
    int status = 0;
    assert_int_equal(rk_test_proc_wait_exit(&p, 10000, &status), 0);
    assert_int_not_equal(status, 0);
    if (!rk_test_proc_log_has(&p, want) || rk_test_proc_log_has(&p, "line one")) {
        char *log = rk_test_proc_log(&p);
        fprintf(stderr, "%s: wanted \"%s\" in:\n%s\n", prog, want, log ? log : "");
        free(log);
        fail();
    }
    rk_test_proc_cleanup(&p);
}

static void test_bad_token_files(void **state)
{
    (void)state;
    char *dir = rk_test_tmpdir();
    assert_non_null(dir);
    char empty[600], garbage[600], missing[600], db[600];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    snprintf(garbage, sizeof garbage, "%s/garbage", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    snprintf(db, sizeof db, "%s/x.db", dir);
    put_token(empty, "\n");
    put_token(garbage, "line one\nline two\n\x01\x02");
    const char *files[] = {empty, garbage, missing};
    const char *why[] = {"empty", "more than one line", "cannot open"};
    for (int i = 0; i < 3; i++) {
        start_fails("ruckus-server",
                    (const char *const[]){"--port", "0", "--storage", "memory", "--token-file",
                                          files[i], NULL},
                    why[i]);
        start_fails("ruckus-server",
                    (const char *const[]){"--port", "0", "--storage", "memory", "--token", "t",
                                          "--read-token-file", files[i], NULL},
                    why[i]);
        char data[640];
        snprintf(data, sizeof data, "--data-dir=%s/agent", dir);
        start_fails("ruckus-agent",
                    (const char *const[]){"--port", "0", data, "--token-file", files[i], NULL},
                    why[i]);
    }
    /* A read-only token alone is refused: it would guard nothing. */
    start_fails(
        "ruckus-server",
        (const char *const[]){"--port", "0", "--storage", "memory", "--read-token", "r", NULL},
        "needs a full one");
    rk_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_and_read_token),
        cmocka_unit_test(test_rotation_under_load),
        cmocka_unit_test(test_bad_token_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
