/* System test support: processes, HTTP over libcurl, temp folders. */
#include "rk_test.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"

long rk_test_scale(long full, long light)
{
    /* Under valgrind too (scripts/test.sh sets RK_UNDER_VALGRIND): it
     * checks memory, at 20-50 times the cost of each step. */
    const char *v = getenv("RK_TEST_LIGHT");
    return (v && *v && strcmp(v, "0") != 0) || getenv("RK_UNDER_VALGRIND") ? light : full;
}

double rk_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void rk_test_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

bool rk_test_wait_until(bool (*cond)(void *ud), void *ud, int timeout_ms)
{
    double end = rk_test_now_ms() + timeout_ms;
    for (;;) {
        if (cond(ud))
            return true;
        if (rk_test_now_ms() >= end)
            return false;
        rk_test_sleep_ms(5);
    }
}

/* ---- files ---- */

char *rk_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/rk-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        chmod(path, 0700); /* a test may have made it read-only */
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    return rc != 0 && errno != ENOENT ? -1 : 0;
}

/* Makes every folder writable first, so read-only folders made by a test
 * can be emptied. */
static int chmod_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_D && (st->st_mode & 0700) != 0700)
        chmod(path, 0700);
    return 0;
}

int rk_test_rmrf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? RK_OK : RK_EIO;
    nftw(path, chmod_one, 16, FTW_PHYS);
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? RK_OK : RK_EIO;
}

int rk_test_write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return RK_EIO;
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t k = write(fd, text + off, n - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(fd);
            return RK_EIO;
        }
        off += (size_t)k;
    }
    fchmod(fd, mode);
    return close(fd) == 0 ? RK_OK : RK_EIO;
}

char *rk_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (n < cap)
            break;
        char *nb = cap < RK_TEST_BODY_CAP ? realloc(buf, cap * 2 + 1) : NULL;
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = n;
    }
    return buf;
}

/* ---- processes ---- */

static int decode_status(int ws)
{
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws))
        return 128 + WTERMSIG(ws);
    return -1;
}

char *rk_test_proc_log(const rk_test_proc_t *p)
{
    char *s = p->log_path[0] ? rk_test_read_file(p->log_path, NULL) : NULL;
    return s ? s : strdup("");
}

size_t rk_test_proc_log_size(const rk_test_proc_t *p)
{
    struct stat st;
    return p->log_path[0] && stat(p->log_path, &st) == 0 ? (size_t)st.st_size : 0;
}

bool rk_test_proc_log_has(const rk_test_proc_t *p, const char *needle)
{
    char *s = rk_test_proc_log(p);
    bool has = s && strstr(s, needle) != NULL;
    free(s);
    return has;
}

int rk_test_proc_wait_exit(rk_test_proc_t *p, int timeout_ms, int *status)
{
    if (p->pid <= 0) {
        if (status)
            *status = p->status;
        return RK_OK;
    }
    double end = rk_test_now_ms() + timeout_ms;
    for (;;) {
        int ws;
        pid_t r = waitpid(p->pid, &ws, WNOHANG);
        if (r == p->pid) {
            p->status = decode_status(ws);
            p->pid = -1;
            if (status)
                *status = p->status;
            return RK_OK;
        }
        if (r < 0 && errno != EINTR)
            return RK_EIO;
        if (rk_test_now_ms() >= end)
            return RK_ETIMEDOUT;
        rk_test_sleep_ms(2);
    }
}

int rk_test_proc_kill9(rk_test_proc_t *p)
{
    if (p->pid <= 0)
        return RK_OK;
    kill(p->pid, SIGKILL);
    return rk_test_proc_wait_exit(p, 10000, NULL);
}

int rk_test_proc_stop(rk_test_proc_t *p, int sig, int timeout_ms, int *status)
{
    if (p->pid > 0)
        kill(p->pid, sig);
    int rc = rk_test_proc_wait_exit(p, timeout_ms, status);
    if (rc == RK_ETIMEDOUT) {
        rk_test_proc_kill9(p);
        if (status)
            *status = p->status;
    }
    return rc;
}

int rk_test_proc_wait_listening(rk_test_proc_t *p, size_t from, int timeout_ms)
{
    double end = rk_test_now_ms() + timeout_ms;
    for (;;) {
        char *log = rk_test_proc_log(p);
        size_t n = log ? strlen(log) : 0;
        const char *line = log && from < n ? log + from : "";
        const char *hit;
        while ((hit = strstr(line, " listening ")) != NULL) {
            const char *eol = strchr(hit, '\n');
            const char *port = strstr(hit, " port=");
            /* A standby's front (server=standby) is not the server yet. */
            const char *front = strstr(hit, " server=standby");
            if (front && (!eol || front < eol))
                port = NULL;
            if (port && (!eol || port < eol)) {
                long v = strtol(port + 6, NULL, 10);
                if (v > 0 && v < 65536) {
                    p->port = (uint16_t)v;
                    free(log);
                    return RK_OK;
                }
            }
            line = hit + 1;
        }
        free(log);
        if (p->pid > 0) {
            int ws;
            if (waitpid(p->pid, &ws, WNOHANG) == p->pid) {
                p->status = decode_status(ws);
                p->pid = -1;
                return RK_EIO;
            }
        } else {
            return RK_EIO;
        }
        if (rk_test_now_ms() >= end)
            return RK_ETIMEDOUT;
        rk_test_sleep_ms(5);
    }
}

