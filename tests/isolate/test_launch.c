/* A job's whole isolated life through today's lib/exec supervisor, the way
 * docs/isolation.md tells the runner to do it: create the cgroup and apply
 * limits in the parent, start rk_isolate_child_main as the spec's fn (it
 * prepares the image, builds bwrap's argv, joins the group, execs), read
 * the group's figures when the job ends, remove the group. Nothing of the
 * test stays: its folder and cgroups go in teardown. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "exec/supervisor.h"
#include "helper_image.h"
#include "isolate/cgroup.h"
#include "isolate/launch.h"
#include "isolate/sandbox.h"

static char base[64], images[96], cache[96], work[96], job[96], logs[96], root_name[64];
static char digest[80];
static rk_cg_probe_t probe;

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    rk_exec_outcome_t out;
} waiter_t;

static void on_done(void *ud, uint64_t id, const rk_exec_outcome_t *o)
{
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->out = *o;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(base, sizeof base, "/var/tmp/rk-launch-%d", (int)getpid());
    snprintf(images, sizeof images, "%s/images", base);
    snprintf(cache, sizeof cache, "%s/cache", base);
    snprintf(work, sizeof work, "%s/work", base);
    snprintf(job, sizeof job, "%s/job", base);
    snprintf(logs, sizeof logs, "%s/logs", base);
    snprintf(root_name, sizeof root_name, "rk-launch-%d", (int)getpid());
    if (mkdir(base, 0755) || mkdir(images, 0755) || mkdir(work, 0755) || mkdir(job, 0755) ||
        mkdir(logs, 0755))
        return -1;
    build_image(images, work, digest);
    return 0;
}

static int teardown(void **state)
{
    size_t removed;
    rk_cg_sweep(&probe, root_name, &removed);
    for (int i = 0; i < RK_CG_NCTRL; i++) {
        char dir[RK_CG_PATH_MAX + 80];
        snprintf(dir, sizeof dir, "%s/%s", probe.base[i], root_name);
        if (probe.base[i][0])
            rmdir(dir);
    }
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Runs argv isolated in image (may be NULL) with lim; the outcome and the
 * group's figures come back. */
static rk_exec_outcome_t run(const char *image, const char *const *argv, const rk_cg_limits_t *lim,
                             rk_cg_stats_t *stats)
{
    char err[512] = "", so[160], se[160];
    rk_cg_t *cg;
    assert_int_equal(rk_cg_create(&probe, root_name, "job-1", &cg, err, sizeof err), 0);
    assert_int_equal(rk_cg_apply(cg, lim, err, sizeof err), 0);
    rk_sandbox_spec_t box = {.job_dir = job};
    rk_isolate_child_t child = {.argv = (char *const *)argv,
                                .sandbox = &box,
                                .image = image,
                                .images_dir = images,
                                .image_cache_dir = cache,
                                .cg = cg};
    snprintf(so, sizeof so, "%s/stdout.log", logs);
    snprintf(se, sizeof se, "%s/stderr.log", logs);
    rk_exec_spec_t spec = {.fn = rk_isolate_child_main,
                           .fn_arg = &child,
                           .workdir = job,
                           .stdout_path = so,
                           .stderr_path = se,
                           .timeout_ms = 30000};
    rk_exec_sup_t *sup;
    assert_int_equal(rk_exec_sup_new(&sup), 0);
    waiter_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    uint64_t id;
    assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), 0);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    rk_exec_sup_free(sup);
    assert_int_equal(rk_cg_stats(cg, stats), 0);
    assert_int_equal(rk_cg_remove(cg, err, sizeof err), 0);
    return w.out;
}

static void read_log(const char *name, char *out, size_t sz)
{
    char path[200];
    snprintf(path, sizeof path, "%s/%s", logs, name);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, sz - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
}

static void test_job_in_image_with_limits_reports_figures(void **state)
{
    const char *argv[] = {"/bin/sh", "-c",
                          "test -e /usr/bin/python3 && echo python3; busybox cat /etc/hello; "
                          "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done",
                          NULL};
    rk_cg_limits_t lim = {.memory_mb = 64, .pids = 20, .cpus = 1};
    rk_cg_stats_t s;
    rk_exec_outcome_t o = run("bb", argv, &lim, &s);
    char out[512], err[512];
    read_log("stdout.log", out, sizeof out);
    read_log("stderr.log", err, sizeof err);
    printf("stderr: %s", err);
    assert_int_equal(o.end, RK_EXEC_EXITED);
    assert_int_equal(o.exit_code, 0);
    assert_string_equal(out, "hello\ndone\n");
    printf("cgroup: peak %llu KiB, cpu %.3f s, oom %d\n", (unsigned long long)s.memory_peak_kib,
           s.cpu_usage_s, s.oom_killed);
    assert_true(s.cpu_usage_s > 0.0);
    assert_true(s.memory_peak_kib > 0);
    assert_false(s.oom_killed);
}

