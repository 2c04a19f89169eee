#include "exec/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sanitize.h"
#include "exec/reaper.h"

extern char **environ;

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Length of the KEY part of "KEY=VALUE" (the whole string without '='). */
static size_t key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int overridden(const char *kv, const char *const *extra, const char *tag)
{
    size_t n = key_len(kv);
    for (size_t i = 0; extra && extra[i]; i++)
        if (key_len(extra[i]) == n && strncmp(kv, extra[i], n) == 0)
            return 1;
    return tag && key_len(tag) == n && strncmp(kv, tag, n) == 0;
}

/* The child's environment: the agent's, minus names the extras redefine,
 * then the extras and the tag. The strings are borrowed; only the array is
 * allocated, so it can be built before fork (the child must not allocate). */
static char **build_env(const char *const *extra, const char *tag)
{
    size_t n = 0, m = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    for (size_t i = 0; extra && extra[i]; i++)
        m++;
    char **env = malloc((n + m + 2) * sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (!overridden(*e, extra, tag))
            env[k++] = *e;
    for (size_t i = 0; i < m; i++)
        env[k++] = (char *)extra[i];
    if (tag)
        env[k++] = (char *)tag;
    env[k] = NULL;
    return env;
}

/* stdin as an in-memory file holding the data: the child reads it at its
 * own pace and the parent never blocks or sees SIGPIPE feeding a pipe. */
static int stdin_fd(const rk_exec_spec_t *spec)
{
    if (!spec->stdin_data)
        return open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fd = memfd_create("rk-stdin", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < spec->stdin_len) {
        ssize_t w = write(fd, spec->stdin_data + off, spec->stdin_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A pipe whose read end (p[0], the parent's) is non-blocking; both ends are
 * close-on-exec so other threads' children never inherit them. */
static int pipe_nb(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    return 0;
}

/* Everything below runs in the child of a multithreaded parent before exec:
 * async-signal-safe calls only, no allocation. The exec child shares the
 * agent's memory (clone_exec) on a stack AddressSanitizer does not know:
 * its functions are not instrumented (base/sanitize.h). */

RK_NO_ASAN static _Noreturn void child_fail(int stage)
{
    int msg[2] = {stage, errno};
    ssize_t w = write(3, msg, sizeof msg);
    (void)w;
    _exit(127);
}

RK_NO_ASAN static void child_limit(int res, uint64_t want, uint64_t extra_hard)
{
    struct rlimit rl;
    if (!want)
        return;
    if (getrlimit(res, &rl) < 0)
        child_fail(RK_EXEC_STAGE_RLIMIT);
    rlim_t soft = (rlim_t)want, hard = (rlim_t)(want + extra_hard);
    if (rl.rlim_max != RLIM_INFINITY && hard > rl.rlim_max)
        hard = rl.rlim_max;
    if (soft > hard)
        soft = hard;
    struct rlimit want_rl = {.rlim_cur = soft, .rlim_max = hard};
    if (setrlimit(res, &want_rl) == 0)
        return;
    /* Some environments pin a hard limit (valgrind does RLIMIT_NOFILE's):
     * the soft limit alone still bounds the job unless it raises it. */
    want_rl.rlim_max = rl.rlim_max;
    if (errno != EPERM || setrlimit(res, &want_rl) < 0)
        child_fail(RK_EXEC_STAGE_RLIMIT);
}

RK_NO_ASAN static void child_close_from(int lowfd, int maxfd)
{
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
        return;
    for (int fd = lowfd; fd < maxfd; fd++)
        close(fd);
}

/* What the child needs, prepared in the parent (the child must not
 * allocate). With CLONE_VM the child reads it in the parent's memory. */
typedef struct child_args {
    const rk_exec_spec_t *spec;
    char **env;
    int in, out, err, status, maxfd;
} child_args_t;

/* Signals back to their defaults and an empty mask: the agent may block or
 * ignore signals (SIGPIPE, SIGTERM for its own shutdown), and exec keeps
 * both the mask and ignored dispositions. Dispositions first: with CLONE_VM
 * a handler of the agent must never run in the child, on the agent's
 * memory, so signals stay blocked until no handler is left. */
RK_NO_ASAN static void child_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Everything from the process group to the limits and the working
 * directory; returns only on success. */
RK_NO_ASAN static void child_setup(const child_args_t *c)
{
    const rk_exec_spec_t *spec = c->spec;
    child_signals();
    setpgid(0, 0);

    /* fds 0..2 are open in the parent, so every pipe end is >= 3 and the
     * dup2s cannot clobber each other; the status pipe then moves to 3. */
    if (dup2(c->in, 0) < 0 || dup2(c->out, 1) < 0 || dup2(c->err, 2) < 0) {
        int msg[2] = {RK_EXEC_STAGE_FDS, errno};
        ssize_t w = write(c->status, msg, sizeof msg);
        (void)w;
        _exit(127);
    }
    if (c->status != 3) {
        if (dup3(c->status, 3, O_CLOEXEC) < 0)
            _exit(127);
    }
    child_close_from(4, c->maxfd);

    child_limit(RLIMIT_CPU, spec->limits.cpu_seconds, 1);
    child_limit(RLIMIT_AS, spec->limits.memory_mb << 20, 0);
    child_limit(RLIMIT_NOFILE, spec->limits.nofile, 0);
    child_limit(RLIMIT_NPROC, spec->limits.nproc, 0);

    if (spec->workdir && chdir(spec->workdir) < 0)
        child_fail(RK_EXEC_STAGE_CHDIR);
}

/* The forked child of the function variant: a full copy of the agent, so
 * the function may allocate. */
static _Noreturn void child_fn_main(const child_args_t *c)
{
    child_setup(c);
    environ = c->env;
    close(3); /* "started" for the parent */
    int rc = c->spec->fn(c->spec->fn_arg);
    fflush(stdout);
    fflush(stderr);
    _exit(rc & 0xff);
}

/* The child of a program: clone(CLONE_VM | CLONE_VFORK), like glibc's
 * posix_spawn. It runs on its own small stack in the agent's memory while
 * the spawning thread waits for its exec or exit, so no page table is
 * copied; it only makes async-signal-safe calls and writes nothing of the
 * agent's but errno (the spawning thread's, which the parent saves first
 * anyway). posix_spawn itself cannot set rlimits between fork and exec. */
RK_NO_ASAN static int child_exec_main(void *arg)
{
    const child_args_t *c = arg;
    child_setup(c);
    execvpe(c->spec->argv[0], (char *const *)c->spec->argv, c->env);
    child_fail(RK_EXEC_STAGE_EXEC);
}

/* Stack of the exec child: execvpe's PATH search keeps a PATH_MAX buffer
 * and, for a script without #!, a copy of argv on it. */
static size_t exec_stack_size(const rk_exec_spec_t *spec)
{
    size_t argc = 0;
    while (spec->argv[argc])
        argc++;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = 64 * 1024 + 2 * PATH_MAX + (argc + 2) * sizeof(char *);
    return (n + page - 1) / page * page;
}

/* The exec child's stack, kept per spawning thread: a fresh mmap per
 * spawn cost page faults on every use and a TLB shootdown (an IPI to the
 * other CPUs) at its munmap. The parent is suspended until the child execs
 * or exits (CLONE_VFORK), so one stack per thread is never used twice at
 * once. Unmapped when the thread exits. */
typedef struct tls_stack {
    char *p;
    size_t n;
} tls_stack_t;

static pthread_key_t stack_key;
static pthread_once_t stack_once = PTHREAD_ONCE_INIT;

static void stack_free(void *v)
{
    tls_stack_t *s = v;
    munmap(s->p, s->n);
    free(s);
}

static void stack_key_init(void)
{
    pthread_key_create(&stack_key, stack_free);
}

/* This thread's stack of at least n bytes; NULL with errno. */
static char *thread_stack(size_t n)
{
    pthread_once(&stack_once, stack_key_init);
    tls_stack_t *s = pthread_getspecific(stack_key);
    if (s && s->n >= n)
        return s->p;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    if (!s && !(s = calloc(1, sizeof *s))) {
        munmap(p, n);
        errno = ENOMEM;
        return NULL;
    }
    if (s->p)
        munmap(s->p, s->n);
    s->p = p;
    s->n = n;
    if (pthread_setspecific(stack_key, s) != 0) {
        stack_free(s);
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

/* Starts the exec child; returns its pid, or -1 with errno. */
static pid_t clone_exec(child_args_t *c, size_t stack_size)
{
    char *stack = thread_stack(stack_size);
    if (!stack)
        return -1;
    /* Every signal blocked, glibc's internal ones too (raw syscall), so
     * no handler runs in the child before child_signals reset them. */
    uint64_t all = ~UINT64_C(0), old = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
    /* The stack grows down on every architecture Linux runs us on. */
    pid_t pid = clone(child_exec_main, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
    int e = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
    errno = e;
    return pid;
}

int rk_exec_spawn(const rk_exec_spec_t *spec, const char *tag, rk_exec_child_t *child,
                  int *sys_errno)
{
    int in = -1, out[2] = {-1, -1}, err[2] = {-1, -1}, st[2] = {-1, -1};
    char **env = NULL;
    int rc = RK_EIO;

    *sys_errno = 0;
    child->pid = -1;
    child->out_fd = child->err_fd = child->status_fd = -1;
    if (!spec->fn && (!spec->argv || !spec->argv[0]))
        return RK_EINVAL;
    env = build_env(spec->env, tag);
    if (!env) {
        rc = RK_ENOMEM;
        goto cleanup;
    }
    long maxfd = sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 65536)
        maxfd = 65536;
    in = stdin_fd(spec);
    if (in < 0 || pipe_nb(out) < 0 || pipe_nb(err) < 0 || pipe_nb(st) < 0) {
        *sys_errno = errno;
        goto cleanup;
    }
    child_args_t c = {.spec = spec,
                      .env = env,
                      .in = in,
                      .out = out[1],
                      .err = err[1],
                      .status = st[1],
                      .maxfd = (int)maxfd};
    size_t stack_size = spec->fn ? 0 : exec_stack_size(spec);
    rk_exec_leader_hold();
    pid_t pid;
    if (spec->fn) {
        pid = fork();
        if (pid == 0)
            child_fn_main(&c);
    } else {
        pid = clone_exec(&c, stack_size);
    }
    int fork_errno = errno;
    if (rk_exec_leader_release(pid) < 0)
        rk_log_warn("exec: cannot register job leader; a sweep may reap it");
    if (pid < 0) {
        *sys_errno = fork_errno;
        goto cleanup;
    }

    /* Also from the parent, so the group exists before we might signal it;
     * EACCES once the child has exec'd is fine (it did it itself). */
    setpgid(pid, pid);
    child->pid = pid;
    child->out_fd = out[0];
    child->err_fd = err[0];
    child->status_fd = st[0];
    out[0] = err[0] = st[0] = -1;
    rc = RK_OK;

cleanup:
    free(env);
    int fds[] = {in, out[0], out[1], err[0], err[1], st[0], st[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

int rk_exec_spawn_status(int status_fd, int *stage, int *err)
{
    int msg[2];
    ssize_t r;
    do
        r = read(status_fd, msg, sizeof msg);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return errno == EAGAIN ? RK_EBUSY : RK_EIO;
    if (r == 0)
        return 0;
    if (r != (ssize_t)sizeof msg) /* the 8 bytes go in one atomic pipe write */
        return RK_EIO;
    *stage = msg[0];
    *err = msg[1];
    return 1;
}

void rk_exec_spawn_describe(int stage, int err, const char *what, const char *workdir, char *out,
                            size_t outsz)
{
    const char *reason = strerror(err);
    switch (stage) {
    case RK_EXEC_STAGE_EXEC:
        snprintf(out, outsz, "cannot execute '%s': %s", what ? what : "?", reason);
        break;
    case RK_EXEC_STAGE_CHDIR:
        snprintf(out, outsz, "cannot change to directory '%s': %s", workdir ? workdir : "?",
                 reason);
        break;
    case RK_EXEC_STAGE_RLIMIT:
        snprintf(out, outsz, "cannot set resource limits for '%s': %s", what ? what : "?", reason);
        break;
    case RK_EXEC_STAGE_FDS:
        snprintf(out, outsz, "cannot set up stdio for '%s': %s", what ? what : "?", reason);
        break;
    default:
        snprintf(out, outsz, "cannot start '%s': %s", what ? what : "?", reason);
        break;
    }
}
