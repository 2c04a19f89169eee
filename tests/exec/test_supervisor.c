/* The supervisor with real child processes: outcomes, logs, stdin, env,
 * workdir, rlimits, spawn failures, timeouts, cancels, pause and resume,
 * many at once, the function-in-a-child variant and the metrics. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/time.h"
#include "exec/supervisor.h"

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int ok; /* callbacks that reported exit status 0 */
    rk_exec_outcome_t out;
} waiter_t;

static char tmpdir[64];
static rk_exec_sup_t *sup;

static void on_done(void *ud, uint64_t id, const rk_exec_outcome_t *o)
{
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->out = *o;
    w->done++;
    w->ok += o->end == RK_EXEC_EXITED && o->exit_code == 0;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void waiter_init(waiter_t *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

/* Waits until `count` callbacks ran on w, 10 s at most. */
static void waiter_wait(waiter_t *w, int count)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&w->mu);
    while (w->done < count)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0)
            break;
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    assert_int_equal(done, count);
}

static void waiter_cleanup(waiter_t *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* Runs spec to completion; returns the outcome. */
static rk_exec_outcome_t run(rk_exec_spec_t *spec)
{
    waiter_t w;
    uint64_t id = 0;
    waiter_init(&w);
    assert_int_equal(rk_exec_start(sup, spec, on_done, &w, &id), RK_OK);
    assert_true(id > 0);
    waiter_wait(&w, 1);
    rk_exec_outcome_t o = w.out;
    waiter_cleanup(&w);
    return o;
}

static char *path_in_tmp(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* Whole file as a string (caller frees); NULL if missing. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    if (len)
        *len = got;
    return s;
}

static void assert_file(const char *path, const char *want)
{
    char *s = slurp(path, NULL);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    assert_int_equal(rk_exec_init(), RK_OK);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rk-exec-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    assert_int_equal(rk_exec_sup_new(&sup), RK_OK);
    return 0;
}

static int teardown(void **state)
{
    rk_exec_sup_free(sup);
    sup = NULL;
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Under valgrind a forked child that exits runs the leak check too, and
 * blocks only other threads' stacks pointed to count as lost there, so
 * --error-exitcode replaces a function child's exit status. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

static void test_true_false(void **state)
{
    const char *t[] = {"true", NULL}, *f[] = {"false", NULL};
    rk_exec_spec_t spec = {.argv = t};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    assert_int_equal(o.exit_code, 0);
    assert_true(o.pid > 0);
    assert_string_equal(o.message, "exited with status 0");
    spec.argv = f;
    o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    assert_int_equal(o.exit_code, 1);
    assert_string_equal(o.message, "exited with status 1");
    assert_string_equal(rk_exec_end_name(o.end), "exited");
}

static void test_output_files(void **state)
{
    const char *argv[] = {"sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3",
                          NULL};
    rk_exec_spec_t spec = {
        .argv = argv, .stdout_path = path_in_tmp("o1"), .stderr_path = path_in_tmp("e1")};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    assert_int_equal(o.exit_code, 3);
    assert_file(spec.stdout_path, "out1\nout2\n");
    assert_file(spec.stderr_path, "err1\nerr2\n");
    assert_string_equal(o.stderr_tail, "err1\nerr2\n");
    assert_int_equal(o.stdout_bytes, 10);
    assert_false(o.stdout_truncated);
}

static void test_output_cap(void **state)
{
    /* 1 MB through a 4 KiB cap: the child must never block on the pipe. */
    const char *argv[] = {
        "sh", "-c",
        "head -c 1000000 /dev/zero; head -c 9000 /dev/zero | tr '\\0' x >&2; echo END >&2", NULL};
    rk_exec_spec_t spec = {.argv = argv,
                           .stdout_path = path_in_tmp("o2"),
                           .stderr_path = path_in_tmp("e2"),
                           .log_cap = 4096,
                           .timeout_ms = 5000};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    assert_int_equal(o.exit_code, 0);
    struct stat st;
    assert_int_equal(stat(spec.stdout_path, &st), 0);
    assert_int_equal(st.st_size, 4096);
    assert_int_equal(stat(spec.stderr_path, &st), 0);
    assert_int_equal(st.st_size, 4096);
    assert_true(o.stdout_truncated);
    assert_true(o.stderr_truncated);
    assert_int_equal(o.stdout_bytes, 1000000);
    assert_int_equal(o.stderr_bytes, 9004);
    /* The tail is the last 4 KiB: x's, then the final line. */
    assert_int_equal(strlen(o.stderr_tail), RK_EXEC_TAIL_MAX);
    assert_string_equal(o.stderr_tail + RK_EXEC_TAIL_MAX - 4, "END\n");
    assert_int_equal(o.stderr_tail[0], 'x');
}

static void test_stdin(void **state)
{
    const char *argv[] = {"cat", NULL};
    const char *in = "hello\nworld\n";
    rk_exec_spec_t spec = {
        .argv = argv, .stdin_data = in, .stdin_len = strlen(in), .stdout_path = path_in_tmp("o3")};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.exit_code, 0);
    assert_file(spec.stdout_path, in);

    /* No stdin given: the child reads EOF at once rather than hanging. */
    spec.stdin_data = NULL;
    o = run(&spec);
    assert_int_equal(o.exit_code, 0);
    assert_file(spec.stdout_path, "");
}

static void test_env(void **state)
{
    const char *argv[] = {
        "sh", "-c", "printf '%s|%s|%s' \"$RUCKUS_JOB_ID\" \"$HOME\" \"$RK_TEST_AGENT\"", NULL};
    const char *env[] = {"RUCKUS_JOB_ID=job_1a2b3c4d", "HOME=/nonexistent-home", NULL};
    setenv("RK_TEST_AGENT", "inherited", 1);
    setenv("HOME", "/agent-home", 1);
    rk_exec_spec_t spec = {.argv = argv, .env = env, .stdout_path = path_in_tmp("o4")};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.exit_code, 0);
    assert_file(spec.stdout_path, "job_1a2b3c4d|/nonexistent-home|inherited");
    unsetenv("RK_TEST_AGENT");
}

