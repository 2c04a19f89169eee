/* ruckus-agent pause and resume (protocol.md, "Queue control") with the
 * real agent and real processes: a running counter is frozen (the counter
 * and the tree's CPU time stand still) and goes on after resume; the
 * timeout counts running time only; a job not started yet is held; the
 * answers to unknown and finished jobs; DELETE of a paused job and
 * DELETE ?force=true; kill -9 of the agent while a job is paused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "rk_test_agent.h"

#define COUNTER "i=0; while :; do i=$((i+1)); echo $i > n; sleep 0.1; done"

/* POST /api/v1/jobs/{id}/{verb}; the status, *answer the body's status
 * field (malloc'd, NULL when none). */
static long post_verb(rk_test_agent_t *a, const char *id, const char *verb, char **answer)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/%s", id, verb);
    rk_test_resp_t r;
    rk_test_req(&a->p, "POST", path, NULL, NULL, &r);
    long st = r.status;
    if (answer) {
        const char *s = json_string_value(json_object_get(r.json, "status"));
        *answer = s ? strdup(s) : NULL;
    }
    rk_test_resp_cleanup(&r);
    return st;
}

/* POSTs verb and asserts 200 with the status want. */
static void verb_ok(rk_test_agent_t *a, const char *id, const char *verb, const char *want)
{
    char *st = NULL;
    assert_int_equal(post_verb(a, id, verb, &st), 200);
    assert_non_null(st);
    assert_string_equal(st, want);
    free(st);
}

static long delete_job(rk_test_agent_t *a, const char *id, const char *query)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/jobs/%s%s", id, query);
    rk_test_resp_t r;
    rk_test_req(&a->p, "DELETE", path, NULL, NULL, &r);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

static void job_path(const rk_test_agent_t *a, const char *id, const char *name, char *out,
                     size_t n)
{
    snprintf(out, n, "%s/jobs/%s/%s", a->data, id, name);
}

/* The counter the job writes to its file n; -1 while there is none. */
static long counter(const rk_test_agent_t *a, const char *id)
{
    char path[PATH_MAX + 128];
    job_path(a, id, "n", path, sizeof path);
    char *s = rk_test_read_file(path, NULL);
    long v = s && *s ? strtol(s, NULL, 10) : -1;
    free(s);
    return v;
}

/* Waits (5 s at most) until the counter passes `above`; its value. */
static long counter_above(const rk_test_agent_t *a, const char *id, long above)
{
    long v = -1;
    for (double end = rk_test_now_ms() + 5000; rk_test_now_ms() < end; rk_test_sleep_ms(10))
        if ((v = counter(a, id)) > above)
            break;
    return v;
}

/* The process group job.json records for the job's run. */
static pid_t recorded_pgid(const rk_test_agent_t *a, const char *id)
{
    char path[PATH_MAX + 128];
    job_path(a, id, "job.json", path, sizeof path);
    json_t *jr = json_load_file(path, 0, NULL);
    json_int_t pg = json_integer_value(json_object_get(jr, "pgid"));
    json_decref(jr);
    return (pid_t)pg;
}

/* Sums utime+stime (clock ticks) of the processes of group pg; counts
 * them in *n and how many cannot run in *stopped: stopped ('T'), a
 * zombie ('Z': a sleep that ended just before the stop, which its stopped
 * shell has not reaped), or 'D' (dash vforks its commands: a shell whose
 * vforked child took the SIGSTOP before its exec waits in 'D' for it). */
static long long group_cpu(pid_t pg, int *n, int *stopped)
{
    long long sum = 0;
    *n = *stopped = 0;
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
        char *p = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        unsigned long long fields[11];
        if (!p || sscanf(p + 2, "%c %d %d", &state, &ppid, &pgrp) != 3 || pgrp != pg)
            continue;
        /* After pgrp: session tty tpgid flags minflt cminflt majflt
         * cmajflt utime stime. */
        char *q = p + 2;
        for (int skip = 0; skip < 3 && q; skip++)
            q = strchr(q + 1, ' ');
        if (!q || sscanf(q, " %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &fields[0],
                         &fields[1], &fields[2], &fields[3], &fields[4], &fields[5], &fields[6],
                         &fields[7], &fields[8], &fields[9]) != 10)
            continue;
        (*n)++;
        *stopped += state == 'T' || state == 'Z' || state == 'D';
        sum += (long long)(fields[8] + fields[9]);
    }
    if (d)
        closedir(d);
    return sum;
}

