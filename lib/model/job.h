/* Job models of the wire protocol: JobStatus and JobInfo, and job ids.
 *
 * Decoders take the JSON value v and its path ("" at the top level, or where
 * the value sits in a larger document, e.g. "status"), validate it and fill
 * *out. On success *out owns everything in it (free with the _cleanup
 * function). On failure *out is left empty (its _cleanup is harmless), e
 * holds "path.field: reason" and RK_EINVAL (or RK_ENOMEM) is returned.
 * Unknown fields are ignored. Encoders return a new JSON object (json_decref
 * it), or NULL when memory runs out.
 */
#ifndef RK_MODEL_JOB_H
#define RK_MODEL_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/time.h"
#include "model/enums.h"
#include "model/json.h"

/* "job_" + 8 hex digits + NUL. */
#define RK_JOB_ID_SIZE 13
/* Longest status message kept; longer ones are rejected on decode. */
#define RK_JOB_MESSAGE_MAX 65536
/* Most history entries a JobInfo may carry. */
#define RK_JOB_HISTORY_MAX 1024

typedef struct rk_job_status {
    rk_job_state_t status;
    rk_time_t timestamp;
    char *message;     /* "" when absent on the wire; NULL encodes as "" */
    bool has_progress; /* progress is meaningful only when set */
    double progress;   /* 0..1 */
    char *job_id;      /* only in the agent's GET /status/{job_id}; NULL otherwise */
} rk_job_status_t;

typedef struct rk_job_info {
    char *job_id;
    char *experiment_id;
    /* NULL until a job submitted without one ("any") is placed: encoded as
     * JSON null, and decoded from null or an absent field. */
    char *agent_id;
    rk_time_t created_time;
    /* v1 extensions. priority: absent on the wire decodes as medium (a
     * zeroed struct is low: creators set it). exclusive: runs alone on its
     * agent. selector_labels: agent_selector.labels ({key: value} that a
     * placed agent's labels must hold), owned, NULL for none; the server
     * stores {} for a job submitted to any agent without labels, so that
     * outlives its placement. Encoded as "agent_selector": {"labels": ...}
     * only when set and not empty. */
    rk_job_priority_t priority;
    bool exclusive;
    json_t *selector_labels;
    /* Jobs over time (issue 12): an object holding any of attempt,
     * max_attempts, retry, retry_of, depends_on, dependency, waiting_for,
     * not_before and schedule_id, stored whole by every backend and merged
     * into the JobInfo object on encode (its keys beside the others). Owned,
     * NULL when the job has none of them. Decode gathers those keys when
     * present. RK_JOB_EXTRA_KEYS lists them. */
    json_t *extra;
    /* The Idempotency-Key of the POST /jobs that created it and the
     * fingerprint of that request (32 hex digits: the MD5 of its body as
     * canonical JSON), both
     * NULL for a job created without one. Kept by the store with the job
     * (its lookup is rk_store_job_find_key), never on the wire. */
    char *idem_key;
    char *idem_fp;
    rk_job_status_t status;
    /* Oldest first. Encoded only when has_history is set (GET /jobs/{id});
     * decode sets it when the document has a history array. */
    bool has_history;
    rk_job_status_t *history;
    size_t n_history;
} rk_job_info_t;

/* The keys rk_job_info_t.extra may hold, NULL-terminated. */
extern const char *const RK_JOB_EXTRA_KEYS[];

/* Writes a fresh job id "job_" + 8 random lowercase hex digits (from
 * getrandom) into out. RK_EIO when the kernel gives no randomness. The
 * caller still checks uniqueness against its store. */
int rk_job_id_generate(char out[RK_JOB_ID_SIZE]);
/* True when s has exactly the shape rk_job_id_generate produces. Decoders
 * accept any id (rk_id_valid), as peers may choose ids of other shapes. */
bool rk_job_id_valid(const char *s);

/* JobStatus. job_id is read when present and encoded when not NULL. */
int rk_job_status_decode(const json_t *v, const char *path, rk_job_status_t *out, rk_verr_t *e);
json_t *rk_job_status_encode(const rk_job_status_t *s);
/* Deep copy into *dst (which is overwritten, not freed). On failure *dst is
 * empty and RK_ENOMEM is returned. */
int rk_job_status_copy(const rk_job_status_t *src, rk_job_status_t *dst);
bool rk_job_status_equal(const rk_job_status_t *a, const rk_job_status_t *b);
/* Frees the strings and leaves *s zeroed. */
void rk_job_status_cleanup(rk_job_status_t *s);

/* agent_selector of object v (absent, null, {} or {labels: {}}: *labels
 * NULL; else a new reference to a validated copy of its labels). */
int rk_job_selector_decode(const json_t *v, const char *path, json_t **labels, rk_verr_t *e);

/* JobInfo. */
int rk_job_info_decode(const json_t *v, const char *path, rk_job_info_t *out, rk_verr_t *e);
json_t *rk_job_info_encode(const rk_job_info_t *j);
int rk_job_info_copy(const rk_job_info_t *src, rk_job_info_t *dst);
bool rk_job_info_equal(const rk_job_info_t *a, const rk_job_info_t *b);
/* Appends a copy of st to the history (setting has_history). On failure
 * the history is unchanged. */
int rk_job_info_history_add(rk_job_info_t *j, const rk_job_status_t *st);
void rk_job_info_cleanup(rk_job_info_t *j);

#endif
