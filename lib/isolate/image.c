/* Images: finding, verifying, unpacking once, listing (image.h). */
#include "isolate/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "isolate/internal.h"

#define HEX_LEN 64
/* Room left in a path buffer after the cache directory's name. */
#define CACHE_PATH_ROOM 200

/* snprintf for paths whose lengths the callers bound (the cache's by
 * CACHE_PATH_ROOM): a truncated result is an empty string, never a
 * different path. */
__attribute__((format(printf, 3, 4))) static void fmt_path(char *out, size_t sz, const char *fmt,
                                                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, sz, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sz)
        out[0] = '\0';
}

int rk_image_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= RK_IMAGE_NAME_MAX || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* The hex part of "sha256:<64 lowercase hex>", or NULL. */
static const char *digest_hex(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d + 7) != HEX_LEN)
        return NULL;
    for (const char *c = d + 7; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return NULL;
    return d + 7;
}

static json_t *load_json(const char *path, char *err, size_t errsz)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > RK_IMAGE_JSON_CAP) {
        snprintf(err, errsz, "%s: missing or over %zu bytes", path, RK_IMAGE_JSON_CAP);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        snprintf(err, errsz, "%s: not JSON: %s", path, je.text);
    return j;
}

/* The digest of the layout's (first) image manifest, from index.json. */
static int layout_manifest(const char *layout, char digest[RK_IMAGE_DIGEST_MAX], char *err,
                           size_t errsz)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/index.json", layout);
    json_t *idx = load_json(path, err, errsz);
    if (!idx)
        return RK_EPROTO;
    json_t *m = json_array_get(json_object_get(idx, "manifests"), 0);
    const char *d = json_string_value(json_object_get(m, "digest"));
    int rc = 0;
    if (!digest_hex(d)) {
        snprintf(err, errsz, "%s: no manifest with a sha256 digest", path);
        rc = RK_EPROTO;
    } else {
        snprintf(digest, RK_IMAGE_DIGEST_MAX, "%s", d);
    }
    json_decref(idx);
    return rc;
}

