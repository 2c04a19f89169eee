/* One thread that supervises every running child of the agent.
 *
 * rk_exec_start spawns a child on the calling thread (spawn.h) and hands it
 * to the supervisor thread through a mutex-protected queue and an eventfd.
 * That thread waits in epoll on each child's stdout/stderr pipes, its
 * status pipe and a pidfd (Linux >= 5.3; without pidfd the exit is polled
 * with waitid every 50 ms), and on the nearest deadline. No thread per job;
 * one fixed read buffer for all; per job two log sinks and a 4 KiB stderr
 * tail.
 *
 * A job ends when its leader exits: the supervisor SIGKILLs the job's
 * process group (the leader is still an unreaped zombie, so the group id
 * cannot have been reused), reaps the leader with wait4 for its status and
 * rusage, drains what is left in the pipes, calls the completion callback,
 * then sweeps orphans (reaper.h). A timeout or a cancel sends SIGTERM to the
 * group, then SIGKILL after the grace period. rk_exec_pause freezes a job's
 * group with SIGSTOP and stops its timeout clock until it is thawed.
 *
 * Metrics come from wait4's rusage: user and system CPU and peak RSS of the
 * leader and of the descendants it waited for itself; a descendant killed
 * by the group SIGKILL is not counted.
 */
#ifndef RK_EXEC_SUPERVISOR_H
#define RK_EXEC_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec/capture.h"
#include "exec/spawn.h"

/* Prepares the process to run jobs; call once at startup, before other
 * threads exist. Makes it a child subreaper (so daemonizing descendants of
 * jobs are reparented to us and can be killed and reaped) and opens
 * /dev/null on any of fds 0..2 that is closed (the child's stdio setup
 * relies on them). The agent must not set SIGCHLD to SIG_IGN, which would
 * make children unwaitable. RK_EIO if the kernel refuses. */
int rk_exec_init(void);

/* Why a job ended. */
typedef enum rk_exec_end {
    RK_EXEC_EXITED = 0,   /* exit_code holds the status */
    RK_EXEC_SIGNALED,     /* term_signal killed it, not at our request */
    RK_EXEC_TIMED_OUT,    /* stopped when its timeout passed */
    RK_EXEC_CANCELLED,    /* stopped by rk_exec_cancel or rk_exec_sup_free */
    RK_EXEC_SPAWN_FAILED, /* never ran the workload: spawn_errno, message */
} rk_exec_end_t;

/* "exited", "signaled", "timed_out", "cancelled", "spawn_failed". */
const char *rk_exec_end_name(rk_exec_end_t end);

typedef struct rk_exec_outcome {
    rk_exec_end_t end;
    int exit_code;     /* status when the leader exited normally, else -1 */
    int term_signal;   /* signal that killed the leader, else 0 */
    int spawn_errno;   /* RK_EXEC_SPAWN_FAILED: the errno */
    int spawn_stage;   /* RK_EXEC_SPAWN_FAILED: an rk_exec_stage_t */
    pid_t pid;         /* the leader (and process group), -1 if none was forked */
    int64_t wall_us;   /* start to exit, monotonic (frozen time included) */
    int64_t paused_us; /* of wall_us, the time frozen by rk_exec_pause */
    int64_t user_us;   /* CPU time from wait4's rusage */
    int64_t sys_us;
    long max_rss_kib;      /* ru_maxrss */
    uint64_t stdout_bytes; /* produced by the child, including bytes past the cap */
    uint64_t stderr_bytes;
    bool stdout_truncated; /* the log file stopped at the cap */
    bool stderr_truncated;
    char stderr_tail[RK_EXEC_TAIL_MAX + 1]; /* last bytes of stderr, NUL-terminated */
    char message[320]; /* one line: "exited with status 1", "timed out after 0.2 s",
                          "cannot execute 'foo': No such file or directory", ... */
} rk_exec_outcome_t;

/* Called exactly once per started job, on the supervisor thread with no
 * lock held. The outcome is only valid during the call. It must not block
 * for long (it holds up every other job's output and timers); it may call
 * rk_exec_start and rk_exec_cancel but not rk_exec_sup_free. */
typedef void (*rk_exec_done_fn)(void *ud, uint64_t id, const rk_exec_outcome_t *outcome);

typedef struct rk_exec_sup rk_exec_sup_t;

/* Starts the supervisor thread. Free with rk_exec_sup_free. */
int rk_exec_sup_new(rk_exec_sup_t **out);

/* Stops the supervisor: jobs not yet finished are SIGKILLed (their process
 * groups too) and complete as RK_EXEC_CANCELLED, every callback runs, the
 * orphans are swept, and the thread is joined. No rk_exec_start or
 * rk_exec_cancel may run concurrently with or after it. NULL is a no-op. */
void rk_exec_sup_free(rk_exec_sup_t *sup);

/* Starts a job; thread-safe. spec is read during the call only (except
 * fn_arg). Returns 0 and the job's id (never 0) once the job is accepted:
 * the callback then fires exactly once, also for a program that cannot be
 * executed or a log file that cannot be opened (RK_EXEC_SPAWN_FAILED).
 * RK_EINVAL for a spec with neither argv nor fn, RK_ESTATE while stopping,
 * RK_ENOMEM; no callback then. */
int rk_exec_start(rk_exec_sup_t *sup, const rk_exec_spec_t *spec, rk_exec_done_fn done, void *ud,
                  uint64_t *id);

/* Asks a job to stop: SIGTERM to its group, SIGKILL after grace_ms (0: the
 * job's own grace; negative: at once). It then ends RK_EXEC_CANCELLED.
 * Thread-safe and asynchronous. RK_ENOENT for an id never issued; a job
 * that has already ended ignores it (its callback has run or is running). */
int rk_exec_cancel(rk_exec_sup_t *sup, uint64_t id, int64_t grace_ms);

/* Freezes (pause) or thaws (!pause) a job: SIGSTOP or SIGCONT to its
 * process group, sent by the supervisor thread in the order the calls were
 * made. While frozen the job's timeout clock stands still: on thaw its
 * deadline moves on by the time frozen, so the timeout counts running time
 * only. A repeat (freeze of a frozen job) does nothing; a job that is
 * stopping (timeout, cancel) or has ended ignores a freeze, and a cancel
 * thaws a frozen job so it gets its grace to act on the SIGTERM.
 * Thread-safe and asynchronous: the signal follows shortly after the call
 * returns. RK_ENOENT for an id never issued, RK_ENOMEM. */
int rk_exec_pause(rk_exec_sup_t *sup, uint64_t id, bool pause);

#endif
