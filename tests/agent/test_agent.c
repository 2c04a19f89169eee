/* lib/agent in process: atomic record writes, the stable agent id, one
 * whole lifecycle (new, start on port 0, a job, stop, restart recovery,
 * free), and pause and resume (between two runs, a graceful stop of
 * paused jobs) so sanitizers and valgrind see every path of the agent
 * object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"
#include "exec/supervisor.h"
#include "http/client.h"

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static char *mktmp(void)
{
    char t[] = "/tmp/rk-agent-unit-XXXXXX";
    assert_non_null(mkdtemp(t));
    return strdup(t);
}

static void rmtmp(char *d)
{
    nftw(d, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(d);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_write_atomic(void **state)
{
    (void)state;
    char *d = mktmp();
    assert_int_equal(agent__write_atomic(d, "x.json", "{\"a\":1}", 7), 0);
    assert_int_equal(agent__write_atomic(d, "x.json", "{\"a\":2}", 7), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/x.json", d);
    char *s = slurp(path);
    assert_string_equal(s, "{\"a\":2}");
    free(s);
    snprintf(path, sizeof path, "%s/.x.json.tmp", d);
    assert_int_not_equal(access(path, F_OK), 0); /* no temp file left */
    /* A folder that does not exist: an error, not a crash. */
    snprintf(path, sizeof path, "%s/missing", d);
    assert_int_equal(agent__write_atomic(path, "x.json", "{}", 2), RK_EIO);
    rmtmp(d);
}

/* --sync picks how far each record write goes; every level is atomic. */
static void test_sync_levels(void **state)
{
    (void)state;
    rk_agent_settings_t s = {.sync = RK_AGENT_SYNC_NORMAL};
    rk_agent_t a = {.s = &s};
    assert_int_equal(agent__record_level(&a, true), AGENT__WRITE_ATOMIC);
    assert_int_equal(agent__record_level(&a, false), AGENT__WRITE_ATOMIC);
    s.sync = RK_AGENT_SYNC_FULL;
    assert_int_equal(agent__record_level(&a, true), AGENT__WRITE_DURABLE);
    assert_int_equal(agent__record_level(&a, false), AGENT__WRITE_DATA);
    char *d = mktmp();
    char path[512];
    snprintf(path, sizeof path, "%s/r.json", d);
    for (int lv = AGENT__WRITE_ATOMIC; lv <= AGENT__WRITE_DURABLE; lv++) {
        char text[16];
        int n = snprintf(text, sizeof text, "{\"lv\":%d}", lv);
        assert_int_equal(agent__write_atomic_ex(d, "r.json", text, (size_t)n, (agent__write_t)lv),
                         0);
        char *got = slurp(path);
        assert_string_equal(got, text);
        free(got);
    }
    snprintf(path, sizeof path, "%s/.r.json.tmp", d);
    assert_int_not_equal(access(path, F_OK), 0);
    rmtmp(d);
}

static rk_agent_settings_t settings(const char *dir)
{
    static char data[512];
    snprintf(data, sizeof data, "%s/data", dir);
    rk_agent_settings_t s = {.host = "127.0.0.1",
                             .port = 0,
                             .data_dir = data,
                             .slots = 2,
                             .name = "unit",
                             .models_dir = data,
                             .retention_days = 7,
                             .grace = 0.2,
                             .log_cap = 1 << 20,
                             .log_level = RK_LOG_WARN};
    return s;
}

static void test_id_is_stable(void **state)
{
    (void)state;
    char *d = mktmp();
    rk_agent_settings_t s = settings(d);
    rk_agent_t *a = NULL, *b = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    char id[RK_AGENT_ID_MAX + 1];
    snprintf(id, sizeof id, "%s", rk_agent_id(a));
    assert_int_equal(strncmp(id, "agent-", 6), 0);
    assert_int_equal(strlen(id), 6 + 16);
    rk_agent_free(a);
    assert_int_equal(rk_agent_new(&s, &b), 0);
    assert_string_equal(rk_agent_id(b), id);
    rk_agent_free(b);
    rmtmp(d);
}

static json_t *call(rk_agent_t *a, const char *method, const char *path, const char *body,
                    long *status)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)rk_agent_port(a), path);
    rk_http_request_t rq = {
        .method = method, .url = url, .body = body, .body_len = body ? strlen(body) : 0};
    rk_http_response_t rs;
    rk_http_client_request_sync(&rq, &rs);
    *status = rs.status;
    json_t *out = NULL;
    rk_http_response_json(&rs, &out, NULL);
    rk_http_response_cleanup(&rs);
    return out;
}

