/* A job's logs (by offset, so a client can follow) and its output folder as
 * a zip (libarchive), plus the artifact list of a result.
 *
 * The zip is written by a helper process (helper.c) that loads libarchive
 * with dlopen: libarchive and what it pulls in (libxml2, ICU, libstdc++,
 * about 2 MiB resident) are never mapped in the agent itself, which keeps
 * the idle agent small (docs/benchmarks.md, "Agent").
 *
 * No name from a client reaches the file system: the job folder comes from
 * the job index, the stream is one of two fixed names, and the walk below
 * output/ follows no symlink, so nothing outside the job folder is read.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"

/* Bytes of log text one answer carries. */
#define LOG_CHUNK (1u << 20)
/* Input bytes put in one artifacts zip; files past it are left out. */
#define ARTIFACTS_CAP ((uint64_t)256 << 20)
/* Folder depth walked below output/. */
#define WALK_DEPTH 32

void agent__serve_logs(const char *dir, bool finished, rk_http_req_t *req, rk_http_resp_t *resp)
{
    const char *stream = rk_http_req_query(req, "stream");
    const char *off_s = rk_http_req_query(req, "offset");
    if (!stream)
        stream = "stdout";
    if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0) {
        rk_http_resp_error(resp, 422, "stream: expected stdout or stderr");
        return;
    }
    uint64_t off = 0;
    if (off_s) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(off_s, &end, 10);
        if (!*off_s || *end || errno || off_s[0] == '-') {
            rk_http_resp_error(resp, 422,
                               "offset: expected a byte offset (a non-negative integer)");
            return;
        }
        off = v;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.log", dir, stream);
    char *buf = NULL;
    uint64_t size = 0;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        size = (uint64_t)st.st_size;
        if (off < size) {
            size_t want = size - off > LOG_CHUNK ? LOG_CHUNK : (size_t)(size - off);
            buf = malloc(want + 1);
            ssize_t k = buf ? pread(fd, buf, want, (off_t)off) : -1;
            n = k > 0 ? (size_t)k : 0;
        }
    }
    if (fd >= 0)
        close(fd);
    char next[32], total[32];
    snprintf(next, sizeof next, "%llu", (unsigned long long)(off + n));
    snprintf(total, sizeof total, "%llu", (unsigned long long)size);
    rk_http_resp_bytes(resp, 200, "text/plain; charset=utf-8", buf ? buf : "", n);
    rk_http_resp_header(resp, "X-Ruckus-Next-Offset", next);
    rk_http_resp_header(resp, "X-Ruckus-Log-Size", total);
    rk_http_resp_header(resp, "X-Ruckus-Job-Finished", finished ? "true" : "false");
    free(buf);
}

/* The libarchive calls used, resolved in the child. */
typedef struct arch {
    __typeof__(&archive_write_new) write_new;
    __typeof__(&archive_write_set_format_zip) set_format_zip;
    __typeof__(&archive_write_open_fd) open_fd;
    __typeof__(&archive_write_header) write_header;
    __typeof__(&archive_write_data) write_data;
    __typeof__(&archive_write_close) close;
    __typeof__(&archive_write_free) free;
    __typeof__(&archive_entry_new) entry_new;
    __typeof__(&archive_entry_free) entry_free;
    __typeof__(&archive_entry_set_pathname) set_pathname;
    __typeof__(&archive_entry_set_size) set_size;
    __typeof__(&archive_entry_set_filetype) set_filetype;
    __typeof__(&archive_entry_set_perm) set_perm;
    __typeof__(&archive_entry_set_mtime) set_mtime;
} arch_t;

/* Loads libarchive and fills api; false (with the reason on stderr) when
 * it is missing. Helper process only. */
static bool arch_load(arch_t *api)
{
    static const char *const names[] = {"archive_write_new",      "archive_write_set_format_zip",
                                        "archive_write_open_fd",  "archive_write_header",
                                        "archive_write_data",     "archive_write_close",
                                        "archive_write_free",     "archive_entry_new",
                                        "archive_entry_free",     "archive_entry_set_pathname",
                                        "archive_entry_set_size", "archive_entry_set_filetype",
                                        "archive_entry_set_perm", "archive_entry_set_mtime"};
    _Static_assert(sizeof(names) / sizeof(names[0]) * sizeof(void (*)(void)) == sizeof(arch_t),
                   "one name per libarchive call");
    void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "ruckus-agent: cannot load libarchive: %s\n", dlerror());
        return false;
    }
    void (**slot)(void) = (void (**)(void))api;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *f = dlsym(h, names[i]);
        if (!f)
            return false;
        memcpy(&slot[i], &f, sizeof f);
    }
    return true;
}

typedef struct walk {
    const arch_t *api;
    struct archive *ar; /* NULL: only list */
    json_t *names;      /* when listing */
    size_t max;
    uint64_t bytes;
    size_t skipped;
    int err;
} walk_t;