static void submit_counter(rk_test_agent_t *a, const char *id)
{
    json_t *job = rk_test_job_sh(id, COUNTER);
    assert_int_equal(rk_test_agent_submit(a, job), 200);
    json_decref(job);
    assert_true(counter_above(a, id, 0) > 0);
}

/* A pause POSTed from another thread after a short delay. */
typedef struct pauser {
    rk_test_agent_t *a;
    const char *id;
    long status;
    pthread_t th;
} pauser_t;

static void *pause_later(void *arg)
{
    pauser_t *p = arg;
    rk_test_sleep_ms(300);
    p->status = post_verb(p->a, p->id, "pause", NULL);
    return NULL;
}

static void test_pause_freezes_counter(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    submit_counter(&a, "job_count");
    pid_t pg = recorded_pgid(&a, "job_count");
    assert_true(pg > 1);
    /* A long poll on "running" wakes on the pause. */
    pauser_t p = {.a = &a, .id = "job_count"};
    assert_int_equal(pthread_create(&p.th, NULL, pause_later, &p), 0);
    double t0 = rk_test_now_ms();
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status/job_count?wait=20&known=running", NULL, NULL, &r);
    double waited = rk_test_now_ms() - t0;
    pthread_join(p.th, NULL);
    assert_int_equal(p.status, 200);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "paused");
    assert_true(waited < 5000);
    rk_test_resp_cleanup(&r);
    verb_ok(&a, "job_count", "pause", "paused"); /* a repeat: the same answer */
    rk_test_req(&a.p, "GET", "/api/v1/status", NULL, NULL, &r);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r.json, "paused_jobs"), 0)), "job_count");
    assert_int_equal(json_array_size(json_object_get(r.json, "running_jobs")), 0);
    rk_test_resp_cleanup(&r);

    /* Every process of the tree is stopped; then nothing moves. */
    int n = 0, stopped = 0;
    for (double end = rk_test_now_ms() + 5000; rk_test_now_ms() < end; rk_test_sleep_ms(10)) {
        group_cpu(pg, &n, &stopped);
        if (n > 0 && stopped == n)
            break;
    }
    assert_true(n > 0);
    assert_int_equal(stopped, n);
    long c1 = counter(&a, "job_count");
    long long cpu1 = group_cpu(pg, &n, &stopped);
    rk_test_sleep_ms(1200); /* twelve rounds of the loop, were it running */
    assert_int_equal(counter(&a, "job_count"), c1);
    assert_int_equal(group_cpu(pg, &n, &stopped), cpu1);
    char *st = rk_test_agent_state(&a, "job_count");
    assert_string_equal(st, "paused");
    free(st);

    verb_ok(&a, "job_count", "resume", "running");
    verb_ok(&a, "job_count", "resume", "running"); /* a repeat */
    assert_true(counter_above(&a, "job_count", c1 + 2) > c1 + 2);
    assert_true(group_cpu(pg, &n, &stopped) >= cpu1);
    assert_int_equal(delete_job(&a, "job_count", "?force=true"), 202);
    st = rk_test_agent_wait(&a, "job_count", NULL, 5000);
    assert_string_equal(st, "cancelled");
    free(st);
    rk_test_agent_cleanup(&a);
}

/* A job in a cgroup (limits) is frozen by the cgroup freezer: a counter
 * that left the job's process group (setsid) stops too, which SIGSTOP to
 * the group alone would miss. */
static void test_pause_freezes_escaped_in_cgroup(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/info", NULL, NULL, &r);
    json_t *cg = json_object_get(
        json_object_get(json_object_get(r.json, "agent_info"), "capabilities"), "cgroups");
    bool have = json_is_string(cg);
    rk_test_resp_cleanup(&r);
    if (!have) {
        rk_test_agent_cleanup(&a);
        print_message("no usable cgroups here (capabilities.cgroups null): skipped\n");
        skip();
    }
    const char *argv[] = {"sh", "-c", "setsid sh -c '" COUNTER "' & sleep 60", NULL};
    json_t *job =
        rk_test_job_cmd("job_escaped", argv, json_pack("{s:{s:i}}", "limits", "pids", 200));
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    assert_true(counter_above(&a, "job_escaped", 0) > 0);
    verb_ok(&a, "job_escaped", "pause", "paused");
    rk_test_sleep_ms(300); /* a write under way when the freeze came lands */
    long c1 = counter(&a, "job_escaped");
    rk_test_sleep_ms(1200);
    assert_int_equal(counter(&a, "job_escaped"), c1);
    verb_ok(&a, "job_escaped", "resume", "running");
    assert_true(counter_above(&a, "job_escaped", c1 + 2) > c1 + 2);
    assert_int_equal(delete_job(&a, "job_escaped", "?force=true"), 202);
    char *st = rk_test_agent_wait(&a, "job_escaped", NULL, 10000);
    assert_string_equal(st, "cancelled");
    free(st);
    /* The escaped counter went with the job's cgroup. */
    long c2 = counter(&a, "job_escaped");
    rk_test_sleep_ms(500);
    assert_int_equal(counter(&a, "job_escaped"), c2);
    rk_test_agent_cleanup(&a);
}

