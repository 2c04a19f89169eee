#include "exec/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "exec/reaper.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define READ_BUF 16384
#define POLL_EXIT_US 50000       /* exit polling without pidfd */
#define SWEEP_AGAIN_US 20000     /* after a sweep signalled orphans */
#define SWEEP_AFTER_END_US 10000 /* after a job ended */
#define SWEEP_PERIOD_US 30000000 /* reap orphans that ended on their own */

enum watch_kind { W_OUT, W_ERR, W_STATUS, W_PID };

struct job;
struct watch {
    struct job *job;
    enum watch_kind kind;
};

typedef struct job {
    struct job *next; /* in sup->pending (under mu), then in sup->jobs */
    uint64_t id;
    rk_exec_done_fn done;
    void *ud;
    rk_exec_child_t ch;
    int pidfd;
    rk_exec_sink_t out, err;
    struct watch w[4]; /* indexed by watch_kind */
    int64_t start_us, timeout_us, grace_us;
    int64_t deadline_us;  /* timeout, 0 if none */
    int64_t kill_at_us;   /* SIGKILL after the grace, 0 if not stopping */
    int64_t paused_at_us; /* frozen by rk_exec_pause since, 0 if not */
    int64_t paused_us;    /* time spent frozen before paused_at_us */
    int reason;           /* 0, RK_EXEC_TIMED_OUT or RK_EXEC_CANCELLED */
    bool exited;          /* the leader is a zombie: finish it */
    int fail_stage, fail_errno;
    char what[128], workdir[128]; /* for the spawn failure message */
} job_t;

/* A request for a started job, taken by the supervisor thread in the order
 * they were made (a pause and the resume after it must not swap). */
enum req_op { OP_CANCEL, OP_PAUSE, OP_RESUME };
typedef struct cancel_req {
    struct cancel_req *next;
    uint64_t id;
    enum req_op op;
    int64_t grace_ms; /* OP_CANCEL */
} cancel_req_t;

struct rk_exec_sup {
    pthread_t thread;
    int epfd, evfd;
    uint64_t num; /* for the environment tag */
    pthread_mutex_t mu;
    job_t *pending, **pending_tail;        /* under mu */
    cancel_req_t *cancels, **cancels_tail; /* under mu, oldest first */
    uint64_t next_id;                      /* under mu */
    bool stopping;                         /* under mu */
    /* Supervisor thread only: */
    job_t *jobs;
    int64_t sweep_at_us; /* 0: none pending */
    char buf[READ_BUF];
};

static atomic_uint_least64_t sup_counter;

const char *rk_exec_end_name(rk_exec_end_t end)
{
    switch (end) {
    case RK_EXEC_EXITED:
        return "exited";
    case RK_EXEC_SIGNALED:
        return "signaled";
    case RK_EXEC_TIMED_OUT:
        return "timed_out";
    case RK_EXEC_CANCELLED:
        return "cancelled";
    case RK_EXEC_SPAWN_FAILED:
        return "spawn_failed";
    }
    return "unknown";
}

int rk_exec_init(void)
{
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int n = open("/dev/null", O_RDWR);
        if (n < 0)
            return RK_EIO;
        if (n != fd) { /* lower fds are open, so open() returns fd itself */
            close(n);
            return RK_EIO;
        }
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return RK_EIO;
    return RK_OK;
}

static void wake(rk_exec_sup_t *sup)
{
    uint64_t one = 1;
    ssize_t w = write(sup->evfd, &one, sizeof one);
    (void)w; /* a full counter already means "wake up" */
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* ---- caller threads ---- */

static job_t *job_new(const rk_exec_spec_t *spec)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->ch.pid = -1;
    j->ch.out_fd = j->ch.err_fd = j->ch.status_fd = -1;
    j->pidfd = -1;
    j->out.fd = j->err.fd = -1;
    for (int k = 0; k < 4; k++) {
        j->w[k].job = j;
        j->w[k].kind = (enum watch_kind)k;
    }
    j->timeout_us = spec->timeout_ms > 0 ? spec->timeout_ms * 1000 : 0;
    j->grace_us = spec->grace_ms == 0  ? (int64_t)RK_EXEC_GRACE_DEFAULT_MS * 1000
                  : spec->grace_ms < 0 ? 0
                                       : spec->grace_ms * 1000;
    copy_str(j->what, sizeof j->what, spec->fn ? "function" : spec->argv[0]);
    copy_str(j->workdir, sizeof j->workdir, spec->workdir);
    return j;
}

