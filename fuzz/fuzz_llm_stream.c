/* Fuzzes what the LLM load generator reads from a model server: an HTTP/1.1
 * response (chunked or not) carrying an SSE stream whose events are
 * completion chunks. Property: the events and chunk contents seen do not
 * depend on how the bytes were split into reads. The first input byte
 * picks the read size of the second pass and the API. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "llm/chunk.h"
#include "llm/resp.h"
#include "llm/sse.h"

typedef struct pass {
    rk_llm_sse_t sse;
    rk_llm_api_t api;
    rk_buf_t out; /* event NUL data NUL content NUL usage-flag, per event */
} pass_t;

static int on_event(const char *event, const char *data, size_t len, void *ud)
{
    pass_t *p = ud;
    rk_llm_chunk_t ch;
    int bad = rk_llm_chunk_parse(data, len, p->api, &ch);
    const char *content = ch.content ? ch.content : "";
    int rc = rk_buf_add(&p->out, event, strlen(event) + 1) || rk_buf_add(&p->out, data, len + 1) ||
             rk_buf_add(&p->out, content, strlen(content) + 1) ||
             rk_buf_add(&p->out,
                        bad            ? "b"
                        : ch.has_usage ? "u"
                        : ch.error     ? "e"
                                       : "-",
                        1);
    rk_llm_chunk_cleanup(&ch);
    return rc;
}

static int on_body(const char *b, size_t n, void *ud)
{
    pass_t *p = ud;
    return rk_llm_sse_feed(&p->sse, b, n);
}

static int parse(const uint8_t *data, size_t size, size_t chunk, rk_llm_api_t api, rk_buf_t *out)
{
    pass_t p = {.api = api};
    rk_buf_init(&p.out, 64u << 20);
    rk_llm_sse_init(&p.sse, on_event, &p);
    rk_llm_resp_t r;
    rk_llm_resp_init(&r);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        rc = rk_llm_resp_feed(&r, (const char *)data + off, n, on_body, &p);
    }
    if (!rc)
        rc = rk_llm_resp_eof(&r) ? 100 : 0;
    rk_buf_add(out, p.out.data ? p.out.data : "", p.out.len);
    rk_buf_cleanup(&p.out);
    rk_llm_sse_cleanup(&p.sse);
    rk_llm_resp_cleanup(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 7 + 1;
    rk_llm_api_t api = data[0] & 0x80 ? RK_LLM_API_CHAT : RK_LLM_API_COMPLETIONS;
    data++;
    size--;
    rk_buf_t whole, split;
    rk_buf_init(&whole, 64u << 20);
    rk_buf_init(&split, 64u << 20);
    int rc1 = parse(data, size, size ? size : 1, api, &whole);
    int rc2 = parse(data, size, chunk, api, &split);
    if (rc1 != rc2 || whole.len != split.len ||
        (whole.len && memcmp(whole.data, split.data, whole.len) != 0))
        abort();
    rk_buf_cleanup(&whole);
    rk_buf_cleanup(&split);
    return 0;
}
