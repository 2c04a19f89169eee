/* GET /api/v1/openapi.json on the server: the OpenAPI 3.1 document of its
 * API. The document is the source file docs/openapi/server.json, embedded
 * into the binary at build time (cmake/embed.cmake, rk_embed_file), so
 * what is served is byte for byte what is in the repository. Under /api/v1,
 * so it needs the token when one is configured, like every API path.
 * tests/server/test_openapi.c checks it against the real route table. */
#ifndef RK_SERVER_OPENAPI_H
#define RK_SERVER_OPENAPI_H

#include <stddef.h>

#include "http/server.h"

/* Generated: the bytes of docs/openapi/server.json, then a NUL (not
 * counted in the length). */
extern const unsigned char rk_openapi_server[];
extern const size_t rk_openapi_server_len;

/* Registers GET /api/v1/openapi.json on s (before start). The errors of
 * rk_http_server_route. */
int rk_srv_openapi_register(rk_http_server_t *s);

#endif
