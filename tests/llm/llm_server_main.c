/* rk-llm-testserver: the test server (llm_server.h) as a program, for
 * managed-server jobs and benchmarks. Serves until SIGTERM or SIGINT.
 *
 *   rk-llm-testserver --port N [--ttft-ms X] [--itl-ms X] [--tokens N]
 *       [--usage separate|last|none] [--role-first] [--batch N]
 *       [--fault error_event|drop|no_done|http_500 --fault-every N --fault-after N]
 *       [--slow-headers-ms X] [--api-key KEY] [--stamp] [--never-ready] [--realtime]
 *       [--one-thread]
 *
 * --never-ready: run without listening (a server that never gets ready).
 * --one-thread: one epoll loop serves every connection (helper_llm_loop.c;
 * paced streams only), instead of a thread per connection.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm_server.h"

static int usage(void)
{
    fprintf(stderr, "usage: rk-llm-testserver --port N [options]; see the source\n");
    return 2;
}

int main(int argc, char **argv)
{
    llm_server_cfg_t c = {.ttft_us = 0, .itl_us = 0, .tokens = 0, .batch = 1};
    bool never_ready = false, realtime = false, one_thread = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--role-first") == 0) {
            c.role_first = true;
            continue;
        }
        if (strcmp(a, "--stamp") == 0) {
            c.stamp = true;
            continue;
        }
        if (strcmp(a, "--one-thread") == 0) {
            one_thread = true;
            continue;
        }
        if (strcmp(a, "--realtime") == 0) {
            realtime = true;
            continue;
        }
        if (strcmp(a, "--never-ready") == 0) {
            never_ready = true;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (strcmp(a, "--port") == 0)
            c.port = atoi(v);
        else if (strcmp(a, "--ttft-ms") == 0)
            c.ttft_us = (int64_t)(atof(v) * 1000);
        else if (strcmp(a, "--itl-ms") == 0)
            c.itl_us = (int64_t)(atof(v) * 1000);
        else if (strcmp(a, "--api-key") == 0)
            c.api_key = v;
        else if (strcmp(a, "--tokens") == 0)
            c.tokens = atoi(v);
        else if (strcmp(a, "--batch") == 0)
            c.batch = atoi(v);
        else if (strcmp(a, "--fault-every") == 0)
            c.fault_every = atoi(v);
        else if (strcmp(a, "--fault-after") == 0)
            c.fault_after = atoi(v);
        else if (strcmp(a, "--slow-headers-ms") == 0)
            c.slow_headers_us = (int64_t)(atof(v) * 1000);
        else if (strcmp(a, "--usage") == 0)
            c.usage = strcmp(v, "last") == 0   ? LLM_USAGE_LAST
                      : strcmp(v, "none") == 0 ? LLM_USAGE_NONE
                                               : LLM_USAGE_SEPARATE;
        else if (strcmp(a, "--fault") == 0)
            c.fault = strcmp(v, "error_event") == 0 ? LLM_FAULT_ERROR_EVENT
                      : strcmp(v, "drop") == 0      ? LLM_FAULT_DROP
                      : strcmp(v, "no_done") == 0   ? LLM_FAULT_NO_DONE
                                                    : LLM_FAULT_HTTP_500;
        else
            return usage();
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* --realtime: SCHED_FIFO for every thread (they inherit it), so a
     * thread is not preempted by ordinary work between taking a --stamp
     * and sending it. */
    struct sched_param sp = {.sched_priority = 1};
    if (realtime && sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
        fprintf(stderr, "rk-llm-testserver: --realtime: %s; running without\n", strerror(errno));
    else if (realtime)
        fprintf(stderr, "rk-llm-testserver: SCHED_FIFO\n");
    if (one_thread && !never_ready)
        return llm_loop_run(&c, &set);
    llm_server_t *s = NULL;
    if (!never_ready && llm_server_start(&c, &s) != 0) {
        perror("rk-llm-testserver: cannot listen");
        return 1;
    }
    fprintf(stderr, "rk-llm-testserver: listening on %d\n", s ? llm_server_port(s) : c.port);
    int sig;
    sigwait(&set, &sig);
    if (s) {
        fprintf(stderr, "rk-llm-testserver: %llu requests, stopping\n",
                (unsigned long long)llm_server_requests(s));
        uint64_t n, l50, l1;
        int64_t mx;
        llm_server_stamp_late(s, &n, &l50, &l1, &mx);
        if (c.stamp)
            fprintf(stderr,
                    "rk-llm-testserver: stamped sends %llu; returned > 50 us after the stamp %llu, "
                    "> 1 ms %llu, max %.1f us\n",
                    (unsigned long long)n, (unsigned long long)l50, (unsigned long long)l1,
                    (double)mx / 1e3);
        llm_server_stop(s);
    }
    return 0;
}
