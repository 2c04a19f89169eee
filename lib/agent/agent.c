/* The agent object: id, slots, status, long-poll waiters, the background
 * thread (waiter deadlines, delayed starts, retention) and registration. */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "model/job.h"
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

bool agent__writable(rk_agent_t *a)
{
    int64_t now = rk_time_mono_us();
    /* The probe writes and fsyncs a file: at most once a second. */
    if (a->probe_mono == 0 || now - a->probe_mono > 1000000) {
        a->probe_mono = now;
        a->probe_ok =
            rk_sysinfo_writable(a->jobs_dir, a->probe_reason, sizeof a->probe_reason) == 0;
        if (!a->probe_ok)
            rk_log_warn("data dir cannot take jobs", "reason", a->probe_reason);
    }
    return a->probe_ok;
}

json_t *agent__status_json(rk_agent_t *a)
{
    json_t *o = json_object(), *run = json_array(), *q = json_array(), *res = json_array();
    if (!o || !run || !q || !res)
        goto fail;
    /* The open jobs and the latest finished ones, as the index keeps them:
     * no walk of every retained job (index.c). */
    for (job_t *j = a->open; j; j = j->onext) {
        if (j->state == RK_JOB_RUNNING)
            json_array_append_new(run, json_string(j->id));
        else if (j->state == RK_JOB_ASSIGNED)
            json_array_append_new(q, json_string(j->id));
    }
    agent__recent_settle(a); /* after a retention sweep: once */
    char ts[RK_TIME_STRLEN];
    for (int i = 0; i < a->n_recent; i++) {
        const job_t *j = a->recent[i];
        rk_time_format(j->finished_at, ts);
        json_array_append_new(res, json_pack("{s:s,s:s,s:s}", "job_id", j->id, "completed_at", ts,
                                             "result_type", rk_task_type_name(j->type)));
    }
    const char *st = !agent__writable(a) ? "error" : a->active >= a->s->slots ? "active" : "idle";
    json_object_set_new(o, "agent_id", json_string(a->id));
    json_object_set_new(o, "status", json_string(st));
    json_object_set_new(o, "running_jobs", run);
    json_object_set_new(o, "queued_jobs", q);
    if (a->current_job)
        json_object_set_new(o, "current_job_id", json_string(a->current_job));
    if (a->current_exp)
        json_object_set_new(o, "current_experiment_id", json_string(a->current_exp));
    json_object_set_new(o, "uptime_seconds",
                        json_real((double)(rk_time_mono_us() - a->boot_mono) / 1e6));
    rk_time_format(rk_time_now_us(), ts);
    json_object_set_new(o, "timestamp", json_string(ts));
    json_object_set_new(o, "available_results", res);
    json_object_set_new(o, "slots", json_integer(a->s->slots));
    if (!a->probe_ok)
        json_object_set_new(o, "error", json_string(a->probe_reason));
    return o;
fail:
    json_decref(o);
    json_decref(run);
    json_decref(q);
    json_decref(res);
    return NULL;
}

