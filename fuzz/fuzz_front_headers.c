/* Fuzzes a standby's copy of the dispatcher's answer headers into its own
 * answer (lib/server/front.c, srv__front_copy_headers) with any bytes as
 * the header lines. Properties: at most FRONT_HEADERS_MAX are added, and
 * none of them breaks the response (the HTTP layer refuses CR/LF). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines = malloc(size + 1);
    rk_http_resp_t *r = NULL;
    if (!lines || rk_http_resp_new(&r) != 0) {
        free(lines);
        return 0;
    }
    memcpy(lines, data, size);
    lines[size] = '\0';
    int kept = srv__front_copy_headers(r, lines);
    if (kept < 0 || kept > FRONT_HEADERS_MAX)
        abort();
    rk_http_resp_free(r);
    free(lines);
    return 0;
}
