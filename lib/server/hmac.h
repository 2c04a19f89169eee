/* HMAC-SHA256 of a message, as the lowercase hex the webhooks' signature
 * header carries (X-Ruckus-Signature: sha256=<hex>). A thin wrapper over
 * nettle's hmac_sha256 (GnuTLS's crypto library, which libcurl's TLS
 * brings anyway), so the rest of the server never includes nettle.
 */
#ifndef RK_SERVER_HMAC_H
#define RK_SERVER_HMAC_H

#include <stddef.h>

/* Hex digits of a SHA-256 digest, without the terminating NUL. */
#define RK_HMAC_SHA256_HEX 64

/* Writes the HMAC-SHA256 of msg[0..len) keyed with key[0..key_len) into
 * out as 64 lowercase hex digits and a NUL. Cannot fail. */
void rk_srv_hmac_sha256_hex(const void *key, size_t key_len, const void *msg, size_t len,
                            char out[RK_HMAC_SHA256_HEX + 1]);

#endif
