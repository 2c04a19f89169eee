#include "agent/settings.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/tokenfile.h"
#include "model/agent.h"

#define S rk_agent_settings_t

/* Same order as rk_log_level_t. */
static const char *const level_choices[] = {"debug", "info", "warn", "error", NULL};
/* Same order as rk_agent_sync_t. */
static const char *const sync_choices[] = {"normal", "full", NULL};
/* Same order as rk_agent_sandbox_t. */
static const char *const sandbox_choices[] = {"auto", "bwrap", "none", NULL};
/* Same order as rk_agent_container_runtime_t. */
static const char *const container_choices[] = {"none", "podman", "docker", NULL};

/* --cgroup-root: a relative path below the agent's own cgroup, no "..". */
static int validate_cgroup_root(const void *field, const char **why)
{
    const char *s = *(char *const *)field;
    *why = "expected a relative path without '..' (e.g. ruckus or ruckus/agent-1)";
    if (s[0] == '/' || strlen(s) > 200)
        return RK_EINVAL;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 2 && p[0] == '.' && p[1] == '.') || (len == 1 && p[0] == '.'))
            return RK_EINVAL;
        p += len;
        if (*p == '/')
            p++;
    }
    return RK_OK;
}

/* The name is shown in listings and logs: printable, one line, bounded. */
static int validate_name(const void *field, const char **why)
{
    const char *s = *(char *const *)field;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            *why = "expected printable text of at most 128 bytes";
            return RK_EINVAL;
        }
    }
    if (n > 128) {
        *why = "expected printable text of at most 128 bytes";
        return RK_EINVAL;
    }
    return RK_OK;
}

/* Each label is key=value: a valid key (model/agent.h), a value of at most
 * RK_LABEL_VALUE_MAX bytes; a key once; at most RK_AGENT_LABELS_MAX. */
static int validate_labels(const void *field, const char **why)
{
    const rk_config_list_t *l = field;
    if (l->count > RK_AGENT_LABELS_MAX) {
        *why = "at most 64 labels";
        return RK_EINVAL;
    }
    for (size_t i = 0; i < l->count; i++) {
        const char *eq = strchr(l->items[i], '=');
        size_t kn = eq ? (size_t)(eq - l->items[i]) : 0;
        char key[RK_LABEL_KEY_MAX + 1];
        if (!eq || kn == 0 || kn > RK_LABEL_KEY_MAX) {
            *why = "expected key=value with a key of 1 to 63 characters from [A-Za-z0-9_.-/]";
            return RK_EINVAL;
        }
        memcpy(key, l->items[i], kn);
        key[kn] = '\0';
        if (!rk_label_key_valid(key)) {
            *why = "expected key=value with a key of 1 to 63 characters from [A-Za-z0-9_.-/]";
            return RK_EINVAL;
        }
        if (strlen(eq + 1) > RK_LABEL_VALUE_MAX) {
            *why = "a label value is at most 255 bytes";
            return RK_EINVAL;
        }
        for (size_t k = 0; k < i; k++) {
            if (strncmp(l->items[k], l->items[i], kn + 1) == 0) {
                *why = "a label key is given twice";
                return RK_EINVAL;
            }
        }
    }
    return RK_OK;
}