static void job_free(job_t *j)
{
    int fds[] = {j->ch.out_fd, j->ch.err_fd, j->ch.status_fd, j->pidfd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    rk_exec_sink_close(&j->out);
    rk_exec_sink_close(&j->err);
    free(j);
}

int rk_exec_start(rk_exec_sup_t *sup, const rk_exec_spec_t *spec, rk_exec_done_fn done, void *ud,
                  uint64_t *id)
{
    if (!spec->fn && (!spec->argv || !spec->argv[0]))
        return RK_EINVAL;
    pthread_mutex_lock(&sup->mu);
    bool stopping = sup->stopping;
    uint64_t jid = ++sup->next_id;
    pthread_mutex_unlock(&sup->mu);
    if (stopping)
        return RK_ESTATE;

    job_t *j = job_new(spec);
    if (!j)
        return RK_ENOMEM;
    j->id = jid;
    j->done = done;
    j->ud = ud;
    size_t cap = spec->log_cap ? spec->log_cap : RK_EXEC_LOG_CAP_DEFAULT;
    char tag[64];
    snprintf(tag, sizeof tag, RK_EXEC_TAG_KEY "=%llu.%llu", (unsigned long long)sup->num,
             (unsigned long long)jid);
    int (*open_sink)(rk_exec_sink_t *, const char *, size_t, bool, bool) =
        spec->lazy_logs ? rk_exec_sink_open_lazy : rk_exec_sink_open_ex;
    int rc = open_sink(&j->out, spec->stdout_path, cap, false, spec->log_append);
    if (rc == RK_OK)
        rc = open_sink(&j->err, spec->stderr_path, cap, true, spec->log_append);
    if (rc == RK_OK)
        rc = rk_exec_spawn(spec, tag, &j->ch, &j->fail_errno);
    else
        j->fail_errno = rc == RK_EIO ? errno : ENOMEM;
    if (rc == RK_ENOMEM && !j->fail_errno)
        j->fail_errno = ENOMEM;
    if (rc != RK_OK)
        j->fail_stage = RK_EXEC_STAGE_SETUP; /* completes at once on the thread */
    if (spec->started_pid)
        *spec->started_pid = j->ch.pid;
    j->start_us = rk_time_mono_us();
    if (j->timeout_us)
        j->deadline_us = j->start_us + j->timeout_us;

    pthread_mutex_lock(&sup->mu);
    *sup->pending_tail = j;
    sup->pending_tail = &j->next;
    pthread_mutex_unlock(&sup->mu);
    wake(sup);
    *id = jid;
    return RK_OK;
}

/* Queues a request for job id and wakes the thread. */
static int request(rk_exec_sup_t *sup, uint64_t id, enum req_op op, int64_t grace_ms)
{
    cancel_req_t *c = malloc(sizeof *c);
    if (!c)
        return RK_ENOMEM;
    c->next = NULL;
    c->id = id;
    c->op = op;
    c->grace_ms = grace_ms;
    pthread_mutex_lock(&sup->mu);
    bool known = id > 0 && id <= sup->next_id;
    if (known) {
        *sup->cancels_tail = c;
        sup->cancels_tail = &c->next;
    }
    pthread_mutex_unlock(&sup->mu);
    if (!known) {
        free(c);
        return RK_ENOENT;
    }
    wake(sup);
    return RK_OK;
}

int rk_exec_cancel(rk_exec_sup_t *sup, uint64_t id, int64_t grace_ms)
{
    return request(sup, id, OP_CANCEL, grace_ms);
}

int rk_exec_pause(rk_exec_sup_t *sup, uint64_t id, bool pause)
{
    return request(sup, id, pause ? OP_PAUSE : OP_RESUME, 0);
}

/* ---- supervisor thread ---- */

static int watch_add(rk_exec_sup_t *sup, int fd, struct watch *w)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    return epoll_ctl(sup->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_watched(rk_exec_sup_t *sup, int *fd)
{
    if (*fd < 0)
        return;
    epoll_ctl(sup->epfd, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
    *fd = -1;
}

static void read_status(rk_exec_sup_t *sup, job_t *j)
{
    int stage, err;
    int rc = rk_exec_spawn_status(j->ch.status_fd, &stage, &err);
    if (rc == RK_EBUSY)
        return;
    if (rc == 1) {
        j->fail_stage = stage;
        j->fail_errno = err;
    }
    close_watched(sup, &j->ch.status_fd);
}

static void drain(rk_exec_sup_t *sup, job_t *j, enum watch_kind k)
{
    int *fd = k == W_OUT ? &j->ch.out_fd : &j->ch.err_fd;
    rk_exec_sink_t *s = k == W_OUT ? &j->out : &j->err;
    if (*fd >= 0 && rk_exec_sink_drain(s, *fd, sup->buf, sizeof sup->buf) != 0)
        close_watched(sup, fd); /* EOF or error */
}

static bool leader_exited(job_t *j)
{
    siginfo_t si = {0};
    if (waitid(P_PID, (id_t)j->ch.pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return errno == ECHILD; /* somebody else reaped it: nothing to wait for */
    return si.si_pid != 0;
}

/* Hands a freshly started job to the loop. */
static void job_register(rk_exec_sup_t *sup, job_t *j)
{
    j->next = sup->jobs;
    sup->jobs = j;
    if (j->ch.pid < 0) {
        j->exited = true;
        return;
    }
    j->pidfd = (int)syscall(SYS_pidfd_open, j->ch.pid, 0);
    if (j->pidfd >= 0)
        fcntl(j->pidfd, F_SETFD, FD_CLOEXEC);
    if ((j->pidfd >= 0 && watch_add(sup, j->pidfd, &j->w[W_PID]) < 0) ||
        watch_add(sup, j->ch.out_fd, &j->w[W_OUT]) < 0 ||
        watch_add(sup, j->ch.err_fd, &j->w[W_ERR]) < 0 ||
        watch_add(sup, j->ch.status_fd, &j->w[W_STATUS]) < 0) {
        /* Only ENOMEM/ENOSPC in epoll; do not leave an unwatched job. */
        rk_log_error("exec: cannot watch job, killing it");
        kill(-j->ch.pid, SIGKILL);
        j->reason = RK_EXEC_CANCELLED;
        j->kill_at_us = 1;
        if (j->pidfd >= 0) {
            close_watched(sup, &j->pidfd);
        }
    }
}

/* Freezes j's process group and stops its timeout clock. A job that is
 * stopping or has exited is left alone (the KILL ends it either way). */
static void freeze(job_t *j, int64_t now)
{
    if (j->exited || j->ch.pid < 0 || j->reason || j->paused_at_us)
        return;
    kill(-j->ch.pid, SIGSTOP);
    j->paused_at_us = now > 0 ? now : 1;
}

/* Thaws a frozen j: SIGCONT to its group, and the timeout moves on by the
 * time it was frozen, so it counts running time only. */
static void thaw(job_t *j, int64_t now)
{
    if (!j->paused_at_us)
        return;
    int64_t frozen = now - j->paused_at_us;
    j->paused_us += frozen;
    if (j->deadline_us)
        j->deadline_us += frozen;
    j->paused_at_us = 0;
    if (!j->exited && j->ch.pid > 0)
        kill(-j->ch.pid, SIGCONT);
}

static void job_stop(job_t *j, int reason, int64_t grace_us, int64_t now)
{
    if (j->exited || j->ch.pid < 0)
        return;
    if (!j->reason)
        j->reason = reason;
    if (j->kill_at_us) { /* already stopping: a shorter grace may hurry it */
        if (now + grace_us < j->kill_at_us)
            j->kill_at_us = now + grace_us;
        return;
    }
    if (grace_us > 0)
        kill(-j->ch.pid, SIGTERM);
    /* A frozen group would only hold the TERM pending until the KILL:
     * thawed, it gets its grace to act on it. */
    thaw(j, now);
    j->kill_at_us = now + grace_us;
}

static void fill_outcome(const job_t *j, int status, const struct rusage *ru, int64_t now,
                         rk_exec_outcome_t *o)
{
    memset(o, 0, sizeof *o);
    o->pid = j->ch.pid;
    o->exit_code = -1;
    o->wall_us = now - j->start_us;
    o->paused_us = j->paused_us + (j->paused_at_us ? now - j->paused_at_us : 0);
    if (ru) {
        o->user_us = (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
        o->sys_us = (int64_t)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
        o->max_rss_kib = ru->ru_maxrss;
        if (WIFEXITED(status))
            o->exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
            o->term_signal = WTERMSIG(status);
    }
    o->stdout_bytes = j->out.total;
    o->stderr_bytes = j->err.total;
    o->stdout_truncated = j->out.truncated;
    o->stderr_truncated = j->err.truncated;
    rk_exec_sink_tail(&j->err, o->stderr_tail, sizeof o->stderr_tail);

    if (j->fail_stage) {
        o->end = RK_EXEC_SPAWN_FAILED;
        o->spawn_stage = j->fail_stage;
        o->spawn_errno = j->fail_errno;
        rk_exec_spawn_describe(j->fail_stage, j->fail_errno, j->what, j->workdir, o->message,
                               sizeof o->message);
    } else if (j->reason == RK_EXEC_TIMED_OUT) {
        o->end = RK_EXEC_TIMED_OUT;
        snprintf(o->message, sizeof o->message, "timed out after %.3g s",
                 (double)j->timeout_us / 1e6);
    } else if (j->reason == RK_EXEC_CANCELLED) {
        o->end = RK_EXEC_CANCELLED;
        snprintf(o->message, sizeof o->message, "cancelled");
    } else if (o->term_signal) {
        o->end = RK_EXEC_SIGNALED;
        snprintf(o->message, sizeof o->message, "killed by signal %d (%s)", o->term_signal,
                 strsignal(o->term_signal));
    } else {
        o->end = RK_EXEC_EXITED;
        snprintf(o->message, sizeof o->message, "exited with status %d", o->exit_code);
    }
}

/* The leader has exited (or never existed): collect it, kill what is left
 * of its group, report, free. */
static void job_finish(rk_exec_sup_t *sup, job_t *j, int64_t now)
{
    int status = 0;
    struct rusage ru;
    bool reaped = false;
    if (j->ch.pid > 0) {
        /* Before reaping: the zombie leader keeps the group id reserved. */
        kill(-j->ch.pid, SIGKILL);
        pid_t r;
        do
            r = wait4(j->ch.pid, &status, 0, &ru);
        while (r < 0 && errno == EINTR);
        reaped = r == j->ch.pid;
        rk_exec_leader_del(j->ch.pid);
        now = rk_time_mono_us();
        /* Whatever the group wrote before dying is in the pipes now. */
        if (j->ch.status_fd >= 0)
            read_status(sup, j);
        drain(sup, j, W_OUT);
        drain(sup, j, W_ERR);
    }
    rk_exec_outcome_t o; /* ~4.5 KiB on the supervisor thread's stack */
    fill_outcome(j, status, reaped ? &ru : NULL, now, &o);
    j->done(j->ud, j->id, &o);
    close_watched(sup, &j->ch.out_fd);
    close_watched(sup, &j->ch.err_fd);
    close_watched(sup, &j->ch.status_fd);
    close_watched(sup, &j->pidfd);
    job_free(j);
    /* Orphans the job left are looked for soon, once for all the jobs that
     * end meanwhile: a sweep reads /proc for every thread of the process. */
    if (!sup->sweep_at_us || sup->sweep_at_us > now + SWEEP_AFTER_END_US)
        sup->sweep_at_us = now + SWEEP_AFTER_END_US;
}

static bool job_running(void *ud, uint64_t id)
{
    rk_exec_sup_t *sup = ud;
    for (job_t *j = sup->jobs; j; j = j->next)
        if (j->id == id)
            return true;
    return false;
}

static void take_commands(rk_exec_sup_t *sup, bool *stopping)
{
    uint64_t v;
    ssize_t r = read(sup->evfd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&sup->mu);
    job_t *starts = sup->pending;
    sup->pending = NULL;
    sup->pending_tail = &sup->pending;
    cancel_req_t *cancels = sup->cancels;
    sup->cancels = NULL;
    sup->cancels_tail = &sup->cancels;
    *stopping = sup->stopping;
    pthread_mutex_unlock(&sup->mu);

    /* Starts first: a cancel always follows the start of its job. */
    while (starts) {
        job_t *j = starts;
        starts = j->next;
        job_register(sup, j);
    }
    int64_t now = rk_time_mono_us();
    while (cancels) {
        cancel_req_t *c = cancels;
        cancels = c->next;
        for (job_t *j = sup->jobs; j; j = j->next) {
            if (j->id != c->id)
                continue;
            if (c->op == OP_PAUSE) {
                freeze(j, now);
                continue;
            }
            if (c->op == OP_RESUME) {
                thaw(j, now);
                continue;
            }
            int64_t grace = c->grace_ms == 0  ? j->grace_us
                            : c->grace_ms < 0 ? 0
                                              : c->grace_ms * 1000;
            job_stop(j, RK_EXEC_CANCELLED, grace, now);
        }
        free(c);
    }
    if (*stopping)
        for (job_t *j = sup->jobs; j; j = j->next)
            job_stop(j, RK_EXEC_CANCELLED, 0, now);
}

/* Timers, exit polling, finishing; returns the next wake-up time (0: none). */
static int64_t tick(rk_exec_sup_t *sup)
{
    int64_t now = rk_time_mono_us(), next = 0;
#define WAKE_AT(t) (next = (next == 0 || (t) < next) ? (t) : next)
    job_t **pp = &sup->jobs;
    while (*pp) {
        job_t *j = *pp;
        if (!j->exited && j->deadline_us && !j->reason && !j->paused_at_us && now >= j->deadline_us)
            job_stop(j, RK_EXEC_TIMED_OUT, j->grace_us, now);
        if (!j->exited && j->kill_at_us && now >= j->kill_at_us) {
            kill(-j->ch.pid, SIGKILL);
            j->kill_at_us = INT64_MAX; /* sent; wait for the exit */
        }
        if (!j->exited && j->pidfd < 0 && j->ch.pid > 0)
            j->exited = leader_exited(j);
        if (j->exited) {
            *pp = j->next;
            job_finish(sup, j, now);
            continue;
        }
        if (j->deadline_us && !j->reason && !j->paused_at_us)
            WAKE_AT(j->deadline_us);
        if (j->kill_at_us && j->kill_at_us != INT64_MAX)
            WAKE_AT(j->kill_at_us);
        if (j->pidfd < 0)
            WAKE_AT(now + POLL_EXIT_US);
        pp = &j->next;
    }
    if (sup->sweep_at_us && now >= sup->sweep_at_us) {
        int n = rk_exec_orphans_sweep(sup->num, job_running, sup);
        sup->sweep_at_us = n > 0 ? now + SWEEP_AGAIN_US : sup->jobs ? now + SWEEP_PERIOD_US : 0;
    }
    if (sup->sweep_at_us)
        WAKE_AT(sup->sweep_at_us);
#undef WAKE_AT
    return next;
}

static void *sup_main(void *arg)
{
    rk_exec_sup_t *sup = arg;
    struct epoll_event evs[32];
    bool stopping = false;
    int64_t next = 0;
    int stop_rounds = 0;
    for (;;) {
        int timeout = rk_deadline_ms_left(next); /* -1 without one */
        int n = epoll_wait(sup->epfd, evs, 32, timeout);
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            if (!w) {
                take_commands(sup, &stopping);
                continue;
            }
            job_t *j = w->job;
            if (w->kind == W_PID) {
                j->exited = true;
                close_watched(sup, &j->pidfd); /* level-triggered: stop the flood */
                j->pidfd = -2;                 /* exited, not "no pidfd" */
            } else if (w->kind == W_STATUS) {
                read_status(sup, j);
            } else {
                drain(sup, j, w->kind);
            }
        }
        next = tick(sup);
        /* Stopping ends once the jobs are gone and a sweep found nothing,
         * or after a second of orphans that will not die (D state). */
        if (stopping && !sup->jobs && (!sup->sweep_at_us || ++stop_rounds > 50))
            break;
    }
    return NULL;
}

int rk_exec_sup_new(rk_exec_sup_t **out)
{
    int rc = RK_EIO;
    rk_exec_sup_t *sup = calloc(1, sizeof *sup);
    *out = NULL;
    if (!sup)
        return RK_ENOMEM;
    sup->epfd = sup->evfd = -1;
    pthread_mutex_init(&sup->mu, NULL);
    sup->pending_tail = &sup->pending;
    sup->cancels_tail = &sup->cancels;
    sup->num = atomic_fetch_add(&sup_counter, 1) + 1;
    sup->epfd = epoll_create1(EPOLL_CLOEXEC);
    sup->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sup->epfd < 0 || sup->evfd < 0)
        goto cleanup;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(sup->epfd, EPOLL_CTL_ADD, sup->evfd, &ev) < 0)
        goto cleanup;
    if (pthread_create(&sup->thread, NULL, sup_main, sup) != 0)
        goto cleanup;
    *out = sup;
    return RK_OK;

cleanup:
    if (sup->epfd >= 0)
        close(sup->epfd);
    if (sup->evfd >= 0)
        close(sup->evfd);
    pthread_mutex_destroy(&sup->mu);
    free(sup);
    return rc;
}

void rk_exec_sup_free(rk_exec_sup_t *sup)
{
    if (!sup)
        return;
    pthread_mutex_lock(&sup->mu);
    sup->stopping = true;
    pthread_mutex_unlock(&sup->mu);
    wake(sup);
    pthread_join(sup->thread, NULL);
    close(sup->epfd);
    close(sup->evfd);
    pthread_mutex_destroy(&sup->mu);
    free(sup);
}
