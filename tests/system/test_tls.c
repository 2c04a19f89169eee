/* TLS on both daemons (issue 13, "a closed door"), against real processes
 * and a throwaway CA made here with the openssl CLI:
 * - ruckus-server and ruckus-agent serve https with --tls-cert/--tls-key;
 * - the server verifies an https agent: without --ca-file (the system
 *   store) it refuses the agent's certificate and says so; with it the
 *   agent registers and a job round trip completes over https;
 * - the CLI refuses the server's certificate without --ca-file (a clear
 *   error, non-zero exit) and works with it;
 * - a certificate without its key, a key that does not match, or a file
 *   that is not PEM: a clear start error;
 * - SIGHUP re-reads rotated certificate files on both daemons (new
 *   handshakes show the new certificate, a bad pair keeps the old one);
 * - an https agent registers itself with an https server
 *   (--register-with, verified with the agent's --ca-file). */
#include <sys/wait.h>

#include <curl/curl.h>

#include "rk_test_run.h"
#include "server_fixture.h"

static char dir[512], ca[600], cert[600], key[600], other_key[600], db[600];

static void sh(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, cmd);
}

/* A CA and a certificate it signed for 127.0.0.1 and localhost. */
static void make_pki(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj /CN=ruckus-test-ca 2>/dev/null && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out srv.pem -days 2 -extfile ext.cnf 2>/dev/null && "
             "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 "
             "-out other.key 2>/dev/null && "
             /* A second CA and its certificate: what a rotation puts in place. */
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca2.key -out ca2.pem -days 2 -subj /CN=ruckus-test-ca2 2>/dev/null && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout srv2.key -out srv2.csr -subj /CN=localhost 2>/dev/null && "
             "openssl x509 -req -in srv2.csr -CA ca2.pem -CAkey ca2.key -CAcreateserial "
             "-out srv2.pem -days 2 -extfile ext.cnf 2>/dev/null",
             dir);
    sh(cmd);
}

typedef struct body {
    char *data;
    size_t len;
} body_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    body_t *b = ud;
    char *d = realloc(b->data, b->len + sz * n + 1);
    assert_non_null(d);
    memcpy(d + b->len, p, sz * n);
    b->len += sz * n;
    d[b->len] = '\0';
    b->data = d;
    return sz * n;
}

/* method https://127.0.0.1:<port><path> with a JSON body (may be NULL),
 * verified with cafile (NULL: the system store). Returns the status (0:
 * no answer; *err then holds curl's message) and the body in *out. */