/* Timeout T = 2 s, paused P = 2 s after 0.3 s of running: it ends
 * timeout only after about T of running time. */
static void test_timeout_counts_running_time(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    json_t *job = rk_test_job("job_t", "command", json_pack("{s:[ss]}", "argv", "sleep", "30"),
                              json_pack("{s:i}", "timeout_seconds", 2));
    double t0 = rk_test_now_ms();
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    rk_test_sleep_ms(300);
    verb_ok(&a, "job_t", "pause", "paused");
    double paused_at = rk_test_now_ms();
    rk_test_sleep_ms(2000); /* the pause under test: as long as the timeout */
    char *st = rk_test_agent_state(&a, "job_t");
    assert_string_equal(st, "paused");
    free(st);
    verb_ok(&a, "job_t", "resume", "running");
    double paused = rk_test_now_ms() - paused_at;
    st = rk_test_agent_wait(&a, "job_t", NULL, 10000);
    double took = rk_test_now_ms() - t0;
    assert_string_equal(st, "timeout");
    free(st);
    assert_true(took > 2000 + paused * 0.8);
    assert_true(took < 2000 + paused + 3000);
    rk_test_agent_cleanup(&a);
}

/* A job not started yet (the start-delay hook holds it assigned) is held
 * by a pause past its start time, and runs once after resume. */
static void test_held_until_resumed(void **state)
{
    (void)state;
    /* Long enough for the pause to come first on a loaded machine. */
    const char *env[] = {RK_AGENT_TEST_START_DELAY_ENV "=1000", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, env), 0);
    json_t *job = rk_test_job_sh("job_held", "echo run >> count");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    verb_ok(&a, "job_held", "pause", "paused");
    rk_test_sleep_ms(1500); /* past the start delay */
    char *st = rk_test_agent_state(&a, "job_held");
    assert_string_equal(st, "paused");
    free(st);
    char path[PATH_MAX + 128];
    job_path(&a, "job_held", "count", path, sizeof path);
    assert_null(rk_test_read_file(path, NULL));
    verb_ok(&a, "job_held", "resume", "running");
    st = rk_test_agent_wait(&a, "job_held", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    char *count = rk_test_read_file(path, NULL);
    assert_string_equal(count, "run\n");
    free(count);
    rk_test_agent_cleanup(&a);
}

/* Unknown: 404; finished: 409 for both verbs and for DELETE; a bad force
 * value: 422 naming it. */
static void test_errors(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    assert_int_equal(post_verb(&a, "job_nothere", "pause", NULL), 404);
    assert_int_equal(post_verb(&a, "job_nothere", "resume", NULL), 404);
    json_t *job = rk_test_job_sh("job_quick", "true");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    char *st = rk_test_agent_wait(&a, "job_quick", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    assert_int_equal(post_verb(&a, "job_quick", "pause", NULL), 409);
    assert_int_equal(post_verb(&a, "job_quick", "resume", NULL), 409);
    st = rk_test_agent_state(&a, "job_quick");
    assert_string_equal(st, "completed");
    free(st);
    rk_test_resp_t r;
    rk_test_req(&a.p, "DELETE", "/api/v1/jobs/job_quick?force=yes", NULL, NULL, &r);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "detail")), "force"));
    rk_test_resp_cleanup(&r);
    rk_test_agent_cleanup(&a);
}

/* With a 5 s grace: DELETE ?force=true ends a job that traps TERM at
 * once; a plain DELETE of a paused job thaws it, so its TERM handler runs
 * (no wait for the grace), and it ends cancelled with no process left. */
