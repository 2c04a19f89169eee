/* Starting, probing and stopping a managed model server (server.h). */
#include "llm/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "llm/client.h"

/* Between two readiness probes, and the most one probe may take. */
#define PROBE_INTERVAL_MS 100
#define PROBE_TIMEOUT_MS 2000

int rk_llm_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* s with every `key` replaced by `value`; malloc'd. */
static char *replace(const char *s, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value), count = 0;
    for (const char *p = s; (p = strstr(p, key)); p += kl)
        count++;
    char *out = malloc(strlen(s) + count * vl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p;) {
        if (strncmp(p, key, kl) == 0) {
            memcpy(o, value, vl);
            o += vl;
            p += kl;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

char *rk_llm_subst(const char *s, int port, const char *models_dir)
{
    char num[16];
    snprintf(num, sizeof num, "%d", port);
    char *a = replace(s, "{port}", num);
    if (!a || !models_dir)
        return a;
    char *b = replace(a, "{models_dir}", models_dir);
    free(a);
    return b;
}

int rk_llm_server_start(char *const *argv, char *const *env, size_t n, rk_llm_server_t *out,
                        char *err, size_t errlen)
{
    out->pid = 0;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "server: pipe: %s", strerror(errno));
        return RK_EIO;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        for (size_t i = 0; i < n; i++)
            putenv(env[i]);
        execvp(argv[0], argv);
        int e = errno;
        (void)!write(pfd[1], &e, sizeof e);
        _exit(127);
    }
    close(pfd[1]);
    int e = 0, rc = 0;
    if (pid < 0) {
        snprintf(err, errlen, "server: fork: %s", strerror(errno));
        rc = RK_EIO;
    } else if (read(pfd[0], &e, sizeof e) == (ssize_t)sizeof e) {
        /* The exec failed: the child said why and is gone. */
        waitpid(pid, NULL, 0);
        snprintf(err, errlen, "server.argv[0]: cannot run %s: %s", argv[0], strerror(e));
        rc = RK_EIO;
    } else {
        out->pid = pid;
        fprintf(stderr, "llm: started server %s (pid %d)\n", argv[0], (int)pid);
    }
    close(pfd[0]);
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* One GET: the status code, 0 when nothing usable came (*why says). */
static int probe(const struct sockaddr *addr, socklen_t len, const char *host, const char *path,
                 const char **why)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int status = 0;
    *why = "no connection";
    if (fd < 0)
        return 0;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    char req[2048], buf[64];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, host);
    if ((connect(fd, addr, len) == 0 || errno == EINPROGRESS) &&
        poll(&p, 1, PROBE_TIMEOUT_MS) == 1 && !(p.revents & (POLLERR | POLLHUP)) &&
        write(fd, req, (size_t)n) == n) {
        *why = "no answer";
        p.events = POLLIN;
        size_t got = 0;
        ssize_t k = 1;
        while (got < 12 && k > 0 && poll(&p, 1, PROBE_TIMEOUT_MS) == 1)
            if ((k = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
                got += (size_t)k;
        buf[got] = '\0';
        if (got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0)
            status = atoi(buf + 9);
    }
    close(fd);
    return status;
}

int rk_llm_server_wait_ready(rk_llm_server_t *s, const struct sockaddr *addr, socklen_t len,
                             const char *host, const char *path, int64_t timeout_s, char *err,
                             size_t errlen)
{
    int64_t deadline = rk_llm_now() + timeout_s * 1000000000;
    int last = 0;
    const char *why = "no probe";
    for (;;) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->pid = 0;
            snprintf(err, errlen, "server exited (%s %d) before GET %s answered 200",
                     WIFEXITED(st) ? "status" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), path);
            return RK_EIO;
        }
        if ((last = probe(addr, len, host, path, &why)) == 200)
            return 0;
        if (rk_llm_now() >= deadline)
            break;
        sleep_ms(PROBE_INTERVAL_MS);
    }
    if (last)
        snprintf(err, errlen, "server not ready after %lld s: GET %s answered %d",
                 (long long)timeout_s, path, last);
    else
        snprintf(err, errlen, "server not ready after %lld s: GET %s: %s", (long long)timeout_s,
                 path, why);
    return RK_ETIMEDOUT;
}

void rk_llm_server_stop(rk_llm_server_t *s, int grace_ms)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    int64_t deadline = rk_llm_now() + (int64_t)grace_ms * 1000000;
    int st;
    while (waitpid(s->pid, &st, WNOHANG) == 0) {
        if (rk_llm_now() >= deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            break;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "llm: stopped server (pid %d)\n", (int)s->pid);
    s->pid = 0;
}
