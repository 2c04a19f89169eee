/* Webhooks (see webhooks.h): the outbox records the manager writes in its
 * batch, their hand-over to the delivery worker, and the worker: its
 * thread, the POSTs, retries with backoff, deletes, and the outbox scans.
 */
#include "server/webhooks.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/time.h"
#include "server/hmac.h"
#include "server/mgr.h"

/* A scan that could not read the outbox is tried again this much later. */
#define SCAN_RETRY_US 5000000
/* The worker wakes at least this often (a scan due, a stop asked). */
#define IDLE_WAIT_MS 1000
/* Deliveries are deleted together, at most this long after the first of
 * them: each delete transaction takes the store's write lock, which the
 * manager's next batch then waits for. */
#define DELETE_DELAY_US 100000

/* One outbox record in memory: an event for one URL. */
typedef struct hrec {
    char *key, *url, *event_id, *type, *body;
    int64_t created_us;      /* when the event happened (wall clock) */
    int attempts;            /* failed ones, this run */
    int64_t due_mono;        /* next attempt (waiting list) */
    rk_http_handle_t *h;     /* in flight */
    struct srv_hooks *hooks; /* for the answer's callback */
    struct hrec *prev, *next;
} hrec_t;

typedef struct hlist {
    hrec_t *head, *tail;
    size_t n;
} hlist_t;

struct srv_hooks {
    rk_store_t *store;
    char **urls;
    size_t n_urls;
    char *secret;
    size_t cap;
    int64_t give_up_us;
    rk_prom_family_t *m_delivered, *m_failed, *m_dropped, *m_depth;
    _Atomic int64_t depth; /* records in the store */

    /* The manager thread's: records of the open batch. */
    hlist_t pending;
    uint32_t seq;

    /* Shared, under lock. */
    pthread_mutex_t lock;
    hlist_t inbox;
    size_t held; /* records in memory: the inbox's and the worker's */
    bool rescan; /* some records are in the store only */

    /* The worker's. */
    rk_http_client_t *client;
    pthread_t thread;
    bool running;
    atomic_int stop;
    hlist_t ready, waiting, flying;
    int64_t scan_at; /* mono µs: no scan before */
    bool depth_known;
    char **del; /* keys of records to delete */
    size_t n_del, cap_del;
    int64_t del_at; /* mono µs: delete them then (or once a batch is full) */
};

/* ---- records ---- */

static void list_push(hlist_t *l, hrec_t *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static void list_unlink(hlist_t *l, hrec_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

static void list_append(hlist_t *to, hlist_t *from)
{
    if (!from->head)
        return;
    if (to->tail) {
        to->tail->next = from->head;
        from->head->prev = to->tail;
    } else {
        to->head = from->head;
    }
    to->tail = from->tail;
    to->n += from->n;
    *from = (hlist_t){0};
}

static void rec_free(hrec_t *r)
{
    if (!r)
        return;
    free(r->key);
    free(r->url);
    free(r->event_id);
    free(r->type);
    free(r->body);
    free(r);
}

static void list_free(hlist_t *l)
{
    while (l->head) {
        hrec_t *r = l->head;
        list_unlink(l, r);
        rec_free(r);
    }
}

static hrec_t *rec_new(const char *key, const char *url, const char *event_id, const char *type,
                       const char *body, int64_t created_us)
{
    hrec_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->key = strdup(key);
    r->url = strdup(url);
    r->event_id = strdup(event_id);
    r->type = strdup(type);
    r->body = strdup(body);
    r->created_us = created_us;
    if (!r->key || !r->url || !r->event_id || !r->type || !r->body) {
        rec_free(r);
        return NULL;
    }
    return r;
}

/* The stored form of r (malloc'd), or NULL on ENOMEM. */
static char *rec_encode(const hrec_t *r)
{
    json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:I}", "url", r->url, "event_id", r->event_id, "event",
                          r->type, "body", r->body, "created_us", (json_int_t)r->created_us);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return text;
}

