/* ruckus-agent running command jobs with task.params.container through
 * --container-runtime podman (issue 13): a job in the busybox OCI image
 * (tests/isolate/helper_image.c, loaded with "podman load") sees the
 * image's root (busybox, no python3) and writes into /job what the agent's
 * artifacts serve; a cancelled or timed-out job and a kill -9 of the agent
 * leave no ruckus-<id> container; a pause freezes the container (podman
 * pause), a resume lets it go on; a 64 MiB memory limit fails a 256 MiB
 * allocation; 8 jobs at once all complete and leave nothing. Without a
 * runtime: capabilities say null, container jobs are refused (422 naming
 * the field), an agent asked for a runtime that does not answer does not
 * start. Those run everywhere; the runs need a podman that can run a
 * container here, else the test says why and exits 77 (skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_image.h"
#include "rk_test_agent.h"

#define SKIP_CODE 77

static char g_image[128];     /* localhost/rk-test-bb:<pid> once loaded */
static char g_skip[1024];     /* why the runs cannot happen here; "" when they can */
static const char *g_args[8]; /* the agent's container flags, NULL-terminated */
static char g_work[PATH_MAX]; /* scratch folder of the image */
static const char *g_variant; /* the run arguments that worked, in words */
static bool g_cgroupfs;       /* podman makes cgroups as directories and we are root */

/* Runs a shell command (printf-style), its output into out (bounded, may
 * be NULL); the exit status. */
static int sh_out(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh_out(char *out, size_t n, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    char buf[4096], sink[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = '\0';
    while (fread(sink, 1, sizeof sink, f) > 0) /* the rest is not kept */
        ;
    int st = pclose(f);
    if (out)
        snprintf(out, n, "%s", buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether a container named ruckus-<id> exists (running or not). */
static bool container_exists(const char *id)
{
    char out[1024];
    int st = sh_out(out, sizeof out, "podman ps -a -q --filter name='^ruckus-%s$' 2>&1", id);
    assert_int_equal(st, 0);
    return out[0] != '\0';
}

static bool container_running(void *id)
{
    return container_exists(id);
}

/* A command job of argv in the test image with extra params (taken). */
static json_t *ctr_job(const char *id, const char *const *argv, json_t *extra)
{
    json_t *x = json_pack("{s:{s:s}}", "container", "image", g_image);
    if (extra) {
        json_object_update(x, extra);
        json_decref(extra);
    }
    return rk_test_job_cmd(id, argv, x);
}

static json_t *ctr_sh(const char *id, const char *script, json_t *extra)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    return ctr_job(id, argv, extra);
}

/* Submits job (taken), waits for its end (60 s), checks the state; the
 * result (new ref). */
static json_t *run(rk_test_agent_t *a, json_t *job, const char *want)
{
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(job, "job_id")));
    long st = rk_test_agent_submit(a, job);
    json_decref(job);
    assert_int_equal(st, 200);
    char *s = rk_test_agent_wait(a, id, NULL, 60000);
    assert_non_null(s);
    json_t *r = rk_test_agent_result(a, id);
    assert_non_null(r);
    if (strcmp(s, want) != 0) {
        char *t = json_dumps(r, JSON_COMPACT);
        printf("job %s ended %s: %s\n", id, s, t);
        free(t);
    }
    assert_string_equal(s, want);
    free(s);
    return r;
}

/* The job's output/<name> on the host, trimmed; "" when absent. */
static void output(const rk_test_agent_t *a, const char *id, const char *name, char *out, size_t n)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/jobs/%s/output/%s", a->data, id, name);
    char *s = rk_test_read_file(path, NULL);
    snprintf(out, n, "%s", s ? s : "");
    free(s);
    size_t len = strlen(out);
    while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
        out[--len] = '\0';
}

