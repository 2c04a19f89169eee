/* The HTTP client against a real libmicrohttpd server run inside the test.
 *
 * The server (thread per connection, so slow handlers overlap) offers:
 *   /echo          {"method", "body", "auth"} of the request
 *   /sleep?ms=N    answers after N ms (cut short when the test ends)
 *   /flaky         503 for the first two hits, then 200
 *   /fail          always 503
 *   /big?n=N       N bytes with a Content-Length
 *   /chunked?n=N   N bytes, chunked (no length known up front)
 *   /notjson       a 200 whose body is not JSON
 * Hits and connections are counted server-side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/time.h"
#include "http/client.h"

static struct MHD_Daemon *g_daemon;
static char g_base[64];
static atomic_int g_hits;
static atomic_int g_conns;
static atomic_int g_sleepers;
static atomic_int g_stop;
static atomic_int g_inside; /* handlers sleeping right now */
static atomic_int g_peak;   /* most handlers sleeping at once */

/* ---- test server ---- */

typedef struct conn_ctx {
    rk_buf_t body;
} conn_ctx_t;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    return rk_time_mono_us() / 1000;
}

static int query_int(struct MHD_Connection *conn, const char *key)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    return v ? atoi(v) : 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    enum MHD_Result ret = reply(conn, status, s, strlen(s));
    free(s);
    return ret;
}

static ssize_t chunk_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    size_t total = *(size_t *)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = total - pos < max ? total - pos : max;
    memset(buf, 'x', n);
    return (ssize_t)n;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    conn_ctx_t *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        rk_buf_init(&cc->body, 1 << 20);
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rk_buf_add(&cc->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/echo") == 0) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        return reply_json(conn, 200,
                          json_pack("{s:s, s:s, s:s?}", "method", method, "body",
                                    rk_buf_str(&cc->body), "auth", auth));
    }
    if (strcmp(url, "/sleep") == 0) {
        g_sleepers++;
        int inside = ++g_inside;
        for (int peak = g_peak;
             inside > peak && !atomic_compare_exchange_weak(&g_peak, &peak, inside);)
            ;
        int ms = query_int(conn, "ms");
        for (int t = 0; t < ms && !g_stop; t += 5)
            sleep_ms(5);
        g_inside--;
        return reply(conn, 200, "{\"slept\":true}", 14);
    }
    if (strcmp(url, "/headers") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "X-Ruckus-Next-Offset", "1048576");
        MHD_add_response_header(r, "x-ruckus-job-finished", "false");
        MHD_add_response_header(r, "X-Other", "dropped");
        enum MHD_Result ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/flaky") == 0) {
        int n = ++g_hits;
        if (n <= 2)
            return reply(conn, 503, "{\"detail\":\"busy\"}", 17);
        return reply_json(conn, 200, json_pack("{s:i}", "hits", n));
    }
    if (strcmp(url, "/fail") == 0) {
        g_hits++;
        return reply(conn, 503, "{\"detail\":\"busy\"}", 17);
    }
    if (strcmp(url, "/big") == 0) {
        size_t n = (size_t)query_int(conn, "n");
        char *b = malloc(n + 1);
        memset(b, 'x', n);
        enum MHD_Result ret = reply(conn, 200, b, n);
        free(b);
        return ret;
    }
    if (strcmp(url, "/chunked") == 0) {
        size_t *n = malloc(sizeof *n);
        *n = (size_t)query_int(conn, "n");
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, chunk_reader, n, free);
        enum MHD_Result ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/notjson") == 0)
        return reply(conn, 200, "hello", 5);
    return reply(conn, 404, "{\"detail\":\"not found\"}", 22);
}

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_ctx_t *cc = *con_cls;
    if (cc) {
        rk_buf_cleanup(&cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

static void conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                        enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        g_conns++;
}

static int server_start(void **state)
{
    if (rk_http_global_init())
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL,
        NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_NOTIFY_CONNECTION, conn_notify,
        NULL, MHD_OPTION_END);
    if (!g_daemon)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%u", (unsigned)di->port);
    return 0;
}

static int server_stop(void **state)
{
    g_stop = 1;
    MHD_stop_daemon(g_daemon);
    rk_http_global_cleanup();
    return 0;
}

static int reset_counters(void **state)
{
    g_hits = 0;
    g_conns = 0;
    g_sleepers = 0;
    g_peak = 0;
    return 0;
}

