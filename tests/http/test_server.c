/* The HTTP server wrapper, started for real on 127.0.0.1 (port 0) and driven
 * over HTTP with libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/err.h"
#include "base/log.h"
#include "http/server.h"

/* ---- client side ---- */

typedef struct reply {
    long status;
    long connects;
    char body[8192];
    size_t len;
    char hdrs[4096];
    size_t hlen;
} reply_t;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t k = sz * n;
    size_t room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    reply_t *r = ud;
    size_t k = sz * n;
    size_t room = sizeof r->hdrs - 1 - r->hlen;
    memcpy(r->hdrs + r->hlen, p, k < room ? k : room);
    r->hlen += k < room ? k : room;
    r->hdrs[r->hlen] = '\0';
    return k;
}

typedef struct upload {
    size_t left;
} upload_t;

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
    upload_t *u = ud;
    size_t k = sz * n < u->left ? sz * n : u->left;
    memset(buf, 'x', k);
    u->left -= k;
    return k;
}

static uint16_t port;

/* One request. body NULL = none; chunked_len > 0 uploads that many bytes
 * chunked instead. hdrs is NULL-terminated. c may be reused (keep-alive). */
static void request(CURL *c, const char *method, const char *path, const char *body,
                    size_t chunked_len, const char *const *hdrs, reply_t *out)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    memset(out, 0, sizeof *out);
    bool own = !c;
    if (own)
        c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *sl = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        sl = curl_slist_append(sl, hdrs[i]);
    upload_t up = {chunked_len};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (chunked_len) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        sl = curl_slist_append(sl, "Transfer-Encoding: chunked");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    CURLcode rc = curl_easy_perform(c);
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->connects);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 0L);
    curl_slist_free_all(sl);
    if (own)
        curl_easy_cleanup(c);
}

/* A GET in a background thread, for requests that wait. */
typedef struct bg {
    pthread_t th;
    const char *path;
    reply_t reply;
} bg_t;

static void *bg_main(void *arg)
{
    bg_t *b = arg;
    request(NULL, "GET", b->path, NULL, 0, NULL, &b->reply);
    return NULL;
}

static void bg_start(bg_t *b, const char *path)
{
    b->path = path;
    assert_int_equal(pthread_create(&b->th, NULL, bg_main, b), 0);
}

/* ---- server side ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static rk_http_wait_t *parked;
static atomic_int slow_entered;

static void h_hello(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_http_resp_text(resp, 200, ud);
}

static void h_status(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    const char *wait = rk_http_req_query(req, "wait");
    rk_http_resp_json_take(resp, 200,
                           json_pack("{s:s, s:s?, s:s}", "job_id", rk_http_req_param(req, "job_id"),
                                     "wait", wait, "path", rk_http_req_path(req)));
}

static void h_echo(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    json_t *in;
    if (rk_http_req_json(req, resp, &in) != 0)
        return;
    json_object_set_new(in, "seen", json_true());
    rk_http_resp_json(resp, 201, in);
    json_decref(in);
}

static void on_stop_custom(rk_http_resp_t *resp, void *ctx)
{
    rk_http_resp_error(resp, 200, ctx);
}

static void h_wait(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_http_wait_t *w;
    int err = rk_http_req_suspend(req, ud ? on_stop_custom : NULL, ud, &w);
    if (err) {
        rk_http_resp_error(resp, 503, "stopping");
        return;
    }
    pthread_mutex_lock(&mu);
    parked = w;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static rk_http_wait_t *await_parked(void)
{
    pthread_mutex_lock(&mu);
    while (!parked)
        pthread_cond_wait(&cv, &mu);
    rk_http_wait_t *w = parked;
    parked = NULL;
    pthread_mutex_unlock(&mu);
    usleep(20000); /* let the worker reach MHD_suspend_connection too */
    return w;
}

