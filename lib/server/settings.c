#include "server/settings.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/tokenfile.h"

#define S rk_server_settings_t

static const char *const storage_choices[] = {"sqlite", "memory", "postgresql", NULL};
/* Same order as rk_log_level_t. */
static const char *const level_choices[] = {"debug", "info", "warn", "error", NULL};

/* LIST: every webhook is an http:// or https:// URL (the item named in the
 * message: the last one added, or the environment's whole list). */
static int validate_webhooks(const void *field, const char **why)
{
    const rk_config_list_t *l = field;
    for (size_t i = 0; i < l->count; i++) {
        if (rk_config_validate_url(&l->items[i], why)) {
            *why = "a webhook must be an http:// or https:// URL with a host";
            return RK_EINVAL;
        }
    }
    return RK_OK;
}

/* STRING: "" (derived from --host and --port) or an http(s) URL. */
static int validate_advertise(const void *field, const char **why)
{
    const char *v = *(char *const *)field;
    return !v || !*v ? RK_OK : rk_config_validate_url(field, why);
}

static const rk_config_option_t options[] = {
    {.name = "host",
     .env = "RUCKUS_SERVER_HOST",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, host),
     .def = "127.0.0.1",
     .metavar = "ADDR",
     .flags = RK_CONFIG_NONEMPTY,
     .help = "Address to listen on; other than loopback it needs --token"},
    {.name = "port",
     .env = "RUCKUS_SERVER_PORT",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, port),
     .def = "8000",
     .min = 0,
     .max = 65535,
     .help = "TCP port to listen on (0: any free port)"},
    {.name = "storage",
     .env = "RUCKUS_STORAGE_STORAGE_BACKEND",
     .type = RK_CONFIG_ENUM,
     RK_CONFIG_FIELD(S, storage),
     .def = "sqlite",
     .choices = storage_choices,
     .help = "Where experiments, jobs and agents are kept"},
    {.name = "db",
     .env = "RUCKUS_SQLITE_DATABASE_PATH",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, db_path),
     .def = "datastore/ruckus.db",
     .flags = RK_CONFIG_NONEMPTY,
     .help = "SQLite database file (with --storage sqlite)"},
    {.name = "postgres-url",
     .env = "RUCKUS_POSTGRES_DATABASE_URL",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, postgres_url),
     .def = "",
     .flags = RK_CONFIG_SECRET,
     .help = "libpq connection string or postgresql:// URL (with --storage postgresql); several "
             "servers may share one database: one dispatches, the others stand by and take over "
             "(exit code 3: another took over)"},
    {.name = "advertise-url",
     .env = "RUCKUS_SERVER_ADVERTISE_URL",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, advertise_url),
     .def = "",
     .validate = validate_advertise,
     .metavar = "URL",
     .help = "Where the other servers on this PostgreSQL reach this one (http(s)://HOST:PORT) "
             "when it dispatches: a standby forwards the API requests it gets there; unset: "
             "from --host (its host name for 0.0.0.0 or ::) and --port"},
    {.name = "poll-interval",
     .env = "RUCKUS_JOB_MANAGER_JOB_STATUS_POLLING_INTERVAL",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(S, poll_interval),
     .def = "5",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 86400,
     .flags = RK_CONFIG_MIN_EXCLUSIVE,
     .help = "Seconds between polls of the agents for job status"},
    {.name = "token",
     .env = "RUCKUS_SERVER_API_TOKEN",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, token),
     .metavar = "TOKEN",
     .flags = RK_CONFIG_SECRET,
     .help = "Bearer token every /api/v1 call must carry; unset: no authentication"},
    {.name = "token-file",
     .env = "RUCKUS_SERVER_API_TOKEN_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, token_file),
     .metavar = "PATH",
     .help = "File holding the bearer token instead of --token (one trailing newline ignored); "
             "re-read on SIGHUP, so the token rotates without a restart"},
    {.name = "read-token",
     .env = "RUCKUS_SERVER_READ_TOKEN",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, read_token),
     .metavar = "TOKEN",
     .flags = RK_CONFIG_SECRET,
     .help = "A second bearer token that may only GET or HEAD (403 for anything else), e.g. for "
             "a dashboard; needs --token or --token-file"},
    {.name = "read-token-file",
     .env = "RUCKUS_SERVER_READ_TOKEN_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, read_token_file),
     .metavar = "PATH",
     .help = "File holding the read-only token instead of --read-token; re-read on SIGHUP"},
    {.name = "tls-cert",
     .env = "RUCKUS_SERVER_TLS_CERT",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, tls_cert),
     .metavar = "FILE",
     .help = "PEM certificate (chain) to serve HTTPS with, with --tls-key; unset: plain HTTP"},
    {.name = "tls-key",
     .env = "RUCKUS_SERVER_TLS_KEY",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, tls_key),
     .metavar = "FILE",
     .help = "PEM private key of --tls-cert"},
    {.name = "ca-file",
     .env = "RUCKUS_SERVER_CA_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, ca_file),
     .metavar = "FILE",
     .help = "PEM file of the certificate authorities agents reached over https:// are verified "
             "against; unset: the "
             "system store"},
    {.name = "cors-origins",
     .env = "RUCKUS_SERVER_CORS_ORIGINS",
     .type = RK_CONFIG_LIST,
     RK_CONFIG_FIELD(S, cors_origins),
     .metavar = "ORIGINS",
     .validate = rk_config_validate_origins,
     .help = "Browser origins allowed to call the API (\"*\" for any); none by default"},
    {.name = "agent-timeout",
     .env = "RUCKUS_SERVER_AGENT_TIMEOUT",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(S, agent_timeout),
     .def = "30",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 86400,
     .flags = RK_CONFIG_MIN_EXCLUSIVE,
     .help = "Seconds an agent may fail calls before it is marked unavailable"},
    {.name = "threads",
     .env = "RUCKUS_SERVER_THREADS",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, threads),
     .def = "2",
     .min = 1,
     .max = 256,
     .help = "HTTP worker threads"},
    {.name = "max-body",
     .env = "RUCKUS_SERVER_MAX_BODY_BYTES",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, max_body),
     .def = "1048576",
     .metavar = "BYTES",
     .min = 1024,
     .max = 1073741824,
     .help = "Largest request body accepted (413 above)"},
    {.name = "timeout-grace",
     .env = "RUCKUS_JOB_MANAGER_TIMEOUT_GRACE",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(S, timeout_grace),
     .def = "60",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 86400,
     .help =
         "Seconds past a job's timeout (counted from running) before the server itself ends it"},
    {.name = "webhook",
     .env = "RUCKUS_SERVER_WEBHOOKS",
     .type = RK_CONFIG_LIST,
     RK_CONFIG_FIELD(S, webhooks),
     .metavar = "URL",
     .flags = RK_CONFIG_REPEAT,
     .validate = validate_webhooks,
     .help = "URL each job's end and each agent going unavailable or available again is POSTed "
             "to (docs/webhooks.md); repeat the flag for several, or comma-separate them in the "
             "environment variable"},
    {.name = "webhook-secret",
     .env = "RUCKUS_SERVER_WEBHOOK_SECRET",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, webhook_secret),
     .metavar = "SECRET",
     .flags = RK_CONFIG_SECRET,
     .help = "Key of the webhooks' X-Ruckus-Signature (HMAC-SHA256 of the body); unset: "
             "webhooks are sent unsigned"},
    {.name = "webhook-secret-file",
     .env = "RUCKUS_SERVER_WEBHOOK_SECRET_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, webhook_secret_file),
     .metavar = "PATH",
     .help = "File holding the webhook secret instead of --webhook-secret (one trailing newline "
             "ignored); re-read on SIGHUP"},
    {.name = "retention-days",
     .env = "RUCKUS_JOB_RETENTION_DAYS",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, retention_days),
     .def = "0",
     .metavar = "DAYS",
     .min = 0,
     .max = 36500,
     .help = "Delete finished jobs (with history and results) older than DAYS, at start and "
             "every --retention-period; 0 keeps everything (docs/storage.md, Retention)"},
    {.name = "retention-period",
     .env = "RUCKUS_RETENTION_PERIOD_S",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(S, retention_period),
     .def = "3600",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 604800,
     .flags = RK_CONFIG_MIN_EXCLUSIVE,
     .help = "Seconds between retention sweeps (tests shorten it)"},
    {.name = "retention-batch",
     .env = "RUCKUS_RETENTION_BATCH",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, retention_batch),
     .def = "500",
     .metavar = "JOBS",
     .min = 1,
     .max = 100000,
     .help = "Jobs a retention sweep deletes per store transaction (it pauses between them)"},
    {.name = "log-level",
     .env = "RUCKUS_LOG_LEVEL",
     .type = RK_CONFIG_ENUM,
     RK_CONFIG_FIELD(S, log_level),
     .def = "info",
     .choices = level_choices,
     .help = "Lowest level of log lines written to stderr"},
};

