#include "exec/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"

/* Opens path into s->fd; base is what an appended file already holds. */
static int open_file(rk_exec_sink_t *s, const char *path, bool append)
{
    s->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (s->fd < 0)
        return RK_EIO;
    struct stat st;
    if (append && fstat(s->fd, &st) == 0)
        s->base = (uint64_t)st.st_size;
    return RK_OK;
}

int rk_exec_sink_open(rk_exec_sink_t *s, const char *path, size_t cap, bool keep_tail)
{
    return rk_exec_sink_open_ex(s, path, cap, keep_tail, false);
}

int rk_exec_sink_open_ex(rk_exec_sink_t *s, const char *path, size_t cap, bool keep_tail,
                         bool append)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->cap = cap;
    if (keep_tail) {
        s->tail = malloc(RK_EXEC_TAIL_MAX);
        if (!s->tail)
            return RK_ENOMEM;
    }
    if (path && open_file(s, path, append) != RK_OK) {
        int e = errno;
        rk_exec_sink_close(s);
        errno = e;
        return RK_EIO;
    }
    return RK_OK;
}

int rk_exec_sink_open_lazy(rk_exec_sink_t *s, const char *path, size_t cap, bool keep_tail,
                           bool append)
{
    int rc = rk_exec_sink_open_ex(s, NULL, cap, keep_tail, false);
    if (rc == RK_OK && path && !(s->path = strdup(path))) {
        rk_exec_sink_close(s);
        rc = RK_ENOMEM;
    }
    s->append = append;
    return rc;
}

void rk_exec_sink_close(rk_exec_sink_t *s)
{
    free(s->path);
    s->path = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->tail);
    s->tail = NULL;
}

static void tail_add(rk_exec_sink_t *s, const char *data, size_t n)
{
    if (n > RK_EXEC_TAIL_MAX) {
        data += n - RK_EXEC_TAIL_MAX;
        n = RK_EXEC_TAIL_MAX;
    }
    while (n) {
        size_t k = RK_EXEC_TAIL_MAX - s->tail_pos;
        if (k > n)
            k = n;
        memcpy(s->tail + s->tail_pos, data, k);
        s->tail_pos = (s->tail_pos + k) % RK_EXEC_TAIL_MAX;
        data += k;
        n -= k;
    }
}

static void file_add(rk_exec_sink_t *s, const char *data, size_t n)
{
    while (n && !s->write_failed) {
        ssize_t w = write(s->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->write_failed = true; /* disk full: keep draining, stop writing */
            return;
        }
        s->written += (uint64_t)w;
        data += w;
        n -= (size_t)w;
    }
}

void rk_exec_sink_feed(rk_exec_sink_t *s, const char *data, size_t n)
{
    if (n && s->path) { /* lazy: the first byte opens the file (base is known only then) */
        if (open_file(s, s->path, s->append) != RK_OK)
            s->write_failed = true;
        free(s->path);
        s->path = NULL;
    }
    if (s->tail)
        tail_add(s, data, n);
    uint64_t used = s->base + s->total;
    uint64_t room = used < s->cap ? s->cap - used : 0;
    s->total += n;
    if ((uint64_t)n > room)
        s->truncated = true;
    size_t keep = (uint64_t)n > room ? (size_t)room : n;
    if (s->fd >= 0 && keep)
        file_add(s, data, keep);
}

int rk_exec_sink_drain(rk_exec_sink_t *s, int fd, char *buf, size_t bufsz)
{
    for (;;) {
        ssize_t r = read(fd, buf, bufsz);
        if (r > 0) {
            rk_exec_sink_feed(s, buf, (size_t)r);
            continue;
        }
        if (r == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : RK_EIO;
    }
}

size_t rk_exec_sink_tail(const rk_exec_sink_t *s, char *out, size_t outsz)
{
    if (!outsz)
        return 0;
    out[0] = '\0';
    if (!s->tail)
        return 0;
    size_t have = s->total < RK_EXEC_TAIL_MAX ? (size_t)s->total : RK_EXEC_TAIL_MAX;
    size_t n = have < outsz - 1 ? have : outsz - 1;
    /* The newest n bytes end just before tail_pos. */
    size_t start = (s->tail_pos + RK_EXEC_TAIL_MAX - n) % RK_EXEC_TAIL_MAX;
    for (size_t i = 0; i < n; i++)
        out[i] = s->tail[(start + i) % RK_EXEC_TAIL_MAX];
    out[n] = '\0';
    return n;
}
