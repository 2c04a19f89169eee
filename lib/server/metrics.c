/* The server's own GET /metrics families (the HTTP server adds requests by
 * route): jobs by status (the store's exact counts, read at scrape time),
 * per agent its queue, running jobs and availability (set by the manager
 * thread about once a second), dispatch latency (created -> the agent's
 * accept), the gap from a slot freeing to its next job's send, and the
 * store's commit latency and batch size. */
#include "base/err.h"
#include "server/mgr.h"

static void collect(rk_prom_t *r, void *ud)
{
    (void)r;
    rk_server_t *srv = ud;
    for (int st = 0; st < RK_JOB_STATE_COUNT; st++) {
        rk_job_filter_t f = {.state_mask = 1u << st};
        rk_page_t page = {.limit = 1};
        rk_job_info_t *v = NULL;
        size_t n = 0;
        if (rk_store_job_list(srv->store, &f, &page, &v, &n) == 0)
            rk_prom_set(srv->m_jobs, (const char *const[]){rk_job_state_name((rk_job_state_t)st)},
                        (double)page.total);
        rk_store_jobs_free(v, n);
    }
}

int srv__metrics_init(rk_server_t *srv)
{
    static const double lat[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                 0.1,    0.25,  0.5,   1,     5,    30,   300};
    static const double batch[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
    rk_prom_t *p = srv->metrics;
    const char *const agent[] = {"agent_id", NULL};
    srv->m_jobs = rk_prom_family(p, "ruckus_jobs", "Jobs stored, by status", RK_PROM_GAUGE,
                                 (const char *const[]){"status", NULL}, NULL, 0);
    srv->m_queued = rk_prom_family(p, "ruckus_agent_queued_jobs", "Jobs waiting for an agent",
                                   RK_PROM_GAUGE, agent, NULL, 0);
    srv->m_running =
        rk_prom_family(p, "ruckus_agent_running_jobs", "Jobs holding a slot of an agent",
                       RK_PROM_GAUGE, agent, NULL, 0);
    srv->m_available = rk_prom_family(p, "ruckus_agent_available",
                                      "1 while an agent answers, 0 once past the agent timeout",
                                      RK_PROM_GAUGE, agent, NULL, 0);
    srv->m_dispatch =
        rk_prom_family(p, "ruckus_dispatch_seconds", "From a job's creation to its agent's accept",
                       RK_PROM_HISTOGRAM, NULL, lat, sizeof lat / sizeof *lat);
    srv->m_gap = rk_prom_family(p, "ruckus_slot_gap_seconds",
                                "From a job's slot freeing to the next job's send to that agent",
                                RK_PROM_HISTOGRAM, NULL, lat, sizeof lat / sizeof *lat);
    srv->m_commit = rk_prom_family(p, "ruckus_store_commit_seconds",
                                   "Time of one batch commit of the job manager", RK_PROM_HISTOGRAM,
                                   NULL, lat, sizeof lat / sizeof *lat);
    srv->m_batch =
        rk_prom_family(p, "ruckus_store_batch_jobs", "Jobs changed by one committed batch",
                       RK_PROM_HISTOGRAM, NULL, batch, sizeof batch / sizeof *batch);
    if (!srv->m_jobs || !srv->m_queued || !srv->m_running || !srv->m_available ||
        !srv->m_dispatch || !srv->m_gap || !srv->m_commit || !srv->m_batch)
        return RK_ENOMEM;
    return rk_prom_collector(p, collect, srv);
}

void srv__metrics_agents(rk_srv_mgr_t *m, int64_t now)
{
    static int64_t last; /* one manager per process */
    if (now - last < 1000000)
        return;
    last = now;
    rk_server_t *srv = m->srv;
    if (!srv || !srv->m_queued)
        return;
    /* Agents come and go: the families are set afresh. */
    rk_prom_reset(srv->m_queued);
    rk_prom_reset(srv->m_running);
    rk_prom_reset(srv->m_available);
    for (srv_agent_t *a = m->agents; a; a = a->next) {
        const char *const id[] = {a->id};
        rk_prom_set(srv->m_queued, id, (double)a->n_queued);
        rk_prom_set(srv->m_running, id, (double)a->n_running);
        rk_prom_set(srv->m_available, id, a->unavailable ? 0 : 1);
    }
}
