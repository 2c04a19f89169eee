/* Retries and start times, the manager's side (issue 12; manager thread).
 *
 * One mechanism serves both: a queued job whose not_before lies ahead
 * (given at submission, or its backoff after a failed attempt) waits in a
 * min-heap by that time instead of its agent's queue; each loop iteration
 * moves the jobs whose time came into their queues (O(log n) each), and
 * the loop's wait ends at the earliest one. A waiting job reads `queued`
 * with `not_before`.
 *
 * When an attempt ends failed or timeout (or its agent lost it) and its
 * policy retries that cause with attempts left, the job does not end: its
 * history gets the attempt's end ("attempt 1 failed: ..."), its result is
 * kept as a document of kind RK_SRV_RESULT_ATTEMPT_DOC, its extra gets the
 * next attempt and its not_before, and it is stored queued with the wait.
 *
 * Attempt counters: extra.attempt (1-based) counts the policy's attempts;
 * the ExecuteJobRequest attempt (RK_SRV_ATTEMPT_DOC, srv_job.attempt)
 * counts every time the job was sent again to run anew, by a drain or a
 * retry, so the agent runs a later attempt in place of the one it holds.
 * A retry bumps both; a drain bumps only the second (the job did not fail).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/err.h"
#include "base/log.h"
#include "model/result.h"
#include "server/mgr.h"

/* The backoff's jitter: ±20 % (issue 12). */
#define RETRY_JITTER 0.2

static const char *const cause_names[] = {"failed", "timeout", "agent_lost"};

int srv__retry_attach(srv_job_t *j, const json_t *extra)
{
    if (!extra || j->rt)
        return 0;
    srv_retry_t *rt = calloc(1, sizeof *rt);
    if (!rt || !(rt->extra = json_deep_copy(extra))) {
        free(rt);
        return RK_ENOMEM;
    }
    json_int_t a = json_integer_value(json_object_get(extra, "attempt"));
    rt->attempt = a > 0 ? a : 1;
    const json_t *pol = json_object_get(extra, "retry");
    json_int_t n = json_integer_value(json_object_get(pol, "max_attempts"));
    rt->max_attempts = n > 0 ? n : 1;
    rt->backoff_s = pol ? json_number_value(json_object_get(pol, "backoff_s")) : 0;
    rt->max_backoff_s = pol ? json_number_value(json_object_get(pol, "max_backoff_s")) : 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(pol, "on"), i, c)
    {
        for (unsigned k = 0; k < sizeof cause_names / sizeof cause_names[0]; k++)
            if (json_is_string(c) && strcmp(json_string_value(c), cause_names[k]) == 0)
                rt->on |= 1u << k;
    }
    const char *nb = json_string_value(json_object_get(extra, "not_before"));
    rk_time_t t = 0;
    if (nb && rk_time_parse(nb, &t) == 0)
        rt->not_before = t;
    j->rt = rt;
    return 0;
}

/* ---- the heap ---- */

static bool earlier(const srv_job_t *a, const srv_job_t *b)
{
    return a->rt->not_before < b->rt->not_before ||
           (a->rt->not_before == b->rt->not_before && a->seq < b->seq);
}

static void heap_set(rk_srv_mgr_t *m, size_t i, srv_job_t *j)
{
    m->delay[i] = j;
    j->rt->heap_i = i + 1;
}

