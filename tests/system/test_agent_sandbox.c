/* ruckus-agent running command jobs in the bwrap sandbox (issue 13, "Must
 * hold"): a job cannot write outside its folder (/, /etc, the agent's data
 * dir, another job's folder), sees none of the host's processes, cannot
 * reach a 127.0.0.1 listener with network none (and can with host), and a
 * daemon it double-forks is gone when it ends or is cancelled, also with
 * only a cgroup (limits, no sandbox). Jobs in the busybox OCI image see its
 * root, share one unpacked copy, and a tampered layer fails the job with a
 * clear error. Bad isolation input is a 422 naming the field, nothing run.
 * --run-as drops jobs to that user. A kill -9 of the agent leaves nothing
 * its restart does not sweep; 60 isolated jobs leave no cgroup behind.
 * Jobs run in the agent's warm sandbox, which survives a kill -9 of its
 * holder.
 * Real agent, real bwrap, real cgroups; skipped (saying why) only where
 * bwrap or cgroups cannot run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper_image.h"
#include "isolate/cgroup.h"
#include "isolate/sandbox.h"
#include "rk_test_agent.h"

static void need_sandbox(void)
{
    char why[256];
    if (rk_sandbox_probe(NULL, why, sizeof why) != 0) {
        printf("skip: bwrap cannot run a sandbox here: %s\n", why);
        skip();
    }
}

static void need_cgroups(void)
{
    rk_cg_probe_t p;
    if (rk_cg_probe(RK_CG_NONE, &p) != 0) {
        printf("skip: no usable cgroups here: %s\n", p.why);
        skip();
    }
}

/* POSTs job (taken) to the agent; the HTTP status. */
static long submit(const rk_test_agent_t *a, json_t *job)
{
    long st = rk_test_agent_submit(a, job);
    json_decref(job);
    return st;
}

/* A command job running `sh -c script` with extra params (taken). */
static json_t *sh_job(const char *id, const char *script, json_t *extra)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    return rk_test_job_cmd(id, argv, extra);
}

/* Submits job (taken), waits for its end; returns the result (new ref). */
static json_t *run(rk_test_agent_t *a, json_t *job, const char *want)
{
    const char *id = json_string_value(json_object_get(job, "job_id"));
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(a, idc, NULL, 30000);
    assert_non_null(st);
    json_t *r = rk_test_agent_result(a, idc);
    assert_non_null(r);
    if (strcmp(st, want) != 0)
        printf("job %s ended %s: %s\n", idc, st,
               json_string_value(json_object_get(r, "error")) ?: "");
    assert_string_equal(st, want);
    free(st);
    return r;
}

/* The job's output/<name> on the host, trimmed (malloc'd), or NULL. */
static char *output(const rk_test_agent_t *a, const char *id, const char *name)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/jobs/%s/output/%s", a->data, id, name);
    char *s = rk_test_read_file(path, NULL);
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    return s;
}

