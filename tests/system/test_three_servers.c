/* Three ruckus-servers on one real PostgreSQL behind no load balancer but
 * the test's own round-robin (issue 17's "must hold"): 4 agents, 10,000
 * logged jobs (RK_THREE_JOBS to change it) submitted to the three servers
 * in turn, three clients at once. Each server listens on a port of its
 * own, fixed, so a client keeps its server across a takeover.
 *
 * Mid-run the dispatcher is killed -9: the two standbys answer 503 (never
 * a refused connection) until one of them takes over on its own port;
 * more jobs are submitted meanwhile (a 503 or a refused connection is
 * tried again: nothing was created); the killed server is restarted and
 * stands by. Every job completes, runs exactly once (the workload's
 * flock'ed log), and no agent ever runs more than its slots at once.
 * Skipped, saying why, where PostgreSQL cannot run.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "base/err.h"
#include "rk_test_pg.h"
#include "server_fixture.h"

enum { SERVERS = 3, AGENTS = 4, SLOTS = 8, LATE = 300 };

typedef struct {
    fx_t f;
    char url[256];
    rk_test_proc_t s[SERVERS];
    uint16_t port[SERVERS];
    char exp[32];
    int n; /* jobs in all */
    char (*ids)[32];
    int *agent_of;
} three_t;

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void start_server(three_t *t, int i, bool dispatcher)
{
    char port[16];
    snprintf(port, sizeof port, "%u", t->port[i]);
    const char *argv[] = {"--port",
                          port,
                          "--storage",
                          "postgresql",
                          "--postgres-url",
                          t->url,
                          "--db",
                          t->f.db,
                          "--poll-interval",
                          "0.2",
                          "--agent-timeout",
                          "2",
                          "--log-level",
                          "info",
                          NULL};
    rk_test_proc_opts_t o = {.cwd = t->f.dir, .no_listen_wait = !dispatcher};
    memset(&t->s[i], 0, sizeof t->s[i]);
    t->s[i].pid = -1;
    assert_int_equal(rk_test_proc_start(&t->s[i], "ruckus-server", argv, &o), 0);
    if (dispatcher)
        return;
    /* A standby: its front answers on the same port. */
    double end = rk_test_now_ms() + 10000;
    while (!rk_test_proc_log_has(&t->s[i], "listening server=standby") && rk_test_now_ms() < end)
        rk_test_sleep_ms(20);
    assert_true(rk_test_proc_log_has(&t->s[i], "listening server=standby"));
}

/* One POST /jobs of job i to server srv, tried again on a 503 or a refused
 * connection (neither created anything) for up to 60 s. */
static int submit_one(three_t *t, int i, int srv)
{
    char url[64], body[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/jobs", t->port[srv]);
    snprintf(body, sizeof body, "{\"experiment_id\":\"%s\",\"agent_id\":\"%s\"}", t->exp,
             t->f.agent_ids[i % AGENTS]);
    double end = rk_test_now_ms() + 60000;
    for (;;) {
        rk_test_resp_t r;
        int rc = rk_test_http("POST", url, body, strlen(body), NULL, &r);
        if (rc == 0 && r.status == 201) {
            snprintf(t->ids[i], sizeof t->ids[i], "%s",
                     json_string_value(json_object_get(r.json, "job_id")));
            t->agent_of[i] = i % AGENTS;
            rk_test_resp_cleanup(&r);
            return 0;
        }
        bool again = (rc == RK_ECONN || (rc == 0 && r.status == 503)) && rk_test_now_ms() < end;
        if (!again)
            fprintf(stderr, "job %d to server %d: rc %d status %ld %s\n", i, srv, rc, r.status,
                    r.body ? r.body : "");
        rk_test_resp_cleanup(&r);
        if (!again)
            return -1;
        rk_test_sleep_ms(100);
    }
}

typedef struct {
    three_t *t;
    int k, srv, from, to;
    int failed;
} client_t;

/* Client k submits the jobs i in [from, to) with i % SERVERS == k. */
static void *client_main(void *arg)
{
    client_t *c = arg;
    for (int i = c->from; i < c->to; i++)
        if (i % SERVERS == c->k && submit_one(c->t, i, c->srv) != 0)
            c->failed++;
    return NULL;
}

/* Three clients at once, client k sending to server to[k]. */
static void submit_range(three_t *t, int from, int to, const int *servers)
{
    client_t c[SERVERS];
    pthread_t th[SERVERS];
    for (int k = 0; k < SERVERS; k++) {
        c[k] = (client_t){.t = t, .k = k, .srv = servers[k], .from = from, .to = to};
        assert_int_equal(pthread_create(&th[k], NULL, client_main, &c[k]), 0);
    }
    for (int k = 0; k < SERVERS; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(c[k].failed, 0);
    }
}

static long count(three_t *t, int srv, const char *status)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/jobs?status=%s&limit=1", t->port[srv],
             status);
    rk_test_resp_t r;
    long n = -1;
    if (rk_test_http("GET", url, NULL, 0, NULL, &r) == 0 && r.status == 200)
        n = (long)json_integer_value(json_object_get(r.json, "total"));
    rk_test_resp_cleanup(&r);
    return n;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads the workload log: every job started exactly once, at most SLOTS
 * at once on each agent. */
