/* ruckus-agent enforcing task.params.limits with a cgroup per run (issue
 * 13, "Must hold"): memory_mb 64 with a job allocating 256 MiB ends failed,
 * oom_killed 1, saying so, while another job runs on and the agent stays
 * up; pids 20 stops a fork loop below 20 processes; cpus 0.5 gives a busy
 * loop about half a core (±10 % of a core) over 5 s. Results carry what the
 * cgroup saw. Real agent, real cgroups (v1 here); skipped, saying why, only
 * where cgroups or bwrap cannot run. Runs alone (RUN_SERIAL): the CPU share
 * is measured against the machine's load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isolate/cgroup.h"
#include "isolate/sandbox.h"
#include "rk_test_agent.h"

static void need_cgroups_and_sandbox(void)
{
    rk_cg_probe_t p;
    char why[256];
    if (rk_cg_probe(RK_CG_NONE, &p) != 0) {
        printf("skip: no usable cgroups here: %s\n", p.why);
        skip();
    }
    if ((p.ctrls & (RK_CG_MEMORY | RK_CG_PIDS | RK_CG_CPU)) !=
        (RK_CG_MEMORY | RK_CG_PIDS | RK_CG_CPU)) {
        printf("skip: the memory, pids and cpu controllers are not all usable here\n");
        skip();
    }
    if (rk_sandbox_probe(NULL, why, sizeof why) != 0) {
        printf("skip: bwrap cannot run a sandbox here: %s\n", why);
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

/* A sandboxed job running python3 -c code, under limits (taken). */
static json_t *py_job(const char *id, const char *code, json_t *limits)
{
    const char *argv[] = {"python3", "-c", code, NULL};
    return rk_test_job_cmd(id, argv, json_pack("{s:{},s:o}", "isolation", "limits", limits));
}

static json_t *finish(rk_test_agent_t *a, const char *id, const char *want, int timeout_ms)
{
    char *st = rk_test_agent_wait(a, id, NULL, timeout_ms);
    assert_non_null(st);
    json_t *r = rk_test_agent_result(a, id);
    assert_non_null(r);
    if (strcmp(st, want) != 0)
        printf("job %s ended %s: %s\n", id, st,
               json_string_value(json_object_get(r, "error")) ?: "");
    assert_string_equal(st, want);
    free(st);
    return r;
}

static double metric(const json_t *r, const char *name)
{
    const json_t *v = json_object_get(json_object_get(r, "metrics"), name);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_memory(void **state)
{
    (void)state;
    need_cgroups_and_sandbox();
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 2, NULL, NULL), 0);
    /* The other job: runs through the OOM kill next to it. */
    assert_int_equal(submit(&a, py_job("other", "import time; time.sleep(1.5)",
                                       json_pack("{s:i}", "memory_mb", 64))),
                     200);
    assert_int_equal(
        submit(&a, py_job("hog", "b = b'a' * (256 << 20)", json_pack("{s:i}", "memory_mb", 64))),
        200);
    json_t *r = finish(&a, "hog", "failed", 30000);
    const char *err = json_string_value(json_object_get(r, "error"));
    printf("hog: %s; peak %.0f KiB\n", err, metric(r, "cgroup_memory_peak_kib"));
    assert_string_equal(err, "killed by its memory limit (memory_mb 64)");
    assert_int_equal((int)metric(r, "oom_killed"), 1);
    assert_true(metric(r, "cgroup_memory_peak_kib") <= 64 * 1024);
    json_decref(r);
    r = finish(&a, "other", "completed", 30000);
    assert_int_equal((int)metric(r, "oom_killed"), 0);
    json_decref(r);
    rk_test_resp_t h;
    rk_test_req(&a.p, "GET", "/api/v1/health", NULL, NULL, &h);
    assert_int_equal(h.status, 200);
    rk_test_resp_cleanup(&h);
    rk_test_agent_cleanup(&a);
}

static void test_pids(void **state)
{
    (void)state;
    need_cgroups_and_sandbox();
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    /* Forks until the kernel refuses; the children wait to be killed. */
    const char *bomb = "import os, signal, time\n"
                       "n = 0\n"
                       "for i in range(200):\n"
                       "    try:\n"
                       "        pid = os.fork()\n"
                       "    except OSError:\n"
                       "        break\n"
                       "    if pid == 0:\n"
                       "        time.sleep(60)\n"
                       "        os._exit(0)\n"
                       "    n += 1\n"
                       "open(os.environ['RUCKUS_OUTPUT_DIR'] + '/forks', 'w').write(str(n))\n";
    assert_int_equal(submit(&a, py_job("bomb", bomb, json_pack("{s:i}", "pids", 20))), 200);
    json_t *r = finish(&a, "bomb", "completed", 30000);
    json_decref(r);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/jobs/bomb/output/forks", a.data);
    char *forks = rk_test_read_file(path, NULL);
    assert_non_null(forks);
    printf("forks that succeeded under pids 20: %s\n", forks);
    assert_true(atoi(forks) >= 10 && atoi(forks) < 20);
    free(forks);
    rk_test_agent_cleanup(&a);
}

/* A busy loop of `seconds` under limits (taken): its share of a core. */
static double busy_share(rk_test_agent_t *a, const char *id, int seconds, json_t *limits)
{
    char code[160];
    snprintf(code, sizeof code,
             "import time\nend = time.monotonic() + %d\nwhile time.monotonic() < end: pass\n",
             seconds);
    assert_int_equal(submit(a, py_job(id, code, limits)), 200);
    json_t *r = finish(a, id, "completed", 30000);
    double cpu = metric(r, "cgroup_cpu_usage_s"), wall = metric(r, "wall_time_s");
    json_decref(r);
    printf("%s: %.2f s of CPU in %.2f s (%.1f %% of a core)\n", id, cpu, wall, 100 * cpu / wall);
    return cpu / wall;
}

static void test_cpus(void **state)
{
    (void)state;
    need_cgroups_and_sandbox();
    rk_test_agent_t a;
    assert_int_equal(rk_test_agent_start(&a, 1, NULL, NULL), 0);
    /* The control: the same loop with no CPU limit. A quota is a ceiling;
     * on a machine too busy to give one loop a whole core it cannot be
     * judged. */
    double free_share = busy_share(&a, "control", 2, json_pack("{s:i}", "pids", 50));
    if (free_share < 0.9) {
        rk_test_agent_cleanup(&a);
        printf("skip: the machine is busy (an unlimited loop got %.0f %% of a core)\n",
               100 * free_share);
        skip();
    }
    double share = busy_share(&a, "busy", 5, json_pack("{s:f}", "cpus", 0.5));
    assert_true(share >= 0.40 && share <= 0.60);
    rk_test_agent_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_pids),
        cmocka_unit_test(test_cpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
