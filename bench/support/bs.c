/* Benchmark support: machine facts, child processes, HTTP. See bs.h. */
#include "bs.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RK_SOURCE_DIR
#define RK_SOURCE_DIR "."
#endif
#ifndef RK_BUILD_TYPE
#define RK_BUILD_TYPE "?"
#endif

double bs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- conditions ---- */

static void first_line(const char *cmd, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = popen(cmd, "r");
    if (!f)
        return;
    if (fgets(out, (int)n, f))
        out[strcspn(out, "\n")] = '\0';
    pclose(f);
}

void bs_print_machine(FILE *out)
{
    char cpu[256] = "?", line[512], commit[64], dirty[16];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(cpu, sizeof cpu, "%s", c + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
            }
            break;
        }
    }
    if (f)
        fclose(f);
    struct utsname u;
    uname(&u);
    first_line("git -C " RK_SOURCE_DIR " rev-parse --short HEAD 2>/dev/null", commit,
               sizeof commit);
    first_line("git -C " RK_SOURCE_DIR " status --porcelain -uno 2>/dev/null | head -1", dirty,
               sizeof dirty);
    fprintf(out, "machine: nproc=%ld cpu=\"%s\" kernel=%s %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu,
            u.sysname, u.release);
    fprintf(out, "commit:  %s%s build=%s\n", commit[0] ? commit : "unknown",
            dirty[0] ? " (+uncommitted changes)" : "", RK_BUILD_TYPE);
}

/* ---- processes ---- */

#define MAX_PROCS 16
static pid_t procs[MAX_PROCS];

static void track(pid_t pid, bool add)
{
    for (int i = 0; i < MAX_PROCS; i++) {
        if (add && procs[i] == 0) {
            procs[i] = pid;
            return;
        }
        if (!add && procs[i] == pid) {
            procs[i] = 0;
            return;
        }
    }
}

void bs_proc_kill_all(void)
{
    for (int i = 0; i < MAX_PROCS; i++) {
        if (procs[i] > 0) {
            kill(procs[i], SIGKILL);
            waitpid(procs[i], NULL, 0);
            procs[i] = 0;
        }
    }
}

static void bindir(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';
    snprintf(out, n, "%s", dirname(exe));
}

/* The port of the first `listening ... port=N` line of log after byte
 * `from`, or 0. */
static int log_port(const char *log, long from)
{
    FILE *f = fopen(log, "r");
    char line[2048];
    int port = 0;
    if (f)
        fseek(f, from, SEEK_SET);
    while (f && !port && fgets(line, sizeof line, f)) {
        char *p = strstr(line, " listening ");
        /* A standby's front (server=standby) is not the server yet. */
        p = p && !strstr(p, " server=standby") ? strstr(p, " port=") : NULL;
        if (p)
            port = atoi(p + 6);
    }
    if (f)
        fclose(f);
    return port;
}

