/* Serving the agent's OpenAPI document (see openapi.h). */
#include "agent/openapi.h"

void rk_agent_h_openapi(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req, (void)ud;
    rk_http_resp_bytes(resp, 200, "application/json", rk_openapi_agent, rk_openapi_agent_len);
}
