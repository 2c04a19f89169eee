/* Path router: method + path pattern -> registered target, with named
 * parameters ("/api/v1/status/{job_id}").
 *
 * Independent of the HTTP library so it can be unit-tested and fuzzed alone.
 * A path is matched raw, as it came on the request line: it is split at its
 * '/' first and each segment percent-decoded after (url.h), so "%2f" stays
 * inside its segment and an encoded NUL is refused before anything looks at
 * the path; a route matched from a decoded path is the route of its raw
 * form. A parameter value must also pass the router's check (see
 * rk_router_set_check), so no handler sees an id it could not store.
 * A pattern is '/'-separated segments, each a literal or "{name}" which
 * matches one non-empty segment. A trailing slash on a path or pattern is
 * ignored ("/experiments/" is "/experiments"); an empty interior segment
 * ("/a//b") never matches. When several patterns match, the one whose first
 * literal/parameter difference is a literal wins ("/jobs/stats" beats
 * "/jobs/{id}"); among equals the first registered wins. Matching is a
 * linear scan with a few string compares per route: fine for the few dozen
 * routes a daemon has.
 *
 * Threading: register every route before matching starts; matching is then
 * read-only and safe from any number of threads.
 */
#ifndef RK_HTTP_ROUTER_H
#define RK_HTTP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#define RK_ROUTER_MAX_SEGS 16   /* segments in a pattern or routable path */
#define RK_ROUTER_MAX_PARAMS 8  /* parameters in one pattern */
#define RK_ROUTER_PATH_MAX 1024 /* longest routable path, bytes */
#define RK_ROUTER_ALLOW_MAX 128 /* room for the Allow list of one path */

typedef struct rk_router rk_router_t;

typedef enum rk_route_result {
    RK_ROUTE_FOUND = 0,     /* method and path match */
    RK_ROUTE_NO_PATH = 1,   /* no pattern matches the path: 404 */
    RK_ROUTE_NO_METHOD = 2, /* the path matches, not for this method: 405 */
    RK_ROUTE_BAD_PATH = 3,  /* the path cannot be read (encoded NUL, bad '%',
                               over RK_ROUTER_PATH_MAX): 400, m->why says why */
    RK_ROUTE_BAD_PARAM = 4, /* found, but parameter m->bad fails the check: 400 */
} rk_route_result_t;

/* Checks one decoded parameter value; true when acceptable. */
typedef bool (*rk_route_check_fn)(const char *value);

/* Result of one lookup. Parameter names point into the router (valid while
 * it lives); values point into `scratch` (valid while the match lives). */
typedef struct rk_route_match {
    void *target; /* as registered; NULL unless FOUND */
    size_t nparams;
    const char *names[RK_ROUTER_MAX_PARAMS];
    const char *values[RK_ROUTER_MAX_PARAMS];
    char allow[RK_ROUTER_ALLOW_MAX]; /* "GET, POST" for NO_METHOD (and FOUND) */
    const char *why;                 /* BAD_PATH: a static reason */
    size_t bad;                      /* BAD_PARAM: index into names/values */
    char scratch[RK_ROUTER_PATH_MAX + 1];
} rk_route_match_t;

/* Creates an empty router; free with rk_router_free. RK_ENOMEM. */
int rk_router_new(rk_router_t **out);
/* Frees the router and its routes; NULL is a no-op. */
void rk_router_free(rk_router_t *r);

/* Registers method (e.g. "GET", case-sensitive) on pattern; target is
 * borrowed and handed back by matches. RK_EINVAL for a malformed pattern
 * (not starting with '/', empty or unclosed "{}", a parameter not filling
 * its segment, too many segments or parameters, a repeated parameter
 * name), RK_EEXIST for the same method on an equivalent pattern, RK_ENOMEM. */
int rk_router_add(rk_router_t *r, const char *method, const char *pattern, void *target);

/* Sets the check every parameter value must pass (NULL: any non-empty
 * value); before matching starts. */
void rk_router_set_check(rk_router_t *r, rk_route_check_fn check);

/* Looks up method + raw path (no query string). Fills *m. BAD_PATH comes
 * before any route is looked at; a path too deep for any route is
 * NO_PATH; BAD_PARAM only for a path and method that match. */
rk_route_result_t rk_router_match(const rk_router_t *r, const char *method, const char *path,
                                  rk_route_match_t *m);

/* The value of parameter `name` in a match, or NULL. */
const char *rk_route_param(const rk_route_match_t *m, const char *name);

/* One registered route, for rk_router_each: method as registered, the
 * pattern in its canonical spelling ('/' + segments joined by '/', no
 * trailing slash, "/" for the root, parameters as "{name}"), and the
 * target. The strings are valid during the call only. */
typedef int (*rk_route_each_fn)(const char *method, const char *pattern, void *target, void *ud);

/* Calls fn for every route in registration order; stops at the first
 * non-zero return of fn and returns it (0 when every call returned 0).
 * Read-only: safe while matching goes on. */
int rk_router_each(const rk_router_t *r, rk_route_each_fn fn, void *ud);

#endif
