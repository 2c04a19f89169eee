/* Files the agent writes: atomic and new-file writes at a chosen
 * durability level, folder syncs, folder removal. Knows nothing of jobs. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/err.h"

int agent__sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return RK_EIO;
    int rc = fsync(dfd) == 0 ? RK_OK : RK_EIO;
    close(dfd);
    return rc;
}

int agent__write_atomic(const char *dir, const char *name, const char *text, size_t len)
{
    return agent__write_atomic_ex(dir, name, text, len, AGENT__WRITE_DURABLE);
}

int agent__write_atomic_ex(const char *dir, const char *name, const char *text, size_t len,
                           agent__write_t level)
{
    char tmp[4096], dst[4096];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    int rc = RK_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return RK_EIO;
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            goto out;
        off += (size_t)k;
    }
    if (level >= AGENT__WRITE_DATA && fdatasync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, dst) != 0)
        goto out;
    if (level < AGENT__WRITE_DURABLE) {
        rc = RK_OK;
        goto out;
    }
    /* The rename is durable only once the folder is synced. */
    rc = agent__sync_dir(dir);
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    return rc;
}

int agent__write_new(const char *dir, const char *name, const char *text, size_t len,
                     agent__write_t level)
{
    if (level > AGENT__WRITE_ATOMIC)
        return agent__write_atomic_ex(dir, name, text, len, level);
    char dst[4096];
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    /* No O_TRUNC: the file is new or a spare's empty one, and on ext4 a
     * truncation to size 0 marks the file for a flush at close
     * (auto_da_alloc), which would queue a disk write per record. A longer
     * leftover is cut after the write instead. */
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return RK_EIO;
    int rc = RK_OK;
    size_t off = 0;
    while (off < len && rc == RK_OK) {
        ssize_t k = write(fd, text + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            rc = RK_EIO;
        else
            off += (size_t)k;
    }
    struct stat st;
    if (rc == RK_OK &&
        (fstat(fd, &st) != 0 || (st.st_size > (off_t)len && ftruncate(fd, (off_t)len) != 0)))
        rc = RK_EIO;
    if (close(fd) != 0)
        rc = RK_EIO;
    if (rc) {
        int e = errno;
        unlink(dst); /* no torn record left behind */
        errno = e;
    }
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc != 0 && errno != ENOENT ? -1 : 0;
}

int agent__rmtree(const char *path)
{
    return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? RK_OK : RK_EIO;
}
