/* Run a program to completion, capturing stdout and stderr. */
#include "rk_test_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "rk_test.h"

typedef struct {
    int fd; /* -1 once at end of file */
    char *buf;
    size_t len;
} stream_t;

/* Reads what is ready on s into its buffer. Bytes past the cap are read and
 * dropped, so a chatty program never blocks on a full pipe. */
static void pump(stream_t *s)
{
    char scratch[4096];
    size_t room = RK_TEST_RUN_CAP - 1 - s->len;
    char *dst = room ? s->buf + s->len : scratch;
    size_t want = room ? room : sizeof scratch;
    ssize_t got = read(s->fd, dst, want);
    if (got < 0 && errno == EINTR)
        return;
    if (got <= 0) {
        close(s->fd);
        s->fd = -1;
        return;
    }
    if (room) {
        s->len += (size_t)got;
        s->buf[s->len] = '\0';
    }
}

static char *program_path(const char *prog)
{
    const char *bin = getenv("RK_BIN_DIR");
    if (strchr(prog, '/'))
        return strdup(prog);
    size_t n = strlen(bin && *bin ? bin : "bin") + strlen(prog) + 2;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/%s", bin && *bin ? bin : "bin", prog);
    return path;
}

int rk_test_run(rk_test_run_t *r, const char *prog, const char *const *args, int stop_signal)
{
    int rc = RK_ENOMEM;
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    size_t n = 0;
    while (args && args[n])
        n++;
    memset(r, 0, sizeof *r);
    char *path = program_path(prog);
    /* Built before the fork: the child may only exec or _exit. */
    char **argv = calloc(n + 2, sizeof *argv);
    if (!path || !argv)
        goto out;
    argv[0] = (char *)prog;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    rc = RK_EIO;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
        goto out;
    pid_t pid = fork();
    if (pid < 0)
        goto out;
    if (pid == 0) {
        /* dup2 clears close-on-exec on 1 and 2 only; every pipe end closes at exec. */
        if (dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
            _exit(127);
        execv(path, argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;

    stream_t s[2] = {{po[0], r->out, 0}, {pe[0], r->err, 0}};
    po[0] = pe[0] = -1; /* owned by s now */
    bool signalled = !stop_signal;
    double end = rk_test_now_ms() + RK_TEST_RUN_TIMEOUT_MS;
    rc = 0;
    while (s[0].fd >= 0 || s[1].fd >= 0) {
        int left = (int)(end - rk_test_now_ms());
        if (left <= 0) {
            rc = RK_ETIMEDOUT;
            break;
        }
        struct pollfd pfd[2] = {{s[0].fd, POLLIN, 0}, {s[1].fd, POLLIN, 0}};
        if (poll(pfd, 2, left) < 0 && errno != EINTR) {
            rc = RK_EIO;
            break;
        }
        for (int i = 0; i < 2; i++)
            if (s[i].fd >= 0 && pfd[i].revents)
                pump(&s[i]);
        if (!signalled && strstr(r->err, "starting")) {
            kill(pid, stop_signal);
            signalled = true;
        }
    }
    for (int i = 0; i < 2; i++)
        if (s[i].fd >= 0)
            close(s[i].fd);
    if (rc)
        kill(pid, SIGKILL);
    while (waitpid(pid, &r->status, 0) < 0) {
        if (errno != EINTR) {
            rc = RK_EIO;
            goto out;
        }
    }
    r->code = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
out:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    free(argv);
    free(path);
    return rc;
}