static int check(const void *settings, char *err, size_t errlen)
{
    const S *s = settings;
    if (s->token && s->token_file) {
        snprintf(err, errlen, "ruckus-server: --token and --token-file: give one of them");
        return RK_EINVAL;
    }
    if (!s->tls_cert != !s->tls_key) {
        snprintf(err, errlen, "ruckus-server: --tls-cert and --tls-key: give both or neither");
        return RK_EINVAL;
    }
    if (s->read_token && s->read_token_file) {
        snprintf(err, errlen,
                 "ruckus-server: --read-token and --read-token-file: give one of them");
        return RK_EINVAL;
    }
    if ((s->read_token || s->read_token_file) && !s->token && !s->token_file) {
        snprintf(err, errlen,
                 "ruckus-server: --read-token: a read-only token needs a full one "
                 "(--token or --token-file)");
        return RK_EINVAL;
    }
    if (s->webhook_secret && s->webhook_secret_file) {
        snprintf(err, errlen,
                 "ruckus-server: --webhook-secret and --webhook-secret-file: give one of them");
        return RK_EINVAL;
    }
    if (!s->token && !s->token_file && !rk_config_host_is_loopback(s->host)) {
        snprintf(
            err, errlen,
            "ruckus-server: --host (RUCKUS_SERVER_HOST): listening on \"%.100s\" needs a token "
            "(--token or RUCKUS_SERVER_API_TOKEN) or --token-file",
            s->host);
        return RK_EINVAL;
    }
    return RK_OK;
}