static void h_slow(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    atomic_store(&slow_entered, 1);
    usleep(300000);
    rk_http_resp_text(resp, 200, "slow done");
}

/* Stream: five lines; before the third it parks until a thread wakes it. */
typedef struct feed {
    int next;
    bool parked_once;
    rk_http_stream_t *st;
} feed_t;

static void *waker(void *arg)
{
    rk_http_stream_t *st = arg;
    usleep(100000);
    rk_http_stream_wake(st);
    rk_http_stream_release(st);
    return NULL;
}

static ssize_t feed_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    feed_t *f = ctx;
    if (f->next == 5)
        return RK_HTTP_READ_END;
    if (f->next == 2 && !f->parked_once) {
        f->parked_once = true;
        pthread_t th;
        rk_http_stream_t *st = f->st;
        f->st = NULL;
        assert_int_equal(pthread_create(&th, NULL, waker, st), 0);
        pthread_detach(th);
        return RK_HTTP_READ_WAIT;
    }
    int n = snprintf(buf, max, "line %d\n", f->next++);
    return n;
}

static void feed_free(void *ctx)
{
    feed_t *f = ctx;
    rk_http_stream_release(f->st);
    free(f);
}

static void h_stream(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    feed_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(rk_http_resp_stream(resp, 200, "text/plain", feed_read, feed_free, f, &f->st),
                     0);
}

/* A stream that gives one line and then parks for good: only stop ends it. */
static ssize_t forever_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    if (pos > 0)
        return RK_HTTP_READ_WAIT;
    atomic_store(&slow_entered, 1);
    return snprintf(buf, max, "hi\n");
}

static void h_forever(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_http_resp_stream(resp, 200, "text/event-stream", forever_read, NULL, NULL, NULL);
}

static const char *origins[] = {"https://ui.example"};

static const char *start_read_token; /* read_token of the next start() */

static rk_http_server_t *start(const char *token, size_t max_body)
{
    rk_http_config_t cfg;
    rk_http_config_init(&cfg);
    cfg.token = token;
    cfg.read_token = start_read_token;
    cfg.cors_origins = origins;
    cfg.n_cors_origins = 1;
    if (max_body)
        cfg.max_body = max_body;
    cfg.stop_timeout_ms = 3000;
    rk_http_server_t *s;
    assert_int_equal(rk_http_server_new(&cfg, &s), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/health", h_hello, "ok"), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/hello/", h_hello, "hello"), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/api/v1/status/{job_id}", h_status, NULL), 0);
    assert_int_equal(rk_http_server_route(s, "POST", "/api/v1/echo", h_echo, NULL), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/api/v1/wait", h_wait, NULL), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/api/v1/wait2", h_wait, "stopped nicely"), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/slow", h_slow, NULL), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/stream", h_stream, NULL), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/forever", h_forever, NULL), 0);
    assert_int_equal(rk_http_server_start(s), 0);
    port = rk_http_server_port(s);
    assert_true(port > 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/late", h_slow, NULL), RK_ESTATE);
    return s;
}

/* ---- tests ---- */

static int count_route(const char *method, const char *pattern, void *ud)
{
    size_t *n = ud;
    if (strcmp(method, "GET") == 0 && strcmp(pattern, "/hello") == 0)
        n[1]++; /* registered as "/hello/": listed canonically */
    if (strcmp(pattern, "/api/v1/status/{job_id}") == 0)
        n[2]++;
    n[0]++;
    return 0;
}