/* ---- client side helpers ---- */

typedef struct result {
    bool done;
    int err;
    long status;
    int attempts;
    char msg[256];
    char body[4096];
    size_t body_len;
    pthread_t thread;
    rk_http_client_t *client;
    rk_http_handle_t *self;
    int self_cancel_rc;
} result_t;

static void on_done(const rk_http_response_t *resp, void *ud)
{
    result_t *r = ud;
    r->done = true;
    r->err = resp->err;
    r->status = resp->status;
    r->attempts = resp->attempts;
    r->thread = pthread_self();
    snprintf(r->msg, sizeof r->msg, "%s", resp->msg);
    r->body_len = resp->body.len;
    snprintf(r->body, sizeof r->body, "%s", rk_buf_str(&resp->body));
    if (r->self)
        r->self_cancel_rc = rk_http_client_cancel(r->client, r->self);
}

/* Loops the client until *flag or 5 s pass; returns the elapsed ms. */
static int64_t run_until(rk_http_client_t *c, const bool *flag)
{
    int64_t t0 = now_ms();
    while (!*flag && now_ms() - t0 < 5000)
        assert_true(rk_http_client_run_once(c, 100) >= 0);
    return now_ms() - t0;
}

static void url_of(char *out, size_t n, const char *path)
{
    snprintf(out, n, "%s%s", g_base, path);
}

/* A port nothing listens on: bound once, then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static rk_http_client_t *client_new(void)
{
    rk_http_client_t *c = NULL;
    assert_int_equal(rk_http_client_new(NULL, &c), 0);
    return c;
}

/* ---- tests ---- */

static void test_json_round_trip(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/echo");
    result_t get = {0}, post = {0};
    rk_http_request_t rq = {.url = url};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &get, NULL), 0);
    const char *payload = "{\"job_id\":\"job_0000abcd\"}";
    rk_http_request_t rp = {
        .method = "POST", .url = url, .body = payload, .body_len = strlen(payload)};
    assert_int_equal(rk_http_client_submit(c, &rp, on_done, &post, NULL), 0);
    run_until(c, &get.done);
    run_until(c, &post.done);
    assert_int_equal(get.err, 0);
    assert_int_equal(get.status, 200);
    assert_int_equal(get.attempts, 1);
    assert_string_equal(get.msg, "");
    json_t *v = json_loads(get.body, 0, NULL);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "method")), "GET");
    assert_true(json_is_null(json_object_get(v, "auth")) || !json_object_get(v, "auth"));
    json_decref(v);
    assert_int_equal(post.status, 200);
    v = json_loads(post.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(v, "body")), payload);
    json_decref(v);
    rk_http_client_free(c);
}

static void test_concurrent_100(void **state)
{
    enum { N = 100 };
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/sleep?ms=50");
    static result_t res[N];
    memset(res, 0, sizeof res);
    int64_t t0 = now_ms();
    for (int i = 0; i < N; i++) {
        rk_http_request_t rq = {.url = url};
        assert_int_equal(rk_http_client_submit(c, &rq, on_done, &res[i], NULL), 0);
    }
    int n;
    while ((n = rk_http_client_run_once(c, 100)) > 0 && now_ms() - t0 < 10000)
        ;
    int64_t elapsed = now_ms() - t0;
    assert_int_equal(n, 0);
    for (int i = 0; i < N; i++) {
        assert_true(res[i].done);
        assert_int_equal(res[i].err, 0);
        assert_int_equal(res[i].status, 200);
    }
    assert_int_equal(g_sleepers, N);
    /* Serial would take 5000 ms and never have two handlers at once. Natively
     * this takes ~60 ms with all 100 overlapping. Under valgrind (which runs
     * the server's threads one at a time) on a busy machine the time says
     * little; the overlap (g_peak) is the proof there. */
    if (!getenv("RK_UNDER_VALGRIND"))
        assert_true(elapsed < 3500);
    assert_true(g_peak >= 10);
    rk_http_client_free(c);
}

static void test_keepalive_reuses_connection(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/echo");
    for (int i = 0; i < 5; i++) {
        result_t r = {0};
        rk_http_request_t rq = {.url = url};
        assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
        run_until(c, &r.done);
        assert_int_equal(r.status, 200);
    }
    assert_int_equal(g_conns, 1);
    rk_http_client_free(c);
}

