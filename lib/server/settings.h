/* ruckus-server configuration: the option table and the struct it fills.
 *
 * Every option is described once in rk_server_config (settings.c); flags,
 * environment variables, --help and docs/configuration.md all come from it.
 */
#ifndef RK_SERVER_SETTINGS_H
#define RK_SERVER_SETTINGS_H

#include <stdint.h>

#include "base/config.h"

/* Values of rk_server_settings_t.storage, in the order of the choices. */
typedef enum rk_server_storage {
    RK_SERVER_STORAGE_SQLITE = 0,
    RK_SERVER_STORAGE_MEMORY = 1,
    RK_SERVER_STORAGE_POSTGRESQL = 2,
} rk_server_storage_t;

typedef struct rk_server_settings {
    char *host; /* listen address */
    int64_t port;
    int storage;          /* rk_server_storage_t */
    char *db_path;        /* sqlite database file */
    char *postgres_url;   /* with storage postgresql; "" = libpq's defaults */
    char *advertise_url;  /* how other servers reach this one; "": from host and port */
    double poll_interval; /* seconds between job status polls */
    char *token;          /* API token; NULL: no auth (loopback only) */
    char *token_file;     /* or the file holding it (re-read on SIGHUP) */
    char *read_token;     /* read-only (GET/HEAD) token, or NULL */
    char *read_token_file;
    char *tls_cert; /* HTTPS certificate and key files; NULL: plain HTTP */
    char *tls_key;
    char *ca_file; /* CAs agents on https:// are verified against; NULL: system store */
    rk_config_list_t cors_origins;
    double agent_timeout;      /* seconds of failed calls before unavailable */
    int64_t threads;           /* HTTP worker threads */
    int64_t max_body;          /* request body cap in bytes */
    int log_level;             /* rk_log_level_t */
    double timeout_grace;      /* seconds past a job's timeout before the server's backstop */
    rk_config_list_t webhooks; /* http(s) URLs each webhook event is POSTed to */
    char *webhook_secret;      /* HMAC-SHA256 key of their signatures, or NULL */
    char *webhook_secret_file; /* or the file holding it */
    int64_t retention_days;    /* finished jobs older than this are deleted; 0: kept */
    double retention_period;   /* seconds between retention sweeps */
    int64_t retention_batch;   /* jobs deleted per store transaction */
} rk_server_settings_t;

extern const rk_config_spec_t rk_server_config;

/* Loads s from defaults, environment and argv (see base/config.h); s need
 * not be initialized. res says whether to run or to print help/version.
 * RK_EINVAL with a message naming the option in err, or RK_ENOMEM. s must
 * be passed to rk_server_settings_cleanup afterwards in every case. */
int rk_server_settings_load(int argc, char **argv, rk_server_settings_t *s, rk_config_result_t *res,
                            char *err, size_t errlen);
void rk_server_settings_cleanup(rk_server_settings_t *s);

/* The tokens to use now: from the files when set, else copies of the
 * flags' values (NULL when neither), malloc'd (free with rk_token_free).
 * A file that cannot be read or holds no token: RK_EIO/RK_EINVAL with a
 * message naming the flag and the file in err; RK_ENOMEM. */
int rk_server_settings_tokens(const rk_server_settings_t *s, char **token, char **read_token,
                              char *err, size_t errlen);

/* The webhook secret to sign with: read from its file when set, else a
 * copy of the flag's value (NULL when neither), malloc'd (free with
 * rk_token_free). A file that cannot be read or is empty: RK_EIO/RK_EINVAL
 * with a message naming the flag and the file in err; RK_ENOMEM. */
int rk_server_settings_webhook_secret(const rk_server_settings_t *s, char **secret, char *err,
                                      size_t errlen);

/* Static name of a storage backend ("sqlite"), as the table spells it. */
const char *rk_server_storage_name(int storage);

#endif
