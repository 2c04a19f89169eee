/* Serving the embedded dashboard files (see webui.h). */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "server/webui.h"

#define URL_PREFIX "/ui/"

/* Content-Security-Policy of every answer: the page loads nothing from
 * elsewhere and talks only to its own server. uPlot sizes its elements
 * through inline styles, hence 'unsafe-inline' for styles only. */
#define CSP                                                                                        \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                    \
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "               \
    "frame-ancestors 'none'"

const rk_webui_asset_t *rk_webui_find(const char *path)
{
    for (size_t i = 0; i < rk_webui_n_assets; i++)
        if (strcmp(rk_webui_assets[i].path, path) == 0)
            return &rk_webui_assets[i];
    return NULL;
}

/* If-None-Match holds one ETag, a list of them, or "*"; a weak one
 * (W/"...") matches too, as RFC 9110 asks for GET. */
static int etag_matches(const char *header, const char *etag)
{
    if (!header)
        return 0;
    if (strcmp(header, "*") == 0)
        return 1;
    size_t n = strlen(etag);
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ' || after == '\t')
            return 1;
    }
    return 0;
}

static void h_asset(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    const rk_webui_asset_t *a = ud;
    int rc;
    if (etag_matches(rk_http_req_header(req, "If-None-Match"), a->etag))
        rc = rk_http_resp_bytes(resp, 304, a->content_type, "", 0);
    else
        rc = rk_http_resp_bytes(resp, 200, a->content_type, a->data, a->len);
    if (rc)
        return; /* the wrapper answers 500 for an unset or failed response */
    rk_http_resp_header(resp, "ETag", a->etag);
    rk_http_resp_header(resp, "Cache-Control", "no-cache");
    rk_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
    rk_http_resp_header(resp, "Content-Security-Policy", CSP);
}

int rk_webui_register(rk_http_server_t *s)
{
    const rk_webui_asset_t *index = rk_webui_find("index.html");
    if (!index)
        return RK_ENOENT;
    /* The table is static, so handing out a const entry as userdata is
     * safe; the handler only reads it. */
    int rc = rk_http_server_route(s, "GET", "/", h_asset, (void *)index);
    char pattern[512];
    for (size_t i = 0; !rc && i < rk_webui_n_assets; i++) {
        const rk_webui_asset_t *a = &rk_webui_assets[i];
        int n = snprintf(pattern, sizeof pattern, URL_PREFIX "%s", a->path);
        if (n < 0 || (size_t)n >= sizeof pattern)
            return RK_EINVAL;
        rc = rk_http_server_route(s, "GET", pattern, h_asset, (void *)a);
    }
    return rc;
}
