/* Hostile request targets against every route of both daemons, sent raw on
 * a socket exactly as written (no client normalises them): an encoded NUL,
 * encoded dots and slashes, overlong UTF-8, 10,000-character segments,
 * empty segments, and a trailing %00 with each method. Each is answered
 * 400, 404 or 405 (422 for a NUL in a query value) and, checked afterwards,
 * nothing the server or the agent had stored changed.
 *
 * The route lists below are the ones protocol.md gives the two daemons; a
 * route added there belongs here too.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server_fixture.h"

typedef struct route {
    const char *method, *pattern;
} route_t;

static const route_t server_routes[] = {
    {"GET", "/health"},
    {"GET", "/api/v1/health"},
    {"GET", "/api/v1/events"},
    {"POST", "/api/v1/agents/compatibility/check"},
    {"GET", "/api/v1/agents/compatibility/matrix"},
    {"GET", "/api/v1/compare"},
    {"POST", "/api/v1/baselines"},
    {"GET", "/api/v1/baselines"},
    {"DELETE", "/api/v1/baselines/{baseline_id}"},
    {"GET", "/api/v1/results/history"},
    {"GET", "/metrics"},
    {"POST", "/api/v1/agents/register"},
    {"POST", "/api/v1/agents/unregister"},
    {"GET", "/api/v1/agents"},
    {"GET", "/api/v1/agents/status"},
    {"GET", "/api/v1/agents/{agent_id}"},
    {"GET", "/api/v1/agents/{agent_id}/info"},
    {"GET", "/api/v1/agents/{agent_id}/status"},
    {"POST", "/api/v1/agents/{agent_id}/pause"},
    {"POST", "/api/v1/agents/{agent_id}/resume"},
    {"POST", "/api/v1/agents/{agent_id}/drain"},
    {"POST", "/api/v1/experiments"},
    {"GET", "/api/v1/experiments"},
    {"GET", "/api/v1/experiments/{experiment_id}"},
    {"DELETE", "/api/v1/experiments/{experiment_id}"},
    {"POST", "/api/v1/experiments/{experiment_id}/run"},
    {"POST", "/api/v1/jobs"},
    {"GET", "/api/v1/jobs"},
    {"DELETE", "/api/v1/jobs"},
    {"POST", "/api/v1/jobs/batch"},
    {"GET", "/api/v1/jobs/{job_id}"},
    {"DELETE", "/api/v1/jobs/{job_id}"},
    {"PATCH", "/api/v1/jobs/{job_id}"},
    {"POST", "/api/v1/jobs/{job_id}/pause"},
    {"POST", "/api/v1/jobs/{job_id}/resume"},
    {"GET", "/api/v1/jobs/{job_id}/logs"},
    {"GET", "/api/v1/jobs/{job_id}/artifacts"},
    {"GET", "/api/v1/results"},
    {"GET", "/api/v1/results/{job_id}"},
};

static const route_t agent_routes[] = {
    {"GET", "/health"},
    {"GET", "/api/v1/health"},
    {"GET", "/api/v1/info"},
    {"GET", "/api/v1/status"},
    {"POST", "/api/v1/jobs"},
    {"GET", "/api/v1/status/{job_id}"},
    {"GET", "/api/v1/results/{job_id}"},
    {"DELETE", "/api/v1/jobs/{job_id}"},
    {"POST", "/api/v1/jobs/{job_id}/pause"},
    {"POST", "/api/v1/jobs/{job_id}/resume"},
    {"GET", "/api/v1/jobs/{job_id}/logs"},
    {"GET", "/api/v1/jobs/{job_id}/artifacts"},
    {"GET", "/api/v1/images"},
};

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};

/* What stands for an id; "" makes an empty segment ("//"). LONG is
 * replaced by 10,000 characters. */
static const char *const hostile_ids[] = {
    "%00",    "abc%00def",    "x%00",      "%2e%2e%2f", "%2e%2e", "%2e", "%2f", "a%2fb", "%2F",
    "%c0%af", "%c0%ae%c0%ae", "%e0%80%af", "%zz",       "a%",     "..",  "",    "a%20b", "LONG",
};

