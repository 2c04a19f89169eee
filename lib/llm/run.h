/* One llm_generation run, start to end, in the job's child process (so
 * the agent itself never holds a load generator): start the managed server
 * if there is one, build the requests, a warm-up, each stage in turn,
 * stop the server; the metrics, and every request's raw record in
 * <out_dir>/requests.jsonl.
 *
 * The API key is read from the environment variable that
 * RUCKUS_LLM_API_KEY_ENV names (the agent's --llm-api-key-env), never from
 * the spec.
 */
#ifndef RK_LLM_RUN_H
#define RK_LLM_RUN_H

#include <jansson.h>
#include <stddef.h>

#include "model/params_llm.h"

/* Names the variable holding the API key. */
#define RK_LLM_API_KEY_ENV "RUCKUS_LLM_API_KEY_ENV"

/* Runs p. On success *metrics is a new object (every stage's metrics plus
 * throughput_tokens_per_sec, the best stage's output tokens/s, and
 * inference_time_seconds, all stages' time). A run whose every request
 * failed is a failure: RK_EIO with err naming the first error. out_dir
 * NULL: no requests.jsonl; else the run's samples are appended to it (a job's
 * runs share its output folder). */
int rk_llm_run(const rk_llm_params_t *p, const char *out_dir, json_t **metrics, char *err,
               size_t errlen);

#endif