/* Checks that the blob for digest in the layout hashes to it. */
static int verify_blob(const char *layout, const char *digest, const char *what, char *err,
                       size_t errsz)
{
    const char *hex = digest_hex(digest);
    if (!hex) {
        snprintf(err, errsz, "%s: digest '%s' is not sha256", what, digest ? digest : "");
        return RK_EPROTO;
    }
    char path[PATH_MAX], got[HEX_LEN + 1];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", layout, hex);
    int e = isolate__sha256_file(path, got);
    if (e != 0) {
        snprintf(err, errsz, "%s (%.19s…): blob missing: %s", what, digest, strerror(-e));
        return RK_EPROTO;
    }
    if (strcmp(got, hex) != 0) {
        snprintf(err, errsz,
                 "%s (%.19s…) does not match its digest (its content hashes to sha256:%.12s…): "
                 "the blob is corrupt or was altered",
                 what, digest, got);
        return RK_EPROTO;
    }
    return 0;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Marks an unpacked copy as used now, for the cache sweep. */
static void touch(const char *dir)
{
    utimensat(AT_FDCWD, dir, NULL, 0);
}

static int remove_path(const char *path)
{
    return isolate__remove_at(AT_FDCWD, path);
}

/* Moves the finished tmp to final; when another process got there first,
 * its copy is as good: tmp goes. */
static int publish(const char *tmp, const char *final, char *err, size_t errsz)
{
    chmod(tmp, 0755);
    if (rename(tmp, final) == 0)
        return 0;
    int e = errno;
    remove_path(tmp);
    if ((e == ENOTEMPTY || e == EEXIST) && is_dir(final))
        return 0;
    snprintf(err, errsz, "cannot move the unpacked image to %s: %s", final, strerror(e));
    return RK_EIO;
}

/* Child only: verifies and unpacks the layout's image into cache; out gets
 * the unpacked root. */
static int oci_unpack(const char *name, const char *layout, const char *cache, char *out,
                      size_t outsz, char *err, size_t errsz)
{
    char mdigest[RK_IMAGE_DIGEST_MAX], path[PATH_MAX], what[160];
    int rc = layout_manifest(layout, mdigest, err, errsz);
    if (rc != 0)
        return rc;
    snprintf(out, outsz, "%s/%s", cache, digest_hex(mdigest));
    if (is_dir(out))
        return 0;
    snprintf(what, sizeof what, "image '%s': manifest", name);
    if ((rc = verify_blob(layout, mdigest, what, err, errsz)) != 0)
        return rc;
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", layout, digest_hex(mdigest));
    json_t *man = load_json(path, err, errsz);
    if (!man)
        return RK_EPROTO;
    json_t *layers = json_object_get(man, "layers");
    size_t nl = json_array_size(layers);
    const char *cfg = json_string_value(json_object_get(json_object_get(man, "config"), "digest"));
    snprintf(what, sizeof what, "image '%s': config", name);
    rc = verify_blob(layout, cfg, what, err, errsz);
    if (rc == 0 && (!json_is_array(layers) || nl > RK_IMAGE_LAYERS_MAX)) {
        snprintf(err, errsz, "image '%s': the manifest's layers are missing or over %d", name,
                 RK_IMAGE_LAYERS_MAX);
        rc = RK_EPROTO;
    }
    /* Every blob is checked before anything is unpacked. */
    for (size_t i = 0; rc == 0 && i < nl; i++) {
        snprintf(what, sizeof what, "image '%s': layer %zu of %zu", name, i + 1, nl);
        rc = verify_blob(layout,
                         json_string_value(json_object_get(json_array_get(layers, i), "digest")),
                         what, err, errsz);
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%.16s-XXXXXX", cache, digest_hex(mdigest));
    if (rc == 0 && !mkdtemp(tmp)) {
        snprintf(err, errsz, "cannot make %s: %s", tmp, strerror(errno));
        rc = RK_EIO;
    }
    for (size_t i = 0; rc == 0 && i < nl; i++) {
        const char *d = json_string_value(json_object_get(json_array_get(layers, i), "digest"));
        snprintf(path, sizeof path, "%s/blobs/sha256/%s", layout, digest_hex(d));
        char why[512];
        if (isolate__layer_apply(path, tmp, why, sizeof why) != 0) {
            snprintf(err, errsz, "image '%s': layer %zu: %s", name, i + 1, why);
            rc = RK_EPROTO;
            remove_path(tmp);
        }
    }
    json_decref(man);
    return rc == 0 ? publish(tmp, out, err, errsz) : rc;
}

/* The key of an archive file in <cache>/by-file: it changes when the file
 * is replaced or rewritten. */
static void file_key(const struct stat *st, char *key, size_t sz)
{
    snprintf(key, sz, "%lld-%lld.%09ld-%llu", (long long)st->st_size, (long long)st->st_mtim.tv_sec,
             st->st_mtim.tv_nsec, (unsigned long long)st->st_ino);
}

/* Child only: unpacks an archive file (oci-archive or rootfs tarball). */
static int archive_unpack(const char *name, const char *file, const struct stat *st,
                          const char *cache, char *out, size_t outsz, char *err, size_t errsz)
{
    char tmp[PATH_MAX], probe[PATH_MAX + 16], why[512];
    fmt_path(tmp, sizeof tmp, "%s/.tmp-archive-XXXXXX", cache);
    if (!mkdtemp(tmp)) {
        snprintf(err, errsz, "cannot make %s: %s", tmp, strerror(errno));
        return RK_EIO;
    }
    /* The extraction chdirs; a child of the child keeps our cwd. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(isolate__archive_extract(file, tmp, why, sizeof why) == 0
                  ? 0
                  : (fprintf(stderr, "image '%s': %s\n", name, why), 1));
    int st_ = 0;
    if (pid < 0 || waitpid(pid, &st_, 0) != pid || !WIFEXITED(st_) || WEXITSTATUS(st_) != 0) {
        snprintf(err, errsz, "image '%s': cannot unpack %s (see the log)", name, file);
        remove_path(tmp);
        return RK_EPROTO;
    }
    int rc;
    snprintf(probe, sizeof probe, "%s/oci-layout", tmp);
    if (access(probe, F_OK) == 0) {
        rc = oci_unpack(name, tmp, cache, out, outsz, err, errsz);
        remove_path(tmp);
    } else {
        char hex[HEX_LEN + 1];
        int e = isolate__sha256_file(file, hex);
        snprintf(out, outsz, "%s/%s", cache, hex);
        rc = e != 0 ? RK_EIO : publish(tmp, out, err, errsz);
    }
    if (rc != 0)
        return rc;
    /* Remember the file: next time no extraction is needed to find it. */
    char key[128], link[PATH_MAX], linktmp[PATH_MAX];
    file_key(st, key, sizeof key);
    fmt_path(link, sizeof link, "%s/by-file", cache);
    mkdir(link, 0755);
    fmt_path(link, sizeof link, "%s/by-file/%s", cache, key);
    fmt_path(linktmp, sizeof linktmp, "%s.%d", link, (int)getpid());
    const char *target = strrchr(out, '/');
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "..%s", target);
    if (symlink(rel, linktmp) == 0 && rename(linktmp, link) != 0)
        unlink(linktmp);
    return 0;
}

/* Where an archive's unpacked copy is, if it was unpacked before. */
static bool archive_cached(const char *cache, const struct stat *st, char *out, size_t outsz)
{
    char key[128], link[PATH_MAX], target[PATH_MAX];
    file_key(st, key, sizeof key);
    fmt_path(link, sizeof link, "%s/by-file/%s", cache, key);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 3)
        return false;
    target[n] = '\0';
    snprintf(out, outsz, "%s/%s", cache, target + 3); /* after "../" */
    return is_dir(out);
}