/* POSTs job (taken); the status and the error body in err. */
static long submit_err(const rk_test_agent_t *a, json_t *job, char *err, size_t n)
{
    rk_test_resp_t r;
    rk_test_req_json(&a->p, "POST", "/api/v1/jobs", job, NULL, &r);
    json_decref(job);
    snprintf(err, n, "%s", r.body);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

static void start(rk_test_agent_t *a, int slots)
{
    assert_int_equal(rk_test_agent_start(a, slots, g_args, NULL), 0);
}

/* ---- without a runtime: run everywhere ---- */

static void test_refused_without_runtime(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/info", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *caps = json_object_get(json_object_get(r.json, "agent_info"), "capabilities");
    assert_non_null(json_object_get(caps, "container_runtime"));
    assert_true(json_is_null(json_object_get(caps, "container_runtime")));
    rk_test_resp_cleanup(&r);

    char err[2048];
    const char *argv[] = {"/bin/sh", "-c", "echo ran > $RUCKUS_OUTPUT_DIR/ran", NULL};
    json_t *job = rk_test_job_cmd("nort", argv, json_pack("{s:{s:s}}", "container", "image", "bb"));
    assert_int_equal(submit_err(&a, job, err, sizeof err), 422);
    assert_non_null(strstr(err, "experiment_spec.task.params.container: this agent has no "
                                "container runtime"));
    /* Bad input: 422 naming the field, at decode (any agent). */
    job = rk_test_job_cmd("noimg", argv, json_pack("{s:{}}", "container"));
    assert_int_equal(submit_err(&a, job, err, sizeof err), 422);
    assert_non_null(strstr(err, "task.params.container.image: field required"));
    job = rk_test_job_cmd("badimg", argv,
                          json_pack("{s:{s:s}}", "container", "image", "--privileged"));
    assert_int_equal(submit_err(&a, job, err, sizeof err), 422);
    assert_non_null(strstr(err, "task.params.container.image: expected an image name"));
    job = rk_test_job_cmd(
        "both", argv,
        json_pack("{s:{s:s},s:{s:s}}", "container", "image", "bb", "isolation", "rootfs", "bb"));
    assert_int_equal(submit_err(&a, job, err, sizeof err), 422);
    assert_non_null(strstr(err, "task.params.isolation.rootfs: cannot be combined with "
                                "task.params.container"));
    /* Nothing ran, nothing was kept. */
    const char *ids[] = {"nort", "noimg", "badimg", "both"};
    for (size_t i = 0; i < 4; i++) {
        char *s = rk_test_agent_state(&a, ids[i]);
        assert_null(s);
    }
    rk_test_agent_cleanup(&a);
}

/* Asked for a runtime that does not answer, the agent does not start and
 * says why. */
static void test_no_start_without_answer(void **state)
{
    (void)state;
    rk_test_agent_t a;
    const char *args[] = {"--container-runtime=podman",
                          "--container-runtime-path=/nonexistent/podman", NULL};
    assert_int_not_equal(rk_test_agent_start(&a, 1, args, NULL), 0);
    char *log = rk_test_proc_log(&a.p);
    if (!strstr(log, "--container-runtime: the runtime does not answer"))
        printf("agent log: %s\n", log);
    assert_non_null(strstr(log, "--container-runtime: the runtime does not answer"));
    assert_non_null(strstr(log, "/nonexistent/podman info"));
    free(log);
    rk_test_proc_cleanup(&a.p);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", a.root);
    assert_int_equal(system(cmd), 0);
}

/* ---- podman here? ---- */

/* Builds the busybox OCI image, loads it into podman and finds the run
 * arguments this machine needs; g_skip says why when none works. */
static void test_probe_podman(void **state)
{
    (void)state;
    char out[4096];
    if (sh_out(out, sizeof out, "podman info 2>&1") != 0) {
        snprintf(g_skip, sizeof g_skip, "podman info failed (not installed?): %.900s", out);
        return;
    }
    char tmpl[] = "/tmp/rk-ctr-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    snprintf(g_work, sizeof g_work, "%s", tmpl);
    char images[PATH_MAX + 16], work[PATH_MAX + 16], digest[80];
    snprintf(images, sizeof images, "%s/images", g_work);
    snprintf(work, sizeof work, "%s/work", g_work);
    helper_sh("mkdir -p %s %s", images, work);
    build_image(images, work, digest);
    snprintf(g_image, sizeof g_image, "localhost/rk-test-bb:%d", (int)getpid());
    helper_sh("tar -C %s/bb -cf %s/bb.tar .", images, g_work);
    /* The image's id is its config's digest, the same each time: one a
     * previous run left would clash with the new layers. */
    sh_out(NULL, 0,
           "ids=$(podman images -q --filter reference='localhost/rk-test-bb'); "
           "[ -z \"$ids\" ] || podman rmi -f $ids 2>&1");
    if (sh_out(out, sizeof out, "podman load -q -i %s/bb.tar 2>&1", g_work) != 0) {
        snprintf(g_skip, sizeof g_skip, "podman load of the busybox OCI archive failed: %.900s",
                 out);
        return;
    }
    /* "Loaded image: <name or id>": tag the id the archive got. */
    char *id = strstr(out, "Loaded image");
    assert_non_null(id);
    id = strchr(id, ':');
    assert_non_null(id);
    id++;
    while (*id == ' ' || *id == '(')
        id++;
    id[strcspn(id, "\n) ")] = '\0';
    if (strncmp(id, "sha256:", 7) == 0)
        id += 7;
    assert_int_equal(sh_out(out, sizeof out, "podman tag %s %s 2>&1", id, g_image), 0);

    /* What this machine needs: crun refuses hybrid cgroups (v1 with a v2
     * mount holding a controller) and podman's default rlimits may sit
     * above the hard ones a container host allows. */
    static const struct {
        const char *words;
        const char *args[4];
    } variants[] = {
        {"none", {NULL}},
        {"--ulimit nofile/nproc 1024",
         {"--container-run-arg=--ulimit=nofile=1024:1024",
          "--container-run-arg=--ulimit=nproc=1024:1024", NULL}},
        {"--runtime=runc and --ulimit nofile/nproc 1024",
         {"--container-run-arg=--runtime=runc", "--container-run-arg=--ulimit=nofile=1024:1024",
          "--container-run-arg=--ulimit=nproc=1024:1024", NULL}},
    };
    char errs[3][400] = {{0}};
    for (size_t v = 0; v < 3; v++) {
        char extra[512] = "";
        for (size_t i = 0; variants[v].args[i]; i++) {
            strcat(extra, " ");
            strcat(extra, variants[v].args[i] + strlen("--container-run-arg="));
        }
        if (sh_out(out, sizeof out,
                   "podman run --rm --pull=never --network=none%s %s /bin/busybox true 2>&1", extra,
                   g_image) == 0) {
            g_variant = variants[v].words;
            size_t k = 0;
            g_args[k++] = "--container-runtime=podman";
            g_args[k++] = "--grace=1";
            for (size_t i = 0; variants[v].args[i]; i++)
                g_args[k++] = variants[v].args[i];
            g_args[k] = NULL;
            printf("podman runs containers here with run arguments: %s\n", g_variant);
            g_cgroupfs =
                geteuid() == 0 &&
                sh_out(out, sizeof out, "podman info --format '{{.Host.CgroupManager}}'") == 0 &&
                strncmp(out, "cgroupfs", 8) == 0;
            printf("container jobs' cgroup figures %s\n",
                   g_cgroupfs ? "expected (cgroupfs, root)" : "not expected");
            return;
        }
        snprintf(errs[v], sizeof errs[v], "%.300s", out);
    }
    snprintf(g_skip, sizeof g_skip, "podman cannot run a container here: %.300s | %.300s | %.300s",
             errs[0], errs[1], errs[2]);
}

/* ---- with podman ---- */

static void test_runs_in_image(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a, 1);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/info", NULL, NULL, &r);
    json_t *caps = json_object_get(json_object_get(r.json, "agent_info"), "capabilities");
    assert_non_null(json_string_value(json_object_get(caps, "container_runtime")));
    assert_string_equal(json_string_value(json_object_get(caps, "container_runtime")), "podman");
    rk_test_resp_cleanup(&r);

    const char *script =
        "test -x /bin/busybox && echo yes > /job/output/busybox; "
        "test -e /usr/bin/python3 && echo yes > /job/output/python3 || echo no > "
        "/job/output/python3; "
        "echo $RUCKUS_JOB_ID:$RUCKUS_OUTPUT_DIR:$GREETING > $RUCKUS_OUTPUT_DIR/env; "
        "busybox pwd > /job/output/pwd; echo marker > /job/output/marker.txt; "
        "echo to-stdout";
    json_t *res =
        run(&a, ctr_sh("inimage", script, json_pack("{s:{s:s}}", "env", "GREETING", "hello")),
            "completed");
    json_decref(res);
    char s[512];
    output(&a, "inimage", "busybox", s, sizeof s);
    assert_string_equal(s, "yes");
    output(&a, "inimage", "python3", s, sizeof s);
    assert_string_equal(s, "no");
    output(&a, "inimage", "env", s, sizeof s);
    assert_string_equal(s, "inimage:/job/output:hello");
    output(&a, "inimage", "pwd", s, sizeof s);
    assert_string_equal(s, "/job");
    /* The agent's artifacts hold what the container wrote. */
    rk_test_req(&a.p, "GET", "/api/v1/jobs/inimage/artifacts", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(memmem(r.body, r.len, "marker.txt", 10));
    rk_test_resp_cleanup(&r);
    /* stdout went to the job's log through the client. */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs/inimage/stdout.log", a.data);
    char *log = rk_test_read_file(path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "to-stdout"));
    free(log);
    assert_false(container_exists("inimage"));
    /* A missing image fails the job (pull never), naming it. */
    const char *argv[] = {"/bin/busybox", "true", NULL};
    res = rk_test_job_cmd("noimage", argv,
                          json_pack("{s:{s:s}}", "container", "image", "localhost/rk-none:0"));
    json_t *rr = run(&a, res, "failed");
    char *t = json_dumps(rr, JSON_COMPACT);
    assert_non_null(strstr(t, "rk-none"));
    free(t);
    json_decref(rr);
    rk_test_agent_cleanup(&a);
}