static void test_workdir(void **state)
{
    const char *argv[] = {"sh", "-c", "pwd -P", NULL};
    char real[PATH_MAX], want[PATH_MAX + 2];
    assert_non_null(realpath(tmpdir, real));
    snprintf(want, sizeof want, "%s\n", real);
    rk_exec_spec_t spec = {.argv = argv, .workdir = tmpdir, .stdout_path = path_in_tmp("o5")};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.exit_code, 0);
    assert_file(spec.stdout_path, want);

    spec.workdir = "/nonexistent/dir";
    o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_SPAWN_FAILED);
    assert_int_equal(o.spawn_errno, ENOENT);
    assert_string_equal(o.message,
                        "cannot change to directory '/nonexistent/dir': No such file or directory");
}

static void test_rlimits(void **state)
{
    const char *argv[] = {"sh", "-c",
                          "ulimit -n; ulimit -t; ulimit -v; "
                          "grep 'Max processes' /proc/self/limits | tr -s ' '",
                          NULL};
    rk_exec_spec_t spec = {
        .argv = argv,
        .stdout_path = path_in_tmp("o6"),
        .limits = {.nofile = 64, .cpu_seconds = 7, .memory_mb = 512, .nproc = 4000}};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    assert_int_equal(o.exit_code, 0);
    /* cpu: soft 7 (hard 8 so SIGXCPU comes first); AS in KiB. Valgrind
     * only pretends to set RLIMIT_NOFILE, so the exec'd shell sees the real
     * one there. */
    char *got = slurp(spec.stdout_path, NULL);
    assert_non_null(got);
    const char *rest = "7\n524288\nMax processes 4000 4000 processes \n";
    if (under_valgrind())
        assert_string_equal(strchr(got, '\n') + 1, rest);
    else
        assert_string_equal(got, "64\n7\n524288\nMax processes 4000 4000 processes \n");
    free(got);
}

