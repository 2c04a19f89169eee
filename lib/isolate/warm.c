/* The warm sandbox (warm.h): the holder, and what a job's child does to
 * enter it. */
#include "isolate/warm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "base/sanitize.h"
#include "exec/reaper.h"
#include "isolate/launch.h"
#include "isolate/sandbox.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* The holder's fd for bwrap's --info-fd. */
#define INFO_FD 3
/* How long bwrap may take to set the template up. */
#define START_TIMEOUT_MS 10000
/* The name PID 1 of a job's namespace shows in /proc/1/comm. */
#define INIT_NAME "rk-sandbox-init"
/* What the holder prints once it runs inside the view. */
#define READY "rk-warm-ready"

struct rk_warm {
    pid_t bwrap_pid;  /* our child: bwrap, which waits for the holder */
    pid_t holder_pid; /* the process whose namespaces jobs enter */
    ino_t mnt_ino, net_ino;
    int keep_fd; /* the write end of the holder's stdin: it ends when we do */
    char *bwrap;
    char **hide;
};

/* Signals the job's process group gets that must not end the leader or
 * PID 1 before the job: they catch them and do nothing (exec resets caught
 * signals for the job itself). */
static const int passed_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NPASSED (sizeof passed_signals / sizeof passed_signals[0])

static void ignore_handler(int sig)
{
    (void)sig;
}

/* ---- the holder ---------------------------------------------------------- */

static int ns_ino(pid_t pid, const char *ns, ino_t *ino)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns);
    if (stat(path, &st) != 0)
        return -1;
    *ino = st.st_ino;
    return 0;
}

