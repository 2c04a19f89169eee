/* ruckus: the command-line client. Everything but process setup lives in
 * lib/cli (rk_cli_main). */
#include <signal.h>

#include "cli/cli.h"
#include "http/client.h"

int main(int argc, char **argv)
{
    /* A server closing mid-answer must not kill us (see http/client.h). */
    signal(SIGPIPE, SIG_IGN);
    if (rk_http_global_init())
        return RK_CLI_EXIT_FAILURE;
    int code = rk_cli_main(argc, argv);
    rk_http_global_cleanup();
    return code;
}