static void test_no_such_program(void **state)
{
    const char *argv[] = {"rk-no-such-program-xyz", NULL};
    rk_exec_spec_t spec = {.argv = argv};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_SPAWN_FAILED);
    assert_int_equal(o.spawn_errno, ENOENT);
    assert_int_equal(o.spawn_stage, RK_EXEC_STAGE_EXEC);
    assert_string_equal(o.message,
                        "cannot execute 'rk-no-such-program-xyz': No such file or directory");

    /* A log file that cannot be created fails the same way, at setup. */
    const char *t[] = {"true", NULL};
    rk_exec_spec_t bad = {.argv = t, .stdout_path = "/nonexistent/dir/log"};
    o = run(&bad);
    assert_int_equal(o.end, RK_EXEC_SPAWN_FAILED);
    assert_int_equal(o.spawn_stage, RK_EXEC_STAGE_SETUP);
    assert_int_equal(o.spawn_errno, ENOENT);
    assert_int_equal(o.pid, -1);

    rk_exec_spec_t none = {0};
    uint64_t id;
    assert_int_equal(rk_exec_start(sup, &none, on_done, NULL, &id), RK_EINVAL);
}

static void test_timeout(void **state)
{
    const char *argv[] = {"sleep", "30", NULL};
    rk_exec_spec_t spec = {.argv = argv, .timeout_ms = 200, .grace_ms = 2000};
    int64_t t0 = rk_time_mono_us();
    rk_exec_outcome_t o = run(&spec);
    int64_t took = rk_time_mono_us() - t0;
    assert_int_equal(o.end, RK_EXEC_TIMED_OUT);
    assert_int_equal(o.term_signal, SIGTERM); /* sleep obeys SIGTERM: no grace needed */
    assert_string_equal(o.message, "timed out after 0.2 s");
    assert_true(o.wall_us >= 190000);
    assert_true(took < 1500000);
}

static void test_cancel_ignoring_term(void **state)
{
    /* Ignored signals survive exec, so sleep ignores SIGTERM too. */
    const char *argv[] = {"sh", "-c", "trap '' TERM; echo ready; sleep 30", NULL};
    rk_exec_spec_t spec = {.argv = argv, .grace_ms = 300, .stdout_path = path_in_tmp("o7")};
    waiter_t w;
    uint64_t id;
    waiter_init(&w);
    assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), RK_OK);
    /* Cancel once the trap is set, or SIGTERM would end it early. */
    for (int i = 0; i < 200; i++) {
        char *s = slurp(spec.stdout_path, NULL);
        int ready = s && strstr(s, "ready") != NULL;
        free(s);
        if (ready)
            break;
        usleep(10000);
    }
    int64_t t0 = rk_time_mono_us();
    assert_int_equal(rk_exec_cancel(sup, id, 0), RK_OK);
    waiter_wait(&w, 1);
    int64_t took = rk_time_mono_us() - t0;
    assert_int_equal(w.out.end, RK_EXEC_CANCELLED);
    assert_int_equal(w.out.term_signal, SIGKILL);
    assert_string_equal(w.out.message, "cancelled");
    assert_true(took >= 290000);
    assert_true(took < 2000000);
    waiter_cleanup(&w);

    /* A finished job ignores a cancel; an id never issued is unknown. */
    assert_int_equal(rk_exec_cancel(sup, id, 0), RK_OK);
    assert_int_equal(rk_exec_cancel(sup, id + 1000, 0), RK_ENOENT);
    assert_int_equal(rk_exec_cancel(sup, 0, 0), RK_ENOENT);
}

/* True when every process of group pg is stopped: 'T', or 'D' (dash
 * vforks its commands; a shell whose vforked child took the SIGSTOP before
 * its exec waits in 'D' until the child goes on), or 'Z'; and one is 'T'. */
static bool group_stopped(pid_t pg)
{
    int n = 0, t = 0, other = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        char *p = strrchr(buf, ')'), state;
        int ppid, pgrp;
        if (!p || sscanf(p + 2, "%c %d %d", &state, &ppid, &pgrp) != 3 || pgrp != pg)
            continue;
        n++;
        t += state == 'T';
        other += state != 'T' && state != 'D' && state != 'Z';
    }
    if (d)
        closedir(d);
    return n > 0 && t > 0 && other == 0;
}

/* Waits (5 s at most) until group pg is stopped (group_stopped). */
static bool group_stops(pid_t pg)
{
    for (int i = 0; i < 500; i++) {
        if (group_stopped(pg))
            return true;
        usleep(10000);
    }
    return false;
}

static int done_count(waiter_t *w)
{
    pthread_mutex_lock(&w->mu);
    int d = w->done;
    pthread_mutex_unlock(&w->mu);
    return d;
}

/* A job with a 1 s timeout, frozen for 1.5 s after 0.2 s of running: it
 * is stopped while frozen and does not time out then; it times out after
 * about 1 s of running time in all. */
