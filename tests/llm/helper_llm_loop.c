/* The test server on one thread (llm_server.h, llm_loop_run): one epoll
 * loop serves every connection, and a min-heap of the streams' next chunk
 * times drives a timerfd set to the earliest. For benchmarks with many
 * paced streams (bench_llm's lag at 1,000 streams): the thread-per-
 * connection server wakes 1,000 threads every inter-token period, which on
 * a small machine take the cores the client needs.
 *
 * Handles what the paced streams need and no more: GET /health, POST
 * /v1/chat/completions and /v1/completions streamed with cfg.tokens content
 * chunks (16 without), cfg.ttft_us and cfg.itl_us, --stamp, usage
 * separate (a last chunk with the usage) or none. No faults, no API key.
 */
#include "llm_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct lconn {
    int fd;
    bool streaming, chat;
    bool fin;      /* answered: shut down once out is sent */
    int i, tokens; /* next content chunk, how many */
    int64_t t0;    /* when the request was read */
    int64_t due;   /* next chunk's time */
    size_t heap_at;
    char in[8192];
    size_t in_len;
    char out[4096]; /* bytes a full send buffer left */
    size_t out_len;
} lconn_t;

typedef struct loop {
    const llm_server_cfg_t *cfg;
    int ep, tfd;
    lconn_t **heap; /* by due */
    size_t n_heap, cap_heap;
    uint64_t requests, stamped, late_50us, late_1ms;
    int64_t late_max;
} loop_t;

/* ---- the heap of paced streams ---- */

static void heap_swap(loop_t *l, size_t a, size_t b)
{
    lconn_t *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->heap_at = a;
    l->heap[b]->heap_at = b;
}

