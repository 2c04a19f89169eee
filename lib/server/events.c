/* GET /api/v1/events: server-sent events of every job and agent change.
 *
 * The bus keeps the latest `ring` events in memory, each already formatted
 * as an SSE frame with its increasing id, so a client that reconnects with
 * Last-Event-ID (header, or ?last_event_id=) gets what it missed as long as
 * it is still in the ring; older gaps are announced with an `event: gap`
 * frame so the client knows to reload. Streams park (RK_HTTP_READ_WAIT)
 * when they are caught up and are woken by publish.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "server/internal.h"

typedef struct sse_stream sse_stream_t;

struct rk_srv_events {
    pthread_mutex_t lock;
    char **frames; /* ring; frame of id i at (i - 1) % ring */
    size_t ring;
    uint64_t last_id; /* ids start at 1 */
    sse_stream_t *streams;
    void (*tap)(void *ud, const char *type, const char *json); /* under lock */
    void *tap_ud;
};

struct sse_stream {
    rk_srv_events_t *ev;
    uint64_t sent_id; /* the last id copied into out */
    rk_buf_t out;
    size_t out_pos;
    rk_http_stream_t *handle;
    sse_stream_t *prev, *next;
};

int rk_srv_events_new(size_t ring, rk_srv_events_t **out)
{
    rk_srv_events_t *ev = calloc(1, sizeof *ev);
    if (!ev || !(ev->frames = calloc(ring, sizeof *ev->frames))) {
        free(ev);
        return RK_ENOMEM;
    }
    ev->ring = ring;
    pthread_mutex_init(&ev->lock, NULL);
    *out = ev;
    return 0;
}

void rk_srv_events_free(rk_srv_events_t *ev)
{
    if (!ev)
        return;
    for (size_t i = 0; i < ev->ring; i++)
        free(ev->frames[i]);
    free(ev->frames);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

void rk_srv_events_tap(rk_srv_events_t *ev,
                       void (*fn)(void *ud, const char *type, const char *json), void *ud)
{
    pthread_mutex_lock(&ev->lock);
    ev->tap = fn;
    ev->tap_ud = ud;
    pthread_mutex_unlock(&ev->lock);
}

void rk_srv_events_publish(rk_srv_events_t *ev, const char *type, json_t *data)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text)
        return;
    pthread_mutex_lock(&ev->lock);
    uint64_t id = ev->last_id + 1;
    rk_buf_t b;
    rk_buf_init(&b, strlen(text) + 128);
    if (rk_buf_printf(&b, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", id, type, text) == 0) {
        size_t slot = (size_t)((id - 1) % ev->ring);
        free(ev->frames[slot]);
        ev->frames[slot] = rk_buf_take(&b);
        ev->last_id = id;
        for (sse_stream_t *s = ev->streams; s; s = s->next)
            rk_http_stream_wake(s->handle);
        if (ev->tap) /* in id order: under the lock */
            ev->tap(ev->tap_ud, type, text);
    }
    rk_buf_cleanup(&b);
    pthread_mutex_unlock(&ev->lock);
    free(text);
}

/* Copies frames after s->sent_id into s->out (the lock is held). */
static void fill(sse_stream_t *s)
{
    rk_srv_events_t *ev = s->ev;
    uint64_t first = ev->last_id >= ev->ring ? ev->last_id - ev->ring + 1 : 1;
    if (s->sent_id + 1 < first) {
        rk_buf_printf(&s->out, "event: gap\ndata: {\"missed_before\":%" PRIu64 "}\n\n", first);
        s->sent_id = first - 1;
    }
    while (s->sent_id < ev->last_id && s->out.len < 256 * 1024) {
        const char *f = ev->frames[s->sent_id % ev->ring];
        if (rk_buf_adds(&s->out, f ? f : "") != 0)
            break;
        s->sent_id++;
    }
}

static ssize_t sse_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    sse_stream_t *s = ctx;
    if (s->out_pos >= s->out.len) {
        rk_buf_reset(&s->out);
        s->out_pos = 0;
        pthread_mutex_lock(&s->ev->lock);
        fill(s);
        pthread_mutex_unlock(&s->ev->lock);
        if (s->out.len == 0)
            return RK_HTTP_READ_WAIT;
    }
    size_t n = s->out.len - s->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, s->out.data + s->out_pos, n);
    s->out_pos += n;
    return (ssize_t)n;
}

static void sse_free(void *ctx)
{
    sse_stream_t *s = ctx;
    rk_srv_events_t *ev = s->ev;
    pthread_mutex_lock(&ev->lock);
    if (s->prev)
        s->prev->next = s->next;
    else if (ev->streams == s)
        ev->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&ev->lock);
    rk_http_stream_release(s->handle);
    rk_buf_cleanup(&s->out);
    free(s);
}

void rk_srv_h_events(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    rk_server_t *srv = ud;
    rk_srv_events_t *ev = srv->events;
    const char *last = rk_http_req_header(req, "Last-Event-ID");
    if (!last)
        last = rk_http_req_query(req, "last_event_id");
    sse_stream_t *s = calloc(1, sizeof *s);
    if (!s) {
        rk_http_resp_error(resp, 500, "out of memory");
        return;
    }
    s->ev = ev;
    rk_buf_init(&s->out, 1024 * 1024);
    pthread_mutex_lock(&ev->lock);
    s->sent_id = ev->last_id;
    pthread_mutex_unlock(&ev->lock);
    if (last && *last) {
        char *end;
        unsigned long long v = strtoull(last, &end, 10);
        if (*end || last[0] == '-') {
            rk_buf_cleanup(&s->out);
            free(s);
            rk_http_resp_error(resp, 422, "Last-Event-ID: expected a non-negative integer");
            return;
        }
        if (v < s->sent_id)
            s->sent_id = v;
    }
    /* A comment first, so the client sees the answer start at once. */
    rk_buf_adds(&s->out, ": ruckus events\n\n");
    rk_http_resp_header(resp, "Cache-Control", "no-cache");
    rk_http_stream_t *h = NULL;
    /* On failure s is already freed (sse_free). The first read comes after
     * this handler returns, so registering afterwards misses nothing. */
    if (rk_http_resp_stream(resp, 200, "text/event-stream", sse_read, sse_free, s, &h) != 0) {
        rk_http_resp_error(resp, 500, "could not start the event stream");
        return;
    }
    pthread_mutex_lock(&ev->lock);
    s->handle = h;
    s->next = ev->streams;
    if (ev->streams)
        ev->streams->prev = s;
    ev->streams = s;
    pthread_mutex_unlock(&ev->lock);
}