static void test_routing(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    size_t n[3] = {0};
    assert_int_equal(rk_http_server_each_route(s, count_route, n), 0);
    assert_int_equal(n[0], 9);
    assert_int_equal(n[1], 1);
    assert_int_equal(n[2], 1);
    reply_t r;
    request(NULL, "GET", "/hello", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    request(NULL, "GET", "/hello/", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    request(NULL, "GET", "/api/v1/status/job_42/?wait=5", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"job_id\":\"job_42\""));
    assert_non_null(strstr(r.body, "\"wait\":\"5\""));
    assert_non_null(strstr(r.body, "\"path\":\"/api/v1/status/job_42/\""));
    assert_non_null(strstr(r.hdrs, "application/json"));

    request(NULL, "GET", "/nope", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"detail\":\"Not Found\"}");
    request(NULL, "DELETE", "/hello", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.hdrs, "Allow: GET"));
    assert_non_null(strstr(r.body, "\"detail\""));
    rk_http_server_free(s);
}

static void test_json(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    reply_t r;
    request(NULL, "POST", "/api/v1/echo", "{\"a\": 1}", 0, NULL, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "{\"a\":1,\"seen\":true}");
    request(NULL, "POST", "/api/v1/echo", "{\"a\": }", 0, NULL, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"detail\":\"invalid JSON: "));
    assert_non_null(strstr(r.body, "at line 1 column"));
    /* jansson quotes the bad bytes; the answer must still be valid JSON. */
    request(NULL, "POST", "/api/v1/echo", "{\"a\": \"\xff\xfe\"}", 0, NULL, &r);
    assert_int_equal(r.status, 400);
    json_t *v = json_loads(r.body, 0, NULL);
    assert_non_null(v);
    assert_non_null(strstr(json_string_value(json_object_get(v, "detail")), "invalid JSON: "));
    json_decref(v);
    request(NULL, "POST", "/api/v1/echo", "[1]", 0, NULL, &r);
    assert_int_equal(r.status, 422);
    request(NULL, "POST", "/api/v1/echo", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 400);
    rk_http_server_free(s);
}

static void test_body_cap(void **state)
{
    rk_http_server_t *s = start(NULL, 1024);
    char big[2049];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    reply_t r;
    request(NULL, "POST", "/api/v1/echo", big, 0, NULL, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"detail\""));
    request(NULL, "POST", "/api/v1/echo", NULL, 5000, NULL, &r);
    assert_int_equal(r.status, 413);
    big[1000] = '\0';
    big[999] = '}';
    request(NULL, "POST", "/api/v1/echo", big, 0, NULL, &r);
    assert_int_equal(r.status, 201);
    rk_http_server_free(s);
}

static void test_token(void **state)
{
    FILE *logf = tmpfile();
    assert_non_null(logf);
    rk_log_set_fd(fileno(logf));
    rk_log_level_t level = rk_log_get_level();
    rk_log_set_level(RK_LOG_DEBUG); /* access lines are debug */
    rk_http_server_t *s = start("s3cret-token", 0);
    const char *wrong[] = {"Authorization: Bearer s3cret-tokeN", NULL};
    const char *right[] = {"Authorization: Bearer s3cret-token", NULL};
    const char *shorter[] = {"Authorization: Bearer s3cret", NULL};
    reply_t r;
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body, "{\"detail\":\"missing or invalid token\"}");
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, wrong, &r);
    assert_int_equal(r.status, 401);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, shorter, &r);
    assert_int_equal(r.status, 401);
    request(NULL, "GET", "/api/v1/unknown", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 401);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, right, &r);
    assert_int_equal(r.status, 200);
    request(NULL, "GET", "/health", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    rk_http_server_free(s);
    rk_log_set_fd(2);
    rk_log_set_level(level);

    char text[16384];
    rewind(logf);
    size_t n = fread(text, 1, sizeof text - 1, logf);
    text[n] = '\0';
    fclose(logf);
    assert_non_null(strstr(text, "method=GET path=/api/v1/status/j1 status=401"));
    assert_non_null(strstr(text, "remote=127.0.0.1"));
    assert_null(strstr(text, "s3cret"));
}

/* The read-only token may GET, never change anything (403 saying so);
 * the full token may do both; a wrong one is 401 either way. */
