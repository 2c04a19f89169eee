/* Unpacking archives and image layers with libarchive (internal.h).
 *
 * libarchive (and what it pulls in) is loaded with dlopen, only in the
 * short-lived child that unpacks, like lib/agent/artifacts.c does for
 * zips: the agent's own address space never maps it. The child chdirs into
 * the destination and extracts relative names with libarchive's secure
 * flags (no "..", no absolute paths, no writing through symlinks).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "isolate/internal.h"

/* Bytes asked of libarchive per read. */
#define READ_BLOCK 65536
/* How deep a removal may recurse: deeper trees are not plausible images. */
#define REMOVE_DEPTH_MAX 256

/* The libarchive calls used, resolved in the child. */
typedef struct arch {
    __typeof__(&archive_read_new) read_new;
    __typeof__(&archive_read_support_filter_all) filter_all;
    __typeof__(&archive_read_support_format_all) format_all;
    __typeof__(&archive_read_open_filename) open_filename;
    __typeof__(&archive_read_next_header) next_header;
    __typeof__(&archive_read_data_block) data_block;
    __typeof__(&archive_read_free) read_free;
    __typeof__(&archive_write_disk_new) disk_new;
    __typeof__(&archive_write_disk_set_options) disk_options;
    __typeof__(&archive_write_header) write_header;
    __typeof__(&archive_write_data_block) write_block;
    __typeof__(&archive_write_finish_entry) finish_entry;
    __typeof__(&archive_write_free) write_free;
    __typeof__(&archive_error_string) error_string;
    __typeof__(&archive_entry_pathname) pathname;
    __typeof__(&archive_entry_set_pathname) set_pathname;
    __typeof__(&archive_entry_hardlink) hardlink;
    __typeof__(&archive_entry_set_hardlink) set_hardlink;
    __typeof__(&archive_entry_filetype) filetype;
} arch_t;

static bool arch_load(arch_t *api, char *err, size_t errsz)
{
    static const char *const names[] = {"archive_read_new",
                                        "archive_read_support_filter_all",
                                        "archive_read_support_format_all",
                                        "archive_read_open_filename",
                                        "archive_read_next_header",
                                        "archive_read_data_block",
                                        "archive_read_free",
                                        "archive_write_disk_new",
                                        "archive_write_disk_set_options",
                                        "archive_write_header",
                                        "archive_write_data_block",
                                        "archive_write_finish_entry",
                                        "archive_write_free",
                                        "archive_error_string",
                                        "archive_entry_pathname",
                                        "archive_entry_set_pathname",
                                        "archive_entry_hardlink",
                                        "archive_entry_set_hardlink",
                                        "archive_entry_filetype"};
    _Static_assert(sizeof(names) / sizeof(names[0]) * sizeof(void (*)(void)) == sizeof(arch_t),
                   "one name per libarchive call");
    void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errsz, "cannot load libarchive: %s", dlerror());
        return false;
    }
    void (**slot)(void) = (void (**)(void))api;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *f = dlsym(h, names[i]);
        if (!f) {
            snprintf(err, errsz, "libarchive lacks %s", names[i]);
            return false;
        }
        memcpy(&slot[i], &f, sizeof f);
    }
    return true;
}

static int remove_tree(int dirfd, const char *name, int depth)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) == 0 ? 0 : -errno;
    if (depth > REMOVE_DEPTH_MAX)
        return -ELOOP;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = remove_tree(fd, de->d_name, depth + 1);
    closedir(d);
    if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) != 0)
        rc = -errno;
    return rc;
}

int isolate__remove_at(int dirfd, const char *name)
{
    return remove_tree(dirfd, name, 0);
}

/* A layer's entry name made relative ("./a/b" and "/a/b" become "a/b");
 * NULL for the root itself or a name with a ".." component. */
static const char *rel_name(const char *p, char *buf, size_t sz)
{
    while (*p == '/' || (p[0] == '.' && p[1] == '/'))
        p += *p == '/' ? 1 : 2;
    if (!*p || strcmp(p, ".") == 0 || strlen(p) >= sz)
        return NULL;
    snprintf(buf, sz, "%s", p);
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == '/')
        buf[--n] = '\0';
    for (const char *c = buf; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return NULL;
        c += len;
        while (*c == '/')
            c++;
    }
    return buf;
}

/* Opens the directory rel (relative to the current directory) without
 * following any symlink on the way; -1 when it is not there. */
