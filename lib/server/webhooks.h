/* Webhooks: each job's terminal status and each agent becoming unavailable
 * or available again, POSTed to the URLs of --webhook (docs/webhooks.md).
 *
 * Durable, at-least-once. The manager thread writes one outbox record per
 * event and URL (a store document of kind SRV_HOOKS_DOC) in the very batch
 * that stores the change, so the event exists exactly when the change does;
 * after the commit it hands the records to the delivery worker, a thread of
 * its own with its own libcurl client. The worker POSTs each record, deletes
 * it after a 2xx, and retries anything else with exponential backoff (1 s
 * doubling up to SRV_HOOKS_BACKOFF_MAX_MS) until SRV_HOOKS_GIVE_UP_S after
 * the event, when the record is dropped (counted and logged). At start the
 * outbox is read back, so a kill -9 loses nothing; a record may then be
 * sent twice, always with the same event id.
 *
 * The hand-over never blocks the manager: records wait in a bounded queue
 * (SRV_HOOKS_QUEUE records in memory, in flight and waiting to retry
 * included); when it is full a record stays only in the store and a later
 * scan of the outbox picks it up once the worker has room again.
 *
 * Threads: srv__hooks_event and srv__hooks_committed are the manager
 * thread's; new, start and free are the server's (before the manager
 * starts, after it stopped); everything else runs on the worker.
 */
#ifndef RK_SERVER_WEBHOOKS_H
#define RK_SERVER_WEBHOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include "server/internal.h"

/* The outbox: store documents of this kind, keyed by a sortable id (the
 * event's time in hex, then a counter and the URL's index), holding
 * {url, event_id, event, body, created_us}; body is the exact text sent
 * and signed, so a redelivery is byte for byte the first one. */
#define SRV_HOOKS_DOC "webhook_outbox"
/* Records held in memory at most (queued, in flight, waiting to retry):
 * a receiver down for an hour costs the store, not the server's memory. */
#define SRV_HOOKS_QUEUE 4096
/* POSTs in flight at once, over every URL: a slow receiver is waited on
 * in parallel, not one event after the other. */
#define SRV_HOOKS_INFLIGHT 8
/* One attempt, connect to the receiver's last byte. */
#define SRV_HOOKS_TIMEOUT_MS 10000
/* Backoff after a failed attempt: 1 s, doubling per attempt, capped. */
#define SRV_HOOKS_BACKOFF_MIN_MS 1000
#define SRV_HOOKS_BACKOFF_MAX_MS 300000
/* An event still undelivered this long after it happened is dropped. */
#define SRV_HOOKS_GIVE_UP_S 3600
/* Delivered records deleted by one store transaction of the worker. */
#define SRV_HOOKS_DELETE_BATCH 256
/* The answer body kept of a receiver (only logged). */
#define SRV_HOOKS_MAX_ANSWER 4096

typedef struct srv_hooks srv_hooks_t;

typedef struct srv_hooks_config {
    const char *const *urls; /* http(s) URLs, validated by the settings */
    size_t n_urls;           /* 0: no webhooks (srv__hooks_new gives NULL) */
    const char *secret;      /* HMAC key; NULL or "": no signature header */
    /* Test hooks (0: the constants above): the queue's bound and the
     * give-up age, from RUCKUS_TEST_WEBHOOK_QUEUE and
     * RUCKUS_TEST_WEBHOOK_GIVE_UP_S. */
    size_t queue;
    int64_t give_up_s;
} srv_hooks_config_t;

/* Makes the webhooks of cfg (copied) over store (borrowed; it must outlive
 * the hooks), with their counters in metrics. *out is NULL when cfg has no
 * URL: nothing is ever written then. RK_ENOMEM (nothing made). */
int srv__hooks_new(rk_store_t *store, rk_prom_t *metrics, const srv_hooks_config_t *cfg,
                   srv_hooks_t **out);
/* Reads the outbox back (what a previous run left undelivered) and starts
 * the worker; before the manager starts. RK_EIO when the thread cannot
 * start; a store that cannot be read is logged and scanned again later. */
int srv__hooks_start(srv_hooks_t *h);
/* Stops the worker (requests in flight are dropped: their records stay in
 * the store for the next start) and frees h; after the manager stopped.
 * NULL: no-op. */
void srv__hooks_free(srv_hooks_t *h);

/* Manager thread, from srv__event: when (type, data) is an event webhooks
 * send, writes its outbox records in the batch (srv__txn; a failed write
 * fails the batch) and keeps them for srv__hooks_committed. data is
 * borrowed. */
void srv__hooks_event(rk_srv_mgr_t *m, const char *type, const json_t *data);
/* Manager thread, from srv__flush: the batch committed (ok) or not. The
 * records it wrote go to the worker, or are forgotten with the batch.
 * Never blocks on the worker. */
void srv__hooks_committed(srv_hooks_t *h, bool ok);

/* Signs from now on with secret (copied; NULL or "": unsigned), e.g. the
 * --webhook-secret-file re-read on SIGHUP; the old one is wiped. Any
 * thread. RK_ENOMEM (the old one kept). */
int srv__hooks_set_secret(srv_hooks_t *h, const char *secret);

/* Records held in memory now (handed over and not yet delivered or
 * dropped); for tests. Any thread. */
size_t srv__hooks_held(srv_hooks_t *h);

/* Stores st as job_id's status outside the manager's batches (restart
 * recovery, before the manager and the hooks start), with the webhook
 * event of that status in the same transaction; h NULL: the status only.
 * 0, or the store's error (nothing stored). */
int srv__hooks_job_status(srv_hooks_t *h, rk_store_t *store, const char *job_id,
                          const rk_job_status_t *st);

/* The stable id of an event webhooks send into out[n] ("job.<job_id>.
 * <status>", with ".<attempt>" when the JobInfo says attempt 2 or more; "agent.
 * <agent_id>.<available|unavailable>.<µs>" with the time of the change),
 * or false for an event they do not send. */
bool srv__hooks_event_id(const char *type, const json_t *data, int64_t now_us, char *out, size_t n);

#endif