static void test_read_token(void **state)
{
    (void)state;
    start_read_token = "r3ad-only";
    rk_http_server_t *s = start("full-t0ken", 0);
    start_read_token = NULL;
    const char *ro[] = {"Authorization: Bearer r3ad-only", NULL};
    const char *full[] = {"Authorization: Bearer full-t0ken", NULL};
    const char *bad[] = {"Authorization: Bearer r3ad-onlY", NULL};
    reply_t r;
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, ro, &r);
    assert_int_equal(r.status, 200);
    request(NULL, "POST", "/api/v1/echo", "{}", 0, ro, &r);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "read-only token may only GET or HEAD, not POST"));
    request(NULL, "DELETE", "/api/v1/status/j1", NULL, 0, ro, &r);
    assert_int_equal(r.status, 403);
    request(NULL, "POST", "/api/v1/echo", "{}", 0, full, &r);
    assert_int_equal(r.status, 201);
    request(NULL, "POST", "/api/v1/echo", "{}", 0, bad, &r);
    assert_int_equal(r.status, 401);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, bad, &r);
    assert_int_equal(r.status, 401);
    /* Rotation keeps the rules: the old read token is gone. */
    assert_int_equal(rk_http_server_set_tokens(s, "full-t0ken", "r3ad-2"), 0);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, ro, &r);
    assert_int_equal(r.status, 401);
    const char *ro2[] = {"Authorization: Bearer r3ad-2", NULL};
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, ro2, &r);
    assert_int_equal(r.status, 200);
    request(NULL, "POST", "/api/v1/echo", "{}", 0, ro2, &r);
    assert_int_equal(r.status, 403);
    rk_http_server_free(s);

    /* A read token alone, or equal to the full one, is refused. */
    rk_http_config_t cfg;
    rk_http_config_init(&cfg);
    cfg.read_token = "r";
    assert_int_equal(rk_http_server_new(&cfg, &s), RK_EINVAL);
    cfg.token = "r";
    assert_int_equal(rk_http_server_new(&cfg, &s), RK_EINVAL);
}

/* rk_http_server_set_tokens: the old token stops working at once, the new
 * one works; no way to switch auth off or on. */
static void test_token_rotation(void **state)
{
    (void)state;
    rk_http_server_t *s = start("old-t0ken", 0);
    const char *old[] = {"Authorization: Bearer old-t0ken", NULL};
    const char *neu[] = {"Authorization: Bearer new-t0ken", NULL};
    reply_t r;
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, old, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(rk_http_server_set_tokens(s, "new-t0ken", NULL), 0);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, old, &r);
    assert_int_equal(r.status, 401);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, neu, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(rk_http_server_set_tokens(s, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_http_server_set_tokens(s, "", NULL), RK_EINVAL);
    assert_int_equal(rk_http_server_set_tokens(s, "x", "x"), RK_EINVAL);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, neu, &r); /* unchanged */
    assert_int_equal(r.status, 200);
    rk_http_server_free(s);
    s = start(NULL, 0);
    assert_int_equal(rk_http_server_set_tokens(s, "t", NULL), RK_EINVAL);
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    rk_http_server_free(s);
}

/* Many requests on several threads while the tokens swap back and forth:
 * each is answered 200 or 401, never 5xx or a dropped connection. */
#define ROT_THREADS 4
#define ROT_REQS 250

typedef struct rot {
    pthread_t th;
    int n200, n401, other;
} rot_t;

static atomic_int rot_done;

static void *rot_main(void *arg)
{
    rot_t *t = arg;
    CURL *c = curl_easy_init();
    const char *a[] = {"Authorization: Bearer tok-A", NULL};
    const char *b[] = {"Authorization: Bearer tok-B", NULL};
    for (int i = 0; i < ROT_REQS; i++) {
        reply_t r;
        request(c, "GET", "/api/v1/status/j1", NULL, 0, i % 2 ? a : b, &r);
        if (r.status == 200)
            t->n200++;
        else if (r.status == 401)
            t->n401++;
        else
            t->other++;
    }
    curl_easy_cleanup(c);
    atomic_fetch_add(&rot_done, 1);
    return NULL;
}

