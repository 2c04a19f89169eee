/* ruckus-server: loads the settings and runs until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"
#include "server/settings.h"

int main(int argc, char **argv)
{
    rk_server_settings_t s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    int code = 0;
    int rc = rk_server_settings_load(argc, argv, &s, &res, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err[0] ? err : rk_strerror(rc));
        code = rc == RK_EINVAL ? 2 : 1;
        goto done;
    }
    if (res.action != RK_CONFIG_RUN) {
        code = rk_config_print(&rk_server_config, res.action, stdout);
        goto done;
    }
    rk_log_set_level((rk_log_level_t)s.log_level);

    /* Blocked before any thread starts, so only sigwait below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    rk_config_log(&rk_server_config, &s, RK_LOG_INFO, "starting");
    int sig = 0;
    sigwait(&stop, &sig);
    rk_log_info("stopped", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
done:
    rk_server_settings_cleanup(&s);
    return code;
}