static void expect_output(const rk_test_agent_t *a, const char *id, const char *name,
                          const char *want)
{
    char *s = output(a, id, name);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void test_walls(void **state)
{
    (void)state;
    need_sandbox();
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    json_decref(run(&a, sh_job("other", "echo mine > $RUCKUS_OUTPUT_DIR/f", NULL), "completed"));
    char name[64], script[PATH_MAX * 4 + 512];
    snprintf(name, sizeof name, "rk-escape-%d", (int)getpid());
    /* Each target: "wrote" when the write went through (inside the sandbox
     * that may be a tmpfs; the host is checked below). */
    snprintf(
        script, sizeof script,
        "for t in / /etc %s %s/jobs %s/jobs/other %s/jobs/other/output; do "
        "  echo x > $t/%s 2>/dev/null && echo \"wrote $t\"; done; "
        "echo here > $RUCKUS_OUTPUT_DIR/own; echo $RUCKUS_OUTPUT_DIR > $RUCKUS_OUTPUT_DIR/dir; "
        "ls /proc | grep -c '^[0-9]' > $RUCKUS_OUTPUT_DIR/procs",
        a.data, a.data, a.data, a.data, name);
    json_t *r = run(&a, sh_job("walls", script, json_pack("{s:{}}", "isolation")), "completed");
    /* No limits asked: no cgroup, so none of its figures (the protocol's
     * come with limits); the PID namespace took what the job left. */
    assert_null(json_object_get(json_object_get(r, "metrics"), "cgroup_cpu_usage_s"));
    json_decref(r);
    /* The host: nothing landed outside the job's folder. */
    const char *dirs[] = {"", "/etc", a.data, "jobs", "jobs/other", "jobs/other/output"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char p[PATH_MAX * 2 + 256];
        if (i < 3)
            snprintf(p, sizeof p, "%s/%s", dirs[i], name);
        else
            snprintf(p, sizeof p, "%s/%s/%s", a.data, dirs[i], name);
        if (exists(p))
            printf("escaped to %s\n", p);
        assert_false(exists(p));
    }
    expect_output(&a, "other", "f", "mine");
    /* Its own folder is writable, at /job. */
    expect_output(&a, "walls", "own", "here");
    expect_output(&a, "walls", "dir", "/job/output");
    /* Its own PID namespace: bwrap, sh, ls and grep at most. */
    char *procs = output(&a, "walls", "procs");
    assert_non_null(procs);
    printf("processes seen in the sandbox: %s\n", procs);
    assert_true(atoi(procs) >= 1 && atoi(procs) <= 5);
    free(procs);
    rk_test_agent_cleanup(&a);
}

static void test_network(void **state)
{
    (void)state;
    need_sandbox();
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s, 16), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    char script[512];
    snprintf(script, sizeof script,
             "python3 -c \"import socket; socket.create_connection(('127.0.0.1', %u), timeout=3)\" "
             "2>/dev/null && echo reached > $RUCKUS_OUTPUT_DIR/net || "
             "echo unreachable > $RUCKUS_OUTPUT_DIR/net",
             (unsigned)ntohs(sa.sin_port));
    json_decref(run(&a, sh_job("none", script, json_pack("{s:{}}", "isolation")), "completed"));
    expect_output(&a, "none", "net", "unreachable");
    /* The control: with network host the same listener answers. */
    json_decref(run(&a,
                    sh_job("host", script, json_pack("{s:{s:s}}", "isolation", "network", "host")),
                    "completed"));
    expect_output(&a, "host", "net", "reached");
    close(s);
    rk_test_agent_cleanup(&a);
}

/* Whether a process runs `sleep <arg>`. */
static bool sleeper_alive(const char *arg)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[256] = "";
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        if (n > 6 && strcmp(buf, "sleep") == 0 && strcmp(buf + 6, arg) == 0) {
            char st[300], *s;
            snprintf(st, sizeof st, "/proc/%s/stat", e->d_name);
            /* A zombie is gone already (it waits for its reaper). */
            s = rk_test_read_file(st, NULL);
            char *paren = s ? strrchr(s, ')') : NULL;
            found = !paren || paren[2] != 'Z';
            free(s);
        }
    }
    if (d)
        closedir(d);
    return found;
}

static bool sleeper_running(void *arg)
{
    return sleeper_alive(arg);
}

static bool sleeper_gone(void *arg)
{
    return !sleeper_alive(arg);
}

/* A daemon: double-forked, its own session, out of the job's process group,
 * without the job's environment (which the agent's leftover sweep looks for). */
static void daemon_script(char *out, size_t n, const char *arg, const char *after)
{
    snprintf(out, n,
             "(env -i D=$RUCKUS_OUTPUT_DIR PATH=$PATH setsid sh -c 'touch $D/ready; exec sleep %s' "
             "</dev/null >/dev/null 2>&1 &); while [ ! -e $RUCKUS_OUTPUT_DIR/ready ]; do sleep "
             "0.01; done; sleep 0.2; %s",
             arg, after);
}

