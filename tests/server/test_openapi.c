/* GET /api/v1/openapi.json on the server and its drift test: the document
 * (docs/openapi/server.json, embedded at build time) must list exactly the
 * routes the server registers (method, path template, path parameter
 * names), and the served bytes must be the source file's. The dashboard's
 * files (GET /ui/<file>, one route each) are documented as a whole by
 * GET /, so they are the only routes left out of the comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/config.h"
#include "base/log.h"
#include "http/client.h"
#include "rk_test.h"
#include "rk_test_openapi.h"
#include "server/internal.h"
#include "server/openapi.h"
#include "server/server.h"
#include "server/settings.h"
#include "server/webui.h"

#define DOC "docs/openapi/server.json"

typedef struct fixture {
    rk_server_settings_t s;
    rk_server_t *srv;
} fixture_t;

/* A server on memory storage and a free loopback port, not started. */
static void make(fixture_t *f, const char *token)
{
    char *argv[] = {"ruckus-server", "--storage", "memory",  "--host",     "127.0.0.1",
                    "--port",        "0",         "--token", (char *)token};
    int argc = token ? 9 : 7;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    assert_int_equal(rk_server_settings_load(argc, argv, &f->s, &res, err, sizeof err), 0);
    assert_int_equal(res.action, RK_CONFIG_RUN);
    assert_int_equal(rk_server_new(&f->s, &f->srv), 0);
}

static void unmake(fixture_t *f)
{
    rk_server_free(f->srv);
    rk_server_settings_cleanup(&f->s);
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

/* The dashboard's files: GET /ui/<an embedded file>; counted in *ud. */
static bool skip_dashboard(const char *method, const char *pattern, void *ud)
{
    if (strcmp(method, "GET") != 0 || strncmp(pattern, "/ui/", 4) != 0 ||
        !rk_webui_find(pattern + 4))
        return false;
    ++*(size_t *)ud;
    return true;
}

/* The embedded bytes are the source file's, and it is an OpenAPI 3.1
 * document of this server. */
static void test_embedded_is_source(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = rk_test_source_file(DOC, &len);
    assert_non_null(text);
    assert_int_equal(rk_openapi_server_len, len);
    assert_memory_equal(rk_openapi_server, text, len);
    assert_int_equal(rk_openapi_server[len], 0);
    free(text);
    json_t *doc = load_doc();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/api/v1/openapi.json"));
    json_decref(doc);
}

/* The drift test: every registered route is documented and every
 * documented operation is registered. */
static void test_no_drift(void **state)
{
    (void)state;
    fixture_t f;
    make(&f, NULL);
    json_t *doc = load_doc();
    size_t skipped = 0;
    assert_int_equal(rk_test_openapi_drift(f.srv->http, doc, skip_dashboard, &skipped, DOC), 0);
    /* Only the dashboard's files were left out, every one of them. */
    assert_int_equal(skipped, rk_webui_n_assets);
    json_decref(doc);
    unmake(&f);
}

/* The check itself fails on a mismatch: a route missing from the
 * document, an operation the server does not have, a renamed parameter. */
static void test_drift_detected(void **state)
{
    (void)state;
    fixture_t f;
    make(&f, NULL);
    json_t *doc = load_doc();
    json_t *paths = json_object_get(doc, "paths");
    size_t skipped = 0;
    /* 1: GET /api/v1/compare registered, not documented. */
    assert_int_equal(json_object_del(paths, "/api/v1/compare"), 0);
    assert_int_equal(rk_test_openapi_drift(f.srv->http, doc, skip_dashboard, &skipped, "mutated"),
                     1);
    /* +1: an operation nobody registered. */
    json_object_set_new(paths, "/api/v1/jobs/{job_id}/frobnicate",
                        json_pack("{s:{s:[{s:s,s:s,s:b}],s:{}}}", "post", "parameters", "name",
                                  "job_id", "in", "path", "required", 1, "responses"));
    assert_int_equal(rk_test_openapi_drift(f.srv->http, doc, skip_dashboard, &skipped, "mutated"),
                     2);
    /* +1: a method added to a documented path. */
    json_object_set_new(json_object_get(paths, "/api/v1/agents"), "delete",
                        json_pack("{s:{}}", "responses"));
    assert_int_equal(rk_test_openapi_drift(f.srv->http, doc, skip_dashboard, &skipped, "mutated"),
                     3);
    json_decref(doc);

    /* A path parameter named differently in the template ({id} for
     * {job_id}): both directions differ, and the declared parameter no
     * longer matches its template. */
    doc = load_doc();
    paths = json_object_get(doc, "paths");
    json_t *item = json_object_get(paths, "/api/v1/jobs/{job_id}/logs");
    json_object_set(paths, "/api/v1/jobs/{id}/logs", item);
    json_object_del(paths, "/api/v1/jobs/{job_id}/logs");
    assert_int_equal(rk_test_openapi_drift(f.srv->http, doc, skip_dashboard, &skipped, "renamed"),
                     3);
    json_decref(doc);

    /* A declared path parameter with another name than the template's. */
    doc = load_doc();
    json_t *params = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "paths"), "/api/v1/results/{job_id}"),
                        "get"),
        "parameters");
    json_object_set_new(json_array_get(params, 0), "name", json_string("id"));
    assert_int_equal(rk_test_openapi_drift(f.srv->http, doc, skip_dashboard, &skipped, "param"), 1);
    json_decref(doc);
    unmake(&f);
}

/* What a started server serves is the source file, byte for byte, as JSON;
 * it lives under /api/v1, so with a token it needs the token. */
static void test_served(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = rk_test_source_file(DOC, &len);
    assert_non_null(text);
    fixture_t f;
    make(&f, NULL);
    assert_int_equal(rk_server_start(f.srv), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/openapi.json",
             (unsigned)rk_server_port(f.srv));
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
    unmake(&f);

    make(&f, "s3cret");
    assert_int_equal(rk_server_start(f.srv), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/v1/openapi.json",
             (unsigned)rk_server_port(f.srv));
    assert_int_equal(rk_test_http("GET", url, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    assert_non_null(json_object_get(r.json, "detail"));
    rk_test_resp_cleanup(&r);
    assert_int_equal(rk_test_http("GET", url, NULL, 0, "s3cret", &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, text, len);
    rk_test_resp_cleanup(&r);
    unmake(&f);
    free(text);
}

int main(void)
{
    rk_http_global_init();
    rk_log_set_level(RK_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_is_source),
        cmocka_unit_test(test_no_drift),
        cmocka_unit_test(test_drift_detected),
        cmocka_unit_test(test_served),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rk_http_global_cleanup();
    return rc;
}
