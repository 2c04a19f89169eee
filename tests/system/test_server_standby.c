/* Two ruckus-servers on one real PostgreSQL (issue 17): one dispatches,
 * the other stands by (lib/server/standby.c) and takes over.
 *
 * - kill -9 of the dispatching server mid-run: the standby takes over,
 *   recovers the running jobs from the agents, takes new jobs; every job
 *   runs exactly once and no agent runs more than its slots. A restarted
 *   server stands by (forwarding, not dispatching) and stops cleanly on SIGTERM; when the
 *   dispatcher stops, it takes over in turn.
 * - Dropped connections: every session of the database is cut mid-run.
 *   Whichever server gets the dispatch lock first dispatches: either the
 *   first takes it back, or the standby does and the first, fenced, exits
 *   3. Either way exactly one listens, and every job runs exactly once.
 *   The same with PostgreSQL itself away for 5 s. The fenced case for certain: the dispatcher
 * frozen (SIGSTOP) while its session is cut; thawed, it exits 3 and nothing of it lands.
 * - A standby answers by forwarding to the dispatcher: 1,000 jobs
 *   submitted alternately to both run once each; the dispatcher killed,
 *   the standby answers 503 until it takes over.
 * - SIGHUP on a standby re-reads its token file into its front; a
 *   takeover listens with the token file as it is then.
 * - Scale: a takeover with 5,000 queued jobs (and, when the test allows,
 *   more with RK_STANDBY_JOBS) has them all back in their queues.
 * Skipped, saying why, where PostgreSQL cannot run.
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rk_test_pg.h"
#include "server_fixture.h"

enum { SLOTS = 2, AGENTS = 2 };

typedef struct {
    fx_t f;
    char url[256];
} two_t;

static bool need_pg(void)
{
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        fprintf(stderr, "skipped: PostgreSQL cannot run here: %s\n", why);
        return false;
    }
    return true;
}

/* Starts a server on the test's database into p (with --token-file tokf
 * unless NULL); waits for it to listen when listen, else for its
 * "standing by" line. */
static void start_server_tok(two_t *t, rk_test_proc_t *p, bool listen, const char *tokf)
{
    const char *argv[] = {"--port",
                          "0",
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
                          "debug",
                          tokf ? "--token-file" : NULL,
                          tokf,
                          NULL};
    rk_test_proc_opts_t o = {.cwd = t->f.dir, .no_listen_wait = !listen};
    memset(p, 0, sizeof *p);
    p->pid = -1;
    assert_int_equal(rk_test_proc_start(p, "ruckus-server", argv, &o), 0);
    if (listen)
        return;
    double end = rk_test_now_ms() + 10000;
    while (!rk_test_proc_log_has(p, "standing by") && rk_test_now_ms() < end)
        rk_test_sleep_ms(20);
    if (!rk_test_proc_log_has(p, "standing by")) {
        char *log = rk_test_proc_log(p);
        fprintf(stderr, "not standing by; its log:\n%s\n", log ? log : "");
        free(log);
        fail();
    }
    assert_false(rk_test_proc_log_has(p, "listening server=server"));
}

static void start_server(two_t *t, rk_test_proc_t *p, bool listen)
{
    start_server_tok(t, p, listen, NULL);
}

static void setup_two(two_t *t)
{
    fx_init(&t->f);
    assert_int_equal(rk_test_pg_create_db(t->url, sizeof t->url), 0);
    start_server(t, &t->f.srv, true);
    for (int i = 0; i < AGENTS; i++)
        fx_agent_start(&t->f, i, SLOTS, NULL);
}

/* Submits n jobs round-robin to the agents through the server fx talks to. */
static void submit(two_t *t, const char *exp, int n, char (*ids)[32], const char **idp)
{
    for (int i = 0; i < n; i++) {
        json_t *j = fx_job(&t->f, exp, i % AGENTS, 201);
        snprintf(ids[i], sizeof ids[i], "%s", fx_id(j));
        idp[i] = ids[i];
        json_decref(j);
    }
}

