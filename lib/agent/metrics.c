/* The agent's GET /metrics (Prometheus): jobs running, job folders kept,
 * disk free of the data dir (read at scrape time), job ends by status with
 * their durations, spawn latency, and log bytes by stream. The HTTP
 * server adds its requests by route (lib/http). */
#include <sys/statvfs.h>

#include "agent/internal.h"
#include "base/err.h"

static void collect(rk_prom_t *r, void *ud)
{
    (void)r;
    rk_agent_t *a = ud;
    pthread_mutex_lock(&a->mu);
    int active = a->active;
    size_t kept = 0;
    for (job_t *j = a->jobs; j; j = j->next)
        kept++;
    pthread_mutex_unlock(&a->mu);
    rk_prom_set(a->m_running, NULL, active);
    rk_prom_set(a->m_kept, NULL, (double)kept);
    rk_prom_set(a->m_slots, NULL, (double)a->s->slots);
    struct statvfs st;
    if (statvfs(a->data_dir, &st) == 0)
        rk_prom_set(a->m_disk_free, NULL, (double)st.f_bavail * (double)st.f_frsize);
}

int agent__metrics_init(rk_agent_t *a)
{
    static const double spawn[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1};
    static const double dur[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400};
    if (!(a->prom = rk_prom_new()))
        return RK_ENOMEM;
    a->m_running =
        rk_prom_family(a->prom, "ruckus_agent_jobs_running",
                       "Jobs holding a slot (assigned or running)", RK_PROM_GAUGE, NULL, NULL, 0);
    a->m_slots = rk_prom_family(a->prom, "ruckus_agent_slots", "Jobs the agent runs at once",
                                RK_PROM_GAUGE, NULL, NULL, 0);
    a->m_kept = rk_prom_family(a->prom, "ruckus_agent_jobs_retained",
                               "Job records kept (open and finished, until retention)",
                               RK_PROM_GAUGE, NULL, NULL, 0);
    a->m_disk_free = rk_prom_family(a->prom, "ruckus_agent_data_dir_free_bytes",
                                    "Bytes free to the agent on its data dir's file system",
                                    RK_PROM_GAUGE, NULL, NULL, 0);
    a->m_finished = rk_prom_family(a->prom, "ruckus_agent_jobs_finished_total",
                                   "Jobs that ended, by final status", RK_PROM_COUNTER,
                                   (const char *const[]){"status", NULL}, NULL, 0);
    a->m_duration =
        rk_prom_family(a->prom, "ruckus_agent_job_duration_seconds",
                       "From a job's start to its end, by final status", RK_PROM_HISTOGRAM,
                       (const char *const[]){"status", NULL}, dur, sizeof dur / sizeof *dur);
    a->m_spawn = rk_prom_family(a->prom, "ruckus_agent_spawn_seconds",
                                "Time to start one run's child process (fork to exec)",
                                RK_PROM_HISTOGRAM, NULL, spawn, sizeof spawn / sizeof *spawn);
    a->m_log_bytes =
        rk_prom_family(a->prom, "ruckus_agent_log_bytes_total",
                       "Bytes jobs wrote to stdout and stderr (past the cap too)", RK_PROM_COUNTER,
                       (const char *const[]){"stream", NULL}, NULL, 0);
    if (!a->m_running || !a->m_slots || !a->m_kept || !a->m_disk_free || !a->m_finished ||
        !a->m_duration || !a->m_spawn || !a->m_log_bytes)
        return RK_ENOMEM;
    return rk_prom_collector(a->prom, collect, a);
}