static int open_dir_nofollow(const char *rel)
{
    int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", rel);
    for (char *sv, *t = strtok_r(copy, "/", &sv); t && fd >= 0; t = strtok_r(NULL, "/", &sv)) {
        int next = openat(fd, t, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
    return fd;
}

/* Applies one whiteout entry: ".wh.NAME" removes NAME from the layers
 * below, ".wh..wh..opq" empties its directory. */
static int whiteout(const char *rel)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", rel);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    char name[256];
    snprintf(name, sizeof name, "%s", base + 4); /* after ".wh." */
    int fd = open_dir_nofollow(dir);
    if (fd < 0)
        return 0; /* nothing below to hide */
    int rc = 0;
    if (strcmp(name, ".wh..opq") == 0) {
        DIR *d = fdopendir(dup(fd));
        struct dirent *de;
        while (d && rc == 0 && (de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                rc = remove_tree(fd, de->d_name, 0);
        if (d)
            closedir(d);
    } else if (*name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
        rc = remove_tree(fd, name, 0);
    }
    close(fd);
    return rc;
}

static bool is_whiteout(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    return strncmp(slash ? slash + 1 : rel, ".wh.", 4) == 0;
}

/* One pass over the archive: whiteouts only (apply_whiteouts) or every
 * other entry extracted (extract). Runs in the destination directory. */
static int pass(const arch_t *api, const char *tar, bool whiteouts, bool layer, char *err,
                size_t errsz)
{
    struct archive *ar = api->read_new();
    struct archive *disk = whiteouts ? NULL : api->disk_new();
    int rc = -1;
    if (!ar || (!whiteouts && !disk)) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    api->filter_all(ar);
    api->format_all(ar);
    if (disk) {
        int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
                    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS;
        if (geteuid() == 0)
            flags |= ARCHIVE_EXTRACT_OWNER;
        api->disk_options(disk, flags);
    }
    if (api->open_filename(ar, tar, READ_BLOCK) != ARCHIVE_OK) {
        snprintf(err, errsz, "cannot read %s: %s", tar, api->error_string(ar));
        goto out;
    }
    struct archive_entry *e;
    int r;
    char name[4096], link[4096];
    while ((r = api->next_header(ar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *raw = api->pathname(e);
        const char *rel = raw ? rel_name(raw, name, sizeof name) : NULL;
        if (!rel) {
            if (raw && strstr(raw, "..")) {
                snprintf(err, errsz, "%s: entry '%s' leads outside the root", tar, raw);
                goto out;
            }
            continue;
        }
        bool wh = layer && is_whiteout(rel);
        if (whiteouts) {
            if (wh && whiteout(rel) != 0) {
                snprintf(err, errsz, "%s: cannot apply whiteout '%s'", tar, rel);
                goto out;
            }
            continue;
        }
        unsigned type = api->filetype(e);
        if (wh || type == AE_IFCHR || type == AE_IFBLK)
            continue; /* device nodes come from the sandbox's own /dev */
        api->set_pathname(e, rel);
        const char *hl = api->hardlink(e);
        if (hl && rel_name(hl, link, sizeof link))
            api->set_hardlink(e, link);
        if (api->write_header(disk, e) != ARCHIVE_OK) {
            snprintf(err, errsz, "%s: cannot extract '%s': %s", tar, rel, api->error_string(disk));
            goto out;
        }
        const void *buf;
        size_t size;
        la_int64_t off;
        int d;
        while ((d = api->data_block(ar, &buf, &size, &off)) == ARCHIVE_OK)
            if (api->write_block(disk, buf, size, off) != ARCHIVE_OK)
                break;
        if (d != ARCHIVE_EOF || api->finish_entry(disk) != ARCHIVE_OK) {
            snprintf(err, errsz, "%s: cannot extract '%s': %s", tar, rel,
                     api->error_string(d != ARCHIVE_EOF ? ar : disk));
            goto out;
        }
    }
    if (r != ARCHIVE_EOF) {
        snprintf(err, errsz, "%s: not a readable archive: %s", tar, api->error_string(ar));
        goto out;
    }
    rc = 0;
out:
    if (disk)
        api->write_free(disk);
    if (ar)
        api->read_free(ar);
    return rc;
}

/* Runs both passes (or one) in dir; the caller is a child, so chdir is
 * safe there. */
static int unpack(const char *tar, const char *dir, bool layer, char *err, size_t errsz)
{
    arch_t api;
    if (!arch_load(&api, err, errsz))
        return -1;
    char abs[4096];
    if (!realpath(tar, abs)) {
        snprintf(err, errsz, "cannot find %s: %s", tar, strerror(errno));
        return -1;
    }
    if (chdir(dir) != 0) {
        snprintf(err, errsz, "cannot enter %s: %s", dir, strerror(errno));
        return -1;
    }
    /* Whiteouts hide what the layers below hold, so they go before the
     * layer's own entries (a directory made opaque keeps this layer's
     * files). */
    if (layer && pass(&api, abs, true, true, err, errsz) != 0)
        return -1;
    return pass(&api, abs, false, layer, err, errsz);
}

int isolate__layer_apply(const char *tar, const char *dir, char *err, size_t errsz)
{
    return unpack(tar, dir, true, err, errsz);
}

int isolate__archive_extract(const char *tar, const char *dir, char *err, size_t errsz)
{
    return unpack(tar, dir, false, err, errsz);
}