static long https(uint16_t port, const char *method, const char *path, const char *json,
                  const char *cafile, char **out, char *err)
{
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    body_t b = {0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (cafile)
        curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
    if (json)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    long st = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (out)
        *out = b.data ? b.data : strdup("");
    else
        free(b.data);
    return st;
}

static void start_server(rk_test_proc_t *p, const char *storage, bool with_ca)
{
    const char *args[] = {"--port",
                          "0",
                          "--storage",
                          storage,
                          "--db",
                          db,
                          "--tls-cert",
                          cert,
                          "--tls-key",
                          key,
                          "--poll-interval",
                          "0.2",
                          with_ca ? "--ca-file" : NULL,
                          ca,
                          NULL};
    p->pid = -1;
    assert_int_equal(rk_test_proc_start(p, "ruckus-server", args, NULL), 0);
    assert_true(rk_test_proc_log_has(p, "scheme=https"));
}

static void stop(rk_test_proc_t *p)
{
    int status = -1;
    assert_int_equal(rk_test_proc_stop(p, SIGTERM, 10000, &status), 0);
    rk_test_proc_cleanup(p);
    assert_int_equal(status, 0);
}

static void test_tls_round_trip(void **state)
{
    (void)state;
    char err[CURL_ERROR_SIZE], *out = NULL;
    rk_test_agent_t ag;
    memset(&ag, 0, sizeof ag);
    assert_int_equal(
        rk_test_agent_start(
            &ag, 1, (const char *const[]){"--tls-cert", cert, "--tls-key", key, NULL}, NULL),
        0);
    assert_true(rk_test_proc_log_has(&ag.p, "scheme=https"));
    /* The agent answers https only, verified with the CA. */
    assert_int_equal(https(ag.p.port, "GET", "/api/v1/info", NULL, ca, NULL, err), 200);
    assert_int_equal(https(ag.p.port, "GET", "/api/v1/info", NULL, NULL, NULL, err), 0);
    assert_non_null(strstr(err, "certificate"));
    char agent_url[96], reg[160];
    snprintf(agent_url, sizeof agent_url, "https://127.0.0.1:%u", ag.p.port);
    snprintf(reg, sizeof reg, "{\"agent_url\":\"%s\"}", agent_url);

    /* A server without --ca-file does not trust the agent. */
    rk_test_proc_t srv;
    start_server(&srv, "memory", false);
    long st = https(srv.port, "POST", "/api/v1/agents/register", reg, ca, &out, err);
    assert_int_equal(st, 502);
    if (!strstr(out, "certificate"))
        fail_msg("no word of the certificate in: %s", out);
    free(out);
    stop(&srv);

    /* With it: registered, and a job runs there and reports back. */
    start_server(&srv, "sqlite", true);
    st = https(srv.port, "POST", "/api/v1/agents/register", reg, ca, &out, err);
    assert_int_equal(st, 200);
    json_t *v = json_loads(out, 0, NULL);
    free(out);
    char agent_id[80];
    snprintf(agent_id, sizeof agent_id, "%s", json_string_value(json_object_get(v, "agent_id")));
    json_decref(v);
    const char *spec = "{\"experiment_spec\":{\"name\":\"tls\",\"model\":\"none\",\"task\":"
                       "{\"name\":\"sh\",\"type\":\"command\",\"params\":{\"argv\":[\"sh\",\"-c\","
                       "\"echo over-tls\"]}},\"framework\":{\"name\":\"sh\",\"params\":{}},"
                       "\"metrics\":{\"metrics\":{}}}}";
    assert_int_equal(https(srv.port, "POST", "/api/v1/experiments", spec, ca, &out, err), 201);
    v = json_loads(out, 0, NULL);
    free(out);
    char job[256];
    snprintf(job, sizeof job, "{\"experiment_id\":\"%s\",\"agent_id\":\"%s\"}",
             json_string_value(json_object_get(v, "experiment_id")), agent_id);
    json_decref(v);
    assert_int_equal(https(srv.port, "POST", "/api/v1/jobs", job, ca, &out, err), 201);
    v = json_loads(out, 0, NULL);
    free(out);
    char jpath[128];
    snprintf(jpath, sizeof jpath, "/api/v1/jobs/%s",
             json_string_value(json_object_get(v, "job_id")));
    json_decref(v);
    const char *jstate = "";
    char stbuf[32] = "";
    double t0 = rk_test_now_ms();
    while (rk_test_now_ms() - t0 < 20000) {
        assert_int_equal(https(srv.port, "GET", jpath, NULL, ca, &out, err), 200);
        v = json_loads(out, 0, NULL);
        free(out);
        jstate = json_string_value(json_object_get(json_object_get(v, "status"), "status"));
        snprintf(stbuf, sizeof stbuf, "%s", jstate ? jstate : "");
        json_decref(v);
        if (!strcmp(stbuf, "completed") || !strcmp(stbuf, "failed"))
            break;
        rk_test_sleep_ms(100);
    }
    assert_string_equal(stbuf, "completed");

    /* The CLI: refused without the CA (clear error), fine with it. */
    static rk_test_run_t r;
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", srv.port);
    assert_int_equal(
        rk_test_run(&r, "ruckus", (const char *const[]){"--server", url, "agent", "list", NULL}, 0),
        0);
    assert_int_not_equal(r.code, 0);
    if (!strstr(r.err, "certificate"))
        fail_msg("CLI stderr without a word of the certificate: %s", r.err);
    assert_int_equal(rk_test_run(&r, "ruckus",
                                 (const char *const[]){"--server", url, "--ca-file", ca, "--json",
                                                       "agent", "list", NULL},
                                 0),
                     0);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, agent_id));
    /* Plain http to an https port gets no API answer. */
    rk_test_resp_t pr;
    rk_test_req(&srv, "GET", "/api/v1/agents", NULL, NULL, &pr);
    assert_int_not_equal(pr.status, 200);
    rk_test_resp_cleanup(&pr);
    stop(&srv);
    rk_test_agent_cleanup(&ag);
}