/* The record stored under key as text, or NULL (unreadable: *bad set, or
 * ENOMEM). */
static hrec_t *rec_decode(const char *key, const char *text, bool *bad)
{
    *bad = false;
    json_t *v = json_loads(text, 0, NULL);
    const char *url = json_string_value(json_object_get(v, "url"));
    const char *id = json_string_value(json_object_get(v, "event_id"));
    const char *type = json_string_value(json_object_get(v, "event"));
    const char *body = json_string_value(json_object_get(v, "body"));
    json_t *created = json_object_get(v, "created_us");
    hrec_t *r = NULL;
    if (!url || !id || !type || !body || !json_is_integer(created))
        *bad = true;
    else
        r = rec_new(key, url, id, type, body, (int64_t)json_integer_value(created));
    json_decref(v);
    return r;
}

static bool url_configured(const srv_hooks_t *h, const char *url)
{
    for (size_t i = 0; i < h->n_urls; i++)
        if (strcmp(h->urls[i], url) == 0)
            return true;
    return false;
}

/* ---- the manager's side ---- */

bool srv__hooks_event_id(const char *type, const json_t *data, int64_t now_us, char *out, size_t n)
{
    int len = -1;
    if (strcmp(type, "job") == 0) {
        const char *id = json_string_value(json_object_get(data, "job_id"));
        const char *st =
            json_string_value(json_object_get(json_object_get(data, "status"), "status"));
        rk_job_state_t s;
        if (!id || !st || rk_job_state_parse(st, &s) || !rk_job_state_terminal(s))
            return false;
        /* Retried jobs (issue 12) carry their attempt: each attempt's end
         * is an event of its own. The first one's id is the plain one, the
         * same whether or not the JobInfo says attempt 1. */
        json_t *attempt = json_object_get(data, "attempt");
        if (json_is_integer(attempt) && json_integer_value(attempt) > 1)
            len = snprintf(out, n, "job.%s.%s.%" PRId64, id, st,
                           (int64_t)json_integer_value(attempt));
        else
            len = snprintf(out, n, "job.%s.%s", id, st);
    } else if (strcmp(type, "agent") == 0) {
        const char *id = json_string_value(json_object_get(data, "agent_id"));
        const char *ev = json_string_value(json_object_get(data, "event"));
        if (!id || !ev || (strcmp(ev, "available") != 0 && strcmp(ev, "unavailable") != 0))
            return false;
        /* An agent comes and goes many times: the change's time tells
         * them apart. */
        len = snprintf(out, n, "agent.%s.%s.%" PRId64, id, ev, now_us);
    }
    return len > 0 && (size_t)len < n;
}

/* What every URL gets for the event: the SSE event's data with its id,
 * type and time, so the signature covers all four. */
static char *event_body(const char *id, const char *type, const json_t *data, int64_t now_us)
{
    char at[RK_TIME_STRLEN];
    rk_time_format(now_us, at);
    json_t *v =
        json_pack("{s:s,s:s,s:s,s:O}", "id", id, "type", type, "created_at", at, "data", data);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return text;
}

/* Writes the outbox records of event (type, data), one per URL, in the
 * caller's transaction; each is appended to keep, or freed when keep is
 * NULL (the start's scan reads them). Nothing to send: 0, nothing written.
 * Else 0, or the store's error or RK_ENOMEM (logged; some may be written:
 * the caller's transaction must not commit). */
static int put_records(srv_hooks_t *h, rk_store_t *store, const char *type, const json_t *data,
                       hlist_t *keep)
{
    int64_t now = rk_time_now_us();
    char id[512];
    if (!srv__hooks_event_id(type, data, now, id, sizeof id))
        return 0;
    char *body = event_body(id, type, data, now);
    int rc = body ? 0 : RK_ENOMEM;
    for (size_t i = 0; !rc && i < h->n_urls; i++) {
        char key[64];
        snprintf(key, sizeof key, "%016" PRIx64 ".%08" PRIx32 ".%zu", (uint64_t)now, h->seq++, i);
        hrec_t *r = rec_new(key, h->urls[i], id, type, body, now);
        char *text = r ? rec_encode(r) : NULL;
        rc = text ? rk_store_doc_put(store, SRV_HOOKS_DOC, key, text) : RK_ENOMEM;
        free(text);
        if (rc || !keep)
            rec_free(r);
        else
            list_push(keep, r);
    }
    free(body);
    if (rc)
        rk_log_error("storing a webhook event failed", "event_id", id, "error", rk_strerror(rc));
    return rc;
}

