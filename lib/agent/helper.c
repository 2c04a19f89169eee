/* The agent's helper processes: work that needs a big library for a moment
 * (libarchive for an artifacts zip, libcurl for a call to the server) runs
 * in a child that is the agent's own binary started again
 * (/proc/self/exe RK_AGENT_HELPER_ARG NAME ...), which loads the library
 * with dlopen, does the one thing and exits. The agent itself never maps
 * those libraries (docs/benchmarks.md, "Agent").
 *
 * Never a bare fork(): the agent has threads, and the child of a threaded
 * process may call only async-signal-safe functions until it execs. A
 * forked child that called dlopen or malloc hung for good when another
 * thread held the loader's or the allocator's lock at the fork (an
 * artifacts zip under ASan did, in CI). posix_spawn execs at once.
 *
 * The helper's stdin is what the caller gives (secrets go there, never in
 * argv, which ps shows), its stdout out_fd (or /dev/null), its stderr the
 * agent's log, and fd 3 a pipe that carries its short report back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/internal.h"
#include "base/err.h"

extern char **environ;

#define REPORT_FD 3
/* Bytes of stdin a helper takes: a request body and a token. */
#define INPUT_MAX (1u << 20)

static void close_pipe(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
    p[0] = p[1] = -1;
}

int agent__helper_run(const char *const *args, const char *input, size_t input_len, int out_fd,
                      char *report, size_t reportsz)
{
    char *argv[8];
    size_t n = 0;
    argv[n++] = "ruckus-agent";
    argv[n++] = RK_AGENT_HELPER_ARG;
    for (size_t i = 0; args[i] && n < sizeof argv / sizeof argv[0] - 1; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    report[0] = '\0';
    int in[2] = {-1, -1}, rep[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) {
        close_pipe(in);
        close_pipe(rep);
        return RK_EIO;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, rep[1], REPORT_FD);
    /* The agent blocks its stop signals in every thread (base/signals.h);
     * the helper must not inherit that. */
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(in[0]);
    close(rep[1]);
    in[0] = rep[1] = -1;
    if (rc != 0) {
        close_pipe(in);
        close_pipe(rep);
        snprintf(report, reportsz, "cannot start a helper process: %s", strerror(rc));
        return RK_EIO;
    }
    /* The helper reads all its input before it writes a byte: no deadlock
     * however big the input is. */
    for (size_t off = 0; off < input_len;) {
        ssize_t w = write(in[1], input + off, input_len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close_pipe(in);
    size_t k = 0;
    ssize_t r;
    while (k + 1 < reportsz &&
           ((r = read(rep[0], report + k, reportsz - 1 - k)) > 0 || (r < 0 && errno == EINTR)))
        k += r > 0 ? (size_t)r : 0;
    report[k] = '\0';
    close_pipe(rep);
    int status = -1;
    /* Our own child, in the agent's process group (the exec reaper's
     * orphan sweep leaves those alone): reaped here by its pid. */
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? RK_OK : RK_EIO;
}

/* Reads all of stdin (at most INPUT_MAX bytes) into a new NUL-terminated
 * buffer; NULL when it is bigger or cannot be read. */
static char *read_input(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf)
            return NULL;
        if (n + 1 >= cap) {
            char *nb = cap < INPUT_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(0, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

_Noreturn int rk_agent_helper_main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 2 && strcmp(argv[0], "zip") == 0) {
        rc = agent__zip_helper(argv[1], 1, REPORT_FD);
    } else if (argc >= 2 && strcmp(argv[0], "call") == 0) {
        /* stdin: the bearer token (may be empty), a NUL, the JSON body. */
        size_t len = 0;
        char *in = read_input(&len);
        size_t tlen = in ? strnlen(in, len) : 0;
        if (in && tlen < len)
            rc = agent__call_helper(argv[1], in + tlen + 1, tlen ? in : NULL,
                                    argc >= 3 ? argv[2] : NULL, REPORT_FD);
        else
            fprintf(stderr, "ruckus-agent helper: stdin is not token NUL body\n");
        free(in);
    } else if (argc >= 1 && strcmp(argv[0], "bench") == 0) {
        /* stdin: the job's ExecuteJobRequest (runner.c). */
        size_t len = 0;
        char *in = read_input(&len);
        rc = agent__bench_helper(in, len);
        free(in);
    } else {
        fprintf(stderr, "ruckus-agent: %s is for the agent's own use\n", RK_AGENT_HELPER_ARG);
    }
    /* _exit: what the helper holds dies with it (and no leak report). */
    fflush(stdout);
    fflush(stderr);
    _exit(rc);
}
