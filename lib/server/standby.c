/* One dispatching server per database, the others standing by.
 *
 * Several ruckus-servers may share one PostgreSQL database. The job
 * manager keeps every unfinished job in memory and dispatches from there,
 * so exactly one of them may run it: the one whose store holds the
 * database's dispatch lock (rk_store_lead; lib/store/pg_lease.c has the
 * fence). The others wait here, before their manager is built and before
 * they listen for themselves, asking again every STANDBY_POLL_MS;
 * meanwhile they answer what they are asked by forwarding it to the
 * dispatcher (front.c), so a load balancer may send anything anywhere. When the dispatcher
 * dies (kill -9, its host gone) PostgreSQL ends its session, a standby
 * that has seen the lock free for TAKEOVER_GRACE_MS takes it, and builds
 * its manager from the store as any restart does: queued jobs back in their queues, assigned and
 * running ones asked of their agents.
 *
 * A dispatcher cut off from the database long enough for a standby to
 * take over (or frozen meanwhile) is fenced by its store (no write of it
 * lands) and told through dispatch_lost, at its next write or within a
 * second (srv__lead_tick): it stops as on SIGTERM and exits 3 (server/main.c), and
 * whatever restarts it finds it standing by.
 *
 * SQLite and memory have no lead slot: one server per database file (the
 * file lock, server.c), always granted.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "server/internal.h"
#include "server/mgr.h"

/* How often the dispatcher confirms it still holds the lock. */
#define CONFIRM_US 1000000
/* How long a standby sees the lock free before it takes it: longer than
 * the dispatcher needs to take it back after its session was cut (its
 * reconnect backoff, 2 s at most, plus this once-a-second confirmation),
 * so a database restart does not hand dispatch over. A kill -9 costs it;
 * a server that never saw the lock held (starting alone) does not wait. */
#define TAKEOVER_GRACE_MS 5000
/* How often a standby asks for the dispatch lock. */
#define STANDBY_POLL_MS 500
#define STR_(x) #x
#define STR(x) STR_(x)

static void dispatch_lost(void *arg)
{
    rk_server_t *srv = arg;
    if (atomic_exchange(&srv->fenced, true))
        return;
    rk_log_error("another ruckus-server took dispatch over while this one was cut off from the "
                 "database: stopping");
    kill(getpid(), SIGTERM); /* main's sigwait sees it: the usual stop */
}

/* A SIGHUP while standing by: the front's tokens and TLS files. */
static void reload_front(rk_server_t *srv, const rk_server_settings_t *s)
{
    rk_http_server_t *http = srv__front_http(srv->front);
    if (s->token_file || s->read_token_file)
        srv__reload_tokens_on(http, s);
    else
        rk_log_info("SIGHUP: no token file to re-read");
    if (s->tls_cert) /* logs a failure itself, keeping the old one */
        rk_http_server_reload_tls(http, s->tls_cert, s->tls_key);
}

int srv__take_dispatch(rk_server_t *srv, const rk_server_settings_t *s, const rk_http_config_t *hc)
{
    bool said = false;
    for (;;) {
        int rc = rk_store_lead(srv->store, TAKEOVER_GRACE_MS, dispatch_lost, srv);
        if (rc == 0) {
            if (said)
                rk_log_info("dispatch lock taken: this server dispatches now");
            return 0;
        }
        if (rc != RK_EBUSY && rc != RK_ECONN && rc != RK_EIO)
            return rc;
        if (!said)
            rk_log_info("standing by: another ruckus-server dispatches for this database; this "
                        "one forwards what it is asked to it and takes over when it stops",
                        "poll_ms", STR(STANDBY_POLL_MS));
        said = true;
        if (!srv->front && (rc = srv__front_new(hc, srv, &srv->front))) {
            rk_log_error("standby: cannot listen", "error", rk_strerror(rc));
            return rc;
        }
        srv__front_refresh(srv->front);
        /* Waits, or takes a signal (blocked in every thread, see
         * base/signals.h): a stop, or SIGHUP for the front. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        struct timespec ts = {0, STANDBY_POLL_MS * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            rk_log_info("stopped while standing by", "signal",
                        sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return RK_ESTATE;
        }
        if (sig == SIGHUP)
            reload_front(srv, s);
    }
}

bool rk_server_fenced(const rk_server_t *srv)
{
    return srv && atomic_load(&srv->fenced);
}

void srv__lead_tick(rk_srv_mgr_t *m, int64_t now)
{
    if (now - m->lead_checked_us < CONFIRM_US)
        return;
    m->lead_checked_us = now;
    rk_store_lead(m->store, 0, dispatch_lost, m->srv); /* a loss calls dispatch_lost */
}

/* "http://host:port" of this server as others reach it. */
static void advertise_url(rk_server_t *srv, char *out, size_t size)
{
    if (srv->advertise && *srv->advertise) {
        snprintf(out, size, "%s", srv->advertise);
        return;
    }
    char name[256];
    const char *host = srv->host;
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0) {
        if (gethostname(name, sizeof name) != 0)
            snprintf(name, sizeof name, "localhost");
        name[sizeof name - 1] = '\0';
        host = name;
    }
    bool v6 = strchr(host, ':') && host[0] != '[';
    snprintf(out, size, "%s://%s%s%s:%u", srv->tls ? "https" : "http", v6 ? "[" : "", host,
             v6 ? "]" : "", rk_server_port(srv));
}

void srv__publish_dispatcher(rk_server_t *srv)
{
    if (!srv->shared)
        return;
    char url[600];
    advertise_url(srv, url, sizeof url);
    json_t *v = json_pack("{s:s,s:I,s:I}", "url", url, "pid", (json_int_t)getpid(), "since",
                          (json_int_t)time(NULL));
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    int rc = text ? rk_store_doc_put(srv->store, RK_SRV_DISPATCHER_DOC, RK_SRV_DISPATCHER_KEY, text)
                  : RK_ENOMEM;
    free(text);
    if (rc)
        rk_log_warn("could not tell the standbys where this dispatcher listens", "error",
                    rk_strerror(rc));
    else
        rk_log_info("dispatcher URL published for the standbys", "url", url);
}
