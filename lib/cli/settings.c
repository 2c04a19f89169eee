#include "cli/settings.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/tokenfile.h"

#define S rk_cli_settings_t

static const rk_config_option_t options[] = {
    {.name = "server",
     .env = "RUCKUS_SERVER_URL",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, server),
     .def = "http://127.0.0.1:8000",
     .metavar = "URL",
     .flags = RK_CONFIG_NONEMPTY,
     .validate = rk_config_validate_url,
     .help = "Base URL of the ruckus server"},
    {.name = "token",
     .env = "RUCKUS_SERVER_API_TOKEN",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, token),
     .metavar = "TOKEN",
     .flags = RK_CONFIG_SECRET,
     .help = "API token sent as a bearer token"},
    {.name = "token-file",
     .env = "RUCKUS_SERVER_API_TOKEN_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, token_file),
     .metavar = "PATH",
     .help = "File holding the API token instead of --token (one trailing newline ignored)"},
    {.name = "ca-file",
     .env = "RUCKUS_CA_FILE",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(S, ca_file),
     .metavar = "FILE",
     .help = "PEM file of the certificate authorities an https:// server is verified against; "
             "unset: the system store"},
    {.name = "json",
     .env = "RUCKUS_CLI_JSON",
     .type = RK_CONFIG_BOOL,
     RK_CONFIG_FIELD(S, json),
     .def = "false",
     .help = "Print the server's JSON instead of tables"},
    {.name = "timeout",
     .env = "RUCKUS_CLI_TIMEOUT",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(S, timeout),
     .def = "30",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 86400,
     .flags = RK_CONFIG_MIN_EXCLUSIVE,
     .help = "Seconds to wait for each answer from the server"},
};

const rk_config_spec_t rk_cli_config = {
    .program = "ruckus",
    .usage = "[OPTIONS] COMMAND [ARGS...]",
    .summary = "Command-line client of a ruckus server.",
    .examples = "  ruckus --help\n"
                "  ruckus --server http://server:8000 --json COMMAND\n"
                "  RUCKUS_SERVER_API_TOKEN=s3cret ruckus COMMAND\n",
    .options = options,
    .count = sizeof options / sizeof options[0],
    .positional = true,
};

int rk_cli_settings_load(int argc, char **argv, rk_cli_settings_t *s, rk_config_result_t *res,
                         char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    int rc = rk_config_load(&rk_cli_config, argc, argv, s, res, err, errlen);
    if (rc || res->action != RK_CONFIG_RUN || !s->token_file)
        return rc;
    if (s->token) {
        snprintf(err, errlen, "ruckus: --token and --token-file: give one of them");
        return RK_EINVAL;
    }
    char why[256];
    rc = rk_token_file_read(s->token_file, &s->token, why, sizeof why);
    if (rc && rc != RK_ENOMEM)
        snprintf(err, errlen, "ruckus: --token-file %.200s: %s", s->token_file, why);
    return rc && rc != RK_ENOMEM ? RK_EINVAL : rc;
}

void rk_cli_settings_cleanup(rk_cli_settings_t *s)
{
    rk_config_cleanup(&rk_cli_config, s);
}