static void holder_end(rk_warm_t *w)
{
    if (w->keep_fd >= 0)
        close(w->keep_fd);
    w->keep_fd = -1;
    if (w->bwrap_pid > 0) {
        kill(w->bwrap_pid, SIGKILL);
        while (waitpid(w->bwrap_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        rk_exec_leader_del(w->bwrap_pid);
    }
    w->bwrap_pid = w->holder_pid = 0;
}

/* Reads bwrap's --info-fd JSON and the holder's READY (or bwrap's
 * complaint, on the same pipe) until both came, EOF or the timeout. */
static ssize_t read_info(int fd, char *buf, size_t sz)
{
    size_t n = 0;
    while (n + 1 < sz) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, START_TIMEOUT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t got = read(fd, buf + n, sz - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
        buf[n] = '\0';
        if (strchr(buf, '}') && strstr(buf, READY))
            break;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

static int holder_start(rk_warm_t *w, char *why, size_t whysz)
{
    /* bwrap reports the child's pid before the child has built the view: the
     * holder says when it runs, then waits for EOF on its stdin. */
    static const char *const holder[] = {"sh", "-c", "echo " READY "; exec cat", NULL};
    char **argv = NULL;
    int rc = rk_sandbox_template_argv(w->bwrap, (const char *const *)w->hide, INFO_FD, holder,
                                      &argv, why, whysz);
    if (rc != 0)
        return rc == RK_ENOMEM ? rc : RK_EUNSUP;
    int info[2] = {-1, -1}, keep[2] = {-1, -1};
    if (pipe2(info, O_CLOEXEC) != 0 || pipe2(keep, O_CLOEXEC) != 0) {
        snprintf(why, whysz, "pipe: %s", strerror(errno));
        rk_sandbox_argv_free(argv);
        for (int i = 0; i < 2; i++) {
            if (info[i] >= 0)
                close(info[i]);
        }
        return RK_EUNSUP;
    }
    rk_exec_leader_hold();
    pid_t pid = fork();
    if (pid == 0) {
        /* stdin: the pipe only we write to; the rest: the pipe we read. */
        if (dup2(keep[0], 0) < 0 || dup2(info[1], 1) < 0 || dup2(info[1], 2) < 0 ||
            dup2(info[1], INFO_FD) < 0)
            _exit(126);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot execute %s: %s}", argv[0], strerror(errno));
        _exit(127);
    }
    rk_exec_leader_release(pid > 0 ? pid : 0);
    rk_sandbox_argv_free(argv);
    close(info[1]);
    close(keep[0]);
    w->keep_fd = keep[1];
    if (pid < 0) {
        snprintf(why, whysz, "fork: %s", strerror(errno));
        close(info[0]);
        holder_end(w);
        return RK_EUNSUP;
    }
    w->bwrap_pid = pid;
    char buf[1024];
    read_info(info[0], buf, sizeof buf);
    close(info[0]);
    const char *cp = strstr(buf, "\"child-pid\"");
    long hp = 0;
    if (cp && (cp = strchr(cp, ':')))
        hp = strtol(cp + 1, NULL, 10);
    if (hp <= 0 || !strstr(buf, READY)) {
        buf[strcspn(buf, "\n}")] = '\0';
        snprintf(why, whysz, "bwrap did not start the template: %s", buf[0] ? buf : "no answer");
        holder_end(w);
        return RK_EUNSUP;
    }
    w->holder_pid = (pid_t)hp;
    ino_t own = 0;
    if (ns_ino(w->holder_pid, "mnt", &w->mnt_ino) != 0 ||
        ns_ino(w->holder_pid, "net", &w->net_ino) != 0 || ns_ino(getpid(), "mnt", &own) != 0 ||
        own == w->mnt_ino) {
        snprintf(why, whysz, "cannot see the template's namespaces: %s", strerror(errno));
        holder_end(w);
        return RK_EUNSUP;
    }
    return 0;
}

/* Runs /bin/true through the warm sandbox: what every job will do. */
static int try_one(const rk_warm_t *w, char *why, size_t whysz)
{
    char dir[] = "/tmp/rk-warm-probe-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(why, whysz, "cannot make a probe folder: %s", strerror(errno));
        return RK_EUNSUP;
    }
    static char *const cmd[] = {"/bin/true", NULL};
    rk_warm_job_t job = {.job_dir = dir, .argv = cmd};
    int errp[2];
    int rc = RK_EUNSUP;
    if (pipe2(errp, O_CLOEXEC) == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            dup2(errp[1], 2);
            _exit(rk_warm_exec(w, &job));
        }
        close(errp[1]);
        char buf[512];
        ssize_t n = pid > 0 ? read(errp[0], buf, sizeof buf - 1) : -1;
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        close(errp[0]);
        int st = -1;
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            rc = 0;
        else
            snprintf(why, whysz, "a job cannot enter the template: %s", buf[0] ? buf : "it failed");
    }
    rmdir(dir);
    return rc;
}

int rk_warm_start(const char *bwrap, const char *const *hide, rk_warm_t **out, char *why,
                  size_t whysz)
{
    *out = NULL;
    if (geteuid() != 0) {
        snprintf(why, whysz, "needs root (a job's child joins namespaces bwrap made)");
        return RK_EUNSUP;
    }
    rk_warm_t *w = calloc(1, sizeof *w);
    size_t nh = 0;
    while (hide && hide[nh])
        nh++;
    if (!w || !(w->hide = calloc(nh + 1, sizeof *w->hide)) ||
        (bwrap && !(w->bwrap = strdup(bwrap)))) {
        rk_warm_stop(w);
        return RK_ENOMEM;
    }
    w->keep_fd = -1;
    for (size_t i = 0; i < nh; i++) {
        if (!(w->hide[i] = strdup(hide[i]))) {
            rk_warm_stop(w);
            return RK_ENOMEM;
        }
    }
    int rc = holder_start(w, why, whysz);
    if (rc == 0)
        rc = try_one(w, why, whysz);
    if (rc != 0) {
        rk_warm_stop(w);
        return rc;
    }
    *out = w;
    return 0;
}

int rk_warm_ready(rk_warm_t *w, char *why, size_t whysz)
{
    if (w->bwrap_pid > 0 && waitpid(w->bwrap_pid, NULL, WNOHANG) == 0)
        return 0;
    /* Reaped just now (or never there): forget it and start another. */
    if (w->bwrap_pid > 0)
        rk_exec_leader_del(w->bwrap_pid);
    w->bwrap_pid = 0;
    holder_end(w);
    return holder_start(w, why, whysz);
}

pid_t rk_warm_holder_pid(const rk_warm_t *w)
{
    return w->holder_pid;
}

void rk_warm_stop(rk_warm_t *w)
{
    if (!w)
        return;
    holder_end(w);
    for (size_t i = 0; w->hide && w->hide[i]; i++)
        free(w->hide[i]);
    free(w->hide);
    free(w->bwrap);
    free(w);
}

/* ---- a job's child ------------------------------------------------------- */

/* Opens the holder's namespace ns, checked to be the one the holder had at
 * start (a reused pid must not lead a job elsewhere). */
static int ns_open(const rk_warm_t *w, const char *ns, ino_t want)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)w->holder_pid, ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_ino != want)) {
        close(fd);
        errno = ESRCH;
        return -1;
    }
    return fd;
}

RK_NO_ASAN static int setup_failed(const char *what)
{
    fprintf(stderr, "sandbox: %s: %s\n", what, strerror(errno));
    return RK_ISOLATE_EXIT_SETUP;
}

/* What PID 1 of a job's namespace runs with, and what it leaves for the
 * job's leader: it shares the leader's memory (clone CLONE_VM) while the
 * leader waits for it to exit (CLONE_VFORK). */
typedef struct init_arg {
    const rk_warm_job_t *job;
    int status;    /* the job's wait status */
    bool started;  /* status is set */
    sigset_t mask; /* PID 1's signal mask, for the job to restore */
} init_arg_t;

/* PID 1's stack, used while the leader is suspended in clone, and the
 * job's until it execs, used while PID 1 is (a vfork of its own: glibc's
 * vfork, which sanitizers wrap, would share PID 1's stack). */