static void test_connect_refused(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", closed_port());
    result_t r = {0}, rr = {0};
    rk_http_request_t rq = {.url = url, .connect_timeout_ms = 2000};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
    int64_t elapsed = run_until(c, &r.done);
    assert_int_equal(r.err, RK_ECONN);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.msg, url));
    assert_true(elapsed < 1000);
    /* A GET with retries tries again, then gives the last error. */
    rq.retry = (rk_http_retry_t){.max_attempts = 3, .base_ms = 10};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &rr, NULL), 0);
    run_until(c, &rr.done);
    assert_int_equal(rr.err, RK_ECONN);
    assert_int_equal(rr.attempts, 3);
    rk_http_client_free(c);
}

static void test_read_timeout(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/sleep?ms=2000");
    result_t r = {0};
    rk_http_request_t rq = {
        .url = url, .timeout_ms = 200, .retry = {.max_attempts = 3, .base_ms = 10}};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
    int64_t elapsed = run_until(c, &r.done);
    assert_int_equal(r.err, RK_ETIMEDOUT);
    assert_int_equal(r.attempts, 1); /* a read timeout is not retried */
    assert_true(elapsed >= 150 && elapsed < 1500);
    rk_http_client_free(c);
}

static void test_retry_503_then_ok(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/flaky");
    result_t r = {0};
    rk_http_request_t rq = {.url = url, .retry = {.max_attempts = 5, .base_ms = 10}};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
    run_until(c, &r.done);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(g_hits, 3);
    assert_string_equal(r.body, "{\"hits\":3}");
    rk_http_client_free(c);
}

static void test_post_not_retried_unless_idempotent(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/fail");
    result_t r = {0}, ri = {0};
    rk_http_request_t rq = {.method = "POST",
                            .url = url,
                            .body = "{}",
                            .body_len = 2,
                            .retry = {.max_attempts = 3, .base_ms = 10}};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
    run_until(c, &r.done);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(g_hits, 1);
    rq.idempotent = true;
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &ri, NULL), 0);
    run_until(c, &ri.done);
    assert_int_equal(ri.status, 503);
    assert_int_equal(ri.attempts, 3);
    assert_int_equal(g_hits, 4);
    rk_http_client_free(c);
}

static void test_retry_deadline(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/fail");
    result_t r = {0};
    /* Under valgrind an attempt takes longer: the same test, scaled. */
    int k = getenv("RK_UNDER_VALGRIND") ? 5 : 1;
    rk_http_request_t rq = {
        .url = url,
        .retry = {.max_attempts = 1000, .base_ms = 40, .max_ms = 40, .deadline_ms = 300 * k}};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
    int64_t elapsed = run_until(c, &r.done);
    assert_int_equal(r.status, 503);
    assert_true(r.attempts > 2 && r.attempts < 20 * k);
    assert_int_equal(g_hits, r.attempts);
    assert_true(elapsed < 1000 * k);
    rk_http_client_free(c);
}

static void test_body_cap(void **state)
{
    rk_http_client_t *c = client_new();
    const char *paths[] = {"/big?n=100000", "/chunked?n=100000", "/big?n=1000"};
    for (int i = 0; i < 3; i++) {
        char url[128];
        url_of(url, sizeof url, paths[i]);
        result_t r = {0};
        rk_http_request_t rq = {.url = url, .max_body = 1000};
        assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
        run_until(c, &r.done);
        if (i < 2) {
            assert_int_equal(r.err, RK_ETOOBIG);
            assert_non_null(strstr(r.msg, "size cap"));
        } else {
            assert_int_equal(r.err, 0);
            assert_int_equal(r.body_len, 1000);
        }
    }
    rk_http_client_free(c);
}

static void test_bearer_token_and_bad_input(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/echo");
    result_t r = {0};
    const char *hdrs[] = {"X-Trace: 1", NULL};
    rk_http_request_t rq = {.url = url, .token = "s3cret", .headers = hdrs};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), 0);
    run_until(c, &r.done);
    json_t *v = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(v, "auth")), "Bearer s3cret");
    json_decref(v);

    rk_http_handle_t *h = (rk_http_handle_t *)1;
    rq.token = "evil\r\nX-Injected: 1";
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, &h), RK_EINVAL);
    assert_null(h);
    rq.token = NULL;
    rq.method = "GET /x";
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, NULL), RK_EINVAL);

    /* Only http and https are spoken. */
    result_t f = {0};
    rk_http_request_t rf = {.url = "file:///etc/passwd"};
    assert_int_equal(rk_http_client_submit(c, &rf, on_done, &f, NULL), 0);
    run_until(c, &f.done);
    assert_int_equal(f.err, RK_EINVAL);
    assert_int_equal(f.body_len, 0);
    rk_http_client_free(c);
}

