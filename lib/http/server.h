/* HTTP server for the ruckus daemons, over libmicrohttpd.
 *
 * The wrapper owns the protocol conventions so handlers don't have to:
 * routing with path parameters (router.h), 404/405 with Allow, bearer-token
 * checks under a path prefix, CORS for listed origins, a body size cap (413),
 * JSON parsing with 400 on bad JSON, the {"detail": "..."} error shape, one
 * access-log line per request, long polls through suspended requests, and a
 * graceful stop.
 *
 * Lifecycle: rk_http_config_init -> rk_http_server_new -> rk_http_server_route
 * (all routes before start) -> rk_http_server_start -> ... ->
 * rk_http_server_stop -> rk_http_server_free.
 *
 * Threading contract
 * - Handlers run on libmicrohttpd's worker threads (config.threads of them),
 *   several at once: userdata they share must be thread-safe. A handler must
 *   not block for long; a request that waits suspends instead
 *   (rk_http_req_suspend) and is answered later from any thread.
 * - rk_http_req_t and the rk_http_resp_t given to a handler belong to the
 *   wrapper and are valid only during that handler call (the request's
 *   strings too: copy what you keep).
 * - rk_http_wait_finish, rk_http_wait_release, rk_http_stream_wake and
 *   rk_http_stream_release may be called from any thread, at any time
 *   before rk_http_server_free, including after the client went away or the
 *   server stopped: each handle is reference counted, so a late call is a
 *   harmless no-op, never a use-after-free.
 * - rk_http_server_stop may be called from any thread except a handler;
 *   it returns when the daemon is down. Not from a signal handler: let the
 *   signal wake a thread that calls it.
 */
#ifndef RK_HTTP_SERVER_H
#define RK_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/prom.h"

typedef struct rk_http_server rk_http_server_t;
typedef struct rk_http_req rk_http_req_t;
typedef struct rk_http_resp rk_http_resp_t;
typedef struct rk_http_wait rk_http_wait_t;
typedef struct rk_http_stream rk_http_stream_t;

typedef struct rk_http_config {
    const char *host;         /* "127.0.0.1" by default; numeric or "localhost" */
    uint16_t port;            /* 0 picks a free port: see rk_http_server_port */
    unsigned threads;         /* worker pool size, default 2 */
    unsigned max_conns;       /* simultaneous connections, default 256 */
    unsigned conn_timeout_s;  /* idle connection timeout, default 60 */
    size_t max_body;          /* request body cap in bytes, default 1 MiB */
    unsigned stop_timeout_ms; /* how long stop lets in-flight requests run, default 10000 */
    const char *token;        /* bearer token; NULL or "" = no auth (loopback only) */
    /* A second bearer token that may only read: GET and HEAD pass, any
     * other method is answered 403. Needs token; NULL or "": none. */
    const char *read_token;
    const char *auth_prefix; /* paths needing the token, default "/api/v1" */
    /* HTTPS: PEM files of the certificate (chain) and its private key, read
     * by rk_http_server_new; both or neither. NULL: plain HTTP. */
    const char *tls_cert;
    const char *tls_key;
    const char *const *cors_origins; /* allowed browser origins, none by default */
    size_t n_cors_origins;
    const char *name; /* label in log lines, default "http" */
    /* What a path parameter must be ("{job_id}"), checked before any
     * handler runs: a failing value is answered 400. NULL: anything. */
    bool (*param_check)(const char *value);
    const char *param_rule; /* said in that 400, e.g. "an id of 1 to 64 ..." */
    /* Where to count requests (ruckus_http_requests_total{route, method,
     * code} and ruckus_http_request_duration_seconds{route, method}, route
     * being the registered pattern or "unmatched"); NULL: not counted.
     * Borrowed: must outlive the server. */
    rk_prom_t *metrics;
} rk_http_config_t;

/* Fills c with the defaults above. */
void rk_http_config_init(rk_http_config_t *c);

/* Creates a stopped server from cfg; the strings and the origin list are
 * copied, the TLS files read. RK_EINVAL with a log line when the host is
 * not loopback (127.0.0.0/8, ::1, "localhost") and no token is set, when
 * only one of tls_cert and tls_key is given, or cfg is bad; RK_EIO (logged,
 * naming the file) when a TLS file cannot be read or is empty, or this
 * libmicrohttpd lacks TLS, or the key does not belong to the certificate;
 * RK_ENOMEM. Free with rk_http_server_free. */
int rk_http_server_new(const rk_http_config_t *cfg, rk_http_server_t **out);

