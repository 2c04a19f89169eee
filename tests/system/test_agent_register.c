/* ruckus-agent --register-with: it registers with a server at start,
 * retrying with backoff while the server is down or answers 503, and keeps
 * serving meanwhile. The "server" here is the HTTP wrapper in the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "http/server.h"
#include "rk_test_agent.h"

typedef struct fake {
    pthread_mutex_t mu;
    int calls;
    char url[256];
    char auth[128];
} fake_t;

static void h_register(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    fake_t *f = ud;
    json_t *body = NULL;
    if (rk_http_req_json(req, resp, &body) != 0)
        return;
    pthread_mutex_lock(&f->mu);
    int n = ++f->calls;
    const char *u = json_string_value(json_object_get(body, "agent_url"));
    snprintf(f->url, sizeof f->url, "%s", u ? u : "");
    const char *auth = rk_http_req_header(req, "Authorization");
    snprintf(f->auth, sizeof f->auth, "%s", auth ? auth : "");
    pthread_mutex_unlock(&f->mu);
    json_decref(body);
    if (n == 1)
        rk_http_resp_error(resp, 503, "not ready yet"); /* the agent must retry */
    else
        rk_http_resp_json_take(
            resp, 200,
            json_pack("{s:s,s:s}", "agent_id", "x", "registered_at", "2026-01-01T00:00:00Z"));
}

static bool two_calls(void *ud)
{
    fake_t *f = ud;
    pthread_mutex_lock(&f->mu);
    bool done = f->calls >= 2;
    pthread_mutex_unlock(&f->mu);
    return done;
}

static bool registered_logged(void *p)
{
    return rk_test_proc_log_has(p, "registered with the server");
}

static void test_register_retries(void **state)
{
    (void)state;
    fake_t f = {.mu = PTHREAD_MUTEX_INITIALIZER};
    rk_http_config_t c;
    rk_http_config_init(&c);
    c.port = 0;
    rk_http_server_t *srv = NULL;
    assert_int_equal(rk_http_server_new(&c, &srv), 0);
    assert_int_equal(rk_http_server_route(srv, "POST", "/api/v1/agents/register", h_register, &f),
                     0);
    assert_int_equal(rk_http_server_start(srv), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)rk_http_server_port(srv));
    const char *args[] = {"--register-with", url, "--server-token", "srv-tok", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    assert_true(rk_test_wait_until(two_calls, &f, 10000));
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%u", (unsigned)a.p.port);
    pthread_mutex_lock(&f.mu);
    assert_string_equal(f.url, want);
    assert_string_equal(f.auth, "Bearer srv-tok");
    pthread_mutex_unlock(&f.mu);
    assert_true(rk_test_wait_until(registered_logged, &a.p, 5000));
    rk_test_sleep_ms(1200);
    pthread_mutex_lock(&f.mu);
    assert_int_equal(f.calls, 2); /* done once registered */
    pthread_mutex_unlock(&f.mu);
    rk_test_agent_cleanup(&a);
    rk_http_server_free(srv);
}

static bool retry_logged(void *p)
{
    return rk_test_proc_log_has(p, "cannot register with the server yet");
}

static void test_no_server_keeps_running(void **state)
{
    (void)state;
    const char *args[] = {"--register-with", "http://127.0.0.1:1", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    assert_true(rk_test_wait_until(retry_logged, &a.p, 5000));
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    rk_test_resp_cleanup(&r);
    /* And it still stops promptly while it waits to retry. */
    double t0 = rk_test_now_ms();
    rk_test_agent_cleanup(&a);
    assert_true(rk_test_now_ms() - t0 < 3000);
}

int main(void)
{
    rk_log_set_level(RK_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_retries),
        cmocka_unit_test(test_no_server_keeps_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
