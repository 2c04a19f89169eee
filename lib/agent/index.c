/* The in-memory index of the agent's jobs: a hash by id, the list of all
 * jobs and the open list (assigned or running), both newest first, and
 * the latest RECENT_MAX finished jobs in order of their end. mu held for
 * every call.
 *
 * GET /status (the server's health check) lists the open jobs and the
 * latest finished ones; it used to sort every retained job under mu
 * (4 ms at 30,000). Keeping both lists as jobs change makes it cost the
 * open jobs plus RECENT_MAX, whatever the retention. */
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

/* Puts finished j into a->recent at its place (latest finished_at first;
 * after the jobs that ended at the same time) when it is among the latest
 * RECENT_MAX. */
static void recent_add(rk_agent_t *a, job_t *j)
{
    int n = a->n_recent;
    if (n == RECENT_MAX && j->finished_at <= a->recent[n - 1]->finished_at)
        return;
    int lo = 0, hi = n; /* first entry that ended strictly before j */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (a->recent[mid]->finished_at >= j->finished_at)
            lo = mid + 1;
        else
            hi = mid;
    }
    int keep = n < RECENT_MAX ? n : RECENT_MAX - 1;
    memmove(&a->recent[lo + 1], &a->recent[lo], (size_t)(keep - lo) * sizeof a->recent[0]);
    a->recent[lo] = j;
    if (n < RECENT_MAX)
        a->n_recent++;
    a->recent_gen++;
}

static void open_unlink(rk_agent_t *a, job_t *j)
{
    if (j->oprev)
        j->oprev->onext = j->onext;
    else if (a->open == j)
        a->open = j->onext;
    if (j->onext)
        j->onext->oprev = j->oprev;
    j->onext = j->oprev = NULL;
}

void agent__job_insert(rk_agent_t *a, job_t *j)
{
    unsigned h = hash_id(j->id);
    j->hnext = a->buckets[h];
    a->buckets[h] = j;
    j->prev = NULL;
    j->next = a->jobs;
    if (a->jobs)
        a->jobs->prev = j;
    a->jobs = j;
    if (rk_job_state_terminal(j->state)) {
        recent_add(a, j);
        return;
    }
    j->oprev = NULL;
    j->onext = a->open;
    if (a->open)
        a->open->oprev = j;
    a->open = j;
}

void agent__recent_settle(rk_agent_t *a)
{
    if (!a->recent_stale)
        return;
    a->n_recent = 0;
    a->recent_gen++;
    for (job_t *k = a->jobs; k; k = k->next)
        if (rk_job_state_terminal(k->state))
            recent_add(a, k);
    a->recent_stale = false;
}

void agent__job_finished(rk_agent_t *a, job_t *j)
{
    open_unlink(a, j);
    recent_add(a, j);
}

void agent__job_remove(rk_agent_t *a, job_t *j)
{
    open_unlink(a, j);
    for (int i = 0; i < a->n_recent; i++) {
        if (a->recent[i] != j)
            continue;
        /* Out of the list; the older job that now belongs in it is put
         * back by agent__recent_settle (a sweep that removes many listed
         * jobs pays one walk, not one per job). */
        memmove(&a->recent[i], &a->recent[i + 1],
                (size_t)(a->n_recent - i - 1) * sizeof a->recent[0]);
        a->n_recent--;
        a->recent_stale = true;
        a->recent_gen++;
        break;
    }

    for (job_t **p = &a->buckets[hash_id(j->id)]; *p; p = &(*p)->hnext)
        if (*p == j) {
            *p = j->hnext;
            break;
        }
    /* O(1): the retention sweep may remove most of 100,000 jobs. */
    if (j->prev)
        j->prev->next = j->next;
    else if (a->jobs == j)
        a->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->next = j->prev = NULL;
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
    agent__isolation_end(j, NULL, NULL);
    free(j);
}