#define JOB(id, script)                                                                            \
    "{\"job_id\":\"" id                                                                            \
    "\",\"experiment_spec\":{\"name\":\"u\",\"model\":\"m\",\"task\":{\"name\":\"t\","             \
    "\"type\":\"command\",\"params\":{\"argv\":[\"/bin/sh\",\"-c\",\"" script "\"]}},"             \
    "\"framework\":{\"name\":\"f\",\"params\":{}},\"metrics\":{\"metrics\":{}}}}"

#define JOB2(id, script)                                                                           \
    "{\"job_id\":\"" id                                                                            \
    "\",\"experiment_spec\":{\"name\":\"u\",\"model\":\"m\",\"task\":{\"name\":\"t\","             \
    "\"type\":\"command\",\"params\":{\"runs_per_job\":2,\"argv\":[\"/bin/sh\",\"-c\",\"" script   \
    "\"]}},\"framework\":{\"name\":\"f\",\"params\":{}},\"metrics\":{\"metrics\":{}}}}"

/* The status of job id, as GET /status/{id} reads it (static buffer). */
static const char *status_of(rk_agent_t *a, const char *id)
{
    static char out[32];
    char path[128];
    long st;
    snprintf(path, sizeof path, "/api/v1/status/%s", id);
    json_t *r = call(a, "GET", path, NULL, &st);
    snprintf(out, sizeof out, "%s",
             st == 200 ? json_string_value(json_object_get(r, "status")) : "");
    json_decref(r);
    return out;
}

/* POST /jobs/{id}/{verb}: asserts 200 with status want. */
static void verb(rk_agent_t *a, const char *id, const char *what, const char *want)
{
    char path[128];
    long st;
    snprintf(path, sizeof path, "/api/v1/jobs/%s/%s", id, what);
    json_t *r = call(a, "POST", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(r, "status")), want);
    json_decref(r);
}

/* Waits (10 s at most) until job id's state is st and it runs no child. */
static job_t *wait_idle_in(rk_agent_t *a, const char *id, rk_job_state_t st)
{
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&a->mu);
        job_t *j = agent__job_find(a, id);
        bool ok = j && j->state == st && !j->in_exec;
        pthread_mutex_unlock(&a->mu);
        if (ok)
            return j;
        usleep(10000);
    }
    fail_msg("job %s did not reach %s", id, rk_job_state_name(st));
    return NULL;
}

/* Lines in file name of job id's folder. */
static int lines_in(const char *dir, const char *id, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data/jobs/%s/%s", dir, id, name);
    char *t = slurp(path);
    int n = 0;
    for (char *p = t; p && *p; p++)
        n += *p == '\n';
    free(t);
    return n;
}

/* A two-run job whose first run ends while it is paused (the test thaws
 * the group behind the agent's back) holds its second run until resumed;
 * the same, cancelled instead, ends cancelled without a second run. */
static void test_pause_between_runs(void **state)
{
    (void)state;
    char *d = mktmp();
    rk_agent_settings_t s = settings(d);
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    assert_int_equal(rk_agent_start(a), 0);
    const char *ids[] = {"job_p1", "job_p2"};
    const char *bodies[] = {JOB2("job_p1", "echo r >> runs; sleep 1"),
                            JOB2("job_p2", "echo r >> runs; sleep 1")};
    long st;
    json_t *r;
    for (int k = 0; k < 2; k++) {
        r = call(a, "POST", "/api/v1/jobs", bodies[k], &st);
        assert_int_equal(st, 200);
        json_decref(r);
        for (int i = 0; i < 500 && lines_in(d, ids[k], "runs") < 1; i++)
            usleep(10000);
        verb(a, ids[k], "pause", "paused");
        pthread_mutex_lock(&a->mu);
        pid_t pg = agent__job_find(a, ids[k])->pgid;
        pthread_mutex_unlock(&a->mu);
        assert_true(pg > 1);
        for (int i = 0; i < 500; i++) { /* the SIGSTOP is sent asynchronously */
            char path[64], buf[256] = "";
            snprintf(path, sizeof path, "/proc/%d/stat", (int)pg);
            FILE *f = fopen(path, "r");
            if (f) {
                buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
                fclose(f);
            }
            char *p = strrchr(buf, ')');
            if (p && p[2] == 'T')
                break;
            usleep(10000);
        }
        kill(-pg, SIGCONT); /* the first run ends while the job reads paused */
        job_t *j = wait_idle_in(a, ids[k], RK_JOB_PAUSED);
        pthread_mutex_lock(&a->mu);
        assert_int_equal(j->runs_done, 1);
        pthread_mutex_unlock(&a->mu);
    }
    usleep(200000);
    assert_int_equal(lines_in(d, "job_p1", "runs"), 1);
    verb(a, "job_p1", "resume", "running");
    wait_idle_in(a, "job_p1", RK_JOB_COMPLETED);
    assert_int_equal(lines_in(d, "job_p1", "runs"), 2);
    r = call(a, "GET", "/api/v1/results/job_p1", NULL, &st);
    assert_int_equal(json_array_size(json_object_get(r, "runs")), 2);
    json_decref(r);
    r = call(a, "DELETE", "/api/v1/jobs/job_p2", NULL, &st);
    assert_int_equal(st, 202);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "cancelled");
    json_decref(r);
    assert_int_equal(lines_in(d, "job_p2", "runs"), 1);
    rk_agent_stop(a);
    rk_agent_free(a);
    rmtmp(d);
}

