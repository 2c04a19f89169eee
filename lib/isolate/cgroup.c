/* Per-job control groups on cgroup v1 and v2 (cgroup.h). */
#include "isolate/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/time.h"
#include "isolate/internal.h"

const char *const isolate__cg_ctrl_names[RK_CG_NCTRL] = {"memory", "pids", "cpu", "cpuacct",
                                                         "freezer"};

/* The CFS period used with a quota: the kernel's default, 100 ms. */
#define CFS_PERIOD_US 100000
/* Bounds on limits, so a typo is refused instead of applied. */
#define MEMORY_MB_MIN 4
#define PIDS_MAX_LIMIT 4194304
#define CPUS_MIN 0.01
#define CPUS_MAX 4096.0

struct rk_cg {
    rk_cg_version_t version;
    unsigned ctrls;
    char dir[RK_CG_NCTRL][RK_CG_PATH_MAX]; /* "" where unused (v2: dir[0] only) */
    unsigned short mnt_len[RK_CG_NCTRL];   /* of dir[i]'s mount point */
    int oom_efd;                           /* v1 rk_cg_oom_watch's eventfd, or -1 */
};

/* ---- small file helpers ---- */

static int write_str(const char *dir, const char *file, const char *s)
{
    char path[RK_CG_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, s, strlen(s));
    int e = w < 0 ? -errno : 0;
    close(fd);
    return e;
}

ssize_t isolate__cg_read(const char *dir, const char *file, char *buf, size_t sz)
{
    char path[RK_CG_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sz - 1);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    return n;
}

static bool read_u64(const char *dir, const char *file, uint64_t *v)
{
    char b[64];
    if (isolate__cg_read(dir, file, b, sizeof b) <= 0)
        return false;
    *v = strtoull(b, NULL, 10);
    return true;
}

/* The number after "key " in a "key value" per line file; false if absent. */
static bool read_keyed(const char *dir, const char *file, const char *key, uint64_t *v)
{
    char b[4096];
    if (isolate__cg_read(dir, file, b, sizeof b) <= 0)
        return false;
    size_t kl = strlen(key);
    for (char *l = b; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, kl) == 0 && l[kl] == ' ') {
            *v = strtoull(l + kl + 1, NULL, 10);
            return true;
        }
    }
    return false;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    return rk_time_mono_us() / 1000;
}

/* ---- groups ---- */

static bool one_component(const char *s)
{
    return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !strchr(s, '/');
}

/* Validates a relative root: components without "." or "..". */
static bool valid_root(const char *root)
{
    if (!root || !*root || root[0] == '/' || strlen(root) > 128)
        return false;
    char copy[160];
    snprintf(copy, sizeof copy, "%s", root);
    for (char *sv, *t = strtok_r(copy, "/", &sv); t; t = strtok_r(NULL, "/", &sv))
        if (!one_component(t))
            return false;
    return true;
}

