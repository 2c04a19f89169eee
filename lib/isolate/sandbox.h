/* The bubblewrap sandbox: the command line that runs a job fenced in.
 *
 * Inside, the job sees a read-only view of the host's root (or of an
 * image's root directory), its job folder writable at RK_SANDBOX_JOB_DIR, a
 * private /tmp, its own /dev and /proc, its own PID, IPC and UTS
 * namespaces, and with network off an empty network namespace (loopback
 * down, nothing reachable). bwrap runs as PID 1 of the namespace and exits
 * when the job's command does; the kernel then kills whatever else is left
 * in it (daemons included). --die-with-parent ties the sandbox to the
 * process that exec'd bwrap, so a killed job leader takes it down too.
 *
 * The root is a read-only tmpfs holding read-only binds of the root's
 * top-level entries (symlinks recreated), because a read-only bind of "/"
 * would leave no place to mount /job.
 */
#ifndef RK_ISOLATE_SANDBOX_H
#define RK_ISOLATE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#define RK_SANDBOX_JOB_DIR "/job"
/* Binds a job may ask for, at most (each is a few argv entries). */
#define RK_SANDBOX_MAX_BINDS 32

typedef struct rk_sandbox_bind {
    const char *source; /* host path; must resolve inside an allowed directory */
    const char *target; /* absolute path inside, no ".." */
    bool writable;
} rk_sandbox_bind_t;

/* Everything is borrowed and only read during rk_sandbox_argv. */
typedef struct rk_sandbox_spec {
    const char *bwrap;   /* program; NULL means "bwrap" on PATH */
    const char *rootfs;  /* host directory used as /; NULL: the host's / */
    const char *job_dir; /* host directory bound writable at /job; required */
    bool network;        /* false: an empty network namespace */
    const rk_sandbox_bind_t *binds;
    size_t nbinds;
    const char *const *allow_binds; /* NULL-terminated host directories binds may come
                                       from; NULL allows none */
    bool user_ns;                   /* bwrap is started as an unprivileged user (run-as):
                                       it then needs its own user namespace */
    const char *const *hide;        /* NULL-terminated host directories covered by an empty
                                       tmpfs (the agent's data dir: other jobs' folders, its
                                       token); may be NULL */
    const char *workdir;            /* inside; NULL: /job */
    const char *const *argv;        /* the job's command, NULL-terminated */
} rk_sandbox_spec_t;

/* Builds bwrap's argv for spec into *out (NULL-terminated; free with
 * rk_sandbox_argv_free). On RK_EINVAL err says which field is wrong (e.g.
 * "binds[0].source '/etc' is outside the allowed directories"), RK_ENOENT
 * when rootfs or job_dir is missing; *out is NULL on failure. */
int rk_sandbox_argv(const rk_sandbox_spec_t *spec, char ***out, char *err, size_t errsz);

/* Frees what rk_sandbox_argv made; NULL is fine. */
void rk_sandbox_argv_free(char **argv);

/* The argv of the warm sandbox's holder (warm.h): bwrap (NULL: "bwrap")
 * with the host's root read-only, each of hide (NULL-terminated, may be
 * NULL; checked as spec.hide is) covered by an empty read-only tmpfs, a
 * read-only /dev whose /dev/shm a job mounts over, empty /job, /proc and
 * /tmp to mount on, an empty network namespace, its set-up reported as
 * JSON on info_fd, running holder (NULL-terminated). Same returns as
 * rk_sandbox_argv. */
int rk_sandbox_template_argv(const char *bwrap, const char *const *hide, int info_fd,
                             const char *const *holder, char ***out, char *err, size_t errsz);

/* Whether bwrap (NULL: "bwrap" on PATH) can run a sandbox here: starts one
 * that runs /bin/true with the namespaces jobs get and waits for it. 0 when
 * it works, else RK_EUNSUP with why set to bwrap's complaint. Blocks for a
 * few milliseconds; call at start, not per job. */
int rk_sandbox_probe(const char *bwrap, char *why, size_t whysz);

#endif
