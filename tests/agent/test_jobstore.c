/* Recovery rules of the job store (design.md "Agent restart"), on job
 * folders written by hand: what rk_agent_new makes of each state (a
 * result.json makes a job finished whatever job.json says). The record
 * writes: a new file in place, the process group appended in place at
 * --sync normal. Also the artifact list, which never follows a symlink out
 * of the job folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"

static char root[64], data[128];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/rk-jobstore-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(data, sizeof data, "%s/data", root);
    char jobs[160];
    snprintf(jobs, sizeof jobs, "%s/jobs", data);
    return mkdir(data, 0755) || mkdir(jobs, 0755);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *id, const char *name, const char *text)
{
    char dir[256], path[320];
    snprintf(dir, sizeof dir, "%s/jobs/%s", data, id);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define REQ                                                                                        \
    "{\"job_id\":\"%s\",\"experiment_spec\":{\"name\":\"u\",\"model\":\"m\",\"task\":{\"name\":"   \
    "\"t\","                                                                                       \
    "\"type\":\"command\",\"params\":{\"argv\":[\"true\"]}},\"framework\":{\"name\":\"f\","        \
    "\"params\":{}},"                                                                              \
    "\"metrics\":{\"metrics\":{}}}}"

static void put_record(const char *id, const char *state, bool with_request)
{
    char req[1024], rec[2048];
    snprintf(req, sizeof req, REQ, id);
    snprintf(rec, sizeof rec,
             "{\"job_id\":\"%s\",\"experiment_id\":\"exp_abcdef\",\"task_type\":\"command\","
             "\"state\":\"%s\","
             "\"message\":\"m\",\"accepted_at\":\"2026-01-01T00:00:00Z\",\"changed_at\":\"2026-01-"
             "01T00:00:00Z\""
             "%s%s}",
             id, state, with_request ? ",\"request\":" : "", with_request ? req : "");
    put(id, "job.json", rec);
}

static rk_agent_settings_t settings(void)
{
    rk_agent_settings_t s = {.host = "127.0.0.1",
                             .data_dir = data,
                             .slots = 4,
                             .name = "unit",
                             .models_dir = data,
                             .retention_days = 7,
                             .grace = 0.1,
                             .log_cap = 1 << 20,
                             .log_level = RK_LOG_WARN};
    return s;
}

static void test_recovery(void **state)
{
    (void)state;
    put_record("job_done", "completed", false);
    put("job_done", "result.json", "{\"job_id\":\"job_done\",\"status\":\"completed\"}");
    put_record("job_was_running", "running", true);
    put_record("job_almost", "running", true);
    put("job_almost", "result.json", "{\"job_id\":\"job_almost\",\"status\":\"failed\"}");
    put_record("job_waiting", "assigned", true);
    put_record("job_broken", "assigned", false); /* no request to run */
    put("job_garbage", "job.json", "{not json");
    put_record("job_other", "completed", false);
    put("job_other", "job.json",
        "{\"job_id\":\"job_else\",\"state\":\"completed\"}"); /* id mismatch */

    rk_agent_settings_t s = settings();
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    pthread_mutex_lock(&a->mu);
    assert_int_equal(agent__job_find(a, "job_done")->state, RK_JOB_COMPLETED);
    job_t *j = agent__job_find(a, "job_was_running");
    assert_int_equal(j->state, RK_JOB_FAILED);
    assert_string_equal(j->message, "agent restarted during the job");
    assert_int_equal(agent__job_find(a, "job_almost")->state, RK_JOB_FAILED);
    j = agent__job_find(a, "job_waiting");
    assert_int_equal(j->state, RK_JOB_ASSIGNED);
    assert_true(j->has_req);
    assert_int_equal(agent__job_find(a, "job_broken")->state, RK_JOB_FAILED);
    assert_null(agent__job_find(a, "job_garbage"));
    assert_null(agent__job_find(a, "job_other"));
    assert_int_equal(a->active, 1); /* only the waiting job holds a slot */
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);

    /* The failed record was stored: a second start agrees. */
    assert_int_equal(rk_agent_new(&s, &a), 0);
    pthread_mutex_lock(&a->mu);
    assert_int_equal(agent__job_find(a, "job_was_running")->state, RK_JOB_FAILED);
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);
}

