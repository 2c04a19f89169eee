/* Spare job folders (lib/agent/spares.c): built complete, never loaded as
 * jobs, removed at start, taken with one rename (clearing a leftover folder
 * of an unknown job), the fallback when the pool is empty, and the hint
 * that spreads job folders over the file system's inode groups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"
#include "model/json.h"

static char root[64], data[128], jobs[160];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/rk-spares-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(jobs, sizeof jobs, "%s/jobs", data);
    unsetenv(RK_AGENT_TEST_SPARES_ENV);
    return mkdir(data, 0755) || mkdir(jobs, 0755);
}

static int teardown(void **state)
{
    (void)state;
    unsetenv(RK_AGENT_TEST_SPARES_ENV);
    return nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static rk_agent_settings_t settings(void)
{
    rk_agent_settings_t s = {.host = "127.0.0.1",
                             .data_dir = data,
                             .slots = 1,
                             .name = "unit",
                             .models_dir = data,
                             .retention_days = 7,
                             .grace = 0.1,
                             .log_cap = 1 << 20,
                             .log_level = RK_LOG_WARN};
    return s;
}

/* Entries of jobs/ whose name starts with prefix. */
static int count_prefixed(const char *prefix)
{
    DIR *d = opendir(jobs);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* Spares on disk: complete ones (named by their number) in every pool
 * folder jobs/.pool~*, or with building set, half-built ones (.new~*). */
static int count_spares_on_disk(bool building)
{
    DIR *d = opendir(jobs);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".pool~", 6) != 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", jobs, de->d_name);
        DIR *pd = opendir(p);
        assert_non_null(pd);
        struct dirent *e;
        while ((e = readdir(pd)) != NULL) {
            if (building)
                n += strncmp(e->d_name, ".new~", 5) == 0;
            else
                n += e->d_name[0] >= '0' && e->d_name[0] <= '9';
        }
        closedir(pd);
    }
    closedir(d);
    return n;
}

/* Spare n's path relative to jobs/. */
static void spare_rel(const rk_agent_t *a, uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, ".pool~%08x-%llu/%llu", (unsigned)a->spare_salt,
             (unsigned long long)(n / SPARE_BUCKET), (unsigned long long)n);
}

/* Size of jobs/<dir>/<name>, -1 when absent. */
static long long size_of(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s%s%s", jobs, dir, *name ? "/" : "", name);
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static bool is_dir(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s%s%s", jobs, dir, *name ? "/" : "", name);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_fill_and_take(void **state)
{
    (void)state;
    rk_agent_settings_t s = settings();
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    assert_int_equal(a->spare_target, 4); /* 2 x slots + 2 */
    pthread_mutex_lock(&a->mu);
    assert_int_equal(agent__spares_refill(a), 0);
    assert_int_equal(a->n_spares, 4);
    assert_int_equal(count_spares_on_disk(false), 4);
    assert_int_equal(count_spares_on_disk(true), 0);
    assert_int_equal(count_prefixed(".pool~"), 1);
    /* A spare is whole: output/ and two empty records. */
    char name[64];
    spare_rel(a, a->spares[a->spare_head], name, sizeof name);
    assert_true(is_dir(name, "output"));
    assert_int_equal(size_of(name, "job.json"), 0);
    assert_int_equal(size_of(name, "result.json"), 0);
    /* A pool's name is never a job id. */
    *strchr(name, '/') = '\0';
    assert_false(rk_id_valid(name));

    char dir[256];
    snprintf(dir, sizeof dir, "%s/job_a", jobs);
    assert_int_equal(agent__job_dir_new(a, dir), 0);
    assert_int_equal(a->n_spares, 3);
    assert_int_equal(count_spares_on_disk(false), 3);
    assert_true(is_dir("job_a", "output"));
    assert_int_equal(size_of("job_a", "job.json"), 0);
    assert_int_equal(a->spares_taken, 1);
    assert_int_equal(a->spares_missed, 0);

    /* A leftover folder of an unknown job is cleared by the take. */
    snprintf(dir, sizeof dir, "%s/job_left", jobs);
    assert_int_equal(mkdir(dir, 0755), 0);
    char stray[320];
    snprintf(stray, sizeof stray, "%s/stdout.log", dir);
    FILE *f = fopen(stray, "w");
    assert_non_null(f);
    fputs("old output", f);
    fclose(f);
    assert_int_equal(agent__job_dir_new(a, dir), 0);
    assert_int_equal(size_of("job_left", "stdout.log"), -1);
    assert_true(is_dir("job_left", "output"));
    assert_int_equal(a->spares_taken, 2);

    /* Refilled back to the target. */
    assert_int_equal(agent__spares_refill(a), 0);
    assert_int_equal(a->n_spares, 4);
    assert_int_equal(count_spares_on_disk(false), 4);
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);
}

static void test_exhausted_falls_back(void **state)
{
    (void)state;
    setenv(RK_AGENT_TEST_SPARES_ENV, "1", 1);
    rk_agent_settings_t s = settings();
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    pthread_mutex_lock(&a->mu);
    assert_int_equal(a->spare_target, 1);
    assert_int_equal(agent__spares_refill(a), 0);
    assert_int_equal(a->n_spares, 1);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/job_1", jobs);
    assert_int_equal(agent__job_dir_new(a, dir), 0);
    assert_true(is_dir("job_1", "output")); /* from the spare */
    /* Empty now: the next folder is made at accept, empty. */
    assert_int_equal(agent__spare_take(a, dir), RK_ENOENT);
    snprintf(dir, sizeof dir, "%s/job_2", jobs);
    assert_int_equal(agent__job_dir_new(a, dir), 0);
    assert_true(is_dir("job_2", ""));
    assert_false(is_dir("job_2", "output"));
    assert_int_equal(size_of("job_2", "job.json"), -1);
    assert_int_equal(a->spares_taken, 1);
    assert_int_equal(a->spares_missed, 1);
    /* The pool can be switched off. */
    a->spare_target = 0;
    assert_int_equal(agent__spares_refill(a), 0);
    assert_int_equal(a->n_spares, 0);
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);
}

