/* Pause and resume of the agent's own jobs (protocol.md, "Queue control").
 *
 * A paused job keeps its slot. One not started yet (assigned) is held: the
 * background thread starts only assigned jobs, so it waits until resumed.
 * A started one is frozen: its current run's process tree is stopped, and
 * its timeout clock with it (the supervisor's for the run, deadline_mono
 * for the runs after it), so the timeout counts running time only. A
 * paused job between two runs takes its next run when resumed.
 *
 * The state is one variable: paused, with started_at telling a held job
 * (0) from a frozen one. job.json records it; what a restart makes of a
 * paused job is recover.c's rule (docs/agent.md, "Pause and resume").
 */
#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"
#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "isolate/cgroup.h"

void agent__job_freeze(rk_agent_t *a, job_t *j, bool freeze)
{
    /* A job in a cgroup (isolation.c) is frozen by the cgroup freezer as
     * well: it also holds processes that left the process group (setsid,
     * double forks), and a frozen task cannot tell. The supervisor still
     * gets the call: it stops the timeout clock, and its SIGSTOP/SIGCONT to
     * the run's process group (it owns the group's lifetime: a group id is
     * only signalled while its leader is not reaped) covers the rest. */
    struct rk_cg *cg = agent__job_cgroup(j);
    /* A container is the runtime's to freeze (its processes are not in the
     * run's process group). */
    if (freeze)
        agent__container_freeze(a, j, true);
    if (cg && freeze && rk_cg_freeze(cg, true) != 0)
        rk_log_warn("cgroup freezer failed; stopping the process group only", "job_id", j->id);
    rk_exec_pause(a->sup, j->exec_id, freeze);
    if (cg && !freeze && rk_cg_freeze(cg, false) != 0)
        rk_log_warn("cgroup thaw failed", "job_id", j->id);
    if (!freeze)
        agent__container_freeze(a, j, false);
}

static void set_message(job_t *j, const char *text)
{
    char *m = strdup(text);
    if (m) {
        free(j->message);
        j->message = m;
    }
}

int agent__job_pause(rk_agent_t *a, job_t *j)
{
    /* A run being spawned has no exec id yet: wait for it (short). */
    while (j->spawning)
        pthread_cond_wait(&a->spawn_cond, &a->mu);
    if (j->state == RK_JOB_PAUSED)
        return RK_OK;
    if (rk_job_state_terminal(j->state) || j->cancel || j->shutdown)
        return RK_ESTATE;
    bool started = j->state == RK_JOB_RUNNING;
    j->state = RK_JOB_PAUSED;
    j->paused_mono = rk_time_mono_us();
    j->changed_at = rk_time_now_us();
    set_message(j, started ? "paused" : "paused before it started");
    if (started && j->in_exec)
        agent__job_freeze(a, j, true);
    /* Durable like an accept: a pause that a power loss forgot would let
     * a held job start after the restart. */
    agent__job_persist(a, j, true);
    agent__job_changed(a, j);
    rk_log_info("job paused", "job_id", j->id, "started", started ? "yes" : "no");
    return RK_OK;
}

int agent__job_resume(rk_agent_t *a, job_t *j)
{
    if (rk_job_state_terminal(j->state))
        return RK_ESTATE;
    if (j->state != RK_JOB_PAUSED)
        return RK_OK;
    int64_t paused = rk_time_mono_us() - j->paused_mono;
    j->paused_mono = 0;
    j->changed_at = rk_time_now_us();
    rk_log_info("job resumed", "job_id", j->id);
    if (!j->started_at) {
        j->state = RK_JOB_ASSIGNED;
        set_message(j, "accepted");
        if (!a->stopping && j->start_at_mono <= rk_time_mono_us()) {
            agent__job_run(a, j); /* records it running, then spawns */
            return RK_OK;
        }
        agent__job_persist(a, j, true);
        agent__job_changed(a, j);
        a->maybe_waiting = true;
        pthread_cond_broadcast(&a->cond);
        return RK_OK;
    }
    j->state = RK_JOB_RUNNING;
    set_message(j, "running");
    j->deadline_mono += paused;
    agent__job_persist(a, j, true);
    if (j->in_exec) {
        agent__job_freeze(a, j, false);
        agent__job_changed(a, j);
    } else {
        agent__job_next_run(a, j); /* its last run ended while it was paused */
    }
    return RK_OK;
}