static const rk_config_option_t options[] = {
    {.name = "host",
     .env = "RUCKUS_AGENT_HOST",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, host),
     .def = "127.0.0.1",
     .metavar = "ADDR",
     .flags = RK_CONFIG_NONEMPTY,
     .help = "Address to listen on; other than loopback it needs --token"},
    {.name = "port",
     .env = "RUCKUS_AGENT_PORT",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, port),
     .def = "8081",
     .min = 0,
     .max = 65535,
     .help = "TCP port to listen on; 0 picks a free one (logged)"},
    {.name = "data-dir",
     .env = "RUCKUS_AGENT_DATA_DIR",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, data_dir),
     .def = "./agent-data",
     .flags = RK_CONFIG_NONEMPTY,
     .help = "Folder for job folders, their output and the agent's state"},
    {.name = "slots",
     .env = "RUCKUS_AGENT_SLOTS",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, slots),
     .def = "1",
     .min = 1,
     .max = 1024,
     .help = "Jobs this agent runs at the same time"},
    {.name = "name",
     .env = "RUCKUS_AGENT_NAME",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, name),
     .def_doc = "the hostname",
     .validate = validate_name,
     .help = "Name shown for this agent"},
    {.name = "token",
     .env = "RUCKUS_AGENT_TOKEN",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, token),
     .metavar = "TOKEN",
     .flags = RK_CONFIG_SECRET,
     .help = "Bearer token every call to this agent must carry; unset: no authentication"},
    {.name = "token-file",
     .env = "RUCKUS_AGENT_TOKEN_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, token_file),
     .metavar = "PATH",
     .help = "File holding the agent's token instead of --token (one trailing newline ignored); "
             "re-read on SIGHUP, so the token rotates without a restart"},
    {.name = "register-with",
     .env = "RUCKUS_AGENT_REGISTER_WITH",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, register_with),
     .metavar = "URL",
     .validate = rk_config_validate_url,
     .help = "Server URL to register with at start; unset: wait to be added"},
    {.name = "tls-cert",
     .env = "RUCKUS_AGENT_TLS_CERT",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, tls_cert),
     .metavar = "FILE",
     .help = "PEM certificate (chain) to serve HTTPS with, with --tls-key; unset: plain HTTP"},
    {.name = "tls-key",
     .env = "RUCKUS_AGENT_TLS_KEY",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, tls_key),
     .metavar = "FILE",
     .help = "PEM private key of --tls-cert"},
    {.name = "ca-file",
     .env = "RUCKUS_AGENT_CA_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, ca_file),
     .metavar = "FILE",
     .help = "PEM file of the certificate authorities an https:// --register-with server is "
             "verified against; unset: the "
             "system store"},
    {.name = "server-token",
     .env = "RUCKUS_AGENT_SERVER_TOKEN",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, server_token),
     .metavar = "TOKEN",
     .flags = RK_CONFIG_SECRET,
     .help = "Token to send to the server when registering"},
    {.name = "exit-when-idle",
     .env = "RUCKUS_AGENT_EXIT_WHEN_IDLE",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(S, exit_when_idle),
     .def = "0",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 31536000,
     .help = "Exit after SECONDS with no job to run and every result collected, and unregister "
             "from --register-with at any clean exit (a pilot agent, e.g. a Slurm job); 0: never"},
    {.name = "models-dir",
     .env = "RUCKUS_AGENT_MODELS_DIR",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, models_dir),
     .def_doc = "<data-dir>/models",
     .help = "Folder scanned for models this agent can serve"},
    {.name = "llm-api-key-env",
     .env = "RUCKUS_AGENT_LLM_API_KEY_ENV",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, llm_api_key_env),
     .metavar = "NAME",
     .help = "Environment variable whose value llm_generation jobs send as their API key "
             "(a key never comes from the spec)"},
    {.name = "retention-days",
     .env = "RUCKUS_AGENT_RETENTION_DAYS",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, retention_days),
     .def = "7",
     .metavar = "DAYS",
     .min = 1,
     .max = 36500,
     .help = "Days a finished job's folder is kept before it is deleted"},
    {.name = "grace",
     .env = "RUCKUS_AGENT_GRACE_SECONDS",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(S, grace),
     .def = "10",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 3600,
     .help = "Seconds a stopped job gets between SIGTERM and SIGKILL"},
    {.name = "log-cap",
     .env = "RUCKUS_AGENT_LOG_CAP_BYTES",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, log_cap),
     .def = "16777216",
     .metavar = "BYTES",
     .min = 4096,
     .max = INT64_C(1) << 40,
     .help = "Bytes of stdout and stderr kept per job; the rest is dropped"},
    {.name = "log-level",
     .env = "RUCKUS_LOG_LEVEL",
     .type = RK_CONFIG_ENUM,
     RK_CONFIG_FIELD(S, log_level),
     .def = "info",
     .choices = level_choices,
     .help = "Lowest level of log lines written to stderr"},
    {.name = "sync",
     .env = "RUCKUS_AGENT_SYNC",
     .type = RK_CONFIG_ENUM,
     RK_CONFIG_FIELD(S, sync),
     .def = "normal",
     .choices = sync_choices,
     .help =
         "Durability of job records: normal (atomic writes, no fsync: survives a kill -9 of the "
         "agent) or full (fdatasync and folder fsync: survives a power loss)"},
    {.name = "label",
     .env = "RUCKUS_AGENT_LABELS",
     .type = RK_CONFIG_LIST,
     RK_CONFIG_FIELD(S, labels),
     .metavar = "KEY=VALUE",
     .flags = RK_CONFIG_REPEAT,
     .validate = validate_labels,
     .help = "A label of this agent (AgentInfo labels), matched by jobs placed with an "
             "agent_selector; repeat the flag for more (the environment variable takes them "
             "comma-separated). Keys: 1 to 63 of [A-Za-z0-9_.-/]; values: at most 255 bytes"},
    {.name = "sandbox",
     .env = "RUCKUS_AGENT_SANDBOX",
     .type = RK_CONFIG_ENUM,
     RK_CONFIG_FIELD(S, sandbox),
     .def = "auto",
     .choices = sandbox_choices,
     .help = "Sandbox for jobs asking for isolation: auto (bwrap when it works here), bwrap "
             "(required: no start without it) or none (such jobs are refused)"},
    {.name = "cgroup-root",
     .env = "RUCKUS_AGENT_CGROUP_ROOT",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, cgroup_root),
     .def_doc = "ruckus/<agent id>",
     .metavar = "PATH",
     .flags = RK_CONFIG_NONEMPTY,
     .validate = validate_cgroup_root,
     .help = "Cgroup, below the agent's own, holding its jobs' groups; one per agent (what is "
             "left in it is removed at start)"},
    {.name = "images-dir",
     .env = "RUCKUS_AGENT_IMAGES_DIR",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, images_dir),
     .help = "Folder of images jobs may run in (isolation.rootfs): directories, OCI layouts, "
             "oci-archives, rootfs tarballs; unset: none"},
    {.name = "image-cache-dir",
     .env = "RUCKUS_AGENT_IMAGE_CACHE_DIR",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, image_cache_dir),
     .def_doc = "<data-dir>/images",
     .help = "Folder where images are unpacked once, shared by the jobs using them"},
    {.name = "image-cache-days",
     .env = "RUCKUS_AGENT_IMAGE_CACHE_DAYS",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(S, image_cache_days),
     .def = "30",
     .metavar = "DAYS",
     .min = 1,
     .max = 36500,
     .help = "Days an unpacked image nobody used is kept before it is removed"},
    {.name = "allow-bind",
     .env = "RUCKUS_AGENT_ALLOW_BIND",
     .type = RK_CONFIG_LIST,
     RK_CONFIG_FIELD(S, allow_bind),
     .metavar = "DIRS",
     .help = "Host folders (comma-separated) sandboxed jobs may bind (isolation.binds); none by "
             "default"},
    {.name = "run-as",
     .env = "RUCKUS_AGENT_RUN_AS",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, run_as),
     .metavar = "USER",
     .help = "User that jobs with isolation or limits run as; unset: the agent's user"},
    {.name = "container-runtime",
     .env = "RUCKUS_AGENT_CONTAINER_RUNTIME",
     .type = RK_CONFIG_ENUM,
     RK_CONFIG_FIELD(S, container_runtime),
     .def = "none",
     .choices = container_choices,
     .help = "Container engine for jobs with task.params.container: none (such jobs are "
             "refused), podman or docker (probed at start with \"<runtime> info\": no start "
             "when it does not answer)"},
    {.name = "container-runtime-path",
     .env = "RUCKUS_AGENT_CONTAINER_RUNTIME_PATH",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, container_runtime_path),
     .def_doc = "the runtime's name, found on PATH",
     .help = "Program of --container-runtime"},
    {.name = "container-run-arg",
     .env = "RUCKUS_AGENT_CONTAINER_RUN_ARGS",
     .type = RK_CONFIG_LIST,
     RK_CONFIG_FIELD(S, container_run_args),
     .metavar = "ARG",
     .flags = RK_CONFIG_REPEAT,
     .help = "An extra argument of every \"<runtime> run\", before the image (e.g. "
             "--container-run-arg=--runtime=runc); repeat the flag for more (the environment "
             "variable takes them comma-separated)"},
};

