#include "base/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/err.h"

int rk_lockfile_take(const char *path, int *fd)
{
    *fd = -1;
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return errno == ENOENT ? RK_ENOENT : RK_EIO;
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        close(f);
        return busy ? RK_EBUSY : RK_EIO;
    }
    *fd = f;
    return RK_OK;
}

void rk_lockfile_release(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}
