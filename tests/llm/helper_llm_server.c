/* The deterministic OpenAI-compatible test server (llm_server.h). */
#include "llm_server.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct llm_server {
    llm_server_cfg_t cfg;
    int lfd;
    int port;
    pthread_t acceptor;
    atomic_bool stop;
    atomic_int active; /* connection threads running */
    atomic_uint_fast64_t requests;
    struct {
        atomic_llong first, last;
    } timing[LLM_SERVER_TIMINGS];
    /* Stamped sends: how long after its stamp each send() returned. */
    atomic_ullong stamped, late_50us, late_1ms;
    atomic_llong late_max_ns;
};

typedef struct conn {
    llm_server_t *s;
    int fd;
    char out[1 << 16]; /* events gathered for one write */
    size_t out_len;
    bool broken; /* a write failed: the client is gone */
} conn_t;

int64_t llm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

size_t llm_event_frame(char *out, size_t cap, const char *data)
{
    int n = snprintf(out, cap, "%zx\r\ndata: %s\n\n\r\n", strlen(data) + 8, data);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

void llm_usage_json(char *buf, size_t n, int tokens)
{
    snprintf(buf, n,
             "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,"
             "\"completion_tokens\":%d,\"total_tokens\":%d}}",
             tokens, tokens + 7);
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void write_all(conn_t *k, const char *p, size_t n)
{
    while (n && !k->broken) {
        ssize_t w = send(k->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            k->broken = true;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void flush(conn_t *k)
{
    write_all(k, k->out, k->out_len);
    k->out_len = 0;
}

/* One SSE event as one HTTP chunk, gathered; flushed when flush is set or
 * the buffer is nearly full. */
static void event(conn_t *k, const char *data, bool now)
{
    size_t dl = strlen(data);
    if (k->out_len + dl + 64 > sizeof k->out)
        flush(k);
    k->out_len += llm_event_frame(k->out + k->out_len, sizeof k->out - k->out_len, data);
    if (now)
        flush(k);
}

void llm_chunk_json(char *buf, size_t n, bool chat, const char *content, int i, int tokens,
                    bool usage)
{
    char u[128] = "";
    if (usage)
        snprintf(u, sizeof u,
                 ",\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":%d,"
                 "\"total_tokens\":%d}",
                 tokens, tokens + 7);
    if (chat)
        snprintf(buf, n,
                 "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
                 "\"delta\":{\"content\":\"%s\"},\"finish_reason\":%s}]%s}",
                 content, i == tokens - 1 ? "\"length\"" : "null", u);
    else
        snprintf(buf, n,
                 "{\"id\":\"c\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,"
                 "\"text\":\"%s\",\"finish_reason\":%s}]%s}",
                 content, i == tokens - 1 ? "\"length\"" : "null", u);
}

static void stream(conn_t *k, bool chat, int tokens, bool faulty, uint64_t nr)
{
    const llm_server_cfg_t *c = &k->s->cfg;
    int64_t first = 0, last = 0;
    llm_fault_t fault = faulty ? c->fault : LLM_FAULT_NONE;
    int64_t t0 = llm_now_ns();
    if (c->slow_headers_us)
        sleep_until(t0 + c->slow_headers_us * 1000);
    if (fault == LLM_FAULT_HTTP_500) {
        const char *b = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}";
        char h[256];
        int n = snprintf(h, sizeof h,
                         "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(b), b);
        write_all(k, h, (size_t)n);
        return;
    }
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    write_all(k, head, strlen(head));
    char buf[512], text[32];
    if (chat && c->role_first) {
        event(k,
              "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
              "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}",
              true);
    }
    bool flat_out = c->itl_us == 0;
    int batch = c->batch > 0 ? c->batch : 1;
    for (int i = 0; i < tokens && !k->broken; i++) {
        if (atomic_load(&k->s->stop))
            return;
        if ((fault == LLM_FAULT_ERROR_EVENT || fault == LLM_FAULT_DROP) && i == c->fault_after)
            break;
        if (!flat_out || i == 0)
            sleep_until(t0 + (c->ttft_us + (int64_t)i * c->itl_us) * 1000);
        /* Taken before the write, so no reader can see the bytes earlier. */
        last = llm_now_ns();
        if (i == 0)
            first = last;
        if (c->stamp)
            snprintf(text, sizeof text, "t%lld ", (long long)last);
        else
            snprintf(text, sizeof text, "w%d ", i);
        llm_chunk_json(buf, sizeof buf, chat, text, i, tokens,
                       c->usage == LLM_USAGE_LAST && i == tokens - 1);
        bool now = !flat_out || (i + 1) % batch == 0;
        event(k, buf, now);
        if (c->stamp && now) { /* how late the stamp is against the send */
            int64_t d = llm_now_ns() - last;
            atomic_fetch_add(&k->s->stamped, 1);
            if (d > 50000)
                atomic_fetch_add(&k->s->late_50us, 1);
            if (d > 1000000)
                atomic_fetch_add(&k->s->late_1ms, 1);
            int64_t m = atomic_load(&k->s->late_max_ns);
            while (d > m && !atomic_compare_exchange_weak(&k->s->late_max_ns, &m, d))
                ;
        }
    }
    if (nr <= LLM_SERVER_TIMINGS && first) {
        atomic_store(&k->s->timing[nr - 1].first, first);
        atomic_store(&k->s->timing[nr - 1].last, last);
    }
    if (fault == LLM_FAULT_DROP) {
        flush(k);
        struct linger l = {1, 0}; /* close with a reset */
        setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        return;
    }
    if (fault == LLM_FAULT_ERROR_EVENT)
        event(k, "{\"error\":{\"message\":\"boom mid-stream\",\"type\":\"server_error\"}}", false);
    if (fault == LLM_FAULT_NONE && c->usage == LLM_USAGE_SEPARATE) {
        llm_usage_json(buf, sizeof buf, tokens);
        event(k, buf, false);
    }
    if (fault != LLM_FAULT_NO_DONE)
        event(k, "[DONE]", false);
    flush(k);
    write_all(k, "0\r\n\r\n", 5);
}

/* Reads one request: its head and Content-Length body. */
static int read_request(int fd, char *buf, size_t cap, char **body, size_t *body_len)
{
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n == cap - 1)
            return -1;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    size_t have = n - (size_t)(end + 4 - buf);
    if ((size_t)(end + 4 - buf) + want >= cap)
        return -1;
    while (have < want) {
        ssize_t r = recv(fd, buf + n, want - have, 0);
        if (r <= 0)
            return -1;
        n += (size_t)r;
        have += (size_t)r;
    }
    buf[n] = '\0';
    *body = end + 4;
    *body_len = want;
    return 0;
}

static bool has_key(const char *head, const char *end, const char *key)
{
    char want[512];
    snprintf(want, sizeof want, "\r\nAuthorization: Bearer %s\r\n", key);
    const char *at = strstr(head, want);
    return at && at < end;
}

static void *serve(void *arg)
{
    conn_t *k = arg;
    llm_server_t *s = k->s;
    const size_t cap = 1 << 20;
    char *req = malloc(cap), *body;
    size_t blen;
    if (req && read_request(k->fd, req, cap, &body, &blen) == 0) {
        if (strncmp(req, "GET /health ", 12) == 0) {
            const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            write_all(k, ok, strlen(ok));
        } else if (s->cfg.api_key && !has_key(req, body, s->cfg.api_key)) {
            const char *no = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
            write_all(k, no, strlen(no));
        } else if (strncmp(req, "POST ", 5) == 0) {
            bool chat = strstr(req, "/chat/completions") && strstr(req, "/chat/completions") < body;
            json_t *j = json_loadb(body, blen, 0, NULL);
            int max_tokens = (int)json_integer_value(json_object_get(j, "max_tokens"));
            json_decref(j);
            int tokens = s->cfg.tokens ? s->cfg.tokens : max_tokens > 0 ? max_tokens : 16;
            uint64_t nr = atomic_fetch_add(&s->requests, 1) + 1;
            bool faulty = s->cfg.fault != LLM_FAULT_NONE &&
                          (s->cfg.fault_every <= 0 || nr % (uint64_t)s->cfg.fault_every == 0);
            stream(k, chat, tokens, faulty, nr);
        } else {
            const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
            write_all(k, nf, strlen(nf));
        }
    }
    free(req);
    close(k->fd);
    free(k);
    atomic_fetch_sub(&s->active, 1);
    return NULL;
}

static void *accept_loop(void *arg)
{
    llm_server_t *s = arg;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (atomic_load(&s->stop)) {
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                usleep(1000);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *k = malloc(sizeof *k);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 << 10);
        if (k) {
            k->s = s;
            k->fd = fd;
            k->out_len = 0;
            k->broken = false;
            atomic_fetch_add(&s->active, 1);
        }
        if (!k || pthread_create(&t, &at, serve, k) != 0) {
            if (k)
                atomic_fetch_sub(&s->active, 1);
            free(k);
            close(fd);
        }
        pthread_attr_destroy(&at);
    }
}

int llm_server_start(const llm_server_cfg_t *cfg, llm_server_t **out)
{
    llm_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->cfg = *cfg;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)cfg->port)};
    socklen_t len = sizeof a;
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->lfd, 4096) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &len) != 0 ||
        pthread_create(&s->acceptor, NULL, accept_loop, s) != 0) {
        if (s->lfd >= 0)
            close(s->lfd);
        free(s);
        return -1;
    }
    s->port = ntohs(a.sin_port);
    *out = s;
    return 0;
}

