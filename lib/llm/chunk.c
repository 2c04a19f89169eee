/* Reading one streamed completion event (chunk.h). */
#include "llm/chunk.h"

#include <string.h>

#include "base/err.h"

static void read_usage(const json_t *u, rk_llm_chunk_t *out)
{
    json_t *ct = json_object_get(u, "completion_tokens");
    json_t *pt = json_object_get(u, "prompt_tokens");
    if (!json_is_integer(ct))
        return;
    out->has_usage = true;
    out->completion_tokens = (int64_t)json_integer_value(ct);
    out->prompt_tokens = json_is_integer(pt) ? (int64_t)json_integer_value(pt) : 0;
}

int rk_llm_chunk_parse(const char *data, size_t len, rk_llm_api_t api, rk_llm_chunk_t *out)
{
    memset(out, 0, sizeof *out);
    out->root = json_loadb(data, len, 0, NULL);
    if (!json_is_object(out->root))
        return RK_EPROTO;
    json_t *err = json_object_get(out->root, "error");
    if (err && !json_is_null(err)) {
        json_t *msg = json_is_object(err) ? json_object_get(err, "message") : err;
        out->error = json_is_string(msg) ? json_string_value(msg) : "error";
        return 0;
    }
    json_t *u = json_object_get(out->root, "usage");
    if (json_is_object(u))
        read_usage(u, out);
    json_t *c0 = json_array_get(json_object_get(out->root, "choices"), 0);
    json_t *text = api == RK_LLM_API_CHAT ? json_object_get(json_object_get(c0, "delta"), "content")
                                          : json_object_get(c0, "text");
    if (json_is_string(text)) {
        out->content = json_string_value(text);
        out->content_len = json_string_length(text);
    }
    return 0;
}

void rk_llm_chunk_cleanup(rk_llm_chunk_t *c)
{
    json_decref(c->root);
    memset(c, 0, sizeof *c);
}