/* A cancel and a timeout leave no container; so does a kill -9 of the
 * agent (its restart removes it). */
static void test_cancel_timeout_kill9(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a, 2);
    const char *sleep_argv[] = {"/bin/busybox", "sleep", "100", NULL};
    json_t *job = ctr_job("cancelme", sleep_argv, NULL);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    assert_true(rk_test_wait_until(container_running, "cancelme", 30000));
    double t0 = rk_test_now_ms();
    rk_test_resp_t r;
    rk_test_req(&a.p, "DELETE", "/api/v1/jobs/cancelme", NULL, NULL, &r);
    rk_test_resp_cleanup(&r);
    char *st = rk_test_agent_wait(&a, "cancelme", NULL, 30000);
    assert_non_null(st);
    assert_string_equal(st, "cancelled");
    free(st);
    printf("cancel to cancelled: %.0f ms\n", rk_test_now_ms() - t0);
    assert_false(container_exists("cancelme"));
    rk_test_job_ref_t ref = {&a, "cancelme"};
    assert_true(rk_test_wait_until(rk_test_job_procs_gone, &ref, 5000));

    /* Timeout. */
    job = ctr_job("slow", sleep_argv, NULL);
    json_object_set_new(json_object_get(job, "experiment_spec"), "capability_requirements",
                        json_pack("{s:i}", "timeout_seconds", 2));
    json_t *res = run(&a, job, "timeout");
    json_decref(res);
    assert_false(container_exists("slow"));

    /* kill -9 of the agent: the restart fails the job and removes its
     * container. */
    job = ctr_job("orphan", sleep_argv, NULL);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    assert_true(rk_test_wait_until(container_running, "orphan", 30000));
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_true(container_exists("orphan")); /* the runtime kept it */
    assert_int_equal(rk_test_agent_restart(&a, 2, g_args, NULL), 0);
    st = rk_test_agent_wait(&a, "orphan", NULL, 30000);
    assert_non_null(st);
    assert_string_equal(st, "failed");
    free(st);
    assert_false(container_exists("orphan"));
    rk_test_agent_cleanup(&a);
}

