/* The drift check of the OpenAPI documents (docs/openapi/server.json and
 * agent.json) against a daemon's real route table, shared by
 * tests/server/test_openapi.c and tests/agent/test_openapi.c. */
#ifndef RK_TEST_OPENAPI_H
#define RK_TEST_OPENAPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"

/* A route the document leaves out on purpose (the dashboard's files). */
typedef bool (*rk_test_route_skip_fn)(const char *method, const char *pattern, void *ud);

/* Compares "METHOD /path/{param}" of every route registered on s (minus
 * the skipped ones) with every operation of doc's `paths`, both ways, and
 * checks that each operation declares exactly the path parameters of its
 * template (`in: path`, on the operation or its path item). Prints each
 * difference (with `label`); returns how many there are. */
size_t rk_test_openapi_drift(const rk_http_server_t *s, const json_t *doc,
                             rk_test_route_skip_fn skip, void *ud, const char *label);

/* Same over a list of "METHOD /pattern" strings instead of a server. */
size_t rk_test_openapi_drift_list(char *const *routes, size_t n, const json_t *doc,
                                  const char *label);

/* Reads $RK_SOURCE_DIR/<rel> (or ./<rel>); NULL if it cannot. */
char *rk_test_source_file(const char *rel, size_t *len);

#endif
