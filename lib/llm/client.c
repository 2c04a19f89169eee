/* The streaming client (client.h): one epoll loop, one connection per
 * request, a timestamp for every read: the kernel's receive time of its
 * bytes (SO_TIMESTAMPNS, taken when the packet reached the socket layer,
 * so the client's own wake-up and the parsing of other streams' bytes
 * ready at the same moment are not in it), else the time of the read. */
#include "llm/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "llm/chunk.h"
#include "llm/resp.h"
#include "llm/sse.h"

/* Bytes per read(): a burst of chunks is taken in one call, and all of
 * them get the time of that call (they arrived together). */
#define READ_SIZE (64u << 10)
/* Events per epoll_wait. */
#define EVENTS_MAX 256

typedef struct conn {
    rk_llm_client_t *c;
    int fd; /* -1 once ended */
    rk_llm_sample_t *s;
    const char *req;
    size_t req_len, req_off;
    rk_llm_resp_t resp;
    rk_llm_sse_t sse;
    rk_buf_t body; /* a failed answer's body, for the error text */
    bool keep_text;
    bool saw_done;
    int64_t now; /* time of the read being parsed */
    struct conn *next;
    struct conn *all_next; /* every connection the client made */
} conn_t;

struct rk_llm_client {
    int ep;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    rk_llm_api_t api;
    size_t open;
    conn_t *free_list;
    conn_t *ended; /* ended in this poll, handed to done at its end */
    conn_t *all;
    char *rbuf;
};

int64_t rk_llm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *rk_llm_fail_name(rk_llm_fail_t f)
{
    static const char *const n[RK_LLM_FAIL_COUNT] = {"ok",      "connect", "http",    "error_event",
                                                     "no_done", "broken",  "protocol"};
    return f < RK_LLM_FAIL_COUNT ? n[f] : "unknown";
}

void rk_llm_sample_cleanup(rk_llm_sample_t *s)
{
    free(s->chunk_t);
    free(s->error);
    free(s->text);
    memset(s, 0, sizeof *s);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int rk_llm_client_new(const struct sockaddr *addr, socklen_t addrlen, rk_llm_api_t api,
                      rk_llm_client_t **out)
{
    *out = NULL;
    if (addrlen > sizeof(struct sockaddr_storage))
        return RK_EINVAL;
    rk_llm_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return RK_ENOMEM;
    c->rbuf = malloc(READ_SIZE);
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!c->rbuf || c->ep < 0) {
        int rc = c->rbuf ? RK_EIO : RK_ENOMEM;
        if (c->ep >= 0)
            close(c->ep);
        free(c->rbuf);
        free(c);
        return rc;
    }
    memcpy(&c->addr, addr, addrlen);
    c->addrlen = addrlen;
    c->api = api;
    raise_nofile();
    *out = c;
    return 0;
}

/* Ends k's request (once): the sample gets its end time and verdict, and k
 * waits on the ended list for the end of the poll. */
static void end(conn_t *k, rk_llm_fail_t fail, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void end(conn_t *k, rk_llm_fail_t fail, const char *fmt, ...)
{
    if (k->fd < -1)
        return; /* already ended */
    rk_llm_sample_t *s = k->s;
    s->t_end = rk_llm_now();
    if (k->fd >= 0)
        close(k->fd); /* also leaves the epoll set */
    k->fd = -2;
    s->fail = fail;
    if (fail != RK_LLM_FAIL_NONE && fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&s->error, fmt, ap) < 0)
            s->error = NULL;
        va_end(ap);
    }
    if (!s->usage)
        s->output_tokens = (int64_t)s->n_chunks;
    k->next = k->c->ended;
    k->c->ended = k;
}

static int add_chunk_time(rk_llm_sample_t *s, int64_t t)
{
    if (s->n_chunks == s->cap_chunks) {
        size_t cap = s->cap_chunks ? s->cap_chunks * 2 : 64;
        int64_t *p = realloc(s->chunk_t, cap * sizeof *p);
        if (!p)
            return RK_ENOMEM;
        s->chunk_t = p;
        s->cap_chunks = cap;
    }
    s->chunk_t[s->n_chunks++] = t;
    return 0;
}

static int add_text(rk_llm_sample_t *s, const char *p, size_t n)
{
    if (s->text_len + n > RK_LLM_TEXT_CAP)
        return 0; /* the rest is not scored; counts and times still are */
    char *t = realloc(s->text, s->text_len + n + 1);
    if (!t)
        return RK_ENOMEM;
    memcpy(t + s->text_len, p, n);
    s->text_len += n;
    t[s->text_len] = '\0';
    s->text = t;
    return 0;
}

/* Stops the parse of this read: the request ended inside it. */
#define STOP 1

