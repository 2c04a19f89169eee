/* Images against real files and a real sandbox: the test builds a small
 * two-layer OCI image from Debian's busybox-static (the second layer
 * deletes a file with a whiteout and empties a directory with an opaque
 * whiteout), runs a job in it through bwrap, shares one unpacked copy
 * between two concurrent preparations, refuses a tampered layer, and
 * handles an oci-archive and a plain rootfs tarball. Everything lives under
 * one folder removed in teardown. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "helper_image.h"
#include "isolate/image.h"
#include "isolate/internal.h"
#include "isolate/sandbox.h"

static char base[64], images[96], cache[96], work[96], job[96];
static char manifest_digest[80];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(base, sizeof base, "/var/tmp/rk-img-%d", (int)getpid());
    snprintf(images, sizeof images, "%s/images", base);
    snprintf(cache, sizeof cache, "%s/cache", base);
    snprintf(work, sizeof work, "%s/work", base);
    snprintf(job, sizeof job, "%s/job", base);
    if (mkdir(base, 0755) != 0 || mkdir(images, 0755) != 0 || mkdir(work, 0755) != 0 ||
        mkdir(job, 0755) != 0)
        return -1;
    build_image(images, work, manifest_digest);
    return 0;
}

static int teardown(void **state)
{
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Entries of the cache other than by-file, and whether a .tmp-* is there. */
static int cache_copies(bool *tmp_left)
{
    DIR *d = opendir(cache);
    int n = 0;
    *tmp_left = false;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, ".tmp-", 5) == 0)
            *tmp_left = true;
        else if (de->d_name[0] != '.' && strcmp(de->d_name, "by-file") != 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void test_job_runs_in_the_busybox_image(void **state)
{
    char root[4096], err[512] = "";
    int rc = rk_image_prepare(images, cache, "bb", root, sizeof root, err, sizeof err);
    if (rc != 0)
        printf("prepare: %s\n", err);
    assert_int_equal(rc, 0);
    const char *cmd[] = {
        "/bin/sh", "-c",
        "test -x /bin/busybox && echo busybox; test -e /usr/bin/python3 && echo python3; "
        "test -e /etc/gone && echo gone; busybox ls /d; busybox cat /etc/hello",
        NULL};
    rk_sandbox_spec_t spec = {.rootfs = root, .job_dir = job, .argv = cmd};
    char **argv;
    assert_int_equal(rk_sandbox_argv(&spec, &argv, err, sizeof err), 0);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    char out[512];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof out && (r = read(pfd[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    rk_sandbox_argv_free(argv);
    /* The host has python3 (the tests' own tools): the job must not see it. */
    assert_int_equal(access("/usr/bin/python3", X_OK), 0);
    assert_string_equal(out, "busybox\nc\nhello\n");
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

typedef struct prep {
    char root[4096];
    char err[512];
    int rc;
} prep_t;

static void *prepare_thread(void *arg)
{
    prep_t *p = arg;
    p->rc = rk_image_prepare(images, cache, "bb", p->root, sizeof p->root, p->err, sizeof p->err);
    return NULL;
}

static void test_two_jobs_share_one_unpacked_copy(void **state)
{
    prep_t a = {0}, b = {0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, prepare_thread, &a);
    pthread_create(&tb, NULL, prepare_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_string_equal(a.root, b.root);
    char want[256];
    snprintf(want, sizeof want, "%s/%s", cache, manifest_digest + 7);
    assert_non_null(strstr(a.root, manifest_digest + 7));
    bool tmp_left;
    assert_int_equal(cache_copies(&tmp_left), 1);
    assert_false(tmp_left);
}

static void test_tampered_layer_refused(void **state)
{
    helper_sh("cp -a %s/bb %s/bad", images, images);
    /* Flip the first layer's last byte (the gzip trailer). */
    helper_sh(
        "f=$(ls -S %s/bad/blobs/sha256 | head -1); printf 'X' | "
        "dd of=%s/bad/blobs/sha256/$f bs=1 seek=$(($(stat -c %%s %s/bad/blobs/sha256/$f) - 1)) "
        "conv=notrunc status=none",
        images, images, images);
    char root[4096], err[512] = "";
    assert_int_equal(rk_image_prepare(images, cache, "bad", root, sizeof root, err, sizeof err),
                     RK_EPROTO);
    printf("%s\n", err);
    assert_non_null(strstr(err, "image 'bad': layer 1 of 2 (sha256:"));
    assert_non_null(strstr(err, "does not match its digest"));
    bool tmp_left;
    assert_int_equal(cache_copies(&tmp_left), 0);
    assert_false(tmp_left);
}

static void test_oci_archive_shares_the_layouts_copy(void **state)
{
    helper_sh("tar -C %s/bb -cf %s/bb.tar .", images, images);
    char root1[4096], root2[4096], root3[4096], err[512] = "";
    assert_int_equal(rk_image_prepare(images, cache, "bb", root1, sizeof root1, err, sizeof err),
                     0);
    int rc = rk_image_prepare(images, cache, "bb.tar", root2, sizeof root2, err, sizeof err);
    if (rc != 0)
        printf("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(root1, root2);
    /* The second time the archive is found through by-file, unextracted. */
    assert_int_equal(
        rk_image_prepare(images, cache, "bb.tar", root3, sizeof root3, err, sizeof err), 0);
    assert_string_equal(root1, root3);
    bool tmp_left;
    assert_int_equal(cache_copies(&tmp_left), 1);
    assert_false(tmp_left);
}

static void test_rootfs_tarball_and_directory(void **state)
{
    helper_sh("tar -C %s/l1 -czf %s/plain.tar.gz . && cp -a %s/l1 %s/plaindir", work, images, work,
              images);
    char root[4096], path[4200], err[512] = "";
    assert_int_equal(
        rk_image_prepare(images, cache, "plain.tar.gz", root, sizeof root, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/bin/busybox", root);
    assert_int_equal(access(path, X_OK), 0);
    assert_int_equal(
        rk_image_prepare(images, cache, "plaindir", root, sizeof root, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/plaindir", images);
    assert_string_equal(root, path);
}

static void test_list_names_digests_sizes(void **state)
{
    helper_sh("cp -a %s/l1 %s/dir", work, images);
    rk_image_info_t *im;
    size_t n;
    assert_int_equal(rk_image_list(images, cache, &im, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(im[0].name, "bb");
    assert_string_equal(im[0].kind, "oci-layout");
    assert_string_equal(im[0].digest, manifest_digest);
    assert_true(im[0].size_bytes > 100000); /* busybox, compressed */
    assert_string_equal(im[1].name, "dir");
    assert_string_equal(im[1].kind, "directory");
    assert_string_equal(im[1].digest, "");
    printf("%s %s %llu; %s %llu\n", im[0].name, im[0].digest, (unsigned long long)im[0].size_bytes,
           im[1].name, (unsigned long long)im[1].size_bytes);
    free(im);
}

static void test_bad_names_and_missing_images(void **state)
{
    char root[4096], err[512];
    const char *bad[] = {"../etc", "/etc", "", ".hidden", "a/b", "%2e%2e"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(
            rk_image_prepare(images, cache, bad[i], root, sizeof root, err, sizeof err), RK_EINVAL);
    assert_int_equal(rk_image_prepare(images, cache, "nope", root, sizeof root, err, sizeof err),
                     RK_ENOENT);
    printf("%s\n", err);
    assert_non_null(strstr(err, "no image 'nope'"));
}

static void test_cache_sweep_removes_unused_copies(void **state)
{
    char root[4096], err[512];
    assert_int_equal(rk_image_prepare(images, cache, "bb", root, sizeof root, err, sizeof err), 0);
    size_t removed;
    assert_int_equal(rk_image_cache_sweep(cache, 7, &removed), 0);
    assert_int_equal(removed, 0);
    struct timespec old[2] = {{.tv_sec = time(NULL) - 8 * 86400},
                              {.tv_sec = time(NULL) - 8 * 86400}};
    assert_int_equal(utimensat(AT_FDCWD, root, old, 0), 0);
    assert_int_equal(rk_image_cache_sweep(cache, 7, &removed), 0);
    assert_int_equal(removed, 1);
    assert_int_not_equal(access(root, F_OK), 0);
}

int main(void)
{
    char why[256];
    if (access("/bin/busybox", X_OK) != 0) {
        printf("skip: /bin/busybox missing (install busybox-static)\n");
        return 0;
    }
    if (rk_sandbox_probe(NULL, why, sizeof why) != 0) {
        printf("skip: %s (install bubblewrap)\n", why);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_job_runs_in_the_busybox_image, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_jobs_share_one_unpacked_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_layer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oci_archive_shares_the_layouts_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_tarball_and_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_names_digests_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names_and_missing_images, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_sweep_removes_unused_copies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