static void test_pause_stops_timeout(void **state)
{
    const char *argv[] = {"sleep", "30", NULL};
    pid_t pid = -1;
    rk_exec_spec_t spec = {.argv = argv, .timeout_ms = 1000, .grace_ms = 2000, .started_pid = &pid};
    waiter_t w;
    uint64_t id;
    waiter_init(&w);
    int64_t t0 = rk_time_mono_us();
    assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), RK_OK);
    assert_true(pid > 0);
    usleep(200000);
    assert_int_equal(rk_exec_pause(sup, id, true), RK_OK);
    assert_int_equal(rk_exec_pause(sup, id, true), RK_OK); /* a repeat changes nothing */
    assert_true(group_stops(pid));
    int64_t frozen_at = rk_time_mono_us();
    /* The pause itself is what is measured here: 1.5 s, past the timeout. */
    usleep(1500000);
    assert_int_equal(done_count(&w), 0);
    assert_true(group_stopped(pid));
    assert_int_equal(rk_exec_pause(sup, id, false), RK_OK);
    int64_t frozen = rk_time_mono_us() - frozen_at;
    waiter_wait(&w, 1);
    int64_t took = rk_time_mono_us() - t0;
    assert_int_equal(w.out.end, RK_EXEC_TIMED_OUT);
    assert_int_equal(w.out.term_signal, SIGTERM);
    /* Running time ~1 s: the wall time is that plus the time frozen. */
    assert_true(took >= 1000000 + frozen - 100000);
    assert_true(took < 1000000 + frozen + 1500000);
    assert_true(w.out.paused_us >= frozen - 100000);
    assert_true(w.out.paused_us <= frozen + 1000000);
    waiter_cleanup(&w);
    assert_int_equal(rk_exec_pause(sup, id + 1000, true), RK_ENOENT);
}

/* Freezing stops the whole group (a shell and its children): the counter
 * it writes stands still, and goes on after the thaw. */
static void test_pause_freezes_group(void **state)
{
    char script[256];
    snprintf(script, sizeof script, "i=0; while :; do i=$((i+1)); echo $i > %s; sleep 0.05; done",
             path_in_tmp("cnt"));
    const char *argv[] = {"sh", "-c", script, NULL};
    pid_t pid = -1;
    rk_exec_spec_t spec = {.argv = argv, .grace_ms = 2000, .started_pid = &pid};
    waiter_t w;
    uint64_t id;
    waiter_init(&w);
    assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), RK_OK);
    char *c0 = NULL;
    for (int i = 0; i < 500 && !(c0 = slurp(path_in_tmp("cnt"), NULL)); i++)
        usleep(10000);
    free(c0);
    assert_int_equal(rk_exec_pause(sup, id, true), RK_OK);
    assert_true(group_stops(pid));
    usleep(100000); /* a write under way when the STOP came lands */
    char *a = slurp(path_in_tmp("cnt"), NULL);
    usleep(500000); /* ten rounds of the loop, were it running */
    char *b = slurp(path_in_tmp("cnt"), NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    assert_int_equal(rk_exec_pause(sup, id, false), RK_OK);
    char *c = NULL;
    for (int i = 0; i < 500; i++) {
        free(c);
        c = slurp(path_in_tmp("cnt"), NULL);
        if (c && *c && strcmp(c, a) != 0 && atoi(c) > atoi(a))
            break;
        usleep(10000);
    }
    assert_non_null(c);
    assert_true(atoi(c) > atoi(a));
    free(a);
    free(b);
    free(c);
    assert_int_equal(rk_exec_cancel(sup, id, -1), RK_OK);
    waiter_wait(&w, 1);
    assert_int_equal(w.out.end, RK_EXEC_CANCELLED);
    waiter_cleanup(&w);
}

/* A cancel thaws a frozen job: it acts on the SIGTERM at once instead of
 * waiting frozen for the SIGKILL at the end of the grace. */
