/* Spare job folders: made ahead by the background thread so that accepting
 * a job creates no file. On some file systems each inode allocation costs
 * far more than a rename (ext4 on the test VM: ~0.5-0.8 ms against ~10 us);
 * a new job needs four (its folder, output/, job.json, result.json), and on
 * the accept path they run under the agent's lock. A spare is
 * jobs/.spare~<n>/ holding output/ and empty job.json and result.json; a
 * job takes one with a single rename to jobs/<job_id> and writes its
 * records into the existing files.
 *
 * '~' is not in the job id alphabet ([A-Za-z0-9_.-]), so a spare's name is
 * never a job's and the restart scan (rk_id_valid) never loads one. A spare
 * is built as jobs/.new~<n>/ and renamed to its .spare~ name once complete,
 * so a .spare~ folder is always whole; both kinds are removed at start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"

#define SPARE_PREFIX ".spare~"
#define BUILD_PREFIX ".new~"
/* After a failed creation (disk full, ...) refills pause this long. */
#define RETRY_US INT64_C(1000000)

static void spare_path(const rk_agent_t *a, const char *prefix, uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%llu", a->jobs_dir, prefix, (unsigned long long)n);
}

static int create_empty(const char *dir, const char *name)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return RK_EIO;
    return close(fd) == 0 ? RK_OK : RK_EIO;
}

/* Builds spare n on disk (without mu). */
static int build_spare(const rk_agent_t *a, uint64_t n)
{
    char tmp[4200], out[4300], dst[4200];
    spare_path(a, BUILD_PREFIX, n, tmp, sizeof tmp);
    spare_path(a, SPARE_PREFIX, n, dst, sizeof dst);
    snprintf(out, sizeof out, "%s/output", tmp);
    if (mkdir(tmp, 0755) != 0)
        return RK_EIO;
    if (mkdir(out, 0755) != 0 || create_empty(tmp, "job.json") != RK_OK ||
        create_empty(tmp, "result.json") != RK_OK || rename(tmp, dst) != 0) {
        rk_agent_rmtree(tmp);
        return RK_EIO;
    }
    return RK_OK;
}

void rk_agent_spread_hint(const char *jobs_dir)
{
    /* ext4's Orlov allocator puts a new folder's inode, and then its files',
     * in its parent's block group, unless the parent is marked a top
     * directory (chattr +T): its subfolders are then spread over groups
     * with free inodes. Job folders are unrelated to each other, and a
     * group that just freed many inodes is slow to allocate from: without
     * a journal, ext4 skips every inode deleted in the last minute one by
     * one (measured on the test VM: ~230-480 us per creation in a folder
     * under a busy /tmp, ~47 us with the hint). Best effort: other file
     * systems answer ENOTTY or EOPNOTSUPP and lose nothing. */
    int fd = open(jobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
        flags |= FS_TOPDIR_FL;
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
            rk_log_debug("cannot mark the jobs folder a top directory", "error", strerror(errno));
    }
    close(fd);
}

int rk_agent_spares_clear(rk_agent_t *a)
{
    DIR *d = opendir(a->jobs_dir);
    if (!d)
        return RK_EIO;
    int rc = RK_OK;
    struct dirent *de;
    char p[4400];
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, SPARE_PREFIX, strlen(SPARE_PREFIX)) != 0 &&
            strncmp(de->d_name, BUILD_PREFIX, strlen(BUILD_PREFIX)) != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", a->jobs_dir, de->d_name);
        if (rk_agent_rmtree(p) != RK_OK)
            rc = RK_EIO;
    }
    closedir(d);
    a->n_spares = 0;
    return rc;
}

int rk_agent_spares_refill(rk_agent_t *a)
{
    int target = a->spare_target < SPARE_MAX ? a->spare_target : SPARE_MAX;
    if (a->n_spares >= target || a->stopping || rk_time_mono_us() < a->spare_retry_mono)
        return RK_OK;
    int rc = RK_OK;
    while (a->n_spares < target && !a->stopping) {
        uint64_t n = a->spare_seq++;
        /* Only this thread refills, so nothing else touches spare n. */
        pthread_mutex_unlock(&a->mu);
        rc = build_spare(a, n);
        pthread_mutex_lock(&a->mu);
        if (rc) {
            a->spare_retry_mono = rk_time_mono_us() + RETRY_US;
            rk_log_warn("cannot make a spare job folder", "error", strerror(errno));
            break;
        }
        a->spares[a->n_spares++] = n;
    }
    return rc;
}

int rk_agent_spare_take(rk_agent_t *a, const char *dir)
{
    if (a->n_spares <= 0)
        return RK_ENOENT;
    char src[4200];
    spare_path(a, SPARE_PREFIX, a->spares[--a->n_spares], src, sizeof src);
    /* The background thread refills (it wakes on the broadcast). */
    pthread_cond_broadcast(&a->cond);
    if (rename(src, dir) == 0)
        return RK_OK;
    /* A folder left by a job record that could not be read: cleared, so
     * none of its files is taken for the new job's. */
    if ((errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) &&
        rk_agent_rmtree(dir) == RK_OK && rename(src, dir) == 0)
        return RK_OK;
    rk_agent_rmtree(src);
    return RK_EIO;
}

/* The fallback: creates a new job's folder, empty (a folder of an unknown
 * job is cleared first, as above). */
static int make_job_dir(const char *dir)
{
    if (mkdir(dir, 0755) == 0)
        return RK_OK;
    if (errno != EEXIST || rk_agent_rmtree(dir) != RK_OK)
        return RK_EIO;
    return mkdir(dir, 0755) == 0 ? RK_OK : RK_EIO;
}

int rk_agent_job_dir_new(rk_agent_t *a, const char *dir)
{
    if (rk_agent_spare_take(a, dir) == RK_OK) {
        a->spares_taken++;
        return RK_OK;
    }
    a->spares_missed++;
    return make_job_dir(dir);
}
