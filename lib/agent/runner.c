/* Running one job: a command or a built-in benchmark in a child process,
 * runs_per_job times, then its result.
 *
 * Every run is one supervised child (exec/supervisor.h) in its own process
 * group; a built-in benchmark's child is the agent's binary run again
 * (bench_helper.c), so OpenBLAS is loaded only there. The completion callback, on the supervisor
 * thread, records the run and either starts the next one or finishes the job.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "bench/bench.h"
#include "isolate/sandbox.h"
#include "llm/run.h"
#include "model/parse.h"
#include "model/stats.h"

static void path_in(char *out, size_t n, const job_t *j, const char *name)
{
    snprintf(out, n, "%s/%s", j->dir, name);
}

/* mkdir -p for a path below the job folder (the model refuses ".."). */
static int mkdirs(const char *path)
{
    /* Usually only the last component is missing (the job folder exists):
     * one mkdir, not one per component of the absolute path. */
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return RK_OK;
    if (errno != ENOENT)
        return RK_EIO;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return RK_EIO;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? RK_EIO : RK_OK;
}

/* Bounded read of a small file into buf (NUL-terminated); -1 if missing. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t k;
    while (n < cap - 1 && (k = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

double agent__job_progress(const job_t *j)
{
    if (j->state == RK_JOB_COMPLETED)
        return 1.0;
    if (j->state != RK_JOB_RUNNING && !(j->state == RK_JOB_PAUSED && j->started_at))
        return -1;
    char path[4200], buf[64];
    path_in(path, sizeof path, j, "progress");
    double p = -1;
    if (read_small(path, buf, sizeof buf) > 0) {
        char *end;
        double v = strtod(buf, &end);
        if (end != buf && isfinite(v))
            p = v < 0 ? 0 : v > 1 ? 1 : v;
    }
    int64_t total = j->has_req ? j->req.spec.params.runs_per_job : 1;
    if (total > 1)
        return ((double)j->runs_done + (p < 0 ? 0 : p)) / (double)total;
    return p;
}

/* The workload's metrics file: a JSON object whose number and string
 * values become metrics. Anything else is ignored (logged). */
static void merge_metrics_file(const job_t *j, json_t *metrics)
{
    char path[4200];
    path_in(path, sizeof path, j, "metrics.json");
    char *buf = malloc(METRICS_FILE_MAX + 1);
    if (!buf)
        return;
    ssize_t n = read_small(path, buf, METRICS_FILE_MAX + 1);
    json_t *o = NULL;
    rk_verr_t e;
    if (n > 0 && rk_model_parse_json(buf, (size_t)n, &o, &e) == 0) {
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            if (json_is_number(v) || json_is_string(v))
                json_object_set(metrics, k, v);
        }
    } else if (n > 0) {
        rk_log_warn("ignoring a metrics file that is not a JSON object", "job_id", j->id);
    }
    json_decref(o);
    free(buf);
}

static void on_done(void *ud, uint64_t id, const rk_exec_outcome_t *o);

/* Starts the next run of j. mu held; dropped while the child is spawned
 * (clone + exec take ~0.1-0.4 ms, most of it waiting for the child to
 * exec): the other slots' accepts, ends and status reads go on meanwhile.
 * What the spawn reads of j (request, folder) does not change while the job
 * runs; j->spawning tells the others that exec_id is not known yet. */
