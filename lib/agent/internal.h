/* Shared state of the agent's files (not a public header).
 *
 * Locking: one mutex (rk_agent.mu) guards the job index, every job_t field
 * and the waiter list. Handlers, the supervisor's completion callback and
 * the background thread take it for short critical sections. The spawn
 * (job start, clone without copying page tables) and the record writes
 * happen under it: they are short (no fsync at the default --sync normal),
 * and holding it makes "stored before accepted" and "stored running before
 * spawned" simple to reason about. Writing the records outside it was
 * tried and measured no faster (docs/benchmarks.md, "Agent"). What is slow
 * on some file systems, creating the job's files and folders, is done
 * ahead and outside it (spares.c).
 */
#ifndef RK_AGENT_INTERNAL_H
#define RK_AGENT_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agent.h"
#include "base/buf.h"
#include "base/prom.h"
#include "base/time.h"
#include "exec/supervisor.h"
#include "http/server.h"
#include "model/execute.h"
#include "model/result.h"

#define RK_AGENT_ID_MAX 64
#define JOB_BUCKETS 1024
/* Bytes of the workload's metrics file read; larger files are ignored. */
#define METRICS_FILE_MAX (1u << 20)
/* Long polls wait at most this long. */
#define WAIT_MAX_S 60
/* AgentStatus.available_results lists this many latest finished jobs
 * (protocol.md); the index keeps them in order as they finish, so GET
 * /status costs the same at any number of retained jobs. */
#define RECENT_MAX 100
/* Spare job folders made in one pool folder (spares.c). */
#define SPARE_BUCKET 64
/* Most spare job folders kept (spares.c). */
#define SPARE_MAX 64

typedef struct job {
    struct rk_agent *agent;
    struct job *next, *prev; /* all jobs, newest first */
    struct job *hnext;       /* hash bucket chain */
    /* The open list (jobs assigned or running), newest first. */
    struct job *onext, *oprev;
    char id[RK_AGENT_ID_MAX + 1];
    char *experiment_id;
    rk_task_type_t type;
    char *dir; /* <data_dir>/jobs/<id> */
    rk_job_state_t state;
    char *message;
    int64_t attempt; /* the server's try of it (ExecuteJobRequest attempt) */
    rk_time_t accepted_at, started_at, finished_at, changed_at;
    json_t *request; /* the ExecuteJobRequest as stored; NULL once finished */
    /* While not finished: */
    rk_execute_request_t req;
    bool has_req;
    int64_t start_at_mono; /* test hook: start no earlier (0: at once) */
    uint64_t exec_id;
    bool in_exec;
    /* Set while a thread spawns the job's run with mu dropped (runner.c,
     * start_run): exec_id is not known yet, a cancel only sets the flag
     * (the spawner acts on it), and on_done waits until it clears. */
    bool spawning;
    int64_t deadline_mono; /* timeout, counted from running; moved on by each pause */
    int64_t paused_mono;   /* paused since (mono us), 0 when not paused (pause.c) */
    int64_t runs_done;
    rk_run_t *runs;
    rk_time_t run_started;
    pid_t pgid; /* the current run's process group (recorded in job.json), 0: none */
    char *rec;  /* the text job.json holds, while unfinished (NULL: not known) */
    /* Some run's output went past --log-cap: that log stops at the cap. */
    bool stdout_truncated, stderr_truncated;
    bool cancel, shutdown;
    bool collected;             /* its result was read (GET /results/{id}): --exit-when-idle */
    struct agent__job_iso *iso; /* the current run's cgroup and sandbox (isolation.c), or NULL */
    /* The current run's "<rt> run ..." argv and environment (container.c), or NULL. */
    char **ctr_argv, **ctr_env;
} job_t;

typedef struct waiter {
    struct waiter *next;
    job_t *job;
    rk_job_state_t known;
    int64_t deadline_mono;
    rk_http_wait_t *w;
} waiter_t;