/* The counter a container job writes, or -1. */
static long counter(const rk_test_agent_t *a, const char *id)
{
    char s[64];
    output(a, id, "n", s, sizeof s);
    return s[0] ? strtol(s, NULL, 10) : -1;
}

/* A pause freezes the container ("podman pause"), not only its client;
 * a resume lets it go on. */
static void test_pause_resume(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a, 1);
    const char *script = "i=0; while true; do i=$((i+1)); echo $i > /job/output/n.tmp; "
                         "busybox mv /job/output/n.tmp /job/output/n; busybox sleep 0.05; done";
    json_t *job = ctr_sh("counting", script, NULL);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    double t0 = rk_test_now_ms();
    while (counter(&a, "counting") < 3 && rk_test_now_ms() - t0 < 30000)
        rk_test_sleep_ms(50);
    assert_true(counter(&a, "counting") >= 3);
    rk_test_resp_t r;
    rk_test_req(&a.p, "POST", "/api/v1/jobs/counting/pause", NULL, NULL, &r);
    assert_int_equal(r.status / 100, 2);
    rk_test_resp_cleanup(&r);
    rk_test_sleep_ms(300); /* a write under way lands */
    long n1 = counter(&a, "counting");
    rk_test_sleep_ms(1500);
    long n2 = counter(&a, "counting");
    printf("paused: counter %ld then %ld\n", n1, n2);
    assert_int_equal(n1, n2);
    char out[256];
    assert_int_equal(
        sh_out(out, sizeof out, "podman inspect -f '{{.State.Status}}' ruckus-counting"), 0);
    assert_non_null(strstr(out, "paused"));
    rk_test_req(&a.p, "POST", "/api/v1/jobs/counting/resume", NULL, NULL, &r);
    assert_int_equal(r.status / 100, 2);
    rk_test_resp_cleanup(&r);
    t0 = rk_test_now_ms();
    while (counter(&a, "counting") <= n2 + 3 && rk_test_now_ms() - t0 < 10000)
        rk_test_sleep_ms(50);
    assert_true(counter(&a, "counting") > n2 + 3);
    rk_test_req(&a.p, "DELETE", "/api/v1/jobs/counting", NULL, NULL, &r);
    rk_test_resp_cleanup(&r);
    char *st = rk_test_agent_wait(&a, "counting", NULL, 30000);
    assert_non_null(st);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_false(container_exists("counting"));
    rk_test_agent_cleanup(&a);
}