int llm_server_port(const llm_server_t *s)
{
    return s->port;
}

uint64_t llm_server_requests(const llm_server_t *s)
{
    return atomic_load(&((llm_server_t *)s)->requests);
}

void llm_server_stamp_late(const llm_server_t *s, uint64_t *stamped, uint64_t *late_50us,
                           uint64_t *late_1ms, int64_t *max_ns)
{
    llm_server_t *m = (llm_server_t *)s;
    *stamped = atomic_load(&m->stamped);
    *late_50us = atomic_load(&m->late_50us);
    *late_1ms = atomic_load(&m->late_1ms);
    *max_ns = atomic_load(&m->late_max_ns);
}

bool llm_server_timing(const llm_server_t *s, uint64_t i, int64_t *first_ns, int64_t *last_ns)
{
    if (i >= LLM_SERVER_TIMINGS)
        return false;
    llm_server_t *m = (llm_server_t *)s;
    *first_ns = atomic_load(&m->timing[i].first);
    *last_ns = atomic_load(&m->timing[i].last);
    return *first_ns > 0;
}

void llm_server_stop(llm_server_t *s)
{
    atomic_store(&s->stop, true);
    /* Wake the acceptor with a connection of our own. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)s->port)};
    if (fd >= 0) {
        connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
    }
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    while (atomic_load(&s->active) > 0)
        usleep(1000);
    free(s);
}