struct rk_agent {
    const rk_agent_settings_t *s;
    char id[RK_AGENT_ID_MAX + 1];
    char *data_dir; /* absolute: jobs see paths in it from their own cwd */
    char *jobs_dir;
    pthread_mutex_t mu;
    pthread_cond_t cond;       /* any job finished; background thread wake-ups */
    pthread_cond_t spawn_cond; /* a spawner cleared job_t.spawning (on_done waits) */
    pthread_cond_t done_cond;  /* a job finished (rk_agent_stop waits) */
    /* When the sleeping background thread wakes next (mono us); 0 while it
     * runs. Others wake it only for something earlier, so a job's long
     * poll or end does not cost it a wake-up. */
    int64_t bg_wake_at;
    job_t *jobs;
    job_t *buckets[JOB_BUCKETS];
    job_t *open; /* jobs assigned or running, newest first (index.c) */
    /* The latest RECENT_MAX finished jobs, latest finished_at first
     * (index.c). Borrowed from the index. */
    job_t *recent[RECENT_MAX];
    int n_recent;
    /* A listed job was removed: older ones may be missing from recent[]
     * until agent__recent_settle. */
    bool recent_stale;
    /* Bumped whenever recent[] changes (index.c); the status's cached
     * available_results text (agent.c) is of generation recent_text_gen. */
    uint64_t recent_gen, recent_text_gen;
    char *recent_text;
    waiter_t *waiters;
    int active; /* jobs assigned or running: they hold a slot */
    /* Some job may be waiting to start (recovered, or delayed by the test
     * hook): only then does the background thread walk the job list, so
     * its wake-ups (every job end) do not cost O(jobs kept). */
    bool maybe_waiting;
    bool stopping, started, stopped;
    rk_exec_sup_t *sup;
    rk_http_server_t *http;
    pthread_t bg, reg;
    bool bg_on, reg_on;
    /* --exit-when-idle (server_link.c): idle since (mono us, 0: busy), and
     * the SIGTERM that ends it was sent. */
    int64_t idle_since_mono;
    bool idle_exit_sent;
    rk_time_t boot_wall;
    int64_t boot_mono;
    char *current_job, *current_exp;
    int64_t start_delay_ms;
    int64_t spawn_delay_ms; /* RK_AGENT_TEST_SPAWN_DELAY_ENV */
    /* Writability probe of the data dir (error status), refreshed by the
     * background thread; probe_mono 0 asks it for a new one now. */
    int64_t probe_mono, probe_asked_mono;
    bool probe_ok;
    char probe_reason[160];
    json_t *hardware; /* small hardware summary put in every result */
    /* Spare job folders ready to take (spares.c): spare n is
     * jobs/.pool~<spare_salt>-<n / SPARE_BUCKET>/<n>, for the n_spares
     * entries of the ring spares[] from spare_head on, oldest first.
     * Refilled to spare_target by the background thread only. */
    uint64_t spares[SPARE_MAX];
    int spare_head, n_spares, spare_target;
    uint64_t spare_seq;
    uint32_t spare_salt;
    int64_t spare_retry_mono;             /* no refill before (after a failure) */
    uint64_t spares_taken, spares_missed; /* job folders from a spare / made at accept */
    /* GET /metrics (metrics.c); the families belong to prom. */
    rk_prom_t *prom;
    rk_prom_family_t *m_running, *m_slots, *m_kept, *m_disk_free, *m_finished, *m_duration,
        *m_spawn, *m_log_bytes;
    struct agent__iso *iso; /* what isolation this machine offers (isolation.c) */
    struct agent__ctr *ctr; /* the container runtime, or NULL: none (container.c) */
};

/* Internal names shared between the agent's files carry the prefix
 * agent__ (the public ones, agent.h, rk_agent_). Who calls whom:
 *   routes  -> agent, runner, pause, record, index, spares, files, artifacts
 *   agent   -> recover, runner, index, spares, files
 *   recover -> record, index, leftovers, runner (the restart rules)
 *   pause   -> runner, record; agent__job_changed
 *   runner  -> record, files, artifacts; agent__job_changed (a
 *              notification: it answers long polls, it edits no job)
 *   record, spares -> files; index, files, leftovers, artifacts -> none.
 * Nothing in the storage half (record, index, files, leftovers) calls up
 * into the policy (recover, runner). */