/* Removes finished jobs older than the retention period. mu held. */
static void sweep(rk_agent_t *a)
{
    rk_time_t cutoff = rk_time_now_us() - a->s->retention_days * INT64_C(86400) * 1000000;
    for (job_t *j = a->jobs, *next; j; j = next) {
        next = j->next;
        if (j->state <= RK_JOB_RUNNING || j->finished_at > cutoff)
            continue;
        for (waiter_t *w = a->waiters; w; w = w->next)
            if (w->job == j)
                w->deadline_mono = 1; /* answered now, before the job goes */
        answer_waiters(a, NULL, rk_time_mono_us());
        rk_log_info("retention: removing a finished job", "job_id", j->id);
        agent__rmtree(j->dir);
        agent__job_remove(a, j);
        agent__job_free(j);
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

/* One registration attempt, run in a short-lived forked child that loads
 * libcurl with dlopen: libcurl and its TLS stack (libcrypto alone is 3 MiB
 * resident) are never mapped in the agent itself. The child writes
 * "<http status> <error text>" to report_fd. */
static int register_child(const char *url, const char *body, const char *token, int report_fd)
{
    char msg[CURL_ERROR_SIZE + 32] = "";
    long status = 0;
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(msg, sizeof msg, "0 cannot load libcurl: %s", dlerror());
        goto out;
    }
    __typeof__(&curl_easy_init) init;
    __typeof__(&curl_easy_setopt) setopt;
    __typeof__(&curl_easy_perform) perform;
    __typeof__(&curl_easy_getinfo) getinfo;
    __typeof__(&curl_slist_append) append;
    void *f[5] = {dlsym(h, "curl_easy_init"), dlsym(h, "curl_easy_setopt"),
                  dlsym(h, "curl_easy_perform"), dlsym(h, "curl_easy_getinfo"),
                  dlsym(h, "curl_slist_append")};
    for (int i = 0; i < 5; i++)
        if (!f[i]) {
            snprintf(msg, sizeof msg, "0 libcurl lacks a function");
            goto out;
        }
    memcpy(&init, &f[0], sizeof f[0]);
    memcpy(&setopt, &f[1], sizeof f[1]);
    memcpy(&perform, &f[2], sizeof f[2]);
    memcpy(&getinfo, &f[3], sizeof f[3]);
    memcpy(&append, &f[4], sizeof f[4]);
    CURL *c = init();
    char auth[1100], err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = append(NULL, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdr = append(hdr, auth);
    }
    FILE *sink = fopen("/dev/null", "we");
    if (!c || !hdr || !sink) {
        snprintf(msg, sizeof msg, "0 out of memory");
        goto out;
    }
    setopt(c, CURLOPT_URL, url);
    setopt(c, CURLOPT_POSTFIELDS, body);
    setopt(c, CURLOPT_HTTPHEADER, hdr);
    setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    setopt(c, CURLOPT_NOSIGNAL, 1L);
    setopt(c, CURLOPT_ERRORBUFFER, err);
    setopt(c, CURLOPT_WRITEDATA, sink);
    if (perform(c) == CURLE_OK)
        getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    snprintf(msg, sizeof msg, "%ld %s", status, err);
out:
    /* The process ends now: the kernel frees what libcurl held. */
    return write(report_fd, msg, strlen(msg)) > 0 ? 0 : 1;
}

/* Runs register_child in a child process; *status gets the HTTP status (0:
 * none), msg libcurl's error text. */
static void register_once(const char *url, const char *body, const char *token, long *status,
                          char *msg, size_t msgsz)
{
    int p[2];
    *status = 0;
    snprintf(msg, msgsz, "cannot start the registration process");
    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        _exit(register_child(url, body, token, p[1]));
    }
    close(p[1]);
    char buf[600];
    size_t k = 0;
    ssize_t r;
    while (pid > 0 && k < sizeof buf - 1 &&
           ((r = read(p[0], buf + k, sizeof buf - 1 - k)) > 0 || (r < 0 && errno == EINTR)))
        k += r > 0 ? (size_t)r : 0;
    buf[k] = '\0';
    close(p[0]);
    /* Our own child in the agent's process group (the exec reaper leaves
     * those alone), reaped here by its pid. */
    while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    if (pid > 0 && k > 0) {
        char *end;
        *status = strtol(buf, &end, 10);
        snprintf(msg, msgsz, "%s", *end == ' ' ? end + 1 : end);
    }
}

/* Registers with the server, retrying with backoff until it answers
 * 200 (or 409: already registered at this URL) or the agent stops. */
static void *reg_main(void *arg)
{
    rk_agent_t *a = arg;
    char url[4096], agent_url[512], host[256];
    snprintf(url, sizeof url, "%s/api/v1/agents/register", a->s->register_with);
    const char *h = a->s->host;
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0) {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        h = host;
    }
    snprintf(agent_url, sizeof agent_url, strchr(h, ':') ? "http://[%s]:%u" : "http://%s:%u", h,
             (unsigned)rk_agent_port(a));
    json_t *body = json_pack("{s:s}", "agent_url", agent_url);
    if (body && a->s->token)
        json_object_set_new(body, "agent_token", json_string(a->s->token));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    int64_t backoff_ms = 500;
    pthread_mutex_lock(&a->mu);
    while (text && !a->stopping) {
        pthread_mutex_unlock(&a->mu);
        long status;
        char msg[600];
        register_once(url, text, a->s->server_token, &status, msg, sizeof msg);
        bool done = status == 200 || status == 201 || status == 409;
        char st[16];
        snprintf(st, sizeof st, "%ld", status);
        if (done)
            rk_log_info("registered with the server", "url", a->s->register_with, "status", st);
        else
            rk_log_warn("cannot register with the server yet; retrying", "url", a->s->register_with,
                        "status", st, "error", msg);
        pthread_mutex_lock(&a->mu);
        if (done)
            break;
        struct timespec ts = rk_deadline_timespec(rk_deadline_in_us(backoff_ms * 1000));
        while (!a->stopping && pthread_cond_timedwait(&a->cond, &a->mu, &ts) != ETIMEDOUT) {
        }
        backoff_ms = backoff_ms * 2 > 60000 ? 60000 : backoff_ms * 2;
    }
    pthread_mutex_unlock(&a->mu);
    free(text);
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
    *out = a;
    return RK_OK;
fail:
    rk_agent_free(a);
    return rc;
}

int rk_agent_start(rk_agent_t *a)
{
    rk_http_config_t c;
    rk_http_config_init(&c);
    c.host = a->s->host;
    c.port = (uint16_t)a->s->port;
    c.token = a->s->token;
    c.threads = 4;
    c.name = "agent";
    c.param_check = rk_id_valid;
    c.param_rule = RK_ID_RULE;
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
        if (pthread_create(&a->reg, NULL, reg_main, a) != 0)
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
    a->stopping = true;
    int n = 0;
    for (job_t *j = a->jobs; j; j = j->next) {
        if (j->state == RK_JOB_RUNNING && j->in_exec) {
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
            busy = busy || (j->state == RK_JOB_RUNNING && j->in_exec);
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
    pthread_cond_destroy(&a->cond);
    pthread_cond_destroy(&a->spawn_cond);
    pthread_cond_destroy(&a->done_cond);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
