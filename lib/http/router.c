#include "http/router.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "http/url.h"

#define RK_ROUTER_STR2(x) #x
#define RK_ROUTER_STR(x) RK_ROUTER_STR2(x)

typedef struct seg {
    char *text; /* literal text, or the parameter name without braces */
    bool param;
} seg_t;

typedef struct route {
    char *method;
    size_t nsegs;
    seg_t segs[RK_ROUTER_MAX_SEGS];
    /* Bit (MAX_SEGS-1-i) is set when segment i is a literal, so comparing
     * two masks numerically finds the route whose first difference is a
     * literal. */
    uint32_t literal_mask;
    void *target;
} route_t;

struct rk_router {
    route_t *routes;
    size_t n, size;
    rk_route_check_fn check;
};

void rk_router_set_check(rk_router_t *r, rk_route_check_fn check)
{
    r->check = check;
}

int rk_router_new(rk_router_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : RK_ENOMEM;
}

static void route_cleanup(route_t *rt)
{
    free(rt->method);
    for (size_t i = 0; i < rt->nsegs; i++)
        free(rt->segs[i].text);
}

void rk_router_free(rk_router_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        route_cleanup(&r->routes[i]);
    free(r->routes);
    free(r);
}

/* Splits path (starting with '/') into segments inside buf, which must hold
 * strlen(path)+1 bytes. A trailing empty segment is dropped; any other
 * empty segment makes the path invalid (-1). Returns the segment count. */
static int split_path(const char *path, char *buf, size_t bufsize, char **segs)
{
    size_t len = strlen(path);
    if (len == 0 || path[0] != '/' || len >= bufsize)
        return -1;
    memcpy(buf, path + 1, len); /* includes the NUL */
    if (len > 1 && buf[len - 2] == '/')
        buf[len - 2] = '\0'; /* trailing slash */
    if (buf[0] == '\0')
        return 0; /* "/" */
    int n = 0;
    char *p = buf;
    for (;;) {
        if (n == RK_ROUTER_MAX_SEGS)
            return -1;
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (*p == '\0')
            return -1;
        segs[n++] = p;
        if (!slash)
            return n;
        p = slash + 1;
    }
}

static bool same_shape(const route_t *a, const route_t *b)
{
    if (a->nsegs != b->nsegs)
        return false;
    for (size_t i = 0; i < a->nsegs; i++) {
        if (a->segs[i].param != b->segs[i].param)
            return false;
        if (!a->segs[i].param && strcmp(a->segs[i].text, b->segs[i].text) != 0)
            return false;
    }
    return true;
}

static int parse_pattern(const char *pattern, route_t *rt)
{
    char buf[RK_ROUTER_PATH_MAX + 1];
    char *segs[RK_ROUTER_MAX_SEGS];
    int n = split_path(pattern, buf, sizeof buf, segs);
    if (n < 0)
        return RK_EINVAL;
    size_t nparams = 0;
    for (int i = 0; i < n; i++) {
        char *s = segs[i];
        size_t len = strlen(s);
        bool param = s[0] == '{';
        if (param) {
            if (len < 3 || s[len - 1] != '}' || memchr(s + 1, '{', len - 2) ||
                memchr(s + 1, '}', len - 2))
                return RK_EINVAL;
            if (++nparams > RK_ROUTER_MAX_PARAMS)
                return RK_EINVAL;
            s[len - 1] = '\0';
            s++;
            for (int j = 0; j < i; j++)
                if (rt->segs[j].param && strcmp(rt->segs[j].text, s) == 0)
                    return RK_EINVAL;
        } else if (strchr(s, '{') || strchr(s, '}')) {
            return RK_EINVAL;
        }
        rt->segs[i].param = param;
        rt->segs[i].text = strdup(s);
        rt->nsegs = (size_t)i + 1;
        if (!rt->segs[i].text)
            return RK_ENOMEM;
        if (!param)
            rt->literal_mask |= UINT32_C(1) << (RK_ROUTER_MAX_SEGS - 1 - i);
    }
    return 0;
}

int rk_router_add(rk_router_t *r, const char *method, const char *pattern, void *target)
{
    route_t rt = {.target = target};
    int err = RK_EINVAL;
    if (!method || !*method || !pattern)
        goto out;
    err = parse_pattern(pattern, &rt);
    if (err)
        goto out;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->routes[i].method, method) == 0 && same_shape(&r->routes[i], &rt)) {
            err = RK_EEXIST;
            goto out;
        }
    }
    err = RK_ENOMEM;
    rt.method = strdup(method);
    if (!rt.method)
        goto out;
    if (r->n == r->size) {
        size_t size = r->size ? r->size * 2 : 16;
        route_t *routes = realloc(r->routes, size * sizeof *routes);
        if (!routes)
            goto out;
        r->routes = routes;
        r->size = size;
    }
    r->routes[r->n++] = rt;
    return 0;
