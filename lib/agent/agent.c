/* The agent object: id, slots, status, long-poll waiters, the background
 * thread (waiter deadlines, delayed starts, retention, the idle watch).
 * Calls to the server: server_link.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "base/tokenfile.h"
#include "model/job.h"
#include "model/job_text.h"
#include "model/parse.h"
#include "sysinfo/sysinfo.h"

/* Retention sweeps run this often. */
#define SWEEP_EVERY_US (INT64_C(600) * 1000000)
/* The background thread sleeps at least this long: a deadline already
 * due is served on the next round, not in a busy loop. */
#define BG_MIN_SLEEP_US 1000
/* rk_agent_stop looks again this often for jobs still running. */
#define STOP_POLL_US 50000

const char *rk_agent_id(const rk_agent_t *a)
{
    return a->id;
}

uint16_t rk_agent_port(const rk_agent_t *a)
{
    return a->http ? rk_http_server_port(a->http) : 0;
}

json_t *agent__job_status_json(const job_t *j)
{
    rk_job_status_t st = {.status = j->state,
                          .timestamp = j->changed_at,
                          .message = j->message,
                          .job_id = (char *)j->id};
    double p = agent__job_progress(j);
    if (p >= 0) {
        st.has_progress = true;
        st.progress = p;
    }
    return rk_job_status_encode(&st);
}

/* Answers every waiter of j (or all, when j is NULL and expired_only) whose
 * known status differs or whose deadline passed. mu held. */
static void answer_waiters(rk_agent_t *a, const job_t *j, int64_t now_mono)
{
    for (waiter_t **p = &a->waiters; *p;) {
        waiter_t *w = *p;
        bool due = (j && w->job == j && w->job->state != w->known) ||
                   (now_mono && w->deadline_mono <= now_mono);
        if (!due) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        rk_http_resp_t *resp = NULL;
        if (rk_http_resp_new(&resp) == 0) {
            rk_http_resp_json_take(resp, 200, agent__job_status_json(w->job));
            rk_http_wait_finish(w->w, resp);
        } else {
            rk_http_wait_release(w->w);
        }
        free(w);
    }
}

void agent__job_changed(rk_agent_t *a, job_t *j)
{
    answer_waiters(a, j, 0);
}

int agent__waiter_add(rk_agent_t *a, job_t *j, rk_job_state_t known, int64_t deadline_mono,
                      rk_http_wait_t *w)
{
    waiter_t *x = calloc(1, sizeof *x);
    if (!x)
        return RK_ENOMEM;
    x->job = j;
    x->known = known;
    x->deadline_mono = deadline_mono;
    x->w = w;
    x->next = a->waiters;
    a->waiters = x;
    if (deadline_mono < a->bg_wake_at)
        pthread_cond_broadcast(&a->cond); /* the background thread re-plans its sleep */
    return RK_OK;
}

/* The data dir's writability probe writes and fsyncs a file. While
 * requests keep asking (the server's dispatch, a burst of GET /status),
 * the background thread re-probes it every PROBE_EVERY_US outside mu, so
 * no request waits for the fsync; a request that finds the last probe
 * older than PROBE_STALE_US (after a quiet spell) probes itself, as one
 * per health check on an idle agent costs little and keeps the answer
 * fresh. An idle agent with nobody asking does not touch its disk. */
#define PROBE_EVERY_US 1000000
#define PROBE_STALE_US 1500000
#define PROBE_ASKED_US 3000000

/* Probes now and records the outcome; mu held, dropped during the probe
 * when unlock. */
static void probe(rk_agent_t *a, int64_t now, bool unlock)
{
    a->probe_mono = now;
    char reason[sizeof a->probe_reason] = "";
    if (unlock)
        pthread_mutex_unlock(&a->mu);
    bool ok = rk_sysinfo_writable(a->jobs_dir, reason, sizeof reason) == 0;
    if (unlock)
        pthread_mutex_lock(&a->mu);
    if (!ok && a->probe_ok)
        rk_log_warn("data dir cannot take jobs", "reason", reason);
    else if (ok && !a->probe_ok && a->probe_reason[0])
        rk_log_info("data dir takes jobs again");
    a->probe_ok = ok;
    memcpy(a->probe_reason, reason, sizeof reason);
}

