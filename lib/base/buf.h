/* Growable byte buffer with a hard size cap (after curl's dynbuf).
 *
 * Every buffer that outside input fills is an rk_buf_t with a cap, so no
 * peer can make us allocate without bound. The content is always
 * NUL-terminated (the NUL is not counted in len and not against the cap).
 */
#ifndef RK_BASE_BUF_H
#define RK_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct rk_buf {
    char *data;  /* NULL until the first append */
    size_t len;  /* bytes used, excluding the NUL */
    size_t size; /* bytes allocated */
    size_t cap;  /* largest len allowed */
} rk_buf_t;

/* Initializes an empty buffer that may hold up to cap bytes. */
void rk_buf_init(rk_buf_t *b, size_t cap);
/* Frees the storage; the buffer is empty and usable again afterwards. */
void rk_buf_cleanup(rk_buf_t *b);
/* Empties the buffer, keeping its storage. */
void rk_buf_reset(rk_buf_t *b);
/* Appends n bytes. RK_ETOOBIG past the cap (buffer unchanged), RK_ENOMEM. */
int rk_buf_add(rk_buf_t *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int rk_buf_adds(rk_buf_t *b, const char *s);
/* Appends printf-formatted text. */
int rk_buf_printf(rk_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rk_buf_vprintf(rk_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands the storage to the caller (free() it) and leaves b empty. Returns an
 * empty allocated string for a buffer never written, NULL only on ENOMEM. */
char *rk_buf_take(rk_buf_t *b);
/* The content, "" for an empty buffer; valid until the next change. */
const char *rk_buf_str(const rk_buf_t *b);

#endif
