/* Events between servers on one PostgreSQL: GET /api/v1/events on any of
 * them streams every change.
 *
 * Only the dispatcher's manager makes events. Its relay out taps its event
 * bus (events.c) and sends each event, in order and in batches of up to
 * BATCH per round trip, as a NOTIFY on channel CHANNEL from a connection
 * of its own (store/pg_bus.h); a standby's relay in LISTENs there and
 * publishes what arrives into its own bus, which its front streams. A
 * payload is "<type>\n<json>". Ids are each server's own: a client that
 * moves to another server with Last-Event-ID gets a gap frame and reloads
 * (events.c), as after any ring overrun.
 *
 * Events are not stored, so this is best effort with the losses said:
 * the relay out drops (and logs) what it cannot send while the database
 * is away or when QUEUE_MAX wait, and sends a "gap" in their place (after
 * what was queued before a drop; first thing once a failed send's
 * connection is back); a relay in whose connection went publishes a gap
 * when it is back. Either way the streams' readers know to reload.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "server/internal.h"
#include "store/pg_bus.h"

#define CHANNEL "ruckus_events"
#define BATCH 256
#define QUEUE_MAX 65536
#define BACKOFF_MAX_MS 2000
#define WAIT_MS 250

typedef struct item {
    struct item *next;
    char text[]; /* "<type>\n<json>" */
} item_t;

struct srv_relay {
    char *conninfo;
    bool out; /* sends; else listens into ev */
    rk_srv_events_t *ev;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    item_t *head, *tail; /* out: waiting to be sent, under lock */
    size_t queued;
    uint64_t dropped; /* under lock */
    bool gap_at_tail; /* the last item queued is a gap (under lock) */
    bool gap_owed;    /* a send failed: a gap goes first in the next (out thread) */
};

static const char GAP_DROPPED[] = "gap\n{\"reason\":\"events were dropped: more waited to be "
                                  "relayed than the queue holds\"}";
static const char GAP_BIG[] = "gap\n{\"reason\":\"an event over 8000 bytes was not relayed\"}";
static const char GAP_UNSENT[] = "gap\n{\"reason\":\"events could not be relayed while the "
                                 "database was away\"}";

static item_t *item_of(const char *text)
{
    size_t n = strlen(text) + 1;
    item_t *it = malloc(sizeof *it + n);
    if (it) {
        it->next = NULL;
        memcpy(it->text, text, n);
    }
    return it;
}

