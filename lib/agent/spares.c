/* Spare job folders: made ahead by the background thread so that accepting
 * a job creates no file. On some file systems each inode allocation costs
 * far more than a rename (ext4 on the test VM: ~0.2-0.8 ms against ~30 us);
 * a new job needs four (its folder, output/, job.json, result.json), and on
 * the accept path they run under the agent's lock. A spare holds output/
 * and empty job.json and result.json; a job takes one with a single rename
 * to jobs/<job_id> and writes its records into the existing files.
 *
 * Where the inodes go. jobs/ carries ext4's top-directory flag, so each
 * folder made right in it is placed by Orlov's spreading search, a scan of
 * every block group's counters (~180 us here, most of a spare's cost).
 * Spares are therefore made in pool folders, jobs/.pool~<salt>-<k>/, one
 * per SPARE_BUCKET spares: only the pool folder is spread, its spares go
 * next to it. The salt, random per agent start, changes the name hash that
 * seeds the search, so a restarted agent (or a new data dir) does not land
 * in the groups whose inodes were just freed: without a journal, ext4
 * skips each inode freed in the last minute one by one.
 *
 * Spares are taken oldest first, so pool folders empty in order; an empty
 * one is removed by the take that empties it. A spare is built as
 * <pool>/.new~<n> and renamed to <pool>/<n> once complete, so a spare is
 * always whole. '~' is not in the job id alphabet ([A-Za-z0-9_.-]), so no
 * pool is ever loaded as a job by the restart scan (rk_id_valid); pools
 * (and spares of the older flat layout, jobs/.spare~<n>) are removed at
 * start. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"

#define POOL_PREFIX ".pool~"
#define BUILD_PREFIX ".new~"
#define OLD_SPARE_PREFIX ".spare~"
/* After a failed creation (disk full, ...) refills pause this long. */
#define RETRY_US INT64_C(1000000)

static uint64_t pool_of(uint64_t n)
{
    return n / SPARE_BUCKET;
}

static void pool_path(const rk_agent_t *a, uint64_t pool, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" POOL_PREFIX "%08x-%llu", a->jobs_dir, (unsigned)a->spare_salt,
             (unsigned long long)pool);
}

static void spare_path(const rk_agent_t *a, const char *prefix, uint64_t n, char *out, size_t cap)
{
    char pool[4200];
    pool_path(a, pool_of(n), pool, sizeof pool);
    snprintf(out, cap, "%s/%s%llu", pool, prefix, (unsigned long long)n);
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

/* Builds spare n on disk (without mu), and its pool folder first when n is
 * the pool's first spare or the folder is missing. */
static int build_spare(const rk_agent_t *a, uint64_t n)
{
    char pool[4200], tmp[4300], out[4400], dst[4300];
    pool_path(a, pool_of(n), pool, sizeof pool);
    spare_path(a, BUILD_PREFIX, n, tmp, sizeof tmp);
    spare_path(a, "", n, dst, sizeof dst);
    snprintf(out, sizeof out, "%s/output", tmp);
    if (mkdir(tmp, 0755) != 0) {
        if (errno != ENOENT || mkdir(pool, 0755) != 0 || mkdir(tmp, 0755) != 0)
            return RK_EIO;
    }
    if (mkdir(out, 0755) != 0 || create_empty(tmp, "job.json") != RK_OK ||
        create_empty(tmp, "result.json") != RK_OK || rename(tmp, dst) != 0) {
        agent__rmtree(tmp);
        return RK_EIO;
    }
    return RK_OK;
}

void agent__spread_hint(const char *jobs_dir)
{
    /* ext4's Orlov allocator puts a new folder's inode, and then its files',
     * in its parent's block group, unless the parent is marked a top
     * directory (chattr +T): its subfolders are then spread over groups
     * with free inodes. A group that just freed many inodes is slow to
     * allocate from: without a journal, ext4 skips every inode deleted in
     * the last minute one by one (measured on the test VM: ~230-480 us per
     * creation in a folder under a busy /tmp, ~47 us with the hint). Best
     * effort: other file systems answer ENOTTY or EOPNOTSUPP and lose
     * nothing. */
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

static bool is_spare_entry(const char *name)
{
    return strncmp(name, POOL_PREFIX, strlen(POOL_PREFIX)) == 0 ||
           strncmp(name, OLD_SPARE_PREFIX, strlen(OLD_SPARE_PREFIX)) == 0 ||
           strncmp(name, BUILD_PREFIX, strlen(BUILD_PREFIX)) == 0;
}

int agent__spares_clear(rk_agent_t *a)
{
    DIR *d = opendir(a->jobs_dir);
    if (!d)
        return RK_EIO;
    int rc = RK_OK;
    struct dirent *de;
    char p[4400];
    while ((de = readdir(d)) != NULL) {
        if (!is_spare_entry(de->d_name))
            continue;
        snprintf(p, sizeof p, "%s/%s", a->jobs_dir, de->d_name);
        if (agent__rmtree(p) != RK_OK)
            rc = RK_EIO;
    }
    closedir(d);
    a->spare_head = a->n_spares = 0;
    uint32_t salt = 0;
    if (getrandom(&salt, sizeof salt, GRND_NONBLOCK) != (ssize_t)sizeof salt)
        salt = (uint32_t)rk_time_now_us() ^ (uint32_t)getpid();
    a->spare_salt = salt;
    return rc;
}

int agent__spares_refill(rk_agent_t *a)
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
            a->spare_retry_mono = rk_deadline_in_us(RETRY_US);
            rk_log_warn("cannot make a spare job folder", "error", strerror(errno));
            break;
        }
        a->spares[(a->spare_head + a->n_spares++) % SPARE_MAX] = n;
    }
    return rc;
}

