/* bench_llm: the LLM load generator is not the bottleneck (issue 14,
 * "Numbers").
 *
 *   streams  the test server (build/bin/rk-llm-testserver, its own
 *            process) streams content chunks as fast as it can (no ITL,
 *            16 events per write); this process runs the client alone on
 *            its thread with N streams open at once (closed loop) until R
 *            requests of T chunks are done. Reported: chunks/s over the
 *            wall clock, and chunks per CPU-second of the client (its
 *            getrusage: what one core of the client sustains, whatever the
 *            server, sharing the machine, leaves it). Target: >= 1,000
 *            streams at once, >= 100,000 chunks per client core-second.
 *   lag      how late the client's timestamps are: the test server
 *            (--stamp) writes in each content chunk the CLOCK_MONOTONIC
 *            time it formatted it ("t<ns>", the clock is system-wide); the
 *            client's read time of that chunk minus it is the lag: the
 *            server's write, the kernel's loopback delivery, the client's
 *            wake-up and its parsing of the bytes of the other streams
 *            ready at the same moment. Streams with a 10 ms ITL, 100 and
 *            1,000 at once. Beside it the machine's floor: one thread
 *            writes stamps into a socketpair every 1 ms, another blocks in
 *            read() and takes the same difference. Target: within 50 us
 *            (the floor says what this machine allows).
 *
 *            The server also counts its stamped sends that returned more
 *            than 50 us / 1 ms after their stamp (it was preempted, or
 *            the send waited): lag the client cannot have caused.
 *            The lag's server runs one epoll loop (rk-llm-testserver
 *            --one-thread); --server-threads gives it a thread per
 *            connection instead: 1,000 threads waking every 10 ms then
 *            take the cores the client needs, the client reads late, and
 *            a TCP read's kernel timestamp is that of its newest bytes, so
 *            older chunks in the same read look late by an ITL.
 *            --realtime runs the lag's server SCHED_FIFO (root).
 *
 * Usage: bench_llm [--quick] [--streams N] [--requests R] [--tokens T]
 *                  [--server-threads] [--realtime]
 * --quick is the smoke mode CTest runs (small numbers, targets not judged).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bs.h"
#include "llm/client.h"
#include "llm/server.h"
#include "llm/stage.h"
#include "llm/workload.h"

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench {
    rk_llm_params_t p;
    rk_llm_workload_t w;
    rk_llm_client_t *c;
} bench_t;

static int bench_open(bench_t *b, int port, bool with_text)
{
    memset(b, 0, sizeof *b);
    const char *json =
        with_text ? "{\"endpoint\": {\"base_url\": \"http://127.0.0.1:1\", \"api\": \"chat\","
                    " \"model\": \"m\"}, \"prompts\": [{\"prompt\": \"x\", \"reference\": \"x\"}],"
                    " \"concurrency\": [1]}"
                  : "{\"endpoint\": {\"base_url\": \"http://127.0.0.1:1\", \"api\": \"chat\","
                    " \"model\": \"m\"}, \"prompts\": [{\"prompt\": \"x\"}], \"concurrency\": [1]}";
    json_t *v = json_loads(json, 0, NULL);
    rk_verr_t e;
    char host[64], err[256];
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    rk_llm_target_http_t t = {host, "/v1/chat/completions", NULL};
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    int rc = rk_llm_params_decode(v, "", &b->p, &e) ||
             rk_llm_workload_build(&b->p, &t, &b->w, err, sizeof err) ||
             rk_llm_client_new((struct sockaddr *)&a, sizeof a, RK_LLM_API_CHAT, &b->c);
    json_decref(v);
    return rc ? -1 : 0;
}

static void bench_close(bench_t *b)
{
    rk_llm_client_free(b->c);
    rk_llm_workload_cleanup(&b->w);
    rk_llm_params_cleanup(&b->p);
}

/* Starts build/bin/rk-llm-testserver --port <port> plus args (NULL-
 * terminated), its stderr to /dev/null. Neither it nor this process is
 * pinned to a CPU: on a machine shared with other work a pinned process
 * waits for its core while the other one idles (tried: the lag's p90 went
 * from 13 us to 150 ms at 100 streams). */
static pid_t start_server_log(int port, const char *const *args, const char *log);

static pid_t start_server(int port, const char *const *args)
{
    return start_server_log(port, args, NULL);
}

