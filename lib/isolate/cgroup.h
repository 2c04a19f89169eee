/* A control group per job, on cgroup v1 or v2 behind one API.
 *
 * v1: one directory per controller (memory, pids, cpu, cpuacct, freezer),
 * each at <mount>/<the agent's own group in that hierarchy>/<root>/<name>.
 * v2: one directory, <mount>/<the agent's own group>/<root>/<name>; limits
 * need the controllers delegated to the agent's group, but freeze, kill and
 * cpu.stat are core v2 files and work without any.
 *
 * A root is a relative path ("ruckus" or "ruckus/agent-1") that belongs to
 * one agent: rk_cg_sweep removes every group under it, so two agents must
 * not share one. Nothing here is thread-safe on one rk_cg_t; distinct groups
 * may be used from distinct threads.
 */
#ifndef RK_ISOLATE_CGROUP_H
#define RK_ISOLATE_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum rk_cg_version {
    RK_CG_NONE = 0,
    RK_CG_V1 = 1,
    RK_CG_V2 = 2,
} rk_cg_version_t;

/* v1 controllers used (bit positions). v2 uses the same bits for what its
 * cgroup.controllers offers (CPUACCT and FREEZER are core there). */
enum {
    RK_CG_MEMORY = 1 << 0,
    RK_CG_PIDS = 1 << 1,
    RK_CG_CPU = 1 << 2,
    RK_CG_CPUACCT = 1 << 3,
    RK_CG_FREEZER = 1 << 4,
};
#define RK_CG_NCTRL 5

#define RK_CG_PATH_MAX 512

/* What this machine offers; filled by rk_cg_probe, then only read. */
typedef struct rk_cg_probe {
    rk_cg_version_t version;
    unsigned ctrls;                         /* RK_CG_* usable for limits and stats */
    char base[RK_CG_NCTRL][RK_CG_PATH_MAX]; /* v1: the agent's group per controller;
                                               v2: base[0] only */
    unsigned short mnt_len[RK_CG_NCTRL];    /* length of base[i]'s mount point: the
                                               rest is the path in the hierarchy */
    char why[256];                          /* with RK_CG_NONE: what is missing */
} rk_cg_probe_t;

/* Limits; 0 leaves one unset. */
typedef struct rk_cg_limits {
    uint64_t memory_mb;  /* hard limit on memory (and swap, where that can be limited) */
    uint64_t pids;       /* processes and threads at once */
    double cpus;         /* CPU quota in cores per period, e.g. 0.5 or 1.5 */
    uint32_t cpu_weight; /* relative share, 1..10000, 100 is the default (v2 units) */
} rk_cg_limits_t;

/* What the group saw. */
typedef struct rk_cg_stats {
    uint64_t memory_peak_kib; /* 0 where the kernel does not track it (v2 before 5.19) */
    double cpu_usage_s;
    bool oom_killed; /* the kernel's OOM killer killed a process of the group */
} rk_cg_stats_t;

typedef struct rk_cg rk_cg_t;

/* Finds what is usable. want RK_CG_NONE picks the best: v2 when it has the
 * memory, pids and cpu controllers delegated, else v1 when memory, pids, cpu,
 * cpuacct and freezer are mounted, else v2 with only its core files. Returns
 * 0 with out->version set, or RK_EUNSUP with out->why saying what is
 * missing (out->version RK_CG_NONE). */
int rk_cg_probe(rk_cg_version_t want, rk_cg_probe_t *out);

/* A probe for groups that must sit at one path in every hierarchy (what a
 * container runtime's --cgroup-parent names): where the agent's own groups
 * differ between v1 controllers, each base becomes the deepest of them,
 * which must lie under every other (made where missing). RK_EUNSUP with
 * err saying why when they do not nest. v2: a copy. */
int rk_cg_probe_align(const rk_cg_probe_t *p, rk_cg_probe_t *out, char *err, size_t errsz);

/* Creates <base>/<root>/<name> (root made as needed). name is one path
 * component. On success *out is the caller's, for rk_cg_free; on failure
 * nothing was left behind and err says why. RK_EEXIST when the group exists. */
int rk_cg_create(const rk_cg_probe_t *p, const char *root, const char *name, rk_cg_t **out,
                 char *err, size_t errsz);

