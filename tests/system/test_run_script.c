/* scripts/run.sh, as the README tells a new user to start ruckus: it
 * honours the daemons' own port variables (RUCKUS_SERVER_PORT,
 * RUCKUS_AGENT_PORT), is ready within seconds of the agent starting (it
 * once stalled ~12 s on a lookup that could not match the CLI's JSON),
 * does not print an access-log line per health check, and stops both
 * daemons cleanly on SIGTERM. Built binaries and a temp data folder:
 * RK_BUILD=0, RK_DATA.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rk_test.h"

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static bool log_has(const char *path, const char *needle)
{
    char *s = rk_test_read_file(path, NULL);
    bool has = s && strstr(s, needle);
    free(s);
    return has;
}

static void test_run_script(void **state)
{
    (void)state;
    const char *src = getenv("RK_SOURCE_DIR");
    char *dir = rk_test_tmpdir();
    assert_non_null(dir);
    char script[1024], log[1024], data[1024], sport[16], aport[16];
    snprintf(script, sizeof script, "%s/scripts/run.sh", src ? src : "..");
    snprintf(log, sizeof log, "%s/run.log", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(sport, sizeof sport, "%d", free_port());
    snprintf(aport, sizeof aport, "%d", free_port());
    double t0 = rk_test_now_ms();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid();
        if (!freopen(log, "w", stdout) || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        setenv("RUCKUS_SERVER_PORT", sport, 1);
        setenv("RUCKUS_AGENT_PORT", aport, 1);
        unsetenv("RK_SERVER_PORT");
        unsetenv("RK_AGENT_PORT");
        unsetenv("RUCKUS_LOG_LEVEL");
        setenv("RK_DEMO", "0", 1);
        setenv("RK_BUILD", "0", 1);
        setenv("RK_DATA", data, 1);
        execlp("bash", "bash", script, (char *)NULL);
        _exit(127);
    }
    bool ready = false;
    while (!ready && rk_test_now_ms() - t0 < 20000) {
        ready = log_has(log, "Ctrl-C stops both");
        if (!ready)
            rk_test_sleep_ms(50);
    }
    double took = rk_test_now_ms() - t0;
    char want[64];
    snprintf(want, sizeof want, "port=%s", sport);
    bool on_port = log_has(log, want);
    snprintf(want, sizeof want, "http://127.0.0.1:%s", sport);
    bool said = log_has(log, want);
    /* Past a health check (every 5 s): still no access-log line. */
    if (ready)
        rk_test_sleep_ms(6000);
    bool quiet = !log_has(log, "http request");
    kill(-pid, SIGTERM);
    int st = 0;
    double t1 = rk_test_now_ms();
    while (waitpid(pid, &st, WNOHANG) == 0 && rk_test_now_ms() - t1 < 15000)
        rk_test_sleep_ms(50);
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    char *text = rk_test_read_file(log, NULL);
    if (!ready || took > 8000 || !on_port || !said || !quiet)
        fprintf(stderr, "ready %d after %.0f ms, on port %d, said %d, quiet %d; log:\n%s\n", ready,
                took, on_port, said, quiet, text ? text : "");
    free(text);
    rk_test_rmrf(dir);
    free(dir);
    assert_true(ready);
    assert_true(took < 8000);
    assert_true(on_port && said);
    assert_true(quiet);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_run_script)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