/* As start_server, its stderr to the file log (NULL: /dev/null). */
static pid_t start_server_log(int port, const char *const *args, const char *log)
{
    char self[4096], bin[4200], ps[16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(bin, sizeof bin, "%s/rk-llm-testserver", self);
    snprintf(ps, sizeof ps, "%d", port);
    const char *argv[32] = {bin, "--port", ps};
    for (size_t i = 0; args[i] && i < 28; i++)
        argv[3 + i] = args[i];
    pid_t pid = fork();
    if (pid == 0) {
        int fd = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600) : open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    /* Ready when it accepts a connection. */
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return pid;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int bench_streams(int streams, int requests, int tokens)
{
    int port = rk_llm_free_port();
    char ts[16];
    snprintf(ts, sizeof ts, "%d", tokens);
    const char *args[] = {"--tokens", ts,        "--itl-ms", "0", "--batch",
                          "16",       "--usage", "none",     NULL};
    pid_t srv = start_server(port, args);
    if (srv < 0) {
        fprintf(stderr, "bench_llm: cannot start rk-llm-testserver\n");
        return -1;
    }
    bench_t b;
    if (bench_open(&b, port, false) != 0) {
        fprintf(stderr, "bench_llm: cannot set up the client\n");
        kill(srv, SIGKILL);
        waitpid(srv, NULL, 0);
        return -1;
    }
    rk_llm_stage_t st = {.concurrency = streams};
    double srv_cpu0 = bs_cpu_seconds(srv), cpu0 = cpu_self(), t0 = bs_now();
    int rc = rk_llm_stage_run(b.c, &b.w, requests, 0, 1, &st);
    double wall = bs_now() - t0, cpu = cpu_self() - cpu0, srv_cpu = bs_cpu_seconds(srv) - srv_cpu0;
    size_t chunks = 0, failed = 0;
    for (size_t i = 0; i < st.n; i++) {
        chunks += st.samples[i]->n_chunks;
        failed += st.samples[i]->fail != RK_LLM_FAIL_NONE;
    }
    printf("streams: %d open at once, %d requests x %d chunks (checksum: %zu chunks read, %zu "
           "failed)\n",
           streams, requests, tokens, chunks, failed);
    printf("  wall %.3f s: %.0f chunks/s, %.0f requests/s\n", wall, (double)chunks / wall,
           (double)st.n / wall);
    printf("  client CPU %.3f s (%.0f %% of a core): %.0f chunks per client core-second\n", cpu,
           100 * cpu / wall, (double)chunks / cpu);
    printf("  server CPU %.3f s (%.0f %% of a core)\n", srv_cpu, 100 * srv_cpu / wall);
    rk_llm_stage_cleanup(&st);
    bench_close(&b);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    return rc || failed ? -1 : 0;
}

static void report_lag(const char *what, double *lag, size_t n)
{
    qsort(lag, n, sizeof *lag, cmp_d);
    printf("  %-28s n %zu: p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
           what, n, bs_percentile(lag, n, 50), bs_percentile(lag, n, 90), bs_percentile(lag, n, 99),
           bs_percentile(lag, n, 99.9), lag[n - 1]);
}

/* The test server's own count of stamped sends that left late (its last
 * lines in log), printed under the lag. */
static void report_server_late(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "stamped sends") || strstr(line, "--realtime") ||
            strstr(line, "SCHED_FIFO"))
            printf("  %-28s %s", "server:", strstr(line, ": ") ? strstr(line, ": ") + 2 : line);
    if (f)
        fclose(f);
    unlink(log);
}