static void all_once(two_t *t, char (*ids)[32], const char **idp, int n)
{
    for (int i = 0; i < n; i++)
        json_decref(fx_wait_job(&t->f, ids[i], "completed", 90000));
    int *starts = calloc((size_t)n, sizeof *starts);
    fx_log_check(&t->f, AGENTS * SLOTS, idp, (size_t)n, starts);
    for (int i = 0; i < n; i++) {
        if (starts[i] != 1)
            fprintf(stderr, "job %s started %d times\n", ids[i], starts[i]);
        assert_int_equal(starts[i], 1);
    }
    free(starts);
}

/* Makes p the server fx talks to (the old one is cleaned up). */
static void talk_to(two_t *t, rk_test_proc_t *p)
{
    rk_test_proc_cleanup(&t->f.srv);
    t->f.srv = *p;
    memset(p, 0, sizeof *p);
    p->pid = -1;
}

enum { N1 = 30, N2 = 10 };

/* A run: the dispatcher and a standby, N1 logged jobs of secs each
 * submitted, job `done` of them completed. */
typedef struct {
    two_t t;
    rk_test_proc_t b; /* the standby */
    char exp[32];
    char ids[N1 + N2][32];
    const char *idp[N1 + N2];
} run_t;

static void start_run(run_t *r, const char *secs, int done)
{
    setup_two(&r->t);
    start_server(&r->t, &r->b, false);
    char script[4096];
    fx_logged_script(&r->t.f, secs, "", script, sizeof script);
    fx_experiment(&r->t.f, "logged", script, 0, r->exp);
    submit(&r->t, r->exp, N1, r->ids, r->idp);
    json_decref(fx_wait_job(&r->t.f, r->ids[done], "completed", 60000));
}

static void test_standby_takes_over_after_kill9(void **state)
{
    (void)state;
    if (!need_pg())
        skip();
    run_t r;
    start_run(&r, "0.3", 5);

    /* The dispatcher dies; the standby takes over after its 5 s grace. */
    double t0 = rk_test_now_ms();
    assert_int_equal(rk_test_proc_kill9(&r.t.f.srv), 0);
    assert_int_equal(rk_test_proc_wait_listening(&r.b, 0, 60000), 0);
    fprintf(stderr, "standby listening %.0f ms after the kill -9\n", rk_test_now_ms() - t0);
    assert_true(rk_test_proc_log_has(&r.b, "dispatch lock taken"));
    talk_to(&r.t, &r.b);
    submit(&r.t, r.exp, N2, r.ids + N1, r.idp + N1);
    all_once(&r.t, r.ids, r.idp, N1 + N2);

    /* The killed one, restarted, stands by; SIGTERM stops it cleanly. */
    rk_test_proc_t c;
    start_server(&r.t, &c, false);
    rk_test_sleep_ms(1200); /* two polls: still not listening */
    assert_false(rk_test_proc_log_has(&c, "listening server=server"));
    int status = -1;
    assert_int_equal(rk_test_proc_stop(&c, SIGTERM, 5000, &status), 0);
    assert_int_equal(status, 0);
    assert_true(rk_test_proc_log_has(&c, "stopped while standing by"));
    rk_test_proc_cleanup(&c);

    /* A standby takes over from a dispatcher that stops cleanly too. */
    start_server(&r.t, &c, false);
    assert_int_equal(rk_test_proc_stop(&r.t.f.srv, SIGTERM, 10000, &status), 0);
    assert_int_equal(status, 0);
    assert_int_equal(rk_test_proc_wait_listening(&c, 0, 60000), 0);
    talk_to(&r.t, &c);
    json_t *j = fx_job(&r.t.f, r.exp, 1, 201);
    json_decref(fx_wait_job(&r.t.f, fx_id(j), "completed", 60000));
    json_decref(j);
    long st;
    json_t *v = fx_call(&r.t.f, "GET", "/api/v1/jobs?limit=1", NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), N1 + N2 + 1);
    json_decref(v);
    fx_cleanup(&r.t.f);
}

/* Cuts every session on the test's database but the caller's. */
static void cut_all(const char *url)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    fprintf(stderr, "cut %s sessions\n", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
}

static void cut_sessions(two_t *t)
{
    cut_all(t->url);
}

