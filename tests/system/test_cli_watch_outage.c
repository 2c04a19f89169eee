/* `ruckus job watch` rides out a server restart: kill -9 of the server
 * while a job runs, a restart on the same port a few seconds later; the
 * watch says once, on its own line, that the server stopped answering,
 * then that it answers again, and exits 0 when the job completes. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server_fixture.h"

static void test_watch_rides_out_a_restart(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(&f, "slow", "sleep 7", 0, exp);
    json_t *j = fx_job(&f, exp, 0, 201);
    char id[80];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);
    json_decref(fx_wait_job(&f, id, "running", 10000));

    char port[16], url[64], outp[700], errp[700];
    snprintf(port, sizeof port, "%u", f.srv.port);
    snprintf(url, sizeof url, "http://127.0.0.1:%s", port);
    snprintf(outp, sizeof outp, "%s/watch.out", f.dir);
    snprintf(errp, sizeof errp, "%s/watch.err", f.dir);
    const char *bin = getenv("RK_BIN_DIR");
    char prog[1024];
    snprintf(prog, sizeof prog, "%s/ruckus", bin ? bin : "bin");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(outp, "w", stdout) || !freopen(errp, "w", stderr))
            _exit(126);
        setenv("NO_COLOR", "1", 1);
        execl(prog, "ruckus", "--server", url, "job", "watch", id, (char *)NULL);
        _exit(127);
    }
    /* The watch has read the job once (its first line is out) before the
     * server goes: a job never seen is an error, not an outage. */
    double t_seen = rk_test_now_ms();
    for (;;) {
        char *seen = rk_test_read_file(outp, NULL);
        bool drawn = seen && strstr(seen, "running");
        free(seen);
        if (drawn || rk_test_now_ms() - t_seen > 10000)
            break;
        rk_test_sleep_ms(20);
    }
    rk_test_sleep_ms(100); /* and opened the event stream */
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    /* Longer than a read's own retries (3 attempts over about a second),
     * so the watch itself meets the outage. */
    rk_test_sleep_ms(3500);
    fx_server_start(&f, "sqlite", (const char *const[]){"--port", port, NULL});
    int st = 0;
    double t0 = rk_test_now_ms();
    while (waitpid(pid, &st, WNOHANG) == 0 && rk_test_now_ms() - t0 < 30000)
        rk_test_sleep_ms(50);
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    char *out = rk_test_read_file(outp, NULL), *err = rk_test_read_file(errp, NULL);
    fprintf(stderr, "watch stdout:\n%s\nwatch stderr:\n%s\n", out ? out : "", err ? err : "");
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_non_null(strstr(err, "stopped answering"));
    assert_non_null(strstr(err, "answers again"));
    /* Said once, each on a line of its own. */
    assert_null(strstr(strstr(err, "stopped answering") + 1, "stopped answering"));
    assert_non_null(strstr(out, "completed"));
    free(out);
    free(err);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_watch_rides_out_a_restart)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
