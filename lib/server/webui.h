/* The web dashboard: static files embedded in the server binary.
 *
 * The build (cmake/embed.cmake) turns every file under web/ into one entry
 * of rk_webui_assets[]; rk_webui_register serves them: GET / answers
 * index.html, GET /ui/<path> the file at <path> under web/ ("/ui/js/app.js",
 * "/ui/vendor/uPlot.esm.js"). None of these is under /api/v1, so loading
 * the page needs no token; the page itself asks for one when the API
 * answers 401 (docs/dashboard.md).
 *
 * Answers carry the file's Content-Type, `Cache-Control: no-cache` and an
 * ETag (a hash of the file's bytes, fixed at build time): the browser keeps
 * its copy and revalidates it, and an If-None-Match that matches is
 * answered 304 with no body. Paths are not fingerprinted, so the ES module
 * imports between the files stay plain relative URLs.
 */
#ifndef RK_SERVER_WEBUI_H
#define RK_SERVER_WEBUI_H

#include <stddef.h>

#include "http/server.h"

typedef struct rk_webui_asset {
    const char *path;         /* relative to web/, '/'-separated: "js/app.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const char *etag;         /* quoted: "\"9f86d081884c7d659a2f\"" */
    const unsigned char *data;
    size_t len; /* bytes, excluding the NUL the build appends */
} rk_webui_asset_t;

/* Generated at build time; n entries, then one all-zero entry. Static data,
 * never freed. */
extern const rk_webui_asset_t rk_webui_assets[];
extern const size_t rk_webui_n_assets;

/* The embedded file at path (relative to web/), or NULL. */
const rk_webui_asset_t *rk_webui_find(const char *path);

/* Registers GET / and GET /ui/<path> for every embedded file on s (before
 * rk_http_server_start). RK_ENOENT when index.html is not embedded,
 * RK_EINVAL / RK_EEXIST / RK_ESTATE / RK_ENOMEM from
 * rk_http_server_route. */
int rk_webui_register(rk_http_server_t *s);

#endif
