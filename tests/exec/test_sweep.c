/* The orphan sweep looks only at our own direct children: with 200
 * unrelated processes around (grandchildren of ours, tagged like a job's,
 * whose parent is alive) it reads none of their /proc files and kills none
 * of them, while among our direct children it kills exactly the tagged
 * orphan of an ended job of its own supervisor. The full-scan fallback
 * decides the same. Prints both sweeps' times (the report's figure). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "exec/reaper.h"

#define SUP 77
#define N_UNRELATED 200

/* Job 2 of supervisor SUP is still running; every other job has ended. */
static bool running(void *ud, uint64_t job)
{
    (void)ud;
    return job == 2;
}

/* A child in its own process group running `sleep 30` with tag as its only
 * environment. */
static pid_t spawn_tagged(const char *tag)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *const argv[] = {"sleep", "30", NULL};
        char *const envp[] = {(char *)tag, NULL};
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion leaves nothing */
        setpgid(0, 0);
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

/* A child (not tagged) that starts n tagged grandchildren, in its group,
 * writes their pids to us and waits to be killed. */
static pid_t spawn_holder(pid_t *kids, int n)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setpgid(0, 0);
        char *const argv[] = {"sleep", "30", NULL};
        char *const envp[] = {RK_EXEC_TAG_KEY "=77.1", NULL};
        for (int i = 0; i < n; i++) {
            pid_t k = fork();
            if (k == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                execve("/bin/sleep", argv, envp);
                _exit(127);
            }
            if (k < 0 || write(p[1], &k, sizeof k) != (ssize_t)sizeof k)
                _exit(1);
        }
        close(p[1]);
        for (;;)
            pause();
    }
    assert_true(pid > 0);
    close(p[1]);
    for (int i = 0; i < n; i++)
        assert_int_equal(read(p[0], &kids[i], sizeof kids[i]), (ssize_t)sizeof kids[i]);
    close(p[0]);
    return pid;
}

/* State letter of pid from /proc, '?' when it is gone. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

/* Alive and not a zombie: sleeping, or running for a moment under load. */
static bool alive(pid_t pid)
{
    char st = proc_state(pid);
    return st != '?' && st != 'Z' && st != 'X';
}

/* Waits until every process has exec'd sleep (its environ then holds the
 * tag), so a sweep sees what it will see in real use. */
static void wait_execd(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        char path[64], comm[32] = "";
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pids[i]);
        for (int t = 0; t < 500 && strncmp(comm, "sleep", 5) != 0; t++) {
            FILE *f = fopen(path, "r");
            if (f) {
                if (!fgets(comm, sizeof comm, f))
                    comm[0] = '\0';
                fclose(f);
            }
            if (strncmp(comm, "sleep", 5) != 0)
                usleep(2000);
        }
        assert_string_equal(comm, "sleep\n");
    }
}

static double sweep_ms(rk_exec_sweep_mode_t mode, rk_exec_sweep_stats_t *st, int *signalled)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    *signalled = rk_exec_orphans_sweep_ex(SUP, running, NULL, mode, st);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void test_sweep_touches_only_our_children(void **state)
{
    (void)state;
    static pid_t kids[N_UNRELATED];
    pid_t holder = spawn_holder(kids, N_UNRELATED);
    pid_t ended = spawn_tagged(RK_EXEC_TAG_KEY "=77.1");
    pid_t live = spawn_tagged(RK_EXEC_TAG_KEY "=77.2");
    pid_t other = spawn_tagged(RK_EXEC_TAG_KEY "=78.1");
    pid_t leader = spawn_tagged(RK_EXEC_TAG_KEY "=77.1");
    assert_int_equal(rk_exec_leader_add(leader), RK_OK);
    pid_t ours[] = {ended, live, other, leader};
    wait_execd(ours, 4);
    wait_execd(kids, N_UNRELATED);

    rk_exec_sweep_stats_t st;
    int n;
    double auto_ms = sweep_ms(RK_EXEC_SWEEP_AUTO, &st, &n);
    assert_int_equal(n, 1);
    assert_false(st.full_scan);
    assert_true(st.threads >= 1);
    /* Our five children but the leader; none of the 200. */
    assert_int_equal(st.examined, 4);
    assert_int_equal(st.tags_read, 4);
    assert_int_equal(waitpid(ended, NULL, 0), ended);
    for (int i = 0; i < N_UNRELATED; i++)
        assert_true(alive(kids[i]));
    assert_true(alive(live));
    assert_true(alive(other));
    assert_true(alive(leader));

    /* The fallback: same verdicts, every process examined. */
    double full_ms = sweep_ms(RK_EXEC_SWEEP_FULL, &st, &n);
    assert_int_equal(n, 0);
    assert_true(st.full_scan);
    assert_true(st.examined > N_UNRELATED);
    assert_int_equal(st.tags_read, 3); /* holder, live, other: ended is gone */
    for (int i = 0; i < N_UNRELATED; i++)
        assert_true(alive(kids[i]));

    /* A dead tagged orphan (outside our group) is reaped by the sweep. */
    kill(other, SIGKILL);
    while (proc_state(other) != 'Z')
        usleep(1000);
    sweep_ms(RK_EXEC_SWEEP_AUTO, &st, &n);
    assert_int_equal(proc_state(other), '?');

    double a = 0, f = 0;
    for (int i = 0; i < 20; i++) {
        a += sweep_ms(RK_EXEC_SWEEP_AUTO, &st, &n);
        f += sweep_ms(RK_EXEC_SWEEP_FULL, &st, &n);
    }
    printf("sweep with %d unrelated processes: children lists %.3f ms (first %.3f), "
           "full /proc scan %.3f ms (first %.3f), mean of 20\n",
           N_UNRELATED, a / 20, auto_ms, f / 20, full_ms);

    rk_exec_leader_del(leader);
    kill(live, SIGKILL);
    kill(leader, SIGKILL);
    kill(-holder, SIGKILL);
    assert_int_equal(waitpid(live, NULL, 0), live);
    assert_int_equal(waitpid(leader, NULL, 0), leader);
    assert_int_equal(waitpid(holder, NULL, 0), holder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_touches_only_our_children),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