static int start_run(rk_agent_t *a, job_t *j)
{
    char out_dir[4200], metrics[4200], so[4200], se[4200], wd[8400];
    path_in(out_dir, sizeof out_dir, j, "output");
    path_in(metrics, sizeof metrics, j, "metrics.json");
    path_in(so, sizeof so, j, "stdout.log");
    path_in(se, sizeof se, j, "stderr.log");
    /* A new job's folder holds neither file (a job recovered unstarted
     * never ran): only a later run clears the previous run's metrics. */
    if (j->runs_done > 0)
        unlink(metrics);
    if (mkdirs(out_dir) != 0)
        return RK_EIO;
    const rk_command_params_t *c = &j->req.spec.params.command;
    bool cmd = j->type == RK_TASK_COMMAND;
    static const char *const bench_argv[] = {"/proc/self/exe", RK_AGENT_HELPER_ARG, "bench", NULL};
    char *bench_in = NULL;
    size_t n_env = cmd ? c->n_env : 0;
    char **env = calloc(n_env + 7, sizeof *env);
    int rc = RK_ENOMEM;
    if (!env)
        return rc;
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (asprintf(&env[k++], "%s=%s", c->env[i].name, c->env[i].value) < 0)
            goto out;
    /* In a sandbox the job sees its folder at /job. */
    const char *seen = agent__job_sandboxed(j) ? RK_SANDBOX_JOB_DIR : j->dir;
    if (asprintf(&env[k++], "RUCKUS_JOB_ID=%s", j->id) < 0 ||
        asprintf(&env[k++], "RUCKUS_OUTPUT_DIR=%s/output", seen) < 0 ||
        asprintf(&env[k++], "RUCKUS_METRICS_FILE=%s/metrics.json", seen) < 0 ||
        asprintf(&env[k++], "RUCKUS_PROGRESS_FILE=%s/progress", seen) < 0 ||
        asprintf(&env[k++], "RUCKUS_MODELS_DIR=%s", a->s->models_dir) < 0 ||
        (a->s->llm_api_key_env &&
         asprintf(&env[k++], RK_LLM_API_KEY_ENV "=%s", a->s->llm_api_key_env) < 0))
        goto out;
    rk_exec_spec_t sp = {
        .env = (const char *const *)env,
        .workdir = j->dir,
        .stdout_path = so,
        .stderr_path = se,
        .log_cap = (size_t)a->s->log_cap,
        /* Every run's output stays: later runs append to the first's logs. */
        .log_append = j->runs_done > 0,
        /* A silent stream creates no file; the log endpoint reads an absent
         * log as empty. */
        .lazy_logs = true,
        .grace_ms = a->s->grace > 0 ? (int64_t)(a->s->grace * 1000) : -1,
    };
    if (cmd) {
        sp.argv = (const char *const *)c->argv;
        sp.stdin_data = c->stdin_data;
        sp.stdin_len = c->stdin_len;
        sp.limits =
            (rk_exec_limits_t){(uint64_t)c->rlimits.cpu_seconds, (uint64_t)c->rlimits.memory_mb,
                               (uint64_t)c->rlimits.nofile, (uint64_t)c->rlimits.nproc};
        if (c->workdir) {
            snprintf(wd, sizeof wd, "%s/%s", j->dir, c->workdir);
            mkdirs(wd);
            sp.workdir = wd;
        }
    } else {
        /* A built-in benchmark: the agent's own binary run again
         * (bench_helper.c), the request on its stdin. */
        if (!(bench_in = json_dumps(j->request, JSON_COMPACT)))
            goto out;
        sp.argv = bench_argv;
        sp.stdin_data = bench_in;
        sp.stdin_len = strlen(bench_in);
    }
    if (cmd && agent__job_isolated(j) &&
        (rc = agent__isolation_start(a, j, &sp, c->workdir)) != RK_OK)
        goto out;
    int left_ms = rk_deadline_ms_left(j->deadline_mono);
    sp.timeout_ms = left_ms > 0 ? left_ms : 1; /* 0 would mean no timeout */
    j->run_started = rk_time_now_us();
    pid_t pid = -1;
    sp.started_pid = &pid;
    uint64_t exec_id = 0;
    j->in_exec = j->spawning = true;
    pthread_mutex_unlock(&a->mu);
    if (a->spawn_delay_ms > 0)
        usleep((useconds_t)(a->spawn_delay_ms * 1000));
    int64_t t0 = rk_time_mono_us();
    rc = rk_exec_start(a->sup, &sp, on_done, j, &exec_id);
    if (rc == 0)
        rk_prom_observe(a->m_spawn, NULL, (double)(rk_time_mono_us() - t0) / 1e6);
    pthread_mutex_lock(&a->mu);
    j->spawning = false;
    j->in_exec = rc == 0;
    pthread_cond_broadcast(&a->spawn_cond); /* on_done may be waiting for it */
    if (rc != 0)
        agent__isolation_end(j, NULL, NULL);
    if (rc == 0) {
        j->exec_id = exec_id;
        /* A cancel or stop that came while spawning only set its flag. */
        if (j->cancel || j->shutdown)
            rk_exec_cancel(a->sup, exec_id, 0);
        /* The group a restart kills if the agent dies now. Not worth a
         * folder fsync: after a power loss the processes are gone anyway,
         * and the previous record (running, no group) is still correct. */
        if (pid > 0) {
            j->pgid = pid;
            agent__job_persist_pgid(a, j);
        }
    }
out:
    for (size_t i = 0; i < n_env + 6; i++)
        free(env[i]);
    free(env);
    free(bench_in);
    return rc;
}