static void sift_up(rk_srv_mgr_t *m, size_t i)
{
    srv_job_t *j = m->delay[i];
    while (i > 0 && earlier(j, m->delay[(i - 1) / 2])) {
        heap_set(m, i, m->delay[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(m, i, j);
}

static void sift_down(rk_srv_mgr_t *m, size_t i)
{
    srv_job_t *j = m->delay[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m->n_delay)
            break;
        if (c + 1 < m->n_delay && earlier(m->delay[c + 1], m->delay[c]))
            c++;
        if (!earlier(m->delay[c], j))
            break;
        heap_set(m, i, m->delay[c]);
        i = c;
    }
    heap_set(m, i, j);
}

static void heap_del(rk_srv_mgr_t *m, srv_job_t *j)
{
    size_t i = j->rt->heap_i - 1;
    j->rt->heap_i = 0;
    srv_job_t *last = m->delay[--m->n_delay];
    if (i == m->n_delay)
        return;
    heap_set(m, i, last);
    sift_up(m, i);
    sift_down(m, last->rt->heap_i - 1);
}

bool srv__delay_holds(const srv_job_t *j)
{
    return j->rt && j->rt->heap_i;
}

bool srv__delay_hold(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (!j->rt || !j->rt->not_before || j->st != SRV_J_QUEUED || j->list != SRV_L_NONE)
        return false;
    if (j->rt->heap_i)
        return true;
    if (j->rt->not_before <= rk_time_now_us())
        return false;
    if (m->n_delay == m->cap_delay) {
        size_t cap = m->cap_delay ? 2 * m->cap_delay : 64;
        srv_job_t **v = realloc(m->delay, cap * sizeof *v);
        if (!v) { /* no room to wait: it starts early rather than never */
            rk_log_error("no memory to hold a job until its not_before", "job_id", j->job_id);
            return false;
        }
        m->delay = v;
        m->cap_delay = cap;
    }
    heap_set(m, m->n_delay++, j);
    sift_up(m, m->n_delay - 1);
    return true;
}

void srv__retry_free(rk_srv_mgr_t *m, srv_job_t *j)
{
    if (!j->rt)
        return;
    if (j->rt->heap_i)
        heap_del(m, j);
    json_decref(j->rt->extra);
    free(j->rt);
    j->rt = NULL;
}

void srv__delay_tick(rk_srv_mgr_t *m)
{
    if (!m->n_delay)
        return;
    rk_time_t now = rk_time_now_us();
    while (m->n_delay && m->delay[0]->rt->not_before <= now) {
        srv_job_t *j = m->delay[0];
        heap_del(m, j);
        /* One paused, cancelled or put back by a failed commit meanwhile
         * is where that left it. */
        if (j->st == SRV_J_QUEUED && j->list == SRV_L_NONE) {
            srv__queue_add(j);
            m->again = true;
        }
    }
}

int srv__delay_wait_ms(const rk_srv_mgr_t *m, int max_ms)
{
    if (!m->n_delay)
        return max_ms;
    int64_t left = (m->delay[0]->rt->not_before - rk_time_now_us() + 999) / 1000;
    return left < 0 ? 0 : left < max_ms ? (int)left : max_ms;
}

size_t srv__delay_agent_gone(rk_srv_mgr_t *m, srv_agent_t *a, const char *msg)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_delay; i++)
        n += m->delay[i]->agent == a;
    if (!n)
        return 0;
    srv_job_t **v = malloc(n * sizeof *v);
    if (!v)
        return 0; /* taken at the agent's next batch */
    size_t k = 0;
    for (size_t i = 0; i < m->n_delay; i++)
        if (m->delay[i]->agent == a)
            v[k++] = m->delay[i];
    for (size_t i = 0; i < k; i++) {
        heap_del(m, v[i]);
        srv__job_store_status(m, v[i], RK_JOB_CANCELLED, msg);
        srv__release_later(m, v[i]);
    }
    free(v);
    return k;
}

void srv__delay_free_all(rk_srv_mgr_t *m)
{
    while (m->n_delay) {
        srv_job_t *j = m->delay[0];
        heap_del(m, j);
        srv__job_free(m, j);
    }
    free(m->delay);
    m->delay = NULL;
    m->cap_delay = 0;
}

/* ---- an attempt's end ---- */

/* The wait after attempt n (1-based): backoff_s * 2^(n-1), at most
 * max_backoff_s, with ±20 % jitter. */
static double backoff(const srv_retry_t *rt, int64_t n)
{
    double b = rt->backoff_s * pow(2.0, (double)(n - 1));
    if (b > rt->max_backoff_s)
        b = rt->max_backoff_s;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)rk_time_mono_us();
    return b * (1.0 - RETRY_JITTER + 2.0 * RETRY_JITTER * ((double)r / 4294967295.0));
}

/* Copies the stored result of job_id (if any) to the document of its
 * attempt n. 0 or the store's error. */