static char *slurp(const char *id, const char *name)
{
    char path[320];
    snprintf(path, sizeof path, "%s/jobs/%s/%s", data, id, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 8192);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 8191, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* job.json is not rewritten after result.json: whatever state it still
 * says, the result's presence means finished, with the result's end time
 * and error; no process group is killed and nothing is rerun. */
static void test_result_means_finished(void **state)
{
    (void)state;
    put_record("job_cancelled", "assigned", true); /* DELETE before its start */
    put("job_cancelled", "result.json",
        "{\"job_id\":\"job_cancelled\",\"status\":\"cancelled\",\"completed_at\":\"2026-01-02T03:"
        "04:05Z\","
        "\"error\":\"cancelled\"}");
    put("job_ok", "job.json",
        "{\"job_id\":\"job_ok\",\"experiment_id\":\"exp_abcdef\",\"task_type\":\"command\","
        "\"state\":\"running\","
        "\"message\":\"running\",\"accepted_at\":\"2026-01-01T00:00:00Z\",\"changed_at\":\"2026-01-"
        "01T00:00:00Z\","
        "\"pgid\":1}");
    put("job_ok", "result.json",
        "{\"job_id\":\"job_ok\",\"status\":\"completed\",\"completed_at\":\"2026-01-01T00:00:"
        "01Z\"}");
    put_record("job_torn", "running", true);
    put("job_torn", "result.json",
        "{\"job_id\":\"job_torn\",\"status\":\"comp"); /* a crash mid-write */
    char *before = slurp("job_ok", "job.json");

    rk_agent_settings_t s = settings();
    rk_agent_t *a = NULL;
    for (int round = 0; round < 2; round++) { /* a second start agrees */
        assert_int_equal(rk_agent_new(&s, &a), 0);
        pthread_mutex_lock(&a->mu);
        job_t *j = agent__job_find(a, "job_cancelled");
        assert_int_equal(j->state, RK_JOB_CANCELLED);
        assert_false(j->has_req);
        assert_string_equal(j->message, "cancelled");
        rk_time_t t = 0;
        assert_int_equal(rk_time_parse("2026-01-02T03:04:05Z", &t), 0);
        assert_true(j->finished_at == t);
        j = agent__job_find(a, "job_ok");
        assert_int_equal(j->state, RK_JOB_COMPLETED);
        assert_string_equal(j->message, "completed");
        assert_int_equal(j->pgid, 0);
        j = agent__job_find(a, "job_torn"); /* the torn result reads as none */
        assert_int_equal(j->state, RK_JOB_FAILED);
        assert_string_equal(j->message, "agent restarted during the job");
        assert_int_equal(a->active, 0);
        pthread_mutex_unlock(&a->mu);
        rk_agent_free(a);
    }
    char *after = slurp("job_ok", "job.json");
    assert_string_equal(before, after); /* loading writes nothing */
    free(before);
    free(after);
    char *res = slurp("job_torn", "result.json"); /* rewritten whole */
    assert_non_null(strstr(res, "\"status\":\"failed\""));
    free(res);
}

static ino_t inode_of(const char *id, const char *name)
{
    char path[320];
    struct stat st;
    snprintf(path, sizeof path, "%s/jobs/%s/%s", data, id, name);
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* The first record is written straight into the new file; the group is
 * added in place at --sync normal, by a temp file + rename at full. */
static void test_record_writes(void **state)
{
    (void)state;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/jobs/job_w", data);
    assert_int_equal(agent__write_new(dir, "x.json", "{}", 2, AGENT__WRITE_ATOMIC), RK_EIO);
    assert_int_equal(mkdir(dir, 0755), 0);
    for (int full = 0; full < 2; full++) {
        rk_agent_settings_t s = settings();
        s.sync = full ? RK_AGENT_SYNC_FULL : RK_AGENT_SYNC_NORMAL;
        rk_agent_t *a = NULL;
        assert_int_equal(rk_agent_new(&s, &a), 0);
        job_t *j = calloc(1, sizeof *j);
        assert_non_null(j);
        snprintf(j->id, sizeof j->id, "job_w");
        j->dir = strdup(dir);
        j->experiment_id = strdup("exp_abcdef");
        j->message = strdup("running");
        j->state = RK_JOB_RUNNING;
        j->accepted_at = j->changed_at = j->started_at = rk_time_now_us();
        pthread_mutex_lock(&a->mu);
        assert_int_equal(agent__job_persist_new(a, j), 0);
        ino_t ino = inode_of("job_w", "job.json");
        char *first = slurp("job_w", "job.json");
        assert_string_equal(first, j->rec);
        assert_null(strstr(first, "pgid"));
        j->pgid = 4242;
        assert_int_equal(agent__job_persist_pgid(a, j), 0);
        pthread_mutex_unlock(&a->mu);
        char *second = slurp("job_w", "job.json");
        assert_string_equal(second, j->rec);
        json_t *o = json_loads(second, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(o, "pgid")), 4242);
        assert_string_equal(json_string_value(json_object_get(o, "state")), "running");
        json_decref(o);
        assert_int_equal(strncmp(first, second, strlen(first) - 1), 0);
        if (full)
            assert_true(inode_of("job_w", "job.json") != ino);
        else
            assert_true(inode_of("job_w", "job.json") == ino);
        free(first);
        free(second);
        agent__job_free(j);
        rk_agent_free(a);
        char p[320];
        snprintf(p, sizeof p, "%s/job.json", dir);
        unlink(p);
    }
}

static void test_list_output(void **state)
{
    (void)state;
    put("job_arts", "x", "");
    char out[256], path[320];
    snprintf(out, sizeof out, "%s/jobs/job_arts/output", data);
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(path, sizeof path, "%s/sub", out);
    assert_int_equal(mkdir(path, 0755), 0);
    put("job_arts", "output/a.txt", "a");
    put("job_arts", "output/sub/b.txt", "b");
    snprintf(path, sizeof path, "%s/escape", out);
    assert_int_equal(symlink("/etc", path), 0);
    snprintf(path, sizeof path, "%s/jobs/job_arts", data);
    json_t *names = agent__list_output(path, 100);
    assert_non_null(names);
    assert_int_equal(json_array_size(names), 2);
    bool a = false, b = false;
    for (size_t i = 0; i < 2; i++) {
        const char *n = json_string_value(json_array_get(names, i));
        a = a || strcmp(n, "a.txt") == 0;
        b = b || strcmp(n, "sub/b.txt") == 0;
    }
    assert_true(a && b);
    json_decref(names);
    names = agent__list_output(path, 1); /* bounded */
    assert_int_equal(json_array_size(names), 1);
    json_decref(names);
}

int main(void)
{
    rk_log_set_level(RK_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_result_means_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_output, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