bool agent__writable(rk_agent_t *a)
{
    int64_t now = rk_time_mono_us();
    a->probe_asked_mono = now;
    if (a->probe_mono == 0 || now - a->probe_mono > PROBE_STALE_US)
        probe(a, now, false);
    return a->probe_ok;
}

int64_t agent__probe_refresh(rk_agent_t *a)
{
    int64_t now = rk_time_mono_us();
    if (a->probe_mono != 0 && now - a->probe_asked_mono > PROBE_ASKED_US)
        return INT64_MAX; /* nobody asking: the next request probes */
    if (a->probe_mono == 0 || now - a->probe_mono >= PROBE_EVERY_US)
        probe(a, now, true);
    return a->probe_mono + PROBE_EVERY_US;
}

/* `"key":["id",...]` of the open jobs in state st. */
static int open_ids(rk_buf_t *b, const rk_agent_t *a, const char *key, rk_job_state_t st)
{
    int rc = rk_text_key(b, key);
    rc = rc ? rc : rk_buf_add(b, "[", 1);
    bool first = true;
    for (const job_t *j = a->open; !rc && j; j = j->onext) {
        if (j->state != st)
            continue;
        if (!first)
            rc = rk_buf_add(b, ",", 1);
        first = false;
        rc = rc ? rc : rk_text_string(b, j->id);
    }
    return rc ? rc : rk_buf_add(b, "]", 1);
}

/* The available_results array as text, rebuilt only when recent[] changed
 * since (a health check every few seconds finds it as it was). */
static const char *recent_text(rk_agent_t *a)
{
    agent__recent_settle(a); /* after a retention sweep: once */
    if (a->recent_text && a->recent_text_gen == a->recent_gen)
        return a->recent_text;
    rk_buf_t b;
    rk_buf_init(&b, SIZE_MAX);
    int rc = rk_buf_add(&b, "[", 1);
    char ts[RK_TIME_STRLEN];
    for (int i = 0; !rc && i < a->n_recent; i++) {
        const job_t *j = a->recent[i];
        rk_time_format(j->finished_at, ts);
        rc = rk_buf_adds(&b, i ? ",{\"job_id\":" : "{\"job_id\":");
        rc = rc ? rc : rk_text_string(&b, j->id);
        rc = rc ? rc : rk_buf_adds(&b, ",\"completed_at\":\"");
        rc = rc ? rc : rk_buf_adds(&b, ts);
        rc = rc ? rc : rk_buf_adds(&b, "\",\"result_type\":");
        rc = rc ? rc : rk_text_string(&b, rk_task_type_name(j->type));
        rc = rc ? rc : rk_buf_add(&b, "}", 1);
    }
    rc = rc ? rc : rk_buf_add(&b, "]", 1);
    if (rc) {
        rk_buf_cleanup(&b);
        return NULL;
    }
    free(a->recent_text);
    a->recent_text = rk_buf_take(&b);
    a->recent_text_gen = a->recent_gen;
    return a->recent_text;
}