/* Sends "method target" raw; returns the status (0 when none came). */
static int raw_status(uint16_t port, const char *method, const char *target)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t cap = strlen(target) + 256;
    char *req = malloc(cap);
    assert_non_null(req);
    int len = snprintf(req, cap,
                       "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n",
                       method, target);
    assert_int_equal(write(fd, req, (size_t)len), len);
    free(req);
    char got[512];
    size_t used = 0;
    double end = rk_test_now_ms() + 5000;
    while (used + 1 < sizeof got && rk_test_now_ms() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, got + used, sizeof got - used - 1);
        if (r <= 0)
            break;
        used += (size_t)r;
        got[used] = '\0';
        if (strstr(got, "\r\n"))
            break;
    }
    close(fd);
    got[used] = '\0';
    int status = 0;
    if (sscanf(got, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

/* The pattern with every {param} replaced by id (LONG: 10,000 'a'). */
static char *fill(const char *pattern, const char *id)
{
    static char long_id[10001];
    if (strcmp(id, "LONG") == 0) {
        memset(long_id, 'a', sizeof long_id - 1);
        id = long_id;
    }
    size_t cap = strlen(pattern) + 4 * strlen(id) + 1;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t o = 0;
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            size_t n = strlen(id);
            memcpy(out + o, id, n);
            o += n;
            p = strchr(p, '}') + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

static bool has_param(const char *pattern)
{
    return strchr(pattern, '{') != NULL;
}

static int fails;

static void expect(uint16_t port, const char *method, const char *target, const int *allowed,
                   size_t n)
{
    int st = raw_status(port, method, target);
    for (size_t i = 0; i < n; i++)
        if (st == allowed[i])
            return;
    fprintf(stderr, "%s %.120s%s -> %d\n", method, target, strlen(target) > 120 ? "..." : "", st);
    fails++;
}

static const int path_codes[] = {400, 404, 405};
static const int nul_codes[] = {400};
static const int bad_codes[] = {400};

/* Every route of one daemon, with each hostile id in each parameter, a
 * hostile id appended as a segment, an empty segment, and a trailing %00
 * sent with each method. */
static void attack(uint16_t port, const route_t *routes, size_t nroutes)
{
    for (size_t r = 0; r < nroutes; r++) {
        const route_t *rt = &routes[r];
        for (size_t h = 0; h < sizeof hostile_ids / sizeof *hostile_ids; h++) {
            const char *id = hostile_ids[h];
            bool nul = strstr(id, "%00") != NULL;
            size_t plen = strlen(rt->pattern);
            bool last_is_param = rt->pattern[plen - 1] == '}';
            /* An empty last segment is a trailing slash: another route. */
            if (has_param(rt->pattern) && (*id || !last_is_param)) {
                /* None of them is an id: 400 by the id rule, never a
                 * handler's 404 (an empty interior segment matches no
                 * route: 404). */
                char *t = fill(rt->pattern, id);
                if (*id)
                    expect(port, rt->method, t, bad_codes, 1);
                else
                    expect(port, rt->method, t, path_codes, 3);
                free(t);
            }
            /* As an extra segment after the route's own path ("" there
             * would be a trailing slash, which is the same path). */
            if (!*id)
                continue;
            char *base = fill(rt->pattern, "job_x");
            char *t2 = malloc(strlen(base) + 10010);
            assert_non_null(t2);
            char *longer = fill("/{x}", id);
            sprintf(t2, "%s%s", base, longer);
            if (nul)
                expect(port, rt->method, t2, nul_codes, 1);
            else
                expect(port, rt->method, t2, path_codes, 3);
            free(longer);
            free(t2);
            free(base);
        }
        /* "//" inside, and a trailing %00 with each method. */
        char *base = fill(rt->pattern, "job_x");
        char *t = malloc(strlen(base) + 16);
        assert_non_null(t);
        const char *slash = strchr(base + 1, '/');
        if (slash) {
            size_t k = (size_t)(slash - base);
            memcpy(t, base, k);
            sprintf(t + k, "/%s", slash);
            expect(port, rt->method, t, path_codes, 3);
        }
        for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
            sprintf(t, "%s%%00", base);
            expect(port, methods[m], t, nul_codes, 1);
            sprintf(t, "%s/%%00", base);
            expect(port, methods[m], t, nul_codes, 1);
        }
        free(t);
        free(base);
    }
}

/* A snapshot of what the server holds, as the API lists it. */
static char *server_state(fx_t *f)
{
    const char *lists[] = {"/api/v1/jobs", "/api/v1/agents", "/api/v1/experiments",
                           "/api/v1/results"};
    json_t *all = json_object();
    for (size_t i = 0; i < 4; i++) {
        long st;
        json_t *v = fx_call(f, "GET", lists[i], NULL, &st);
        assert_int_equal(st, 200);
        /* Agents carry their last-seen time, which moves on its own. */
        if (i == 1) {
            size_t k;
            json_t *a;
            json_array_foreach(json_object_get(v, "agents"), k, a)
            {
                json_object_del(a, "last_updated");
                json_object_del(a, "last_seen");
            }
        }
        json_object_set_new(all, lists[i], v);
    }
    char *s = json_dumps(all, JSON_SORT_KEYS);
    json_decref(all);
    return s;
}

/* What the agent holds: its jobs and the finished job's stored result. */
static char *agent_state(rk_test_agent_t *a, const char *job_id)
{
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", "/api/v1/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *s = json_pack("{s:O,s:O,s:O}", "running", json_object_get(r.json, "running_jobs"),
                          "queued", json_object_get(r.json, "queued_jobs"), "available",
                          json_object_get(r.json, "available_results"));
    rk_test_resp_cleanup(&r);
    json_t *res = rk_test_agent_result(a, job_id);
    assert_non_null(res);
    json_object_set_new(s, "result", res);
    char *out = json_dumps(s, JSON_SORT_KEYS);
    json_decref(s);
    return out;
}

static void test_hostile_paths(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "kept", "echo kept", 0, exp);
    json_t *j = fx_job(&f, exp, 0, 201);
    char job_id[80];
    snprintf(job_id, sizeof job_id, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, job_id, "completed", 15000));

    char *srv_before = server_state(&f);
    char *agent_before = agent_state(&f.agents[0], job_id);

    fails = 0;
    attack(f.srv.port, server_routes, sizeof server_routes / sizeof *server_routes);
    attack(f.agents[0].p.port, agent_routes, sizeof agent_routes / sizeof *agent_routes);
    /* The request issue 18 was filed for, and query values. */
    expect(f.srv.port, "DELETE", "/api/v1/jobs/%00?all=true", nul_codes, 1);
    static const int q_codes[] = {422};
    expect(f.srv.port, "GET", "/api/v1/jobs?status=completed%00x", q_codes, 1);
    expect(f.srv.port, "GET", "/api/v1/results?agent_id=%00", q_codes, 1);
    expect(f.agents[0].p.port, "GET", "/api/v1/jobs/job_x/logs?stream=std%00out", q_codes, 1);
    /* A real id still works when it is percent-encoded. */
    char enc[128];
    snprintf(enc, sizeof enc, "/api/v1/jobs/%%%02x%s", job_id[0], job_id + 1);
    static const int ok_codes[] = {200};
    expect(f.srv.port, "GET", enc, ok_codes, 1);
    assert_int_equal(fails, 0);

    char *srv_after = server_state(&f);
    char *agent_after = agent_state(&f.agents[0], job_id);
    assert_string_equal(srv_before, srv_after);
    assert_string_equal(agent_before, agent_after);
    /* Both daemons are still well. */
    long st;
    json_decref(fx_call(&f, "GET", "/health", NULL, &st));
    assert_int_equal(st, 200);
    free(srv_before);
    free(srv_after);
    free(agent_before);
    free(agent_after);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