static int bench_lag(int streams, int tokens, bool realtime, bool one_thread)
{
    int port = rk_llm_free_port();
    char ts[16], log[64];
    snprintf(ts, sizeof ts, "%d", tokens);
    snprintf(log, sizeof log, "/tmp/bench_llm_server.%d.log", (int)getpid());
    const char *args[10] = {"--tokens", ts, "--itl-ms", "10", "--ttft-ms", "1", "--stamp"};
    size_t na = 7;
    if (realtime)
        args[na++] = "--realtime";
    if (one_thread)
        args[na++] = "--one-thread";
    pid_t srv = start_server_log(port, args, log);
    bench_t b;
    if (srv < 0 || bench_open(&b, port, true) != 0) {
        fprintf(stderr, "bench_llm: cannot start rk-llm-testserver or the client\n");
        if (srv > 0) {
            kill(srv, SIGKILL);
            waitpid(srv, NULL, 0);
        }
        return -1;
    }
    rk_llm_stage_t st = {.concurrency = streams};
    double cpu0 = cpu_self(), t0 = bs_now();
    int rc = rk_llm_stage_run(b.c, &b.w, streams, 0, 1, &st);
    double wall = bs_now() - t0, cpu = cpu_self() - cpu0;
    size_t cap = (size_t)streams * (size_t)tokens, n = 0, failed = 0;
    double *lag = calloc(cap + 1, sizeof *lag);
    for (size_t i = 0; lag && i < st.n; i++) {
        const rk_llm_sample_t *s = st.samples[i];
        failed += s->fail != RK_LLM_FAIL_NONE;
        const char *p = s->text;
        for (size_t k = 0; p && k < s->n_chunks && n < cap; k++) {
            p = strchr(p, 't');
            if (!p)
                break;
            long long stamp = strtoll(p + 1, (char **)&p, 10);
            lag[n++] = (double)(s->chunk_t[k] - stamp) / 1e3;
        }
    }
    char what[64];
    snprintf(what, sizeof what, "%d streams, ITL 10 ms%s%s:", streams, realtime ? ", FIFO" : "",
             one_thread ? "" : ", server thread per stream");
    if (n)
        report_lag(what, lag, n);
    printf("  %-28s %.0f chunks/s, client CPU %.0f %% of a core\n", "", (double)n / wall,
           100 * cpu / wall);
    if (failed)
        printf("  (%zu requests failed)\n", failed);
    free(lag);
    rk_llm_stage_cleanup(&st);
    bench_close(&b);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    report_server_late(log);
    return rc || failed || !n ? -1 : 0;
}

typedef struct floor_arg {
    int fd;
    int n;
} floor_arg_t;

static void *floor_writer(void *arg)
{
    floor_arg_t *f = arg;
    for (int i = 0; i < f->n; i++) {
        int64_t t = rk_llm_now();
        if (write(f->fd, &t, sizeof t) != (ssize_t)sizeof t)
            break;
        usleep(1000);
    }
    return NULL;
}

/* The floor: a blocking read() of an 8-byte stamp on a socketpair. */
static void bench_floor(int n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return;
    floor_arg_t f = {sv[1], n};
    pthread_t t;
    pthread_create(&t, NULL, floor_writer, &f);
    double *lag = calloc((size_t)n, sizeof *lag);
    int got = 0;
    for (; lag && got < n; got++) {
        int64_t stamp;
        if (read(sv[0], &stamp, sizeof stamp) != (ssize_t)sizeof stamp)
            break;
        lag[got] = (double)(rk_llm_now() - stamp) / 1e3;
    }
    pthread_join(t, NULL);
    if (got)
        report_lag("floor (socketpair, 1 ms):", lag, (size_t)got);
    free(lag);
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    bool quick = false, realtime = false, one_thread = true;
    int streams = 1000, requests = 4000, tokens = 500;
    static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
                                         {"streams", required_argument, NULL, 's'},
                                         {"requests", required_argument, NULL, 'r'},
                                         {"tokens", required_argument, NULL, 't'},
                                         {"realtime", no_argument, NULL, 'R'},
                                         {"server-threads", no_argument, NULL, '1'},
                                         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == 'q')
            quick = true;
        else if (o == 's')
            streams = atoi(optarg);
        else if (o == 'r')
            requests = atoi(optarg);
        else if (o == 't')
            tokens = atoi(optarg);
        else if (o == 'R')
            realtime = true;
        else if (o == '1')
            one_thread = false;
        else
            return 2;
    }
    if (quick) {
        streams = 50;
        requests = 100;
        tokens = 50;
    }
    signal(SIGPIPE, SIG_IGN);
    bs_print_machine(stdout);
    printf("workload: rk-llm-testserver on 127.0.0.1, chat completions streamed over SSE, "
           "one connection per request; clock: CLOCK_MONOTONIC\n");
    int rc = bench_streams(streams, requests, tokens);
    printf("lag: the client's read time of a chunk minus the server's write time in it\n");
    bench_floor(quick ? 50 : 2000);
    rc |= bench_lag(quick ? 10 : 100, quick ? 10 : 100, realtime, one_thread);
    if (!quick)
        rc |= bench_lag(1000, 100, realtime, one_thread);
    return rc ? 1 : 0;
}