typedef enum kind { K_NONE, K_DIR, K_LAYOUT, K_ARCHIVE } kind_t;

static kind_t kind_of(const char *path, struct stat *st)
{
    if (stat(path, st) != 0)
        return K_NONE;
    if (S_ISREG(st->st_mode))
        return K_ARCHIVE;
    if (!S_ISDIR(st->st_mode))
        return K_NONE;
    char probe[PATH_MAX + 16];
    snprintf(probe, sizeof probe, "%s/oci-layout", path);
    return access(probe, F_OK) == 0 ? K_LAYOUT : K_DIR;
}

/* What the child sends back: a code byte, then the root or the error. */
static int run_child(const char *name, const char *path, kind_t k, const struct stat *st,
                     const char *cache, char *rootfs, size_t rootfssz, char *err, size_t errsz)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        return RK_EIO;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return RK_EIO;
    }
    if (pid == 0) {
        close(pfd[0]);
        char msg[PATH_MAX + 1024], text[PATH_MAX + 512] = "";
        int rc = k == K_LAYOUT
                     ? oci_unpack(name, path, cache, text, sizeof text, text, sizeof text)
                     : archive_unpack(name, path, st, cache, text, sizeof text, text, sizeof text);
        int len = snprintf(msg, sizeof msg, "%c%s",
                           rc == 0           ? 'O'
                           : rc == RK_EPROTO ? 'P'
                                             : 'E',
                           text);
        ssize_t w = write(pfd[1], msg, (size_t)len);
        _exit(w == len ? 0 : 1);
    }
    close(pfd[1]);
    char msg[PATH_MAX + 1024];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof msg && (r = read(pfd[0], msg + n, sizeof msg - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    msg[n] = '\0';
    close(pfd[0]);
    int st_;
    while (waitpid(pid, &st_, 0) < 0 && errno == EINTR)
        ;
    if (n == 0) {
        snprintf(err, errsz, "image '%s': the unpacking process died", name);
        return RK_EIO;
    }
    if (msg[0] == 'O') {
        snprintf(rootfs, rootfssz, "%s", msg + 1);
        return 0;
    }
    snprintf(err, errsz, "%s", msg + 1);
    return msg[0] == 'P' ? RK_EPROTO : RK_EIO;
}

int rk_image_prepare(const char *images_dir, const char *cache_dir, const char *name, char *rootfs,
                     size_t rootfssz, char *err, size_t errsz)
{
    if (!rk_image_name_valid(name)) {
        snprintf(err, errsz, "rootfs: '%s' is not a valid image name", name ? name : "");
        return RK_EINVAL;
    }
    char path[PATH_MAX], cache[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", images_dir, name);
    struct stat st;
    kind_t k = kind_of(path, &st);
    if (k == K_NONE) {
        snprintf(err, errsz, "rootfs: no image '%s' in %s", name, images_dir);
        return RK_ENOENT;
    }
    if (k == K_DIR) {
        snprintf(rootfs, rootfssz, "%s", path);
        return 0;
    }
    if (mkdir(cache_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "cannot make the image cache %s: %s", cache_dir, strerror(errno));
        return RK_EIO;
    }
    errno = 0;
    if (!realpath(cache_dir, cache) || strlen(cache) > PATH_MAX - CACHE_PATH_ROOM) {
        snprintf(err, errsz, "image cache %s: %s", cache_dir,
                 errno ? strerror(errno) : "path too long");
        return RK_EIO;
    }
    /* Already unpacked: found without a child. */
    char digest[RK_IMAGE_DIGEST_MAX];
    if (k == K_LAYOUT && layout_manifest(path, digest, err, errsz) == 0) {
        snprintf(rootfs, rootfssz, "%s/%s", cache, digest_hex(digest));
        if (is_dir(rootfs)) {
            touch(rootfs);
            return 0;
        }
    }
    if (k == K_ARCHIVE && archive_cached(cache, &st, rootfs, rootfssz)) {
        touch(rootfs);
        return 0;
    }
    /* The child changes directory as it unpacks: it gets absolute paths. */
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        snprintf(err, errsz, "image '%s': %s", name, strerror(errno));
        return RK_EIO;
    }
    return run_child(name, abs, k, &st, cache, rootfs, rootfssz, err, errsz);
}

/* Bytes of the regular files under dirfd/name (not following links). */
static uint64_t tree_size(int dirfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    int fd = depth < 64 ? openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    uint64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            sum += tree_size(fd, de->d_name, depth + 1);
    closedir(d);
    return sum;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const rk_image_info_t *)a)->name, ((const rk_image_info_t *)b)->name);
}