static void test_job_over_its_memory_is_reported_oom_killed(void **state)
{
    /* busybox's own sh grows a string past the 16 MiB limit. */
    const char *argv[] = {"/bin/sh", "-c", "x=0123456789abcdef; while :; do x=$x$x; done", NULL};
    rk_cg_limits_t lim = {.memory_mb = 16};
    rk_cg_stats_t s;
    rk_exec_outcome_t o = run("bb", argv, &lim, &s);
    printf("outcome end %d exit %d signal %d; cgroup oom %d, peak %llu KiB\n", o.end, o.exit_code,
           o.term_signal, s.oom_killed, (unsigned long long)s.memory_peak_kib);
    assert_true(s.oom_killed);
    assert_int_not_equal(o.exit_code, 0);
}

static void test_missing_image_fails_before_running(void **state)
{
    const char *argv[] = {"/bin/true", NULL};
    rk_cg_limits_t lim = {0};
    rk_cg_stats_t s;
    rk_exec_outcome_t o = run("nope", argv, &lim, &s);
    char err[512];
    read_log("stderr.log", err, sizeof err);
    assert_int_equal(o.exit_code, RK_ISOLATE_EXIT_SETUP);
    assert_non_null(strstr(err, "no image 'nope'"));
}

/* Whether a process whose whole command line is marker exists on the host
 * (not merely mentions it, as the job's own shell does). */
static bool process_with(const char *marker)
{
    DIR *d = opendir("/proc");
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        while (n > 0 && buf[n - 1] == ' ')
            n--;
        buf[n > 0 ? n : 0] = '\0';
        found = strcmp(buf, marker) == 0;
    }
    closedir(d);
    return found;
}

/* Cancelling through lib/exec alone (no cgroup kill) takes the whole
 * sandbox down: the leader is bwrap, its namespace's init dies with it
 * (--die-with-parent), and the kernel kills the rest, daemons included. */
static void test_cancel_kills_a_daemon_the_job_started(void **state)
{
    char marker[64], script[256], so[160], se[160];
    snprintf(marker, sizeof marker, "busybox sleep 4243.%d", (int)getpid());
    snprintf(script, sizeof script, "busybox sh -c '%s >/dev/null 2>&1 &'; busybox sleep 100",
             marker);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    rk_sandbox_spec_t box = {.job_dir = job};
    rk_isolate_child_t child = {.argv = (char *const *)argv,
                                .sandbox = &box,
                                .image = "bb",
                                .images_dir = images,
                                .image_cache_dir = cache};
    snprintf(so, sizeof so, "%s/stdout.log", logs);
    snprintf(se, sizeof se, "%s/stderr.log", logs);
    rk_exec_spec_t spec = {.fn = rk_isolate_child_main,
                           .fn_arg = &child,
                           .workdir = job,
                           .stdout_path = so,
                           .stderr_path = se,
                           .timeout_ms = 30000,
                           .grace_ms = 1000};
    rk_exec_sup_t *sup;
    assert_int_equal(rk_exec_sup_new(&sup), 0);
    waiter_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    uint64_t id;
    assert_int_equal(rk_exec_start(sup, &spec, on_done, &w, &id), 0);
    for (int i = 0; i < 500 && !process_with(marker); i++)
        usleep(10000);
    assert_true(process_with(marker));
    assert_int_equal(rk_exec_cancel(sup, id, 1000), 0);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    rk_exec_sup_free(sup);
    assert_int_equal(w.out.end, RK_EXEC_CANCELLED);
    for (int i = 0; i < 100 && process_with(marker); i++)
        usleep(10000);
    assert_false(process_with(marker));
}

int main(void)
{
    char why[256];
    if (getuid() != 0 || rk_cg_probe(RK_CG_NONE, &probe) != 0 || !(probe.ctrls & RK_CG_MEMORY)) {
        printf("skip: needs root and cgroups with a memory controller (%s)\n", probe.why);
        return 0;
    }
    if (access("/bin/busybox", X_OK) != 0 || rk_sandbox_probe(NULL, why, sizeof why) != 0) {
        printf("skip: needs busybox-static and a working bwrap (%s)\n", why);
        return 0;
    }
    assert_int_equal(rk_exec_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_in_image_with_limits_reports_figures, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_job_over_its_memory_is_reported_oom_killed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_image_fails_before_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_kills_a_daemon_the_job_started, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