/* Copies file from to file to (in dir). */
static void put(const char *from, const char *to)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && cp %s %s.tmp && mv %s.tmp %s", dir, from, to, to, to);
    sh(cmd);
}

/* Sends p SIGHUP and waits (10 s at most) for needle in its log after byte from. */
static void hup_and_wait(rk_test_proc_t *p, const char *needle)
{
    size_t from = rk_test_proc_log_size(p);
    assert_int_equal(kill(p->pid, SIGHUP), 0);
    double t0 = rk_test_now_ms();
    for (;;) {
        char *log = rk_test_proc_log(p);
        bool found = strlen(log) > from && strstr(log + from, needle);
        free(log);
        if (found)
            return;
        if (rk_test_now_ms() - t0 > 10000)
            fail_msg("no \"%s\" in the log 10 s after SIGHUP", needle);
        rk_test_sleep_ms(20);
    }
}

/* On port: trusted with ca_ok, refused with ca_no (a certificate error). */
static void served_by(uint16_t port, const char *ca_ok, const char *ca_no)
{
    char err[CURL_ERROR_SIZE];
    assert_int_equal(https(port, "GET", "/health", NULL, ca_ok, NULL, err), 200);
    assert_int_equal(https(port, "GET", "/health", NULL, ca_no, NULL, err), 0);
    if (!strstr(err, "certificate") && !strstr(err, "issuer"))
        fail_msg("refused, but not for the certificate: %s", err);
}

/* Rotated certificate files are read on SIGHUP, by both daemons; a pair
 * that does not belong together is refused and the old one kept. */
static void test_tls_reload(void **state)
{
    (void)state;
    char ca2[600], live_cert[600], live_key[600], db2[640];
    snprintf(ca2, sizeof ca2, "%s/ca2.pem", dir);
    snprintf(live_cert, sizeof live_cert, "%s/live.pem", dir);
    snprintf(live_key, sizeof live_key, "%s/live.key", dir);
    snprintf(db2, sizeof db2, "%s/reload.db", dir);
    put("srv.pem", "live.pem");
    put("srv.key", "live.key");
    rk_test_proc_t srv = {.pid = -1};
    assert_int_equal(
        rk_test_proc_start(&srv, "ruckus-server",
                           (const char *const[]){"--port", "0", "--storage", "memory", "--tls-cert",
                                                 live_cert, "--tls-key", live_key, NULL},
                           NULL),
        0);
    rk_test_agent_t ag;
    memset(&ag, 0, sizeof ag);
    assert_int_equal(rk_test_agent_start(&ag, 1,
                                         (const char *const[]){"--tls-cert", live_cert, "--tls-key",
                                                               live_key, NULL},
                                         NULL),
                     0);
    served_by(srv.port, ca, ca2);
    served_by(ag.p.port, ca, ca2);

    put("srv2.pem", "live.pem");
    put("srv2.key", "live.key");
    hup_and_wait(&srv, "TLS certificate re-read");
    hup_and_wait(&ag.p, "TLS certificate re-read");
    served_by(srv.port, ca2, ca);
    served_by(ag.p.port, ca2, ca);

    /* A half-done rotation (the old key with the new certificate... here
     * the new certificate with a stranger's key): refused, old pair kept. */
    put("other.key", "live.key");
    hup_and_wait(&srv, "keeping the old TLS certificate");
    hup_and_wait(&ag.p, "keeping the old TLS certificate");
    served_by(srv.port, ca2, ca);
    served_by(ag.p.port, ca2, ca);
    stop(&srv);
    rk_test_agent_cleanup(&ag);
}

/* An https agent registers itself with an https server, trusting it
 * through its own --ca-file; the server reaches it back over https. */
