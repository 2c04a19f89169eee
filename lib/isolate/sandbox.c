/* bwrap command lines for jobs (sandbox.h). */
#include "isolate/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"

/* Top-level names of the root that the sandbox provides itself. */
static const char *const own_entries[] = {"proc", "dev", "tmp", "job", NULL};

typedef struct vec {
    char **v;
    size_t n, cap;
    bool oom;
} vec_t;

static void push(vec_t *a, const char *s)
{
    if (a->oom)
        return;
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->oom = true;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n] = strdup(s);
    if (!a->v[a->n]) {
        a->oom = true;
        return;
    }
    a->v[++a->n] = NULL;
}

static void push3(vec_t *a, const char *opt, const char *x, const char *y)
{
    push(a, opt);
    push(a, x);
    if (y)
        push(a, y);
}

void rk_sandbox_argv_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* Whether an absolute path has no "." or ".." component. */
static bool clean_abs(const char *p)
{
    if (!p || p[0] != '/' || strlen(p) >= PATH_MAX)
        return false;
    for (const char *c = p; *c;) {
        while (*c == '/')
            c++;
        size_t len = strcspn(c, "/");
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += len;
    }
    return true;
}

/* Whether resolved path p lies in (or is) one of the allowed directories. */
static bool allowed(const char *p, const char *const *allow)
{
    for (size_t i = 0; allow && allow[i]; i++) {
        char dir[PATH_MAX];
        if (!realpath(allow[i], dir))
            continue;
        size_t n = strlen(dir);
        if (strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/' || n == 1))
            return true;
    }
    return false;
}

/* Read-only binds of root's top-level entries, symlinks recreated. */
static int bind_root(vec_t *a, const char *root)
{
    DIR *d = opendir(root);
    if (!d)
        return errno == ENOENT ? RK_ENOENT : RK_EIO;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        bool skip = strcmp(n, ".") == 0 || strcmp(n, "..") == 0;
        for (size_t i = 0; own_entries[i] && !skip; i++)
            skip = strcmp(n, own_entries[i]) == 0;
        if (skip)
            continue;
        char src[PATH_MAX], dst[PATH_MAX], link[PATH_MAX];
        snprintf(src, sizeof src, "%s%s%s", root, strcmp(root, "/") == 0 ? "" : "/", n);
        snprintf(dst, sizeof dst, "/%s", n);
        struct stat st;
        if (lstat(src, &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            ssize_t len = readlink(src, link, sizeof link - 1);
            if (len < 0)
                continue;
            link[len] = '\0';
            push3(a, "--symlink", link, dst);
        } else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
            push3(a, "--ro-bind", src, dst);
        }
    }
    closedir(d);
    return 0;
}

int rk_sandbox_argv(const rk_sandbox_spec_t *spec, char ***out, char *err, size_t errsz)
{
    *out = NULL;
    struct stat st;
    if (!spec->job_dir || stat(spec->job_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "job folder '%s' is not a directory",
                 spec->job_dir ? spec->job_dir : "");
        return RK_ENOENT;
    }
    if (spec->rootfs && (stat(spec->rootfs, &st) != 0 || !S_ISDIR(st.st_mode))) {
        snprintf(err, errsz, "rootfs '%s' is not a directory", spec->rootfs);
        return RK_ENOENT;
    }
    if (!spec->argv || !spec->argv[0]) {
        snprintf(err, errsz, "no command to run");
        return RK_EINVAL;
    }
    if (spec->nbinds > RK_SANDBOX_MAX_BINDS) {
        snprintf(err, errsz, "binds: more than %d", RK_SANDBOX_MAX_BINDS);
        return RK_EINVAL;
    }
    for (size_t i = 0; spec->hide && spec->hide[i]; i++) {
        if (!clean_abs(spec->hide[i]) || strcmp(spec->hide[i], "/") == 0) {
            snprintf(err, errsz, "hide[%zu] '%s' must be an absolute path without '..', not /", i,
                     spec->hide[i]);
            return RK_EINVAL;
        }
    }
    if (spec->workdir && !clean_abs(spec->workdir)) {
        snprintf(err, errsz, "workdir '%s' must be an absolute path without '..'", spec->workdir);
        return RK_EINVAL;
    }
    /* Binds are checked before anything is built: the resolved source (no
     * symlink may lead out) must be inside an allowed directory. */
    char(*resolved)[PATH_MAX] = calloc(spec->nbinds + 1, PATH_MAX);
    if (!resolved)
        return RK_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < spec->nbinds && rc == 0; i++) {
        const rk_sandbox_bind_t *b = &spec->binds[i];
        if (!b->source || !realpath(b->source, resolved[i])) {
            snprintf(err, errsz, "binds[%zu].source '%s' does not exist", i,
                     b->source ? b->source : "");
            rc = RK_EINVAL;
        } else if (!allowed(resolved[i], spec->allow_binds)) {
            snprintf(err, errsz,
                     "binds[%zu].source '%s' is outside the allowed directories (--allow-bind)", i,
                     b->source);
            rc = RK_EINVAL;
        } else if (!clean_abs(b->target) || strcmp(b->target, "/") == 0) {
            snprintf(err, errsz, "binds[%zu].target '%s' must be an absolute path without '..'", i,
                     b->target ? b->target : "");
            rc = RK_EINVAL;
        }
    }
    vec_t a = {0};
    push(&a, spec->bwrap ? spec->bwrap : "bwrap");
    if (rc == 0) {
        rc = bind_root(&a, spec->rootfs ? spec->rootfs : "/");
        if (rc != 0)
            snprintf(err, errsz, "cannot list the root '%s'", spec->rootfs ? spec->rootfs : "/");
    }
    if (rc == 0) {
        push3(&a, "--dev", "/dev", NULL);
        push3(&a, "--proc", "/proc", NULL);
        push3(&a, "--tmpfs", "/tmp", NULL);
        /* Hidden before the job's binds, which may lie inside them. A path
         * missing from the root (an image) needs no hiding. */
        for (size_t i = 0; spec->hide && spec->hide[i]; i++) {
            char inside[PATH_MAX];
            struct stat hs;
            snprintf(inside, sizeof inside, "%s%s", spec->rootfs ? spec->rootfs : "",
                     spec->hide[i]);
            if (stat(inside, &hs) == 0 && S_ISDIR(hs.st_mode))
                push3(&a, "--tmpfs", spec->hide[i], NULL);
        }
        push3(&a, "--bind", spec->job_dir, RK_SANDBOX_JOB_DIR);
        for (size_t i = 0; i < spec->nbinds; i++)
            push3(&a, spec->binds[i].writable ? "--bind" : "--ro-bind", resolved[i],
                  spec->binds[i].target);
        /* The tmpfs under the binds stays read-only: nothing new at /. */
        push3(&a, "--remount-ro", "/", NULL);
        push3(&a, "--chdir", spec->workdir ? spec->workdir : RK_SANDBOX_JOB_DIR, NULL);
        push(&a, "--unshare-pid");
        push(&a, "--unshare-ipc");
        push(&a, "--unshare-uts");
        if (!spec->network)
            push(&a, "--unshare-net");
        if (spec->user_ns)
            push(&a, "--unshare-user");
        push(&a, "--die-with-parent");
        /* A new session: the job cannot push input into the agent's tty. */
        push(&a, "--new-session");
        push(&a, "--");
        for (size_t i = 0; spec->argv[i]; i++)
            push(&a, spec->argv[i]);
        if (a.oom)
            rc = RK_ENOMEM;
    }
    free(resolved);
    if (rc != 0) {
        rk_sandbox_argv_free(a.v);
        return rc;
    }
    *out = a.v;
    return 0;
}

