/* Percent-decoding of request targets (RFC 3986 section 2.1), strict: a '%'
 * must be followed by two hex digits, and a decoded NUL is refused, so no
 * caller ever holds a string cut short by an encoded "%00".
 *
 * Independent of the HTTP library, like router.h, so it can be fuzzed alone.
 */
#ifndef RK_HTTP_URL_H
#define RK_HTTP_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum rk_url_err {
    RK_URL_OK = 0,
    RK_URL_NUL = 1,    /* an encoded (or raw) NUL byte */
    RK_URL_ESCAPE = 2, /* '%' not followed by two hex digits */
} rk_url_err_t;

/* Decodes the len bytes at s in place (the result is never longer) and
 * NUL-terminates them; s must hold len + 1 bytes. With plus_space, '+'
 * becomes ' ' (query strings). On success *out_len is the decoded length.
 * On error s is left partly decoded and must not be used. */
rk_url_err_t rk_url_decode(char *s, size_t len, bool plus_space, size_t *out_len);

/* A short English reason for err ("encoded NUL byte", ...). */
const char *rk_url_strerror(rk_url_err_t err);

/* Checks every "name=value" of a raw query string (without '?'): each part
 * must decode cleanly. On failure copies the (decoded, cut) name of the
 * first bad parameter into name (size bytes) and returns the error. */
rk_url_err_t rk_url_query_check(const char *query, char *name, size_t size);

#endif