const rk_config_spec_t rk_server_config = {
    .program = "ruckus-server",
    .usage = "[OPTIONS]  |  migrate --from STORE --to STORE (see migrate --help)",
    .summary = "Coordinates benchmark jobs across a fleet of agents and serves the REST API.",
    .examples = "  ruckus-server\n"
                "  ruckus-server --port 9000 --storage memory --log-level debug\n"
                "  RUCKUS_SERVER_API_TOKEN=s3cret ruckus-server --host 0.0.0.0 --cors-origins "
                "https://ui.example.com\n"
                "  ruckus-server migrate --from sqlite:datastore/ruckus.db --to "
                "postgresql://ruckus@db/ruckus\n",
    .options = options,
    .count = sizeof options / sizeof options[0],
    .check = check,
};

int rk_server_settings_load(int argc, char **argv, rk_server_settings_t *s, rk_config_result_t *res,
                            char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    return rk_config_load(&rk_server_config, argc, argv, s, res, err, errlen);
}

static int one_token(const char *flag, const char *value, const char *file, char **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (file) {
        char why[256];
        int rc = rk_token_file_read(file, out, why, sizeof why);
        if (rc && rc != RK_ENOMEM)
            snprintf(err, errlen, "ruckus-server: %s-file %.200s: %s", flag, file, why);
        return rc;
    }
    if (value && !(*out = strdup(value)))
        return RK_ENOMEM;
    return RK_OK;
}

int rk_server_settings_tokens(const rk_server_settings_t *s, char **token, char **read_token,
                              char *err, size_t errlen)
{
    *token = *read_token = NULL;
    err[0] = '\0';
    int rc = one_token("--token", s->token, s->token_file, token, err, errlen);
    if (!rc)
        rc = one_token("--read-token", s->read_token, s->read_token_file, read_token, err, errlen);
    if (!rc && *token && *read_token && strcmp(*token, *read_token) == 0) {
        snprintf(err, errlen, "ruckus-server: --read-token: must differ from the full token");
        rc = RK_EINVAL;
    }
    if (rc) {
        rk_token_free(*token);
        rk_token_free(*read_token);
        *token = *read_token = NULL;
    }
    return rc;
}

int rk_server_settings_webhook_secret(const rk_server_settings_t *s, char **secret, char *err,
                                      size_t errlen)
{
    err[0] = '\0';
    return one_token("--webhook-secret", s->webhook_secret, s->webhook_secret_file, secret, err,
                     errlen);
}

void rk_server_settings_cleanup(rk_server_settings_t *s)
{
    rk_config_cleanup(&rk_server_config, s);
}

const char *rk_server_storage_name(int storage)
{
    if (storage < 0 || storage >= (int)(sizeof storage_choices / sizeof storage_choices[0]) - 1)
        return "unknown";
    return storage_choices[storage];
}