int agent__status_text(rk_agent_t *a, rk_buf_t *b)
{
    /* The open jobs and the latest finished ones, as the index keeps them:
     * no walk of every retained job (index.c). */
    const char *recent = recent_text(a);
    if (!recent)
        return RK_ENOMEM;
    const char *st = !agent__writable(a) ? "error" : a->active >= a->s->slots ? "active" : "idle";
    char ts[RK_TIME_STRLEN];
    rk_time_format(rk_time_now_us(), ts);
    int rc = rk_buf_adds(b, "{\"agent_id\":");
    rc = rc ? rc : rk_text_string(b, a->id);
    rc = rc ? rc : rk_buf_adds(b, ",\"status\":");
    rc = rc ? rc : rk_text_string(b, st);
    rc = rc ? rc : rk_buf_add(b, ",", 1);
    rc = rc ? rc : open_ids(b, a, "running_jobs", RK_JOB_RUNNING);
    rc = rc ? rc : rk_buf_add(b, ",", 1);
    rc = rc ? rc : open_ids(b, a, "queued_jobs", RK_JOB_ASSIGNED);
    rc = rc ? rc : rk_buf_add(b, ",", 1);
    rc = rc ? rc : open_ids(b, a, "paused_jobs", RK_JOB_PAUSED);
    if (!rc && a->current_job) {
        rc = rk_buf_adds(b, ",\"current_job_id\":");
        rc = rc ? rc : rk_text_string(b, a->current_job);
    }
    if (!rc && a->current_exp) {
        rc = rk_buf_adds(b, ",\"current_experiment_id\":");
        rc = rc ? rc : rk_text_string(b, a->current_exp);
    }
    rc = rc ? rc
            : rk_buf_printf(b, ",\"uptime_seconds\":%.6f,\"timestamp\":\"%s\",",
                            (double)(rk_time_mono_us() - a->boot_mono) / 1e6, ts);
    rc = rc ? rc : rk_buf_adds(b, "\"available_results\":");
    rc = rc ? rc : rk_buf_adds(b, recent);
    rc = rc ? rc : rk_buf_printf(b, ",\"slots\":%lld", (long long)a->s->slots);
    if (!rc && !a->probe_ok) {
        rc = rk_buf_adds(b, ",\"error\":");
        rc = rc ? rc : rk_text_string(b, a->probe_reason);
    }
    return rc ? rc : rk_buf_add(b, "}", 1);
}

/* Removes finished job j: its waiters answered first, then its folder
 * (record, logs, artifacts) and its record in memory. mu held. */
static void drop_job(rk_agent_t *a, job_t *j, const char *why)
{
    for (waiter_t *w = a->waiters; w; w = w->next)
        if (w->job == j)
            w->deadline_mono = 1; /* answered now, before the job goes */
    answer_waiters(a, NULL, rk_time_mono_us());
    rk_log_info(why, "job_id", j->id);
    agent__rmtree(j->dir);
    agent__job_remove(a, j);
    agent__job_free(j);
}

void agent__job_purge(rk_agent_t *a, job_t *j)
{
    drop_job(a, j, "purge: removing a finished job the server deleted");
    agent__recent_settle(a);
}

/* Removes finished jobs older than the retention period. mu held. */
static void sweep(rk_agent_t *a)
{
    rk_time_t cutoff = rk_time_now_us() - a->s->retention_days * INT64_C(86400) * 1000000;
    for (job_t *j = a->jobs, *next; j; j = next) {
        next = j->next;
        if (!rk_job_state_terminal(j->state) || j->finished_at > cutoff)
            continue;
        drop_job(a, j, "retention: removing a finished job");
    }
    agent__recent_settle(a);
}

