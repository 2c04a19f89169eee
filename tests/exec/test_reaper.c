/* No process of a job outlives it: background children in the job's group,
 * a daemon that left the group with setsid, and a double-forked one are all
 * killed and reaped once the job ends, whether it exits or times out. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "exec/reaper.h"
#include "exec/supervisor.h"

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    rk_exec_outcome_t out;
} waiter_t;

static char pidfile[64];

static void on_done(void *ud, uint64_t id, const rk_exec_outcome_t *o)
{
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->out = *o;
    w->done++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static rk_exec_outcome_t run(rk_exec_sup_t *sup, const rk_exec_spec_t *spec)
{
    waiter_t w = {0};
    uint64_t id;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    assert_int_equal(rk_exec_start(sup, spec, on_done, &w, &id), RK_OK);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&w.mu);
    while (!w.done && pthread_cond_timedwait(&w.cv, &w.mu, &until) == 0)
        ;
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(w.done, 1);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return w.out;
}

static int read_pids(pid_t *pids, int max)
{
    FILE *f = fopen(pidfile, "r");
    int n = 0, v;
    if (!f)
        return 0;
    while (n < max && fscanf(f, "%d", &v) == 1)
        pids[n++] = v;
    fclose(f);
    return n;
}

/* True once no pid in the list exists any more, not even as a zombie
 * (a zombie still answers kill(pid, 0)): they were killed and reaped. */
static int all_gone(const pid_t *pids, int n, int wait_ms)
{
    for (int t = 0; t <= wait_ms; t += 10) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            alive += kill(pids[i], 0) == 0 || errno != ESRCH;
        if (!alive)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* The job's script: a background sleep in its group, a daemon in its own
 * session with a child of its own, and a double-forked sleep whose parent
 * exited at once. It records the five pids, then waits for all of them to
 * be written before going on. */
#define SPAWN_TREE                                                                                 \
    "sleep 30 & echo $! >> \"$PIDS\"; "                                                            \
    "setsid sh -c 'sleep 30 & echo $! >> \"$PIDS\"; echo $$ >> \"$PIDS\"; exec sleep 31' & "       \
    "setsid sh -c '(sleep 32 & echo $! >> \"$PIDS\")' & "                                          \
    "sh -c 'sleep 33 & echo $! >> \"$PIDS\"' & "                                                   \
    "while [ $(wc -l < \"$PIDS\") -lt 5 ]; do sleep 0.01; done; "

static void check_tree_killed(const char *tail, rk_exec_end_t want_end, int64_t timeout_ms)
{
    char env_pids[128], script[1024];
    rk_exec_sup_t *sup;
    snprintf(pidfile, sizeof pidfile, "/tmp/rk-exec-pids-XXXXXX");
    int fd = mkstemp(pidfile);
    assert_true(fd >= 0);
    close(fd);
    snprintf(env_pids, sizeof env_pids, "PIDS=%s", pidfile);
    snprintf(script, sizeof script, "%s%s", SPAWN_TREE, tail);
    const char *argv[] = {"sh", "-c", script, NULL};
    const char *env[] = {env_pids, NULL};
    rk_exec_spec_t spec = {.argv = argv, .env = env, .timeout_ms = timeout_ms, .grace_ms = 200};

    assert_int_equal(rk_exec_sup_new(&sup), RK_OK);
    rk_exec_outcome_t o = run(sup, &spec);
    assert_int_equal(o.end, want_end);

    pid_t pids[8];
    int n = read_pids(pids, 8);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++)
        assert_true(pids[i] > 1);
    /* Killed and reaped by the supervisor itself, while it runs. */
    assert_true(all_gone(pids, n, 2000));
    rk_exec_sup_free(sup);
    unlink(pidfile);
}

static void test_exiting_job_leaves_nothing(void **state)
{
    check_tree_killed("exit 0", RK_EXEC_EXITED, 0);
}

static void test_timed_out_job_leaves_nothing(void **state)
{
    check_tree_killed("sleep 30", RK_EXEC_TIMED_OUT, 300);
}

static void test_free_kills_running(void **state)
{
    /* Freeing the supervisor stops a job still running: it ends cancelled. */
    rk_exec_sup_t *sup;
    waiter_t w = {0};
    uint64_t id;
    const char *argv[] = {"sleep", "30", NULL};
    rk_exec_spec_t spec = {.argv = argv};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    assert_int_equal(rk_exec_sup_new(&sup), RK_OK);
    assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), RK_OK);
    usleep(20000);
    rk_exec_sup_free(sup);
    assert_int_equal(w.done, 1);
    assert_int_equal(w.out.end, RK_EXEC_CANCELLED);
    assert_int_equal(w.out.term_signal, SIGKILL);
    assert_true(all_gone(&w.out.pid, 1, 0));
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
}

static void test_leader_registry(void **state)
{
    assert_false(rk_exec_leader_is(999999));
    assert_int_equal(rk_exec_leader_add(999999), RK_OK);
    assert_true(rk_exec_leader_is(999999));
    rk_exec_leader_del(999999);
    assert_false(rk_exec_leader_is(999999));
}

/* The /proc helpers the agent's restart shares: a child's environment is
 * matched entry by entry, whole entries only, and the walk sees the child. */
typedef struct find_pid {
    pid_t want;
    int seen;
} find_pid_t;

static int count_pid(void *ud, pid_t pid)
{
    find_pid_t *f = ud;
    f->seen += pid == f->want;
    return pid == f->want;
}

static void test_proc_env_has(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[] = {"sleep", "30", NULL};
        char *envp[] = {"RK_T_A=1", "RK_T_B=two", "PATH=/usr/bin:/bin", NULL};
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 0); /* EOF: execve is under way */
    close(p[0]);
    const char *both[] = {"RK_T_A=1", "RK_T_B=two"};
    const char *wrong[] = {"RK_T_A=1", "RK_T_B=tw"};
    const char *one[] = {"RK_T_B=two"};
    /* The close-on-exec happens before the new stack is set up: poll. */
    bool has = false;
    for (int i = 0; i < 200 && !has; i++)
        if (!(has = rk_exec_proc_env_has(pid, both, 2)))
            usleep(5000);
    assert_true(has);
    assert_true(rk_exec_proc_env_has(pid, one, 1));
    assert_false(rk_exec_proc_env_has(pid, wrong, 2));
    find_pid_t f = {.want = pid};
    assert_true(rk_exec_proc_each(count_pid, &f) >= 1);
    assert_int_equal(f.seen, 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_false(rk_exec_proc_env_has(pid, one, 1));
}

int main(void)
{
    assert_int_equal(rk_exec_init(), RK_OK);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exiting_job_leaves_nothing),
        cmocka_unit_test(test_timed_out_job_leaves_nothing),
        cmocka_unit_test(test_free_kills_running),
        cmocka_unit_test(test_leader_registry),
        cmocka_unit_test(test_proc_env_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