static int on_event(const char *event, const char *data, size_t len, void *ud)
{
    conn_t *k = ud;
    rk_llm_sample_t *s = k->s;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        k->saw_done = true;
        return 0;
    }
    rk_llm_chunk_t ch;
    int rc = rk_llm_chunk_parse(data, len, k->c->api, &ch);
    if (rc) {
        end(k, RK_LLM_FAIL_PROTOCOL, "an event that is not a JSON object: %.80s", data);
        rc = STOP;
    } else if (ch.error || strcmp(event, "error") == 0) {
        end(k, RK_LLM_FAIL_EVENT, "error event after %zu chunks: %.300s", s->n_chunks,
            ch.error ? ch.error : data);
        rc = STOP;
    } else {
        if (ch.has_usage) {
            s->usage = true;
            s->output_tokens = ch.completion_tokens;
            s->input_tokens = ch.prompt_tokens;
        }
        if (ch.content_len) {
            if (!s->t_first_token)
                s->t_first_token = k->now;
            rc = add_chunk_time(s, k->now);
            if (!rc && k->keep_text)
                rc = add_text(s, ch.content, ch.content_len);
            if (rc) {
                end(k, RK_LLM_FAIL_PROTOCOL, "out of memory");
                rc = STOP;
            }
        }
    }
    rk_llm_chunk_cleanup(&ch);
    return rc;
}

static int on_body(const char *p, size_t n, void *ud)
{
    conn_t *k = ud;
    if (k->resp.status != 200) {
        size_t room = RK_LLM_ERROR_BODY_CAP - k->body.len;
        rk_buf_add(&k->body, p, n < room ? n : room);
        return 0;
    }
    int rc = rk_llm_sse_feed(&k->sse, p, n);
    if (rc && rc != STOP) {
        end(k, RK_LLM_FAIL_PROTOCOL, "event stream: %s", rk_strerror(rc));
        rc = STOP;
    }
    return rc;
}

/* The answer is complete (its framing ended, or the peer closed a body
 * without a length): the verdict. */
static void complete(conn_t *k)
{
    rk_llm_sample_t *s = k->s;
    if (s->status != 200)
        end(k, RK_LLM_FAIL_HTTP, "HTTP %d: %s", s->status, rk_buf_str(&k->body));
    else if (!k->saw_done)
        end(k, RK_LLM_FAIL_NO_DONE, "the stream ended without [DONE] after %zu chunks",
            s->n_chunks);
    else
        end(k, RK_LLM_FAIL_NONE, NULL);
}

/* The kernel's receive time (CLOCK_REALTIME) of msg's bytes on the
 * monotonic clock, or `now` when the kernel gave none (or one after now). */
int64_t rk_llm_rx_time(const struct msghdr *msg, int64_t now)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR((struct msghdr *)msg); cm;
         cm = CMSG_NXTHDR((struct msghdr *)msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
            continue;
        struct timespec rx, real;
        memcpy(&rx, CMSG_DATA(cm), sizeof rx);
        clock_gettime(CLOCK_REALTIME, &real);
        int64_t age = ((int64_t)real.tv_sec - rx.tv_sec) * 1000000000 + (real.tv_nsec - rx.tv_nsec);
        /* A clock step between the two can make it absurd: then the read's. */
        return age >= 0 && age < 10 * INT64_C(1000000000) ? now - age : now;
    }
    return now;
}

static void on_readable(conn_t *k)
{
    rk_llm_client_t *c = k->c;
    struct iovec iov = {c->rbuf, READ_SIZE};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct timespec))];
    } ctl;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(k->fd, &msg, 0);
    k->now = rk_llm_rx_time(&msg, rk_llm_now());
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    rk_llm_sample_t *s = k->s;
    if (n <= 0) {
        int err = n < 0 ? errno : 0;
        if (n == 0 && k->resp.headers_done && rk_llm_resp_eof(&k->resp) == 0)
            complete(k);
        else if (!s->t_first_byte)
            end(k, RK_LLM_FAIL_CONNECT, "the connection %s before an answer",
                err ? strerror(err) : "closed");
        else
            end(k, RK_LLM_FAIL_BROKEN, "the connection %s mid-answer after %zu chunks",
                err ? strerror(err) : "closed", s->n_chunks);
        return;
    }
    if (!s->t_first_byte)
        s->t_first_byte = k->now;
    int rc = rk_llm_resp_feed(&k->resp, c->rbuf, (size_t)n, on_body, k);
    if (rc == STOP)
        return;
    if (rc) {
        end(k, RK_LLM_FAIL_PROTOCOL, "not an HTTP/1.1 answer: %s", rk_strerror(rc));
        return;
    }
    s->status = k->resp.status;
    if (k->resp.done)
        complete(k);
}

