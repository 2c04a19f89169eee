/* Killing what a previous agent instance's job left running. The agent
 * restarted, so those processes are no longer its descendants and the
 * exec reaper cannot see them: they are found by the recorded process
 * group, then by the job's environment in /proc (lib/exec's walk). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/log.h"
#include "exec/reaper.h"

/* The two environment entries every process of a job carries: this job
 * of this agent (a reused pid of someone else's process does not carry our
 * job's output folder). */
typedef struct job_env {
    char id[128], out[4200];
    const char *entries[2];
} job_env_t;

static void job_env_init(job_env_t *e, const job_t *j)
{
    snprintf(e->id, sizeof e->id, "RUCKUS_JOB_ID=%s", j->id);
    snprintf(e->out, sizeof e->out, "RUCKUS_OUTPUT_DIR=%s/output", j->dir);
    e->entries[0] = e->id;
    e->entries[1] = e->out;
}

/* The recorded process group of j: SIGKILLed when its leader is still
 * there, still leads the group, and carries this job's environment (a
 * reused pid of someone else's process does not). True when killed. */
static bool kill_recorded_group(const job_t *j, const job_env_t *e)
{
    pid_t pg = j->pgid;
    if (pg <= 1 || pg == getpid() || getpgid(pg) != pg || !rk_exec_proc_env_has(pg, e->entries, 2))
        return false;
    if (kill(-pg, SIGKILL) != 0)
        return false;
    char n[16];
    snprintf(n, sizeof n, "%d", (int)pg);
    rk_log_warn("killed the leftover process group of a job", "job_id", j->id, "pgid", n);
    return true;
}

/* rk_exec_proc_each callback: SIGKILLs pid (and its group when it leads
 * one) when it is a process of the job; 1 when it did. */
static int kill_if_job(void *ud, pid_t pid)
{
    const job_env_t *e = ud;
    if (pid <= 1 || pid == getpid() || !rk_exec_proc_env_has(pid, e->entries, 2))
        return 0;
    pid_t pg = getpgid(pid);
    if (pg == pid)
        kill(-pg, SIGKILL);
    kill(pid, SIGKILL);
    return 1;
}

void agent__kill_leftovers(const job_t *j)
{
    job_env_t e;
    job_env_init(&e, j);
    kill_recorded_group(j, &e);
    /* Then the /proc scan, the fallback: a job recorded without a group
     * (the agent died between the running record and the pid's), a group
     * whose leader already exited, and processes that left the group. */
    /* A few rounds: a process may fork while we look. */
    for (int round = 0; round < 5; round++) {
        int killed = rk_exec_proc_each(kill_if_job, &e);
        if (killed <= 0)
            return;
        char n[16];
        snprintf(n, sizeof n, "%d", killed);
        rk_log_warn("killed leftover processes of a job", "job_id", j->id, "count", n);
        usleep(20000);
    }
}