/* ---- files.c: durable files ---- */
/* How far an atomic write goes before it returns. Each level includes the
 * ones above it. */
typedef enum agent__write {
    /* Temp file + rename: dir/name holds the old or the new text, never a
     * mix, after a kill -9 (the page cache keeps both). After a power loss
     * or kernel crash it may hold the old text, or nothing or a torn file. */
    AGENT__WRITE_ATOMIC,
    /* + fdatasync before the rename: after a power loss dir/name holds
     * the old or the new text, both complete. */
    AGENT__WRITE_DATA,
    /* + fsync of the folder: the new text survives a power loss. */
    AGENT__WRITE_DURABLE,
} agent__write_t;
/* fsyncs the folder dir: its entries' creations and renames are durable.
 * RK_EIO when it cannot be opened or synced. */
int agent__sync_dir(const char *dir);
/* Writes text (borrowed) to dir/name atomically at AGENT__WRITE_DURABLE. */
int agent__write_atomic(const char *dir, const char *name, const char *text, size_t len);
/* As agent__write_atomic, at the given level. On failure (RK_EIO) the
 * temp file is removed; dir/name holds the old text unless the rename was
 * done and only the folder's sync failed. */
int agent__write_atomic_ex(const char *dir, const char *name, const char *text, size_t len,
                           agent__write_t level);
/* Writes text to dir/name, a file that does not exist yet (or holds a torn
 * earlier try): at AGENT__WRITE_ATOMIC straight into it, no temp file
 * and no rename. A kill -9 during the write can leave a prefix of text,
 * never a whole older record; for a JSON object a prefix does not parse,
 * so readers take it for no record at all (the old state, "absent").
 * Higher levels write as agent__write_atomic_ex. On failure the file is
 * removed. */
int agent__write_new(const char *dir, const char *name, const char *text, size_t len,
                     agent__write_t level);
/* Removes a folder tree (no symlinks followed). RK_EIO when some entry
 * could not be removed (others may be gone). */
int agent__rmtree(const char *path);

/* ---- record.c: job.json, encoded, stored, read back ---- */
/* The level of a job record under the agent's --sync: normal writes every
 * record at AGENT__WRITE_ATOMIC; full at DURABLE, or at DATA when
 * !sync_dir (records whose previous version stays correct after a power
 * loss). */
agent__write_t agent__record_level(const rk_agent_t *a, bool sync_dir);
/* Writes job.json for j's current state at agent__record_level(a,
 * sync_dir); sync_dir is true unless the previous record stays correct
 * after a power loss. While j is unfinished j->rec keeps the stored text;
 * after a failure (RK_ENOMEM, or RK_EIO logged) j->rec is NULL. mu held. */
int agent__job_persist(rk_agent_t *a, job_t *j, bool sync_dir);
/* As agent__job_persist(a, j, true) for a new job's first record, in its
 * new, empty folder (agent__write_new). mu held. */
int agent__job_persist_new(rk_agent_t *a, job_t *j);
/* Adds j->pgid to job.json. With --sync normal, when the stored record is
 * the new one minus the group, the group is written in place after it (one
 * write of a few bytes to the existing file, which a kill -9 cannot tear:
 * the readers see the record with or without it); otherwise as
 * agent__job_persist(a, j, false). mu held. */
int agent__job_persist_pgid(rk_agent_t *a, job_t *j);
/* Reads jobs/<name>/job.json into a new job as the record says (not
 * inserted, no slot taken, no restart rule applied). On RK_OK *out is the
 * caller's (agent__job_free) and *request the record's stored request (a
 * new reference, NULL when absent). On failure (RK_EIO: no valid record,
 * logged; RK_ENOMEM) both are NULL. */