static double metric(const json_t *r, const char *name)
{
    const json_t *v = json_object_get(json_object_get(r, "metrics"), name);
    if (!json_is_number(v))
        printf("no metric %s in %s\n", name, json_dumps(r, JSON_COMPACT));
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* Job groups named <job id>-<run> left anywhere under /sys/fs/cgroup. */
static int groups_left(const char *id)
{
    char out[1024];
    sh_out(out, sizeof out, "find /sys/fs/cgroup -type d -name '%s-*' 2>/dev/null | wc -l", id);
    return atoi(out);
}

/* limits.memory_mb 64: a 256 MiB allocation is killed and the job fails;
 * the same job without the limit completes. Where podman makes its
 * cgroups as directories (cgroupfs) the container runs under the job's
 * group: the result says it was killed by its limit (oom_killed 1, a peak
 * within 64 MiB), the unlimited run's peak holds the container's 256 MiB,
 * and cpus 0.5 bounds a 2 s busy loop to about 1 s of CPU; no group is
 * left. Elsewhere the limits are podman's flags (exit 137, no figures). */
static void test_memory_limit(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a, 1);
    const char *script = "busybox head -c 268435456 /dev/zero | busybox tail > /dev/null";
    json_t *res = run(
        &a, ctr_sh("ctr-oom", script, json_pack("{s:{s:i}}", "limits", "memory_mb", 64)), "failed");
    char *t = json_dumps(res, JSON_COMPACT);
    printf("oom job: %.600s\n", t);
    free(t);
    if (g_cgroupfs) {
        assert_string_equal(json_string_value(json_object_get(res, "error")),
                            "killed by its memory limit (memory_mb 64)");
        assert_int_equal((int)metric(res, "oom_killed"), 1);
        double peak = metric(res, "cgroup_memory_peak_kib");
        assert_true(peak > 1024 && peak <= 64 * 1024);
    } else {
        t = json_dumps(res, JSON_COMPACT);
        assert_non_null(strstr(t, "137"));
        free(t);
    }
    json_decref(res);
    res = run(&a, ctr_sh("ctr-nolimit", script, NULL), "completed");
    if (g_cgroupfs) {
        printf("unlimited: peak %.0f KiB, cpu %.2f s\n", metric(res, "cgroup_memory_peak_kib"),
               metric(res, "cgroup_cpu_usage_s"));
        assert_int_equal((int)metric(res, "oom_killed"), 0);
        assert_true(metric(res, "cgroup_memory_peak_kib") > 200 * 1024);
        assert_true(metric(res, "cgroup_cpu_usage_s") > 0.01);
    }
    json_decref(res);
    if (g_cgroupfs) {
        res = run(&a,
                  ctr_sh("ctr-cpus", "busybox timeout 2 busybox sh -c 'while :; do :; done'; true",
                         json_pack("{s:{s:f}}", "limits", "cpus", 0.5)),
                  "completed");
        double cpu = metric(res, "cgroup_cpu_usage_s");
        printf("cpus 0.5, a 2 s busy loop: %.2f s of CPU\n", cpu);
        assert_true(cpu > 0.1 && cpu < 1.4);
        json_decref(res);
    }
    assert_false(container_exists("ctr-oom"));
    assert_int_equal(groups_left("ctr-oom"), 0);
    assert_int_equal(groups_left("ctr-nolimit"), 0);
    assert_int_equal(groups_left("ctr-cpus"), 0);
    rk_test_agent_cleanup(&a);
}

