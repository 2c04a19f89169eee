/* Typed task.params of an llm_generation task (protocol.md, "LLM serving"):
 * the target (an endpoint, or a server the job starts), the workload, the
 * load stages and the SLOs.
 *
 * Decoded with the rest of task.params (params.h's rules: *out zeroed by
 * the decoder, freeable on failure, e says "path.field: reason"), so a
 * spec a runner could not use is refused with a 422 when it is created.
 * A dataset file lives on the agent and is read (and its lines checked)
 * only when the job runs.
 */
#ifndef RK_MODEL_PARAMS_LLM_H
#define RK_MODEL_PARAMS_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/json.h"

/* Caps, so a spec cannot make a runner allocate or open without bound. */
#define RK_LLM_PROMPTS_MAX 100000    /* inline prompts */
#define RK_LLM_STAGES_MAX 64         /* concurrency or request_rate levels */
#define RK_LLM_CONCURRENCY_MAX 10000 /* open streams of one stage */
#define RK_LLM_RATE_MAX 1e6          /* requests per second */
#define RK_LLM_REQUESTS_MAX 10000000 /* num_requests per stage */
#define RK_LLM_TOKENS_MAX 1000000    /* max_tokens, synthetic token counts */
#define RK_LLM_URL_MAX 2048
#define RK_LLM_TEXT_MAX (1u << 20) /* one prompt or reference */

typedef enum rk_llm_api { RK_LLM_API_COMPLETIONS, RK_LLM_API_CHAT } rk_llm_api_t;

typedef struct rk_llm_prompt {
    char *prompt;       /* exactly one of prompt and messages */
    json_t *messages;   /* [{role, content}], a reference owned here (chat only) */
    int64_t max_tokens; /* 0: the task's max_tokens */
    char *reference;    /* NULL: no expected answer */
} rk_llm_prompt_t;

typedef struct rk_llm_params {
    /* endpoint */
    char *base_url; /* "http://host[:port][/prefix]"; may hold "{port}" with a server */
    rk_llm_api_t api;
    char *model;
    /* server: started by the job when server_argc > 0 */
    char **server_argv; /* NULL-terminated; entries may hold "{port}", "{models_dir}" */
    size_t server_argc;
    char **server_env; /* "NAME=value" strings */
    size_t n_server_env;
    int64_t server_port;     /* 0: a free port picked when the job runs */
    char *ready_path;        /* default "/health" */
    int64_t ready_timeout_s; /* 1..86400, default 600 */
    /* workload: exactly one of prompts, dataset_path, synthetic */
    rk_llm_prompt_t *prompts;
    size_t n_prompts;
    char *dataset_path; /* absolute path on the agent, JSONL of prompt objects */
    bool synthetic;
    int64_t synthetic_input_tokens;  /* 1..RK_LLM_TOKENS_MAX */
    int64_t synthetic_output_tokens; /* 1..RK_LLM_TOKENS_MAX */
    int64_t synthetic_count;         /* distinct prompts, 1..RK_LLM_PROMPTS_MAX */
    /* load: exactly one of concurrency and request_rate */
    int64_t *concurrency;
    size_t n_concurrency;
    double *request_rate;
    size_t n_request_rate;
    double burstiness; /* gamma shape; 1 (default) is Poisson */
    /* per stage: num_requests, or duration_s when that is set */
    int64_t num_requests; /* default 100 */
    double duration_s;    /* 0: not used */
    int64_t warmup_requests;
    int64_t max_tokens; /* default 128 */
    bool has_temperature;
    double temperature;
    bool has_seed;
    int64_t seed;
    bool ignore_eos;
    /* SLOs for goodput, 0: not set */
    double slo_ttft_ms, slo_tpot_ms, slo_e2e_ms;
} rk_llm_params_t;

/* Decodes params (the task.params object, never NULL) at path into *out. */
int rk_llm_params_decode(const json_t *params, const char *path, rk_llm_params_t *out,
                         rk_verr_t *e);
/* Checks one prompt object ({prompt | messages, max_tokens?, reference?})
 * for the given API and fills *out (zeroed first); for inline prompts and
 * dataset lines alike. Same failure contract as the decoders. */
int rk_llm_prompt_decode(const json_t *v, const char *path, rk_llm_api_t api, rk_llm_prompt_t *out,
                         rk_verr_t *e);
/* Frees one prompt's members and zeroes it. */
void rk_llm_prompt_cleanup(rk_llm_prompt_t *p);
/* Frees everything and leaves *p zeroed. */
void rk_llm_params_cleanup(rk_llm_params_t *p);

#endif