int agent__record_read(rk_agent_t *a, const char *name, job_t **out, json_t **request);
/* Whether dir/result.json exists and says the job finished (the record is
 * not rewritten after the result: it may still read assigned or running).
 * When true fills *st, *finished_at, and replaces *message (the result's
 * error, else its status; the old string is freed, kept if out of
 * memory). When false nothing is changed. */
bool agent__result_read(const char *dir, rk_job_state_t *st, rk_time_t *finished_at,
                        char **message);

/* ---- index.c: the jobs in memory (mu held) ---- */
/* The job with this id, or NULL. Borrowed: the index owns it. */
job_t *agent__job_find(rk_agent_t *a, const char *id);
/* Adds j, newest first; the index owns j from now on. An unfinished j goes
 * on the open list, a finished one (recovered) into a->recent when it is
 * among the latest RECENT_MAX. */
void agent__job_insert(rk_agent_t *a, job_t *j);
/* j (in the index) has just finished: state and finished_at are set. Moves
 * it from the open list to a->recent (when among the latest). O(RECENT_MAX). */
void agent__job_finished(rk_agent_t *a, job_t *j);
/* Takes j out of the index; the caller owns it again (agent__job_free).
 * When j was in a->recent it leaves the list, which is then stale (one
 * shorter than it may be) until agent__recent_settle. */
void agent__job_remove(rk_agent_t *a, job_t *j);
/* Makes a->recent the latest RECENT_MAX finished jobs again after
 * removals: one walk of all jobs when stale, nothing otherwise. */
void agent__recent_settle(rk_agent_t *a);
/* Frees j and all it holds; j is in no index. NULL is fine. */
void agent__job_free(job_t *j);
/* Removes finished job j (not in exec) at the server's word (DELETE
 * /jobs/{id}?purge=true): its waiters answered, its folder (record, logs,
 * artifacts) and record gone (agent.c). mu held. */
void agent__job_purge(rk_agent_t *a, job_t *j);

/* ---- leftovers.c ---- */
/* Kills processes left by a previous agent instance for job j: its
 * recorded process group, then any process carrying its environment. */
void agent__kill_leftovers(const job_t *j);

/* ---- recover.c: the restart policy ---- */
/* Loads every jobs/<id>/job.json into the index, applying the restart
 * rules (design.md, "Agent restart"); folders without a valid record are
 * left alone. mu held, before any thread runs. RK_EIO when jobs/ cannot
 * be read. */
int agent__jobs_recover(rk_agent_t *a);

/* ---- spares.c: spare job folders ---- */
/* Removes every spare (and half-built spare) folder in jobs/: at start,
 * before any thread runs. */
int agent__spares_clear(rk_agent_t *a);
/* Asks the file system to spread the job folders made in jobs_dir over its
 * inode groups (ext4's top-directory flag); best effort. */
void agent__spread_hint(const char *jobs_dir);
/* Builds spares until spare_target are ready (at most SPARE_MAX), unless
 * stopping or pausing after a failure. mu held; dropped while each folder
 * is built. Background thread only. */
int agent__spares_refill(rk_agent_t *a);
/* Renames a spare to dir (a folder of an unknown job there is removed
 * first). mu held. RK_ENOENT when the pool is empty, RK_EIO when the rename
 * failed (that spare is dropped). */
int agent__spare_take(rk_agent_t *a, const char *dir);
/* A new job's folder at dir: a spare when one is ready, else mkdir (a
 * folder of an unknown job there is removed first). It holds nothing but,
 * from a spare, output/ and empty job.json and result.json. mu held. */
int agent__job_dir_new(rk_agent_t *a, const char *dir);

/* ---- runner.c: running jobs ---- */
/* Starts job j (assigned) now: records it running, spawns the first run.
 * mu held. A job that cannot start is finished failed. */
