/* Path router: method + path pattern -> registered target, with named
 * parameters ("/api/v1/status/{job_id}").
 *
 * Independent of the HTTP library so it can be unit-tested and fuzzed alone.
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
} rk_route_result_t;

/* Result of one lookup. Parameter names point into the router (valid while
 * it lives); values point into `scratch` (valid while the match lives). */
typedef struct rk_route_match {
    void *target; /* as registered; NULL unless FOUND */
    size_t nparams;
    const char *names[RK_ROUTER_MAX_PARAMS];
    const char *values[RK_ROUTER_MAX_PARAMS];
    char allow[RK_ROUTER_ALLOW_MAX]; /* "GET, POST" for NO_METHOD (and FOUND) */
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

/* Looks up method + path (no query string). Fills *m; never fails beyond
 * NO_PATH / NO_METHOD. Paths that are too long or too deep are NO_PATH. */
rk_route_result_t rk_router_match(const rk_router_t *r, const char *method, const char *path,
                                  rk_route_match_t *m);

/* The value of parameter `name` in a match, or NULL. */
const char *rk_route_param(const rk_route_match_t *m, const char *name);

#endif