static char init_stack[128 * 1024] __attribute__((aligned(16)));
static char job_stack[128 * 1024] __attribute__((aligned(16)));

/* The job, PID 2, until its exec: default dispositions and mask back. */
RK_NO_ASAN static int job_main(void *arg)
{
    const init_arg_t *ia = arg;
    const rk_warm_job_t *j = ia->job;
    for (size_t i = 0; i < NPASSED; i++)
        signal(passed_signals[i], SIG_DFL);
    sigprocmask(SIG_SETMASK, &ia->mask, NULL);
    execvp(j->argv[0], j->argv);
    fprintf(stderr, "cannot execute '%s': %s\n", j->argv[0], strerror(errno));
    return RK_ISOLATE_EXIT_EXEC;
}

/* PID 1 of the job's namespace: returns only on a failure before the job
 * started (its exit status); else leaves the job's wait status in arg and
 * exits, which kills whatever is left in the namespace. */
RK_NO_ASAN static int init_main(void *arg)
{
    init_arg_t *ia = arg;
    const rk_warm_job_t *j = ia->job;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, INIT_NAME);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return setup_failed("cannot mount /proc");
    /* Raw system calls: they change this process only, whatever the C
     * library believes about the memory it shares with the leader. */
    if (j->run_as && (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setgid, j->gid) != 0 ||
                      syscall(SYS_setuid, j->uid) != 0)) {
        fprintf(stderr, "cannot run as uid %d gid %d: %s\n", (int)j->uid, (int)j->gid,
                strerror(errno));
        return RK_ISOLATE_EXIT_SETUP;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return setup_failed("no_new_privs");
    const char *wd = j->workdir ? j->workdir : RK_SANDBOX_JOB_DIR;
    if (chdir(wd) != 0) {
        fprintf(stderr, "cannot enter the working directory '%s': %s\n", wd, strerror(errno));
        return RK_ISOLATE_EXIT_SETUP;
    }
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &ia->mask);
    pid_t job = clone(job_main, job_stack + sizeof job_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, ia);
    sigprocmask(SIG_SETMASK, &ia->mask, NULL);
    if (job < 0)
        return setup_failed("cannot start the job");
    for (;;) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p == job) {
            ia->status = st;
            ia->started = true;
            break;
        }
        if (p < 0 && errno != EINTR)
            break;
    }
    return 0;
}

int rk_warm_exec(const rk_warm_t *w, const rk_warm_job_t *j)
{
    /* While the host is still in view: the job folder's mount, the
     * template's namespaces, and no controlling terminal to push input to. */
    int job = (int)syscall(SYS_open_tree, AT_FDCWD, j->job_dir, OPEN_TREE_CLONE | O_CLOEXEC);
    if (job < 0)
        return setup_failed("cannot take the job folder");
    int mnt = ns_open(w, "mnt", w->mnt_ino);
    int net = j->network ? -2 : ns_open(w, "net", w->net_ino);
    /* bwrap's root is a folder of its namespace's root mount (pivot_root). */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/root", (int)w->holder_pid);
    int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (mnt < 0 || net == -1 || root < 0) {
        close(job);
        if (mnt >= 0)
            close(mnt);
        if (net >= 0)
            close(net);
        if (root >= 0)
            close(root);
        return RK_WARM_GONE;
    }
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (tty >= 0) {
        ioctl(tty, TIOCNOTTY);
        close(tty);
    }
    if (net >= 0 && setns(net, CLONE_NEWNET) != 0)
        return setup_failed("cannot join the network namespace");
    if (setns(mnt, CLONE_NEWNS) != 0 || fchdir(root) != 0 || chroot(".") != 0)
        return setup_failed("cannot join the mount namespace");
    if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
        return setup_failed("cannot make the job's namespaces");
    if (syscall(SYS_move_mount, job, "", AT_FDCWD, RK_SANDBOX_JOB_DIR, MOVE_MOUNT_F_EMPTY_PATH) !=
        0) {
        return setup_failed("cannot mount the job folder");
    }
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
        return setup_failed("cannot mount /tmp");
    close(job);
    close(mnt);
    close(root);
    if (net >= 0)
        close(net);
    struct sigaction sa = {.sa_handler = ignore_handler};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NPASSED; i++)
        sigaction(passed_signals[i], &sa, NULL);
    init_arg_t ia = {.job = j};
    pid_t init =
        clone(init_main, init_stack + sizeof init_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &ia);
    if (init < 0)
        return setup_failed("cannot start the sandbox's init");
    int ist = 0;
    while (waitpid(init, &ist, 0) < 0 && errno == EINTR)
        ;
    if (!ia.started) /* init failed before the job: its status */
        _exit(WIFEXITED(ist) ? WEXITSTATUS(ist) : RK_ISOLATE_EXIT_SETUP);
    int st = ia.status;
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    _exit(WEXITSTATUS(st));
}
