/* ruckus-agent: settings, then the agent (lib/agent) until SIGTERM or
 * SIGINT, then a graceful stop. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/settings.h"
#include "base/err.h"
#include "base/log.h"
#include "base/signals.h"
#include "exec/supervisor.h"

int main(int argc, char **argv)
{
    rk_agent_settings_t s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    rk_agent_t *agent = NULL;
    int code = 0;
    if (argc > 1 && strcmp(argv[1], RK_AGENT_HELPER_ARG) == 0)
        rk_agent_helper_main(argc - 2, argv + 2);
    int rc = rk_agent_settings_load(argc, argv, &s, &res, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err[0] ? err : rk_strerror(rc));
        code = rc == RK_EINVAL ? 2 : 1;
        goto done;
    }
    if (res.action != RK_CONFIG_RUN) {
        code = rk_config_print(&rk_agent_config, res.action, stdout);
        goto done;
    }
    rk_log_set_level((rk_log_level_t)s.log_level);

    sigset_t stop; /* before any thread starts: see base/signals.h */
    rk_stop_signals_block(&stop);

    rk_config_log(&rk_agent_config, &s, RK_LOG_INFO, "starting");
    /* Registration loads libcurl in a short-lived child (lib/agent), so the
     * agent itself never maps it. */
    if (rk_exec_init() != 0) {
        rk_log_error("cannot prepare the process to run jobs");
        code = 1;
        goto done;
    }
    if ((rc = rk_agent_new(&s, &agent)) != 0 || (rc = rk_agent_start(agent)) != 0) {
        rk_log_error("cannot start the agent", "error", rk_strerror(rc));
        code = 1;
        goto cleanup;
    }
    const char *signame;
    while (strcmp(signame = rk_stop_signals_wait(&stop), "SIGHUP") == 0) {
        rk_agent_reload_token(agent);
        rk_agent_reload_tls(agent);
    }
    rk_log_info("stopping", "signal", signame);
    rk_agent_stop(agent);
    rk_log_info("stopped", "signal", signame);
cleanup:
    rk_agent_free(agent);
done:
    rk_agent_settings_cleanup(&s);
    return code;
}