/* Scale: 8 container jobs at once (8 slots) all complete, each sees its own id,
 * and none is left. */
static void test_scale(void **state)
{
    (void)state;
    rk_test_agent_t a;
    start(&a, 8);
    enum { N = 8 };
    char ids[N][32];
    double t0 = rk_test_now_ms();
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "many-%d", i);
        json_t *job = ctr_sh(ids[i], "echo $RUCKUS_JOB_ID > /job/output/id", NULL);
        assert_int_equal(rk_test_agent_submit(&a, job), 200);
        json_decref(job);
    }
    for (int i = 0; i < N; i++) {
        char *st = rk_test_agent_wait(&a, ids[i], NULL, 120000);
        assert_non_null(st);
        assert_string_equal(st, "completed");
        free(st);
        char s[64];
        output(&a, ids[i], "id", s, sizeof s);
        assert_string_equal(s, ids[i]);
    }
    printf("%d container jobs on 8 slots: %.0f ms (%.0f ms a job)\n", N, rk_test_now_ms() - t0,
           (rk_test_now_ms() - t0) / N);
    for (int i = 0; i < N; i++)
        assert_false(container_exists(ids[i]));
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest everywhere[] = {
        cmocka_unit_test(test_refused_without_runtime),
        cmocka_unit_test(test_no_start_without_answer),
        cmocka_unit_test(test_probe_podman),
    };
    int failed = cmocka_run_group_tests_name("container_everywhere", everywhere, NULL, NULL);
    if (failed || g_skip[0]) {
        if (g_image[0])
            sh_out(NULL, 0, "podman rmi -f %s 2>&1", g_image);
        if (g_work[0])
            sh_out(NULL, 0, "rm -rf '%s'", g_work);
        if (!failed)
            printf("SKIP: %s\n", g_skip);
        return failed ? failed : SKIP_CODE;
    }
    const struct CMUnitTest with_podman[] = {
        cmocka_unit_test(test_runs_in_image), cmocka_unit_test(test_cancel_timeout_kill9),
        cmocka_unit_test(test_pause_resume),  cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_scale),
    };
    failed = cmocka_run_group_tests_name("container_podman", with_podman, NULL, NULL);
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd, "podman rmi -f %s >/dev/null 2>&1; rm -rf '%s'", g_image, g_work);
    if (system(cmd) != 0)
        printf("cannot remove the test image %s\n", g_image);
    return failed;
}