static void *bg_main(void *arg)
{
    rk_agent_t *a = arg;
    int64_t next_sweep = 0;
    pthread_mutex_lock(&a->mu);
    while (!a->stopped) {
        /* First: it drops mu, and what follows reads the state afresh. */
        agent__spares_refill(a);
        int64_t now = rk_time_mono_us();
        answer_waiters(a, NULL, now);
        int64_t wake = now + 1000000;
        bool waiting = false;
        for (job_t *j = a->maybe_waiting ? a->jobs : NULL; j; j = j->next) {
            if (j->state != RK_JOB_ASSIGNED || !j->has_req)
                continue;
            waiting = true;
            if (a->stopping)
                continue;
            if (j->start_at_mono <= now)
                agent__job_run(a, j);
            else if (j->start_at_mono < wake)
                wake = j->start_at_mono;
        }
        a->maybe_waiting = waiting;
        for (waiter_t *w = a->waiters; w; w = w->next)
            if (w->deadline_mono < wake)
                wake = w->deadline_mono;
        agent__idle_check(a, now);
        int64_t probe_at = agent__probe_refresh(a); /* may drop mu */
        if (probe_at < wake)
            wake = probe_at;
        if (now >= next_sweep) {
            sweep(a);
            next_sweep = now + SWEEP_EVERY_US;
            pthread_mutex_unlock(&a->mu); /* a->iso is read-only; removing files takes time */
            agent__isolation_sweep(a);
            pthread_mutex_lock(&a->mu);
        }
        int64_t d = wake - rk_time_mono_us();
        if (d < BG_MIN_SLEEP_US)
            d = BG_MIN_SLEEP_US;
        a->bg_wake_at = rk_deadline_in_us(d);
        struct timespec ts = rk_deadline_timespec(a->bg_wake_at);
        pthread_cond_timedwait(&a->cond, &a->mu, &ts);
        a->bg_wake_at = 0;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static json_t *hardware_summary(void)
{
    const rk_cpu_info_t *c = rk_sysinfo_cpu();
    uint64_t total = 0, avail = 0;
    rk_sysinfo_memory(&total, &avail);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    /* The same shape as system_info's cpu and memory objects, so a result's
     * hardware reads like the agent's (docs/system-info.md). */
    return json_pack("{s:s,s:{s:s,s:s,s:i,s:i},s:{s:I}}", "hostname", host, "cpu", "model",
                     c->model, "architecture", c->arch, "cores", c->cores, "threads", c->threads,
                     "memory", "total_mb", (json_int_t)(total >> 20));
}

/* A test hook's integer from the environment: def when unset or not a
 * whole number, else clamped to lo..hi. */
static int64_t test_hook(const char *env, int64_t def, int64_t lo, int64_t hi)
{
    const char *v = getenv(env);
    if (!v || !*v)
        return def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*end || errno)
        return def;
    return n < lo ? lo : n > hi ? hi : n;
}

/* Loads or creates <data_dir>/agent_id into a->id. */
static int load_id(rk_agent_t *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/agent_id", a->data_dir);
    FILE *f = fopen(path, "re");
    if (f) {
        char buf[RK_AGENT_ID_MAX + 2] = "";
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            buf[--n] = '\0';
        if (rk_id_valid(buf)) { /* at most 64 characters, so it fits a->id */
            memcpy(a->id, buf, strlen(buf) + 1);
            return RK_OK;
        }
        rk_log_warn("agent id file is invalid; making a new id", "path", path);
    }
    unsigned char rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return RK_EIO;
    int k = snprintf(a->id, sizeof a->id, "agent-");
    for (size_t i = 0; i < sizeof rnd; i++)
        k += snprintf(a->id + k, sizeof a->id - (size_t)k, "%02x", rnd[i]);
    char line[RK_AGENT_ID_MAX + 2];
    int n = snprintf(line, sizeof line, "%s\n", a->id);
    return agent__write_atomic(a->data_dir, "agent_id", line, (size_t)n);
}

int rk_agent_new(const rk_agent_settings_t *s, rk_agent_t **out)
{
    *out = NULL;
    rk_agent_t *a = calloc(1, sizeof *a);
    if (!a)
        return RK_ENOMEM;
    a->s = s;
    /* Timed waits count on the monotonic clock: a wall-clock step does not
     * stretch or cut a long poll, a backoff or the stop's grace. */
    pthread_cond_t *conds[] = {&a->cond, &a->spawn_cond, &a->done_cond};
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
        if (rk_cond_init_mono(conds[i]) != 0) {
            while (i > 0)
                pthread_cond_destroy(conds[--i]);
            free(a);
            return RK_ENOMEM;
        }
    }
    pthread_mutex_init(&a->mu, NULL);
    a->boot_wall = rk_time_now_us();
    a->boot_mono = rk_time_mono_us();
    a->start_delay_ms = test_hook(RK_AGENT_TEST_START_DELAY_ENV, 0, 0, 60000);
    a->spawn_delay_ms = test_hook(RK_AGENT_TEST_SPAWN_DELAY_ENV, 0, 0, 60000);
    int rc = RK_ENOMEM;
    if (!(a->hardware = hardware_summary()))
        goto fail;
    rc = RK_EIO;
    if (mkdir(s->data_dir, 0755) != 0 && errno != EEXIST) {
        rk_log_error("cannot create the data dir", "path", s->data_dir, "error", strerror(errno));
        goto fail;
    }
    if (!(a->data_dir = realpath(s->data_dir, NULL)) ||
        asprintf(&a->jobs_dir, "%s/jobs", a->data_dir) < 0) {
        a->jobs_dir = NULL;
        goto fail;
    }
    if (mkdir(a->jobs_dir, 0755) != 0 && errno != EEXIST) {
        rk_log_error("cannot create the jobs folder", "path", a->jobs_dir, "error",
                     strerror(errno));
        goto fail;
    }
    agent__spread_hint(a->jobs_dir);
    if ((rc = load_id(a)) != 0) {
        rk_log_error("cannot store the agent id", "path", s->data_dir);
        goto fail;
    }
    if ((rc = agent__isolation_init(a)) != 0)
        goto fail;
    /* Spares of the previous run are made again: what a crash left of
     * them is not worth checking. */
    a->spare_target = s->slots < SPARE_MAX / 2 ? (int)(2 * s->slots + 2) : SPARE_MAX;
    a->spare_target = (int)test_hook(RK_AGENT_TEST_SPARES_ENV, a->spare_target, 0, SPARE_MAX);
    if (agent__spares_clear(a) != RK_OK)
        rk_log_warn("cannot remove old spare job folders", "path", a->jobs_dir);
    pthread_mutex_lock(&a->mu);
    rc = agent__jobs_recover(a);
    pthread_mutex_unlock(&a->mu);
    if (rc)
        goto fail;
    agent__isolation_recovered(a); /* the runtime has removed what it ran */
    *out = a;
    return RK_OK;
fail:
    rk_agent_free(a);
    return rc;
}