/* PostgreSQL itself goes away for 5 s (a crash, a restart). */
static void postgres_away(two_t *t)
{
    (void)t;
    assert_int_equal(rk_test_pg_kill(), 0);
    rk_test_sleep_ms(5000);
    assert_int_equal(rk_test_pg_start_again(), 0);
}

static void cut_and_go_on(void (*cut)(two_t *))
{
    if (!need_pg())
        skip();
    run_t r;
    start_run(&r, "0.2", 3);
    cut(&r.t);

    /* Within a few seconds one of them dispatches: the first, having taken
     * its lock back (it asks at its reconnect; the standby waits out its
     * 5 s grace first), or the standby, the first then fenced (exit 3). */
    double end = rk_test_now_ms() + 20000;
    bool first_fenced = false, second_took = false;
    while (rk_test_now_ms() < end) {
        first_fenced = rk_test_proc_log_has(&r.t.f.srv, "took dispatch over");
        second_took = rk_test_proc_log_has(&r.b, "dispatch lock taken");
        long st = 0;
        if (!first_fenced)
            json_decref(fx_call(&r.t.f, "GET", "/api/v1/jobs?limit=1", NULL, &st));
        if (second_took || (st == 200 && rk_test_now_ms() > end - 11000))
            break;
        rk_test_sleep_ms(100);
    }
    int status = -1;
    if (second_took) {
        fprintf(stderr, "the standby took over; the first was fenced\n");
        assert_int_equal(rk_test_proc_wait_exit(&r.t.f.srv, 30000, &status), 0);
        assert_int_equal(status, 3);
        assert_int_equal(rk_test_proc_wait_listening(&r.b, 0, 60000), 0);
        talk_to(&r.t, &r.b);
    } else {
        fprintf(stderr, "the first took its lock back; the standby still stands by\n");
        assert_false(first_fenced);
        assert_false(rk_test_proc_log_has(&r.b, "listening server=server"));
        assert_int_equal(rk_test_proc_stop(&r.b, SIGTERM, 5000, &status), 0);
        assert_int_equal(status, 0);
        rk_test_proc_cleanup(&r.b);
    }
    submit(&r.t, r.exp, N2, r.ids + N1, r.idp + N1);
    all_once(&r.t, r.ids, r.idp, N1 + N2);
    fx_cleanup(&r.t.f);
}

static void test_connections_cut_one_dispatcher_after(void **state)
{
    (void)state;
    cut_and_go_on(cut_sessions);
}

static void test_postgres_away_one_dispatcher_after(void **state)
{
    (void)state;
    cut_and_go_on(postgres_away);
}

/* A dispatcher frozen (SIGSTOP: a VM paused, a swap storm) while its
 * session is cut: the standby takes over; the old one, thawed, finds the
 * lock gone within its next write or second and exits 3 without writing. */
static void test_frozen_dispatcher_is_fenced(void **state)
{
    (void)state;
    if (!need_pg())
        skip();
    run_t r;
    start_run(&r, "0.3", 3);
    assert_int_equal(kill(r.t.f.srv.pid, SIGSTOP), 0);
    cut_all(r.t.url);
    assert_int_equal(rk_test_proc_wait_listening(&r.b, 0, 60000), 0);
    assert_int_equal(kill(r.t.f.srv.pid, SIGCONT), 0);
    int status = -1;
    double t0 = rk_test_now_ms();
    assert_int_equal(rk_test_proc_wait_exit(&r.t.f.srv, 30000, &status), 0);
    fprintf(stderr, "thawed, the old dispatcher exited %d after %.0f ms\n", status,
            rk_test_now_ms() - t0);
    assert_int_equal(status, 3);
    assert_true(rk_test_proc_log_has(&r.t.f.srv, "took dispatch over"));
    talk_to(&r.t, &r.b);
    submit(&r.t, r.exp, N2, r.ids + N1, r.idp + N1);
    all_once(&r.t, r.ids, r.idp, N1 + N2);
    fx_cleanup(&r.t.f);
}