/* A graceful stop ends a frozen job like a running one (failed, "agent
 * shut down") and leaves a held one paused: after the restart it is still
 * paused, then runs once when resumed. */
static void test_stop_with_paused_jobs(void **state)
{
    (void)state;
    char *d = mktmp();
    rk_agent_settings_t s = settings(d);
    rk_agent_t *a = NULL;
    setenv(RK_AGENT_TEST_START_DELAY_ENV, "200", 1);
    assert_int_equal(rk_agent_new(&s, &a), 0);
    unsetenv(RK_AGENT_TEST_START_DELAY_ENV);
    assert_int_equal(rk_agent_start(a), 0);
    long st;
    json_t *r = call(a, "POST", "/api/v1/jobs", JOB("job_h", "echo r >> runs"), &st);
    assert_int_equal(st, 200);
    json_decref(r);
    verb(a, "job_h", "pause", "paused");
    r = call(a, "POST", "/api/v1/jobs", JOB("job_f", "sleep 30"), &st);
    assert_int_equal(st, 200);
    json_decref(r);
    for (int i = 0; i < 500 && strcmp(status_of(a, "job_f"), "running") != 0; i++)
        usleep(10000);
    verb(a, "job_f", "pause", "paused");
    assert_string_equal(status_of(a, "job_h"), "paused");
    rk_agent_stop(a);
    rk_agent_free(a);

    assert_int_equal(rk_agent_new(&s, &a), 0);
    assert_int_equal(rk_agent_start(a), 0);
    assert_string_equal(status_of(a, "job_f"), "failed");
    assert_string_equal(status_of(a, "job_h"), "paused");
    usleep(100000);
    assert_string_equal(status_of(a, "job_h"), "paused");
    verb(a, "job_h", "resume", "running");
    wait_idle_in(a, "job_h", RK_JOB_COMPLETED);
    assert_int_equal(lines_in(d, "job_h", "runs"), 1);
    rk_agent_stop(a);
    rk_agent_free(a);
    rmtmp(d);
}

static void test_lifecycle(void **state)
{
    (void)state;
    char *d = mktmp();
    rk_agent_settings_t s = settings(d);
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    assert_int_equal(rk_agent_start(a), 0);
    assert_true(rk_agent_port(a) > 0);
    long st = 0;
    json_t *r = call(a, "POST", "/api/v1/jobs", JOB("job_u1", "echo hi"), &st);
    assert_int_equal(st, 200);
    json_decref(r);
    r = call(a, "GET", "/api/v1/status/job_u1?wait=10&known=running", NULL, &st);
    while (r && strcmp(json_string_value(json_object_get(r, "status")), "completed") != 0) {
        char path[128];
        snprintf(path, sizeof path, "/api/v1/status/job_u1?wait=10&known=%s",
                 json_string_value(json_object_get(r, "status")));
        json_decref(r);
        r = call(a, "GET", path, NULL, &st);
    }
    assert_non_null(r);
    json_decref(r);
    /* A long job the stop has to end. */
    r = call(a, "POST", "/api/v1/jobs", JOB("job_u2", "sleep 30"), &st);
    assert_int_equal(st, 200);
    json_decref(r);
    r = call(a, "GET", "/api/v1/results/job_u1", NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "completed");
    json_decref(r);
    rk_agent_stop(a);
    rk_agent_free(a);

    /* Restart: both jobs are known, the stopped one failed. */
    assert_int_equal(rk_agent_new(&s, &a), 0);
    pthread_mutex_lock(&a->mu);
    job_t *j1 = agent__job_find(a, "job_u1"), *j2 = agent__job_find(a, "job_u2");
    assert_non_null(j1);
    assert_non_null(j2);
    assert_int_equal(j1->state, RK_JOB_COMPLETED);
    assert_int_equal(j2->state, RK_JOB_FAILED);
    assert_string_equal(j2->message, "agent shut down");
    assert_int_equal(a->active, 0);
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);
    rmtmp(d);
}

int main(void)
{
    rk_exec_init();
    rk_http_global_init();
    rk_log_set_level(RK_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_atomic),       cmocka_unit_test(test_sync_levels),
        cmocka_unit_test(test_id_is_stable),       cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_pause_between_runs), cmocka_unit_test(test_stop_with_paused_jobs),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rk_http_global_cleanup();
    return rc;
}
