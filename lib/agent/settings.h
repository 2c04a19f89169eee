/* ruckus-agent configuration: the option table and the struct it fills.
 *
 * Every option is described once in rk_agent_config (settings.c); flags,
 * environment variables, --help and docs/configuration.md all come from it.
 */
#ifndef RK_AGENT_SETTINGS_H
#define RK_AGENT_SETTINGS_H

#include <stdint.h>

#include "base/config.h"

typedef struct rk_agent_settings {
    char *host; /* listen address */
    int64_t port;
    char *data_dir;   /* job folders, logs, state */
    int64_t slots;    /* jobs run at once */
    char *name;       /* never NULL after load: the hostname by default */
    char *token;      /* token callers of this agent must carry (read from token_file
                         at load when that is set) */
    char *token_file; /* file holding the token; re-read on SIGHUP */
    char *tls_cert;   /* HTTPS certificate and key files; NULL: plain HTTP */
    char *tls_key;
    char *ca_file;       /* CAs an https:// register-with server is verified against */
    char *register_with; /* server URL to register with at start, or NULL */
    char *server_token;  /* token sent to that server */
    /* Pilot agents (a Slurm job): exit after this many seconds with nothing
     * to do, unregistering from register_with; 0: never. */
    double exit_when_idle;
    char *models_dir;      /* never NULL after load: <data_dir>/models by default */
    char *llm_api_key_env; /* names the variable with llm_generation's API key, or NULL */
    int64_t retention_days;
    double grace;    /* seconds between SIGTERM and SIGKILL on stop */
    int64_t log_cap; /* bytes of output kept per job */
    int log_level;   /* rk_log_level_t */
    int sync;        /* rk_agent_sync_t: how durable the job records are */
    /* "key=value" items, each checked (rk_label_key_valid, value at most
     * RK_LABEL_VALUE_MAX bytes, keys unique, at most RK_AGENT_LABELS_MAX):
     * AgentInfo labels, which placement by agent_selector matches. */
    rk_config_list_t labels;
    /* Isolation (docs/isolation.md). */
    int sandbox;                 /* rk_agent_sandbox_t */
    char *cgroup_root;           /* relative; its jobs' groups; NULL: ruckus/<agent id> */
    char *images_dir;            /* images jobs may name as rootfs; NULL: none */
    char *image_cache_dir;       /* never NULL after load: <data_dir>/images by default */
    int64_t image_cache_days;    /* unpacked images unused this long are removed */
    rk_config_list_t allow_bind; /* host directories jobs may bind from */
    char *run_as;                /* user isolated jobs run as; NULL: the agent's */
    /* Container runtime for task.params.container (docs/isolation.md,
     * "Container runtime"). */
    int container_runtime;               /* rk_agent_container_runtime_t */
    char *container_runtime_path;        /* its program; NULL: the name, found on PATH */
    rk_config_list_t container_run_args; /* extra arguments of every "<rt> run" */
} rk_agent_settings_t;

/* --container-runtime. */
typedef enum rk_agent_container_runtime {
    RK_AGENT_CONTAINER_NONE = 0, /* jobs asking for a container are refused */
    RK_AGENT_CONTAINER_PODMAN,
    RK_AGENT_CONTAINER_DOCKER,
} rk_agent_container_runtime_t;

/* --sandbox: whether command jobs asking for isolation can get it. */
typedef enum rk_agent_sandbox {
    RK_AGENT_SANDBOX_AUTO = 0, /* bwrap when it works here (probed at start), else none */
    RK_AGENT_SANDBOX_BWRAP,    /* bwrap; the agent does not start without it */
    RK_AGENT_SANDBOX_NONE,     /* no sandbox: jobs asking for isolation are refused */
} rk_agent_sandbox_t;

/* Durability of the job records, named like SQLite's synchronous levels
 * (docs/agent.md, "The data dir"). Every record is written atomically
 * (temp file + rename) at both levels. */
typedef enum rk_agent_sync {
    RK_AGENT_SYNC_NORMAL = 0, /* no fsync: survives a kill -9 of the agent, not a power loss */
    RK_AGENT_SYNC_FULL,       /* fdatasync + folder fsync: survives a power loss */
} rk_agent_sync_t;

extern const rk_config_spec_t rk_agent_config;

/* Loads s from defaults, environment and argv (see base/config.h), then
 * fills the computed defaults (name, models_dir); s need not be
 * initialized. RK_EINVAL with a message naming the option in err,
 * RK_ENOMEM, or RK_EIO if the hostname cannot be read. s must be passed to
 * rk_agent_settings_cleanup afterwards in every case. */
int rk_agent_settings_load(int argc, char **argv, rk_agent_settings_t *s, rk_config_result_t *res,
                           char *err, size_t errlen);
void rk_agent_settings_cleanup(rk_agent_settings_t *s);

#endif