void agent__job_run(rk_agent_t *a, job_t *j);
/* The two halves of agent__job_run, for a job started as it is accepted
 * (one durable record, state running, instead of two): mark sets the
 * running state in memory (the caller stores it), spawn starts the first
 * run. mu held. */
void agent__job_mark_running(job_t *j);
void agent__job_spawn(rk_agent_t *a, job_t *j);
/* Finishes j with state and message (both borrowed): writes result.json
 * and job.json, frees the slot, answers waiters. A failed write is logged;
 * the job is finished in memory all the same. mu held. */
void agent__job_finish(rk_agent_t *a, job_t *j, rk_job_state_t st, const char *message,
                       const char *error);
/* Starts the next run of j, a started job between runs (state running,
 * not in exec), as a finished run does when more are wanted. mu held. A
 * run that cannot start finishes the job failed. */
void agent__job_next_run(rk_agent_t *a, job_t *j);
/* Progress of a running or paused started job (reads the progress file),
 * or -1 if none. */
double agent__job_progress(const job_t *j);

/* ---- pause.c: pause and resume (protocol.md, "Queue control") ---- */
/* Freezes (freeze) or thaws j's current run: its whole process tree
 * stops, and its timeout clock with it. j is in exec and not spawning.
 * mu held. */
void agent__job_freeze(rk_agent_t *a, job_t *j, bool freeze);
/* Pauses j: an assigned job is held (not started until resumed), a
 * running one frozen; either reads paused, recorded in job.json. A paused
 * job answers RK_OK unchanged. RK_ESTATE for a finished job or one being
 * cancelled or stopped. mu held (dropped while waiting for a spawn). */
int agent__job_pause(rk_agent_t *a, job_t *j);
/* Resumes a paused j: assigned again and started (now, or by the
 * background thread), or running again, thawed, its deadline moved on by
 * the time paused. An assigned or running job answers RK_OK unchanged;
 * RK_ESTATE for a finished one. mu held. */
int agent__job_resume(rk_agent_t *a, job_t *j);

/* ---- server_link.c: the agent's calls to its server ---- */
/* Thread body: registers with --register-with, retrying with backoff
 * until the server answers or the agent stops. */
void *agent__register_main(void *arg);
/* A pilot agent (--exit-when-idle with --register-with) unregisters
 * itself: one call, logged either way. mu not held; blocks up to 15 s. */
void agent__unregister(rk_agent_t *a);
/* The background thread's idle watch: with --exit-when-idle, once no job
 * holds a slot and every result of this run was read for that long, logs
 * and sends the process SIGTERM (once). mu held. */
void agent__idle_check(rk_agent_t *a, int64_t now_mono);

/* ---- agent.c ---- */
/* Records a status change of j and answers its waiters. mu held. */
void agent__job_changed(rk_agent_t *a, job_t *j);
/* JobStatus + job_id of j (new reference). mu held. */
json_t *agent__job_status_json(const job_t *j);
/* Appends AgentStatus as JSON text to b (the answer to GET /status, the
 * server's health check: written as text, its list of recent results
 * re-encoded only when that list changed). RK_ENOMEM. mu held. */
int agent__status_text(rk_agent_t *a, rk_buf_t *b);
/* Whether jobs can be stored (probe_reason says why not): the last probe
 * of the data dir's, made now when it is over 1.5 s old. mu held. */
bool agent__writable(rk_agent_t *a);
/* The background thread's probe: made (mu dropped during it) when a
 * request asked within the last 3 s and the last probe is a second old,
 * or probe_mono is 0. Returns when it wants to be called next (monotonic
 * us; INT64_MAX: not until a request asks). mu held. */
int64_t agent__probe_refresh(rk_agent_t *a);
/* Adds a waiter for j (mu held); the background thread answers it at its
 * deadline. On RK_OK the agent owns w until it finishes or releases it;
 * on RK_ENOMEM the caller still owns w. */
int agent__waiter_add(rk_agent_t *a, job_t *j, rk_job_state_t known, int64_t deadline_mono,
                      rk_http_wait_t *w);

