/* HTTP client over a libcurl multi handle, for talking to agents and servers.
 *
 * One client serves many requests at once from ONE thread (the owner): the
 * server's job manager keeps hundreds of dispatches, long polls and result
 * fetches in flight while it loops on rk_http_client_run_once(). The CLI and
 * other simple callers use rk_http_client_request_sync() instead.
 *
 * Threading contract
 *   - The owner thread is the thread that calls rk_http_client_run_once().
 *     rk_http_client_submit(), rk_http_client_cancel() and
 *     rk_http_client_free() must be called on it (or before the loop starts /
 *     after it ends); they take no locks.
 *   - rk_http_client_wakeup() and rk_http_client_post_task() may be called
 *     from any thread. Other threads hand work to the owner with post_task:
 *     the task runs on the owner thread inside the next run_once, where it
 *     may submit or cancel requests. This is the only way in; there is no
 *     locked request inbox, because callers need the request handle (to
 *     cancel a long poll) on the thread that owns it anyway.
 *   - Completion callbacks run on the owner thread inside run_once. They may
 *     submit new requests and cancel other ones, but must not free the
 *     client.
 *
 * Transport errors versus HTTP answers: resp->err is 0 whenever the server
 * answered, whatever the status (a 404 or a final 503 is err 0 with that
 * status); it is a negative RK_E* code only when no usable answer arrived.
 *
 * Tokens are sent as "Authorization: Bearer <token>", are never logged, and
 * are wiped from our copies when the request ends.
 *
 * The program must call rk_http_global_init() once, before starting threads,
 * and rk_http_global_cleanup() once at exit, and should ignore SIGPIPE (a
 * peer closing mid-send must not kill the process; CURLOPT_NOSIGNAL is set,
 * so curl installs no handlers of its own).
 */
#ifndef RK_HTTP_CLIENT_H
#define RK_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "model/json.h"

#define RK_HTTP_BODY_CAP_DEFAULT (16u * 1024u * 1024u)
#define RK_HTTP_CONNECT_TIMEOUT_DEFAULT_MS 10000
#define RK_HTTP_TIMEOUT_DEFAULT_MS 60000

typedef struct rk_http_client rk_http_client_t;
/* A request in flight; see rk_http_client_submit for its lifetime. */
typedef struct rk_http_handle rk_http_handle_t;

/* Wraps curl_global_init/curl_global_cleanup; call once per process. */
int rk_http_global_init(void);
void rk_http_global_cleanup(void);

/* The PEM file of the certificate authorities that https:// peers are
 * verified against (CURLOPT_CAINFO) in every request made afterwards, by
 * this client and the CLI's; NULL (the default): the system store. Copied.
 * Call before starting threads. RK_ENOMEM. */
int rk_http_set_ca_file(const char *path);
/* The file set above, or NULL. */
const char *rk_http_ca_file(void);

/* Retries with exponential backoff and jitter. Only idempotent requests are
 * retried (GET, HEAD, PUT, DELETE, OPTIONS, or any method with
 * rk_http_request_t.idempotent set), and only after a connection failure
 * (RK_ECONN, which includes a connect timeout) or a 502/503/504 answer. A
 * read timeout is not retried: the caller decides what a slow peer means.
 * The wait before attempt n+1 is drawn from [d/2, d] with
 * d = min(max_ms, base_ms * 2^(n-1)); it is a timer, never a sleep. */
typedef struct rk_http_retry {
    int max_attempts; /* attempts in all, first included; 0 or 1: no retry */
    int base_ms;      /* first backoff; 0: 100 ms */
    int max_ms;       /* largest backoff; 0: 5000 ms */
    int deadline_ms;  /* from submit: no attempt starts after it, and each
                         attempt's timeout is cut to end by it; 0: none */
} rk_http_retry_t;

/* One request. Everything is copied by submit; the caller may reuse or free
 * the strings as soon as submit returns. */
typedef struct rk_http_request {
    const char *method; /* "GET", "POST", ...; NULL: GET */
    const char *url;    /* http:// or https:// only */
    const void *body;   /* NULL: no body */
    size_t body_len;
    const char *content_type;   /* for a body; NULL: application/json */
    const char *token;          /* NULL or "": no Authorization header */
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    int connect_timeout_ms;     /* 0: RK_HTTP_CONNECT_TIMEOUT_DEFAULT_MS */
    int timeout_ms;             /* whole attempt, connect to last byte (a long
                                   poll sets wait + margin); 0: default */
    size_t max_body;            /* response body cap; 0: RK_HTTP_BODY_CAP_DEFAULT */
    bool idempotent;            /* allow retrying a POST/PATCH (e.g. POST /jobs,
                                   idempotent by job_id) */
    const char *keep_headers;   /* answer headers whose name starts with this
                                   (any case, e.g. "X-Ruckus-") are kept in
                                   resp.headers; "": all of them; NULL:
                                   none kept */
    rk_http_retry_t retry;
} rk_http_request_t;

