/* ruckus (the CLI) global options: the table and the struct it fills.
 *
 * Global options come before the command ("ruckus --json jobs list");
 * parsing stops at the first non-option argument, whose index the load
 * returns in rk_config_result_t.argi.
 */
#ifndef RK_CLI_SETTINGS_H
#define RK_CLI_SETTINGS_H

#include "base/config.h"

typedef struct rk_cli_settings {
    char *server; /* base URL of the server */
    char *token;  /* API token, or NULL (read from token_file when that is set) */
    char *token_file;
    char *ca_file;  /* CAs to verify an https:// server with; NULL: the system store */
    bool json;      /* print raw JSON instead of tables */
    double timeout; /* seconds per HTTP request */
} rk_cli_settings_t;

extern const rk_config_spec_t rk_cli_config;

/* Loads s from defaults, environment and argv (see base/config.h); s need
 * not be initialized. RK_EINVAL with a message naming the option in err,
 * or RK_ENOMEM. s must be passed to rk_cli_settings_cleanup afterwards in
 * every case. */
int rk_cli_settings_load(int argc, char **argv, rk_cli_settings_t *s, rk_config_result_t *res,
                         char *err, size_t errlen);
void rk_cli_settings_cleanup(rk_cli_settings_t *s);

#endif