/* Scale: a takeover rebuilds the queues of many jobs from the store. */
static void test_takeover_with_many_queued(void **state)
{
    (void)state;
    if (!need_pg())
        skip();
    const char *env = getenv("RK_STANDBY_JOBS");
    int n = env ? atoi(env) : (int)rk_test_scale(5000, 1000);
    two_t t;
    setup_two(&t);
    char exp[32];
    fx_experiment(&t.f, "quick", "true", 0, exp);
    /* The agents' queues hold them: agent 0 is paused (queue control). */
    long st;
    json_decref(fx_callf(&t.f, "POST", &st, NULL, "/api/v1/agents/%s/pause", t.f.agent_ids[0]));
    assert_int_equal(st, 200);
    for (int i = 0; i < n; i++)
        json_decref(fx_job(&t.f, exp, 0, 201));
    rk_test_proc_t b;
    start_server(&t, &b, false);
    double t0 = rk_test_now_ms();
    assert_int_equal(rk_test_proc_kill9(&t.f.srv), 0);
    assert_int_equal(rk_test_proc_wait_listening(&b, 0, 60000), 0);
    fprintf(stderr, "%d queued: the standby listened %.0f ms after the kill -9\n", n,
            rk_test_now_ms() - t0);
    talk_to(&t, &b);
    json_t *v = fx_callf(&t.f, "GET", &st, NULL, "/api/v1/jobs?status=queued&limit=1");
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), n);
    json_decref(v);
    /* Resumed, the new dispatcher runs them. */
    json_decref(fx_callf(&t.f, "POST", &st, NULL, "/api/v1/agents/%s/resume", t.f.agent_ids[0]));
    assert_int_equal(st, 200);
    double end = rk_test_now_ms() + 300000;
    long left = n;
    while (left > 0 && rk_test_now_ms() < end) {
        rk_test_sleep_ms(500);
        v = fx_callf(&t.f, "GET", &st, NULL, "/api/v1/jobs?status=completed&limit=1");
        left = n - (long)json_integer_value(json_object_get(v, "total"));
        json_decref(v);
    }
    assert_int_equal(left, 0);
    fx_cleanup(&t.f);
}

/* An event stream read by a thread of its own into a growing buffer. */
typedef struct {
    int fd;
    pthread_t th;
    pthread_mutex_t lock;
    char *buf;
    size_t len;
    atomic_bool stop;
} sse_t;

