#include "base/tokenfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

/* what, then ": " and detail when that is not NULL. */
static int fail(char *why, size_t whylen, int rc, const char *what, const char *detail)
{
    if (why && whylen)
        snprintf(why, whylen, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return rc;
}

int rk_token_file_read(const char *path, char **out, char *why, size_t whylen)
{
    *out = NULL;
    if (why && whylen)
        why[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(why, whylen, RK_EIO, "cannot open", strerror(errno));
    char buf[RK_TOKEN_FILE_MAX + 2];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            explicit_bzero(buf, sizeof buf);
            return fail(why, whylen, RK_EIO, "cannot read", strerror(e));
        }
        if (n == 0 || (len += (size_t)n) == sizeof buf - 1)
            break;
    }
    close(fd);
    int rc = RK_OK;
    if (len > RK_TOKEN_FILE_MAX) {
        rc = fail(why, whylen, RK_EINVAL, "longer than 4096 bytes", NULL);
        goto out;
    }
    if (len && buf[len - 1] == '\n')
        len--;
    if (len && buf[len - 1] == '\r')
        len--;
    if (len == 0) {
        rc = fail(why, whylen, RK_EINVAL, "empty: expected a token", NULL);
        goto out;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 || c == 0x7f) {
            rc = fail(why, whylen, RK_EINVAL,
                      "holds a control character or more than one line: expected one token", NULL);
            goto out;
        }
    }
    buf[len] = '\0';
    if (!(*out = strdup(buf)))
        rc = RK_ENOMEM;
out:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

void rk_token_free(char *token)
{
    if (token)
        explicit_bzero(token, strlen(token));
    free(token);
}