static void heap_up(loop_t *l, size_t i)
{
    while (i && l->heap[(i - 1) / 2]->due > l->heap[i]->due) {
        heap_swap(l, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(loop_t *l, size_t i)
{
    for (;;) {
        size_t m = i, a = 2 * i + 1, b = a + 1;
        if (a < l->n_heap && l->heap[a]->due < l->heap[m]->due)
            m = a;
        if (b < l->n_heap && l->heap[b]->due < l->heap[m]->due)
            m = b;
        if (m == i)
            return;
        heap_swap(l, i, m);
        i = m;
    }
}

static int heap_push(loop_t *l, lconn_t *k)
{
    if (l->n_heap == l->cap_heap) {
        size_t cap = l->cap_heap ? 2 * l->cap_heap : 256;
        lconn_t **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return -1;
        l->heap = h;
        l->cap_heap = cap;
    }
    k->heap_at = l->n_heap;
    l->heap[l->n_heap++] = k;
    heap_up(l, k->heap_at);
    return 0;
}

static void heap_remove(loop_t *l, lconn_t *k)
{
    size_t i = k->heap_at;
    if (i >= l->n_heap || l->heap[i] != k)
        return;
    l->n_heap--;
    if (i != l->n_heap) {
        l->heap[i] = l->heap[l->n_heap];
        l->heap[i]->heap_at = i;
        heap_down(l, i);
        heap_up(l, i);
    }
}

static void arm(loop_t *l)
{
    struct itimerspec its = {0};
    if (l->n_heap) {
        int64_t t = l->heap[0]->due;
        if (t <= 0)
            t = 1;
        its.it_value.tv_sec = (time_t)(t / 1000000000);
        its.it_value.tv_nsec = (long)(t % 1000000000);
    }
    timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- connections ---- */

static void conn_close(loop_t *l, lconn_t *k)
{
    heap_remove(l, k);
    epoll_ctl(l->ep, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    free(k);
}

/* Sends what it can; the rest waits in k->out for EPOLLOUT. false when
 * the connection is gone or its buffer overflowed. */
static bool conn_send(loop_t *l, lconn_t *k, const char *p, size_t n)
{
    if (k->out_len == 0) {
        ssize_t w = send(k->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN)
            return false;
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
    }
    if (!n)
        return true;
    if (k->out_len + n > sizeof k->out)
        return false;
    memcpy(k->out + k->out_len, p, n);
    k->out_len += n;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = k};
    epoll_ctl(l->ep, EPOLL_CTL_MOD, k->fd, &ev);
    return true;
}

/* The answer is complete: the write side closes once it is sent (the
 * client closes its side after reading it; then the connection goes). */
static void conn_finish(lconn_t *k)
{
    k->fin = true;
    if (k->out_len == 0)
        shutdown(k->fd, SHUT_WR);
}

/* One SSE event as one HTTP chunk. */
static bool send_event(loop_t *l, lconn_t *k, const char *data)
{
    char buf[1024];
    size_t n = llm_event_frame(buf, sizeof buf, data);
    return n && conn_send(l, k, buf, n);
}

/* The next content chunk of k, or its end after the last. */
static void stream_next(loop_t *l, lconn_t *k)
{
    const llm_server_cfg_t *c = l->cfg;
    char text[32], data[512];
    int64_t stamp = llm_now_ns();
    if (c->stamp)
        snprintf(text, sizeof text, "t%lld ", (long long)stamp);
    else
        snprintf(text, sizeof text, "w%d ", k->i);
    bool last = k->i == k->tokens - 1;
    llm_chunk_json(data, sizeof data, k->chat, text, k->i, k->tokens, false);
    bool ok = send_event(l, k, data);
    if (c->stamp) {
        int64_t d = llm_now_ns() - stamp;
        l->stamped++;
        l->late_50us += d > 50000;
        l->late_1ms += d > 1000000;
        l->late_max = d > l->late_max ? d : l->late_max;
    }
    if (ok && last) {
        if (c->usage == LLM_USAGE_SEPARATE) {
            llm_usage_json(data, sizeof data, k->tokens);
            ok = send_event(l, k, data);
        }
        ok = ok && send_event(l, k, "[DONE]") && conn_send(l, k, "0\r\n\r\n", 5);
        heap_remove(l, k);
        if (ok)
            conn_finish(k);
        else
            conn_close(l, k);
        return;
    }
    if (!ok) {
        conn_close(l, k);
        return;
    }
    k->i++;
    k->due = k->t0 + (c->ttft_us + (int64_t)k->i * c->itl_us) * 1000;
    heap_down(l, k->heap_at);
}

/* A complete request in k->in: answer it. */
static void conn_request(loop_t *l, lconn_t *k, const char *body)
{
    const char *req = k->in;
    if (strncmp(req, "GET /health ", 12) == 0) {
        const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        conn_send(l, k, ok, strlen(ok));
        conn_finish(k);
        return;
    }
    if (strncmp(req, "POST ", 5) != 0) {
        const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        conn_send(l, k, nf, strlen(nf));
        conn_finish(k);
        return;
    }
    const char *chat = strstr(req, "/chat/completions");
    k->chat = chat && chat < body;
    k->tokens = l->cfg->tokens > 0 ? l->cfg->tokens : 16;
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    l->requests++;
    if (!conn_send(l, k, head, strlen(head))) {
        conn_close(l, k);
        return;
    }
    k->streaming = true;
    k->t0 = llm_now_ns();
    k->due = k->t0 + l->cfg->ttft_us * 1000;
    if (heap_push(l, k) != 0)
        conn_close(l, k);
}

static void conn_readable(loop_t *l, lconn_t *k)
{
    for (;;) {
        if (k->in_len == sizeof k->in - 1) {
            conn_close(l, k);
            return;
        }
        ssize_t r = recv(k->fd, k->in + k->in_len, sizeof k->in - 1 - k->in_len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) { /* the client is done, or gone */
            conn_close(l, k);
            return;
        }
        if (k->streaming)
            continue; /* nothing more is expected: drop it */
        k->in_len += (size_t)r;
        k->in[k->in_len] = '\0';
        char *end = strstr(k->in, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(k->in, "Content-Length:");
        size_t want = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        size_t have = k->in_len - (size_t)(end + 4 - k->in);
        if (have < want)
            continue;
        conn_request(l, k, end + 4);
        return;
    }
}

static void conn_writable(loop_t *l, lconn_t *k)
{
    ssize_t w = send(k->fd, k->out, k->out_len, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) {
        conn_close(l, k);
        return;
    }
    if (w > 0) {
        memmove(k->out, k->out + w, k->out_len - (size_t)w);
        k->out_len -= (size_t)w;
    }
    if (k->out_len == 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
        epoll_ctl(l->ep, EPOLL_CTL_MOD, k->fd, &ev);
        if (k->fin)
            shutdown(k->fd, SHUT_WR);
    }
}

int llm_loop_run(const llm_server_cfg_t *cfg, const sigset_t *stop)
{
    loop_t l = {.cfg = cfg};
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)cfg->port)};
    socklen_t alen = sizeof a;
    int sfd = signalfd(-1, stop, SFD_CLOEXEC);
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    l.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (lfd < 0 || sfd < 0 || l.ep < 0 || l.tfd < 0 ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("rk-llm-testserver: cannot listen");
        return 1;
    }
    fprintf(stderr, "rk-llm-testserver: listening on %d (one thread)\n", ntohs(a.sin_port));
    /* The three fixed sources carry the address of a tag of their own. */
    static char tag_l, tag_s, tag_t;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_l};
    epoll_ctl(l.ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &tag_s;
    epoll_ctl(l.ep, EPOLL_CTL_ADD, sfd, &ev);
    ev.data.ptr = &tag_t;
    epoll_ctl(l.ep, EPOLL_CTL_ADD, l.tfd, &ev);
    bool stopping = false;
    struct epoll_event evs[256];
    while (!stopping) {
        int n = epoll_wait(l.ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_s) {
                stopping = true;
            } else if (p == &tag_l) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    lconn_t *k = calloc(1, sizeof *k);
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = k};
                    if (!k || epoll_ctl(l.ep, EPOLL_CTL_ADD, fd, &e) != 0) {
                        free(k);
                        close(fd);
                        continue;
                    }
                    k->fd = fd;
                    k->heap_at = (size_t)-1;
                }
            } else if (p == &tag_t) {
                uint64_t x;
                (void)!read(l.tfd, &x, sizeof x);
            } else {
                lconn_t *k = p;
                if (evs[i].events & EPOLLOUT)
                    conn_writable(&l, k);
                else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    conn_readable(&l, k);
            }
        }
        /* Every stream that is due, in order. */
        while (l.n_heap && l.heap[0]->due <= llm_now_ns())
            stream_next(&l, l.heap[0]);
        arm(&l);
    }
    fprintf(stderr, "rk-llm-testserver: %llu requests, stopping\n", (unsigned long long)l.requests);
    if (cfg->stamp)
        fprintf(stderr,
                "rk-llm-testserver: stamped sends %llu; returned > 50 us after the stamp %llu, "
                "> 1 ms %llu, max %.1f us\n",
                (unsigned long long)l.stamped, (unsigned long long)l.late_50us,
                (unsigned long long)l.late_1ms, (double)l.late_max / 1e3);
    free(l.heap);
    close(lfd);
    close(sfd);
    close(l.tfd);
    close(l.ep);
    return 0;
}
