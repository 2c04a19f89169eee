/* Fuzzes the path router: the input's first line is "METHOD PATH", matched
 * against a fixed table. Aborts when a structural invariant breaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

static int T[6];

static rk_router_t *table(void)
{
    static rk_router_t *r;
    if (r)
        return r;
    if (rk_router_new(&r) != 0)
        abort();
    const char *routes[][2] = {
        {"GET", "/health"},
        {"GET", "/api/v1/status/{job_id}"},
        {"GET", "/api/v1/jobs/{job_id}/logs"},
        {"GET", "/api/v1/jobs/stats"},
        {"DELETE", "/api/v1/jobs/{id}"},
        {"POST", "/api/v1/experiments/{exp}/jobs/{n}/"},
    };
    for (int i = 0; i < 6; i++)
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
            if (!m->values[i][0] || strchr(m->values[i], '/'))
                abort();
    } else if (m->target) {
        abort();
    }
    if (res == RK_ROUTE_NO_METHOD && !m->allow[0])
        abort();
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

    static rk_route_match_t m1, m2; /* large: keep them off the stack */
    rk_route_result_t r1 = rk_router_match(r, method, path, &m1);
    check(&m1, r1);
    size_t plen = strlen(path);
    if (plen == 0 || path[plen - 1] == '/')
        return 0;
    /* A trailing slash means the same path: same result and parameters. */
    path[plen] = '/';
    path[plen + 1] = '\0';
    rk_route_result_t r2 = rk_router_match(r, method, path, &m2);
    check(&m2, r2);
    if (plen + 1 > RK_ROUTER_PATH_MAX)
        return 0; /* the longer one may exceed the length cap */
    if (r1 != r2 || m1.target != m2.target || m1.nparams != m2.nparams ||
        strcmp(m1.allow, m2.allow) != 0)
        abort();
    for (size_t i = 0; i < m1.nparams; i++)
        if (strcmp(m1.names[i], m2.names[i]) != 0 || strcmp(m1.values[i], m2.values[i]) != 0)
            abort();
    return 0;
}
