/* A page of a listing written as JSON text straight into one buffer, the
 * stored texts spliced in (model/job_text.h) rather than decoded and
 * encoded again. Internal to lib/server.
 */
#ifndef RK_SERVER_JOB_PAGE_H
#define RK_SERVER_JOB_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "http/server.h"
#include "model/job.h"

/* Appends the GET /results body {"results":[t0,...],"next_cursor":"N"}
 * (next_cursor only when not 0), what encoding the decoded page gave,
 * byte for byte when the texts are the store's. RK_ETOOBIG, RK_ENOMEM. */
int rk_srv_results_page(rk_buf_t *out, char *const *texts, size_t n, int64_t next_cursor);
/* Appends the GET /jobs body {"jobs":{"<agent or any>":[job,...],...},
 * "total":T,"next_cursor":"N"}: the groups in the order their first job
 * comes in the page, each group's jobs in page order, each job as
 * rk_job_info_text writes it (next_cursor only when not 0). What the
 * route's jansson tree gave, byte for byte. RK_ETOOBIG, RK_ENOMEM. */
int rk_srv_jobs_page(rk_buf_t *out, const rk_job_info_t *jobs, size_t n, int64_t total,
                     int64_t next_cursor);
/* Answers 200 with the JSON text in b (taken: b is left empty); a 500 when
 * memory runs out. */
int rk_srv_resp_json_buf(rk_http_resp_t *resp, rk_buf_t *b);

#endif
