/* The embedded dashboard: the generated asset table and the routes that
 * serve it, over a real HTTP server on a random loopback port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "base/buf.h"
#include "server/webui.h"

typedef struct {
    long status;
    rk_buf_t body;
    rk_buf_t headers;
} reply_t;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    return rk_buf_add(ud, p, sz * n) == 0 ? sz * n : 0;
}

/* GET path with an optional If-None-Match; fills r (cleanup by caller). */
static void get(uint16_t port, const char *path, const char *inm, reply_t *r)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    rk_buf_init(&r->body, 1 << 20);
    rk_buf_init(&r->headers, 1 << 16);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *h = NULL;
    char line[128];
    if (inm) {
        snprintf(line, sizeof line, "If-None-Match: %s", inm);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    rk_buf_add(&r->headers, "", 1); /* NUL-terminate for strstr */
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void reply_cleanup(reply_t *r)
{
    rk_buf_cleanup(&r->body);
    rk_buf_cleanup(&r->headers);
}

static void test_table(void **state)
{
    (void)state;
    assert_true(rk_webui_n_assets >= 3);
    const rk_webui_asset_t *index = rk_webui_find("index.html");
    assert_non_null(index);
    assert_string_equal(index->content_type, "text/html; charset=utf-8");
    assert_non_null(strstr((const char *)index->data, "/ui/js/app.js"));
    assert_int_equal(index->data[index->len], 0);
    const rk_webui_asset_t *uplot = rk_webui_find("vendor/uPlot.esm.js");
    assert_non_null(uplot);
    assert_string_equal(uplot->content_type, "text/javascript; charset=utf-8");
    assert_true(uplot->len > 10000);
    assert_null(rk_webui_find("nope.js"));
    assert_null(rk_webui_assets[rk_webui_n_assets].path);
    /* Every ETag is quoted, and different files have different ones. */
    for (size_t i = 0; i < rk_webui_n_assets; i++) {
        const char *e = rk_webui_assets[i].etag;
        assert_int_equal(e[0], '"');
        assert_int_equal(e[strlen(e) - 1], '"');
        if (i)
            assert_string_not_equal(e, rk_webui_assets[i - 1].etag);
    }
}

static void test_serve(void **state)
{
    (void)state;
    rk_http_config_t cfg;
    rk_http_config_init(&cfg);
    cfg.token = "secret"; /* the page loads without it; the API would not */
    rk_http_server_t *s = NULL;
    assert_int_equal(rk_http_server_new(&cfg, &s), 0);
    assert_int_equal(rk_webui_register(s), 0);
    assert_int_equal(rk_http_server_start(s), 0);
    uint16_t port = rk_http_server_port(s);
    const rk_webui_asset_t *index = rk_webui_find("index.html");
    const rk_webui_asset_t *app = rk_webui_find("js/app.js");
    assert_non_null(app);

    reply_t r;
    get(port, "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, index->len);
    assert_memory_equal(r.body.data, index->data, index->len);
    assert_non_null(strstr(r.headers.data, "Content-Type: text/html; charset=utf-8"));
    assert_non_null(strstr(r.headers.data, index->etag));
    assert_non_null(strstr(r.headers.data, "Cache-Control: no-cache"));
    reply_cleanup(&r);

    get(port, "/ui/js/app.js", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, app->len);
    assert_non_null(strstr(r.headers.data, "Content-Type: text/javascript"));
    reply_cleanup(&r);

    /* A matching validator (alone, in a list, or weak) is answered 304. */
    get(port, "/ui/js/app.js", app->etag, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.body.len, 0);
    reply_cleanup(&r);
    char list[96];
    snprintf(list, sizeof list, "\"zzz\", W/%s", app->etag);
    get(port, "/ui/js/app.js", list, &r);
    assert_int_equal(r.status, 304);
    reply_cleanup(&r);
    get(port, "/ui/js/app.js", "\"other\"", &r);
    assert_int_equal(r.status, 200);
    reply_cleanup(&r);
    /* Another file's ETag does not match. */
    get(port, "/ui/js/app.js", index->etag, &r);
    assert_int_equal(r.status, 200);
    reply_cleanup(&r);

    get(port, "/ui/nope.js", NULL, &r);
    assert_int_equal(r.status, 404);
    reply_cleanup(&r);
    get(port, "/ui/../index.html", NULL, &r);
    assert_int_not_equal(r.status, 200);
    reply_cleanup(&r);

    rk_http_server_free(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_serve),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