static void test_cancel_in_flight(void **state)
{
    rk_http_client_t *c = client_new();
    char url[128];
    url_of(url, sizeof url, "/sleep?ms=1500");
    result_t r = {0};
    rk_http_handle_t *h = NULL;
    rk_http_request_t rq = {.url = url};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &r, &h), 0);
    assert_non_null(h);
    int64_t t0 = now_ms();
    while (g_sleepers == 0 && now_ms() - t0 < 2000)
        rk_http_client_run_once(c, 10);
    assert_int_equal(g_sleepers, 1);
    assert_int_equal(rk_http_client_cancel(c, h), 0);
    assert_int_equal(rk_http_client_run_once(c, 0), 0);
    assert_false(r.done);

    /* A callback cannot cancel its own request. */
    url_of(url, sizeof url, "/echo");
    result_t s = {.client = c};
    assert_int_equal(rk_http_client_submit(c, &rq, on_done, &s, &s.self), 0);
    run_until(c, &s.done);
    assert_int_equal(s.self_cancel_rc, RK_ESTATE);

    /* Cancelling a request that waits between retries. */
    url_of(url, sizeof url, "/fail");
    result_t w = {0};
    rk_http_request_t rw = {.url = url, .retry = {.max_attempts = 5, .base_ms = 2000}};
    assert_int_equal(rk_http_client_submit(c, &rw, on_done, &w, &h), 0);
    t0 = now_ms();
    while (g_hits == 0 && now_ms() - t0 < 2000)
        rk_http_client_run_once(c, 10);
    rk_http_client_run_once(c, 10);
    assert_int_equal(rk_http_client_cancel(c, h), 0);
    assert_int_equal(rk_http_client_run_once(c, 0), 0);
    assert_false(w.done);
    rk_http_client_free(c);
}

typedef struct wake_ctx {
    rk_http_client_t *c;
    char url[128];
    result_t r;
    pthread_t ran_on;
    bool ran;
} wake_ctx_t;

static void *wake_thread(void *ud)
{
    sleep_ms(100);
    rk_http_client_wakeup(((wake_ctx_t *)ud)->c);
    return NULL;
}

static void task_submit(void *ud)
{
    wake_ctx_t *w = ud;
    w->ran = true;
    w->ran_on = pthread_self();
    rk_http_request_t rq = {.url = w->url};
    assert_int_equal(rk_http_client_submit(w->c, &rq, on_done, &w->r, NULL), 0);
}

static void *post_thread(void *ud)
{
    sleep_ms(50);
    rk_http_client_post_task(((wake_ctx_t *)ud)->c, task_submit, ud);
    return NULL;
}

static void test_wakeup_and_post_task(void **state)
{
    wake_ctx_t w = {.c = client_new()};
    url_of(w.url, sizeof w.url, "/echo");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wake_thread, &w), 0);
    int64_t t0 = now_ms();
    assert_int_equal(rk_http_client_run_once(w.c, 5000), 0);
    int64_t elapsed = now_ms() - t0;
    pthread_join(t, NULL);
    assert_true(elapsed >= 50 && elapsed < 2000);

    assert_int_equal(pthread_create(&t, NULL, post_thread, &w), 0);
    run_until(w.c, &w.r.done);
    pthread_join(t, NULL);
    assert_true(w.ran);
    assert_true(pthread_equal(w.ran_on, pthread_self()));
    assert_true(pthread_equal(w.r.thread, pthread_self()));
    assert_int_equal(w.r.status, 200);

    /* Tasks still queued at free run then, so they can release their ud. */
    bool *flag = calloc(1, sizeof *flag);
    assert_int_equal(rk_http_client_post_task(w.c, free, flag), 0);
    rk_http_client_free(w.c);
}