void agent__job_next_run(rk_agent_t *a, job_t *j)
{
    int rc = start_run(a, j);
    if (rc)
        agent__job_finish(a, j, RK_JOB_FAILED, "cannot start the next run", rk_strerror(rc));
    else
        agent__job_changed(a, j); /* progress moved */
}

void agent__job_mark_running(job_t *j)
{
    j->state = RK_JOB_RUNNING;
    j->started_at = j->changed_at = rk_time_now_us();
    free(j->message);
    j->message = strdup("running");
    j->deadline_mono =
        rk_deadline_in_us(j->req.spec.requirements.timeout_seconds * INT64_C(1000000));
}

void agent__job_spawn(rk_agent_t *a, job_t *j)
{
    free(a->current_job);
    free(a->current_exp);
    a->current_job = strdup(j->id);
    a->current_exp = strdup(j->experiment_id);
    agent__job_changed(a, j);
    int rc = start_run(a, j);
    if (rc) {
        agent__job_finish(a, j, RK_JOB_FAILED, "cannot start the job", rk_strerror(rc));
        return;
    }
    rk_log_info("job started", "job_id", j->id, "type", rk_task_type_name(j->type));
}

void agent__job_run(rk_agent_t *a, job_t *j)
{
    agent__job_mark_running(j);
    /* Durable before the spawn: after a crash a job recorded running is
     * failed, never run a second time. */
    if (agent__job_persist(a, j, true) != 0) {
        agent__job_finish(a, j, RK_JOB_FAILED, "cannot store the job's state",
                          "the agent could not write the job's folder");
        return;
    }
    agent__job_spawn(a, j);
}

static void add_num(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(v));
}

/* "exited with status 1: <last stderr line(s)>", bounded. */
static char *failure_text(const rk_exec_outcome_t *o)
{
    const char *tail = o->stderr_tail;
    while (*tail == '\n' || *tail == ' ')
        tail++;
    size_t tl = strlen(tail);
    while (tl && (tail[tl - 1] == '\n' || tail[tl - 1] == ' '))
        tl--;
    char *s = NULL;
    if (tl) {
        if (asprintf(&s, "%s; stderr: %.*s", o->message, (int)tl, tail) < 0)
            s = NULL;
    } else {
        s = strdup(o->message);
    }
    return s;
}

/* Whether every metric the runs are judged by has settled: its coefficient
 * of variation over the warm runs (all but the first) under target. The
 * metrics are the spec's declared ones that the runs report as numbers,
 * else wall_time_s. Needs two warm values of each. mu held. */
