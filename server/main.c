/* ruckus-server: settings -> rk_server (lib/server) -> wait for SIGTERM or
 * SIGINT -> graceful stop; or `ruckus-server migrate ...` (the store copy).
 * Wiring only. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/signals.h"
#include "http/client.h"
#include "server/migrate.h"
#include "server/server.h"
#include "server/settings.h"

int main(int argc, char **argv)
{
    rk_server_settings_t s;
    rk_config_result_t res;
    rk_server_t *srv = NULL;
    char err[RK_CONFIG_ERRLEN];
    int code = 0;
    bool http_init = false;
    if (argc > 1 && strcmp(argv[1], "migrate") == 0)
        return rk_server_migrate_main(argc - 1, argv + 1);
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

    sigset_t stop; /* before any thread starts: see base/signals.h */
    rk_stop_signals_block(&stop);

    rk_config_log(&rk_server_config, &s, RK_LOG_INFO, "starting");
    if (rk_http_global_init() != 0) {
        rk_log_error("could not initialize the HTTP client");
        code = 1;
        goto done;
    }
    http_init = true;
    if (rk_http_set_ca_file(s.ca_file) != 0) {
        code = 1;
        goto done;
    }
    if ((rc = rk_server_new(&s, &srv)) || (rc = rk_server_start(srv))) {
        if (rc == RK_ESTATE && !srv)
            goto done; /* stopped while standing by: logged, exit 0 */
        rk_log_error("could not start", "error", rk_strerror(rc));
        code = 1;
        goto done;
    }
    const char *signame;
    while (strcmp(signame = rk_stop_signals_wait(&stop), "SIGHUP") == 0) {
        rk_server_reload_tokens(srv, &s);
        rk_server_reload_tls(srv, &s);
    }
    rk_log_info("stopping", "signal", signame);
    rk_server_stop(srv);
    rk_log_info("stopped", "signal", signame);
    if (rk_server_fenced(srv))
        code = 3; /* another server dispatches now: whoever restarts us finds us standing by */
done:
    rk_server_free(srv);
    if (http_init)
        rk_http_global_cleanup();
    rk_server_settings_cleanup(&s);
    return code;
}