int rk_agent_reload_tls(rk_agent_t *a)
{
    if (!a->s->tls_cert)
        return RK_OK;
    return a->http ? rk_http_server_reload_tls(a->http, a->s->tls_cert, a->s->tls_key) : RK_ESTATE;
}

int rk_agent_reload_token(rk_agent_t *a)
{
    if (!a->s->token_file) {
        rk_log_info("SIGHUP: no token file to re-read");
        return RK_OK;
    }
    char why[256] = "";
    char *tok = NULL;
    int rc = rk_token_file_read(a->s->token_file, &tok, why, sizeof why);
    if (!rc)
        rc = a->http ? rk_http_server_set_tokens(a->http, tok, NULL) : RK_ESTATE;
    rk_token_free(tok);
    if (rc)
        rk_log_warn("SIGHUP: keeping the old token", "path", a->s->token_file, "detail",
                    why[0] ? why : rk_strerror(rc));
    else
        rk_log_info("SIGHUP: token re-read", "path", a->s->token_file);
    return rc;
}

int rk_agent_start(rk_agent_t *a)
{
    rk_http_config_t c;
    rk_http_config_init(&c);
    c.host = a->s->host;
    c.port = (uint16_t)a->s->port;
    c.token = a->s->token;
    c.tls_cert = a->s->tls_cert;
    c.tls_key = a->s->tls_key;
    c.threads = 4;
    c.name = "agent";
    c.param_check = rk_id_valid;
    c.param_rule = RK_ID_RULE;
    pthread_mutex_lock(&a->mu); /* the first probe, before any request */
    a->probe_ok = true;
    a->probe_mono = 0;
    agent__probe_refresh(a);
    pthread_mutex_unlock(&a->mu);
    int rc = rk_exec_sup_new(&a->sup);
    if (!rc && (rc = agent__metrics_init(a)) == 0)
        c.metrics = a->prom;
    if (rc || (rc = rk_http_server_new(&c, &a->http)) || (rc = agent__routes(a)) ||
        (rc = rk_http_server_metrics_route(a->http, "/metrics")) ||
        (rc = rk_http_server_start(a->http)))
        return rc;
    /* The HTTP server logged the one "listening host= port=" line. */
    rk_log_info("agent ready", "agent_id", a->id);
    if (pthread_create(&a->bg, NULL, bg_main, a) != 0)
        return RK_EIO;
    a->bg_on = true;
    a->started = true;
    if (a->s->register_with) {
        if (pthread_create(&a->reg, NULL, agent__register_main, a) != 0)
            return RK_EIO;
        a->reg_on = true;
    }
    return RK_OK;
}