/* mkdir -p of base/root. */
static int make_root(const char *base, const char *root)
{
    char path[RK_CG_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", base, root);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    for (char *p = path + strlen(base) + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return -errno;
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* v2: the controllers a group under root can use must be enabled in the
 * root's subtree_control (the root has no processes, so that is allowed). */
static void v2_enable(const char *rootdir, unsigned ctrls)
{
    for (int i = 0; i < 3; i++) {
        char what[32];
        snprintf(what, sizeof what, "+%s", isolate__cg_ctrl_names[i]);
        if (ctrls & (1u << i))
            (void)write_str(rootdir, "cgroup.subtree_control", what);
    }
}

int rk_cg_create(const rk_cg_probe_t *p, const char *root, const char *name, rk_cg_t **out,
                 char *err, size_t errsz)
{
    *out = NULL;
    if (!p || p->version == RK_CG_NONE) {
        snprintf(err, errsz, "cgroups not usable here");
        return RK_EUNSUP;
    }
    if (!valid_root(root) || !one_component(name)) {
        snprintf(err, errsz, "bad cgroup root '%s' or name '%s'", root ? root : "",
                 name ? name : "");
        return RK_EINVAL;
    }
    rk_cg_t *cg = calloc(1, sizeof *cg);
    if (!cg)
        return RK_ENOMEM;
    cg->version = p->version;
    cg->ctrls = p->ctrls;
    cg->oom_efd = -1;
    memcpy(cg->mnt_len, p->mnt_len, sizeof cg->mnt_len);
    int rc = 0;
    for (int i = 0; i < RK_CG_NCTRL && rc == 0; i++) {
        const char *base = p->base[i];
        if (!*base || (p->version == RK_CG_V2 && i > 0))
            continue;
        /* Co-mounted v1 controllers (cpu,cpuacct) share one directory. */
        int dup = -1;
        for (int j = 0; j < i; j++)
            if (strcmp(p->base[j], base) == 0)
                dup = j;
        if (dup >= 0) {
            memcpy(cg->dir[i], cg->dir[dup], RK_CG_PATH_MAX);
            continue;
        }
        int e = make_root(base, root);
        char rootdir[RK_CG_PATH_MAX];
        snprintf(rootdir, sizeof rootdir, "%.350s/%.128s", base, root);
        if (e == 0 && p->version == RK_CG_V2)
            v2_enable(rootdir, p->ctrls);
        int n =
            snprintf(cg->dir[i], RK_CG_PATH_MAX, "%.*s/%s", (int)strlen(rootdir), rootdir, name);
        if (e == 0 && (n < 0 || n >= RK_CG_PATH_MAX))
            e = -ENAMETOOLONG;
        if (e == 0 && mkdir(cg->dir[i], 0755) != 0)
            e = -errno;
        if (e != 0) {
            snprintf(err, errsz, "cannot create cgroup %s: %s", cg->dir[i], strerror(-e));
            cg->dir[i][0] = '\0';
            rc = e == -EEXIST ? RK_EEXIST : RK_EIO;
        }
    }
    if (rc != 0) {
        for (int i = 0; i < RK_CG_NCTRL; i++)
            if (cg->dir[i][0])
                rmdir(cg->dir[i]);
        free(cg);
        return rc;
    }
    *out = cg;
    return 0;
}

static const char *dir_of(const rk_cg_t *cg, int ctrl_bit);

int rk_cg_probe_align(const rk_cg_probe_t *p, rk_cg_probe_t *out, char *err, size_t errsz)
{
    *out = *p;
    if (p->version != RK_CG_V1)
        return 0;
    /* The deepest of the agent's groups ("" is the hierarchy's root). */
    const char *deep = "";
    int di = 0;
    for (int i = 0; i < RK_CG_NCTRL; i++)
        if (p->base[i][0] && strlen(p->base[i] + p->mnt_len[i]) > strlen(deep)) {
            deep = p->base[i] + p->mnt_len[i];
            di = i;
        }
    size_t dl = strlen(deep);
    for (int i = 0; i < RK_CG_NCTRL; i++) {
        if (!p->base[i][0])
            continue;
        const char *rel = p->base[i] + p->mnt_len[i];
        size_t rl = strlen(rel);
        if (strncmp(deep, rel, rl) != 0 || (deep[rl] != '/' && deep[rl] != '\0')) {
            snprintf(err, errsz,
                     "the agent's cgroups do not nest: %.200s (%s) is not under %.200s (%s)", deep,
                     isolate__cg_ctrl_names[di], rel, isolate__cg_ctrl_names[i]);
            out->version = RK_CG_NONE;
            return RK_EUNSUP;
        }
        int n =
            snprintf(out->base[i], RK_CG_PATH_MAX, "%.*s%s", (int)p->mnt_len[i], p->base[i], deep);
        int e = n < 0 || n >= RK_CG_PATH_MAX ? -ENAMETOOLONG
                : rl < dl                    ? make_root(p->base[i], deep + rl + 1)
                                             : 0;
        if (e != 0) {
            snprintf(err, errsz, "cannot create cgroup %.400s: %s", out->base[i], strerror(-e));
            out->version = RK_CG_NONE;
            return RK_EIO;
        }
    }
    return 0;
}

int rk_cg_rel_path(const rk_cg_t *cg, char *out, size_t n)
{
    const char *rel = NULL;
    for (int i = 0; i < RK_CG_NCTRL; i++) {
        if (!cg->dir[i][0])
            continue;
        const char *r = cg->dir[i] + cg->mnt_len[i];
        if (rel && strcmp(rel, r) != 0)
            return RK_EUNSUP;
        rel = r;
    }
    if (!rel || (size_t)snprintf(out, n, "%s", rel) >= n)
        return RK_EUNSUP;
    return 0;
}

int rk_cg_oom_watch(rk_cg_t *cg)
{
    const char *mem = cg->version == RK_CG_V1 ? dir_of(cg, RK_CG_MEMORY) : NULL;
    if (!mem || cg->oom_efd >= 0)
        return 0;
    char path[RK_CG_PATH_MAX + 32], line[48];
    snprintf(path, sizeof path, "%s/memory.oom_control", mem);
    int cfd = open(path, O_RDONLY | O_CLOEXEC);
    if (cfd < 0)
        return RK_EIO;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    snprintf(line, sizeof line, "%d %d", efd, cfd);
    /* The kernel keeps what it needs of the control file once registered. */
    int rc = efd >= 0 ? write_str(mem, "cgroup.event_control", line) : -1;
    close(cfd);
    if (rc != 0) {
        if (efd >= 0)
            close(efd);
        return RK_EIO;
    }
    cg->oom_efd = efd;
    return 0;
}

/* The directory that holds a controller's files. */
static const char *dir_of(const rk_cg_t *cg, int ctrl_bit)
{
    if (cg->version == RK_CG_V2)
        return cg->dir[0];
    for (int i = 0; i < RK_CG_NCTRL; i++)
        if (ctrl_bit == 1 << i)
            return cg->dir[i][0] ? cg->dir[i] : NULL;
    return NULL;
}

/* Some directory of the group holding every process (all hierarchies hold
 * the same set): the freezer's, or any. */
static const char *any_dir(const rk_cg_t *cg)
{
    const char *d = dir_of(cg, RK_CG_FREEZER);
    for (int i = 0; !d && i < RK_CG_NCTRL; i++)
        if (cg->dir[i][0])
            d = cg->dir[i];
    return d;
}

/* Range and controller checks shared by rk_cg_limits_check and apply. */
static int limits_check(unsigned ctrls, bool have_dir[RK_CG_NCTRL], const rk_cg_limits_t *lim,
                        char *err, size_t errsz)
{
    struct {
        const char *field;
        bool set;
        bool ok;
        int ctrl;
    } chk[] = {
        {"memory_mb", lim->memory_mb > 0,
         lim->memory_mb >= MEMORY_MB_MIN && lim->memory_mb <= (1ull << 40), RK_CG_MEMORY},
        {"pids", lim->pids > 0, lim->pids <= PIDS_MAX_LIMIT, RK_CG_PIDS},
        {"cpus", lim->cpus != 0, lim->cpus >= CPUS_MIN && lim->cpus <= CPUS_MAX, RK_CG_CPU},
        {"cpu_weight", lim->cpu_weight > 0, lim->cpu_weight <= 10000, RK_CG_CPU},
    };
    for (size_t i = 0; i < sizeof chk / sizeof chk[0]; i++) {
        if (!chk[i].set)
            continue;
        int bit = __builtin_ctz((unsigned)chk[i].ctrl);
        if (!chk[i].ok) {
            snprintf(err, errsz, "limits.%s out of range", chk[i].field);
            return RK_EINVAL;
        }
        if (!(ctrls & (unsigned)chk[i].ctrl) || !have_dir[bit]) {
            snprintf(err, errsz, "limits.%s needs the cgroup %s controller, not available here",
                     chk[i].field, isolate__cg_ctrl_names[bit]);
            return RK_EUNSUP;
        }
    }
    return 0;
}

int rk_cg_limits_check(const rk_cg_probe_t *p, const rk_cg_limits_t *lim, char *err, size_t errsz)
{
    bool have[RK_CG_NCTRL];
    for (int i = 0; i < RK_CG_NCTRL; i++)
        have[i] = p->version == RK_CG_V2 || p->base[i][0];
    return limits_check(p->version == RK_CG_NONE ? 0 : p->ctrls, have, lim, err, errsz);
}

int rk_cg_apply(rk_cg_t *cg, const rk_cg_limits_t *lim, char *err, size_t errsz)
{
    bool v2 = cg->version == RK_CG_V2;
    char v[64];
    bool have[RK_CG_NCTRL];
    for (int i = 0; i < RK_CG_NCTRL; i++)
        have[i] = dir_of(cg, 1 << i) != NULL;
    int rc = limits_check(cg->ctrls, have, lim, err, errsz);
    if (rc != 0)
        return rc;
    int e = 0;
    const char *what = "";
    if (lim->memory_mb) {
        const char *d = dir_of(cg, RK_CG_MEMORY);
        snprintf(v, sizeof v, "%" PRIu64, lim->memory_mb << 20);
        what = "memory_mb";
        /* Swap must not extend the limit; where swap accounting is off the
         * file is missing, and then there is nothing to extend it with. v1
         * refuses memsw below limit_in_bytes and limit_in_bytes above memsw,
         * so memsw is written on both sides: one of the two writes fits
         * whether the limit goes up or down. */
        const char *swap = v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes";
        if (!v2)
            (void)write_str(d, swap, v);
        e = write_str(d, v2 ? "memory.max" : "memory.limit_in_bytes", v);
        if (e == 0)
            (void)write_str(d, swap, v2 ? "0" : v);
    }
    if (e == 0 && lim->pids) {
        snprintf(v, sizeof v, "%" PRIu64, lim->pids);
        what = "pids";
        e = write_str(dir_of(cg, RK_CG_PIDS), "pids.max", v);
    }
    if (e == 0 && lim->cpus != 0) {
        long quota = (long)(lim->cpus * CFS_PERIOD_US + 0.5);
        what = "cpus";
        if (v2) {
            snprintf(v, sizeof v, "%ld %d", quota, CFS_PERIOD_US);
            e = write_str(dir_of(cg, RK_CG_CPU), "cpu.max", v);
        } else {
            snprintf(v, sizeof v, "%d", CFS_PERIOD_US);
            e = write_str(dir_of(cg, RK_CG_CPU), "cpu.cfs_period_us", v);
            snprintf(v, sizeof v, "%ld", quota);
            if (e == 0)
                e = write_str(dir_of(cg, RK_CG_CPU), "cpu.cfs_quota_us", v);
        }
    }
    if (e == 0 && lim->cpu_weight) {
        what = "cpu_weight";
        /* v1 shares: 1024 is the default, as 100 is for v2's weight. */
        snprintf(v, sizeof v, "%u", v2 ? lim->cpu_weight : lim->cpu_weight * 1024u / 100u + 2);
        e = write_str(dir_of(cg, RK_CG_CPU), v2 ? "cpu.weight" : "cpu.shares", v);
    }
    if (e != 0) {
        snprintf(err, errsz, "cannot apply limits.%s: %s", what, strerror(-e));
        return RK_EIO;
    }
    return 0;
}

int rk_cg_enter(const rk_cg_t *cg, pid_t pid)
{
    char v[32];
    snprintf(v, sizeof v, "%d", (int)pid);
    for (int i = 0; i < RK_CG_NCTRL; i++)
        if (cg->dir[i][0] && write_str(cg->dir[i], "cgroup.procs", v) != 0)
            return RK_EIO;
    return 0;
}

int rk_cg_join_fds(const rk_cg_t *cg, int *fds, size_t cap, size_t *n)
{
    *n = 0;
    for (int i = 0; i < RK_CG_NCTRL; i++) {
        if (!cg->dir[i][0])
            continue;
        if (*n == cap)
            goto fail_big;
        char path[RK_CG_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/cgroup.procs", cg->dir[i]);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            goto fail_io;
        fds[(*n)++] = fd;
    }
    return 0;
fail_big:
    while (*n)
        close(fds[--*n]);
    return RK_ETOOBIG;
fail_io:
    while (*n)
        close(fds[--*n]);
    return RK_EIO;
}

int rk_cg_join_self(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (write(fds[i], "0\n", 2) < 0)
            return -errno;
    return 0;
}

/* Whether the kernel reports the freeze (or thaw) as complete. */
static bool frozen_state(const rk_cg_t *cg, bool frozen)
{
    char b[256];
    if (cg->version == RK_CG_V2) {
        uint64_t f = 0;
        return read_keyed(cg->dir[0], "cgroup.events", "frozen", &f) && (f != 0) == frozen;
    }
    if (isolate__cg_read(dir_of(cg, RK_CG_FREEZER), "freezer.state", b, sizeof b) <= 0)
        return false;
    return strncmp(b, frozen ? "FROZEN" : "THAWED", 6) == 0;
}

int rk_cg_freeze(rk_cg_t *cg, bool frozen)
{
    const char *d = dir_of(cg, RK_CG_FREEZER);
    if (!d)
        return RK_EUNSUP;
    int e = cg->version == RK_CG_V2 ? write_str(d, "cgroup.freeze", frozen ? "1" : "0")
                                    : write_str(d, "freezer.state", frozen ? "FROZEN" : "THAWED");
    if (e != 0)
        return RK_EIO;
    for (int64_t until = now_ms() + RK_CG_SETTLE_MS; !frozen_state(cg, frozen);) {
        if (now_ms() > until)
            return RK_ETIMEDOUT;
        sleep_ms(2);
    }
    return 0;
}

int rk_cg_stats(const rk_cg_t *cg, rk_cg_stats_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t v = 0;
    const char *mem = dir_of(cg, RK_CG_MEMORY);
    if (cg->version == RK_CG_V2) {
        if (mem && read_u64(mem, "memory.peak", &v))
            out->memory_peak_kib = v / 1024;
        if (read_keyed(cg->dir[0], "cpu.stat", "usage_usec", &v))
            out->cpu_usage_s = (double)v / 1e6;
        if (mem && read_keyed(mem, "memory.events", "oom_kill", &v))
            out->oom_killed = v > 0;
        return 0;
    }
    if (mem && read_u64(mem, "memory.max_usage_in_bytes", &v))
        out->memory_peak_kib = v / 1024;
    if (mem && read_keyed(mem, "memory.oom_control", "oom_kill", &v))
        out->oom_killed = v > 0;
    struct pollfd pf = {.fd = cg->oom_efd, .events = POLLIN};
    if (cg->oom_efd >= 0 && poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN))
        out->oom_killed = true; /* rk_cg_oom_watch: an OOM under the group's limit */
    const char *acct = dir_of(cg, RK_CG_CPUACCT);
    if (acct && read_u64(acct, "cpuacct.usage", &v))
        out->cpu_usage_s = (double)v / 1e9;
    return 0;
}

/* Counts (and with sig, signals) the processes listed in dir/cgroup.procs. */
static int procs_in(const char *dir, int sig)
{
    char path[RK_CG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : RK_EIO;
    int n = 0;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        n++;
        if (sig && pid > 0)
            kill((pid_t)pid, sig);
    }
    fclose(f);
    return n;
}

int rk_cg_count(const rk_cg_t *cg)
{
    const char *d = any_dir(cg);
    return d ? procs_in(d, 0) : 0;
}

/* Kills everything in the group whose directories are dirs (one per
 * hierarchy, "" unused): v2's cgroup.kill where there is one, else freeze,
 * signal, thaw until empty so nothing forks past the signal. */
static int kill_dirs(rk_cg_version_t ver, const char *any, const char *freezer)
{
    /* An empty group stays empty (only a member can fork into it): the
     * usual end of a job, whose processes are gone. Freezing it anyway
     * cost a v1 freezer's static key flip, patching the kernel's text on
     * every CPU, per job. */
    if (!any || procs_in(any, 0) == 0)
        return 0;
    bool v2 = ver == RK_CG_V2;
    if (v2 && write_str(any, "cgroup.kill", "1") == 0)
        freezer = NULL;
    for (int64_t until = now_ms() + RK_CG_SETTLE_MS;;) {
        if (freezer)
            (void)write_str(freezer, v2 ? "cgroup.freeze" : "freezer.state", v2 ? "1" : "FROZEN");
        int n = procs_in(any, SIGKILL);
        if (freezer)
            (void)write_str(freezer, v2 ? "cgroup.freeze" : "freezer.state", v2 ? "0" : "THAWED");
        if (n <= 0)
            return n;
        if (now_ms() > until)
            return RK_ETIMEDOUT;
        sleep_ms(2);
    }
}

int rk_cg_kill(rk_cg_t *cg)
{
    return kill_dirs(cg->version, any_dir(cg), dir_of(cg, RK_CG_FREEZER));
}

/* rmdir with retries: the kernel may still be tearing down exited tasks. */
static int rmdir_settled(const char *dir)
{
    for (int64_t until = now_ms() + RK_CG_SETTLE_MS;;) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || now_ms() > until)
            return -errno;
        sleep_ms(2);
    }
}

