/* What one streamed event of an OpenAI-compatible completion says: the
 * content it carries (chat: choices[0].delta.content; completions:
 * choices[0].text), the usage when it has one (on a chunk of its own with
 * empty choices, or on the last content chunk), or an error (an object
 * with "error", as vLLM and OpenAI send one mid-stream with status 200).
 */
#ifndef RK_LLM_CHUNK_H
#define RK_LLM_CHUNK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/params_llm.h"

typedef struct rk_llm_chunk {
    json_t *root;        /* owns what content points into */
    const char *content; /* NULL or "" when the chunk carries none */
    size_t content_len;
    bool has_usage;
    int64_t prompt_tokens, completion_tokens;
    const char *error; /* the error's message (or "error"), NULL if none */
} rk_llm_chunk_t;

/* Reads the event data (len bytes). RK_EPROTO when it is not a JSON object.
 * Free *out with rk_llm_chunk_cleanup, on failure too. */
int rk_llm_chunk_parse(const char *data, size_t len, rk_llm_api_t api, rk_llm_chunk_t *out);
void rk_llm_chunk_cleanup(rk_llm_chunk_t *c);

#endif
