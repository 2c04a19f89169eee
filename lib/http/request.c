/* Request accessors for handlers, and the JSON body helper. */
#include "base/err.h"
#include "http/server_int.h"

const char *rk_http_req_method(const rk_http_req_t *r)
{
    return r->method;
}
const char *rk_http_req_path(const rk_http_req_t *r)
{
    return r->path;
}

const char *rk_http_req_query_string(const rk_http_req_t *r)
{
    return r->query;
}

const char *rk_http_req_param(const rk_http_req_t *r, const char *name)
{
    return rk_route_param(&r->match, name);
}

const char *rk_http_req_query(const rk_http_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *rk_http_req_header(const rk_http_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *rk_http_req_body(const rk_http_req_t *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return rk_buf_str(&r->body);
}

int rk_http_req_json(rk_http_req_t *r, rk_http_resp_t *resp, json_t **out)
{
    json_error_t je;
    *out = NULL;
    json_t *v = json_loadb(rk_buf_str(&r->body), r->body.len, 0, &je);
    if (!v) {
        rk_http_resp_errorf(resp, 400, "invalid JSON: %s at line %d column %d", je.text, je.line,
                            je.column);
        return RK_EINVAL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        rk_http_resp_error(resp, 422, "expected a JSON object");
        return RK_EINVAL;
    }
    *out = v;
    return 0;
}