static void test_sync_and_json(void **state)
{
    char url[128];
    url_of(url, sizeof url, "/echo");
    rk_http_response_t resp;
    rk_http_request_t rq = {
        .method = "PUT", .url = url, .body = "[1,2]", .body_len = 5, .token = "t"};
    assert_int_equal(rk_http_client_request_sync(&rq, &resp), 0);
    assert_int_equal(resp.status, 200);
    json_t *v = NULL;
    rk_verr_t e;
    assert_int_equal(rk_http_response_json(&resp, &v, &e), 0);
    assert_string_equal(json_string_value(json_object_get(v, "method")), "PUT");
    assert_string_equal(json_string_value(json_object_get(v, "body")), "[1,2]");
    json_decref(v);
    rk_http_response_cleanup(&resp);

    url_of(url, sizeof url, "/notjson");
    rk_http_request_t rn = {.url = url};
    assert_int_equal(rk_http_client_request_sync(&rn, &resp), 0);
    assert_int_equal(rk_http_response_json(&resp, &v, &e), RK_EPROTO);
    assert_null(v);
    assert_non_null(strstr(e.msg, "response body: invalid JSON"));
    rk_http_response_cleanup(&resp);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
    assert_int_equal(rk_http_client_request_sync(&rn, &resp), RK_ECONN);
    assert_int_equal(rk_http_response_json(&resp, &v, &e), RK_ECONN);
    assert_non_null(strstr(e.msg, url));
    rk_http_response_cleanup(&resp);
}

/* Headers named by keep_headers come back, any case, and only those. */
static void test_kept_headers(void **state)
{
    (void)state;
    char url[128], v[64];
    url_of(url, sizeof url, "/headers");
    rk_http_response_t resp;
    rk_http_request_t rq = {.url = url, .keep_headers = "X-Ruckus-"};
    assert_int_equal(rk_http_client_request_sync(&rq, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_true(rk_http_response_header(&resp, "X-Ruckus-Next-Offset", v, sizeof v));
    assert_string_equal(v, "1048576");
    assert_true(rk_http_response_header(&resp, "X-Ruckus-Job-Finished", v, sizeof v));
    assert_string_equal(v, "false");
    assert_false(rk_http_response_header(&resp, "X-Other", v, sizeof v));
    assert_null(strstr(rk_buf_str(&resp.headers), "Other"));
    rk_http_response_cleanup(&resp);
    /* "" keeps them all, for a proxy. */
    rk_http_request_t all = {.url = url, .keep_headers = ""};
    assert_int_equal(rk_http_client_request_sync(&all, &resp), 0);
    assert_true(rk_http_response_header(&resp, "X-Ruckus-Next-Offset", v, sizeof v));
    assert_true(rk_http_response_header(&resp, "X-Other", v, sizeof v));
    assert_true(rk_http_response_header(&resp, "Content-Length", v, sizeof v));
    assert_null(strstr(rk_buf_str(&resp.headers), "HTTP/1.1"));
    rk_http_response_cleanup(&resp);
    /* Without keep_headers nothing is kept. */
    rk_http_request_t none = {.url = url};
    assert_int_equal(rk_http_client_request_sync(&none, &resp), 0);
    assert_false(rk_http_response_header(&resp, "X-Ruckus-Next-Offset", v, sizeof v));
    assert_int_equal(resp.headers.len, 0);
    rk_http_response_cleanup(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_json_round_trip, reset_counters),
        cmocka_unit_test_setup(test_concurrent_100, reset_counters),
        cmocka_unit_test_setup(test_keepalive_reuses_connection, reset_counters),
        cmocka_unit_test_setup(test_connect_refused, reset_counters),
        cmocka_unit_test_setup(test_read_timeout, reset_counters),
        cmocka_unit_test_setup(test_retry_503_then_ok, reset_counters),
        cmocka_unit_test_setup(test_post_not_retried_unless_idempotent, reset_counters),
        cmocka_unit_test_setup(test_retry_deadline, reset_counters),
        cmocka_unit_test_setup(test_body_cap, reset_counters),
        cmocka_unit_test_setup(test_bearer_token_and_bad_input, reset_counters),
        cmocka_unit_test_setup(test_cancel_in_flight, reset_counters),
        cmocka_unit_test_setup(test_wakeup_and_post_task, reset_counters),
        cmocka_unit_test_setup(test_sync_and_json, reset_counters),
        cmocka_unit_test_setup(test_kept_headers, reset_counters),
    };
    return cmocka_run_group_tests(tests, server_start, server_stop);
}
