/* Turning submissions into jobs (shared by POST /jobs, POST /jobs/batch
 * and experiments/{id}/run): the options every submission takes, the
 * compatibility check, fresh job ids, and the hand-over to the job manager
 * that stores and dispatches them (all of one request in one commit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/internal.h"

int rk_srv_job_opts_parse(const json_t *body, const char *path, rk_http_resp_t *resp,
                          rk_srv_job_opts_t *o)
{
    *o = (rk_srv_job_opts_t){.priority = RK_PRIO_MEDIUM, .count = 1};
    if (!body)
        return 0;
    int prio = RK_PRIO_MEDIUM;
    int64_t count = 1;
    rk_verr_t e;
    if (rk_json_get_enum(body, path, "priority", RK_OPTIONAL, rk_job_priority_names,
                         RK_PRIORITY_COUNT, &prio, &e) ||
        rk_json_get_bool(body, path, "exclusive", RK_OPTIONAL, &o->exclusive, NULL, &e) ||
        rk_json_get_int(body, path, "count", RK_OPTIONAL, 1, RK_SRV_COUNT_MAX, &count, NULL, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        return RK_EINVAL;
    }
    o->priority = (rk_job_priority_t)prio;
    o->count = (size_t)count;
    if (rk_job_selector_decode(body, path, &o->selector, &e)) {
        rk_http_resp_error(resp, 422, e.msg);
        return RK_EINVAL;
    }
    return rk_srv_retry_parse(body, path, resp, &o->extra);
}

void rk_srv_job_opts_cleanup(rk_srv_job_opts_t *o)
{
    json_decref(o->selector);
    o->selector = NULL;
    json_decref(o->extra);
    o->extra = NULL;
}

int rk_srv_selector_check(rk_http_resp_t *resp, const rk_agent_info_t *a,
                          const rk_srv_job_opts_t *o, const char *where)
{
    if (!o->selector || rk_agent_info_labels_match(a, o->selector))
        return 0;
    char *want = json_dumps(o->selector, JSON_COMPACT | JSON_SORT_KEYS);
    rk_http_resp_errorf(resp, 422,
                        "%sagent_selector: agent %s does not carry the labels %s (an agent_id "
                        "and a selector that contradict it)",
                        where, a->agent_id, want ? want : "asked for");
    free(want);
    return RK_EINVAL;
}

int rk_srv_compat_check(rk_http_resp_t *resp, const rk_experiment_t *x, const rk_agent_info_t *a,
                        const char *where)
{
    json_t *missing = json_array(), *warnings = json_array();
    bool ok = rk_srv_compat(x, a, missing, warnings);
    if (!ok) {
        rk_buf_t b;
        rk_buf_init(&b, 2048);
        size_t k;
        json_t *s;
        json_array_foreach(missing, k, s)
        {
            rk_buf_printf(&b, "%s%s", k ? "; " : "", json_string_value(s));
        }
        rk_http_resp_errorf(resp, 422, "%sagent %s cannot run experiment %s: missing %s", where,
                            a->agent_id, x->id, rk_buf_str(&b));
        rk_buf_cleanup(&b);
    }
    json_decref(missing);
    json_decref(warnings);
    return ok ? 0 : RK_EINVAL;
}

void rk_srv_agents_changed(rk_server_t *srv)
{
    srv->agents_gen++;
}

/* The "any" cache's slot of key (FNV-1a). */
static size_t any_slot(const rk_server_t *srv, const char *key)
{
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % (sizeof srv->any_ok / sizeof srv->any_ok[0]);
}