static void test_daemons_end_with_the_job(void **state)
{
    (void)state;
    need_sandbox();
    need_cgroups();
    const char *const args[] = {"--grace", "0.3", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    char arg[3][32], script[1024];
    for (int i = 0; i < 3; i++)
        snprintf(arg[i], sizeof arg[i], "%d.%d", 900 + i, (int)getpid());
    /* Ends: the sandbox's PID namespace goes with it. */
    daemon_script(script, sizeof script, arg[0], "true");
    json_decref(run(&a, sh_job("ends", script, json_pack("{s:{}}", "isolation")), "completed"));
    assert_true(rk_test_wait_until(sleeper_gone, arg[0], 5000));
    /* Only a cgroup (limits, no sandbox): the group is emptied at the end. */
    daemon_script(script, sizeof script, arg[1], "true");
    json_decref(run(&a, sh_job("cgroup", script, json_pack("{s:{s:i}}", "limits", "pids", 100)),
                    "completed"));
    assert_true(rk_test_wait_until(sleeper_gone, arg[1], 5000));
    /* Cancelled while it runs. */
    daemon_script(script, sizeof script, arg[2], "sleep 300");
    assert_int_equal(submit(&a, sh_job("cancel", script, json_pack("{s:{}}", "isolation"))), 200);
    char ready[PATH_MAX + 64];
    snprintf(ready, sizeof ready, "%s/jobs/cancel/output/ready", a.data);
    double end = rk_test_now_ms() + 10000;
    while (!exists(ready) && rk_test_now_ms() < end)
        rk_test_sleep_ms(5);
    assert_true(exists(ready));
    assert_true(rk_test_wait_until(sleeper_running, arg[2], 5000));
    rk_test_resp_t r;
    rk_test_req(&a.p, "DELETE", "/api/v1/jobs/cancel", NULL, NULL, &r);
    assert_int_equal(r.status, 202);
    rk_test_resp_cleanup(&r);
    char *st = rk_test_agent_wait(&a, "cancel", NULL, 10000);
    assert_non_null(st);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(rk_test_wait_until(sleeper_gone, arg[2], 5000));
    rk_test_agent_cleanup(&a);
}

/* Sub-groups (job groups) under the agent's cgroup root in the pids
 * hierarchy (v1) or the unified one (v2); -1 when the root is missing. */
static int job_groups(const rk_test_agent_t *a)
{
    rk_cg_probe_t p;
    assert_int_equal(rk_cg_probe(RK_CG_NONE, &p), 0);
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", "/api/v1/health", NULL, NULL, &r);
    const char *id = json_string_value(json_object_get(r.json, "agent_id"));
    assert_non_null(id);
    char dir[RK_CG_PATH_MAX + 128];
    snprintf(dir, sizeof dir, "%s/ruckus/%s",
             p.version == RK_CG_V2 ? p.base[0] : p.base[__builtin_ctz(RK_CG_PIDS)], id);
    rk_test_resp_cleanup(&r);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_type == DT_DIR && e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* kill -9 of the agent while a job with only a cgroup runs a daemon that
 * left its process group and environment: the restarted agent's sweep
 * kills it and removes the group; the job reads failed, as any job a
 * restart interrupts. */
static void test_kill9_sweeps_cgroups(void **state)
{
    (void)state;
    need_cgroups();
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    char arg[32], script[1024];
    snprintf(arg, sizeof arg, "%d.%d", 950, (int)getpid());
    daemon_script(script, sizeof script, arg, "sleep 300");
    assert_int_equal(
        submit(&a, sh_job("crash", script, json_pack("{s:{s:i}}", "limits", "pids", 100))), 200);
    assert_true(rk_test_wait_until(sleeper_running, arg, 10000));
    assert_int_equal(job_groups(&a), 1);
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_true(sleeper_alive(arg)); /* outlived the agent, out of reach of its group kill */
    assert_int_equal(rk_test_agent_restart(&a, 1, NULL, NULL), 0);
    assert_true(rk_test_wait_until(sleeper_gone, arg, 5000));
    assert_true(rk_test_proc_log_has(&a.p, "removed cgroups a previous run left"));
    assert_int_equal(job_groups(&a), 0);
    char *st = rk_test_agent_wait(&a, "crash", NULL, 5000);
    assert_non_null(st);
    assert_string_equal(st, "failed");
    free(st);
    rk_test_agent_cleanup(&a);
}

/* Many isolated jobs with limits, two at a time: all complete, each
 * reports its cgroup's figures, and no group is left. */
static void test_many(void **state)
{
    (void)state;
    need_sandbox();
    need_cgroups();
    enum { N = 60 };
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, NULL, NULL), 0);
    double t0 = rk_test_now_ms();
    for (int i = 0; i < N; i += 2) {
        char id[2][16];
        for (int k = 0; k < 2; k++) {
            snprintf(id[k], sizeof id[k], "m%d", i + k);
            assert_int_equal(submit(&a, sh_job(id[k], "echo $RUCKUS_JOB_ID > $RUCKUS_OUTPUT_DIR/id",
                                               json_pack("{s:{},s:{s:i,s:i}}", "isolation",
                                                         "limits", "memory_mb", 64, "pids", 50))),
                             200);
        }
        for (int k = 0; k < 2; k++) {
            char *st = rk_test_agent_wait(&a, id[k], NULL, 30000);
            if (!st || strcmp(st, "completed") != 0) {
                char *log = rk_test_proc_log(&a.p);
                size_t n = log ? strlen(log) : 0;
                printf("job %s: %s; the agent's log ends:\n%s\n", id[k], st ? st : "no status",
                       log ? log + (n > 4000 ? n - 4000 : 0) : "");
                free(log);
            }
            assert_non_null(st);
            assert_string_equal(st, "completed");
            free(st);
            json_t *r = rk_test_agent_result(&a, id[k]);
            assert_true(json_is_number(
                json_object_get(json_object_get(r, "metrics"), "cgroup_cpu_usage_s")));
            json_decref(r);
            expect_output(&a, id[k], "id", id[k]);
        }
    }
    printf("%d sandboxed jobs with limits, 2 slots: %.0f ms\n", N, rk_test_now_ms() - t0);
    assert_int_equal(job_groups(&a), 0);
    rk_test_agent_cleanup(&a);
}