out:
    route_cleanup(&rt);
    return err;
}

static bool route_fits(const route_t *rt, char *const *segs, size_t n)
{
    if (rt->nsegs != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!rt->segs[i].param && strcmp(rt->segs[i].text, segs[i]) != 0)
            return false;
    return true;
}

/* Appends method to the comma-separated list unless already there. */
static void allow_add(char *allow, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *p = allow; *p;) {
        size_t l = strcspn(p, ",");
        if (l == mlen && memcmp(p, method, mlen) == 0)
            return;
        p += l;
        while (*p == ',' || *p == ' ')
            p++;
    }
    size_t len = strlen(allow);
    size_t need = (len ? 2 : 0) + mlen + 1;
    if (len + need > RK_ROUTER_ALLOW_MAX)
        return; /* a path with that many methods does not exist in practice */
    if (len) {
        memcpy(allow + len, ", ", 2);
        len += 2;
    }
    memcpy(allow + len, method, mlen + 1);
}

rk_route_result_t rk_router_match(const rk_router_t *r, const char *method, const char *path,
                                  rk_route_match_t *m)
{
    char *segs[RK_ROUTER_MAX_SEGS];
    m->target = NULL;
    m->nparams = 0;
    m->allow[0] = '\0';
    m->why = NULL;
    m->bad = 0;
    if (strnlen(path, RK_ROUTER_PATH_MAX + 1) > RK_ROUTER_PATH_MAX) {
        m->why = "path over " RK_ROUTER_STR(RK_ROUTER_PATH_MAX) " bytes";
        return RK_ROUTE_BAD_PATH;
    }
    /* The whole path first: an encoded NUL is refused wherever it is, even
     * in a path no route could match. */
    size_t plen = strlen(path);
    memcpy(m->scratch, path, plen + 1);
    rk_url_err_t uerr = rk_url_decode(m->scratch, plen, false, NULL);
    if (uerr != RK_URL_OK) {
        m->why = rk_url_strerror(uerr);
        return RK_ROUTE_BAD_PATH;
    }
    int n = split_path(path, m->scratch, sizeof m->scratch, segs);
    if (n < 0)
        return RK_ROUTE_NO_PATH;
    for (int i = 0; i < n; i++)
        rk_url_decode(segs[i], strlen(segs[i]), false, NULL); /* checked above */
    const route_t *best = NULL;
    bool path_known = false;
    for (size_t i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        if (!route_fits(rt, segs, (size_t)n))
            continue;
        path_known = true;
        allow_add(m->allow, rt->method);
        if (strcmp(rt->method, method) == 0 && (!best || rt->literal_mask > best->literal_mask))
            best = rt;
    }
    if (!best)
        return path_known ? RK_ROUTE_NO_METHOD : RK_ROUTE_NO_PATH;
    m->target = best->target;
    for (size_t i = 0; i < best->nsegs; i++) {
        if (!best->segs[i].param)
            continue;
        m->names[m->nparams] = best->segs[i].text;
        m->values[m->nparams] = segs[i];
        m->nparams++;
    }
    for (size_t i = 0; r->check && i < m->nparams; i++) {
        if (!r->check(m->values[i])) {
            m->bad = i;
            m->target = NULL;
            return RK_ROUTE_BAD_PARAM;
        }
    }
    return RK_ROUTE_FOUND;
}

const char *rk_route_param(const rk_route_match_t *m, const char *name)
{
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->names[i], name) == 0)
            return m->values[i];
    return NULL;
}

int rk_router_each(const rk_router_t *r, rk_route_each_fn fn, void *ud)
{
    for (size_t i = 0; i < r->n; i++) {
        const route_t *rt = &r->routes[i];
        /* Each segment was cut from a pattern of at most PATH_MAX bytes and
         * gains at most "/{}" here. */
        char pattern[RK_ROUTER_PATH_MAX + 3 * RK_ROUTER_MAX_SEGS + 2];
        size_t len = 0;
        for (size_t k = 0; k < rt->nsegs; k++) {
            const seg_t *sg = &rt->segs[k];
            int n = snprintf(pattern + len, sizeof pattern - len, sg->param ? "/{%s}" : "/%s",
                             sg->text);
            if (n < 0 || (size_t)n >= sizeof pattern - len)
                return RK_EINVAL; /* cannot happen: patterns are bounded */
            len += (size_t)n;
        }
        if (len == 0)
            memcpy(pattern, "/", 2);
        int rc = fn(rt->method, pattern, rt->target, ud);
        if (rc)
            return rc;
    }
    return 0;
}
