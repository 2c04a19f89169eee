/* The bwrap sandbox against real processes: a job writes only its own
 * folder and /tmp, cannot see the host's processes, cannot reach a
 * 127.0.0.1 listener without network, leaves no daemon behind, a bind
 * outside the allow-list is refused with a clear error, and run-as drops
 * the job to that user. Each test's folders are removed in teardown. */
#define _XOPEN_SOURCE 700
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "isolate/launch.h"
#include "isolate/sandbox.h"

typedef struct fx {
    char base[64];  /* /var/tmp/rk-sbx-PID: not under /tmp, which the sandbox hides */
    char job[96];   /* base/job1, the job's folder */
    char other[96]; /* base/job2, another job's folder */
    char allow[96]; /* base/allowed, the only --allow-bind directory */
    int listen_fd;
} fx_t;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->listen_fd = -1;
    snprintf(f->base, sizeof f->base, "/var/tmp/rk-sbx-%d", (int)getpid());
    snprintf(f->job, sizeof f->job, "%s/job1", f->base);
    snprintf(f->other, sizeof f->other, "%s/job2", f->base);
    snprintf(f->allow, sizeof f->allow, "%s/allowed", f->base);
    if (mkdir(f->base, 0755) != 0 || mkdir(f->job, 0755) != 0 || mkdir(f->other, 0755) != 0 ||
        mkdir(f->allow, 0755) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Runs the job (through rk_isolate_child_main, as the runner would) and
 * returns its exit status; its stdout goes to out. */
static int run_job(const rk_sandbox_spec_t *spec, const rk_isolate_child_t *as, char *out,
                   size_t outsz)
{
    char **argv = NULL, err[256] = "";
    int rc = rk_sandbox_argv(spec, &argv, err, sizeof err);
    if (rc != 0)
        printf("argv: %s\n", err);
    assert_int_equal(rc, 0);
    rk_isolate_child_t c = as ? *as : (rk_isolate_child_t){0};
    c.argv = argv;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        _exit(rk_isolate_child_main(&c));
    }
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outsz && (r = read(pfd[0], out + n, outsz - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(pfd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    rk_sandbox_argv_free(argv);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int sh(fx_t *f, bool network, const char *script, char *out, size_t outsz)
{
    const char *cmd[] = {"/bin/sh", "-c", script, NULL};
    rk_sandbox_spec_t spec = {.job_dir = f->job, .network = network, .argv = cmd};
    return run_job(&spec, NULL, out, outsz);
}

static void test_probe_finds_bwrap_working(void **state)
{
    char why[256] = "";
    assert_int_equal(rk_sandbox_probe(NULL, why, sizeof why), 0);
    assert_int_equal(rk_sandbox_probe("/nonexistent/bwrap", why, sizeof why), RK_EUNSUP);
    printf("a missing bwrap: %s\n", why);
    assert_non_null(strstr(why, "bwrap"));
}

static void test_job_writes_only_its_folder_and_tmp(void **state)
{
    fx_t *f = *state;
    char out[4096], script[1024], path[256];
    /* One line per attempt: "<target> <exit status of the write>". */
    snprintf(script, sizeof script,
             "for p in /rk-x /etc/rk-x %s/rk-x %s/rk-x /job/out /tmp/rk-x; do "
             "echo hi 2>/dev/null > $p; echo \"$p $?\"; done; pwd",
             f->other, f->base);
    assert_int_equal(sh(f, false, script, out, sizeof out), 0);
    printf("%s", out);
    char want[1024];
    snprintf(want, sizeof want,
             "/rk-x 2\n/etc/rk-x 2\n%s/rk-x 2\n%s/rk-x 2\n/job/out 0\n/tmp/rk-x 0\n/job\n",
             f->other, f->base);
    assert_string_equal(out, want);
    snprintf(path, sizeof path, "%s/out", f->job);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/rk-x", f->other);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_not_equal(access("/etc/rk-x", F_OK), 0);
    assert_int_not_equal(access("/rk-x", F_OK), 0);
}

/* The agent's data dir is hidden: other jobs' folders (and the agent's
 * token) are not even readable, while the job's own stays at /job. */
static void test_hidden_dir_is_empty_inside(void **state)
{
    fx_t *f = *state;
    char path[160], script[512], out[512];
    snprintf(path, sizeof path, "%s/secret", f->other);
    FILE *s = fopen(path, "w");
    assert_non_null(s);
    fputs("token", s);
    fclose(s);
    snprintf(script, sizeof script,
             "cat %s 2>/dev/null || echo unreadable; ls -A %s | wc -l; ls /job", path, f->base);
    const char *cmd[] = {"/bin/sh", "-c", script, NULL};
    const char *hide[] = {f->base, NULL};
    snprintf(path, sizeof path, "%s/mine", f->job);
    s = fopen(path, "w");
    assert_non_null(s);
    fclose(s);
    rk_sandbox_spec_t spec = {.job_dir = f->job, .hide = hide, .argv = cmd};
    assert_int_equal(run_job(&spec, NULL, out, sizeof out), 0);
    assert_string_equal(out, "unreadable\n0\nmine\n");
}

static void test_job_cannot_see_host_processes(void **state)
{
    fx_t *f = *state;
    char out[4096], script[256];
    snprintf(script, sizeof script,
             "test -e /proc/%d && echo sees-the-test; ls /proc | grep -c '^[0-9]'", (int)getpid());
    assert_int_equal(sh(f, false, script, out, sizeof out), 0);
    printf("processes visible inside: %s", out);
    assert_null(strstr(out, "sees-the-test"));
    assert_true(atoi(out) <= 4); /* bwrap as init, sh, ls, grep */
}

/* Opens a listener on 127.0.0.1 and returns its port. */
static int listen_local(fx_t *f)
{
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->listen_fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(f->listen_fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static void test_network_none_cannot_reach_loopback(void **state)
{
    fx_t *f = *state;
    char out[4096], script[256];
    snprintf(script, sizeof script,
             "{ exec 3<>/dev/tcp/127.0.0.1/%d; } 2>/dev/null && echo connected || echo refused",
             listen_local(f));
    const char *cmd[] = {"/bin/bash", "-c", script, NULL};
    rk_sandbox_spec_t spec = {.job_dir = f->job, .network = false, .argv = cmd};
    assert_int_equal(run_job(&spec, NULL, out, sizeof out), 0);
    assert_string_equal(out, "refused\n");
    /* The control: the same job with the host's network gets through, so
     * the refusal above is the sandbox's doing. */
    spec.network = true;
    assert_int_equal(run_job(&spec, NULL, out, sizeof out), 0);
    assert_string_equal(out, "connected\n");
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

static void test_double_forked_daemon_dies_with_the_sandbox(void **state)
{
    fx_t *f = *state;
    char out[256], script[256], marker[64];
    snprintf(marker, sizeof marker, "sleep 4242.%d", (int)getpid());
    /* The inner shell backgrounds the daemon and exits: it is orphaned
     * inside the sandbox, detached from the job's stdout. */
    snprintf(script, sizeof script,
             "sh -c '%s >/dev/null 2>&1 &'; sleep 0.2; ps -o args | grep -c '^%s'", marker, marker);
    assert_int_equal(sh(f, false, script, out, sizeof out), 0);
    assert_string_equal(out, "1\n"); /* it was running while the job was */
    for (int i = 0; i < 100 && process_with(marker); i++)
        usleep(10000);
    assert_false(process_with(marker));
}

static void test_bind_outside_allow_list_refused(void **state)
{
    fx_t *f = *state;
    const char *cmd[] = {"/bin/true", NULL};
    const char *allow[] = {f->allow, NULL};
    rk_sandbox_bind_t b = {.source = "/etc", .target = "/data"};
    rk_sandbox_spec_t spec = {
        .job_dir = f->job, .binds = &b, .nbinds = 1, .allow_binds = allow, .argv = cmd};
    char **argv = (char **)1, err[256] = "";
    assert_int_equal(rk_sandbox_argv(&spec, &argv, err, sizeof err), RK_EINVAL);
    assert_null(argv);
    printf("%s\n", err);
    assert_string_equal(err, "binds[0].source '/etc' is outside the allowed directories "
                             "(--allow-bind)");
    /* A symlink inside the allowed directory leading out is refused too. */
    char link[160];
    snprintf(link, sizeof link, "%s/escape", f->allow);
    assert_int_equal(symlink("/etc", link), 0);
    b.source = link;
    assert_int_equal(rk_sandbox_argv(&spec, &argv, err, sizeof err), RK_EINVAL);
    assert_non_null(strstr(err, "outside the allowed"));
    b.source = f->allow;
    b.target = "/data/../etc";
    assert_int_equal(rk_sandbox_argv(&spec, &argv, err, sizeof err), RK_EINVAL);
    assert_non_null(strstr(err, "binds[0].target"));
}

static void test_allowed_binds_read_only_and_writable(void **state)
{
    fx_t *f = *state;
    const char *allow[] = {f->allow, NULL};
    rk_sandbox_bind_t b[] = {{.source = f->allow, .target = "/ro"},
                             {.source = f->allow, .target = "/rw", .writable = true}};
    const char *cmd[] = {"/bin/sh", "-c",
                         "echo a 2>/dev/null > /ro/f; echo $?; echo b > /rw/f; echo $?", NULL};
    rk_sandbox_spec_t spec = {
        .job_dir = f->job, .binds = b, .nbinds = 2, .allow_binds = allow, .argv = cmd};
    char out[256];
    assert_int_equal(run_job(&spec, NULL, out, sizeof out), 0);
    assert_string_equal(out, "2\n0\n");
}

static void test_run_as_drops_to_the_user(void **state)
{
    fx_t *f = *state;
    if (getuid() != 0) {
        printf("skip: dropping to another user needs root\n");
        skip();
    }
    assert_int_equal(chown(f->job, 65534, 65534), 0);
    const char *cmd[] = {"/bin/sh", "-c", "id -u; echo x > /job/mine", NULL};
    rk_sandbox_spec_t spec = {.job_dir = f->job, .user_ns = true, .argv = cmd};
    rk_isolate_child_t as = {.run_as = true, .uid = 65534, .gid = 65534};
    char out[256];
    int st = run_job(&spec, &as, out, sizeof out);
    if (st != 0) {
        printf("skip: bwrap cannot make a user namespace as an unprivileged user here\n");
        skip();
    }
    assert_string_equal(out, "65534\n");
    char path[160];
    struct stat sb;
    snprintf(path, sizeof path, "%s/mine", f->job);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_uid, 65534);
}

int main(void)
{
    char why[256];
    if (rk_sandbox_probe(NULL, why, sizeof why) != 0) {
        printf("skip: %s (install bubblewrap)\n", why);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_finds_bwrap_working),
        cmocka_unit_test_setup_teardown(test_job_writes_only_its_folder_and_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_cannot_see_host_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hidden_dir_is_empty_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_network_none_cannot_reach_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_forked_daemon_dies_with_the_sandbox, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bind_outside_allow_list_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allowed_binds_read_only_and_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_as_drops_to_the_user, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