static void test_restart_with_spares(void **state)
{
    (void)state;
    rk_agent_settings_t s = settings();
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    pthread_mutex_lock(&a->mu);
    assert_int_equal(agent__spares_refill(a), 0);
    /* A spare taken, then the agent died before job.json was written: an
     * empty record is no job. */
    char dir[256];
    snprintf(dir, sizeof dir, "%s/job_torn", jobs);
    assert_int_equal(agent__job_dir_new(a, dir), 0);
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);
    /* A half-built spare, as a crash during a refill leaves it. */
    char half[256];
    snprintf(half, sizeof half, "%s/.new~99", jobs);
    assert_int_equal(mkdir(half, 0755), 0);
    assert_true(count_spares_on_disk(false) > 0);
    /* A spare of the older flat layout. */
    char flat[256];
    snprintf(flat, sizeof flat, "%s/.spare~7", jobs);
    assert_int_equal(mkdir(flat, 0755), 0);

    assert_int_equal(rk_agent_new(&s, &a), 0);
    pthread_mutex_lock(&a->mu);
    assert_int_equal(count_prefixed(".pool~"), 0);
    assert_int_equal(count_prefixed(".spare~"), 0);
    assert_int_equal(count_prefixed(".new~"), 0);
    assert_int_equal(a->n_spares, 0);
    assert_null(a->jobs); /* neither the spares nor the torn folder is a job */
    assert_int_equal(a->active, 0);
    /* The torn folder is reused when its job is accepted again. */
    assert_int_equal(agent__spares_refill(a), 0);
    assert_int_equal(agent__job_dir_new(a, dir), 0);
    assert_int_equal(a->spares_taken, 1);
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);
}

/* Spares are taken oldest first; a pool folder is removed by the take that
 * empties it, so however many jobs pass, at most two pools exist (the one
 * being taken from, the one being filled). */
static void test_pools_rotate(void **state)
{
    (void)state;
    rk_agent_settings_t s = settings();
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), 0);
    pthread_mutex_lock(&a->mu);
    int n = 3 * SPARE_BUCKET + 5;
    uint64_t want = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(agent__spares_refill(a), 0);
        assert_int_equal(a->spares[a->spare_head], want++); /* oldest first */
        char dir[256];
        snprintf(dir, sizeof dir, "%s/job_%d", jobs, i);
        assert_int_equal(agent__job_dir_new(a, dir), 0);
        assert_true(is_dir(dir + strlen(jobs) + 1, "output"));
        assert_true(count_prefixed(".pool~") <= 2);
    }
    assert_int_equal(a->spares_taken, n);
    assert_int_equal(count_spares_on_disk(false), a->n_spares);
    pthread_mutex_unlock(&a->mu);
    rk_agent_free(a);
}

/* The pool-size hook takes whole numbers only, clamped to 0..SPARE_MAX;
 * anything else leaves the default. */
static void test_spares_hook_input(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int want;
    } cases[] = {{"abc", 4},          {"", 4}, {"3x", 4}, {"99999999999999999999", 4}, {"-5", 0},
                 {"1000", SPARE_MAX}, {"7", 7}};
    rk_agent_settings_t s = settings();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(RK_AGENT_TEST_SPARES_ENV, cases[i].v, 1);
        rk_agent_t *a = NULL;
        assert_int_equal(rk_agent_new(&s, &a), 0);
        assert_int_equal(a->spare_target, cases[i].want);
        rk_agent_free(a);
    }
}

/* The file system flags of path; -1 where it has none (tmpfs, ...). */
static int fs_flags(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    int flags = 0;
    int rc = ioctl(fd, FS_IOC_GETFLAGS, &flags);
    close(fd);
    return rc == 0 ? flags : -1;
}

/* jobs/ carries ext4's top-directory flag (job folders spread over inode
 * groups) where the file system has flags; elsewhere the hint is a no-op
 * and the agent starts all the same. */
static void test_spread_hint(void **state)
{
    (void)state;
    int before = fs_flags(jobs);
    if (before < 0) {
        agent__spread_hint(jobs); /* must not fail or crash */
        skip();
    }
    assert_false(before & FS_TOPDIR_FL);
    rk_agent_settings_t s = settings();
    rk_agent_t *a = NULL;
    assert_int_equal(rk_agent_new(&s, &a), RK_OK);
    assert_true(fs_flags(jobs) & FS_TOPDIR_FL);
    rk_agent_free(a);
    /* Idempotent: a second start leaves the flag as it is. */
    assert_int_equal(rk_agent_new(&s, &a), RK_OK);
    assert_true(fs_flags(jobs) & FS_TOPDIR_FL);
    rk_agent_free(a);
}

int main(void)
{
    rk_log_set_level(RK_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fill_and_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_with_spares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pools_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spares_hook_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spread_hint, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
