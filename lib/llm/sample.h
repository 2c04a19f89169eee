/* One request's raw record: what the load generator saw, when, as the
 * bytes arrived. Metrics (metrics.h) are computed from these alone, and
 * they are kept whole in the job's requests.jsonl artifact.
 *
 * Times are CLOCK_MONOTONIC nanoseconds; 0 means "did not happen".
 */
#ifndef RK_LLM_SAMPLE_H
#define RK_LLM_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a request failed. A stream that answered 200 and then sent an error
 * event, ended without [DONE], or broke is a failure, never a success. */
typedef enum rk_llm_fail {
    RK_LLM_FAIL_NONE,     /* succeeded */
    RK_LLM_FAIL_CONNECT,  /* no connection (refused, unreachable, reset before an answer) */
    RK_LLM_FAIL_HTTP,     /* an answer other than 200 */
    RK_LLM_FAIL_EVENT,    /* 200, then an error event in the stream */
    RK_LLM_FAIL_NO_DONE,  /* the stream ended cleanly without "data: [DONE]" */
    RK_LLM_FAIL_BROKEN,   /* the connection broke mid-answer */
    RK_LLM_FAIL_PROTOCOL, /* bytes that are not HTTP/1.1 or SSE or JSON */
    RK_LLM_FAIL_COUNT
} rk_llm_fail_t;

/* "connect", "http", "error_event", "no_done", "broken", "protocol" ("ok"
 * for NONE): metric and JSONL names. */
const char *rk_llm_fail_name(rk_llm_fail_t f);

typedef struct rk_llm_sample {
    size_t prompt_index;
    int64_t t_start;       /* connect began */
    int64_t t_sent;        /* last byte of the request written */
    int64_t t_first_byte;  /* first byte of the answer read */
    int64_t t_first_token; /* first chunk with non-empty content read */
    int64_t t_end;         /* the request's end, success or not */
    int64_t *chunk_t;      /* read time of each content chunk */
    size_t n_chunks, cap_chunks;
    int64_t output_tokens; /* from usage, else n_chunks */
    int64_t input_tokens;  /* from usage, else 0 */
    bool usage;            /* the server's usage gave the counts */
    int status;            /* HTTP status, 0 if none came */
    rk_llm_fail_t fail;
    char *error; /* what went wrong, NULL on success */
    char *text;  /* the generated text, kept only when wanted (references) */
    size_t text_len;
} rk_llm_sample_t;

/* Frees the members and zeroes s. */
void rk_llm_sample_cleanup(rk_llm_sample_t *s);

#endif
