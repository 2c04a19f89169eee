/* GET /api/v1/openapi.json on the agent and its drift test: the document
 * (docs/openapi/agent.json, embedded at build time) must list exactly the
 * routes the agent registers (method, path template, path parameter
 * names), and a started agent must serve the source file byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/internal.h"
#include "agent/openapi.h"
#include "base/log.h"
#include "exec/supervisor.h"
#include "http/client.h"
#include "rk_test.h"
#include "rk_test_openapi.h"

#define DOC "docs/openapi/agent.json"

typedef struct fixture {
    char *dir;
    char data[512];
    rk_agent_settings_t s;
    rk_agent_t *a;
} fixture_t;

/* An agent in a fresh folder, started on a free loopback port (its routes
 * are registered at start). */
static void start(fixture_t *f, const char *token)
{
    f->dir = rk_test_tmpdir();
    assert_non_null(f->dir);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    rk_agent_settings_t s = {.host = "127.0.0.1",
                             .port = 0,
                             .data_dir = f->data,
                             .slots = 1,
                             .name = "openapi",
                             .models_dir = f->data,
                             .retention_days = 7,
                             .grace = 0.2,
                             .log_cap = 1 << 20,
                             .log_level = RK_LOG_WARN,
                             .token = (char *)token};
    f->s = s;
    assert_int_equal(rk_agent_new(&f->s, &f->a), 0);
    assert_int_equal(rk_agent_start(f->a), 0);
}

static void stop(fixture_t *f)
{
    rk_agent_free(f->a);
    rk_test_rmrf(f->dir);
    free(f->dir);
}

static json_t *load_doc(void)
{
    size_t len = 0;
    char *text = rk_test_source_file(DOC, &len);
    assert_non_null(text);
    json_error_t je;
    json_t *doc = json_loadb(text, len, 0, &je);
    if (!doc)
        fprintf(stderr, "%s: line %d: %s\n", DOC, je.line, je.text);
    assert_non_null(doc);
    free(text);
    return doc;
}

static void test_embedded_is_source(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = rk_test_source_file(DOC, &len);
    assert_non_null(text);
    assert_int_equal(rk_openapi_agent_len, len);
    assert_memory_equal(rk_openapi_agent, text, len);
    free(text);
    json_t *doc = load_doc();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    json_decref(doc);
}

/* The drift test, then the served document, on one started agent. */
static void test_no_drift_and_served(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, NULL);
    json_t *doc = load_doc();
    assert_int_equal(rk_test_openapi_drift(f.a->http, doc, NULL, NULL, DOC), 0);

    /* The check fails on a mismatch both ways. */
    json_t *paths = json_object_get(doc, "paths");
    json_t *item = json_deep_copy(json_object_get(paths, "/api/v1/status/{job_id}"));
    json_object_del(paths, "/api/v1/status/{job_id}");
    assert_int_equal(rk_test_openapi_drift(f.a->http, doc, NULL, NULL, "mutated"), 1);
    json_object_set_new(paths, "/api/v1/status/{id}", item);
    assert_int_equal(rk_test_openapi_drift(f.a->http, doc, NULL, NULL, "mutated"), 3);
    json_decref(doc);

    size_t len = 0;
    char *text = rk_test_source_file(DOC, &len);
    assert_non_null(text);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/openapi.json",
             (unsigned)rk_agent_port(f.a));
    rk_test_resp_t r;
    assert_int_equal(rk_test_http("GET", url, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, text, len);
    char ctype[128];
    assert_true(rk_test_resp_header(&r, "Content-Type", ctype, sizeof ctype));
    assert_string_equal(ctype, "application/json");
    assert_non_null(r.json);
    rk_test_resp_cleanup(&r);
    free(text);
    stop(&f);
}

/* Under /api/v1: with a token configured, the document needs it too. */
static void test_token(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, "s3cret");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/openapi.json",
             (unsigned)rk_agent_port(f.a));
    rk_test_resp_t r;
    assert_int_equal(rk_test_http("GET", url, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    assert_non_null(json_object_get(r.json, "detail"));
    rk_test_resp_cleanup(&r);
    assert_int_equal(rk_test_http("GET", url, NULL, 0, "s3cret", &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, rk_openapi_agent_len);
    rk_test_resp_cleanup(&r);
    stop(&f);
}

int main(void)
{
    rk_exec_init();
    rk_http_global_init();
    rk_log_set_level(RK_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_is_source),
        cmocka_unit_test(test_no_drift_and_served),
        cmocka_unit_test(test_token),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rk_http_global_cleanup();
    return rc;
}
