/* The in-memory index of the agent's jobs: a hash by id and the list of
 * all jobs, newest first. mu held for every call. */
#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"

static unsigned hash_id(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % JOB_BUCKETS;
}

job_t *agent__job_find(rk_agent_t *a, const char *id)
{
    for (job_t *j = a->buckets[hash_id(id)]; j; j = j->hnext)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

void agent__job_insert(rk_agent_t *a, job_t *j)
{
    unsigned h = hash_id(j->id);
    j->hnext = a->buckets[h];
    a->buckets[h] = j;
    j->next = a->jobs;
    a->jobs = j;
}

void agent__job_remove(rk_agent_t *a, job_t *j)
{
    for (job_t **p = &a->buckets[hash_id(j->id)]; *p; p = &(*p)->hnext)
        if (*p == j) {
            *p = j->hnext;
            break;
        }
    for (job_t **p = &a->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
}

void agent__job_free(job_t *j)
{
    if (!j)
        return;
    free(j->experiment_id);
    free(j->dir);
    free(j->message);
    free(j->rec);
    json_decref(j->request);
    if (j->has_req)
        rk_execute_request_cleanup(&j->req);
    rk_runs_free(j->runs, (size_t)j->runs_done);
    free(j);
}