/* Removes dir's child groups, deepest first, killing what they hold (a
 * v1 group a runtime froze is thawed first, or SIGKILL would wait). At
 * most 64 children a level are looked at per pass; passes repeat while
 * any went. 0 or -errno. */
static int remove_children(const char *dir, int depth)
{
    if (depth > 16)
        return -ELOOP;
    int rc = 0;
    for (bool again = true; again;) {
        again = false;
        char names[64][256];
        size_t n = 0;
        DIR *d = opendir(dir);
        if (!d)
            return errno == ENOENT ? 0 : -errno;
        for (struct dirent *e; n < 64 && (e = readdir(d));)
            if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 &&
                strcmp(e->d_name, "..") != 0 && strlen(e->d_name) < sizeof names[0])
                snprintf(names[n++], sizeof names[0], "%s", e->d_name);
        closedir(d);
        for (size_t i = 0; i < n; i++) {
            char sub[RK_CG_PATH_MAX];
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, names[i]) >= sizeof sub) {
                rc = -ENAMETOOLONG;
                continue;
            }
            int e = remove_children(sub, depth + 1);
            (void)write_str(sub, "freezer.state", "THAWED"); /* v1 freezer only */
            for (int64_t until = now_ms() + RK_CG_SETTLE_MS; procs_in(sub, SIGKILL) > 0;) {
                if (now_ms() > until)
                    break;
                sleep_ms(2);
            }
            if (e == 0)
                e = rmdir_settled(sub);
            if (e == 0)
                again = n == 64;
            else if (rc == 0)
                rc = e;
        }
    }
    return rc;
}