int rk_srv_any_check(rk_server_t *srv, rk_http_resp_t *resp, const rk_experiment_t *x,
                     const rk_srv_job_opts_t *o, const char *where)
{
    /* Answered yes since the agents last changed: yes again, no reads. */
    char key[sizeof srv->any_ok[0].key];
    char *sel = o->selector ? json_dumps(o->selector, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int kn = snprintf(key, sizeof key, "%s %s", x->id, sel ? sel : "");
    free(sel);
    bool cacheable = kn > 0 && (size_t)kn < sizeof key;
    uint64_t gen = srv->agents_gen;
    size_t slot = cacheable ? any_slot(srv, key) : 0;
    if (cacheable) {
        pthread_mutex_lock(&srv->any_lock);
        bool hit = srv->any_ok[slot].gen == gen + 1 && strcmp(srv->any_ok[slot].key, key) == 0;
        pthread_mutex_unlock(&srv->any_lock);
        if (hit)
            return 0;
    }
    rk_registered_agent_t *as = NULL;
    size_t n = 0;
    int rc = rk_store_agent_list(srv->store, &as, &n);
    if (rc) {
        rk_srv_store_error(resp, rc, "agents");
        return rc;
    }
    rk_buf_t why;
    rk_buf_init(&why, 4096);
    bool ok = false;
    for (size_t i = 0; i < n && !ok; i++) {
        const rk_agent_info_t *a = &as[i].info;
        if (o->selector && !rk_agent_info_labels_match(a, o->selector)) {
            rk_buf_printf(&why, "%s%s: lacks the selector's labels", why.len ? "; " : "",
                          a->agent_id);
            continue;
        }
        json_t *missing = json_array(), *warnings = json_array();
        ok = rk_srv_compat(x, a, missing, warnings);
        if (!ok) {
            rk_buf_printf(&why, "%s%s: missing", why.len ? "; " : "", a->agent_id);
            size_t k;
            json_t *s;
            json_array_foreach(missing, k, s)
            {
                rk_buf_printf(&why, "%s %s", k ? "," : "", json_string_value(s));
            }
        }
        json_decref(missing);
        json_decref(warnings);
    }
    rk_store_agents_free(as, n);
    if (ok && cacheable) { /* gen + 1: a zeroed slot never matches */
        pthread_mutex_lock(&srv->any_lock);
        memcpy(srv->any_ok[slot].key, key, (size_t)kn + 1);
        srv->any_ok[slot].gen = gen + 1;
        pthread_mutex_unlock(&srv->any_lock);
    }
    if (!ok)
        rk_http_resp_errorf(resp, 422, "%sno registered agent can ever run experiment %s%s%s%s",
                            where, x->id, n ? " (" : ": no agent is registered", rk_buf_str(&why),
                            n ? ")" : "");
    rk_buf_cleanup(&why);
    return ok ? 0 : RK_EINVAL;
}

int rk_srv_job_fill(rk_server_t *srv, rk_job_info_t *j, const rk_experiment_t *x,
                    const char *agent_id, const rk_srv_job_opts_t *o, rk_time_t now)
{
    char id[RK_JOB_ID_SIZE];
    if (rk_job_id_generate(id) != 0) /* one the store holds is replaced at insert (jobs.c) */
        return RK_EIO;
    j->job_id = strdup(id);
    j->experiment_id = strdup(x->id);
    j->agent_id = agent_id ? strdup(agent_id) : NULL;
    j->created_time = now;
    j->priority = o->priority;
    j->exclusive = o->exclusive;
    /* An "any" job keeps its selector, {} for none, so that what it was
     * submitted to outlives its placement (POST /jobs/{id}/retry offers
     * the new job to any matching agent again); {} is not shown. */
    if (o->selector || !agent_id) {
        j->selector_labels = o->selector ? json_deep_copy(o->selector) : json_object();
        if (!j->selector_labels)
            return RK_ENOMEM;
    }
    /* Each job its own copy: the manager changes it per attempt. */
    json_t *extra = rk_srv_retry_extra(x, o->extra);
    if (extra && !(j->extra = json_deep_copy(extra))) {
        json_decref(extra);
        return RK_ENOMEM;
    }
    json_decref(extra);
    if (o->idem_key && (!(j->idem_key = strdup(o->idem_key)) || !(j->idem_fp = strdup(o->idem_fp))))
        return RK_ENOMEM;
    if (!j->job_id || !j->experiment_id || (agent_id && !j->agent_id))
        return RK_ENOMEM;
    return 0;
}

void rk_srv_jobs_hand(rk_server_t *srv, rk_http_req_t *req, rk_http_resp_t *resp,
                      rk_job_info_t *jobs, int64_t *timeouts, size_t n, bool single)
{
    rk_http_wait_t *w = NULL;
    if (rk_http_req_suspend(req, NULL, NULL, &w) != 0) {
        rk_http_resp_error(resp, 503, "server shutting down");
        goto fail;
    }
    if (rk_srv_mgr_create(srv->mgr, w, jobs, timeouts, n, single) != 0) {
        rk_http_wait_release(w);
        goto fail;
    }
    return;
fail:
    for (size_t i = 0; jobs && i < n; i++)
        rk_job_info_cleanup(&jobs[i]);
    free(jobs);
    free(timeouts);
}

void rk_srv_jobs_submit(rk_server_t *srv, rk_http_req_t *req, rk_http_resp_t *resp,
                        const rk_experiment_t *x, const rk_registered_agent_t *agents, size_t n,
                        const rk_srv_job_opts_t *opts, bool single)
{
    if (!agents) { /* any matching agent: one that could run it must exist */
        if (rk_srv_any_check(srv, resp, x, opts, ""))
            return;
        n = 1;
    }
    for (size_t i = 0; agents && i < n; i++)
        if (rk_srv_compat_check(resp, x, &agents[i].info, "") ||
            rk_srv_selector_check(resp, &agents[i].info, opts, ""))
            return;
    size_t agents_n = n;
    n = agents_n * opts->count;
    if (n > RK_SRV_COUNT_MAX) {
        rk_http_resp_errorf(resp, 422, "count: %zu jobs in all (%zu agents x %zu), at most %d", n,
                            agents_n, opts->count, RK_SRV_COUNT_MAX);
        return;
    }
    rk_job_info_t *jobs = calloc(n ? n : 1, sizeof *jobs);
    int64_t *timeouts = calloc(n ? n : 1, sizeof *timeouts);
    int rc = jobs && timeouts ? 0 : RK_ENOMEM;
    rk_time_t now = rk_time_now_us();
    for (size_t i = 0; !rc && i < n; i++) {
        rc = rk_srv_job_fill(srv, &jobs[i], x,
                             agents ? agents[i / opts->count].info.agent_id : NULL, opts, now);
        timeouts[i] = x->requirements.timeout_seconds;
    }
    if (rc) {
        rk_http_resp_error(resp, 500, rc == RK_ENOMEM ? "out of memory" : "no job id");
        for (size_t i = 0; jobs && i < n; i++)
            rk_job_info_cleanup(&jobs[i]);
        free(jobs);
        free(timeouts);
        return;
    }
    rk_srv_jobs_hand(srv, req, resp, jobs, timeouts, n, single && n == 1);
}