typedef struct rk_http_response {
    int err;          /* 0, or RK_ECONN (not reachable: refused, reset, DNS,
                         connect timeout), RK_ETIMEDOUT (no full answer within
                         timeout_ms), RK_ETOOBIG (body over max_body),
                         RK_EPROTO (unusable answer, TLS failure), RK_EINVAL
                         (bad URL or scheme), RK_ENOMEM */
    long status;      /* HTTP status of the last attempt; 0 when none arrived */
    rk_buf_t body;    /* body of the last attempt; read it with rk_buf_str() */
    rk_buf_t headers; /* with keep_headers: that attempt's matching headers,
                         one "Name: value\n" line each (at most 8 KiB) */
    int attempts;     /* attempts made */
    char msg[256];    /* why err is set ("" when err is 0); never holds a token */
} rk_http_response_t;

/* Called once per request that was not cancelled, on the owner thread. resp
 * and its body are valid only during the call: copy what you keep. */
typedef void (*rk_http_cb)(const rk_http_response_t *resp, void *ud);
typedef void (*rk_http_task_fn)(void *ud);

typedef struct rk_http_client_opts {
    long max_host_connections;  /* open connections per host; 0: no limit */
    long max_total_connections; /* open connections in all; 0: no limit */
    const char *user_agent;     /* copied; NULL: "ruckus/<version>" */
} rk_http_client_opts_t;

/* Creates a client; opts may be NULL. Free with rk_http_client_free.
 * Connections are kept alive and reused across requests to the same host. */
int rk_http_client_new(const rk_http_client_opts_t *opts, rk_http_client_t **out);

/* Owner thread. Runs the tasks still posted, then drops every request in
 * flight or waiting to retry WITHOUT calling its callback (the caller owns
 * their ud), and frees the client. NULL is a no-op. */
void rk_http_client_free(rk_http_client_t *c);

/* Owner thread. Starts req; cb(resp, ud) runs later, from run_once, exactly
 * once unless the request is cancelled first. *handle (if handle is not
 * NULL) stays valid until cb returns or rk_http_client_cancel returns.
 * RK_EINVAL for a missing URL, a malformed method, a header or token with
 * CR/LF; RK_ENOMEM. On error cb is never called. */
int rk_http_client_submit(rk_http_client_t *c, const rk_http_request_t *req, rk_http_cb cb,
                          void *ud, rk_http_handle_t **handle);

/* Owner thread. Stops a request in flight or waiting to retry and frees it;
 * its callback is not called. RK_ESTATE when called on the handle whose own
 * callback is running. */
int rk_http_client_cancel(rk_http_client_t *c, rk_http_handle_t *h);

/* Owner thread. Waits up to timeout_ms for network activity, a due retry, a
 * posted task or a wakeup; then moves transfers along, runs completion
 * callbacks, starts due retries and runs posted tasks. Returns the number of
 * requests still in flight or waiting to retry (>= 0), or RK_EIO. */
int rk_http_client_run_once(rk_http_client_t *c, int timeout_ms);

/* Any thread. Makes a run_once that is waiting (or the next one) return
 * promptly. */
int rk_http_client_wakeup(rk_http_client_t *c);

/* Any thread. Queues fn(ud) to run on the owner thread in the next run_once
 * and wakes it. Tasks run in the order posted. Tasks still queued when the
 * client is freed run inside rk_http_client_free, so their ud is released.
 * RK_ENOMEM (fn not queued). */
int rk_http_client_post_task(rk_http_client_t *c, rk_http_task_fn fn, void *ud);

/* Any thread; blocks. Runs req on a private client (retries included) and
 * fills *out, which the caller must rk_http_response_cleanup even on error.
 * Returns out->err. */
int rk_http_client_request_sync(const rk_http_request_t *req, rk_http_response_t *out);

/* Frees the body of a response filled by rk_http_client_request_sync. */
void rk_http_response_cleanup(rk_http_response_t *resp);

/* Parses resp's body as JSON (whatever the status: error answers carry
 * {"detail": ...}). *out is a new reference. Returns resp->err when the
 * request failed, RK_EPROTO when the body is not JSON, with e (may be NULL)
 * saying why: "response body: invalid JSON at line 1 column 5: ...". */
/* The value of kept header name (any case) in out[n]; false when absent. */
bool rk_http_response_header(const rk_http_response_t *resp, const char *name, char *out, size_t n);

int rk_http_response_json(const rk_http_response_t *resp, json_t **out, rk_verr_t *e);

#endif