static bool settled(const job_t *j)
{
    const rk_task_params_t *p = &j->req.spec.params;
    const json_t *declared = j->req.spec.metrics.metrics;
    const char *fallback[] = {"wall_time_s"};
    const char *k;
    json_t *v;
    size_t judged = 0;
    bool ok = true;
    /* One pass over the declared names (or the fallback). */
    void *iter = json_object_iter((json_t *)declared);
    for (size_t f = 0; ok && (iter || (!judged && f < 1));) {
        if (iter) {
            k = json_object_iter_key(iter);
            iter = json_object_iter_next((json_t *)declared, iter);
        } else {
            k = fallback[f++];
        }
        double sum = 0, sq = 0;
        int64_t n = 0;
        for (int64_t r = 1; r < j->runs_done; r++) {
            v = json_object_get(j->runs[r].metrics, k);
            if (json_is_number(v)) {
                sum += json_number_value(v);
                n++;
            }
        }
        if (n == 0)
            continue; /* not a metric these runs report */
        judged++;
        if (n < 2) {
            ok = false;
            break;
        }
        double mean = sum / (double)n;
        for (int64_t r = 1; r < j->runs_done; r++) {
            v = json_object_get(j->runs[r].metrics, k);
            if (json_is_number(v))
                sq += (json_number_value(v) - mean) * (json_number_value(v) - mean);
        }
        double sd = sqrt(sq / (double)(n - 1));
        double cv = mean != 0 ? sd / fabs(mean) : (sd == 0 ? 0 : INFINITY);
        ok = cv < p->target_cv;
    }
    return ok && judged > 0;
}

/* Whether j takes another run after a successful one. mu held. */
static bool wants_more(const job_t *j)
{
    const rk_task_params_t *p = &j->req.spec.params;
    if (p->target_cv <= 0)
        return j->runs_done < p->runs_per_job;
    if (j->runs_done < p->min_runs)
        return true;
    if (j->runs_done >= p->max_runs)
        return false;
    return !settled(j);
}

