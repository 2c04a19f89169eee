/* The warm sandbox: one bwrap started once, whose namespaces every
 * sandboxed job then enters, so a job no longer pays for a bwrap of its
 * own (docs/isolation.md, "The warm sandbox").
 *
 * rk_warm_start runs bwrap once with the view jobs get (the host's root
 * read-only, the agent's data dir hidden, /dev, empty /job, /proc, /tmp
 * mount points, an empty network namespace) around a process that only
 * waits: the holder. A job's forked child then, in rk_warm_exec:
 *   1. clones the job folder's mount (open_tree) while it still sees the
 *      host, and gives up the agent's controlling terminal;
 *   2. joins the holder's network namespace (unless the job asked for the
 *      host's) and mount namespace, checking both by inode so a reused pid
 *      cannot lead it elsewhere;
 *   3. unshares mount, PID, IPC and UTS namespaces: the template's mounts
 *      are copied, never changed;
 *   4. attaches the job folder at /job and fresh tmpfs at /tmp and
 *      /dev/shm;
 *   5. forks PID 1 of the new PID namespace ("rk-sandbox-init"), which
 *      mounts /proc, drops to the run-as user, sets no_new_privs, starts
 *      the job as PID 2 (vfork + exec) and waits for it; when it exits the
 *      kernel kills whatever the job left in the namespace (daemons too).
 * The child stays the job's leader for lib/exec: signals sent to the job's
 * process group reach the job itself (PID 2) and stop or kill every process
 * of the three, rusage covers them, the job's cgroup (joined before step 2)
 * holds them, and the job's exit status is relayed: a job killed by SIGTERM
 * makes the child die of SIGTERM.
 *
 * Needs root (setns into namespaces bwrap made) and kernel 5.2 (open_tree,
 * move_mount). What the warm sandbox does not give that a bwrap per job
 * does: an image as the root and binds (those jobs still get a bwrap of
 * their own), and a network namespace per job: jobs with network none share
 * the holder's (loopback only; nothing of the host is reachable).
 */
#ifndef RK_ISOLATE_WARM_H
#define RK_ISOLATE_WARM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct rk_warm rk_warm_t;

/* Starts the holder through bwrap (NULL: "bwrap" on PATH); hide is a
 * NULL-terminated list of host directories covered by an empty read-only
 * tmpfs (may be NULL). Blocks until bwrap has set up (milliseconds), then
 * runs one /bin/true through the warm sandbox to check it works. 0 with
 * *out set, or RK_EUNSUP (why says why: not root, old kernel, bwrap
 * failed), RK_ENOMEM. The holder dies with the process that started it. */
int rk_warm_start(const char *bwrap, const char *const *hide, rk_warm_t **out, char *why,
                  size_t whysz);

/* Whether the holder still runs; if it ended (killed), starts a new one
 * with the same settings. 0 when ready, else RK_EUNSUP with why set. Cheap
 * (one waitpid) when the holder runs; call before each job. */
int rk_warm_ready(rk_warm_t *w, char *why, size_t whysz);

/* The holder's pid (the process whose namespaces jobs enter), for tests. */
pid_t rk_warm_holder_pid(const rk_warm_t *w);

/* Stops the holder and frees w; NULL is fine. Jobs running keep their
 * namespaces (the kernel keeps a namespace while a process is in it). */
void rk_warm_stop(rk_warm_t *w);

/* One job. Borrowed; read in the child only. */
typedef struct rk_warm_job {
    const char *job_dir; /* host directory, seen writable at /job */
    const char *workdir; /* inside; NULL: /job */
    bool network;        /* true: the host's network namespace */
    char *const *argv;   /* execvp'd as PID 2 */
    bool run_as;         /* drop to uid/gid (supplementary groups cleared) */
    uid_t uid;
    gid_t gid;
} rk_warm_job_t;

/* What rk_warm_exec returns when the holder is gone (killed after the last
 * rk_warm_ready): nothing was changed yet, so the caller may still start the
 * job another way (a bwrap of its own). */
#define RK_WARM_GONE (-1)

/* In a freshly forked child of the process that holds w (the job's leader):
 * the steps above. Does not return once the job started: the child exits
 * with the job's status (or dies of its signal). Returns RK_WARM_GONE, or
 * RK_ISOLATE_EXIT_SETUP (launch.h) after one line on stderr when a step
 * failed; allocates nothing. */
int rk_warm_exec(const rk_warm_t *w, const rk_warm_job_t *job);

#endif