static int add_file(walk_t *w, const char *full, const char *rel, const struct stat *st)
{
    if (!w->ar)
        return json_array_append_new(w->names, json_string(rel)) ? RK_ENOMEM : RK_OK;
    if (w->bytes + (uint64_t)st->st_size > ARTIFACTS_CAP) {
        w->skipped++;
        return RK_OK;
    }
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return RK_OK; /* vanished: the job may still be writing */
    struct archive_entry *e = w->api->entry_new();
    int rc = RK_EIO;
    if (!e)
        goto out;
    w->api->set_pathname(e, rel);
    w->api->set_size(e, st->st_size);
    w->api->set_filetype(e, AE_IFREG);
    w->api->set_perm(e, st->st_mode & 0777);
    w->api->set_mtime(e, st->st_mtime, 0);
    if (w->api->write_header(w->ar, e) != ARCHIVE_OK)
        goto out;
    char buf[65536];
    ssize_t k;
    int64_t left = st->st_size; /* a growing file is cut at its stat size */
    while (left > 0 && (k = read(fd, buf, sizeof buf)) > 0) {
        if (k > left)
            k = (ssize_t)left;
        if (w->api->write_data(w->ar, buf, (size_t)k) < 0)
            goto out;
        left -= k;
    }
    w->bytes += (uint64_t)st->st_size;
    rc = RK_OK;
out:
    if (e)
        w->api->entry_free(e);
    close(fd);
    return rc;
}

static void walk_dir(walk_t *w, const char *full, const char *rel, int depth)
{
    DIR *d = depth < WALK_DEPTH ? opendir(full) : NULL;
    if (!d)
        return;
    struct dirent *de;
    while (!w->err && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (!w->ar && json_array_size(w->names) >= w->max)
            break;
        char f[4200], r[4200];
        snprintf(f, sizeof f, "%s/%s", full, de->d_name);
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        struct stat st;
        if (lstat(f, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            walk_dir(w, f, r, depth + 1);
        else if (S_ISREG(st.st_mode))
            w->err = add_file(w, f, r, &st);
    }
    closedir(d);
}

json_t *agent__list_output(const char *job_dir, size_t max)
{
    char out[4200];
    snprintf(out, sizeof out, "%s/output", job_dir);
    walk_t w = {.names = json_array(), .max = max};
    if (!w.names)
        return NULL;
    walk_dir(&w, out, "", 0);
    if (w.err) {
        json_decref(w.names);
        return NULL;
    }
    return w.names;
}

typedef struct zip_ctx {
    int fd;
} zip_ctx_t;

static ssize_t zip_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    zip_ctx_t *z = ctx;
    ssize_t k = pread(z->fd, buf, max, (off_t)pos);
    if (k < 0)
        return RK_HTTP_READ_ERROR;
    return k == 0 ? RK_HTTP_READ_END : k;
}

static void zip_free(void *ctx)
{
    zip_ctx_t *z = ctx;
    close(z->fd);
    free(z);
}

int agent__zip_helper(const char *out_dir, int fd, int report_fd)
{
    arch_t api;
    if (!arch_load(&api))
        return 1;
    walk_t w = {.api = &api, .ar = api.write_new()};
    bool ok = w.ar && api.set_format_zip(w.ar) == ARCHIVE_OK && api.open_fd(w.ar, fd) == ARCHIVE_OK;
    if (ok) {
        walk_dir(&w, out_dir, "", 0);
        ok = !w.err && api.close(w.ar) == ARCHIVE_OK;
    }
    if (w.ar)
        api.free(w.ar);
    char n[24];
    int len = snprintf(n, sizeof n, "%zu", w.skipped);
    return ok && write(report_fd, n, (size_t)len) == len ? 0 : 1;
}

/* Builds the zip into fd in a helper process; *skipped gets the files left
 * out. Blocks this HTTP worker until the helper is done. */
static int build_zip(const char *out_dir, int fd, size_t *skipped)
{
    const char *args[] = {"zip", out_dir, NULL};
    char report[24];
    if (agent__helper_run(args, NULL, 0, fd, report, sizeof report) != 0 || !report[0])
        return RK_EIO;
    *skipped = (size_t)strtoull(report, NULL, 10);
    return RK_OK;
}

void agent__serve_artifacts(const char *dir, rk_http_resp_t *resp)
{
    char tmp[4200], out[4200];
    snprintf(tmp, sizeof tmp, "%s/.artifacts-XXXXXX", dir);
    snprintf(out, sizeof out, "%s/output", dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rk_http_resp_error(resp, 503, "cannot build the zip: the job folder is not writable");
        return;
    }
    unlink(tmp); /* this answer's own file; gone once it is sent */
    size_t n_skipped = 0;
    zip_ctx_t *z = malloc(sizeof *z);
    if (!z || build_zip(out, fd, &n_skipped) != 0) {
        rk_log_warn("cannot build an artifacts zip", "path", dir);
        rk_http_resp_error(resp, 503, "cannot build the artifacts zip");
        close(fd);
        free(z);
        return;
    }
    char skipped[24];
    snprintf(skipped, sizeof skipped, "%zu", n_skipped);
    z->fd = fd;
    rk_http_resp_stream(resp, 200, "application/zip", zip_read, zip_free, z, NULL);
    rk_http_resp_header(resp, "X-Ruckus-Artifacts-Skipped", skipped);
}