int rk_sandbox_template_argv(const char *bwrap, const char *const *hide, int info_fd,
                             const char *const *holder, char ***out, char *err, size_t errsz)
{
    *out = NULL;
    for (size_t i = 0; hide && hide[i]; i++) {
        if (!clean_abs(hide[i]) || strcmp(hide[i], "/") == 0) {
            snprintf(err, errsz, "hide[%zu] '%s' must be an absolute path without '..', not /", i,
                     hide[i]);
            return RK_EINVAL;
        }
    }
    if (!holder || !holder[0]) {
        snprintf(err, errsz, "no command to run");
        return RK_EINVAL;
    }
    vec_t a = {0};
    push(&a, bwrap ? bwrap : "bwrap");
    int rc = bind_root(&a, "/");
    if (rc != 0) {
        snprintf(err, errsz, "cannot list the root '/'");
        rk_sandbox_argv_free(a.v);
        return rc;
    }
    push3(&a, "--dev", "/dev", NULL);
    push3(&a, "--remount-ro", "/dev", NULL);
    push3(&a, "--dir", "/proc", NULL);
    push3(&a, "--dir", "/tmp", NULL);
    push3(&a, "--dir", RK_SANDBOX_JOB_DIR, NULL);
    for (size_t i = 0; hide && hide[i]; i++) {
        struct stat hs;
        if (stat(hide[i], &hs) == 0 && S_ISDIR(hs.st_mode)) {
            push3(&a, "--tmpfs", hide[i], NULL);
            push3(&a, "--remount-ro", hide[i], NULL);
        }
    }
    push3(&a, "--remount-ro", "/", NULL);
    push(&a, "--unshare-net");
    push(&a, "--die-with-parent");
    char fd[16];
    snprintf(fd, sizeof fd, "%d", info_fd);
    push3(&a, "--info-fd", fd, NULL);
    push(&a, "--");
    for (size_t i = 0; holder[i]; i++)
        push(&a, holder[i]);
    if (a.oom) {
        rk_sandbox_argv_free(a.v);
        return RK_ENOMEM;
    }
    *out = a.v;
    return 0;
}

int rk_sandbox_probe(const char *bwrap, char *why, size_t whysz)
{
    char dir[] = "/tmp/rk-sandbox-probe-XXXXXX";
    if (!mkdtemp(dir)) {
        snprintf(why, whysz, "cannot make a probe folder: %s", strerror(errno));
        return RK_EUNSUP;
    }
    static const char *const cmd[] = {"/bin/true", NULL};
    rk_sandbox_spec_t spec = {.bwrap = bwrap, .job_dir = dir, .argv = cmd};
    char **argv = NULL;
    int rc = rk_sandbox_argv(&spec, &argv, why, whysz);
    int pfd[2] = {-1, -1};
    if (rc == 0 && pipe2(pfd, O_CLOEXEC) != 0)
        rc = RK_EIO;
    pid_t pid = rc == 0 ? fork() : -1;
    if (pid == 0) {
        dup2(pfd[1], 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot execute %s: %s", argv[0], strerror(errno));
        _exit(127);
    }
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (rc == 0 && pid < 0)
        rc = RK_EIO;
    if (rc == 0) {
        char buf[512];
        ssize_t n = read(pfd[0], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            snprintf(why, whysz, "bwrap does not work here: %s", n > 0 ? buf : "it failed");
            rc = RK_EUNSUP;
        }
    } else if (rc != RK_EUNSUP) {
        rc = RK_EUNSUP;
    }
    if (pfd[0] >= 0)
        close(pfd[0]);
    rk_sandbox_argv_free(argv);
    rmdir(dir);
    return rc;
}
