/* MD5 (RFC 1321), built in: experiment ids are "exp_" + md5(name)[0:6]
 * (protocol.md), and one digest is not worth loading OpenSSL (3 MiB of
 * resident memory in every program) for. Not for security: MD5 is broken
 * for that; here it only names things the way the protocol says.
 */
#ifndef RK_MODEL_MD5_H
#define RK_MODEL_MD5_H

#include <stddef.h>
#include <stdint.h>

#define RK_MD5_SIZE 16

/* Streaming state; init with rk_md5_init, no cleanup needed. */
typedef struct rk_md5 {
    uint32_t h[4];
    uint64_t len; /* bytes hashed so far */
    unsigned char block[64];
} rk_md5_t;

void rk_md5_init(rk_md5_t *c);
void rk_md5_update(rk_md5_t *c, const void *data, size_t n);
/* Writes the 16-byte digest; c must be re-initialized before reuse. */
void rk_md5_final(rk_md5_t *c, unsigned char out[RK_MD5_SIZE]);

/* One-shot digest of data[0..n). */
void rk_md5(const void *data, size_t n, unsigned char out[RK_MD5_SIZE]);

#endif