static void test_cancel_force_and_paused(void **state)
{
    (void)state;
    const char *args[] = {"--grace", "5", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, args, NULL), 0);
    json_t *job = rk_test_job_sh("job_trap", "trap '' TERM; " COUNTER);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    assert_true(counter_above(&a, "job_trap", 0) > 0);
    double t0 = rk_test_now_ms();
    assert_int_equal(delete_job(&a, "job_trap", "?force=true"), 202);
    char *st = rk_test_agent_wait(&a, "job_trap", NULL, 10000);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(rk_test_now_ms() - t0 < 2000);
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_trap"}, 3000));

    job = rk_test_job_sh("job_pc", "trap 'exit 0' TERM; " COUNTER);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    assert_true(counter_above(&a, "job_pc", 0) > 0);
    verb_ok(&a, "job_pc", "pause", "paused");
    t0 = rk_test_now_ms();
    assert_int_equal(delete_job(&a, "job_pc", ""), 202);
    st = rk_test_agent_wait(&a, "job_pc", NULL, 10000);
    assert_string_equal(st, "cancelled");
    free(st);
    assert_true(rk_test_now_ms() - t0 < 3000);
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_pc"}, 3000));
    rk_test_agent_cleanup(&a);
}

/* kill -9 of the agent while a started job is paused (frozen). When the
 * kernel finds the frozen group orphaned it sends SIGHUP and SIGCONT: this
 * job ignores HUP, so it may run on, thawed, until the restart. The
 * restart kills the tree (stopped or not) and records the job failed; it
 * is not run again, also when re-sent. */
static void test_kill9_paused_running(void **state)
{
    (void)state;
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    json_t *job = rk_test_job_sh("job_frozen", "trap '' HUP; " COUNTER);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    assert_true(counter_above(&a, "job_frozen", 0) > 0);
    verb_ok(&a, "job_frozen", "pause", "paused");
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_int_equal(rk_test_agent_restart(&a, 1, NULL, NULL), 0);
    assert_true(
        rk_test_wait_until(rk_test_job_procs_gone, &(rk_test_job_ref_t){&a, "job_frozen"}, 3000));
    long c1 = counter(&a, "job_frozen");
    rk_test_resp_t r;
    rk_test_req(&a.p, "GET", "/api/v1/status/job_frozen", NULL, NULL, &r);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(r.json, "message")),
                        "agent restarted during the job");
    rk_test_resp_cleanup(&r);
    json_t *res = rk_test_agent_result(&a, "job_frozen");
    assert_string_equal(json_string_value(json_object_get(res, "status")), "failed");
    json_decref(res);
    assert_int_equal(post_verb(&a, "job_frozen", "resume", NULL), 409);
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    json_decref(job);
    rk_test_sleep_ms(300); /* three rounds, were it run again */
    assert_int_equal(counter(&a, "job_frozen"), c1);
    assert_false(rk_test_job_procs_alive(&a, "job_frozen"));
    rk_test_agent_cleanup(&a);
}

/* kill -9 while a job not started yet is paused: after the restart it is
 * still paused (not started), and runs once after resume. */
static void test_kill9_paused_held(void **state)
{
    const char *sync[] = {"--sync", *state, NULL};
    const char *delay[] = {"RUCKUS_AGENT_TEST_START_DELAY_MS=60000", NULL};
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, sync, delay), 0);
    json_t *job = rk_test_job_sh("job_wait", "echo run >> count");
    assert_int_equal(rk_test_agent_submit(&a, job), 200);
    verb_ok(&a, "job_wait", "pause", "paused");
    assert_int_equal(rk_test_proc_kill9(&a.p), 0);
    assert_int_equal(rk_test_agent_restart(&a, 1, sync, NULL), 0);
    rk_test_sleep_ms(500); /* an unheld job would have started by now */
    char *st = rk_test_agent_state(&a, "job_wait");
    assert_string_equal(st, "paused");
    free(st);
    assert_int_equal(rk_test_agent_submit(&a, job), 200); /* re-sent: the same job */
    json_decref(job);
    char path[PATH_MAX + 128];
    job_path(&a, "job_wait", "count", path, sizeof path);
    assert_null(rk_test_read_file(path, NULL));
    verb_ok(&a, "job_wait", "resume", "running");
    st = rk_test_agent_wait(&a, "job_wait", NULL, 5000);
    assert_string_equal(st, "completed");
    free(st);
    char *count = rk_test_read_file(path, NULL);
    assert_string_equal(count, "run\n");
    free(count);
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_freezes_counter),
        cmocka_unit_test(test_pause_freezes_escaped_in_cgroup),
        cmocka_unit_test(test_timeout_counts_running_time),
        cmocka_unit_test(test_held_until_resumed),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cancel_force_and_paused),
        cmocka_unit_test(test_kill9_paused_running),
        cmocka_unit_test_prestate(test_kill9_paused_held, "normal"),
        cmocka_unit_test_prestate(test_kill9_paused_held, "full"),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
