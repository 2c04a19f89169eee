/* HMAC-SHA256 through nettle (see hmac.h). */
#include "server/hmac.h"

#include <nettle/hmac.h>
#include <string.h>

void rk_srv_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len,
                            char out[RK_HMAC_SHA256_HEX + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct hmac_sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    hmac_sha256_set_key(&ctx, key_len, key);
    hmac_sha256_update(&ctx, len, msg);
    hmac_sha256_digest(&ctx, sizeof digest, digest);
    for (size_t i = 0; i < sizeof digest; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[RK_HMAC_SHA256_HEX] = '\0';
    /* The context holds the key's pads: not left on the stack. */
    memset(&ctx, 0, sizeof ctx);
}