/* Checks lim without a group (for refusing a job at accept time): RK_EINVAL
 * for a value out of range, RK_EUNSUP when a limit's controller is missing;
 * err names the field ("limits.cpus out of range"). */
int rk_cg_limits_check(const rk_cg_probe_t *p, const rk_cg_limits_t *lim, char *err, size_t errsz);

/* Applies lim. RK_EINVAL for values out of range, RK_EUNSUP when a limit's
 * controller is not there; err names the limit. */
int rk_cg_apply(rk_cg_t *cg, const rk_cg_limits_t *lim, char *err, size_t errsz);

/* Moves pid (all its threads) into the group. */
int rk_cg_enter(const rk_cg_t *cg, pid_t pid);

/* Opens each group's cgroup.procs for writing (O_CLOEXEC) into fds, for a
 * child to join before exec with rk_cg_join_self. *n gets the count; the
 * caller closes them. RK_ETOOBIG when cap < RK_CG_NCTRL might not do. */
int rk_cg_join_fds(const rk_cg_t *cg, int *fds, size_t cap, size_t *n);

/* In a child between fork (or vfork/clone) and exec: moves the calling
 * process into the group through fds from rk_cg_join_fds.
 * Async-signal-safe; 0 or -errno. */
int rk_cg_join_self(const int *fds, size_t n);

/* Freezes (true) or thaws (false) every process of the group, and waits
 * until the kernel says it is done (up to RK_CG_SETTLE_MS). */
int rk_cg_freeze(rk_cg_t *cg, bool frozen);

/* The group's path inside the hierarchies ("/a/ruckus/job-1"), the same
 * in each of them: RK_EUNSUP when it is not (see rk_cg_probe_align). */
int rk_cg_rel_path(const rk_cg_t *cg, char *out, size_t n);

/* For the groups a container runtime makes at the path of a group of ours
 * in the hierarchies we do not use (blkio, devices, a named systemd one,
 * a hybrid v2 mount): removes <mount>/<rel> in every cgroup hierarchy
 * mounted here (children_only: only the groups under it), deepest first,
 * killing what they hold. *removed (may be NULL) counts the hierarchies
 * whose <rel> went (0 with children_only). 0, RK_EINVAL for a rel that is
 * not absolute or holds "..", or RK_EIO when a group stayed. */
int rk_cg_remove_everywhere(const char *rel, bool children_only, size_t *removed);

/* Counts an OOM anywhere under the group as the group's: v1 counts an OOM
 * kill only in the group of the task killed, so for jobs whose processes
 * sit in child groups (a container runtime's) this registers an eventfd on
 * the group's memory.oom_control, which fires when the group's own limit
 * is hit, whoever below it was killed. v2's memory.events already counts
 * its descendants: nothing to do. 0, or RK_EIO. */
int rk_cg_oom_watch(rk_cg_t *cg);

/* Reads what the group saw so far. */
int rk_cg_stats(const rk_cg_t *cg, rk_cg_stats_t *out);

/* Number of processes in the group now, or a negative RK_E*. */
int rk_cg_count(const rk_cg_t *cg);

/* SIGKILLs every process of the group, including ones forked meanwhile, and
 * waits until it is empty (up to RK_CG_SETTLE_MS). Processes that are our
 * own children still need reaping by whoever waits for them. */
int rk_cg_kill(rk_cg_t *cg);

/* Kills what is left, removes the group's directories (child groups
 * first, as a container runtime may leave them) and frees cg (also on
 * failure, where err says what stayed). */
int rk_cg_remove(rk_cg_t *cg, char *err, size_t errsz);

/* Frees cg without touching the group (it stays for a later sweep). */
void rk_cg_free(rk_cg_t *cg);

/* Removes every group under root that a crashed run left (their processes
 * killed first); *removed gets how many. The root itself stays, and so
 * do groups that hold child groups (a container runtime's: killing its
 * processes under it would leave the runtime's own record of the
 * container behind; rk_cg_remove_everywhere takes them once the runtime
 * removed the container). */
int rk_cg_sweep(const rk_cg_probe_t *p, const char *root, size_t *removed);

/* How long kill and freeze wait for the kernel: processes in
 * uninterruptible sleep can take a while to die or freeze. */
#define RK_CG_SETTLE_MS 5000

#endif