static void check_log(three_t *t)
{
    const char **sorted = calloc((size_t)t->n, sizeof *sorted);
    int *starts = calloc((size_t)t->n, sizeof *starts);
    int open[AGENTS] = {0}, peak[AGENTS] = {0};
    for (int i = 0; i < t->n; i++)
        sorted[i] = t->ids[i];
    qsort(sorted, (size_t)t->n, sizeof *sorted, cmp_id);
    char *text = rk_test_read_file(t->f.log, NULL);
    assert_non_null(text);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        bool start = strncmp(line, "start ", 6) == 0;
        const char *id = start ? line + 6 : strncmp(line, "end ", 4) == 0 ? line + 4 : NULL;
        const char **hit = id ? bsearch(&id, sorted, (size_t)t->n, sizeof *sorted, cmp_id) : NULL;
        if (!hit) {
            fprintf(stderr, "workload log: a line of no job submitted: %s\n", line);
            fail();
        }
        int i = (int)((*hit - t->ids[0]) / (ptrdiff_t)sizeof t->ids[0]);
        int a = t->agent_of[i];
        if (start) {
            starts[i]++;
            if (++open[a] > peak[a])
                peak[a] = open[a];
        } else {
            open[a]--;
        }
    }
    free(text);
    int twice = 0, never = 0;
    for (int i = 0; i < t->n; i++) {
        twice += starts[i] > 1;
        never += starts[i] == 0;
    }
    fprintf(stderr, "%d jobs: %d started twice, %d never; peak per agent %d %d %d %d\n", t->n,
            twice, never, peak[0], peak[1], peak[2], peak[3]);
    assert_int_equal(twice, 0);
    assert_int_equal(never, 0);
    for (int a = 0; a < AGENTS; a++)
        assert_true(peak[a] <= SLOTS);
    free(sorted);
    free(starts);
}

