/* The HTTPS server's certificate and key, handed to GnuTLS at each
 * handshake (MHD_OPTION_HTTPS_CERT_CALLBACK) instead of once at start, so
 * a SIGHUP can put rotated files in place without a restart.
 *
 * A pair is checked when it is loaded: the chain parses, the key parses,
 * and the key is the one of the chain's first certificate (the same public
 * key id), so a bad rotation is refused with a clear message and the
 * server keeps serving the pair it had. Replaced pairs are kept until the
 * server is freed: a handshake that took one a moment before a reload may
 * still be using it, and rotations are rare.
 *
 * The GnuTLS callback carries no user data; the server is found from the
 * session's socket (its local port) in a small registry of the process's
 * HTTPS servers.
 */
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/err.h"
#include "base/log.h"
#include "http/server_int.h"

/* Longest chain taken from a certificate file. */
#define CHAIN_MAX 16

struct rk_tls_creds {
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned n;
    gnutls_privkey_t key;
    rk_tls_creds_t *retired; /* older pairs of the same server */
};

void rk_tls_creds_free(rk_tls_creds_t *c)
{
    while (c) {
        rk_tls_creds_t *next = c->retired;
        for (unsigned i = 0; i < c->n; i++)
            gnutls_pcert_deinit(&c->chain[i]);
        if (c->key)
            gnutls_privkey_deinit(c->key);
        free(c);
        c = next;
    }
}

/* The public key id of pub into id (size in *n). */
static int key_id(gnutls_pubkey_t pub, unsigned char *id, size_t *n)
{
    return gnutls_pubkey_get_key_id(pub, 0, id, n);
}

int rk_tls_creds_new(const char *cert_pem, const char *key_pem, rk_tls_creds_t **out, char *err,
                     size_t errn)
{
    *out = NULL;
    rk_tls_creds_t *c = calloc(1, sizeof *c);
    if (!c)
        return RK_ENOMEM;
    gnutls_datum_t cd = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
    gnutls_datum_t kd = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
    c->n = CHAIN_MAX;
    int g = gnutls_pcert_list_import_x509_raw(c->chain, &c->n, &cd, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || c->n == 0) {
        c->n = 0;
        snprintf(err, errn, "certificate: %s", g < 0 ? gnutls_strerror(g) : "no certificate");
        goto fail;
    }
    if ((g = gnutls_privkey_init(&c->key)) < 0 ||
        (g = gnutls_privkey_import_x509_raw(c->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errn, "key: %s", gnutls_strerror(g));
        goto fail;
    }
    gnutls_pubkey_t pub = NULL;
    unsigned char a[64], b[64];
    size_t na = sizeof a, nb = sizeof b;
    bool same = gnutls_pubkey_init(&pub) >= 0 &&
                gnutls_pubkey_import_privkey(pub, c->key, 0, 0) >= 0 && key_id(pub, a, &na) >= 0 &&
                key_id(c->chain[0].pubkey, b, &nb) >= 0 && na == nb && memcmp(a, b, na) == 0;
    if (pub)
        gnutls_pubkey_deinit(pub);
    if (!same) {
        snprintf(err, errn, "the key does not belong to the certificate");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    rk_tls_creds_free(c);
    return RK_EIO;
}

/* ---- the registry the GnuTLS callback looks servers up in ---- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static rk_http_server_t *reg[8];

void rk_tls_register(rk_http_server_t *s, bool on)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++) {
        if (on ? !reg[i] : reg[i] == s) {
            reg[i] = on ? s : NULL;
            break;
        }
    }
    pthread_mutex_unlock(&reg_lock);
}

/* The local port of the session's socket, 0 when unknown. */
static uint16_t session_port(gnutls_session_t session)
{
    int fd = gnutls_transport_get_int(session);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int rk_tls_pick(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int n_req,
                const gnutls_pk_algorithm_t *algos, int n_algos, gnutls_pcert_st **chain,
                unsigned int *n_chain, gnutls_privkey_t *key)
{
    (void)req_ca_dn;
    (void)n_req;
    (void)algos;
    (void)n_algos;
    uint16_t port = session_port(session);
    rk_tls_creds_t *c = NULL;
    pthread_mutex_lock(&reg_lock);
    /* Its port; else one still starting (port 0: its daemon runs but the
     * chosen port is not known yet). */
    rk_http_server_t *s = NULL;
    for (size_t i = 0; i < sizeof reg / sizeof reg[0]; i++) {
        if (reg[i] && reg[i]->port == port)
            s = reg[i];
        else if (reg[i] && reg[i]->port == 0 && !s)
            s = reg[i];
    }
    if (s) {
        pthread_mutex_lock(&s->tok_lock);
        c = s->tls;
        pthread_mutex_unlock(&s->tok_lock);
    }
    pthread_mutex_unlock(&reg_lock);
    if (!c)
        return -1;
    *chain = c->chain;
    *n_chain = c->n;
    *key = c->key;
    return 0;
}

int rk_http_server_reload_tls(rk_http_server_t *s, const char *cert_path, const char *key_path)
{
    if (!s || !s->tls)
        return RK_ESTATE;
    char *cert = NULL, *key = NULL;
    int rc = rk_http_read_pem("certificate", cert_path, &cert);
    if (!rc)
        rc = rk_http_read_pem("key", key_path, &key);
    rk_tls_creds_t *c = NULL;
    char err[256] = "";
    if (!rc && (rc = rk_tls_creds_new(cert, key, &c, err, sizeof err)))
        rk_log_warn("keeping the old TLS certificate", "server", s->name, "detail", err);
    free(cert);
    if (key) {
        explicit_bzero(key, strlen(key));
        free(key);
    }
    if (rc)
        return rc;
    pthread_mutex_lock(&s->tok_lock);
    c->retired = s->tls;
    s->tls = c;
    pthread_mutex_unlock(&s->tok_lock);
    rk_log_info("TLS certificate re-read", "server", s->name, "certificate", cert_path);
    return 0;
}
