/* Fuzzes the path router: the input's first line is "METHOD PATH", matched
 * raw against a fixed table. Aborts when an invariant breaks:
 *  - a result's fields agree with it (a target only when FOUND, a reason
 *    when BAD_PATH, parameter values that pass the check);
 *  - an encoded NUL or a broken '%' escape is always BAD_PATH;
 *  - a trailing slash means the same path;
 *  - the route matched from the decoded path is the route of the raw path,
 *    whenever decoding neither makes a new '/' nor leaves a '%'. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"
#include "http/url.h"

static int T[7];

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static rk_router_t *table(void)
{
    static rk_router_t *r;
    if (r)
        return r;
    if (rk_router_new(&r) != 0)
        abort();
    rk_router_set_check(r, id_ok);
    const char *routes[][2] = {
        {"GET", "/health"},
        {"GET", "/api/v1/status/{job_id}"},
        {"GET", "/api/v1/jobs/{job_id}/logs"},
        {"GET", "/api/v1/jobs/stats"},
        {"DELETE", "/api/v1/jobs/{id}"},
        {"POST", "/api/v1/experiments/{exp}/jobs/{n}/"},
        {"GET", "/api/v1/jobs"},
    };
    for (int i = 0; i < 7; i++)
        if (rk_router_add(r, routes[i][0], routes[i][1], &T[i]) != 0)
            abort();
    return r;
}

static void check(const rk_route_match_t *m, rk_route_result_t res)
{
    if (res == RK_ROUTE_FOUND) {
        if (!m->target || m->nparams > RK_ROUTER_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < m->nparams; i++)
            if (!id_ok(m->values[i]))
                abort();
    } else if (m->target) {
        abort();
    }
    if (res == RK_ROUTE_NO_METHOD && !m->allow[0])
        abort();
    if (res == RK_ROUTE_BAD_PATH && !m->why)
        abort();
    if (res == RK_ROUTE_BAD_PARAM && (m->bad >= m->nparams || id_ok(m->values[m->bad])))
        abort();
}

static bool same(rk_route_result_t r1, const rk_route_match_t *m1, rk_route_result_t r2,
                 const rk_route_match_t *m2)
{
    if (r1 != r2 || m1->target != m2->target || m1->nparams != m2->nparams ||
        strcmp(m1->allow, m2->allow) != 0)
        return false;
    for (size_t i = 0; i < m1->nparams; i++)
        if (strcmp(m1->names[i], m2->names[i]) != 0 || strcmp(m1->values[i], m2->values[i]) != 0)
            return false;
    return true;
}

/* True when path holds "%00" or a '%' without two hex digits after it. */
static bool badly_encoded(const char *path)
{
    for (const char *p = path; (p = strchr(p, '%')); p++) {
        if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
            return true;
        if (p[1] == '0' && p[2] == '0')
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[RK_ROUTER_PATH_MAX + 64];
    size_t n = 0;
    while (n < size && n < sizeof line - 2 && data[n] != '\n' && data[n] != '\0') {
        line[n] = (char)data[n];
        n++;
    }
    line[n] = '\0';
    char *sp = strchr(line, ' ');
    if (!sp)
        return 0;
    *sp = '\0';
    const char *method = line;
    char *path = sp + 1;
    rk_router_t *r = table();

    static rk_route_match_t m1, m2, m3; /* large: keep them off the stack */
    rk_route_result_t r1 = rk_router_match(r, method, path, &m1);
    check(&m1, r1);
    size_t plen = strlen(path);
    if (plen <= RK_ROUTER_PATH_MAX && badly_encoded(path) != (r1 == RK_ROUTE_BAD_PATH))
        abort();

    /* The decoded path routes as the raw one did. */
    static char dec[RK_ROUTER_PATH_MAX + 64];
    memcpy(dec, path, plen + 1);
    size_t dlen;
    if (plen <= RK_ROUTER_PATH_MAX && rk_url_decode(dec, plen, false, &dlen) == RK_URL_OK &&
        !strchr(dec, '%')) {
        size_t slashes_raw = 0, slashes_dec = 0;
        for (const char *p = path; *p; p++)
            slashes_raw += *p == '/';
        for (const char *p = dec; *p; p++)
            slashes_dec += *p == '/';
        if (slashes_raw == slashes_dec) {
            rk_route_result_t r3 = rk_router_match(r, method, dec, &m3);
            check(&m3, r3);
            if (!same(r1, &m1, r3, &m3))
                abort();
        }
    }

    if (plen == 0 || path[plen - 1] == '/')
        return 0;
    /* A trailing slash means the same path: same result and parameters. */
    path[plen] = '/';
    path[plen + 1] = '\0';
    rk_route_result_t r2 = rk_router_match(r, method, path, &m2);
    check(&m2, r2);
    if (plen + 1 > RK_ROUTER_PATH_MAX)
        return 0; /* the longer one may exceed the length cap */
    if (!same(r1, &m1, r2, &m2))
        abort();
    return 0;
}
