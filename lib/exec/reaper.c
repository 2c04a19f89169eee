#include "exec/reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"

static pthread_mutex_t leaders_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t *leaders;
static size_t nleaders, leaders_size;

/* Caller holds leaders_mu. */
static int add_locked(pid_t pid)
{
    int rc = RK_OK;
    if (nleaders == leaders_size) {
        size_t n = leaders_size ? leaders_size * 2 : 16;
        pid_t *p = realloc(leaders, n * sizeof *p);
        if (!p) {
            rc = RK_ENOMEM;
            goto cleanup;
        }
        leaders = p;
        leaders_size = n;
    }
    leaders[nleaders++] = pid;
cleanup:
    return rc;
}

int rk_exec_leader_add(pid_t pid)
{
    pthread_mutex_lock(&leaders_mu);
    int rc = add_locked(pid);
    pthread_mutex_unlock(&leaders_mu);
    return rc;
}

void rk_exec_leader_hold(void)
{
    pthread_mutex_lock(&leaders_mu);
}

int rk_exec_leader_release(pid_t pid)
{
    int rc = pid > 0 ? add_locked(pid) : RK_OK;
    pthread_mutex_unlock(&leaders_mu);
    return rc;
}

void rk_exec_leader_del(pid_t pid)
{
    pthread_mutex_lock(&leaders_mu);
    for (size_t i = 0; i < nleaders; i++) {
        if (leaders[i] == pid) {
            leaders[i] = leaders[--nleaders];
            break;
        }
    }
    if (nleaders == 0) { /* keep an idle agent free of leftovers */
        free(leaders);
        leaders = NULL;
        leaders_size = 0;
    }
    pthread_mutex_unlock(&leaders_mu);
}

bool rk_exec_leader_is(pid_t pid)
{
    bool found = false;
    pthread_mutex_lock(&leaders_mu);
    for (size_t i = 0; i < nleaders && !found; i++)
        found = leaders[i] == pid;
    pthread_mutex_unlock(&leaders_mu);
    return found;
}

/* State, parent and process group from /proc/<pid>/stat. The command name
 * may hold spaces and parentheses, so fields are read after the last ')'. */
static int read_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RK_ENOENT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return RK_ENOENT;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int pp, pg;
    if (!p || sscanf(p + 1, " %c %d %d", state, &pp, &pg) != 3)
        return RK_EIO;
    *ppid = pp;
    *pgrp = pg;
    return RK_OK;
}

bool rk_exec_proc_env_find(pid_t pid, bool (*fn)(void *ud, const char *entry), void *ud)
{
    char path[64], buf[RK_EXEC_ENV_ENTRY_MAX + 1];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t have = 0;
    bool skipping = false, found = false;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        size_t start = 0;
        char *nul;
        while (!found && (nul = memchr(buf + start, '\0', have - start))) {
            if (!skipping && fn(ud, buf + start))
                found = true;
            skipping = false;
            start = (size_t)(nul - buf) + 1;
        }
        if (found)
            break;
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == sizeof buf) { /* one huge entry: drop it up to its NUL */
            have = 0;
            skipping = true;
        }
    }
    close(fd);
    return found;
}

typedef struct env_want {
    const char *const *entries;
    size_t n;
    uint64_t seen; /* bit i: entries[i] was found */
} env_want_t;

static bool want_entry(void *ud, const char *entry)
{
    env_want_t *w = ud;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(entry, w->entries[i]) == 0)
            w->seen |= UINT64_C(1) << i;
    return w->seen == (w->n == 64 ? ~UINT64_C(0) : (UINT64_C(1) << w->n) - 1);
}

bool rk_exec_proc_env_has(pid_t pid, const char *const *entries, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    env_want_t w = {.entries = entries, .n = n};
    return rk_exec_proc_env_find(pid, want_entry, &w);
}

int rk_exec_proc_each(int (*fn)(void *ud, pid_t pid), void *ud)
{
    DIR *d = opendir("/proc");
    if (!d)
        return RK_EIO;
    int sum = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        long v = strtol(de->d_name, &end, 10);
        if (*end || v <= 0)
            continue;
        sum += fn(ud, (pid_t)v);
    }
    closedir(d);
    return sum;
}

typedef struct tag_find {
    uint64_t *sup, *job;
} tag_find_t;

static bool tag_entry(void *ud, const char *entry)
{
    static const char key[] = RK_EXEC_TAG_KEY "=";
    tag_find_t *t = ud;
    return strncmp(entry, key, sizeof key - 1) == 0 &&
           sscanf(entry + sizeof key - 1, "%" SCNu64 ".%" SCNu64, t->sup, t->job) == 2;
}

/* Finds RK_EXEC_TAG=<sup>.<job> in /proc/<pid>/environ. Returns 1 with
 * *sup and *job set, 0 when absent or unreadable. */
