/* Where a manager's jobs sit (jobs layer, manager thread): each agent's
 * queue (in dispatch order) and running list (the jobs holding its slots).
 * A job knows which list it is in, so it can leave it from anywhere.
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/mgr.h"

/* ---- the lists ---- */

static void link_back(srv_job_t **head, srv_job_t **tail, srv_job_t *j)
{
    j->next = NULL;
    j->prev = *tail;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void unlink_job(srv_job_t **head, srv_job_t **tail, srv_job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        *tail = j->prev;
    j->prev = j->next = NULL;
}

void srv__queue_push_back(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    link_back(&a->q_head, &a->q_tail, j);
    a->n_queued++;
    j->list = SRV_L_QUEUE;
}

void srv__queue_push_front(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    j->prev = NULL;
    j->next = a->q_head;
    if (a->q_head)
        a->q_head->prev = j;
    else
        a->q_tail = j;
    a->q_head = j;
    a->n_queued++;
    j->list = SRV_L_QUEUE;
}

void srv__running_add(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    link_back(&a->r_head, &a->r_tail, j);
    a->n_running++;
    j->list = SRV_L_RUNNING;
}

void srv__list_unlink(srv_job_t *j)
{
    srv_agent_t *a = j->agent;
    if (j->list == SRV_L_QUEUE) {
        unlink_job(&a->q_head, &a->q_tail, j);
        a->n_queued--;
    } else if (j->list == SRV_L_RUNNING) {
        unlink_job(&a->r_head, &a->r_tail, j);
        a->n_running--;
    }
    j->list = SRV_L_NONE;
}