void srv__hooks_event(rk_srv_mgr_t *m, const char *type, const json_t *data)
{
    char id[512];
    if (!m->hooks || !srv__hooks_event_id(type, data, 0, id, sizeof id))
        return;      /* not one webhooks send: no transaction opened for it */
    if (srv__txn(m)) /* a failed batch: no change, no event */
        return;
    /* A change without its event must not commit: the batch fails. */
    srv__batch_error(m, put_records(m->hooks, m->store, type, data, &m->hooks->pending));
}

int srv__hooks_job_status(srv_hooks_t *h, rk_store_t *store, const char *job_id,
                          const rk_job_status_t *st)
{
    if (!h)
        return rk_store_job_set_status(store, job_id, st);
    int rc = rk_store_begin(store);
    if (rc)
        return rc;
    rc = rk_store_job_set_status(store, job_id, st);
    rk_job_info_t info = {0};
    if (!rc)
        rc = rk_store_job_get(store, job_id, false, &info);
    json_t *data = rc ? NULL : rk_job_info_encode(&info);
    if (!rc)
        rc = data ? put_records(h, store, "job", data, NULL) : RK_ENOMEM;
    json_decref(data);
    rk_job_info_cleanup(&info);
    if (!rc)
        return rk_store_commit(store);
    rk_store_rollback(store);
    return rc;
}

void srv__hooks_committed(srv_hooks_t *h, bool ok)
{
    if (!h || !h->pending.head)
        return;
    if (!ok) {
        list_free(&h->pending); /* rolled back with the batch */
        return;
    }
    atomic_fetch_add(&h->depth, (int64_t)h->pending.n);
    pthread_mutex_lock(&h->lock);
    while (h->pending.head) {
        hrec_t *r = h->pending.head;
        list_unlink(&h->pending, r);
        if (h->held < h->cap) {
            list_push(&h->inbox, r);
            h->held++;
        } else { /* full: the record waits in the store for a scan */
            h->rescan = true;
            rec_free(r);
        }
    }
    pthread_mutex_unlock(&h->lock);
    rk_http_client_wakeup(h->client);
}

