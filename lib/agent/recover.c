/* The restart policy: what a new agent instance makes of the job folders
 * a previous one left (design.md, "Agent restart"). A job whose result was
 * stored is finished, whatever its record says; one not started yet is
 * queued again (paused ones stay paused); one that was running, frozen
 * by a pause or not, is failed after its leftover processes are killed. Reads records through
 * record.c, fills the index, and finishes jobs through runner.c: nothing below calls back up here.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"
#include "model/parse.h"

/* Loads one job folder. Returns the job (inserted), or NULL when the
 * folder holds no usable record (left alone, logged). */
static job_t *load_one(rk_agent_t *a, const char *name)
{
    job_t *j = NULL;
    json_t *rq = NULL;
    if (agent__record_read(a, name, &j, &rq) != RK_OK)
        return NULL;
    const char *dir = j->dir;
    rk_job_state_t st = j->state;
    rk_job_state_t rs;
    rk_time_t end = 0;
    bool result = !rk_job_state_terminal(st) && agent__result_read(dir, &rs, &end, &j->message);
    /* A paused job reads as what it was paused from: held (assigned) when
     * it never started, else running (frozen, or between runs). */
    bool held = st == RK_JOB_PAUSED && !j->started_at;
    if (st == RK_JOB_PAUSED)
        st = held ? RK_JOB_ASSIGNED : RK_JOB_RUNNING;
    if (result) {
        /* Finished: its result was stored (the end of a job writes no
         * later record). Its processes ended before the result was written,
         * so the recorded group is not touched (its pid may be reused). */
        j->state = rs;
        j->finished_at = j->changed_at = end;
        j->pgid = 0;
    }
    agent__job_insert(a, j); /* finished or not, as it now reads */
    if (!result && st == RK_JOB_ASSIGNED) {
        rk_verr_t e = {{0}};
        if (rq && rk_execute_request_decode(rq, "", &j->req, &e) == 0) {
            j->has_req = true;
            j->request = rq;
            rq = NULL;
            a->active++;
            /* A held job stays paused until resumed: the background
             * thread starts only assigned jobs. */
            a->maybe_waiting = a->maybe_waiting || !held;
            rk_log_info(held ? "recovered a paused job not started yet"
                             : "recovered a job not started yet",
                        "job_id", j->id);
        } else {
            rk_execute_request_cleanup(&j->req);
            a->active++;
            agent__job_finish(a, j, RK_JOB_FAILED, "stored job record is unreadable",
                              e.msg[0] ? e.msg : "stored job record is unreadable");
        }
    } else if (!result && st == RK_JOB_RUNNING) {
        /* A frozen group dies too: SIGKILL ends stopped processes. */
        agent__kill_leftovers(j);
        /* The runtime keeps a container its killed client started. */
        json_t *spec = json_object_get(rq, "experiment_spec");
        if (json_object_get(json_object_get(json_object_get(spec, "task"), "params"), "container"))
            agent__container_reap(a, j->id, false);
        a->active++;
        agent__job_finish(a, j, RK_JOB_FAILED, "agent restarted during the job",
                          "agent restarted during the job");
        rk_log_warn("job was running when the agent stopped; recorded failed", "job_id", j->id);
    }
    json_decref(rq);
    return j;
}

int agent__jobs_recover(rk_agent_t *a)
{
    DIR *d = opendir(a->jobs_dir);
    if (!d)
        return RK_EIO;
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d)) != NULL) {
        if (!rk_id_valid(de->d_name))
            continue;
        if (load_one(a, de->d_name))
            n++;
    }
    closedir(d);
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%zu", n);
    rk_log_info("job records loaded", "count", cnt);
    return RK_OK;
}