static void on_done(void *ud, uint64_t id, const rk_exec_outcome_t *o)
{
    (void)id;
    job_t *j = ud;
    rk_agent_t *a = j->agent;
    /* A container its client did not see end is killed and removed (the
     * runtime takes a moment: not under mu). */
    if (agent__job_contained(j))
        agent__container_reap(a, j->id, o->end == RK_EXEC_EXITED);
    pthread_mutex_lock(&a->mu);
    /* The child can end before its spawner has taken mu back. */
    while (j->spawning)
        pthread_cond_wait(&a->spawn_cond, &a->mu);
    j->in_exec = false;
    rk_prom_add(a->m_log_bytes, (const char *const[]){"stdout"}, (double)o->stdout_bytes);
    rk_prom_add(a->m_log_bytes, (const char *const[]){"stderr"}, (double)o->stderr_bytes);
    j->stdout_truncated = j->stdout_truncated || o->stdout_truncated;
    j->stderr_truncated = j->stderr_truncated || o->stderr_truncated;
    json_t *m = json_object();
    rk_run_t *runs = m ? realloc(j->runs, (size_t)(j->runs_done + 1) * sizeof *runs) : NULL;
    if (!runs) {
        json_decref(m);
        agent__isolation_end(j, NULL, NULL);
        agent__job_finish(a, j, RK_JOB_FAILED, "out of memory", "out of memory");
        goto out;
    }
    j->runs = runs;
    merge_metrics_file(j, m);
    /* The time a pause froze the run is not the workload's. */
    add_num(m, "wall_time_s", (double)(o->wall_us - o->paused_us) / 1e6);
    add_num(m, "user_time_s", (double)o->user_us / 1e6);
    add_num(m, "sys_time_s", (double)o->sys_us / 1e6);
    json_object_set_new(m, "max_rss_kib", json_integer(o->max_rss_kib));
    json_object_set_new(m, "exit_status", json_integer(o->exit_code));
    if (o->term_signal)
        json_object_set_new(m, "term_signal", json_integer(o->term_signal));
    /* Inside bwrap an OOM-killed command shows as bwrap exiting 137: the
     * cgroup says what happened. */
    int64_t memory_mb = 0;
    bool oom = agent__isolation_end(j, m, &memory_mb);
    rk_run_t *r = &j->runs[j->runs_done];
    memset(r, 0, sizeof *r);
    r->run_id = j->runs_done;
    r->is_cold_start = j->runs_done == 0;
    r->started_at = j->run_started;
    r->duration_seconds = (double)(o->wall_us - o->paused_us) / 1e6;
    r->metrics = m;
    j->runs_done++;

    char msg[512];
    if (j->shutdown) {
        agent__job_finish(a, j, RK_JOB_FAILED, "agent shut down", "agent shut down");
    } else if (j->cancel || o->end == RK_EXEC_CANCELLED) {
        agent__job_finish(a, j, RK_JOB_CANCELLED, "cancelled", NULL);
    } else if (o->end == RK_EXEC_TIMED_OUT) {
        snprintf(msg, sizeof msg, "timed out after %lld s",
                 (long long)j->req.spec.requirements.timeout_seconds);
        agent__job_finish(a, j, RK_JOB_TIMEOUT, msg, msg);
    } else if (oom) {
        snprintf(msg, sizeof msg, "killed by its memory limit (memory_mb %lld)",
                 (long long)memory_mb);
        agent__job_finish(a, j, RK_JOB_FAILED, msg, msg);
    } else if (o->end != RK_EXEC_EXITED || o->exit_code != 0) {
        /* Why it failed, in the job's message too (every client shows that
         * one), on one line: the stderr tail's lines joined by " | ". */
        char *err = failure_text(o);
        char *line = err ? strdup(err) : NULL;
        for (char *p = line; p && (p = strchr(p, '\n'));)
            *p = '\x1f';
        char *one = NULL;
        if (line) {
            size_t n = 0;
            for (const char *p = line; *p; p++)
                n += *p == '\x1f' ? 3 : 1;
            one = malloc(n + 1);
            for (char *p = line, *q = one; one; p++) {
                if (*p == '\x1f') {
                    memcpy(q, " | ", 3);
                    q += 3;
                } else if (!(*q++ = *p)) {
                    break;
                }
            }
        }
        agent__job_finish(a, j, RK_JOB_FAILED, one ? one : o->message, err ? err : o->message);
        free(one);
        free(line);
        free(err);
    } else if (wants_more(j)) {
        /* A paused job takes its next run when it is resumed (pause.c). */
        if (j->state != RK_JOB_PAUSED)
            agent__job_next_run(a, j);
    } else {
        agent__job_finish(a, j, RK_JOB_COMPLETED, "completed", NULL);
    }
out:
    pthread_mutex_unlock(&a->mu);
}

