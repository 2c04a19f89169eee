/* A running job's progress, as its workload writes it to
 * $RUCKUS_PROGRESS_FILE, reaches the server's JobInfo and its events while
 * the job runs, and `ruckus job watch` draws it; the history gains no entry
 * per progress step. */
#include <sys/wait.h>
#include <unistd.h>

#include "server_fixture.h"

static void test_progress_moves(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[32];
    fx_experiment(
        &f, "steps",
        "for p in 0.2 0.4 0.6 0.8; do echo $p > \"$RUCKUS_PROGRESS_FILE\"; sleep 1.2; done", 0,
        exp);
    json_t *j = fx_job(&f, exp, 0, 201);
    char id[80];
    snprintf(id, sizeof id, "%s", fx_id(j));
    json_decref(j);

    /* The CLI's watch, as a user runs it beside. */
    char url[64], outp[700];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f.srv.port);
    snprintf(outp, sizeof outp, "%s/watch.out", f.dir);
    const char *bin = getenv("RK_BIN_DIR");
    char prog[1024];
    snprintf(prog, sizeof prog, "%s/ruckus", bin ? bin : "bin");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(outp, "w", stdout))
            _exit(126);
        setenv("NO_COLOR", "1", 1);
        execl(prog, "ruckus", "--server", url, "job", "watch", id, (char *)NULL);
        _exit(127);
    }

    /* GET /jobs/{id} while it runs: several distinct progress values, never
     * going back. */
    double seen[16];
    int n = 0;
    double end = rk_test_now_ms() + 20000;
    for (;;) {
        json_t *job = fx_get_job(&f, id);
        json_t *st = json_object_get(job, "status");
        const char *s = fx_state(job);
        json_t *p = json_object_get(st, "progress");
        if (json_is_number(p) && !strcmp(s, "running") &&
            (n == 0 || json_number_value(p) != seen[n - 1]) && n < 16)
            seen[n++] = json_number_value(p);
        bool done = fx_terminal(s);
        if (done) {
            assert_string_equal(s, "completed");
            /* queued, assigned, running, completed: no entry per step */
            assert_true(json_array_size(json_object_get(job, "history")) <= 4);
        }
        json_decref(job);
        if (done || rk_test_now_ms() > end)
            break;
        rk_test_sleep_ms(100);
    }
    fprintf(stderr, "progress seen:");
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %.2f", seen[i]);
    fprintf(stderr, "\n");
    assert_true(n >= 2);
    for (int i = 1; i < n; i++)
        assert_true(seen[i] > seen[i - 1]);

    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *out = rk_test_read_file(outp, NULL);
    fprintf(stderr, "watch:\n%s", out ? out : "");
    /* One line per change off a terminal, progress drawn as it moved. */
    int bars = 0;
    for (const char *q = out; q && (q = strstr(q, "%")); q++)
        bars++;
    assert_true(bars >= 3); /* at least two running steps and the 100 % end */
    free(out);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_progress_moves)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