static void test_rotation_under_load(void **state)
{
    (void)state;
    rk_http_server_t *s = start("tok-A", 0);
    rot_t t[ROT_THREADS];
    memset(t, 0, sizeof t);
    atomic_store(&rot_done, 0);
    for (int i = 0; i < ROT_THREADS; i++)
        assert_int_equal(pthread_create(&t[i].th, NULL, rot_main, &t[i]), 0);
    int swaps = 0;
    while (atomic_load(&rot_done) < ROT_THREADS) {
        assert_int_equal(rk_http_server_set_tokens(s, swaps % 2 ? "tok-A" : "tok-B", NULL), 0);
        swaps++;
        usleep(200);
    }
    int n200 = 0, n401 = 0, other = 0;
    for (int i = 0; i < ROT_THREADS; i++) {
        pthread_join(t[i].th, NULL);
        n200 += t[i].n200;
        n401 += t[i].n401;
        other += t[i].other;
    }
    rk_http_server_free(s);
    assert_int_equal(other, 0);
    assert_int_equal(n200 + n401, ROT_THREADS * ROT_REQS);
    assert_true(n200 > 0);
    assert_true(n401 > 0);
    assert_true(swaps > 1);
}

static void test_cors(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    const char *listed[] = {"Origin: https://ui.example", "Access-Control-Request-Method: POST",
                            NULL};
    const char *unlisted[] = {"Origin: https://evil.example", "Access-Control-Request-Method: POST",
                              NULL};
    reply_t r;
    request(NULL, "OPTIONS", "/api/v1/echo", NULL, 0, listed, &r);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(r.hdrs, "Access-Control-Allow-Origin: https://ui.example"));
    assert_non_null(strstr(r.hdrs, "Access-Control-Allow-Methods: POST"));
    assert_non_null(strstr(r.hdrs, "Access-Control-Allow-Headers: Authorization, Content-Type"));
    assert_non_null(strstr(r.hdrs, "Access-Control-Max-Age:"));
    assert_non_null(strstr(r.hdrs, "Vary: Origin"));
    request(NULL, "OPTIONS", "/api/v1/echo", NULL, 0, unlisted, &r);
    assert_int_equal(r.status, 204);
    assert_null(strstr(r.hdrs, "Access-Control-"));
    request(NULL, "GET", "/hello", NULL, 0, listed, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.hdrs, "Access-Control-Allow-Origin: https://ui.example"));
    request(NULL, "GET", "/hello", NULL, 0, unlisted, &r);
    assert_null(strstr(r.hdrs, "Access-Control-"));
    /* A preflight to a path no route has: answered for an allowed origin,
     * so the browser can go on and read the real 404. */
    request(NULL, "OPTIONS", "/api/v1/nope", NULL, 0, listed, &r);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(r.hdrs, "Access-Control-Allow-Origin: https://ui.example"));
    assert_non_null(strstr(r.hdrs, "Access-Control-Allow-Methods: GET, POST"));
    request(NULL, "GET", "/api/v1/nope", NULL, 0, listed, &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.hdrs, "Access-Control-Allow-Origin: https://ui.example"));
    request(NULL, "OPTIONS", "/api/v1/nope", NULL, 0, unlisted, &r);
    assert_int_equal(r.status, 404);
    assert_null(strstr(r.hdrs, "Access-Control-"));
    rk_http_server_free(s);
}

static void test_keepalive(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    CURL *c = curl_easy_init();
    reply_t r;
    request(c, "GET", "/hello", NULL, 0, NULL, &r);
    assert_int_equal(r.connects, 1);
    request(c, "GET", "/api/v1/status/x", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 0);
    curl_easy_cleanup(c);
    rk_http_server_free(s);
}

