/* Program configuration driven by one table (after Redis's configs[]).
 *
 * Each program describes its options once, as an array of rk_config_option_t
 * inside an rk_config_spec_t. That table drives everything: defaults, the
 * environment variables, the command-line flags, validation, --help, the
 * markdown reference (docs/configuration.md) and the startup log line.
 *
 * Precedence: flag > environment > default. An environment variable set to
 * the empty string counts as unset. Flags take "--name=value" or
 * "--name value"; a bool flag alone ("--json") means true. "--" ends the
 * options. Every value, defaults included, goes through the same parser and
 * validator, so a table with a bad default fails loudly in its tests.
 *
 * Field types in the settings struct, by option type:
 *   STRING, PATH  char *             (owned; NULL when unset)
 *   INT           int64_t
 *   DOUBLE        double
 *   BOOL          bool
 *   ENUM          int                (index into choices)
 *   LIST          rk_config_list_t   (owned; comma-separated on input)
 * RK_CONFIG_FIELD(type, field) records offset and size; the size is checked
 * against the option type at load, so a mismatched table cannot corrupt
 * memory.
 */
#ifndef RK_BASE_CONFIG_H
#define RK_BASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"

/* Room for any message rk_config_load writes. */
#define RK_CONFIG_ERRLEN 512
/* Most options one spec may have (bounds the startup log line). */
#define RK_CONFIG_MAX_OPTIONS 48

typedef enum rk_config_type {
    RK_CONFIG_STRING,
    RK_CONFIG_PATH,
    RK_CONFIG_INT,
    RK_CONFIG_DOUBLE,
    RK_CONFIG_BOOL,
    RK_CONFIG_ENUM,
    RK_CONFIG_LIST,
} rk_config_type_t;

enum {
    /* Never printed: not in --help, the markdown, logs or error messages. */
    RK_CONFIG_SECRET = 1 << 0,
    /* DOUBLE: the minimum itself is not allowed (e.g. "greater than 0"). */
    RK_CONFIG_MIN_EXCLUSIVE = 1 << 1,
    /* STRING/PATH: the empty string is an error instead of "unset". */
    RK_CONFIG_NONEMPTY = 1 << 2,
    /* LIST: the flag may be repeated, each time one item taken whole (no
     * comma split: an item may hold commas); the first flag replaces the
     * environment's list, later ones add to it. The environment variable
     * stays comma-separated. */
    RK_CONFIG_REPEAT = 1 << 3,
};

/* A list of strings; items are owned by the list. */
typedef struct rk_config_list {
    char **items;
    size_t count;
} rk_config_list_t;

/* Checks a parsed value in place (field points at the struct member). On
 * failure returns RK_EINVAL and sets *why to static text phrased like
 * "expected an http:// or https:// URL". */
typedef int (*rk_config_validate_fn)(const void *field, const char **why);

typedef struct rk_config_option {
    const char *name; /* flag without dashes: "port" is --port */
    const char *env;  /* "RUCKUS_SERVER_PORT", or NULL for flag-only */
    rk_config_type_t type;
    size_t offset;                  /* of the field in the settings struct */
    size_t size;                    /* of the field, checked against type */
    const char *def;                /* default as text; NULL means unset/zero */
    const char *def_doc;            /* shown instead of def when the default is computed */
    const char *metavar;            /* placeholder in --help ("SECONDS"); NULL: by type */
    const char *help;               /* one line, no trailing period needed */
    const char *const *choices;     /* ENUM: NULL-terminated */
    int64_t min, max;               /* INT range, inclusive */
    double dmin, dmax;              /* DOUBLE range (dmin exclusive if flagged) */
    unsigned flags;                 /* RK_CONFIG_SECRET, ... */
    rk_config_validate_fn validate; /* optional extra check */
} rk_config_option_t;

#define RK_CONFIG_FIELD(type, field)                                                               \
    .offset = offsetof(type, field), .size = sizeof(((type *)0)->field)

typedef struct rk_config_spec {
    const char *program;  /* "ruckus-server": prefixes every message */
    const char *usage;    /* "[OPTIONS]" or "[OPTIONS] COMMAND [ARGS...]" */
    const char *summary;  /* one sentence */
    const char *examples; /* lines for --help, each a full command */
    const rk_config_option_t *options;
    size_t count;
    /* Non-option arguments allowed: parsing stops at the first one (the
     * CLI's command). Otherwise one is an error. */
    bool positional;
    /* Rules across options, run after everything is loaded. Writes a full
     * message (program prefix included) and returns RK_EINVAL to refuse. */
    int (*check)(const void *settings, char *err, size_t errlen);
} rk_config_spec_t;

typedef enum rk_config_action {
    RK_CONFIG_RUN,      /* settings are loaded; go on */
    RK_CONFIG_HELP,     /* --help or -h */
    RK_CONFIG_VERSION,  /* --version */
    RK_CONFIG_MARKDOWN, /* --help-config-markdown (hidden) */
} rk_config_action_t;

typedef struct rk_config_result {
    rk_config_action_t action;
    int argi; /* index in argv of the first positional argument, or argc */
} rk_config_result_t;

/* Loads settings into the struct the spec describes: defaults, then the
 * environment, then argv (argv[0] is skipped). The table's fields are
 * overwritten, so settings must start zeroed or already loaded. For a help,
 * version or markdown request it returns 0 with that action and the fields
 * still at their defaults. Returns RK_EINVAL with a one-line message naming
 * the option in err (exit code 2 material), or RK_ENOMEM. In every case the
 * struct is left for rk_config_cleanup. */
int rk_config_load(const rk_config_spec_t *spec, int argc, char **argv, void *settings,
                   rk_config_result_t *res, char *err, size_t errlen);

/* Frees the strings and lists the spec's fields own and zeroes them. */
void rk_config_cleanup(const rk_config_spec_t *spec, void *settings);

/* Appends the --help text: usage, one line per option (flag, environment
 * variable, default, help), the built-in flags, then the examples. */
int rk_config_help(const rk_config_spec_t *spec, rk_buf_t *out);

/* Appends the markdown reference section of one program. */
int rk_config_markdown(const rk_config_spec_t *spec, rk_buf_t *out);

/* Appends the whole docs/configuration.md: an introduction on precedence
 * and formats, then one section per spec. */
int rk_config_markdown_doc(const rk_config_spec_t *const *specs, size_t n, rk_buf_t *out);

/* Appends the current value of one option as text ("8000", "a,b", "true");
 * a secret appends "(set)" or "(unset)" instead. */
int rk_config_format(const rk_config_option_t *opt, const void *settings, rk_buf_t *out);

/* Writes one log line at level: msg followed by every option as
 * name=value (dashes become underscores), secrets as (set)/(unset). */
void rk_config_log(const rk_config_spec_t *spec, const void *settings, int level, const char *msg);

/* Handles a non-RUN action: writes help, version ("ruckus-server 0.1.0") or
 * markdown to out. Returns the exit code (0, or 1 if writing failed). */
int rk_config_print(const rk_config_spec_t *spec, rk_config_action_t action, FILE *out);

/* Validators and rules shared by the programs' tables. */

/* STRING: an http:// or https:// URL with a host part. */
int rk_config_validate_url(const void *field, const char **why);
/* LIST: every item is "*" or an http(s) origin without a path. */
int rk_config_validate_origins(const void *field, const char **why);
/* True for addresses only this machine can reach (127.0.0.0/8, ::1,
 * localhost). The programs refuse to listen elsewhere without a token. */
bool rk_config_host_is_loopback(const char *host);

#endif