/* POSTs job (taken): expects 422 whose detail holds field, and no trace of
 * the job (no status, no folder). */
static void expect_refused(rk_test_agent_t *a, json_t *job, const char *field)
{
    char id[64], path[PATH_MAX + 128];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(job, "job_id")));
    rk_test_resp_t r;
    rk_test_req_json(&a->p, "POST", "/api/v1/jobs", job, NULL, &r);
    json_decref(job);
    const char *detail = json_string_value(json_object_get(r.json, "detail"));
    printf("%ld %s\n", r.status, detail ? detail : r.body);
    assert_int_equal(r.status, 422);
    assert_non_null(detail);
    assert_non_null(strstr(detail, field));
    rk_test_resp_cleanup(&r);
    char *st = rk_test_agent_state(a, id);
    assert_null(st);
    snprintf(path, sizeof path, "%s/jobs/%s", a->data, id);
    assert_false(exists(path));
}

/* Unpacked copies in the cache: entries named by a 64-hex digest. */
static int cache_copies(const char *cache)
{
    DIR *d = opendir(cache);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strlen(e->d_name) == 64 && strspn(e->d_name, "0123456789abcdef") == 64;
    if (d)
        closedir(d);
    return n;
}

static void test_image(void **state)
{
    (void)state;
    need_sandbox();
    char *root = rk_test_tmpdir();
    char images[PATH_MAX], work[PATH_MAX], digest[80];
    snprintf(images, sizeof images, "%s/images", root);
    snprintf(work, sizeof work, "%s/work", root);
    helper_sh("mkdir -p %s %s", images, work);
    build_image(images, work, digest);
    helper_sh("cp -a %s/bb %s/bad", images, images);
    /* Flip the first layer's last byte (the gzip trailer). */
    helper_sh(
        "f=$(ls -S %s/bad/blobs/sha256 | head -1); printf 'X' | "
        "dd of=%s/bad/blobs/sha256/$f bs=1 seek=$(($(stat -c %%s %s/bad/blobs/sha256/$f) - 1)) "
        "conv=notrunc status=none",
        images, images, images);
    const char *const args[] = {"--images-dir", images, NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, args, NULL), 0);

    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/images", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *list = json_object_get(r.json, "images");
    assert_int_equal(json_array_size(list), 2);
    json_t *bb = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(bb, "name")), "bb");
    assert_string_equal(json_string_value(json_object_get(bb, "digest")), digest);
    assert_true(json_integer_value(json_object_get(bb, "size_bytes")) > 0);
    rk_test_resp_cleanup(&r);
    rk_test_req(&a.p, "GET", "/api/v1/info", NULL, NULL, &r);
    json_t *caps = json_object_get(json_object_get(r.json, "agent_info"), "capabilities");
    assert_string_equal(json_string_value(json_object_get(caps, "sandbox")), "bwrap");
    assert_string_equal(json_string_value(json_array_get(json_object_get(caps, "images"), 1)),
                        "bb");
    rk_test_resp_cleanup(&r);

    /* First, on an empty cache (a verified copy of bb is what a layout
     * with the same manifest digest would use): refused, nothing kept. */
    char cache[PATH_MAX + 16];
    snprintf(cache, sizeof cache, "%s/images", a.data);
    json_t *res =
        run(&a, sh_job("tampered", "true", json_pack("{s:{s:s}}", "isolation", "rootfs", "bad")),
            "failed");
    const char *err = json_string_value(json_object_get(res, "error"));
    printf("tampered image: %s\n", err);
    assert_non_null(strstr(err, "image 'bad': layer 1 of 2 (sha256:"));
    assert_non_null(strstr(err, "does not match its digest"));
    json_decref(res);
    assert_int_equal(cache_copies(cache), 0);

    const char *script =
        "test -x /bin/busybox && test ! -e /usr/bin/python3 && "
        "cat /etc/hello > $RUCKUS_OUTPUT_DIR/hello && ls /d > $RUCKUS_OUTPUT_DIR/d";
    /* Two at once: one unpacks, both use the same copy. */
    assert_int_equal(
        submit(&a, sh_job("img1", script, json_pack("{s:{s:s}}", "isolation", "rootfs", "bb"))),
        200);
    json_decref(run(&a, sh_job("img2", script, json_pack("{s:{s:s}}", "isolation", "rootfs", "bb")),
                    "completed"));
    char *st = rk_test_agent_wait(&a, "img1", NULL, 30000);
    assert_non_null(st);
    assert_string_equal(st, "completed");
    free(st);
    for (int i = 1; i <= 2; i++) {
        char id[8];
        snprintf(id, sizeof id, "img%d", i);
        char *hello = output(&a, id, "hello");
        assert_non_null(hello);
        free(hello);
        expect_output(&a, id, "d", "c"); /* layer 2 emptied d/ (opaque whiteout), then added c */
    }
    assert_int_equal(cache_copies(cache), 1);
    /* The image gone: a re-sent job is still answered as accepted (never
     * run twice, never refused after the fact); a new one is refused. */
    helper_sh("rm -rf %s/bb", images);
    assert_int_equal(
        submit(&a, sh_job("img2", script, json_pack("{s:{s:s}}", "isolation", "rootfs", "bb"))),
        200);
    expect_refused(&a, sh_job("img3", script, json_pack("{s:{s:s}}", "isolation", "rootfs", "bb")),
                   "experiment_spec.task.params.isolation.rootfs: no image 'bb'");
    rk_test_agent_cleanup(&a);
    rk_test_rmrf(root);
    free(root);
}

