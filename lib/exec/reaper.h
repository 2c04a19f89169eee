/* Making sure no process of a job outlives it.
 *
 * Each job runs in its own process group, and the supervisor SIGKILLs that
 * group when the job's leader exits, times out or is cancelled. That misses
 * descendants that left the group (setsid, setpgid: daemons). For those the
 * agent is a child subreaper (PR_SET_CHILD_SUBREAPER): an orphaned
 * descendant of a job is reparented to the agent instead of init, so it
 * stays visible as our child. Every job's environment carries a tag
 * (RK_EXEC_TAG=<supervisor>.<job>, the way Jenkins' ProcessTreeKiller marks
 * builds); a sweep finds our children that are not job leaders,
 * SIGKILLs those whose tag names a job that has ended (and their process
 * group when they lead one), and reaps the zombies among them.
 *
 * What still escapes: a descendant that drops or rewrites the tag from its
 * environment and outlives its job survives until the agent exits (it is
 * reaped if it ends on its own); one whose parent is still alive is not our
 * child yet (it is caught once that parent dies and the next sweep runs);
 * and a process the job hands to another service (systemd-run, at, ssh) was
 * never ours. A cgroup per job (cgroup.kill) would close all of these and is
 * future work. After an agent restart the previous instance's jobs are no
 * longer our descendants: the agent must kill them by their recorded process
 * group (design.md, "Agent restart").
 */
#ifndef RK_EXEC_REAPER_H
#define RK_EXEC_REAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Name of the environment variable that marks a job's processes. */
#define RK_EXEC_TAG_KEY "RK_EXEC_TAG"

/* Process-wide registry of job leaders: pids whose exit status belongs to
 * a supervisor, which a sweep must never reap. Thread-safe. */
int rk_exec_leader_add(pid_t pid);
void rk_exec_leader_del(pid_t pid);
bool rk_exec_leader_is(pid_t pid);
/* Around fork: hold the registry so no sweep sees the new child before it
 * is registered; release adds pid when it is > 0 (RK_ENOMEM if it could
 * not, and the pid is then unprotected). */
void rk_exec_leader_hold(void);
int rk_exec_leader_release(pid_t pid);

/* Walking /proc, shared by the sweep below and by the agent's restart
 * (which finds a previous instance's processes by their environment). */

/* Calls fn(ud, pid) for every process listed in /proc, in directory order;
 * fn returns a count (>= 0). Returns the sum of the counts, or RK_EIO when
 * /proc cannot be read. Processes may come and go meanwhile. */
int rk_exec_proc_each(int (*fn)(void *ud, pid_t pid), void *ud);

/* Streams /proc/<pid>/environ through a fixed buffer, calling fn(ud, entry)
 * for each NUL-terminated "KEY=value" entry until it returns true. Entries
 * longer than RK_EXEC_ENV_ENTRY_MAX are skipped. Returns true when fn did;
 * false otherwise, also when the file cannot be read (gone, not ours). */
#define RK_EXEC_ENV_ENTRY_MAX 8191
bool rk_exec_proc_env_find(pid_t pid, bool (*fn)(void *ud, const char *entry), void *ud);

/* Whether /proc/<pid>/environ holds each of the n (at most 64) exact
 * entries. */
bool rk_exec_proc_env_has(pid_t pid, const char *const *entries, size_t n);

/* Answers whether job `job` of the sweeping supervisor is still running. */
typedef bool (*rk_exec_running_fn)(void *ud, uint64_t job);

/* One sweep as described above, for the supervisor numbered `sup`. Only
 * our direct children are looked at: the pids listed in
 * /proc/self/task/<tid>/children of each of our threads, known leaders
 * skipped, so the cost follows what the agent owns, not what the machine
 * runs (no children besides the leaders: one small read per thread). A
 * kernel without those files (CONFIG_PROC_CHILDREN off) gets the old scan
 * of every /proc/<pid>/stat. Returns how many processes it signalled (they
 * still need reaping: sweep again shortly) or RK_EIO when /proc cannot be
 * read. */
int rk_exec_orphans_sweep(uint64_t sup, rk_exec_running_fn running, void *ud);

typedef enum rk_exec_sweep_mode {
    RK_EXEC_SWEEP_AUTO, /* children lists, or the full scan without them */
    RK_EXEC_SWEEP_FULL, /* scan all of /proc (the fallback, for tests) */
} rk_exec_sweep_mode_t;

/* What one sweep looked at, for tests and measurements. */
typedef struct rk_exec_sweep_stats {
    unsigned threads;   /* children lists read */
    unsigned examined;  /* /proc/<pid>/stat files read */
    unsigned tags_read; /* /proc/<pid>/environ files read */
    bool full_scan;     /* every process of the machine was examined */
} rk_exec_sweep_stats_t;

/* rk_exec_orphans_sweep with the mode chosen and, when stats is not NULL,
 * what it looked at. */
int rk_exec_orphans_sweep_ex(uint64_t sup, rk_exec_running_fn running, void *ud,
                             rk_exec_sweep_mode_t mode, rk_exec_sweep_stats_t *stats);

#endif