static void test_three_servers_kill9_every_job_once(void **state)
{
    (void)state;
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        fprintf(stderr, "skipped: PostgreSQL cannot run here: %s\n", why);
        skip();
    }
    const char *env = getenv("RK_THREE_JOBS");
    three_t t = {0};
    int first = env && atoi(env) > 0 ? atoi(env) : (int)rk_test_scale(10000, 1000);
    t.n = first + LATE;
    t.ids = calloc((size_t)t.n, sizeof *t.ids);
    t.agent_of = calloc((size_t)t.n, sizeof *t.agent_of);
    fx_init(&t.f);
    assert_int_equal(rk_test_pg_create_db(t.url, sizeof t.url), 0);
    for (int i = 0; i < SERVERS; i++)
        t.port[i] = free_port();
    start_server(&t, 0, true);
    start_server(&t, 1, false);
    start_server(&t, 2, false);
    t.f.srv = t.s[0]; /* the agents register through the dispatcher */
    for (int i = 0; i < AGENTS; i++)
        fx_agent_start(&t.f, i, SLOTS, NULL);
    /* fx_logged_script's lines, for less: flock(1) on a descriptor, no
     * shell started per line (process starts are most of this run's CPU). */
    char script[4096];
    snprintf(script, sizeof script,
             "exec 9>>%s; flock 9; echo start $RUCKUS_JOB_ID >&9; flock -u 9; "
             "flock 9; echo end $RUCKUS_JOB_ID >&9",
             t.f.log);
    fx_experiment(&t.f, "logged", script, 0, t.exp);
    memset(&t.f.srv, 0, sizeof t.f.srv);
    t.f.srv.pid = -1;

    double t0 = rk_test_now_ms();
    static const int all[SERVERS] = {0, 1, 2}, alive[SERVERS] = {1, 1, 2};
    submit_range(&t, 0, first, all);
    fprintf(stderr, "%d jobs submitted round-robin to 3 servers in %.0f ms\n", first,
            rk_test_now_ms() - t0);

    /* Mid-run, the dispatcher is killed. */
    long done = count(&t, 1, "completed");
    fprintf(stderr, "%ld completed when server 0 (the dispatcher) is killed -9\n", done);
    assert_true(done < first);
    assert_int_equal(rk_test_proc_kill9(&t.s[0]), 0);
    /* The standbys answer 503 meanwhile, never a refused connection. */
    for (int k = 1; k < SERVERS; k++) {
        char url[96];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/jobs?limit=1", t.port[k]);
        rk_test_resp_t r;
        assert_int_equal(rk_test_http("GET", url, NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, 503);
        rk_test_resp_cleanup(&r);
    }
    /* More jobs meanwhile, server 0's share to server 1 (as a load
     * balancer would): 503s until one takes over, tried again. */
    submit_range(&t, first, t.n, alive);
    int took = rk_test_proc_log_has(&t.s[1], "dispatch lock taken") ? 1 : 2;
    assert_true(rk_test_proc_log_has(&t.s[took], "dispatch lock taken"));
    assert_false(rk_test_proc_log_has(&t.s[3 - took], "dispatch lock taken"));
    fprintf(stderr, "server %d took over; %d more jobs submitted %.0f ms after the kill\n", took,
            LATE, rk_test_now_ms() - t0);

    /* The killed one comes back and stands by. */
    rk_test_proc_cleanup(&t.s[0]);
    start_server(&t, 0, false);
    double end = rk_test_now_ms() + 300000;
    long total = 0;
    while ((total = count(&t, 0, "completed")) < t.n && rk_test_now_ms() < end)
        rk_test_sleep_ms(500);
    fprintf(stderr, "all %d completed %.0f ms after the start\n", t.n, rk_test_now_ms() - t0);
    assert_int_equal(total, t.n);
    for (int k = 0; k < SERVERS; k++) {
        char url[96];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/jobs?limit=1", t.port[k]);
        rk_test_resp_t r;
        assert_int_equal(rk_test_http("GET", url, NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "total")), t.n);
        rk_test_resp_cleanup(&r);
    }
    check_log(&t);

    /* Everything stops cleanly: the dispatcher through fx_cleanup. */
    for (int k = 0; k < SERVERS; k++) {
        if (k == took)
            continue;
        int status = -1;
        assert_int_equal(rk_test_proc_stop(&t.s[k], SIGTERM, 10000, &status), 0);
        assert_int_equal(status, 0);
        assert_false(rk_test_proc_log_has(&t.s[k], "Sanitizer"));
        assert_false(rk_test_proc_log_has(&t.s[k], "runtime error:"));
        rk_test_proc_cleanup(&t.s[k]);
    }
    t.f.srv = t.s[took];
    fx_cleanup(&t.f);
    free(t.ids);
    free(t.agent_of);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_servers_kill9_every_job_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