/* ---- routes.c ---- */
/* Adds the agent's routes to a->http (not started yet); the first
 * failing route's error. */
int agent__routes(rk_agent_t *a);

/* ---- helper.c: helper processes (the agent binary run again) ---- */
/* Runs "ruckus-agent RK_AGENT_HELPER_ARG args..." (args NULL-terminated,
 * at most 5) with input on its stdin, out_fd as its stdout (-1:
 * /dev/null), and reads its report (fd 3) into report (NUL-terminated,
 * "" when none). RK_OK when it exited 0, else RK_EIO. Blocks until the
 * helper ends; safe from any thread (posix_spawn, no bare fork). */
int agent__helper_run(const char *const *args, const char *input, size_t input_len, int out_fd,
                      char *report, size_t reportsz);
/* Helper bodies (helper process only). The zip of out_dir to fd, the
 * count of files left out to report_fd; 0 when the zip is complete. */
int agent__zip_helper(const char *out_dir, int fd, int report_fd);
/* POSTs body to url (bearer token and CA file optional) and writes
 * "<http status> <error text>" to report_fd. */
int agent__call_helper(const char *url, const char *body, const char *token, const char *ca,
                       int report_fd);
/* bench_helper.c: runs the built-in benchmark of the ExecuteJobRequest in
 * input (len bytes; NULL: unreadable), its metrics to RUCKUS_METRICS_FILE.
 * The exit status: 0 done, 1 the benchmark failed, 2 not such a request. */
int agent__bench_helper(const char *input, size_t len);

/* ---- artifacts.c ---- */
/* Answers a logs request for the job folder dir (without mu). */
void agent__serve_logs(const char *dir, bool finished, rk_http_req_t *req, rk_http_resp_t *resp);
/* Answers with a zip of dir/output (without mu). */
void agent__serve_artifacts(const char *dir, rk_http_resp_t *resp);
/* File names under dir/output (relative), at most max. New array (the
 * caller's), NULL when out of memory. */
json_t *agent__list_output(const char *job_dir, size_t max);

/* info.c: {"agent_info": AgentInfo} for GET /api/v1/info (new reference;
 * NULL on ENOMEM). */
json_t *rk_agent_info_json(const rk_agent_t *a);

/* ---- isolation.c: sandbox, cgroups, images (docs/isolation.md) ---- */
/* At rk_agent_new, before jobs are recovered: resolves --run-as, probes
 * bwrap and cgroups (logging what is missing), removes the cgroups a
 * crashed agent left and stale unpacked images (counted in the log).
 * RK_EINVAL (logged) when --sandbox bwrap cannot work or --run-as names no
 * user; RK_ENOMEM. a->iso is then read-only: no lock needed to read it. */
int agent__isolation_init(rk_agent_t *a);
/* Frees a->iso (NULL is fine). */
void agent__isolation_free(rk_agent_t *a);
/* Periodic cleanup (background thread, mu not held): unpacked images
 * unused for --image-cache-days, at most once an hour. */
void agent__isolation_sweep(rk_agent_t *a);
/* AgentInfo capabilities: sets sandbox, cgroups and images in caps. */
void agent__isolation_caps(const rk_agent_t *a, json_t *caps);
/* Whether this agent can give what p asks for (isolation, rootfs, binds,
 * limits). 0, or the HTTP status (422) with err naming the field; call
 * before the job is stored. */
int agent__isolation_check(const rk_agent_t *a, const rk_task_params_t *p, char *err, size_t errsz);
/* Whether a command job's runs go through lib/isolate (it asks for
 * isolation or limits) and, sandboxed, see their folder at /job. */
bool agent__job_isolated(const job_t *j);
bool agent__job_sandboxed(const job_t *j);
/* For an isolated job's next run: creates its cgroup (limits applied),
 * fills j->iso and points sp at rk_isolate_child_main. host_workdir is
 * sp's working directory, workdir the command's (relative, may be NULL).
 * mu held. On failure (logged with the reason, nothing left behind) an
 * RK_E* code. */
