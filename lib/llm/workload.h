/* The requests a run sends: one ready-to-send HTTP request per prompt
 * (inline prompts, a JSONL dataset on the agent, or synthetic prompts of a
 * given length), built once before the first stage so no stage pays for
 * JSON encoding while it measures.
 */
#ifndef RK_LLM_WORKLOAD_H
#define RK_LLM_WORKLOAD_H

#include <stddef.h>

#include "model/params_llm.h"

typedef struct rk_llm_request {
    char *bytes; /* the whole HTTP/1.1 request */
    size_t len;
    char *reference; /* NULL: nothing to score against */
} rk_llm_request_t;

typedef struct rk_llm_workload {
    rk_llm_request_t *reqs;
    size_t n;
    bool has_references; /* some request has one */
} rk_llm_workload_t;

/* Where and how requests go: Host header value, request path
 * ("/v1/chat/completions"), and an API key (NULL: none). */
typedef struct rk_llm_target_http {
    const char *host;
    const char *path;
    const char *api_key;
} rk_llm_target_http_t;

/* Builds the workload of p. A dataset that cannot be read, or a line of it
 * that is not a JSON prompt object, fails with RK_EINVAL and err saying
 * which ("dataset_path line 3: not JSON: ..."). *out is freeable after a
 * failure too. */
int rk_llm_workload_build(const rk_llm_params_t *p, const rk_llm_target_http_t *t,
                          rk_llm_workload_t *out, char *err, size_t errlen);
void rk_llm_workload_cleanup(rk_llm_workload_t *w);

#endif