/* Appends it to r's queue. lock held. */
static void enqueue(srv_relay_t *r, item_t *it)
{
    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    r->queued++;
    pthread_cond_signal(&r->cond);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool stopping(srv_relay_t *r)
{
    pthread_mutex_lock(&r->lock);
    bool s = r->stop;
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* ---- out: the dispatcher's events to the others ---- */

void srv__relay_push(void *ud, const char *type, const char *json)
{
    srv_relay_t *r = ud;
    size_t tl = strlen(type), jl = strlen(json);
    bool big = tl + 1 + jl > RK_PG_BUS_PAYLOAD_MAX;
    item_t *it = malloc(sizeof *it + (big ? sizeof GAP_BIG : tl + jl + 2));
    if (!it)
        return;
    it->next = NULL;
    if (big)
        memcpy(it->text, GAP_BIG, sizeof GAP_BIG);
    else {
        memcpy(it->text, type, tl);
        it->text[tl] = '\n';
        memcpy(it->text + tl + 1, json, jl + 1);
    }
    pthread_mutex_lock(&r->lock);
    if (r->queued >= QUEUE_MAX) {
        /* Dropped; one gap after what waits (the queue's one extra item). */
        r->dropped++;
        free(it);
        item_t *gap = r->gap_at_tail ? NULL : item_of(GAP_DROPPED);
        if (gap) {
            enqueue(r, gap);
            r->gap_at_tail = true;
        }
    } else {
        enqueue(r, it);
        r->gap_at_tail = false;
    }
    pthread_mutex_unlock(&r->lock);
}

static void *out_main(void *arg)
{
    srv_relay_t *r = arg;
    rk_pg_bus_t *bus = NULL;
    int backoff = 100;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        while (!r->stop && !r->head)
            pthread_cond_wait(&r->cond, &r->lock);
        if (r->stop) {
            pthread_mutex_unlock(&r->lock);
            break;
        }
        item_t *batch = r->head, *last = r->head;
        size_t n = 1;
        while (n < BATCH && last->next) {
            last = last->next;
            n++;
        }
        r->head = last->next;
        if (!r->head)
            r->tail = NULL;
        last->next = NULL;
        r->queued -= n;
        if (!r->head)
            r->gap_at_tail = false;
        pthread_mutex_unlock(&r->lock);

        const char *texts[BATCH + 1];
        size_t k = 0;
        if (r->gap_owed)
            texts[k++] = GAP_UNSENT;
        for (item_t *it = batch; it; it = it->next)
            texts[k++] = it->text;
        int rc = bus ? 0 : rk_pg_bus_open(r->conninfo, CHANNEL, 0, &bus);
        if (!rc)
            rc = rk_pg_bus_send(bus, texts, k);
        for (item_t *it = batch, *next; it; it = next) {
            next = it->next;
            free(it);
        }
        if (rc) {
            char lost[24];
            snprintf(lost, sizeof lost, "%zu", n);
            rk_log_warn("events not relayed to the other servers", "events", lost, "error",
                        rk_strerror(rc));
            rk_pg_bus_close(bus);
            bus = NULL;
            r->gap_owed = true;
            sleep_ms(backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        } else {
            backoff = 100;
            r->gap_owed = false;
        }
    }
    rk_pg_bus_close(bus);
    return NULL;
}

/* ---- in: a standby's bus fed from the dispatcher's ---- */

static void on_payload(void *ud, const char *payload)
{
    srv_relay_t *r = ud;
    const char *nl = strchr(payload, '\n');
    size_t tl = nl ? (size_t)(nl - payload) : 0;
    char type[32];
    if (!nl || tl == 0 || tl >= sizeof type || strspn(payload, "abcdefghijklmnopqrstuvwxyz_") != tl)
        return; /* not ours */
    memcpy(type, payload, tl);
    type[tl] = '\0';
    json_t *data = json_loads(nl + 1, 0, NULL);
    if (data)
        rk_srv_events_publish(r->ev, type, data);
}

static void *in_main(void *arg)
{
    srv_relay_t *r = arg;
    rk_pg_bus_t *bus = NULL;
    int backoff = 100;
    bool lost = false;
    while (!stopping(r)) {
        if (!bus) {
            if (rk_pg_bus_open(r->conninfo, CHANNEL, 1, &bus) != 0) {
                sleep_ms(backoff);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            backoff = 100;
            if (lost) {
                rk_log_info("events from the dispatcher: listening again");
                rk_srv_events_publish(
                    r->ev, "gap",
                    json_pack("{s:s}", "reason",
                              "this server's connection to the database was cut; events of "
                              "the meantime were missed"));
            }
        }
        if (rk_pg_bus_wait(bus, WAIT_MS, on_payload, r) < 0) {
            rk_log_warn("events from the dispatcher: connection lost; listening again");
            rk_pg_bus_close(bus);
            bus = NULL;
            lost = true;
        }
    }
    rk_pg_bus_close(bus);
    return NULL;
}

/* ---- both ---- */

static int relay_new(const char *conninfo, bool out, rk_srv_events_t *ev, srv_relay_t **res)
{
    *res = NULL;
    srv_relay_t *r = calloc(1, sizeof *r);
    if (!r || !(r->conninfo = strdup(conninfo ? conninfo : ""))) {
        free(r);
        return RK_ENOMEM;
    }
    r->out = out;
    r->ev = ev;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, out ? out_main : in_main, r) != 0) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r->conninfo);
        free(r);
        return RK_ENOMEM;
    }
    *res = r;
    return 0;
}

int srv__relay_out_new(const char *conninfo, srv_relay_t **out)
{
    return relay_new(conninfo, true, NULL, out);
}

int srv__relay_in_new(const char *conninfo, rk_srv_events_t *ev, srv_relay_t **out)
{
    return relay_new(conninfo, false, ev, out);
}

void srv__relay_free(srv_relay_t *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    for (item_t *it = r->head, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    if (r->dropped) {
        char n[24];
        snprintf(n, sizeof n, "%llu", (unsigned long long)r->dropped);
        rk_log_warn("events dropped: more were waiting to be relayed than the queue holds",
                    "events", n);
    }
    if (r->conninfo)
        memset(r->conninfo, 0, strlen(r->conninfo));
    free(r->conninfo);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