static void test_suspend_resume(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    bg_t b;
    bg_start(&b, "/api/v1/wait");
    rk_http_wait_t *w = await_parked();
    rk_http_resp_t *resp;
    assert_int_equal(rk_http_resp_new(&resp), 0);
    rk_http_resp_json_take(resp, 200, json_pack("{s:s}", "status", "running"));
    assert_int_equal(rk_http_wait_finish(w, resp), 0);
    pthread_join(b.th, NULL);
    assert_int_equal(b.reply.status, 200);
    assert_string_equal(b.reply.body, "{\"status\":\"running\"}");

    /* Released without an answer: 503, and the server keeps working. */
    bg_start(&b, "/api/v1/wait");
    w = await_parked();
    rk_http_wait_release(w);
    pthread_join(b.th, NULL);
    assert_int_equal(b.reply.status, 503);
    reply_t r;
    request(NULL, "GET", "/hello", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    rk_http_server_free(s);
}

static void test_suspended_at_stop(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    bg_t b1, b2;
    bg_start(&b1, "/api/v1/wait");
    rk_http_wait_t *w1 = await_parked();
    bg_start(&b2, "/api/v1/wait2");
    rk_http_wait_t *w2 = await_parked();
    rk_http_server_stop(s);
    pthread_join(b1.th, NULL);
    pthread_join(b2.th, NULL);
    assert_int_equal(b1.reply.status, 503);
    assert_string_equal(b1.reply.body, "{\"detail\":\"server shutting down\"}");
    assert_int_equal(b2.reply.status, 200);
    assert_string_equal(b2.reply.body, "{\"detail\":\"stopped nicely\"}");
    /* The holders answer late: refused, nothing freed twice. */
    rk_http_resp_t *resp;
    assert_int_equal(rk_http_resp_new(&resp), 0);
    rk_http_resp_text(resp, 200, "late");
    assert_int_equal(rk_http_wait_finish(w1, resp), RK_ESTATE);
    rk_http_wait_release(w2);
    rk_http_server_free(s);
}

static void test_stop_with_slow_request(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    bg_t b;
    atomic_store(&slow_entered, 0);
    bg_start(&b, "/slow");
    while (!atomic_load(&slow_entered))
        usleep(1000);
    rk_http_server_stop(s);
    pthread_join(b.th, NULL);
    assert_int_equal(b.reply.status, 200);
    assert_string_equal(b.reply.body, "slow done");
    assert_int_equal(rk_http_server_port(s), 0);
    rk_http_server_free(s);
}

static void test_stream(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    reply_t r;
    request(NULL, "GET", "/stream", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "line 0\nline 1\nline 2\nline 3\nline 4\n");
    assert_non_null(strstr(r.hdrs, "chunked"));
    rk_http_server_free(s);
}

static void test_parked_stream_ends_at_stop(void **state)
{
    rk_http_server_t *s = start(NULL, 0);
    bg_t b;
    atomic_store(&slow_entered, 0);
    bg_start(&b, "/forever");
    while (!atomic_load(&slow_entered))
        usleep(1000);
    usleep(20000);
    rk_http_server_stop(s);
    pthread_join(b.th, NULL);
    assert_int_equal(b.reply.status, 200);
    assert_string_equal(b.reply.body, "hi\n");
    rk_http_server_free(s);
}

static void test_error_detail_not_utf8(void **state)
{
    rk_http_resp_t *resp;
    assert_int_equal(rk_http_resp_new(&resp), 0);
    assert_int_equal(rk_http_resp_errorf(resp, 422, "name: bad value \xff\xfe"), 0);
    rk_http_resp_free(resp);
    assert_int_equal(rk_http_resp_new(&resp), 0);
    assert_int_equal(rk_http_resp_text(resp, 99, "x"), RK_EINVAL);
    rk_http_resp_free(resp);
}

static void test_refuse_public_without_token(void **state)
{
    rk_http_config_t cfg;
    rk_http_config_init(&cfg);
    rk_http_server_t *s = NULL;
    cfg.host = "0.0.0.0";
    assert_int_equal(rk_http_server_new(&cfg, &s), RK_EINVAL);
    assert_null(s);
    cfg.host = "10.1.2.3";
    assert_int_equal(rk_http_server_new(&cfg, &s), RK_EINVAL);
    const char *loop[] = {"127.0.0.1", "127.1.2.3", "::1", "localhost"};
    for (size_t i = 0; i < 4; i++) {
        cfg.host = loop[i];
        assert_int_equal(rk_http_server_new(&cfg, &s), 0);
        rk_http_server_free(s);
    }
    cfg.host = "0.0.0.0";
    cfg.token = "t";
    assert_int_equal(rk_http_server_new(&cfg, &s), 0);
    rk_http_server_free(s);
}

/* The fallback takes what no route does, any method, after the same
 * token and size checks; routes still win; the raw query reaches it. */
static void h_fallback(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    size_t n = 0;
    const char *q = rk_http_req_query_string(req);
    rk_http_req_body(req, &n);
    rk_http_resp_errorf(resp, 299, "fallback %s %s?%s %zu", rk_http_req_method(req),
                        rk_http_req_path(req), q ? q : "(none)", n);
}

static void test_fallback(void **state)
{
    rk_http_config_t cfg;
    rk_http_config_init(&cfg);
    cfg.token = "tok";
    cfg.max_body = 64;
    rk_http_server_t *s;
    assert_int_equal(rk_http_server_new(&cfg, &s), 0);
    assert_int_equal(rk_http_server_route(s, "GET", "/api/v1/status/{job_id}", h_status, NULL), 0);
    assert_int_equal(rk_http_server_fallback(s, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_http_server_fallback(s, h_fallback, NULL), 0);
    assert_int_equal(rk_http_server_fallback(s, h_fallback, NULL), RK_EEXIST);
    assert_int_equal(rk_http_server_start(s), 0);
    port = rk_http_server_port(s);
    const char *auth[] = {"Authorization: Bearer tok", NULL};
    reply_t r;
    request(NULL, "GET", "/api/v1/status/j1", NULL, 0, auth, &r);
    assert_int_equal(r.status, 200); /* the route, not the fallback */
    request(NULL, "DELETE", "/api/v1/status/j1", NULL, 0, auth, &r);
    assert_int_equal(r.status, 299); /* no 405: the fallback's */
    assert_non_null(strstr(r.body, "fallback DELETE /api/v1/status/j1?(none) 0"));
    request(NULL, "POST", "/api/v1/else/x%2Fy?a=1&b=%20c", "{}", 0, auth, &r);
    assert_int_equal(r.status, 299);
    assert_non_null(strstr(r.body, "fallback POST /api/v1/else/x%2Fy?a=1&b=%20c 2"));
    request(NULL, "GET", "/api/v1/anything", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 401); /* the token first */
    char big[128];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    request(NULL, "POST", "/api/v1/else", big, 0, auth, &r);
    assert_int_equal(r.status, 413); /* the size cap first */
    request(NULL, "GET", "/bad%00path", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 400); /* an unreadable path never reaches it */
    assert_int_equal(rk_http_server_fallback(s, h_fallback, NULL), RK_ESTATE);
    rk_http_server_free(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_read_token),
        cmocka_unit_test(test_token_rotation),
        cmocka_unit_test(test_rotation_under_load),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_suspend_resume),
        cmocka_unit_test(test_suspended_at_stop),
        cmocka_unit_test(test_stop_with_slow_request),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_parked_stream_ends_at_stop),
        cmocka_unit_test(test_error_detail_not_utf8),
        cmocka_unit_test(test_refuse_public_without_token),
        cmocka_unit_test(test_fallback),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