size_t srv__hooks_held(srv_hooks_t *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->held;
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---- the worker ---- */

/* A record leaves memory (delivered, dropped): room for another. */
static void rec_done(srv_hooks_t *h, hrec_t *r)
{
    rec_free(r);
    pthread_mutex_lock(&h->lock);
    h->held--;
    pthread_mutex_unlock(&h->lock);
}

/* Queues the deletion of key (the next flush_deletes does it). */
static void delete_later(srv_hooks_t *h, const char *key)
{
    if (h->n_del == h->cap_del) {
        size_t cap = h->cap_del ? h->cap_del * 2 : 64;
        char **v = realloc(h->del, cap * sizeof *v);
        if (!v)
            return; /* kept: sent again after a restart, which is allowed */
        h->del = v;
        h->cap_del = cap;
    }
    char *k = strdup(key);
    if (!k)
        return;
    if (!h->n_del)
        h->del_at = rk_time_mono_us() + DELETE_DELAY_US;
    h->del[h->n_del++] = k;
}

/* Deletes the delivered and dropped records, a transaction per
 * SRV_HOOKS_DELETE_BATCH; what fails stays queued for the next call. */
static void flush_deletes(srv_hooks_t *h)
{
    while (h->n_del) {
        size_t n = h->n_del < SRV_HOOKS_DELETE_BATCH ? h->n_del : SRV_HOOKS_DELETE_BATCH;
        size_t first = h->n_del - n;
        int rc = rk_store_begin(h->store);
        bool open = rc == 0;
        for (size_t i = first; !rc && i < h->n_del; i++) {
            rc = rk_store_doc_delete(h->store, SRV_HOOKS_DOC, h->del[i]);
            if (rc == RK_ENOENT) /* another server's scan delivered it too */
                rc = 0;
        }
        if (!rc)
            rc = rk_store_commit(h->store);
        else if (open)
            rk_store_rollback(h->store);
        if (rc) {
            rk_log_error("deleting delivered webhook events failed; trying again", "error",
                         rk_strerror(rc));
            h->del_at = rk_time_mono_us() + SCAN_RETRY_US;
            return;
        }
        for (size_t i = first; i < h->n_del; i++)
            free(h->del[i]);
        h->n_del = first;
        atomic_fetch_sub(&h->depth, (int64_t)n);
    }
}

static void take_inbox(srv_hooks_t *h)
{
    pthread_mutex_lock(&h->lock);
    hlist_t in = h->inbox;
    h->inbox = (hlist_t){0};
    pthread_mutex_unlock(&h->lock);
    int64_t now = rk_time_mono_us();
    for (hrec_t *r = in.head; r; r = r->next)
        r->due_mono = now;
    list_append(&h->ready, &in);
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds to the ready list the outbox's records not in memory yet, oldest
 * first, while there is room. initial: the one at start (always
 * logged). The first successful scan also sets the depth gauge. */
static void scan(srv_hooks_t *h, bool initial)
{
    flush_deletes(h); /* delivered ones must not come back */
    char **ids = NULL, **texts = NULL;
    size_t n = 0;
    int rc = h->n_del ? RK_EIO : rk_store_doc_list(h->store, SRV_HOOKS_DOC, &ids, &texts, &n);
    if (rc) {
        rk_log_error("reading the webhook outbox failed; trying again", "error", rk_strerror(rc));
        rk_store_docs_free(ids, texts, n);
        pthread_mutex_lock(&h->lock);
        h->rescan = true;
        pthread_mutex_unlock(&h->lock);
        h->scan_at = rk_time_mono_us() + SCAN_RETRY_US;
        return;
    }
    if (!h->depth_known) /* the first scan, before the manager writes any */
        atomic_store(&h->depth, (int64_t)n);
    h->depth_known = true;
    take_inbox(h); /* committed meanwhile: in memory already */
    size_t nk = h->ready.n + h->waiting.n + h->flying.n, k = 0;
    char **keys = malloc((nk ? nk : 1) * sizeof *keys);
    if (!keys) {
        rk_store_docs_free(ids, texts, n);
        h->scan_at = rk_time_mono_us() + SCAN_RETRY_US;
        return;
    }
    const hlist_t *lists[] = {&h->ready, &h->waiting, &h->flying};
    for (size_t l = 0; l < 3; l++)
        for (hrec_t *r = lists[l]->head; r; r = r->next)
            keys[k++] = r->key;
    qsort(keys, nk, sizeof *keys, key_cmp);
    size_t loaded = 0, skipped = 0;
    bool full = false;
    pthread_mutex_lock(&h->lock);
    h->rescan = false;
    pthread_mutex_unlock(&h->lock);
    int64_t now = rk_time_mono_us();
    for (size_t i = 0; i < n; i++) {
        if (bsearch(&ids[i], keys, nk, sizeof *keys, key_cmp))
            continue;
        pthread_mutex_lock(&h->lock);
        full = h->held >= h->cap;
        if (!full)
            h->held++; /* reserved for this one */
        pthread_mutex_unlock(&h->lock);
        if (full)
            break;
        bool bad = false;
        hrec_t *r = rec_decode(ids[i], texts[i], &bad);
        if (r && url_configured(h, r->url)) {
            r->due_mono = now;
            list_push(&h->ready, r);
            loaded++;
            continue;
        }
        /* Not ours to send any more (a URL no longer configured, or an
         * unreadable record): dropped, counted and logged. */
        if (r || bad) {
            rk_log_warn("webhook event dropped", "key", ids[i], "reason",
                        bad ? "unreadable outbox record" : "its URL is no longer configured");
            rk_prom_add(h->m_dropped, NULL, 1);
            delete_later(h, ids[i]);
            rec_free(r);
        } else {
            full = true; /* no memory: the next scan tries again */
        }
        skipped++;
        rec_done(h, NULL); /* the reservation */
        if (full)
            break;
    }
    if (full) {
        pthread_mutex_lock(&h->lock);
        h->rescan = true;
        pthread_mutex_unlock(&h->lock);
    }
    free(keys);
    rk_store_docs_free(ids, texts, n);
    if (loaded || skipped || initial) {
        char nl[24], nn[24];
        snprintf(nl, sizeof nl, "%zu", loaded);
        snprintf(nn, sizeof nn, "%zu", n);
        rk_log_info("webhook outbox read", "records", nn, "loaded", nl);
    }
}

static int64_t backoff_ms(int attempts)
{
    int64_t d = SRV_HOOKS_BACKOFF_MIN_MS;
    for (int i = 1; i < attempts && d < SRV_HOOKS_BACKOFF_MAX_MS; i++)
        d *= 2;
    return d < SRV_HOOKS_BACKOFF_MAX_MS ? d : SRV_HOOKS_BACKOFF_MAX_MS;
}

/* An attempt failed (why: for the log): again after the backoff, or
 * dropped past the give-up age. */
static void attempt_failed(srv_hooks_t *h, hrec_t *r, const char *why)
{
    rk_prom_add(h->m_failed, NULL, 1);
    r->attempts++;
    char n[16];
    snprintf(n, sizeof n, "%d", r->attempts);
    if (rk_time_now_us() - r->created_us >= h->give_up_us) {
        rk_log_error("webhook event dropped: undelivered past the give-up age", "event_id",
                     r->event_id, "url", r->url, "attempts", n, "reason", why);
        rk_prom_add(h->m_dropped, NULL, 1);
        delete_later(h, r->key);
        rec_done(h, r);
        return;
    }
    int64_t wait = backoff_ms(r->attempts);
    char in[24];
    snprintf(in, sizeof in, "%.1f", (double)wait / 1000);
    rk_log_warn("webhook delivery failed", "event_id", r->event_id, "url", r->url, "attempt", n,
                "reason", why, "retry_in_s", in);
    r->due_mono = rk_time_mono_us() + wait * 1000;
    list_push(&h->waiting, r);
}

static void on_answer(const rk_http_response_t *resp, void *ud)
{
    hrec_t *r = ud;
    srv_hooks_t *h = r->hooks;
    list_unlink(&h->flying, r);
    r->h = NULL;
    /* A 2xx is a delivery, whatever the receiver's body (one over the cap
     * included: only logged anyway). */
    if ((resp->err == 0 || resp->err == RK_ETOOBIG) && resp->status >= 200 && resp->status < 300) {
        rk_prom_add(h->m_delivered, NULL, 1);
        rk_log_debug("webhook delivered", "event_id", r->event_id, "url", r->url);
        delete_later(h, r->key);
        rec_done(h, r);
        return;
    }
    char why[320];
    if (resp->err)
        snprintf(why, sizeof why, "%s", resp->msg[0] ? resp->msg : rk_strerror(resp->err));
    else
        snprintf(why, sizeof why, "HTTP %ld", resp->status);
    attempt_failed(h, r, why);
}

/* POSTs r: into the flying list, or back to waiting when it cannot. */
static void send_one(srv_hooks_t *h, hrec_t *r)
{
    char hid[600], htype[80], hsig[32 + RK_HMAC_SHA256_HEX];
    const char *headers[4] = {hid, htype, NULL, NULL};
    snprintf(hid, sizeof hid, "X-Ruckus-Event-Id: %s", r->event_id);
    snprintf(htype, sizeof htype, "X-Ruckus-Event: %s", r->type);
    size_t len = strlen(r->body);
    pthread_mutex_lock(&h->lock); /* a SIGHUP may swap the secret */
    if (h->secret) {
        char hex[RK_HMAC_SHA256_HEX + 1];
        rk_srv_hmac_sha256_hex(h->secret, strlen(h->secret), r->body, len, hex);
        snprintf(hsig, sizeof hsig, "X-Ruckus-Signature: sha256=%s", hex);
        headers[2] = hsig;
    }
    pthread_mutex_unlock(&h->lock);
    rk_http_request_t req = {.method = "POST",
                             .url = r->url,
                             .body = r->body,
                             .body_len = len,
                             .content_type = "application/json",
                             .headers = headers,
                             .timeout_ms = SRV_HOOKS_TIMEOUT_MS,
                             .max_body = SRV_HOOKS_MAX_ANSWER};
    r->hooks = h;
    int rc = rk_http_client_submit(h->client, &req, on_answer, r, &r->h);
    if (rc) {
        attempt_failed(h, r, rk_strerror(rc));
        return;
    }
    list_push(&h->flying, r);
}

/* Starts what is due; returns how long the loop may wait (ms). */
static int send_due(srv_hooks_t *h)
{
    int64_t now = rk_time_mono_us(), next = now + (int64_t)IDLE_WAIT_MS * 1000;
    for (hrec_t *r = h->waiting.head, *nx; r; r = nx) {
        nx = r->next;
        if (r->due_mono <= now) {
            list_unlink(&h->waiting, r);
            list_push(&h->ready, r);
        } else if (r->due_mono < next) {
            next = r->due_mono;
        }
    }
    while (h->ready.head && h->flying.n < SRV_HOOKS_INFLIGHT) {
        hrec_t *r = h->ready.head;
        list_unlink(&h->ready, r);
        send_one(h, r);
    }
    if (h->ready.head && h->flying.n < SRV_HOOKS_INFLIGHT)
        return 0;
    int64_t ms = (next - now + 999) / 1000;
    return ms < 0 ? 0 : ms > IDLE_WAIT_MS ? IDLE_WAIT_MS : (int)ms;
}

static void *worker(void *arg)
{
    srv_hooks_t *h = arg;
    while (!atomic_load(&h->stop)) {
        take_inbox(h);
        pthread_mutex_lock(&h->lock);
        bool want = h->rescan && h->held <= h->cap / 2;
        pthread_mutex_unlock(&h->lock);
        if (want && rk_time_mono_us() >= h->scan_at)
            scan(h, false);
        int wait = send_due(h);
        if (h->n_del && (h->n_del >= SRV_HOOKS_DELETE_BATCH || rk_time_mono_us() >= h->del_at))
            flush_deletes(h);
        if (h->n_del) {
            int64_t ms = (h->del_at - rk_time_mono_us() + 999) / 1000;
            if (ms < wait)
                wait = ms < 0 ? 0 : (int)ms;
        }
        if (rk_http_client_run_once(h->client, wait) < 0)
            rk_log_error("webhooks: client loop failed");
    }
    return NULL;
}

/* GET /metrics: the outbox's depth as it stands. */
static void collect(rk_prom_t *p, void *ud)
{
    (void)p;
    srv_hooks_t *h = ud;
    rk_prom_set(h->m_depth, NULL, (double)atomic_load(&h->depth));
}

/* ---- life ---- */

static void secret_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

int srv__hooks_set_secret(srv_hooks_t *h, const char *secret)
{
    char *copy = secret && *secret ? strdup(secret) : NULL;
    if (secret && *secret && !copy)
        return RK_ENOMEM;
    pthread_mutex_lock(&h->lock);
    char *old = h->secret;
    h->secret = copy;
    pthread_mutex_unlock(&h->lock);
    secret_free(old);
    return 0;
}

int srv__hooks_new(rk_store_t *store, rk_prom_t *metrics, const srv_hooks_config_t *cfg,
                   srv_hooks_t **out)
{
    *out = NULL;
    if (!cfg->n_urls)
        return 0;
    srv_hooks_t *h = calloc(1, sizeof *h);
    if (!h)
        return RK_ENOMEM;
    pthread_mutex_init(&h->lock, NULL);
    h->store = store;
    h->cap = cfg->queue ? cfg->queue : SRV_HOOKS_QUEUE;
    h->give_up_us = (cfg->give_up_s ? cfg->give_up_s : SRV_HOOKS_GIVE_UP_S) * 1000000;
    h->urls = calloc(cfg->n_urls, sizeof *h->urls);
    int rc = RK_ENOMEM;
    if (!h->urls)
        goto fail;
    for (h->n_urls = 0; h->n_urls < cfg->n_urls; h->n_urls++)
        if (!(h->urls[h->n_urls] = strdup(cfg->urls[h->n_urls])))
            goto fail;
    if (cfg->secret && *cfg->secret && !(h->secret = strdup(cfg->secret)))
        goto fail;
    h->m_delivered =
        rk_prom_family(metrics, "ruckus_webhook_delivered_total",
                       "Webhook events a receiver accepted (2xx)", RK_PROM_COUNTER, NULL, NULL, 0);
    h->m_failed = rk_prom_family(metrics, "ruckus_webhook_failed_attempts_total",
                                 "Webhook POSTs that failed (no answer or not 2xx): retried",
                                 RK_PROM_COUNTER, NULL, NULL, 0);
    h->m_dropped = rk_prom_family(
        metrics, "ruckus_webhook_dropped_total",
        "Webhook events given up (undelivered past the give-up age, or their URL removed)",
        RK_PROM_COUNTER, NULL, NULL, 0);
    h->m_depth = rk_prom_family(metrics, "ruckus_webhook_outbox_depth",
                                "Webhook events stored and not delivered yet (one per URL)",
                                RK_PROM_GAUGE, NULL, NULL, 0);
    if (!h->m_delivered || !h->m_failed || !h->m_dropped || !h->m_depth)
        goto fail;
    /* Counters start at 0 in the scrape rather than appearing later. */
    rk_prom_add(h->m_delivered, NULL, 0);
    rk_prom_add(h->m_failed, NULL, 0);
    rk_prom_add(h->m_dropped, NULL, 0);
    rk_http_client_opts_t o = {.max_host_connections = 0};
    if ((rc = rk_http_client_new(&o, &h->client)))
        goto fail;
    /* Last: the registry keeps h from here on (it outlives no scrape: the
     * HTTP server stops before the hooks are freed). */
    if ((rc = rk_prom_collector(metrics, collect, h)))
        goto fail;
    if (!h->secret)
        rk_log_warn("webhooks are not signed: no --webhook-secret");
    *out = h;
    return 0;
fail:
    srv__hooks_free(h);
    return rc;
}

int srv__hooks_start(srv_hooks_t *h)
{
    if (!h)
        return 0;
    scan(h, true);
    atomic_store(&h->stop, 0);
    if (pthread_create(&h->thread, NULL, worker, h) != 0)
        return RK_EIO;
    h->running = true;
    return 0;
}

void srv__hooks_free(srv_hooks_t *h)
{
    if (!h)
        return;
    if (h->running) {
        atomic_store(&h->stop, 1);
        rk_http_client_wakeup(h->client);
        pthread_join(h->thread, NULL);
        h->running = false;
    }
    /* Requests in flight go without their callbacks: their records stay in
     * the store for the next start. */
    rk_http_client_free(h->client);
    flush_deletes(h);
    for (size_t i = 0; i < h->n_del; i++)
        free(h->del[i]);
    free(h->del);
    list_free(&h->pending);
    list_free(&h->inbox);
    list_free(&h->ready);
    list_free(&h->waiting);
    list_free(&h->flying);
    for (size_t i = 0; h->urls && i < h->n_urls; i++)
        free(h->urls[i]);
    free(h->urls);
    secret_free(h->secret);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
