/* GET /api/v1/openapi.json on the agent: the OpenAPI 3.1 document of its
 * API, the source file docs/openapi/agent.json embedded into the binary at
 * build time (cmake/embed.cmake, rk_embed_file) and served as it is. Under
 * /api/v1, so it needs the token when one is configured.
 * tests/agent/test_openapi.c checks it against the real route table. */
#ifndef RK_AGENT_OPENAPI_H
#define RK_AGENT_OPENAPI_H

#include <stddef.h>

#include "http/server.h"

/* Generated: the bytes of docs/openapi/agent.json, then a NUL (not counted
 * in the length). */
extern const unsigned char rk_openapi_agent[];
extern const size_t rk_openapi_agent_len;

/* The handler of GET /api/v1/openapi.json (userdata unused). */
void rk_agent_h_openapi(rk_http_req_t *req, rk_http_resp_t *resp, void *ud);

#endif