static void test_tls_register_with(void **state)
{
    (void)state;
    rk_test_proc_t srv;
    start_server(&srv, "memory", true);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", srv.port);
    rk_test_agent_t ag;
    memset(&ag, 0, sizeof ag);
    assert_int_equal(
        rk_test_agent_start(&ag, 1,
                            (const char *const[]){"--tls-cert", cert, "--tls-key", key,
                                                  "--register-with", url, "--ca-file", ca, NULL},
                            NULL),
        0);
    char err[CURL_ERROR_SIZE], *out = NULL;
    bool registered = false;
    double t0 = rk_test_now_ms();
    while (!registered && rk_test_now_ms() - t0 < 15000) {
        assert_int_equal(https(srv.port, "GET", "/api/v1/agents", NULL, ca, &out, err), 200);
        json_t *v = json_loads(out, 0, NULL);
        free(out);
        json_t *arr = json_is_array(v) ? v : json_object_get(v, "agents");
        json_t *a0 = json_array_get(arr, 0);
        const char *u = json_string_value(json_object_get(a0, "agent_url"));
        registered = u && strncmp(u, "https://", 8) == 0;
        json_decref(v);
        if (!registered)
            rk_test_sleep_ms(100);
    }
    if (!registered) {
        char *log = rk_test_proc_log(&ag.p);
        fail_msg("the agent did not register over https; its log:\n%s", log);
    }
    stop(&srv);
    rk_test_agent_cleanup(&ag);
}

/* prog exits non-zero at start, saying want. */
static void start_fails(const char *prog, const char *const *args, const char *want)
{
    static rk_test_run_t r;
    assert_int_equal(rk_test_run(&r, prog, args, 0), 0);
    assert_int_not_equal(r.code, 0);
    if (!strstr(r.err, want))
        fail_msg("%s: wanted \"%s\" in: %s", prog, want, r.err);
}

static void test_tls_bad_files(void **state)
{
    (void)state;
    char notpem[600], data[640];
    snprintf(notpem, sizeof notpem, "%s/notpem", dir);
    snprintf(data, sizeof data, "--data-dir=%s/agent-bad", dir);
    assert_int_equal(rk_test_write_file(notpem, "garbage\n", 0600), 0);
    start_fails(
        "ruckus-server",
        (const char *const[]){"--port", "0", "--storage", "memory", "--tls-cert", cert, NULL},
        "give both or neither");
    start_fails("ruckus-agent", (const char *const[]){"--port", "0", data, "--tls-key", key, NULL},
                "give both or neither");
    start_fails("ruckus-server",
                (const char *const[]){"--port", "0", "--storage", "memory", "--tls-cert", cert,
                                      "--tls-key", other_key, NULL},
                "belong together");
    start_fails("ruckus-agent",
                (const char *const[]){"--port", "0", data, "--tls-cert", cert, "--tls-key",
                                      other_key, NULL},
                "belong together");
    start_fails("ruckus-server",
                (const char *const[]){"--port", "0", "--storage", "memory", "--tls-cert", notpem,
                                      "--tls-key", key, NULL},
                "not a PEM file");
    char missing[640];
    snprintf(missing, sizeof missing, "%s/missing.pem", dir);
    start_fails("ruckus-server",
                (const char *const[]){"--port", "0", "--storage", "memory", "--tls-cert", missing,
                                      "--tls-key", key, NULL},
                "cannot read a TLS file");
}

static int setup(void **state)
{
    (void)state;
    char *d = rk_test_tmpdir();
    assert_non_null(d);
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/srv.pem", dir);
    snprintf(key, sizeof key, "%s/srv.key", dir);
    snprintf(other_key, sizeof other_key, "%s/other.key", dir);
    snprintf(db, sizeof db, "%s/ruckus.db", dir);
    make_pki();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rk_test_rmrf(dir);
    return 0;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_round_trip),
        cmocka_unit_test(test_tls_bad_files),
        cmocka_unit_test(test_tls_reload),
        cmocka_unit_test(test_tls_register_with),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
