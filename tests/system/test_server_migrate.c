/* `ruckus-server migrate` against real processes: a server that ran jobs
 * on SQLite, the copy into a new file, and a server started on the copy
 * answering the same jobs, results and experiments. A live server's file
 * is refused (and so is a second server on it); bad arguments get exit 2
 * and a message. The PostgreSQL target is covered by tests/store/test_copy
 * against a real PostgreSQL. */
#include "server_fixture.h"

#include <sys/wait.h>
#include <unistd.h>

/* Runs ruckus-server with args through sh; its stdout+stderr into out. */
static int run_server_cmd(const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/ruckus-server' %s 2>&1", getenv("RK_BIN_DIR"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The ids and states of GET /jobs, as one string. */
static void jobs_text(fx_t *f, char *out, size_t cap)
{
    long st;
    json_t *r = fx_callf(f, "GET", &st, NULL, "/api/v1/jobs");
    assert_int_equal(st, 200);
    char *s = json_dumps(json_object_get(r, "jobs"), JSON_SORT_KEYS | JSON_COMPACT);
    snprintf(out, cap, "%s", s);
    free(s);
    json_decref(r);
}

static void test_migrate_sqlite_copy(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    fx_agent_start(&f, 0, 1, NULL);
    char exp[80], ids[6][64];
    fx_experiment(&f, "migrated", "echo '{\"x\": 1}' > \"$RUCKUS_METRICS_FILE\"", 0, exp);
    for (int i = 0; i < 6; i++) {
        json_t *j = fx_job(&f, exp, 0, 201);
        snprintf(ids[i], sizeof ids[i], "%s", fx_id(j));
        json_decref(j);
    }
    for (int i = 0; i < 6; i++)
        json_decref(fx_wait_job(&f, ids[i], "completed", 20000));
    char before[65536], after[65536], out[8192], args[1400];
    jobs_text(&f, before, sizeof before);

    /* A live server holds its file: no migration from it, no second server. */
    char copy[480];
    snprintf(copy, sizeof copy, "%s/copy.db", f.dir);
    snprintf(args, sizeof args, "migrate --from sqlite:%s --to sqlite:%s", f.db, copy);
    assert_int_equal(run_server_cmd(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "a running ruckus-server is using it"));
    snprintf(args, sizeof args, "--port 0 --db %s", f.db);
    assert_int_equal(run_server_cmd(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "another ruckus-server is using this database file"));

    assert_int_equal(rk_test_proc_stop(&f.srv, SIGTERM, 10000, NULL), 0);
    snprintf(args, sizeof args, "migrate --from sqlite:%s --to sqlite:%s --json --quiet", f.db,
             copy);
    assert_int_equal(run_server_cmd(args, out, sizeof out), 0);
    json_error_t je;
    json_t *sum = json_loads(out, 0, &je);
    assert_non_null(sum);
    assert_int_equal(json_integer_value(json_object_get(sum, "jobs")), 6);
    assert_int_equal(json_integer_value(json_object_get(sum, "results")), 6);
    assert_int_equal(json_integer_value(json_object_get(sum, "agents")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "experiments")), 1);
    json_decref(sum);
    /* Into a target that now holds data: refused, nothing changed. */
    assert_int_equal(run_server_cmd(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "the target is not empty (6 jobs"));

    /* A server on the copy answers the same. */
    snprintf(f.db, sizeof f.db, "%s", copy);
    fx_server_start(&f, "sqlite", NULL);
    jobs_text(&f, after, sizeof after);
    assert_string_equal(before, after);
    long st;
    json_t *r = fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s", ids[3]);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(r, "result"), "metrics"), "x")),
                     1);
    json_decref(r);
    fx_cleanup(&f);
}

static void test_migrate_bad_arguments(void **state)
{
    (void)state;
    char out[4096];
    assert_int_equal(run_server_cmd("migrate --from sqlite:/nonexistent/x.db --to sqlite:/tmp/y.db",
                                    out, sizeof out),
                     1);
    assert_non_null(strstr(out, "/nonexistent/x.db: no such file"));
    char empty[64] = "/tmp/rk_empty_XXXXXX", args[256];
    int fd = mkstemp(empty);
    assert_true(fd >= 0);
    close(fd);
    snprintf(args, sizeof args, "migrate --from sqlite:%s --to sqlite:%s.new", empty, empty);
    assert_int_equal(run_server_cmd(args, out, sizeof out), 1);
    assert_non_null(strstr(out, "is empty: not a ruckus database"));
    unlink(empty);
    assert_int_equal(
        run_server_cmd("migrate --from mysql://x --to sqlite:/tmp/y.db", out, sizeof out), 2);
    assert_non_null(strstr(out, "--from: expected sqlite:PATH or a postgresql:// URL"));
    assert_int_equal(run_server_cmd("migrate --to sqlite:/tmp/y.db", out, sizeof out), 2);
    assert_non_null(strstr(out, "--from and --to are both required"));
    assert_int_equal(run_server_cmd("migrate --from sqlite:a.db --to sqlite:a.db", out, sizeof out),
                     2);
    assert_non_null(strstr(out, "the same file"));
    assert_int_equal(run_server_cmd("migrate --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--from STORE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_sqlite_copy),
        cmocka_unit_test(test_migrate_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
