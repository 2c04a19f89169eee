/* rk_sysinfo_writable on a read-only and a full file system. Tests run as
 * root, where permissions do not stop writes, so the test makes its own
 * mount namespace and mounts a 64 KiB tmpfs; it skips when it may not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "sysinfo/sysinfo.h"

static char mnt[256];
static int mounted;

static int setup(void **state)
{
    snprintf(mnt, sizeof mnt, "/tmp/rk_writable_XXXXXX");
    if (!mkdtemp(mnt))
        return -1;
    /* A private namespace: the mount is invisible outside this process and
     * disappears with it, even if the test dies. Source and type are ignored
     * for propagation changes and remounts; "none" keeps valgrind from
     * flagging NULL. */
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0755") < 0) {
        fprintf(stderr, "mount not permitted here (%s); skipping\n", strerror(errno));
        return 0;
    }
    mounted = 1;
    return 0;
}

static int teardown(void **state)
{
    if (mounted)
        umount2(mnt, MNT_DETACH);
    rmdir(mnt);
    return 0;
}

static void test_full(void **state)
{
    if (!mounted)
        skip();
    char reason[128];
    assert_int_equal(rk_sysinfo_writable(mnt, reason, sizeof reason), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/filler", mnt);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char block[4096];
    memset(block, 'f', sizeof block);
    int written = 0;
    while (write(fd, block, sizeof block) > 0 && written < 1000)
        written++;
    close(fd);
    assert_true(written < 1000); /* the tmpfs did fill up */
    assert_int_equal(rk_sysinfo_writable(mnt, reason, sizeof reason), RK_EIO);
    assert_string_equal(reason, "disk full");
    unlink(path);
    assert_int_equal(rk_sysinfo_writable(mnt, reason, sizeof reason), 0);
}

static void test_read_only(void **state)
{
    if (!mounted)
        skip();
    char reason[128];
    assert_int_equal(mount("none", mnt, "none", MS_REMOUNT | MS_RDONLY, NULL), 0);
    assert_int_equal(rk_sysinfo_writable(mnt, reason, sizeof reason), RK_EIO);
    assert_string_equal(reason, "data dir is read-only");
    assert_int_equal(mount("none", mnt, "none", MS_REMOUNT, NULL), 0);
    assert_int_equal(rk_sysinfo_writable(mnt, reason, sizeof reason), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_read_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
