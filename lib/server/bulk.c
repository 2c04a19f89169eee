/* Bulk cancel (jobs layer, manager thread; issue 11): DELETE /jobs with
 * filters cancels every unfinished job that matches, in one batch, so one
 * commit stores them all and the answer leaves after it.
 *
 * Every unfinished job is tracked by the manager, so the walk is over the
 * index of tracked jobs (not the store): its cost is one pass over the
 * unfinished jobs, whatever the store holds, and it sees held, queued and
 * running jobs alike.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"

static bool matches(const srv_job_t *j, const rk_srv_cancel_filter_t *f)
{
    if (j->st == SRV_J_RELEASING || srv__job_ended_here(j))
        return false;
    if (f->state_mask && !(f->state_mask & (1u << j->status)))
        return false;
    /* agent_id "any": the jobs not placed yet */
    if (f->agent_id && (!j->agent || (j->agent->id ? strcmp(j->agent->id, f->agent_id) != 0
                                                   : strcmp(f->agent_id, "any") != 0)))
        return false;
    if (f->experiment_id && strcmp(j->experiment_id, f->experiment_id) != 0)
        return false;
    if (f->priority >= 0 && (int)j->prio != f->priority)
        return false;
    if (f->created_before && !(j->created < f->created_before))
        return false;
    return true;
}

void srv__jobs_cancel_many(rk_srv_mgr_t *m, rk_http_wait_t *w, const rk_srv_cancel_filter_t *f)
{
    json_t *ids = json_array();
    if (!ids) {
        srv__release(m, w);
        return;
    }
    size_t pos = 0, n = 0;
    /* Cancelling changes no slot of the index (jobs are freed after the
     * commit), so the walk sees each job once. */
    for (srv_job_t *j; (j = srv__index_next(&m->index, &pos));) {
        if (!matches(j, f))
            continue;
        srv__job_cancel(m, j, f->force);
        json_array_append_new(ids, json_string(j->job_id));
        n++;
    }
    m->again = true;
    srv__answer_change(m, w, 200,
                       json_pack("{s:I,s:o}", "cancelled", (json_int_t)n, "job_ids", ids));
}