static void *sse_main(void *arg)
{
    sse_t *e = arg;
    char chunk[65536];
    while (!atomic_load(&e->stop)) {
        struct pollfd p = {.fd = e->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(e->fd, chunk, sizeof chunk);
        if (r <= 0)
            break;
        pthread_mutex_lock(&e->lock);
        char *nb = realloc(e->buf, e->len + (size_t)r + 1);
        if (nb) {
            memcpy(nb + e->len, chunk, (size_t)r);
            e->len += (size_t)r;
            nb[e->len] = '\0';
            e->buf = nb;
        }
        pthread_mutex_unlock(&e->lock);
    }
    return NULL;
}

static void sse_open(sse_t *e, uint16_t port)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->lock, NULL);
    e->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(e->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(e->fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    assert_int_equal(pthread_create(&e->th, NULL, sse_main, e), 0);
}

/* How many times needle is in what e read so far. */
static int sse_count(sse_t *e, const char *needle)
{
    pthread_mutex_lock(&e->lock);
    int n = 0;
    for (const char *p = e->buf; p && (p = strstr(p, needle)) != NULL; p++)
        n++;
    pthread_mutex_unlock(&e->lock);
    return n;
}

/* Waits up to timeout_ms for needle in e's stream. */
static bool sse_wait(sse_t *e, const char *needle, int timeout_ms)
{
    double end = rk_test_now_ms() + timeout_ms;
    while (sse_count(e, needle) == 0 && rk_test_now_ms() < end)
        rk_test_sleep_ms(20);
    return sse_count(e, needle) > 0;
}

static void sse_close(sse_t *e)
{
    atomic_store(&e->stop, true);
    pthread_join(e->th, NULL);
    close(e->fd);
    free(e->buf);
    pthread_mutex_destroy(&e->lock);
}

/* Cuts the sessions that LISTEN (the standbys' event relays). */
static void cut_listeners(const char *url)
{
    PGconn *c = PQconnectdb(url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND query LIKE 'LISTEN%'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    PQfinish(c);
}

/* The port of p's standby front (its "listening server=standby" line),
 * waited for up to 10 s; 0 when none. */
static uint16_t front_port(rk_test_proc_t *p)
{
    double end = rk_test_now_ms() + 10000;
    do {
        char *log = rk_test_proc_log(p);
        const char *hit = log ? strstr(log, "listening server=standby") : NULL;
        const char *port = hit ? strstr(hit, " port=") : NULL;
        long v = port ? strtol(port + 6, NULL, 10) : 0;
        free(log);
        if (v > 0 && v < 65536)
            return (uint16_t)v;
        rk_test_sleep_ms(20);
    } while (rk_test_now_ms() < end);
    return 0;
}

/* Completed jobs as the server fx talks to counts them. */
static long completed(two_t *t)
{
    long st;
    json_t *v = fx_callf(&t->f, "GET", &st, NULL, "/api/v1/jobs?status=completed&limit=1");
    long n = st == 200 ? (long)json_integer_value(json_object_get(v, "total")) : -1;
    json_decref(v);
    return n;
}

/* A standby answers what it is asked by forwarding it to the dispatcher:
 * jobs submitted to either server, alternately, run once each; answers
 * come back as the dispatcher gave them (errors included); what it cannot
 * forward (the dispatcher killed) is a 503 until it takes over itself. */
static void test_standby_forwards_to_dispatcher(void **state)
{
    (void)state;
    const int fwd_jobs = (int)rk_test_scale(1000, 300);
    if (!need_pg())
        skip();
    two_t t;
    setup_two(&t);
    rk_test_proc_t b;
    start_server(&t, &b, false);
    uint16_t fport = front_port(&b), dport = t.f.srv.port;
    assert_true(fport > 0);
    assert_int_not_equal(fport, dport);

    /* Its health says what it is and where it forwards. */
    t.f.srv.port = fport;
    long st;
    json_t *h = fx_call(&t.f, "GET", "/health", NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(h, "role")), "standby");
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%u", dport);
    assert_string_equal(json_string_value(json_object_get(h, "dispatcher")), want);
    json_decref(h);
    t.f.srv.port = dport;
    h = fx_call(&t.f, "GET", "/health", NULL, &st);
    assert_string_equal(json_string_value(json_object_get(h, "role")), "dispatcher");
    json_decref(h);

    /* Both stream the dispatcher's events: the standby's relayed through
     * LISTEN/NOTIFY. */
    char exp[32];
    fx_experiment(&t.f, "quick", "true", 0, exp);
    sse_t ed, es;
    sse_open(&ed, dport);
    sse_open(&es, fport);
    assert_true(sse_wait(&es, ": ruckus events", 5000));
    t.f.srv.port = dport;
    json_t *first = fx_job(&t.f, exp, 0, 201);
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\"", fx_id(first));
    json_decref(first);
    if (!sse_wait(&es, needle, 30000)) {
        fprintf(stderr, "dispatcher's stream:\n%s\nstandby's:\n%s\n", ed.buf, es.buf);
        char *log = rk_test_proc_log(&b);
        fprintf(stderr, "standby log:\n%s\n", log);
        free(log);
        log = rk_test_proc_log(&t.f.srv);
        fprintf(stderr, "dispatcher log:\n%s\n", log);
        free(log);
        fail();
    }
    /* Its relay's session cut: a gap event, then events again. */
    cut_listeners(t.url);
    assert_true(sse_wait(&es, "event: gap", 30000));
    rk_test_sleep_ms(300);
    first = fx_job(&t.f, exp, 1, 201);
    snprintf(needle, sizeof needle, "\"%s\"", fx_id(first));
    json_decref(first);
    assert_true(sse_wait(&es, needle, 30000));

    /* Jobs submitted alternately to the dispatcher and the standby. */
    char(*ids)[32] = calloc(fwd_jobs, sizeof *ids);
    double t0 = rk_test_now_ms();
    for (int i = 0; i < fwd_jobs; i++) {
        t.f.srv.port = i % 2 ? fport : dport;
        json_t *j = fx_job(&t.f, exp, i % AGENTS, 201);
        snprintf(ids[i], sizeof ids[i], "%s", fx_id(j));
        json_decref(j);
    }
    fprintf(stderr, "%d jobs submitted to both in %.0f ms\n", fwd_jobs, rk_test_now_ms() - t0);
    /* Answers come back as given: a job, a 404, a 422, a query. */
    t.f.srv.port = fport;
    json_t *j = fx_get_job(&t.f, ids[0]);
    assert_string_equal(fx_id(j), ids[0]);
    json_decref(j);
    json_t *v = fx_call(&t.f, "GET", "/api/v1/jobs/job_nowhere", NULL, &st);
    assert_int_equal(st, 404);
    assert_non_null(json_object_get(v, "detail"));
    json_decref(v);
    json_t *bad = json_pack("{s:i}", "experiment_id", 5);
    json_decref(fx_call(&t.f, "POST", "/api/v1/jobs", bad, &st));
    assert_int_equal(st, 422);
    json_decref(bad);
    double end = rk_test_now_ms() + 300000;
    while (completed(&t) < fwd_jobs + 2 && rk_test_now_ms() < end)
        rk_test_sleep_ms(200);
    assert_int_equal(completed(&t), fwd_jobs + 2); /* asked through the standby */
    v = fx_call(&t.f, "GET", "/api/v1/jobs?limit=1", NULL, &st);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), fwd_jobs + 2);
    json_decref(v);
    /* Headers come back too (the agent's log offsets, through both
     * servers), with the standby's Via. */
    char url[160], hv[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/jobs/%s/logs?stream=stdout",
             (unsigned)fport, ids[0]);
    rk_test_resp_t lr;
    assert_int_equal(rk_test_http("GET", url, NULL, 0, NULL, &lr), 0);
    assert_int_equal(lr.status, 200);
    assert_true(rk_test_resp_header(&lr, "X-Ruckus-Log-Size", hv, sizeof hv));
    assert_true(rk_test_resp_header(&lr, "Via", hv, sizeof hv));
    assert_string_equal(hv, "1.1 ruckus-standby");
    rk_test_resp_cleanup(&lr);
    /* The standby streamed every job event the dispatcher did since the
     * cut: the last job's completion, then equal counts of job frames. */
    snprintf(needle, sizeof needle, "\"%s\"", ids[fwd_jobs - 1]);
    assert_true(sse_wait(&es, needle, 30000));
    /* Until both streams are still for a second with the standby's caught
     * up (a loaded machine may hold the relay back a while). */
    double quiet = rk_test_now_ms() + 60000;
    int nd = 0, ns = 0, still = 0;
    while (rk_test_now_ms() < quiet) {
        rk_test_sleep_ms(250);
        int d = sse_count(&ed, "event: job"), e2 = sse_count(&es, "event: job");
        still = d == nd && e2 == ns && d > 0 ? still + 1 : 0;
        if (still >= 4 && e2 >= d - 20)
            break;
        nd = d;
        ns = e2;
    }
    /* The standby missed the events of its cut (between the first two
     * jobs) at most: none after. */
    fprintf(stderr, "job events: %d on the dispatcher's stream, %d on the standby's\n", nd, ns);
    assert_true(nd > 2 * fwd_jobs);
    assert_true(ns <= nd && ns >= nd - 20);
    assert_int_equal(sse_count(&ed, "event: gap"), 0);
    assert_int_equal(sse_count(&es, "event: gap"), 1);
    sse_close(&ed);
    sse_close(&es);

    /* The dispatcher killed: the standby answers 503 (not a refused
     * connection) until it dispatches and listens itself. */
    t.f.srv.port = dport;
    assert_int_equal(rk_test_proc_kill9(&t.f.srv), 0);
    t.f.srv.port = fport;
    v = fx_call(&t.f, "GET", "/api/v1/jobs?limit=1", NULL, &st);
    assert_int_equal(st, 503);
    json_decref(v);
    assert_int_equal(rk_test_proc_wait_listening(&b, 0, 60000), 0);
    talk_to(&t, &b);
    json_t *last = fx_job(&t.f, exp, 0, 201);
    json_decref(fx_wait_job(&t.f, fx_id(last), "completed", 60000));
    json_decref(last);
    assert_int_equal(completed(&t), fwd_jobs + 3);
    free(ids);
    fx_cleanup(&t.f);
}