int rk_image_list(const char *images_dir, const char *cache_dir, rk_image_info_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(images_dir);
    if (!d)
        return errno == ENOENT ? 0 : RK_EIO;
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!rk_image_name_valid(de->d_name))
            continue;
        char path[PATH_MAX], cache[PATH_MAX], err[256];
        snprintf(path, sizeof path, "%s/%s", images_dir, de->d_name);
        struct stat st;
        kind_t k = kind_of(path, &st);
        if (k == K_NONE)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            rk_image_info_t *grown = realloc(*out, cap * sizeof **out);
            if (!grown) {
                rc = RK_ENOMEM;
                break;
            }
            *out = grown;
        }
        rk_image_info_t *im = &(*out)[(*n)++];
        memset(im, 0, sizeof *im);
        fmt_path(im->name, sizeof im->name, "%s", de->d_name);
        snprintf(im->kind, sizeof im->kind, "%s",
                 k == K_DIR      ? "directory"
                 : k == K_LAYOUT ? "oci-layout"
                                 : "archive");
        im->size_bytes = tree_size(AT_FDCWD, path, 0);
        if (k == K_LAYOUT)
            (void)layout_manifest(path, im->digest, err, sizeof err);
        if (k == K_ARCHIVE && cache_dir && realpath(cache_dir, cache) &&
            archive_cached(cache, &st, path, sizeof path))
            snprintf(im->digest, sizeof im->digest, "sha256:%s", strrchr(path, '/') + 1);
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, by_name);
    return rc;
}

int rk_image_cache_sweep(const char *cache_dir, unsigned max_age_days, size_t *removed)
{
    *removed = 0;
    int dfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : RK_EIO;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return RK_EIO;
    }
    time_t oldest = time(NULL) - (time_t)max_age_days * 86400;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.' && strncmp(de->d_name, ".tmp-", 5) != 0)
            continue;
        if (strcmp(de->d_name, "by-file") == 0 ||
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        bool stale = strncmp(de->d_name, ".tmp-", 5) == 0 ? st.st_mtime < time(NULL) - 3600
                                                          : st.st_mtime < oldest;
        if (!stale)
            continue;
        if (isolate__remove_at(dfd, de->d_name) == 0)
            (*removed)++;
        else
            rc = RK_EIO;
    }
    closedir(d);
    /* Links whose copy went. */
    char links[PATH_MAX];
    snprintf(links, sizeof links, "%s/by-file", cache_dir);
    int lfd = open(links, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *ld = lfd >= 0 ? fdopendir(lfd) : NULL;
    while (ld && (de = readdir(ld))) {
        struct stat st;
        if (de->d_name[0] != '.' && fstatat(lfd, de->d_name, &st, 0) != 0 && errno == ENOENT &&
            unlinkat(lfd, de->d_name, 0) == 0)
            (*removed)++;
    }
    if (ld)
        closedir(ld);
    else if (lfd >= 0)
        close(lfd);
    return rc;
}
