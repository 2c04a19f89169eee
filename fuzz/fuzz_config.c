/* Command lines for the option tables: the input is argv[1..], split on NUL
 * bytes. Every load must end in success or a message, and leave the
 * settings freeable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/settings.h"
#include "cli/settings.h"
#include "server/settings.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[MAX_ARGS + 1] = {"prog"};
    int argc = 1;
    for (char *p = copy; p < copy + size && argc < MAX_ARGS; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    char err[RK_CONFIG_ERRLEN];
    rk_config_result_t res;
    rk_server_settings_t s;
    rk_server_settings_load(argc, argv, &s, &res, err, sizeof err);
    rk_server_settings_cleanup(&s);
    rk_agent_settings_t a;
    rk_agent_settings_load(argc, argv, &a, &res, err, sizeof err);
    rk_agent_settings_cleanup(&a);
    rk_cli_settings_t c;
    if (rk_cli_settings_load(argc, argv, &c, &res, err, sizeof err) == 0 && res.argi > argc)
        abort();
    rk_cli_settings_cleanup(&c);
    free(copy);
    return 0;
}
