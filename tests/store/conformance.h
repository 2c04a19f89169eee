/* Fixtures shared by the storage conformance tests: every test runs once
 * per registered backend (sqlite in a fresh temporary file, postgresql in
 * a fresh database of the binary's own server, rk_test_pg.h), with a store
 * opened by setup and closed by teardown, and models built from JSON the
 * way the server gets them. Included by the test_conformance*.c files.
 */
#ifndef RK_TESTS_STORE_CONFORMANCE_H
#define RK_TESTS_STORE_CONFORMANCE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/log.h"
#include "store/store.h"

#include "rk_test.h"
#include "rk_test_pg.h"

static const char *backend; /* the backend the current group runs against */

typedef struct fx {
    char dir[64];
    char path[256]; /* sqlite: the file; postgresql: the connection string */
    rk_store_t *s;
} fx_t;

static int fx_setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/rk_store_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    if (strcmp(backend, "postgresql") == 0)
        assert_int_equal(rk_test_pg_create_db(f->path, sizeof f->path), 0);
    assert_int_equal(rk_store_open(backend, f->path, &f->s), 0);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    rk_store_close(f->s);
    if (strcmp(backend, "postgresql") == 0)
        rk_test_pg_drop_db(f->path);
    char p[300];
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static json_t *load(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("bad fixture json: %s", je.text);
    return v;
}

static void make_agent(const char *id, const char *url, rk_registered_agent_t *a)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"agent_id\":\"%s\",\"agent_type\":\"white_box\",\"system_info\":{\"os\":\"x\"},"
             "\"capabilities\":{\"slots\":2,\"task_types\":[\"command\"],\"gpu_x\":1},"
             "\"last_updated\":\"2026-01-01T00:00:00Z\",\"agent_url\":\"%s\","
             "\"registered_at\":\"2026-01-01T00:00:01Z\",\"unknown_top\":[1,2]}",
             id, url);
    json_t *v = load(text);
    rk_verr_t e = {{0}};
    int rc = rk_registered_agent_decode(v, "", a, &e);
    json_decref(v);
    if (rc)
        fail_msg("agent fixture: %s", e.msg);
}

static void make_experiment(const char *name, rk_experiment_t *x)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\":\"%s\",\"model\":\"m\",\"task\":{\"name\":\"t\",\"type\":\"command\","
             "\"params\":{\"argv\":[\"/bin/true\"]},\"task_extra\":true},"
             "\"framework\":{\"name\":\"f\",\"params\":{}},\"metrics\":{\"metrics\":{}},"
             "\"future_field\":{\"kept\":[1,\"two\"]}}",
             name);
    json_t *v = load(text);
    rk_verr_t e = {{0}};
    int rc = rk_experiment_decode(v, "", x, &e);
    json_decref(v);
    if (rc)
        fail_msg("experiment fixture: %s", e.msg);
}

static void make_result(const char *job_id, const char *exp, const char *agent, rk_result_t *r)
{
    char text[768];
    snprintf(text, sizeof text,
             "{\"job_id\":\"%s\",\"experiment_id\":\"%s\",\"agent_id\":\"%s\","
             "\"status\":\"completed\",\"started_at\":\"2026-01-01T00:00:00Z\","
             "\"completed_at\":\"2026-01-01T00:00:02Z\",\"duration_seconds\":2,"
             "\"metrics\":{\"wall_time_s\":2},\"hardware_info\":{},\"artifacts\":[],"
             "\"result_extra\":{\"kept\":true}}",
             job_id, exp, agent);
    json_t *v = load(text);
    rk_verr_t e = {{0}};
    int rc = rk_result_decode(v, "", r, &e);
    json_decref(v);
    if (rc)
        fail_msg("result fixture: %s", e.msg);
}

/* A job in state st; the strings are borrowed (static or the caller's). */
static rk_job_info_t job_of(const char *id, const char *exp, const char *agent, rk_job_state_t st,
                            rk_time_t t)
{
    rk_job_info_t j = {0};
    j.job_id = (char *)id;
    j.experiment_id = (char *)exp;
    j.agent_id = (char *)agent;
    j.created_time = t;
    j.status.status = st;
    j.status.timestamp = t;
    j.status.message = (char *)"created";
    return j;
}

static int64_t insert_job(rk_store_t *s, const char *id, const char *exp, const char *agent,
                          rk_job_state_t st)
{
    rk_job_info_t j = job_of(id, exp, agent, st, 1000);
    int64_t seq = 0;
    assert_int_equal(rk_store_job_insert(s, &j, &seq), 0);
    assert_true(seq > 0);
    return seq;
}

static void set_state(rk_store_t *s, const char *id, rk_job_state_t st, const char *msg)
{
    rk_job_status_t js = {.status = st, .timestamp = 2000, .message = (char *)msg};
    assert_int_equal(rk_store_job_set_status(s, id, &js), 0);
}

#define MASK(st) (1u << (st))

/* Runs tests once per registered backend; returns the failure count. The
 * postgresql group is skipped, saying why, where no server can be started
 * (no binaries, no postgres user to run them as). */
__attribute__((unused)) static int run_all_backends(const struct CMUnitTest *tests, size_t n)
{
    int failed = 0;
    rk_log_set_level(RK_LOG_WARN);
    for (const char *const *b = rk_store_backends(); *b; b++) {
        backend = *b;
        const char *why = NULL;
        if (strcmp(backend, "postgresql") == 0 && !rk_test_pg_server(&why)) {
            printf("[  SKIPPED ] postgresql: %zu tests: %s\n", n, why);
            continue;
        }
        failed += _cmocka_run_group_tests(backend, tests, n, NULL, NULL);
    }
    return failed;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

#endif