int rk_test_proc_start(rk_test_proc_t *p, const char *prog, const char *const *args,
                       const rk_test_proc_opts_t *opts)
{
    rk_test_proc_opts_t none = {0};
    if (!opts)
        opts = &none;
    memset(p, 0, sizeof *p);
    p->pid = -1;
    if (opts->cwd) {
        snprintf(p->dir, sizeof p->dir, "%s", opts->cwd);
    } else {
        char *d = rk_test_tmpdir();
        if (!d)
            return RK_EIO;
        snprintf(p->dir, sizeof p->dir, "%s", d);
        free(d);
        p->own_dir = true;
    }
    char path[2 * PATH_MAX + 8];
    const char *bin = getenv("RK_BIN_DIR");
    char cwd[PATH_MAX] = ".";
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, ".");
    if (!bin || !*bin)
        bin = ".";
    /* Resolved now: the child runs in another folder. */
    if (strchr(prog, '/'))
        snprintf(path, sizeof path, "%s%s%s", prog[0] == '/' ? "" : cwd, prog[0] == '/' ? "" : "/",
                 prog);
    else
        snprintf(path, sizeof path, "%s%s%s/%s", bin[0] == '/' ? "" : cwd, bin[0] == '/' ? "" : "/",
                 bin, prog);

    size_t n = 0;
    while (args && args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof *argv);
    if (!argv)
        return RK_ENOMEM;
    argv[0] = path;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = args[i];

    int fd = -1;
    for (int i = 0; i < 1000 && fd < 0; i++) {
        snprintf(p->log_path, sizeof p->log_path, "%s/stderr-%d.log", p->dir, i);
        fd = open(p->log_path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        free(argv);
        return RK_EIO;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* A test that dies (a failed assertion skips its cleanup) takes its
         * programs with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        if (chdir(p->dir) != 0)
            _exit(126);
        dup2(null, 0);
        dup2(null, 1);
        dup2(fd, 2);
        for (size_t i = 0; opts->env && opts->env[i]; i++)
            putenv((char *)opts->env[i]);
        execv(path, (char *const *)argv);
        dprintf(2, "rk_test: cannot execute %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(fd);
    free(argv);
    if (pid < 0)
        return RK_EIO;
    p->pid = pid;
    if (opts->no_listen_wait)
        return RK_OK;
    int rc = rk_test_proc_wait_listening(p, 0,
                                         opts->listen_timeout_ms ? opts->listen_timeout_ms : 10000);
    if (rc == RK_ETIMEDOUT)
        rk_test_proc_kill9(p);
    return rc;
}

void rk_test_proc_cleanup(rk_test_proc_t *p)
{
    if (p->pid > 0)
        rk_test_proc_kill9(p);
    if (p->own_dir && p->dir[0])
        rk_test_rmrf(p->dir);
    p->own_dir = false;
    p->dir[0] = '\0';
}

/* ---- HTTP ---- */

typedef struct sink {
    char *data;
    size_t len, cap;
    bool over;
} sink_t;

static size_t on_data(char *ptr, size_t sz, size_t nm, void *ud)
{
    sink_t *s = ud;
    size_t k = sz * nm;
    if (s->len + k > RK_TEST_BODY_CAP) {
        s->over = true;
        return 0;
    }
    if (s->len + k + 1 > s->cap) {
        size_t nc = (s->len + k + 1) * 2;
        char *nd = realloc(s->data, nc);
        if (!nd)
            return 0;
        s->data = nd;
        s->cap = nc;
    }
    memcpy(s->data + s->len, ptr, k);
    s->len += k;
    s->data[s->len] = '\0';
    return k;
}

int rk_test_http(const char *method, const char *url, const char *body, size_t body_len,
                 const char *token, rk_test_resp_t *out)
{
    return rk_test_http_hdrs(method, url, body, body_len, token, NULL, out);
}

int rk_test_http_hdrs(const char *method, const char *url, const char *body, size_t body_len,
                      const char *token, const char *const *headers, rk_test_resp_t *out)
{
    memset(out, 0, sizeof *out);
    sink_t b = {0}, h = {0};
    CURL *c = curl_easy_init();
    if (!c)
        return RK_ENOMEM;
    struct curl_slist *hdrs = NULL;
    char auth[1024];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    for (size_t i = 0; headers && headers[i]; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 70000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    double t0 = rk_test_now_ms();
    CURLcode cc = curl_easy_perform(c);
    out->seconds = (rk_test_now_ms() - t0) / 1000.0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    out->body = b.data ? b.data : strdup("");
    out->len = b.len;
    out->headers = h.data ? h.data : strdup("");
    if (out->len) {
        json_error_t je;
        out->json = json_loadb(out->body, out->len, 0, &je);
    }
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return RK_ETIMEDOUT;
    return cc == CURLE_OK || out->status ? RK_OK : RK_ECONN;
}

int rk_test_req(const rk_test_proc_t *p, const char *method, const char *path, const char *body,
                const char *token, rk_test_resp_t *out)
{
    char url[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)p->port, path);
    return rk_test_http(method, url, body, body ? strlen(body) : 0, token, out);
}

int rk_test_req_hdrs(const rk_test_proc_t *p, const char *method, const char *path,
                     const char *body, const char *const *headers, rk_test_resp_t *out)
{
    char url[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)p->port, path);
    return rk_test_http_hdrs(method, url, body, body ? strlen(body) : 0, NULL, headers, out);
}

int rk_test_req_json(const rk_test_proc_t *p, const char *method, const char *path,
                     const json_t *body, const char *token, rk_test_resp_t *out)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = rk_test_req(p, method, path, text, token, out);
    free(text);
    return rc;
}

bool rk_test_resp_header(const rk_test_resp_t *r, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *eol = strchr(line, '\n');
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = eol ? (size_t)(eol - v) : strlen(v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            snprintf(out, n, "%.*s", (int)vl, v);
            return true;
        }
        line = eol ? eol + 1 : NULL;
    }
    return false;
}

void rk_test_resp_cleanup(rk_test_resp_t *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}