void rk_agent_stop(rk_agent_t *a)
{
    pthread_mutex_lock(&a->mu);
    if (a->stopped) {
        pthread_mutex_unlock(&a->mu);
        return;
    }
    /* A pilot agent leaves the server first, so no new job arrives while
     * it stops (one that did is cancelled by the server's unregister). */
    if (a->started && !a->stopping && a->s->exit_when_idle > 0) {
        pthread_mutex_unlock(&a->mu);
        agent__unregister(a);
        pthread_mutex_lock(&a->mu);
    }
    a->stopping = true;
    int n = 0;
    for (job_t *j = a->jobs; j; j = j->next) {
        /* Running or paused (a cancel thaws it), with a run under way. */
        if (j->in_exec) {
            j->shutdown = true;
            if (!j->spawning) /* else the spawner cancels */
                rk_exec_cancel(a->sup, j->exec_id, 0);
            n++;
        }
    }
    if (n)
        rk_log_info("stopping running jobs", "grace_s", "see --grace");
    /* Bounded: the supervisor SIGKILLs after the grace. */
    int64_t end = rk_deadline_in_us((int64_t)(a->s->grace * 1e6) + 5000000);
    for (;;) {
        bool busy = false;
        for (job_t *j = a->jobs; j; j = j->next)
            busy = busy || j->in_exec;
        if (!busy || rk_time_mono_us() > end)
            break;
        struct timespec ts = rk_deadline_timespec(rk_deadline_in_us(STOP_POLL_US));
        pthread_cond_timedwait(&a->done_cond, &a->mu, &ts);
    }
    a->stopped = true;
    char taken[24], missed[24];
    snprintf(taken, sizeof taken, "%llu", (unsigned long long)a->spares_taken);
    snprintf(missed, sizeof missed, "%llu", (unsigned long long)a->spares_missed);
    rk_log_info("job folders made ahead (spares) and at accept", "spares", taken, "at_accept",
                missed);
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->mu);
    if (a->bg_on)
        pthread_join(a->bg, NULL);
    if (a->reg_on)
        pthread_join(a->reg, NULL);
    a->bg_on = a->reg_on = false;
    if (a->http)
        rk_http_server_stop(a->http);
    pthread_mutex_lock(&a->mu);
    for (waiter_t *w = a->waiters, *next; w; w = next) {
        next = w->next;
        rk_http_wait_release(w->w);
        free(w);
    }
    a->waiters = NULL;
    pthread_mutex_unlock(&a->mu);
    rk_exec_sup_free(a->sup);
    a->sup = NULL;
}

void rk_agent_free(rk_agent_t *a)
{
    if (!a)
        return;
    if (a->started)
        rk_agent_stop(a);
    rk_http_server_free(a->http);
    rk_exec_sup_free(a->sup);
    for (job_t *j = a->jobs, *next; j; j = next) {
        next = j->next;
        agent__job_free(j);
    }
    json_decref(a->hardware);
    agent__isolation_free(a);
    rk_prom_free(a->prom);
    free(a->jobs_dir);
    free(a->data_dir);
    free(a->current_job);
    free(a->current_exp);
    free(a->recent_text);
    pthread_cond_destroy(&a->cond);
    pthread_cond_destroy(&a->spawn_cond);
    pthread_cond_destroy(&a->done_cond);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
