#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void rk_buf_init(rk_buf_t *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    b->cap = cap;
}

void rk_buf_cleanup(rk_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->size = 0;
}

void rk_buf_reset(rk_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int grow(rk_buf_t *b, size_t need)
{
    if (need > b->cap)
        return RK_ETOOBIG;
    if (need == SIZE_MAX) /* no room for the NUL */
        return RK_ENOMEM;
    if (need + 1 <= b->size)
        return RK_OK;
    size_t nsize = b->size ? b->size : 64;
    while (nsize < need + 1)
        nsize = nsize > SIZE_MAX / 2 ? need + 1 : nsize * 2;
    /* cap + 1 wraps to 0 for an unbounded (SIZE_MAX) cap. */
    if (b->cap < SIZE_MAX && nsize > b->cap + 1)
        nsize = b->cap + 1;
    char *p = realloc(b->data, nsize);
    if (!p)
        return RK_ENOMEM;
    b->data = p;
    b->size = nsize;
    return RK_OK;
}

int rk_buf_add(rk_buf_t *b, const void *p, size_t n)
{
    if (n > b->cap - b->len)
        return RK_ETOOBIG;
    int rc = grow(b, b->len + n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return RK_OK;
}

int rk_buf_adds(rk_buf_t *b, const char *s)
{
    return rk_buf_add(b, s, strlen(s));
}

int rk_buf_vprintf(rk_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return RK_EINVAL;
    if ((size_t)n > b->cap - b->len)
        return RK_ETOOBIG;
    int rc = grow(b, b->len + (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return RK_OK;
}

int rk_buf_printf(rk_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rk_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *rk_buf_take(rk_buf_t *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->size = 0;
    return p;
}

const char *rk_buf_str(const rk_buf_t *b)
{
    return b->data ? b->data : "";
}
