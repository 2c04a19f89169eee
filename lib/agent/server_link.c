/* The agent's own calls to its server (--register-with): registration at
 * start, retried with backoff; and for a pilot agent (--exit-when-idle, an
 * agent started as a Slurm job) the idle watch that ends it and the
 * unregistration at its clean exit (docs/slurm.md).
 *
 * Every call runs in a helper process (helper.c) that loads libcurl with
 * dlopen (agent__call_helper), so the agent itself never maps libcurl.
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"

/* One call, in the helper process: libcurl and its TLS stack (libcrypto
 * alone is 3 MiB resident) are never mapped in the agent itself. */
int agent__call_helper(const char *url, const char *body, const char *token, const char *ca,
                       int report_fd)
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
    if (ca)
        setopt(c, CURLOPT_CAINFO, ca);
    setopt(c, CURLOPT_WRITEDATA, sink);
    if (perform(c) == CURLE_OK)
        getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    snprintf(msg, sizeof msg, "%ld %s", status, err);
out:
    /* The process ends now: the kernel frees what libcurl held. */
    return write(report_fd, msg, strlen(msg)) > 0 ? 0 : 1;
}

/* POSTs body to url through a helper process; *status gets the HTTP
 * status (0: none), msg libcurl's error text. The token and the body (it
 * may hold the agent's token) go through the helper's stdin. */
static void register_once(const char *url, const char *body, const char *token, const char *ca,
                          long *status, char *msg, size_t msgsz)
{
    *status = 0;
    size_t tlen = token ? strlen(token) : 0, blen = strlen(body);
    char *input = malloc(tlen + 1 + blen);
    char buf[600];
    if (!input) {
        snprintf(msg, msgsz, "out of memory");
        return;
    }
    memcpy(input, token ? token : "", tlen);
    input[tlen] = '\0';
    memcpy(input + tlen + 1, body, blen);
    const char *args[] = {"call", url, ca, NULL};
    agent__helper_run(args, input, tlen + 1 + blen, -1, buf, sizeof buf);
    free(input);
    if (!buf[0]) {
        snprintf(msg, msgsz, "the registration process gave no answer (see the log)");
        return;
    }
    char *end;
    *status = strtol(buf, &end, 10);
    snprintf(msg, msgsz, "%s", *end == ' ' ? end + 1 : end);
}

/* Registers with the server, retrying with backoff until it answers
 * 200 (or 409: already registered at this URL) or the agent stops. */
void *agent__register_main(void *arg)
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
    /* https when this agent serves TLS: the server calls it back there. */
    snprintf(agent_url, sizeof agent_url, strchr(h, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
             a->s->tls_cert ? "https" : "http", h, (unsigned)rk_agent_port(a));
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
        register_once(url, text, a->s->server_token, a->s->ca_file, &status, msg, sizeof msg);
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

void agent__unregister(rk_agent_t *a)
{
    if (!a->s->register_with || a->s->exit_when_idle <= 0)
        return;
    char url[4096];
    snprintf(url, sizeof url, "%s/api/v1/agents/unregister", a->s->register_with);
    json_t *body = json_pack("{s:s}", "agent_id", a->id);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    long status = 0;
    char msg[600] = "out of memory", st[16];
    if (text)
        register_once(url, text, a->s->server_token, a->s->ca_file, &status, msg, sizeof msg);
    free(text);
    snprintf(st, sizeof st, "%ld", status);
    if (status == 200 || status == 404) /* 404: the server had forgotten it already */
        rk_log_info("unregistered from the server", "url", a->s->register_with, "status", st);
    else
        rk_log_warn("could not unregister from the server", "url", a->s->register_with, "status",
                    st, "error", msg);
}

/* True when a finished job of this run still holds a result the server
 * has not read, for at most 10 idle periods (a server that never asks must
 * not keep a Slurm allocation forever). mu held. */
static bool result_pending(const rk_agent_t *a, rk_time_t now)
{
    rk_time_t hold = (rk_time_t)(a->s->exit_when_idle * 10 * 1e6);
    for (int i = 0; i < a->n_recent; i++) {
        const job_t *j = a->recent[i];
        if (j && !j->collected && j->state != RK_JOB_CANCELLED && j->finished_at >= a->boot_wall &&
            now - j->finished_at < hold)
            return true;
    }
    return false;
}

void agent__idle_check(rk_agent_t *a, int64_t now_mono)
{
    if (a->s->exit_when_idle <= 0 || a->stopping || a->idle_exit_sent)
        return;
    if (a->active > 0 || result_pending(a, rk_time_now_us())) {
        a->idle_since_mono = 0;
        return;
    }
    if (!a->idle_since_mono) {
        a->idle_since_mono = now_mono;
        return;
    }
    if (now_mono - a->idle_since_mono < (int64_t)(a->s->exit_when_idle * 1e6))
        return;
    a->idle_exit_sent = true;
    char secs[32];
    snprintf(secs, sizeof secs, "%g", a->s->exit_when_idle);
    rk_log_info("idle: exiting (--exit-when-idle)", "idle_s", secs);
    /* The program's signal wait (base/signals.h) takes it and stops the
     * agent the way SIGTERM always does. */
    kill(getpid(), SIGTERM);
}