int bs_proc_spawn(bs_proc_t *p, const char *prog, const char *const *args, const char *log)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    const char *argv[64];
    size_t n = 0;
    bindir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, prog);
    argv[n++] = path;
    for (size_t i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    snprintf(p->log, sizeof p->log, "%s", log);
    p->port = 0;
    struct stat st;
    p->from = stat(log, &st) == 0 ? (long)st.st_size : 0;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        /* Dies with the bench, however it goes (a SIGTERM or ^C skips its
         * atexit): no server or agent outlives an interrupted run. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(path, (char *const *)argv);
        _exit(127);
    }
    track(p->pid, true);
    return 0;
}

int bs_proc_listening(bs_proc_t *p, double timeout_s)
{
    for (double end = bs_now() + timeout_s; bs_now() < end; usleep(2000)) {
        if ((p->port = log_port(p->log, p->from)))
            return 0;
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            track(p->pid, false);
            fprintf(stderr, "it exited at start; see %s\n", p->log);
            p->pid = 0;
            return -1;
        }
    }
    fprintf(stderr, "it did not listen within %.0f s; see %s\n", timeout_s, p->log);
    bs_proc_stop(p, SIGKILL, 1);
    return -1;
}

int bs_proc_start(bs_proc_t *p, const char *prog, const char *const *args, const char *log)
{
    if (bs_proc_spawn(p, prog, args, log))
        return -1;
    return bs_proc_listening(p, 15);
}

void bs_proc_stop(bs_proc_t *p, int sig, double wait_s)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, sig);
    for (double end = bs_now() + wait_s; bs_now() < end; usleep(2000))
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid)
            goto done;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
done:
    track(p->pid, false);
    p->pid = 0;
}

long bs_rss_anon_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long anon = -1, rss = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "RssAnon:", 8) == 0)
            anon = atol(line + 8);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            rss = atol(line + 6);
    }
    if (f)
        fclose(f);
    return anon >= 0 ? anon : rss;
}

double bs_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut, st;
    long long cut, cst;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &ut,
                     &st, &cut, &cst) != 4)
        return -1;
    return (double)(ut + st + (unsigned long long)(cut + cst)) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- HTTP ---- */

void bs_url(char *out, size_t n, int port, const char *path)
{
    snprintf(out, n, "http://127.0.0.1:%d/api/v1%s", port, path);
}

typedef struct body {
    char *p;
    size_t len;
} body_t;

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    body_t *b = ud;
    size_t n = size * nmemb;
    char *np = realloc(b->p, b->len + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, data, n);
    b->p = np;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static struct curl_slist *json_headers(void)
{
    static struct curl_slist *h;
    if (!h)
        h = curl_slist_append(NULL, "Content-Type: application/json");
    return h;
}

static _Thread_local CURL *easy;

long bs_http(const char *method, const char *url, const char *body, json_t **out)
{
    return bs_http_timed(method, url, body, out, NULL);
}

long bs_http_timed(const char *method, const char *url, const char *body, json_t **out, double *ms)
{
    if (out)
        *out = NULL;
    if (!easy && !(easy = curl_easy_init()))
        return 0;
    body_t b = {0};
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(easy, CURLOPT_POST, body ? 1L : 0L);
    if (!body)
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, json_headers());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    double t0 = bs_now();
    CURLcode cc = curl_easy_perform(easy);
    if (ms)
        *ms = (bs_now() - t0) * 1000;
    if (cc == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (out && b.p)
        *out = json_loadb(b.p, b.len, 0, NULL);
    free(b.p);
    return status;
}

void bs_http_cleanup(void)
{
    if (easy)
        curl_easy_cleanup(easy);
    easy = NULL;
}

typedef struct slot {
    CURL *h;
    size_t i;
    body_t b;
    char url[512];
    char body[4096];
    char line[512];           /* the request's own header line, if any */
    struct curl_slist *extra; /* json_headers() plus line */
} slot_t;

static void slot_start(CURLM *multi, slot_t *s, const char *method, size_t i, bs_req_fn req,
                       bs_hdr_fn hdr, void *ud)
{
    s->i = i;
    s->b.len = 0;
    s->body[0] = '\0';
    req(ud, i, s->url, sizeof s->url, s->body, sizeof s->body);
    if (hdr) {
        s->line[0] = '\0';
        hdr(ud, i, s->line, sizeof s->line);
        curl_slist_free_all(s->extra);
        s->extra = curl_slist_append(NULL, "Content-Type: application/json");
        if (s->line[0])
            s->extra = curl_slist_append(s->extra, s->line);
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->extra);
    }
    curl_easy_setopt(s->h, CURLOPT_URL, s->url);
    curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, method);
    if (s->body[0]) {
        curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
    } else {
        curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_multi_add_handle(multi, s->h);
}

size_t bs_many(const char *method, size_t n, int inflight, double deadline_s, bs_req_fn req,
               bs_done_fn done, void *ud)
{
    return bs_many_hdr(method, n, inflight, deadline_s, req, NULL, done, ud);
}

size_t bs_many_hdr(const char *method, size_t n, int inflight, double deadline_s, bs_req_fn req,
                   bs_hdr_fn hdr, bs_done_fn done, void *ud)
{
    CURLM *multi = curl_multi_init();
    slot_t *slots = calloc((size_t)inflight, sizeof *slots);
    size_t next = 0, answered = 0;
    if (!multi || !slots)
        goto out;
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)inflight);
    for (int k = 0; k < inflight; k++) {
        slot_t *s = &slots[k];
        s->h = curl_easy_init();
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, json_headers());
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, &s->b);
        curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
        if (next < n)
            slot_start(multi, s, method, next++, req, hdr, ud);
    }
    double end = bs_now() + deadline_s;
    int running = 1;
    while (answered < n && bs_now() < end) {
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            slot_t *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long status = 0;
            if (msg->data.result == CURLE_OK)
                curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(multi, s->h);
            answered++;
            if (done)
                done(ud, s->i, status, s->b.p ? s->b.p : "", s->b.len);
            if (next < n)
                slot_start(multi, s, method, next++, req, hdr, ud);
        }
        if (answered < n)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
out:
    for (int k = 0; slots && k < inflight; k++) {
        if (slots[k].h) {
            curl_multi_remove_handle(multi, slots[k].h);
            curl_easy_cleanup(slots[k].h);
        }
        curl_slist_free_all(slots[k].extra);
        free(slots[k].b.p);
    }
    free(slots);
    if (multi)
        curl_multi_cleanup(multi);
    return answered;
}

/* ---- misc ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bs_percentile(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[k < n ? k : n - 1];
}

char *bs_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/rk-bench-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void bs_rmrf(const char *path)
{
    if (path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
