/* Starting one child process for a job: a program (execvp semantics, no
 * shell) or a C function run in a forked child.
 *
 * The child gets its own process group (pgid == pid) so the whole job can be
 * signalled at once, the agent's environment plus the caller's extra
 * KEY=VALUE entries, an optional working directory, stdin from a string (an
 * in-memory file, so the parent never blocks feeding it), rlimits, and
 * stdout/stderr pipes; every other descriptor is closed. A program is
 * started with clone(CLONE_VM | CLONE_VFORK) on a small stack of its own,
 * like glibc's posix_spawn (no page tables are copied; the calling thread
 * waits until the child has exec'd or failed); a function runs in a
 * fork()ed child. A failure between fork and exec (chdir, setrlimit, exec
 * itself) travels back over a
 * close-on-exec status pipe as {stage, errno}: EOF on that pipe means the
 * exec succeeded. PR_SET_PDEATHSIG is deliberately not set: jobs are stopped
 * by the supervisor, and an agent restart cleans up by process group.
 *
 * Preconditions for the process (see rk_exec_init in supervisor.h): fds
 * 0..2 are open, and SIGCHLD is not SIG_IGN (children must stay waitable).
 */
#ifndef RK_EXEC_SPAWN_H
#define RK_EXEC_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Resource limits applied in the child (soft and hard); 0 leaves a limit as
 * inherited. A value above the inherited hard limit is lowered to it. */
typedef struct rk_exec_limits {
    uint64_t cpu_seconds; /* RLIMIT_CPU: SIGXCPU at this many seconds, SIGKILL one later */
    uint64_t memory_mb;   /* RLIMIT_AS, in MiB */
    uint64_t nofile;      /* RLIMIT_NOFILE */
    uint64_t nproc;       /* RLIMIT_NPROC (counts all processes of the user) */
} rk_exec_limits_t;

/* A function run in a forked child; its return value (0..255) is the
 * child's exit status. It runs in a copy of the agent forked from a
 * multithreaded process: only the forking thread exists there, and locks
 * other threads held at fork time stay held, so it should load what it
 * needs itself (dlopen heavy libraries there) and not rely on the agent's
 * other threads. Output goes to fds 1 and 2 (stdio is flushed on return). */
typedef int (*rk_exec_fn_t)(void *arg);

/* What to run. Everything is borrowed and only read during the call that
 * takes the spec (rk_exec_spawn / rk_exec_start), except fn_arg, which must
 * stay valid until the job's completion callback. */
typedef struct rk_exec_spec {
    const char *const
        *argv;       /* NULL-terminated; argv[0] is looked up on PATH. NULL when fn is set */
    rk_exec_fn_t fn; /* run fn(fn_arg) in the child instead of a program */
    void *fn_arg;
    const char *const *env; /* extra "KEY=VALUE" entries, NULL-terminated; may be NULL. They
                               override the agent's variables of the same name */
    const char *workdir;    /* NULL: the agent's working directory */
    const char *stdin_data; /* NULL: stdin is /dev/null */
    size_t stdin_len;
    rk_exec_limits_t limits;
    const char *stdout_path; /* log files, created or truncated, mode 0644; NULL discards */
    const char *stderr_path;
    size_t log_cap;     /* bytes kept per log file; 0 means RK_EXEC_LOG_CAP_DEFAULT */
    bool log_append;    /* keep what the log files hold and append (several runs of one
                           job into one log); log_cap then bounds the whole file */
    bool lazy_logs;     /* open each log file at its stream's first byte: a silent stream
                           creates no file (nor touches an existing one) */
    int64_t timeout_ms; /* from the start; 0 means none */
    int64_t grace_ms;   /* SIGTERM to SIGKILL on stop; 0 means RK_EXEC_GRACE_DEFAULT_MS,
                           negative means SIGKILL at once */
    pid_t *started_pid; /* optional: gets the child's pid (its process group id) before
                           rk_exec_start returns, -1 if none was forked; the agent
                           records it so a restart can kill what a crash left behind */
} rk_exec_spec_t;

#define RK_EXEC_LOG_CAP_DEFAULT ((size_t)16 << 20)
#define RK_EXEC_GRACE_DEFAULT_MS 10000

/* Where a child failed before running the workload (the status pipe's stage). */
typedef enum rk_exec_stage {
    RK_EXEC_STAGE_NONE = 0,
    RK_EXEC_STAGE_SETUP, /* in the parent: pipe, memfd, fork, opening a log file */
    RK_EXEC_STAGE_FDS,   /* dup2 of stdio in the child */
    RK_EXEC_STAGE_CHDIR,
    RK_EXEC_STAGE_RLIMIT,
    RK_EXEC_STAGE_EXEC,
} rk_exec_stage_t;

/* A started child. The fds are the parent's ends, non-blocking and
 * close-on-exec; the caller owns and closes them. */
typedef struct rk_exec_child {
    pid_t pid;     /* also the process group id */
    int out_fd;    /* child's stdout */
    int err_fd;    /* child's stderr */
    int status_fd; /* EOF: exec succeeded (or fn started); 8 bytes: {stage, errno} */
} rk_exec_child_t;

/* Starts the child described by spec (clone or fork, above). The child's pid is
 * registered as a job leader (reaper.h) before any sweep can see it; whoever
 * reaps it calls rk_exec_leader_del afterwards. tag, if not NULL, is one
 * more "KEY=VALUE" environment entry (the supervisor marks its jobs' process
 * trees with it). On failure in the parent returns RK_EIO and sets *sys_errno
 * (RK_ENOMEM / RK_EINVAL without errno); no child exists then and child is
 * left with fds -1. */
int rk_exec_spawn(const rk_exec_spec_t *spec, const char *tag, rk_exec_child_t *child,
                  int *sys_errno);

/* Reads the status pipe. Returns 1 with *stage and *err set when the child
 * reported a failure, 0 at EOF (exec succeeded), RK_EBUSY when nothing is
 * there yet, RK_EIO on a read error. */
int rk_exec_spawn_status(int status_fd, int *stage, int *err);

/* Writes "cannot execute 'foo': No such file or directory" and the like for
 * a failure at stage with errno err; what is argv[0] (or a function's name),
 * workdir the directory asked for. */
void rk_exec_spawn_describe(int stage, int err, const char *what, const char *workdir, char *out,
                            size_t outsz);

#endif
