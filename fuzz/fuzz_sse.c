/* Fuzzes the CLI's server-sent-events parser with what a server (or
 * anything answering at its URL) may send. Property: the events parsed do
 * not depend on how the bytes were split into reads. The first input byte
 * picks the chunk size of the second pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/sse.h"

/* Every event of a pass, serialized as id NUL event NUL data NUL. */
static int collect(const rk_cli_sse_event_t *ev, void *ud)
{
    rk_buf_t *b = ud;
    if (rk_buf_add(b, ev->id, strlen(ev->id) + 1) ||
        rk_buf_add(b, ev->event, strlen(ev->event) + 1) ||
        rk_buf_add(b, ev->data, strlen(ev->data) + 1))
        return 1;
    return 0;
}

static int parse(const uint8_t *data, size_t size, size_t chunk, rk_buf_t *out)
{
    rk_cli_sse_t p;
    rk_cli_sse_init(&p, collect, out);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        rc = rk_cli_sse_feed(&p, (const char *)data + off, n);
    }
    rk_cli_sse_cleanup(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 7 + 1;
    data++;
    size--;
    rk_buf_t whole, split;
    rk_buf_init(&whole, 64u << 20);
    rk_buf_init(&split, 64u << 20);
    int rc1 = parse(data, size, size ? size : 1, &whole);
    int rc2 = parse(data, size, chunk, &split);
    if (rc1 != rc2 || whole.len != split.len ||
        (whole.len && memcmp(whole.data, split.data, whole.len) != 0))
        abort();
    rk_buf_cleanup(&whole);
    rk_buf_cleanup(&split);
    return 0;
}