/* GET /api/v1/jobs?limit=1 on 127.0.0.1:port with token: the status. */
static long get_status(uint16_t port, const char *token)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/jobs?limit=1", (unsigned)port);
    rk_test_resp_t r;
    long st = rk_test_http("GET", url, NULL, 0, token, &r) == 0 ? r.status : -1;
    rk_test_resp_cleanup(&r);
    return st;
}

/* Waits up to 10 s for the n-th "SIGHUP: tokens re-read" in p's log. */
static bool reread(rk_test_proc_t *p, int n)
{
    for (double end = rk_test_now_ms() + 10000; rk_test_now_ms() < end; rk_test_sleep_ms(20)) {
        char *log = rk_test_proc_log(p);
        int k = 0;
        for (const char *h = log; h && (h = strstr(h, "SIGHUP: tokens re-read")); h++)
            k++;
        free(log);
        if (k >= n)
            return true;
    }
    return false;
}

/* A standby's SIGHUP re-reads its token file into its front (which checks
 * a token itself before it forwards), and the server it becomes at a
 * takeover listens with the file as it is then, not as it was at start. */
static void test_standby_sighup_rereads_tokens(void **state)
{
    (void)state;
    if (!need_pg())
        skip();
    two_t t;
    fx_init(&t.f);
    assert_int_equal(rk_test_pg_create_db(t.url, sizeof t.url), 0);
    char tokf[4200];
    snprintf(tokf, sizeof tokf, "%s/token", t.f.dir);
    assert_int_equal(rk_test_write_file(tokf, "old-token-1\n", 0600), 0);
    start_server_tok(&t, &t.f.srv, true, tokf);
    rk_test_proc_t b;
    start_server_tok(&t, &b, false, tokf);
    uint16_t fport = front_port(&b), dport = t.f.srv.port;
    assert_true(fport > 0);
    assert_int_equal(get_status(fport, "old-token-1"), 200);
    assert_int_equal(get_status(fport, "new-token-2"), 401);
    assert_int_equal(get_status(fport, NULL), 401);

    /* Rotated on the dispatcher only: the front still holds the old one
     * and refuses the new one itself. */
    assert_int_equal(rk_test_write_file(tokf, "new-token-2\n", 0600), 0);
    assert_int_equal(kill(t.f.srv.pid, SIGHUP), 0);
    assert_true(reread(&t.f.srv, 1));
    assert_int_equal(get_status(dport, "new-token-2"), 200);
    assert_int_equal(get_status(fport, "new-token-2"), 401);
    /* Then on the standby: both take the new one, neither the old. */
    assert_int_equal(kill(b.pid, SIGHUP), 0);
    assert_true(reread(&b, 1));
    assert_int_equal(get_status(fport, "new-token-2"), 200);
    assert_int_equal(get_status(fport, "old-token-1"), 401);

    /* Rotated again, no SIGHUP, the dispatcher killed: the standby's own
     * server listens with the file's token of now. */
    assert_int_equal(rk_test_write_file(tokf, "newest-token-3\n", 0600), 0);
    assert_int_equal(rk_test_proc_kill9(&t.f.srv), 0);
    assert_int_equal(rk_test_proc_wait_listening(&b, 0, 60000), 0);
    assert_int_equal(get_status(b.port, "newest-token-3"), 200);
    assert_int_equal(get_status(b.port, "new-token-2"), 401);
    talk_to(&t, &b);
    fx_cleanup(&t.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standby_takes_over_after_kill9),
        cmocka_unit_test(test_connections_cut_one_dispatcher_after),
        cmocka_unit_test(test_postgres_away_one_dispatcher_after),
        cmocka_unit_test(test_frozen_dispatcher_is_fenced),
        cmocka_unit_test(test_takeover_with_many_queued),
        cmocka_unit_test(test_standby_forwards_to_dispatcher),
        cmocka_unit_test(test_standby_sighup_rereads_tokens),
    };
    const char *only = getenv("RK_TEST_FILTER"); /* e.g. "*forwards*" */
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