int agent__isolation_start(rk_agent_t *a, job_t *j, rk_exec_spec_t *sp, const char *workdir);
/* The run has ended (or never started): adds what its cgroup saw to m
 * (may be NULL) as cgroup_memory_peak_kib, cgroup_cpu_usage_s and
 * oom_killed, kills what is left in the group and removes it, frees
 * j->iso. Returns whether the memory limit's OOM killer struck (then
 * *memory_mb gets the limit). No-op without j->iso. mu held. */
bool agent__isolation_end(job_t *j, json_t *m, int64_t *memory_mb);
/* The current run's cgroup, or NULL (no limits, no cgroups, not running):
 * the hook for pausing a job with rk_cg_freeze. mu held. */
struct rk_cg *agent__job_cgroup(const job_t *j);
/* After recovery (the runtime has removed the containers of jobs that ran
 * at a crash): sweeps the cgroups container jobs of a previous run left,
 * in every hierarchy. */
void agent__isolation_recovered(rk_agent_t *a);
/* ---- container.c: task.params.container through --container-runtime ---- */
/* From agent__isolation_init: with --container-runtime podman|docker,
 * probes "<rt> info"; RK_EINVAL (logged, naming what failed) when it does
 * not answer, RK_ENOMEM. a->ctr is then read-only. */
int agent__container_init(rk_agent_t *a);
void agent__container_free(rk_agent_t *a);
/* AgentInfo capabilities: container_runtime, "podman" | "docker" | null. */
void agent__container_caps(const rk_agent_t *a, json_t *caps);
/* Whether this agent can run p's container (and its limits through the
 * runtime): 0 or 422 with err naming the field. */
int agent__container_check(const rk_agent_t *a, const rk_task_params_t *p, char *err, size_t errsz);
/* A command job with task.params.container: its runs go through the
 * runtime and see their folder at /job. */
bool agent__job_contained(const job_t *j);
/* Whether the runtime manages cgroups itself as plain directories
 * (podman's cgroupManager, docker's Cgroup Driver "cgroupfs"), so that
 * --cgroup-parent can name the job's group by its path. */
bool agent__container_cgroupfs(const rk_agent_t *a);
/* For the next run: points sp at "<rt> run --rm --name ruckus-<job id>
 * ... <image> argv..." (j->ctr_argv, j->ctr_env). With cg_parent (the
 * job's group, by its path in the hierarchies) the container runs under
 * it and the limits are the group's; without, the limits become the
 * runtime's flags (and the run has no cgroup figures). mu held. RK_ENOMEM. */
int agent__container_start(rk_agent_t *a, job_t *j, rk_exec_spec_t *sp, const char *workdir,
                           const char *cg_parent);
/* The run's client has ended: unless it exited by itself (--rm removed the
 * container then), kills and removes ruckus-<job id>, so a cancel, a
 * timeout, a stop or (at recovery) a kill -9 of the agent leaves nothing
 * running. Runs the runtime (~0.1-1 s): call without mu. */
void agent__container_reap(rk_agent_t *a, const char *job_id, bool exited);
/* Pause (freeze) or unpause of a container job's container ("<rt> pause
 * ruckus-<id>"): the client's SIGSTOP does not reach it. No-op for other
 * jobs; RK_EIO (logged) when the runtime refuses. mu held (0.1-1 s). */
int agent__container_freeze(rk_agent_t *a, const job_t *j, bool freeze);
/* Frees j->ctr_argv and j->ctr_env. mu held. */
void agent__container_end(job_t *j);

/* GET /api/v1/images: {images: [{name, digest, size_bytes}]}. */
void agent__h_images(rk_http_req_t *req, rk_http_resp_t *resp, void *ud);

/* metrics.c: makes a->prom and its families, the scrape-time collector
 * included. RK_ENOMEM (a->prom freed by rk_agent_free either way). */
int agent__metrics_init(rk_agent_t *a);

#endif