static void on_writable(conn_t *k)
{
    if (k->req_off == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            end(k, RK_LLM_FAIL_CONNECT, "connect: %s", strerror(err));
            return;
        }
    }
    /* Sent: when the last write began. The answer's bytes carry the
     * kernel's receive time, which can come before this write returns (a
     * quick server on the other core), never before it began. */
    int64_t began = rk_llm_now();
    ssize_t n = write(k->fd, k->req + k->req_off, k->req_len - k->req_off);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            end(k, RK_LLM_FAIL_CONNECT, "send: %s", strerror(errno));
        return;
    }
    k->req_off += (size_t)n;
    if (k->req_off < k->req_len)
        return;
    k->s->t_sent = began;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = k};
    epoll_ctl(k->c->ep, EPOLL_CTL_MOD, k->fd, &ev);
}

static conn_t *conn_get(rk_llm_client_t *c)
{
    conn_t *k = c->free_list;
    if (k) {
        c->free_list = k->next;
        rk_llm_resp_reset(&k->resp);
        rk_llm_sse_reset(&k->sse);
        rk_buf_reset(&k->body);
    } else {
        if (!(k = calloc(1, sizeof *k)))
            return NULL;
        rk_llm_resp_init(&k->resp);
        rk_llm_sse_init(&k->sse, on_event, k);
        rk_buf_init(&k->body, RK_LLM_ERROR_BODY_CAP);
        k->all_next = c->all;
        c->all = k;
    }
    k->c = c;
    k->fd = -1;
    k->next = NULL;
    k->saw_done = false;
    return k;
}

int rk_llm_client_start(rk_llm_client_t *c, const char *req, size_t len, rk_llm_sample_t *s,
                        bool keep_text)
{
    conn_t *k = conn_get(c);
    if (!k)
        return RK_ENOMEM;
    s->t_start = rk_llm_now();
    c->open++;
    k->s = s;
    k->req = req;
    k->req_len = len;
    k->req_off = 0;
    k->keep_text = keep_text;
    int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        end(k, RK_LLM_FAIL_CONNECT, "socket: %s", strerror(errno));
        return 0;
    }
    k->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one); /* receive times */
    if (connect(fd, (struct sockaddr *)&c->addr, c->addrlen) < 0 && errno != EINPROGRESS) {
        end(k, RK_LLM_FAIL_CONNECT, "connect: %s", strerror(errno));
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = k};
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        end(k, RK_LLM_FAIL_CONNECT, "epoll: %s", strerror(errno));
    return 0;
}

/* Hands the ended requests to done and recycles their connections. */
static int flush_ended(rk_llm_client_t *c, rk_llm_done_cb done, void *ud)
{
    int n = 0;
    while (c->ended) {
        conn_t *k = c->ended;
        c->ended = k->next;
        k->next = c->free_list;
        c->free_list = k;
        c->open--;
        n++;
        done(k->s, ud);
    }
    return n;
}

int rk_llm_client_poll(rk_llm_client_t *c, int64_t until_ns, rk_llm_done_cb done, void *ud)
{
    struct epoll_event evs[EVENTS_MAX];
    for (;;) {
        if (c->ended)
            return flush_ended(c, done, ud);
        int timeout = -1;
        if (until_ns < 0) {
            timeout = 0;
        } else if (until_ns > 0) {
            int64_t left = until_ns - rk_llm_now();
            if (left <= 0)
                return 0;
            /* Rounded up: a wake-up is never early, at most 1 ms late. */
            timeout = (int)((left + 999999) / 1000000);
        }
        if (c->open == 0 && timeout < 0)
            return 0;
        int n = epoll_wait(c->ep, evs, EVENTS_MAX, timeout);
        if (n < 0 && errno != EINTR)
            return RK_EIO;
        for (int i = 0; i < n; i++) {
            conn_t *k = evs[i].data.ptr;
            if (k->fd < 0)
                continue; /* ended earlier in this batch */
            if (evs[i].events & EPOLLOUT)
                on_writable(k);
            else if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                on_readable(k);
        }
        if (n <= 0 && until_ns < 0)
            return flush_ended(c, done, ud);
    }
}

size_t rk_llm_client_open(const rk_llm_client_t *c)
{
    return c->open;
}

static void free_conn(conn_t *k)
{
    rk_llm_resp_cleanup(&k->resp);
    rk_llm_sse_cleanup(&k->sse);
    rk_buf_cleanup(&k->body);
    free(k);
}

void rk_llm_client_free(rk_llm_client_t *c)
{
    if (!c)
        return;
    close(c->ep);
    while (c->all) {
        conn_t *k = c->all;
        c->all = k->all_next;
        if (k->fd >= 0)
            close(k->fd);
        free_conn(k);
    }
    free(c->rbuf);
    free(c);
}
