/* Serving the server's OpenAPI document (see openapi.h). */
#include "server/openapi.h"

static void h_openapi(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req, (void)ud;
    rk_http_resp_bytes(resp, 200, "application/json", rk_openapi_server, rk_openapi_server_len);
}

int rk_srv_openapi_register(rk_http_server_t *s)
{
    return rk_http_server_route(s, "GET", "/api/v1/openapi.json", h_openapi, NULL);
}
