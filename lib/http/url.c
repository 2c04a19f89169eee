#include "http/url.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

rk_url_err_t rk_url_decode(char *s, size_t len, bool plus_space, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (len - i < 3)
                return RK_URL_ESCAPE;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return RK_URL_ESCAPE;
            c = (char)(h << 4 | l);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0')
            return RK_URL_NUL;
        s[o++] = c;
    }
    s[o] = '\0';
    if (out_len)
        *out_len = o;
    return RK_URL_OK;
}

const char *rk_url_strerror(rk_url_err_t err)
{
    switch (err) {
    case RK_URL_OK:
        return "ok";
    case RK_URL_NUL:
        return "encoded NUL byte";
    case RK_URL_ESCAPE:
        return "'%' not followed by two hex digits";
    }
    return "bad encoding";
}

rk_url_err_t rk_url_query_check(const char *query, char *name, size_t size)
{
    const char *p = query;
    while (*p) {
        size_t n = strcspn(p, "&");
        char *part = malloc(n + 1);
        if (!part)
            return RK_URL_ESCAPE; /* cannot check: refuse rather than pass */
        memcpy(part, p, n);
        part[n] = '\0';
        size_t klen = strcspn(part, "=");
        rk_url_err_t err = RK_URL_OK;
        char *val = part[klen] ? part + klen + 1 : NULL;
        part[klen] = '\0';
        err = rk_url_decode(part, klen, true, NULL);
        if (err == RK_URL_OK && val)
            err = rk_url_decode(val, strlen(val), true, NULL);
        if (err != RK_URL_OK) {
            /* Name the parameter by its raw text up to any '%', which is
             * printable and never holds the bad byte. */
            size_t cut = strcspn(p, "=&%");
            if (cut >= size)
                cut = size ? size - 1 : 0;
            if (size) {
                for (size_t i = 0; i < cut; i++)
                    name[i] =
                        (unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f ? '?' : p[i];
                name[cut] = '\0';
            }
            free(part);
            return err;
        }
        free(part);
        p += n;
        if (*p == '&')
            p++;
    }
    return RK_URL_OK;
}