/* After spare n left its pool: removes the pool once nothing is left in it
 * or will be built there (spares are taken oldest first and built in
 * order; a spare that failed to build left nothing). */
static void pool_done(rk_agent_t *a, uint64_t n)
{
    uint64_t pool = pool_of(n);
    if (a->n_spares > 0 && pool_of(a->spares[a->spare_head]) == pool)
        return;
    if (pool_of(a->spare_seq - 1) == pool) /* being built or next to build */
        return;
    char p[4200];
    pool_path(a, pool, p, sizeof p);
    if (rmdir(p) != 0 && errno != ENOENT)
        rk_log_debug("cannot remove an empty spare pool folder", "path", p, "error",
                     strerror(errno));
}

int agent__spare_take(rk_agent_t *a, const char *dir)
{
    if (a->n_spares <= 0)
        return RK_ENOENT;
    uint64_t n = a->spares[a->spare_head];
    a->spare_head = (a->spare_head + 1) % SPARE_MAX;
    a->n_spares--;
    char src[4300];
    spare_path(a, "", n, src, sizeof src);
    /* The background thread refills, woken once half the pool is gone so
     * that one wake-up makes several spares (it also refills on its own
     * wake-ups, at least once a second). */
    if (a->n_spares <= a->spare_target / 2)
        pthread_cond_broadcast(&a->cond);
    int rc = RK_OK;
    if (rename(src, dir) != 0) {
        /* A folder left by a job record that could not be read: cleared, so
         * none of its files is taken for the new job's. */
        if (!((errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) &&
              agent__rmtree(dir) == RK_OK && rename(src, dir) == 0)) {
            agent__rmtree(src);
            rc = RK_EIO;
        }
    }
    pool_done(a, n);
    return rc;
}

/* The fallback: creates a new job's folder, empty (a folder of an unknown
 * job is cleared first, as above). */
static int make_job_dir(const char *dir)
{
    if (mkdir(dir, 0755) == 0)
        return RK_OK;
    if (errno != EEXIST || agent__rmtree(dir) != RK_OK)
        return RK_EIO;
    return mkdir(dir, 0755) == 0 ? RK_OK : RK_EIO;
}

int agent__job_dir_new(rk_agent_t *a, const char *dir)
{
    if (agent__spare_take(a, dir) == RK_OK) {
        a->spares_taken++;
        return RK_OK;
    }
    a->spares_missed++;
    return make_job_dir(dir);
}