static int check(const void *settings, char *err, size_t errlen)
{
    const S *s = settings;
    if (s->token && s->token_file) {
        snprintf(err, errlen, "ruckus-agent: --token and --token-file: give one of them");
        return RK_EINVAL;
    }
    if (!s->tls_cert != !s->tls_key) {
        snprintf(err, errlen, "ruckus-agent: --tls-cert and --tls-key: give both or neither");
        return RK_EINVAL;
    }
    if (!s->token && !s->token_file && !rk_config_host_is_loopback(s->host)) {
        snprintf(err, errlen,
                 "ruckus-agent: --host (RUCKUS_AGENT_HOST): listening on \"%.100s\" needs a token "
                 "(--token or RUCKUS_AGENT_TOKEN) or --token-file",
                 s->host);
        return RK_EINVAL;
    }
    return RK_OK;
}

const rk_config_spec_t rk_agent_config = {
    .program = "ruckus-agent",
    .usage = "[OPTIONS]",
    .summary = "Runs benchmark jobs on this machine for a ruckus server.",
    .examples = "  ruckus-agent\n"
                "  ruckus-agent --slots 4 --data-dir /var/lib/ruckus-agent\n"
                "  RUCKUS_AGENT_TOKEN=s3cret ruckus-agent --host 0.0.0.0 --register-with "
                "http://server:8000\n",
    .options = options,
    .count = sizeof options / sizeof options[0],
    .check = check,
};