static int read_tag(pid_t pid, uint64_t *sup, uint64_t *job)
{
    tag_find_t t = {sup, job};
    return rk_exec_proc_env_find(pid, tag_entry, &t) ? 1 : 0;
}

/* Looks at one process: reaps it if it is a dead orphan, SIGKILLs it (and
 * its group) if it is a live orphan tagged with an ended job of `sup`.
 * Returns 1 when it signalled. */
static int sweep_one(pid_t pid, pid_t self, pid_t mygrp, uint64_t sup, rk_exec_running_fn running,
                     void *ud, rk_exec_sweep_stats_t *st)
{
    pid_t ppid, pgrp;
    char state;
    if (rk_exec_leader_is(pid))
        return 0;
    st->examined++;
    if (read_stat(pid, &state, &ppid, &pgrp) || ppid != self)
        return 0;
    if (state == 'Z') {
        /* A dead orphan of some job. Children the agent started by other
         * means (popen) share its process group and are left to their
         * owners. */
        if (pgrp != mygrp)
            waitpid(pid, NULL, WNOHANG);
        return 0;
    }
    uint64_t tsup, tjob;
    st->tags_read++;
    if (!read_tag(pid, &tsup, &tjob) || tsup != sup || running(ud, tjob))
        return 0;
    kill(pid, SIGKILL);
    if (pgrp == pid)
        kill(-pid, SIGKILL);
    return 1;
}

typedef struct sweep_ctx {
    pid_t self, mygrp;
    uint64_t sup;
    rk_exec_running_fn running;
    void *ud;
    rk_exec_sweep_stats_t *st;
} sweep_ctx_t;

static int sweep_pid(void *ud, pid_t pid)
{
    sweep_ctx_t *c = ud;
    return sweep_one(pid, c->self, c->mygrp, c->sup, c->running, c->ud, c->st);
}

static int sweep_all(pid_t self, pid_t mygrp, uint64_t sup, rk_exec_running_fn running, void *ud,
                     rk_exec_sweep_stats_t *st)
{
    sweep_ctx_t c = {self, mygrp, sup, running, ud, st};
    int rc = rk_exec_proc_each(sweep_pid, &c);
    if (rc >= 0)
        st->full_scan = true;
    return rc;
}

/* The children of one of our threads, from /proc/self/task/<tid>/children
 * (a space-separated pid list): how many of them it signalled. */
static int sweep_thread(const char *tid, pid_t self, pid_t mygrp, uint64_t sup,
                        rk_exec_running_fn running, void *ud, rk_exec_sweep_stats_t *st)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* the thread ended: its children moved to another one */
    st->threads++;
    int signalled = 0;
    /* Pids are streamed: a number cut at the end of one read continues in
     * the next. The kernel builds the list per read, so a child that is
     * reparented meanwhile may be missed; the next sweep sees it. */
    char buf[1024];
    long cur = -1;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                cur = (cur < 0 ? 0 : cur * 10) + (buf[i] - '0');
                continue;
            }
            if (cur > 0)
                signalled += sweep_one((pid_t)cur, self, mygrp, sup, running, ud, st);
            cur = -1;
        }
    }
    if (cur > 0)
        signalled += sweep_one((pid_t)cur, self, mygrp, sup, running, ud, st);
    close(fd);
    return signalled;
}

/* Whether this kernel has /proc/<pid>/task/<tid>/children
 * (CONFIG_PROC_CHILDREN): 1 yes, -1 no, 0 not probed yet. */
static atomic_int children_file;

static bool have_children_file(void)
{
    int v = atomic_load(&children_file);
    if (v == 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%ld/children", (long)syscall(SYS_gettid));
        v = access(path, R_OK) == 0 ? 1 : -1;
        atomic_store(&children_file, v);
    }
    return v > 0;
}

int rk_exec_orphans_sweep_ex(uint64_t sup, rk_exec_running_fn running, void *ud,
                             rk_exec_sweep_mode_t mode, rk_exec_sweep_stats_t *stats)
{
    rk_exec_sweep_stats_t st = {0};
    pid_t self = getpid(), mygrp = getpgrp();
    int rc;
    if (mode == RK_EXEC_SWEEP_FULL || !have_children_file()) {
        rc = sweep_all(self, mygrp, sup, running, ud, &st);
        goto done;
    }
    /* Orphans are reparented to some thread of ours, leaders belong to the
     * thread that forked them: every thread's list is read. */
    DIR *d = opendir("/proc/self/task");
    if (!d) {
        rc = RK_EIO;
        goto done;
    }
    rc = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
            rc += sweep_thread(de->d_name, self, mygrp, sup, running, ud, &st);
    closedir(d);
done:
    if (stats)
        *stats = st;
    return rc;
}

int rk_exec_orphans_sweep(uint64_t sup, rk_exec_running_fn running, void *ud)
{
    return rk_exec_orphans_sweep_ex(sup, running, ud, RK_EXEC_SWEEP_AUTO, NULL);
}