static void test_bad_input(void **state)
{
    (void)state;
    need_sandbox();
    need_cgroups();
    char *root = rk_test_tmpdir();
    char images[PATH_MAX], allowed[PATH_MAX], marker[PATH_MAX + 32];
    snprintf(images, sizeof images, "%s/images", root);
    snprintf(allowed, sizeof allowed, "%s/allowed", root);
    helper_sh("mkdir -p %s %s", images, allowed);
    const char *const args[] = {"--images-dir", images, "--allow-bind", allowed, NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    snprintf(marker, sizeof marker, "%s/ran", root);
    char script[PATH_MAX + 64];
    snprintf(script, sizeof script, "touch %s", marker);
    expect_refused(&a, sh_job("r1", script, json_pack("{s:{s:s}}", "isolation", "rootfs", "nope")),
                   "experiment_spec.task.params.isolation.rootfs");
    expect_refused(&a,
                   sh_job("r2", script,
                          json_pack("{s:{s:[{s:s,s:s}]}}", "isolation", "binds", "source", "/etc",
                                    "target", "/x")),
                   "experiment_spec.task.params.isolation.binds[0].source '/etc' is outside");
    expect_refused(&a, sh_job("r3", script, json_pack("{s:{s:i}}", "limits", "memory_mb", 2)),
                   "experiment_spec.task.params.limits.memory_mb");
    expect_refused(&a, sh_job("r4", script, json_pack("{s:{s:f}}", "limits", "cpus", 5000.0)),
                   "experiment_spec.task.params.limits.cpus");
    expect_refused(&a, sh_job("r5", script, json_pack("{s:{s:i}}", "limits", "pids", 0)),
                   "experiment_spec.task.params.limits.pids");
    expect_refused(&a, sh_job("r6", script, json_pack("{s:{s:s}}", "isolation", "network", "lan")),
                   "experiment_spec.task.params.isolation.network");
    assert_false(exists(marker));
    /* The control: a bind from the allowed folder is taken and writable. */
    json_decref(run(&a,
                    sh_job("ok", "echo via-bind > /data/f",
                           json_pack("{s:{s:[{s:s,s:s,s:b}]}}", "isolation", "binds", "source",
                                     allowed, "target", "/data", "writable", 1)),
                    "completed"));
    char f[PATH_MAX + 8];
    snprintf(f, sizeof f, "%s/f", allowed);
    char *s = rk_test_read_file(f, NULL);
    assert_non_null(s);
    assert_string_equal(s, "via-bind\n");
    free(s);
    rk_test_agent_cleanup(&a);
    rk_test_rmrf(root);
    free(root);
}

/* --sandbox none: isolation is refused, saying so; plain jobs still run. */
static void test_sandbox_none(void **state)
{
    (void)state;
    const char *const args[] = {"--sandbox", "none", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    expect_refused(&a, sh_job("iso", "true", json_pack("{s:{}}", "isolation")),
                   "experiment_spec.task.params.isolation: this agent has no sandbox");
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/info", NULL, NULL, &r);
    json_t *caps = json_object_get(json_object_get(r.json, "agent_info"), "capabilities");
    assert_true(json_is_null(json_object_get(caps, "sandbox")));
    rk_test_resp_cleanup(&r);
    json_decref(run(&a, sh_job("plain", "true", NULL), "completed"));
    rk_test_agent_cleanup(&a);
}

/* --run-as: the job runs as that user (in the sandbox and with only a
 * cgroup) and can write its folder. */
static void test_run_as(void **state)
{
    (void)state;
    need_sandbox();
    need_cgroups();
    if (getuid() != 0) {
        printf("skip: dropping to another user needs root\n");
        skip();
    }
    const char *const args[] = {"--run-as", "nobody", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    assert_int_equal(chmod(a.root, 0755), 0); /* nobody walks to its folder */
    const char *script = "id -u > $RUCKUS_OUTPUT_DIR/uid";
    json_decref(run(&a, sh_job("boxed", script, json_pack("{s:{}}", "isolation")), "completed"));
    json_decref(run(&a, sh_job("grouped", script, json_pack("{s:{s:i}}", "limits", "pids", 50)),
                    "completed"));
    expect_output(&a, "grouped", "uid", "65534");
    char *uid = output(&a, "boxed", "uid");
    assert_non_null(uid);
    /* bwrap maps the user into its own user namespace: not root there. */
    printf("uid in the sandbox: %s\n", uid);
    assert_string_not_equal(uid, "0");
    free(uid);
    rk_test_agent_cleanup(&a);
}

/* The agent's warm sandbox holder: its bwrap child started with --info-fd
 * (0 when there is none). */
static pid_t warm_bwrap(pid_t agent)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    while (d && !found && (e = readdir(d))) {
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        char *st = rk_test_read_file(path, NULL);
        char *paren = st ? strrchr(st, ')') : NULL;
        int ppid = 0;
        char state = 0;
        if (paren)
            sscanf(paren + 2, "%c %d", &state, &ppid);
        free(st);
        if (ppid != agent || state == 'Z')
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            if (strcmp(buf + i, "--info-fd") == 0)
                found = (pid_t)atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

static bool pid_gone(void *arg)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)*(pid_t *)arg);
    return access(path, F_OK) != 0;
}

/* Sandboxed jobs run in the agent's warm sandbox (PID 1 is its init, not
 * bwrap); a kill -9 of its holder while a job runs: that job completes,
 * the job submitted right after still runs sandboxed (a new holder, or a
 * bwrap of its own if it raced the death), and later jobs get the warm
 * sandbox again from a new holder, which a kill -9 of the agent takes
 * down with it. */
static void test_warm_holder_killed(void **state)
{
    (void)state;
    need_sandbox();
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, NULL, NULL), 0);
    if (!rk_test_proc_log_has(&a.p, "bwrap, warm")) {
        /* As root with a working bwrap it has to be there. */
        assert_int_not_equal(geteuid(), 0);
        printf("skip: the agent has no warm sandbox here (see its log)\n");
        rk_test_agent_cleanup(&a);
        skip();
    }
    const char *init = "cat /proc/1/comm > $RUCKUS_OUTPUT_DIR/init";
    json_decref(run(&a, sh_job("w1", init, json_pack("{s:{}}", "isolation")), "completed"));
    expect_output(&a, "w1", "init", "rk-sandbox-init");
    pid_t old = warm_bwrap(a.p.pid);
    assert_true(old > 0);
    assert_int_equal(submit(&a, sh_job("w2",
                                       "touch $RUCKUS_OUTPUT_DIR/up; sleep 1; echo done > "
                                       "$RUCKUS_OUTPUT_DIR/done",
                                       json_pack("{s:{}}", "isolation"))),
                     200);
    char up[PATH_MAX + 64];
    snprintf(up, sizeof up, "%s/jobs/w2/output/up", a.data);
    double end = rk_test_now_ms() + 10000;
    while (!exists(up) && rk_test_now_ms() < end)
        rk_test_sleep_ms(5);
    assert_true(exists(up));
    assert_int_equal(kill(old, SIGKILL), 0);
    json_decref(run(&a, sh_job("w3", init, json_pack("{s:{}}", "isolation")), "completed"));
    char *w3 = output(&a, "w3", "init");
    assert_non_null(w3);
    printf("PID 1 of the job started right after the kill: %s\n", w3);
    assert_true(strcmp(w3, "rk-sandbox-init") == 0 || strcmp(w3, "bwrap") == 0);
    free(w3);
    char *st = rk_test_agent_wait(&a, "w2", NULL, 10000);
    assert_non_null(st);
    assert_string_equal(st, "completed");
    free(st);
    expect_output(&a, "w2", "done", "done");
    json_decref(run(&a, sh_job("w4", init, json_pack("{s:{}}", "isolation")), "completed"));
    expect_output(&a, "w4", "init", "rk-sandbox-init");
    pid_t now = warm_bwrap(a.p.pid);
    assert_true(now > 0 && now != old);
    /* The holder goes with the agent, also on kill -9: nothing to sweep. */
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_true(rk_test_wait_until(pid_gone, &now, 5000));
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walls),
        cmocka_unit_test(test_network),
        cmocka_unit_test(test_daemons_end_with_the_job),
        cmocka_unit_test(test_image),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_sandbox_none),
        cmocka_unit_test(test_run_as),
        cmocka_unit_test(test_kill9_sweeps_cgroups),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_warm_holder_killed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