/* Defaults that depend on the machine or on other options. */
static int fill_computed(S *s, char *err, size_t errlen)
{
    if (s->token_file) {
        char why[256];
        int rc = rk_token_file_read(s->token_file, &s->token, why, sizeof why);
        if (rc && rc != RK_ENOMEM)
            snprintf(err, errlen, "ruckus-agent: --token-file %.200s: %s", s->token_file, why);
        if (rc)
            return rc == RK_ENOMEM ? rc : RK_EINVAL;
    }
    if (!s->name) {
        char host[HOST_NAME_MAX + 1];
        if (gethostname(host, sizeof host) != 0) {
            snprintf(
                err, errlen,
                "ruckus-agent: --name (RUCKUS_AGENT_NAME): cannot read the hostname; set a name");
            return RK_EIO;
        }
        host[HOST_NAME_MAX] = '\0';
        if (!(s->name = strdup(host)))
            return RK_ENOMEM;
    }
    if (!s->models_dir) {
        rk_buf_t b;
        rk_buf_init(&b, 4096 + PATH_MAX);
        int rc = rk_buf_printf(&b, "%s/models", s->data_dir);
        if (rc) {
            rk_buf_cleanup(&b);
            return rc;
        }
        if (!(s->models_dir = rk_buf_take(&b)))
            return RK_ENOMEM;
    }
    if (!s->image_cache_dir) {
        rk_buf_t b;
        rk_buf_init(&b, 4096 + PATH_MAX);
        int rc = rk_buf_printf(&b, "%s/images", s->data_dir);
        if (rc) {
            rk_buf_cleanup(&b);
            return rc;
        }
        if (!(s->image_cache_dir = rk_buf_take(&b)))
            return RK_ENOMEM;
    }
    return RK_OK;
}

int rk_agent_settings_load(int argc, char **argv, rk_agent_settings_t *s, rk_config_result_t *res,
                           char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    int rc = rk_config_load(&rk_agent_config, argc, argv, s, res, err, errlen);
    if (rc || res->action != RK_CONFIG_RUN)
        return rc;
    return fill_computed(s, err, errlen);
}

void rk_agent_settings_cleanup(rk_agent_settings_t *s)
{
    rk_config_cleanup(&rk_agent_config, s);
}