static int keep_result(rk_srv_mgr_t *m, const char *job_id, int64_t n)
{
    rk_result_t r = {0};
    int rc = rk_store_result_get(m->store, job_id, &r);
    if (rc == RK_ENOENT)
        return 0;
    if (rc)
        return rc;
    json_t *v = rk_result_encode(&r);
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    char id[160];
    snprintf(id, sizeof id, "%.128s/%lld", job_id, (long long)n);
    rc = text ? rk_store_doc_put(m->store, RK_SRV_RESULT_ATTEMPT_DOC, id, text) : RK_ENOMEM;
    free(text);
    json_decref(v);
    rk_result_cleanup(&r);
    return rc;
}

bool srv__retry_take(rk_srv_mgr_t *m, srv_job_t *j, rk_job_state_t st, const char *msg,
                     bool agent_lost)
{
    srv_retry_t *rt = j->rt;
    if (!rt || srv__job_ended_here(j) || rt->attempt >= rt->max_attempts)
        return false;
    int cause = st == RK_JOB_TIMEOUT  ? SRV_CAUSE_TIMEOUT
                : agent_lost          ? SRV_CAUSE_AGENT_LOST
                : st == RK_JOB_FAILED ? SRV_CAUSE_FAILED
                                      : -1;
    if (cause < 0 || !(rt->on & (1u << cause)))
        return false;
    if (j->st != SRV_J_WATCHING && j->st != SRV_J_FETCHING && j->st != SRV_J_ASKING &&
        j->st != SRV_J_SENDING)
        return false;
    int64_t wire = srv__job_attempt(m, j);
    if (wire < 0) /* the store cannot say now: the job ends as it would have */
        return false;
    int64_t n = rt->attempt;
    double wait = backoff(rt, n);
    rk_time_t now = rk_time_now_us();
    rk_time_t due = now + (rk_time_t)(wait * 1e6);

    srv__journal_touch(m, j); /* a failed commit puts it back as it was */
    int rc = srv__txn(m);
    /* The attempt's end in the history, without ending the job: no event,
     * no mirror in memory (the queued status below is what shows). */
    char m1[1100];
    snprintf(m1, sizeof m1, "attempt %lld %s: %.900s", (long long)n, cause_names[cause],
             msg ? msg : "");
    rk_job_status_t s = {.status = st, .timestamp = now, .message = m1};
    if (!rc)
        rc = rk_store_job_set_status(m->store, j->job_id, &s);
    if (!rc)
        rc = keep_result(m, j->job_id, n);
    char doc[48];
    snprintf(doc, sizeof doc, "{\"attempt\":%lld}", (long long)wire + 1);
    if (!rc)
        rc = rk_store_doc_put(m->store, RK_SRV_ATTEMPT_DOC, j->job_id, doc);
    json_object_set_new(rt->extra, "attempt", json_integer(n + 1));
    rk_json_set_time(rt->extra, "not_before", due);
    if (!rc)
        rc = rk_store_job_set_extra(m->store, j->job_id, rt->extra);
    if (rc) {
        rk_log_error("storing a job's next attempt failed", "job_id", j->job_id, "error",
                     rk_strerror(rc));
        srv__batch_error(m, rc);
    }
    j->attempt = wire + 1;
    rt->attempt = n + 1;
    rt->not_before = due;

    char m2[200];
    snprintf(m2, sizeof m2, "attempt %lld %s; attempt %lld of %lld in %.1f s", (long long)n,
             cause_names[cause], (long long)n + 1, (long long)rt->max_attempts, wait);
    srv__call_cancel(m, j->call);
    srv__job_store_status(m, j, RK_JOB_QUEUED, m2);
    if (j->agent && !j->agent->pool)
        j->agent->hold_until = 0;
    srv__job_to(j, SRV_J_QUEUED);
    srv__list_unlink(j);    /* its slot is free for the next job */
    srv__job_unplace(m, j); /* an "any" job waits in its pool again */
    j->running_mono = 0;
    j->paused_mono = 0;
    j->has_progress = false;
    j->result_tries = 0;
    j->retry_at = 0;
    if (!srv__delay_hold(m, j))
        srv__queue_add(j);
    srv__job_settle(m, j);
    m->again = true;
    return true;
}
