/* ruckus: the command-line client. Global options come from the table in
 * lib/cli/settings.c; the commands follow them. */
#include <stdio.h>

#include "base/err.h"
#include "cli/settings.h"

int main(int argc, char **argv)
{
    rk_cli_settings_t s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    int code = 0;
    int rc = rk_cli_settings_load(argc, argv, &s, &res, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err[0] ? err : rk_strerror(rc));
        code = rc == RK_EINVAL ? 2 : 1;
    } else if (res.action != RK_CONFIG_RUN || res.argi == argc) {
        code = rk_config_print(&rk_cli_config, res.action == RK_CONFIG_RUN ? RK_CONFIG_HELP : res.action, stdout);
    } else {
        fprintf(stderr, "ruckus: unknown command \"%.100s\" (see --help)\n", argv[res.argi]);
        code = 2;
    }
    rk_cli_settings_cleanup(&s);
    return code;
}