/* Builds and stores result.json. The runs move into the result. */
static int write_result(rk_agent_t *a, job_t *j, rk_job_state_t st, const char *error)
{
    rk_result_t r = {0};
    int rc = RK_ENOMEM;
    r.job_id = strdup(j->id);
    r.experiment_id = strdup(j->experiment_id ? j->experiment_id : "");
    r.status = st;
    r.started_at = j->started_at ? j->started_at : j->accepted_at;
    r.completed_at = j->finished_at;
    r.duration_seconds =
        r.completed_at > r.started_at ? (double)(r.completed_at - r.started_at) / 1e6 : 0;
    r.hardware_info = json_deep_copy(a->hardware);
    /* What the logs hold: the runs' sinks said whether they stopped at the
     * cap (a job that never ran, or that a restart failed, reads false). */
    r.has_logs = true;
    r.stdout_truncated = j->stdout_truncated;
    r.stderr_truncated = j->stderr_truncated;
    json_t *arts = agent__list_output(j->dir, 10000);
    if (!r.job_id || !r.experiment_id || !r.hardware_info || !arts)
        goto out;
    r.n_artifacts = json_array_size(arts);
    r.artifacts = calloc(r.n_artifacts + 1, sizeof *r.artifacts);
    if (!r.artifacts)
        goto out;
    for (size_t i = 0; i < r.n_artifacts; i++)
        if (!(r.artifacts[i] = strdup(json_string_value(json_array_get(arts, i)))))
            goto out;
    if (error && !(r.error = strdup(error)))
        goto out;
    if (error)
        r.error_type = strdup(st == RK_JOB_TIMEOUT     ? "timeout"
                              : st == RK_JOB_CANCELLED ? "cancelled"
                                                       : "failed");
    /* A run count that settled itself says whether it did, and in how
     * many runs (before the runs move into the result). */
    bool settling = j->has_req && j->req.spec.params.target_cv > 0 && st == RK_JOB_COMPLETED;
    bool converged = settling && settled(j);
    int64_t used = j->runs_done;
    if (j->runs_done > 1) {
        r.runs = j->runs;
        r.n_runs = (size_t)j->runs_done;
        j->runs = NULL;
        j->runs_done = 0;
        r.metrics = json_object();
        if (!r.metrics || rk_stats_apply(&r) != 0)
            goto out;
    } else if (j->runs_done == 1) {
        r.metrics = json_incref(j->runs[0].metrics);
    } else {
        r.metrics = json_object();
    }
    if (settling && r.metrics) {
        json_object_set_new(r.metrics, "converged", json_integer(converged ? 1 : 0));
        json_object_set_new(r.metrics, "runs_used", json_integer(used));
    }
    json_t *enc = r.metrics ? rk_result_encode(&r) : NULL;
    char *text = enc ? json_dumps(enc, JSON_COMPACT) : NULL;
    json_decref(enc);
    if (text) {
        /* Written once per job, so a new file: at --sync normal in place
         * (a torn one does not parse and reads as no result). */
        rc = agent__write_new(j->dir, "result.json", text, strlen(text),
                              agent__record_level(a, true));
        free(text);
    }
out:
    json_decref(arts);
    rk_result_cleanup(&r);
    return rc;
}

void agent__job_finish(rk_agent_t *a, job_t *j, rk_job_state_t st, const char *message,
                       const char *error)
{
    j->finished_at = j->changed_at = rk_time_now_us();
    const char *stname[] = {rk_job_state_name(st)};
    rk_prom_add(a->m_finished, stname, 1);
    if (j->started_at)
        rk_prom_observe(a->m_duration, stname, (double)(j->finished_at - j->started_at) / 1e6);
    /* The result is stored before the job reads finished (design.md,
     * "Results before release"). */
    bool stored = write_result(a, j, st, error) == 0;
    if (!stored)
        rk_log_error("cannot store the job's result", "job_id", j->id);
    j->state = st;
    agent__job_finished(a, j);
    free(j->message);
    j->message = strdup(message ? message : "");
    json_decref(j->request);
    j->request = NULL;
    j->pgid = 0;
    /* A stored result.json is the finished record: a job.json still saying
     * assigned or running next to it is read as finished at restart, with
     * the result's status, end time and error. Only without it is the end
     * written to job.json. */
    if (stored) {
        free(j->rec);
        j->rec = NULL;
    } else {
        agent__job_persist(a, j, true);
    }
    if (j->has_req) {
        rk_execute_request_cleanup(&j->req);
        j->has_req = false;
    }
    rk_runs_free(j->runs, (size_t)j->runs_done);
    j->runs = NULL;
    j->runs_done = 0;
    a->active--;
    agent__job_changed(a, j);
    pthread_cond_broadcast(&a->done_cond);
    rk_log_info("job finished", "job_id", j->id, "status", rk_job_state_name(st), "message",
                message);
}