/* Replaces the tokens (copied) while the server runs, e.g. after a token
 * file was re-read on SIGHUP: requests checked afterwards need the new ones
 * and the old ones stop working. Safe from any thread but a handler's.
 * read_token NULL or "": none. RK_EINVAL (nothing changed) when token is
 * NULL or "" while the server was created with one, when it was created
 * without one (auth cannot be switched on later), or when read_token is
 * given without token or equals it; RK_ENOMEM. */
int rk_http_server_set_tokens(rk_http_server_t *s, const char *token, const char *read_token);

/* Re-reads the TLS certificate and key files (e.g. rotated, on SIGHUP):
 * handshakes from then on use the new pair, connections already open keep
 * theirs. A file that cannot be read, is not PEM, or a key that does not
 * belong to the certificate: the old pair stays in use, the reason is
 * logged, RK_EIO is returned. RK_ESTATE for a server without TLS. Any
 * thread. */
int rk_http_server_reload_tls(rk_http_server_t *s, const char *cert_path, const char *key_path);

/* Registers GET path (e.g. "/metrics") answering cfg.metrics in the
 * Prometheus text format. Open without a token; with one configured (as
 * any non-loopback listener has) it needs the token, wherever the path.
 * RK_EINVAL when cfg.metrics is NULL; otherwise as rk_http_server_route. */
int rk_http_server_metrics_route(rk_http_server_t *s, const char *path);

/* Handler: inspect req, fill resp (or suspend). Whatever it does not set is
 * answered 500 "handler produced no response". */
typedef void (*rk_http_handler_fn)(rk_http_req_t *req, rk_http_resp_t *resp, void *userdata);

/* Registers the handler of every request no route takes (any method but
 * OPTIONS, any path): it gets them after the token and body-size checks
 * a route's request gets, instead of the 404 or 405. Its metrics route
 * label is "fallback". Only before rk_http_server_start; RK_EEXIST when
 * one is set, RK_EINVAL, RK_ESTATE, RK_ENOMEM. */
int rk_http_server_fallback(rk_http_server_t *s, rk_http_handler_fn fn, void *userdata);

/* Registers a route (see router.h for the pattern syntax); userdata is
 * borrowed for the server's lifetime. Only before rk_http_server_start.
 * RK_EINVAL bad pattern, RK_EEXIST duplicate, RK_ESTATE already started. */
int rk_http_server_route(rk_http_server_t *s, const char *method, const char *pattern,
                         rk_http_handler_fn fn, void *userdata);

/* One registered route, for rk_http_server_each_route: the method and the
 * pattern in its canonical spelling (see rk_router_each in router.h:
 * "/api/v1/jobs/{job_id}", no trailing slash). Valid during the call. */
typedef int (*rk_http_route_each_fn)(const char *method, const char *pattern, void *ud);

/* Lists the registered routes in registration order (read-only; any time
 * after rk_http_server_new, before or after start). Stops at the first
 * non-zero return of fn and returns it; 0 when all returned 0. Meant for
 * documents and tests that must match the real route table. */
int rk_http_server_each_route(const rk_http_server_t *s, rk_http_route_each_fn fn, void *ud);

/* Binds and starts the worker threads. RK_EIO (logged) when the address
 * cannot be bound or the TLS certificate and key are not usable together,
 * RK_ESTATE when started before. */
int rk_http_server_start(rk_http_server_t *s);
/* The bound port (the chosen one when config.port was 0); 0 before start. */
uint16_t rk_http_server_port(const rk_http_server_t *s);

/* Graceful stop: stops accepting, answers every suspended request (its
 * on_stop callback or 503 {"detail":"server shutting down"}), ends
 * streams, lets in-flight requests finish (up to stop_timeout_ms), then
 * stops the daemon. Idempotent; returns when done. */
void rk_http_server_stop(rk_http_server_t *s);
/* Stops if needed and frees; NULL is a no-op. Every wait and stream handle
 * must have been finished or released before. */
void rk_http_server_free(rk_http_server_t *s);

/* ---- request (valid during the handler call) ---- */
const char *rk_http_req_method(const rk_http_req_t *r);
/* Path without the query string, as on the request line (still
 * percent-encoded; route parameters are the decoded segments). */
const char *rk_http_req_path(const rk_http_req_t *r);
/* The raw query string after '?' (still percent-encoded), NULL if none. */
const char *rk_http_req_query_string(const rk_http_req_t *r);
/* Path parameter by name ("job_id"), NULL if the route has none such. */
const char *rk_http_req_param(const rk_http_req_t *r, const char *name);
/* Query parameter (decoded); NULL if absent or given without a value. */
const char *rk_http_req_query(const rk_http_req_t *r, const char *name);
/* Request header, case-insensitive name; NULL if absent. */
const char *rk_http_req_header(const rk_http_req_t *r, const char *name);
/* Body bytes (NUL-terminated, len excludes the NUL); "" and 0 if none. */
const char *rk_http_req_body(const rk_http_req_t *r, size_t *len);
/* Parses the body as a JSON object into *out (a new reference: decref it).
 * On failure answers resp itself (400 "invalid JSON: <reason> at line L
 * column C", 422 "expected a JSON object") and returns RK_EINVAL; the
 * handler then just returns. */
