/* Agent models of the wire protocol: AgentInfo, RegisteredAgentInfo and
 * AgentStatus.
 *
 * Same conventions as model/job.h: decoders take the value and its path,
 * leave *out empty on failure with "path.field: reason" in e; encoders return
 * a new object or NULL when memory runs out; _cleanup frees and zeroes.
 *
 * AgentInfo is stored whole by the server, so the fields it does not know
 * (at the top level and inside capabilities) are kept and encoded again.
 * json_t members are references that may be shared with the decoded
 * document: treat them as read-only, or json_deep_copy before changing them.
 */
#ifndef RK_MODEL_AGENT_H
#define RK_MODEL_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/time.h"
#include "model/enums.h"
#include "model/json.h"

#define RK_AGENT_SLOTS_MAX 4096
#define RK_AGENT_NAME_MAX 256
#define RK_AGENT_URL_MAX 2048
/* AgentInfo labels (agent --label key=value): at most this many, keys of
 * 1..RK_LABEL_KEY_MAX characters from [A-Za-z0-9_.-/], string values of at
 * most RK_LABEL_VALUE_MAX bytes. */
#define RK_AGENT_LABELS_MAX 64
#define RK_LABEL_KEY_MAX 63
#define RK_LABEL_VALUE_MAX 255
/* AgentStatus lists: jobs an agent reports, and the latest results. */
#define RK_AGENT_JOBS_MAX 10000
#define RK_AGENT_RESULTS_MAX 100

typedef struct rk_agent_caps {
    int64_t slots; /* >= 1; 1 when absent on the wire */
    rk_task_type_t *task_types;
    size_t n_task_types;
    json_t *extra; /* unknown capability fields, or NULL */
} rk_agent_caps_t;

typedef struct rk_agent_info {
    char *agent_id;
    char *agent_name; /* NULL when absent */
    rk_agent_type_t agent_type;
    json_t *system_info; /* an object; never NULL after a decode */
    rk_agent_caps_t capabilities;
    rk_time_t last_updated;
    json_t *labels; /* object of string values (v1 extension), or NULL */
    json_t *extra;  /* unknown top-level fields, or NULL */
} rk_agent_info_t;

typedef struct rk_registered_agent {
    rk_agent_info_t info;
    char *agent_url;
    rk_time_t registered_at;
} rk_registered_agent_t;

typedef struct rk_result_ref {
    char *job_id;
    rk_time_t completed_at;
    char *result_type;
} rk_result_ref_t;

typedef struct rk_agent_status {
    char *agent_id;
    rk_agent_state_t status;
    char **running_jobs; /* job ids */
    size_t n_running;
    char **queued_jobs;
    size_t n_queued;
    char *current_job_id;        /* NULL when absent */
    char *current_experiment_id; /* NULL when absent */
    double uptime_seconds;       /* >= 0 */
    rk_time_t timestamp;
    rk_result_ref_t *available_results; /* at most RK_AGENT_RESULTS_MAX */
    size_t n_results;
} rk_agent_status_t;

/* True for an http:// or https:// URL with a host, no spaces or control
 * characters, at most RK_AGENT_URL_MAX characters. */
bool rk_agent_url_valid(const char *url);
/* True for a label key: 1..RK_LABEL_KEY_MAX characters of [A-Za-z0-9_.-/]. */
bool rk_label_key_valid(const char *key);
/* True when every label of want ({key: value}, NULL = none) is among the
 * agent's labels with the same value. */
bool rk_agent_info_labels_match(const rk_agent_info_t *a, const json_t *want);
/* Validates a labels object at path.field ("labels" of an AgentInfo, or of
 * an agent_selector): an object of at most RK_AGENT_LABELS_MAX valid keys
 * with string values. 0, or RK_EINVAL with the reason in e. */
int rk_labels_check(const json_t *labels, const char *path, rk_verr_t *e);
/* True when the agent lists task type t in its capabilities. */
bool rk_agent_info_can_run(const rk_agent_info_t *a, rk_task_type_t t);

/* AgentInfo. */
int rk_agent_info_decode(const json_t *v, const char *path, rk_agent_info_t *out, rk_verr_t *e);
json_t *rk_agent_info_encode(const rk_agent_info_t *a);
/* Deep copy (json members too) into *dst, which is overwritten. On failure
 * *dst is empty and RK_ENOMEM is returned. */
int rk_agent_info_copy(const rk_agent_info_t *src, rk_agent_info_t *dst);
bool rk_agent_info_equal(const rk_agent_info_t *a, const rk_agent_info_t *b);
void rk_agent_info_cleanup(rk_agent_info_t *a);

/* RegisteredAgentInfo: AgentInfo plus agent_url and registered_at, in one
 * flat object. */
int rk_registered_agent_decode(const json_t *v, const char *path, rk_registered_agent_t *out,
                               rk_verr_t *e);
json_t *rk_registered_agent_encode(const rk_registered_agent_t *r);
int rk_registered_agent_copy(const rk_registered_agent_t *src, rk_registered_agent_t *dst);
bool rk_registered_agent_equal(const rk_registered_agent_t *a, const rk_registered_agent_t *b);
void rk_registered_agent_cleanup(rk_registered_agent_t *r);

/* AgentStatus. */
int rk_agent_status_decode(const json_t *v, const char *path, rk_agent_status_t *out, rk_verr_t *e);
json_t *rk_agent_status_encode(const rk_agent_status_t *s);
bool rk_agent_status_equal(const rk_agent_status_t *a, const rk_agent_status_t *b);
void rk_agent_status_cleanup(rk_agent_status_t *s);

#endif
