/* Internals shared by server.c (connection handling) and response.c
 * (response building and streams). Not part of the public API. */
#ifndef RK_HTTP_SERVER_INT_H
#define RK_HTTP_SERVER_INT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include <arpa/inet.h>

#include "base/buf.h"
#include "base/prom.h"
#include "http/router.h"
#include "http/server.h"

#define RESP_MAX_HEADERS 16

/* ---- tls.c: the HTTPS certificate and key ---- */
typedef struct rk_tls_creds rk_tls_creds_t;
/* Checks and loads a PEM certificate chain and its PEM key into *out. On
 * failure RK_EIO with what is wrong in err ("key: ...", "the key does not
 * belong to the certificate"), or RK_ENOMEM. */
int rk_tls_creds_new(const char *cert_pem, const char *key_pem, rk_tls_creds_t **out, char *err,
                     size_t errn);
/* Frees c and the pairs it replaced. NULL: no-op. */
void rk_tls_creds_free(rk_tls_creds_t *c);
/* Adds (on) or removes an HTTPS server from the table rk_tls_pick looks in. */
void rk_tls_register(rk_http_server_t *s, bool on);
/* The GnuTLS certificate callback (MHD_OPTION_HTTPS_CERT_CALLBACK): the
 * pair in use by the server whose socket the session is on. */
int rk_tls_pick(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int n_req,
                const gnutls_pk_algorithm_t *algos, int n_algos, gnutls_pcert_st **chain,
                unsigned int *n_chain, gnutls_privkey_t *key);
/* Reads a PEM file (at most 1 MiB, starting "-----BEGIN ") into *out
 * (malloc'd); RK_EIO logged naming what and path, or RK_ENOMEM. */
int rk_http_read_pem(const char *what, const char *path, char **out);

typedef enum resp_kind { RESP_NONE, RESP_BUF, RESP_STREAM } resp_kind_t;

struct rk_http_resp {
    resp_kind_t kind;
    int status;
    char *ctype;
    char *body; /* RESP_BUF: malloc'd, handed to libmicrohttpd */
    size_t len;
    rk_http_stream_t *stream; /* RESP_STREAM: the response's reference */
    size_t nhdrs;
    char *hdrs[RESP_MAX_HEADERS][2];
};

struct rk_http_stream {
    atomic_int refs;
    pthread_mutex_t lock; /* guards the flags below and suspend/resume */
    bool suspended, wake_pending, ended, stopping;
    struct MHD_Connection *conn; /* set when queued */
    rk_http_read_fn read;
    void (*free_ctx)(void *);
    void *ctx;
    uint64_t *bytes_out; /* the request's counter; reads happen before it completes */
    /* Membership in the server's list, so stop can end parked streams;
     * guarded by the server's lock. */
    rk_http_server_t *srv;
    rk_http_stream_t *prev, *next;
};

typedef struct target {
    rk_http_handler_fn fn;
    void *userdata;
    char *pattern; /* as registered: the `route` label of the metrics */
    struct target *next;
} target_t;

struct rk_http_server {
    rk_http_config_t cfg; /* strings point at the copies below */
    char *host, *prefix, *name;
    /* The tokens, swapped by rk_http_server_set_tokens while workers check
     * them: read and replaced under tok_lock only. has_token never changes
     * after creation. */
    pthread_mutex_t tok_lock;
    char *token, *read_token;
    bool has_token;
    /* With TLS: the certificate and key in use (tls.c), swapped by
     * rk_http_server_reload_tls under tok_lock; NULL: plain HTTP. */
    rk_tls_creds_t *tls;
    char **origins;
    rk_router_t *router;
    target_t *targets;
    target_t *fallback; /* rk_http_server_fallback's, also in targets; or NULL */
    rk_prom_family_t *m_requests, *m_seconds; /* with cfg.metrics */
    struct MHD_Daemon *daemon;
    uint16_t port;
    pthread_mutex_t stop_lock; /* serializes start/stop */
    pthread_mutex_t lock;      /* guards everything below */
    pthread_cond_t cond;       /* active or resuming dropped */
    bool stopping;
    size_t active;   /* requests between first callback and completion */
    size_t resuming; /* MHD_resume_connection calls in progress */
    rk_http_wait_t *waits;
    rk_http_stream_t *streams;
};

typedef enum wait_state { WAIT_WAITING, WAIT_CLAIMED, WAIT_ANSWERED } wait_state_t;

/* One reference for the handle holder, one for the request; state and list
 * membership are guarded by the server lock. */
struct rk_http_wait {
    atomic_int refs;
    rk_http_server_t *srv;
    struct MHD_Connection *conn;
    wait_state_t state;
    bool suspended; /* MHD_suspend_connection done, resume not yet */
    rk_http_resp_t *resp;
    rk_http_on_stop_fn on_stop;
    void *ctx;
    rk_http_wait_t *prev, *next;
};

struct rk_http_req {
    rk_http_server_t *srv;
    struct MHD_Connection *conn;
    char method[16];
    char *path;  /* as on the request line, without the query: still encoded */
    char *query; /* raw query string after '?', or NULL */
    bool begun;  /* the access handler has seen this request */
    const target_t *target;
    rk_route_match_t match;
    rk_buf_t body;
    bool too_big;
    uint64_t discarded;
    const char *cors_origin; /* the server's copy, when the origin is listed */
    rk_http_wait_t *wait;
    int status;
    uint64_t bytes_out;
    int64_t t0;
    char remote[INET6_ADDRSTRLEN + 8];
};

void resp_init(rk_http_resp_t *resp);
void resp_cleanup(rk_http_resp_t *resp);
/* Builds the libmicrohttpd response for conn, consuming resp's body or
 * stream reference (resp_cleanup it afterwards); a stream is linked into srv's list
 * until libmicrohttpd frees it. NULL on ENOMEM. */
struct MHD_Response *resp_to_mhd(rk_http_resp_t *resp, struct MHD_Connection *conn,
                                 uint64_t *bytes_out, rk_http_server_t *srv);
/* Server hooks used by response.c to (un)register streams. */
void server_stream_link(rk_http_server_t *srv, rk_http_stream_t *st);
void server_stream_unlink(rk_http_server_t *srv, rk_http_stream_t *st);
/* Takes a reference (released with rk_http_stream_release). */
void stream_get(rk_http_stream_t *st);
/* Ends a stream at stop: a parked one is resumed and reads END. Called
 * without the server lock, holding a reference. */
void stream_stop(rk_http_stream_t *st);

#endif