int rk_cg_remove_everywhere(const char *rel, bool children_only, size_t *removed)
{
    static char mnts[32][ISOLATE__CG_MNT_MAX];
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    if (removed)
        *removed = 0;
    if (!rel || rel[0] != '/' || strstr(rel, "/.."))
        return RK_EINVAL;
    pthread_mutex_lock(&mu);
    int n = isolate__cg_mounts(mnts, 32), rc = 0;
    for (int i = 0; i < n; i++) {
        char dir[RK_CG_PATH_MAX];
        if ((size_t)snprintf(dir, sizeof dir, "%s%s", mnts[i], rel) >= sizeof dir ||
            access(dir, F_OK) != 0)
            continue;
        int e = remove_children(dir, 0);
        if (e == 0 && !children_only) {
            (void)write_str(dir, "freezer.state", "THAWED");
            procs_in(dir, SIGKILL);
            e = rmdir_settled(dir);
            if (e == 0 && removed)
                (*removed)++;
        }
        if (e != 0)
            rc = RK_EIO;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* Whether dir holds a child group. */
static bool has_children(const char *dir)
{
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && !found && (e = readdir(d));)
        found = e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return found;
}

/* rk_cg_remove; children: child groups too (else a group with some stays,
 * at once: rmdir would say EBUSY as for a group still emptying). */
static int remove_cg(rk_cg_t *cg, bool children, char *err, size_t errsz)
{
    int rc = rk_cg_kill(cg);
    if (rc != 0)
        snprintf(err, errsz, "processes of the cgroup did not die: %s", rk_strerror(rc));
    if (cg->oom_efd >= 0)
        close(cg->oom_efd);
    for (int i = 0; i < RK_CG_NCTRL; i++) {
        if (!cg->dir[i][0])
            continue;
        int e = children                   ? remove_children(cg->dir[i], 0)
                : has_children(cg->dir[i]) ? -ENOTEMPTY
                                           : 0;
        if (e == 0)
            e = rmdir_settled(cg->dir[i]);
        if (e != 0) {
            snprintf(err, errsz, "cannot remove cgroup %s: %s", cg->dir[i], strerror(-e));
            rc = RK_EIO;
        }
    }
    free(cg);
    return rc;
}

int rk_cg_remove(rk_cg_t *cg, char *err, size_t errsz)
{
    return remove_cg(cg, true, err, errsz);
}

void rk_cg_free(rk_cg_t *cg)
{
    if (cg && cg->oom_efd >= 0)
        close(cg->oom_efd);
    free(cg);
}

int rk_cg_sweep(const rk_cg_probe_t *p, const char *root, size_t *removed)
{
    *removed = 0;
    if (!p || p->version == RK_CG_NONE)
        return RK_EUNSUP;
    if (!valid_root(root))
        return RK_EINVAL;
    /* The names come from the first hierarchy; each is then removed as a
     * group from every hierarchy, the way rk_cg_create made it. */
    int first = p->version == RK_CG_V2 ? 0 : -1;
    for (int i = 0; first < 0 && i < RK_CG_NCTRL; i++)
        if (p->base[i][0])
            first = i;
    if (first < 0)
        return 0;
    char rootdir[RK_CG_PATH_MAX];
    snprintf(rootdir, sizeof rootdir, "%.350s/%.128s", p->base[first], root);
    DIR *d = opendir(rootdir);
    if (!d)
        return errno == ENOENT ? 0 : RK_EIO;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || !one_component(de->d_name))
            continue;
        rk_cg_t cg = {.version = p->version, .ctrls = p->ctrls};
        for (int i = 0; i < RK_CG_NCTRL; i++)
            if (p->base[i][0] && (p->version == RK_CG_V1 || i == 0))
                snprintf(cg.dir[i], RK_CG_PATH_MAX, "%.200s/%.120s/%.120s", p->base[i], root,
                         de->d_name);
        rk_cg_t *heap = malloc(sizeof cg);
        if (!heap) {
            rc = RK_ENOMEM;
            break;
        }
        *heap = cg;
        char err[256];
        /* Not its child groups: a container's runtime cleans those up
         * first (see rk_cg_sweep in cgroup.h). */
        if (remove_cg(heap, false, err, sizeof err) == 0)
            (*removed)++;
        else
            rc = RK_EIO;
    }
    closedir(d);
    return rc;
}