int rk_http_req_json(rk_http_req_t *r, rk_http_resp_t *resp, json_t **out);

/* ---- responses ----
 * Each setter replaces what was set before. They return 0, RK_ENOMEM, or
 * RK_EINVAL for a bad status (outside 100..599). */

/* Serializes body (borrowed: the caller keeps its reference). */
int rk_http_resp_json(rk_http_resp_t *resp, int status, const json_t *body);
/* Same, but takes the caller's reference to body (even on failure), so
 * rk_http_resp_json_take(resp, 200, json_pack(...)) leaks nothing. NULL
 * body (a failed json_pack) answers 500. */
int rk_http_resp_json_take(rk_http_resp_t *resp, int status, json_t *body);
/* {"detail": detail} with status. */
int rk_http_resp_error(rk_http_resp_t *resp, int status, const char *detail);
int rk_http_resp_errorf(rk_http_resp_t *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* text/plain; charset=utf-8 body (copied). */
int rk_http_resp_text(rk_http_resp_t *resp, int status, const char *text);
/* len bytes (copied) with the given content type. */
int rk_http_resp_bytes(rk_http_resp_t *resp, int status, const char *content_type, const void *data,
                       size_t len);
/* Adds a response header (copied); at most 16. RK_EINVAL for CR/LF in it. */
int rk_http_resp_header(rk_http_resp_t *resp, const char *name, const char *value);

/* Stream reader: copy up to max bytes at offset pos into buf, return the
 * count, or one of the RK_HTTP_READ_* values. Called on a worker thread;
 * it must not block long. RK_HTTP_READ_WAIT parks the connection (no
 * worker is held) until rk_http_stream_wake; use it for server-sent events
 * and log following. */
enum {
    RK_HTTP_READ_WAIT = 0,
    RK_HTTP_READ_END = -1,   /* normal end of the body */
    RK_HTTP_READ_ERROR = -2, /* abort: the client sees a cut body */
};
typedef ssize_t (*rk_http_read_fn)(void *ctx, uint64_t pos, char *buf, size_t max);

/* Streams a body of unknown length (chunked). ctx is handed over: free_ctx
 * (may be NULL) is called exactly once, when the response is done or
 * dropped, on whatever thread that happens. If handle is not NULL, *handle
 * gets a reference the caller must give back with rk_http_stream_release;
 * keep it to wake the stream. At server stop a parked stream ends. */
int rk_http_resp_stream(rk_http_resp_t *resp, int status, const char *content_type,
                        rk_http_read_fn read, void (*free_ctx)(void *ctx), void *ctx,
                        rk_http_stream_t **handle);
/* Tells a parked stream to call its reader again; a no-op once it ended. */
void rk_http_stream_wake(rk_http_stream_t *st);
/* Drops the caller's reference; NULL is a no-op. */
void rk_http_stream_release(rk_http_stream_t *st);

/* ---- suspended requests (long polls) ---- */

/* Answers a waiting request at server stop; fill resp (borrowed). Called
 * once, on the thread running rk_http_server_stop, never after
 * rk_http_wait_finish/release returned for that handle. */
typedef void (*rk_http_on_stop_fn)(rk_http_resp_t *resp, void *ctx);

/* From a handler: parks the request without holding a worker thread.
 * *out gets a handle (one reference) that the caller must end with exactly
 * one rk_http_wait_finish or rk_http_wait_release. on_stop may be NULL
 * (then stop answers 503); ctx is borrowed until that call. Leave the
 * handler's resp unset. RK_ESTATE when the server is stopping (answer
 * resp yourself), RK_ENOMEM. */
int rk_http_req_suspend(rk_http_req_t *r, rk_http_on_stop_fn on_stop, void *ctx,
                        rk_http_wait_t **out);

/* A free-standing response to fill for rk_http_wait_finish. RK_ENOMEM. */
int rk_http_resp_new(rk_http_resp_t **out);
/* Frees a response made by rk_http_resp_new that was not handed over. */
void rk_http_resp_free(rk_http_resp_t *resp);

/* Answers the waiting request with resp (taken, always) and drops the
 * handle's reference. RK_ESTATE when it was already answered (server stop)
 * - resp is then discarded. Any thread. */
int rk_http_wait_finish(rk_http_wait_t *w, rk_http_resp_t *resp);
/* Drops the handle without answering: the request is answered 503 now.
 * NULL is a no-op. */
void rk_http_wait_release(rk_http_wait_t *w);

#endif
