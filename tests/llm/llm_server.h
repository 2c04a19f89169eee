/* A deterministic OpenAI-compatible streaming server for tests and
 * benchmarks: POST /v1/completions and /v1/chat/completions answer an SSE
 * stream (HTTP/1.1 chunked, one connection per request) with known timing,
 * known token counts and the faults real servers show; GET /health answers
 * 200. One thread accepts, one thread serves each connection, sleeping to
 * absolute CLOCK_MONOTONIC deadlines so the timings hold to microseconds.
 */
#ifndef RK_TEST_LLM_SERVER_H
#define RK_TEST_LLM_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum llm_usage {
    LLM_USAGE_SEPARATE, /* a last chunk with "choices": [] and the usage */
    LLM_USAGE_LAST,     /* on the last content chunk */
    LLM_USAGE_NONE,     /* none: the client counts chunks */
} llm_usage_t;

typedef enum llm_fault {
    LLM_FAULT_NONE,
    LLM_FAULT_ERROR_EVENT, /* 200, fault_after chunks, then an error event */
    LLM_FAULT_DROP,        /* 200, fault_after chunks, then a reset connection */
    LLM_FAULT_NO_DONE,     /* every chunk, a clean end, no [DONE] */
    LLM_FAULT_HTTP_500,    /* a 500 with a JSON error body */
} llm_fault_t;

typedef struct llm_server_cfg {
    int64_t ttft_us; /* request read -> first content chunk written */
    int64_t itl_us;  /* between content chunks */
    int tokens;      /* content chunks; 0: the request's max_tokens */
    llm_usage_t usage;
    bool role_first; /* chat: a role-only chunk at once, before the TTFT */
    llm_fault_t fault;
    int fault_every;         /* the fault hits requests number k * fault_every (1-based); 0: all */
    int fault_after;         /* content chunks before a mid-stream fault */
    int64_t slow_headers_us; /* delay before the response head */
    int batch;               /* events per write() when itl_us is 0 (streaming flat out); >= 1 */
    int port;                /* 0: any free port */
    bool stamp;              /* content "t<ns> ": the monotonic time it was written */
    const char *api_key;     /* set: POSTs without "Authorization: Bearer <key>" get 401 */
} llm_server_cfg_t;

typedef struct llm_server llm_server_t;

/* Starts a server on 127.0.0.1; 0 or -1. */
int llm_server_start(const llm_server_cfg_t *cfg, llm_server_t **out);
int llm_server_port(const llm_server_t *s);
/* Requests answered so far (POSTs). */
uint64_t llm_server_requests(const llm_server_t *s);
/* When the server wrote request i's first and last content chunk (the
 * clock read just before each write; i 0-based, in the order requests
 * were read; the first LLM_SERVER_TIMINGS only), CLOCK_MONOTONIC ns, the
 * client's clock when the server runs in its process. On a loaded machine the scheduler wakes the
 * server late; these times are the truth the client's timestamps are checked against. false when
 * unknown. */
#define LLM_SERVER_TIMINGS 4096
bool llm_server_timing(const llm_server_t *s, uint64_t i, int64_t *first_ns, int64_t *last_ns);
/* With stamp: how many stamped chunks were sent, how many of those sends
 * returned more than 50 us and more than 1 ms after the stamp was taken
 * (the thread was preempted or the send waited), and the longest. */
void llm_server_stamp_late(const llm_server_t *s, uint64_t *stamped, uint64_t *late_50us,
                           uint64_t *late_1ms, int64_t *max_ns);
/* Pieces both servers write (helper_llm_server.c). CLOCK_MONOTONIC in ns. */
int64_t llm_now_ns(void);
/* data as one SSE event in one HTTP chunk into out; its length, 0 when it
 * does not fit. */
size_t llm_event_frame(char *out, size_t cap, const char *data);
/* Content chunk i of tokens (chat or completions), with the usage when
 * usage is set. */
void llm_chunk_json(char *buf, size_t n, bool chat, const char *content, int i, int tokens,
                    bool usage);
/* The last chunk that carries only the usage ("choices": []). */
void llm_usage_json(char *buf, size_t n, int tokens);

/* The same server on the calling thread with one epoll loop (helper_llm_
 * loop.c: paced streams only, no faults or API key) until one of the
 * signals in stop arrives (they must be blocked). 0, or 1 when it cannot
 * listen. */
int llm_loop_run(const llm_server_cfg_t *cfg, const sigset_t *stop);
/* Stops accepting, ends open streams at their next chunk, waits for their
 * threads, frees s. */
void llm_server_stop(llm_server_t *s);

#endif