static void test_cancel_paused(void **state)
{
    const char *argv[] = {"sh", "-c",
                          "trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done", NULL};
    pid_t pid = -1;
    rk_exec_spec_t spec = {
        .argv = argv, .grace_ms = 3000, .stdout_path = path_in_tmp("o9"), .started_pid = &pid};
    waiter_t w;
    uint64_t id;
    waiter_init(&w);
    assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), RK_OK);
    for (int i = 0; i < 500; i++) {
        char *s = slurp(spec.stdout_path, NULL);
        int ready = s && strstr(s, "ready") != NULL;
        free(s);
        if (ready)
            break;
        usleep(10000);
    }
    assert_int_equal(rk_exec_pause(sup, id, true), RK_OK);
    assert_true(group_stops(pid));
    int64_t t0 = rk_time_mono_us();
    assert_int_equal(rk_exec_cancel(sup, id, 0), RK_OK);
    waiter_wait(&w, 1);
    int64_t took = rk_time_mono_us() - t0;
    assert_int_equal(w.out.end, RK_EXEC_CANCELLED);
    assert_int_equal(w.out.exit_code, 3); /* the trap ran */
    assert_true(took < 2500000);
    waiter_cleanup(&w);
}

static void test_many_concurrent(void **state)
{
    enum { N = 50 };
    const char *argv[] = {"true", NULL};
    rk_exec_spec_t spec = {.argv = argv};
    waiter_t w;
    waiter_init(&w);
    for (int i = 0; i < N; i++) {
        uint64_t id;
        assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), RK_OK);
    }
    waiter_wait(&w, N);
    waiter_cleanup(&w);
    assert_int_equal(w.ok, N);
}

static int fn_value(void *arg)
{
    const char *msg = arg;
    ssize_t n = write(1, msg, strlen(msg));
    return n == (ssize_t)strlen(msg) ? 42 : 1;
}

static int fn_forever(void *arg)
{
    for (;;)
        pause();
    return 0;
}

/* Spins for 0.3 s of its own CPU time, so a loaded machine only makes it
 * take longer. */
static int fn_busy(void *arg)
{
    struct timespec ts;
    volatile unsigned long x = 0;
    do {
        for (int i = 0; i < 100000; i++)
            x++;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while (ts.tv_sec * 1000000000L + ts.tv_nsec < 300000000L);
    return 0;
}

static void test_function_child(void **state)
{
    rk_exec_spec_t spec = {
        .fn = fn_value, .fn_arg = "from the child\n", .stdout_path = path_in_tmp("o8")};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    if (!under_valgrind())
        assert_int_equal(o.exit_code, 42);
    assert_file(spec.stdout_path, "from the child\n");

    rk_exec_spec_t forever = {.fn = fn_forever, .grace_ms = 200};
    waiter_t w;
    uint64_t id;
    waiter_init(&w);
    assert_int_equal(rk_exec_start(sup, &forever, on_done, &w, &id), RK_OK);
    usleep(50000);
    assert_int_equal(rk_exec_cancel(sup, id, 0), RK_OK);
    waiter_wait(&w, 1);
    assert_int_equal(w.out.end, RK_EXEC_CANCELLED);
    assert_int_equal(w.out.term_signal, SIGTERM);
    waiter_cleanup(&w);

    rk_exec_spec_t timed = {.fn = fn_forever, .timeout_ms = 100, .grace_ms = -1};
    o = run(&timed);
    assert_int_equal(o.end, RK_EXEC_TIMED_OUT);
    assert_int_equal(o.term_signal, SIGKILL);
}

static void test_metrics(void **state)
{
    rk_exec_spec_t spec = {.fn = fn_busy};
    rk_exec_outcome_t o = run(&spec);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    if (!under_valgrind())
        assert_int_equal(o.exit_code, 0);
    assert_true(o.wall_us >= 300000);
    assert_true(o.wall_us < 8000000);
    assert_true(o.user_us > 100000);
    assert_true(o.user_us + o.sys_us >= 290000);
    assert_true(o.user_us + o.sys_us <= o.wall_us + 50000);
    assert_true(o.max_rss_kib > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_true_false),
        cmocka_unit_test(test_output_files),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_workdir),
        cmocka_unit_test(test_rlimits),
        cmocka_unit_test(test_no_such_program),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel_ignoring_term),
        cmocka_unit_test(test_pause_stops_timeout),
        cmocka_unit_test(test_pause_freezes_group),
        cmocka_unit_test(test_cancel_paused),
        cmocka_unit_test(test_many_concurrent),
        cmocka_unit_test(test_function_child),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
