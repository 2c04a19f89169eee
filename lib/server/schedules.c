/* Schedules on the manager thread: the heap of next firing times, the
 * commands the routes hand over (create, pause, resume, delete, run now),
 * and the firing itself, which claims its slot in the store and creates
 * its jobs in one transaction (see schedules.h for why that is once per
 * slot).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "server/mgr.h"
#include "server/schedules.h"

/* ---- the clock ---- */

/* A real minute; the test hook may shorten it. */
#define CRON_MINUTE_MS 60000
/* The test hook's bounds: shorter than this a firing cannot finish within
 * its minute; longer is not a test any more. */
#define CRON_MINUTE_MS_MIN 100
#define CRON_MINUTE_MS_MAX 3600000

static int64_t minute_ms(void)
{
    const char *v = getenv(RK_SRV_CRON_MINUTE_ENV);
    if (!v || !*v)
        return CRON_MINUTE_MS;
    char *end = NULL;
    long long ms = strtoll(v, &end, 10);
    if (*end || ms < CRON_MINUTE_MS_MIN || ms > CRON_MINUTE_MS_MAX)
        return CRON_MINUTE_MS;
    return (int64_t)ms;
}

rk_time_t rk_srv_cron_next(const rk_cron_t *c, rk_time_t after)
{
    /* Cron seconds = real ms x 60 / minute_ms; both products stay far
     * below 2^63 for any date this side of year 100,000. */
    int64_t mm = minute_ms();
    int64_t real_ms = after >= 0 ? after / 1000 : -((-after + 999) / 1000);
    int64_t cron_s = real_ms * 60 / mm;
    if (real_ms * 60 % mm < 0)
        cron_s--;
    int64_t next = rk_cron_next(c, cron_s);
    if (next < 0)
        return -1;
    int64_t next_ms = (next * mm + 59) / 60; /* rounded up: strictly after */
    return next_ms * 1000;
}

/* ---- the heap: (next_run_at, id), earliest on top ---- */

/* Most firings one loop iteration makes (each its own commit). */
#define SRV_SCHEDULE_TICK_MAX 32

typedef struct sch_entry {
    rk_time_t at;
    char id[RK_SRV_SCHEDULE_ID_SIZE];
} sch_entry_t;

struct srv_schedules {
    sch_entry_t *v;
    size_t n, cap;
};

static int heap_push(rk_srv_mgr_t *m, rk_time_t at, const char *id)
{
    if (!m->schedules && !(m->schedules = calloc(1, sizeof *m->schedules)))
        return RK_ENOMEM;
    struct srv_schedules *h = m->schedules;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        sch_entry_t *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return RK_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    sch_entry_t e = {.at = at};
    snprintf(e.id, sizeof e.id, "%s", id);
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2].at > e.at) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = e;
    return 0;
}

static void heap_pop(struct srv_schedules *h, sch_entry_t *out)
{
    *out = h->v[0];
    sch_entry_t last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1].at < h->v[c].at)
            c++;
        if (h->v[c].at >= last.at)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
}

/* Pushes, logging the failure: the schedule then waits for the next start
 * (or its next change) instead of firing. */
/* Arms id at `at`, unless the same entry is armed already (a firing that
 * re-arms what a change armed too): one scan of the heap, done per firing
 * or change only. */
static void wake_at(rk_srv_mgr_t *m, rk_time_t at, const char *id)
{
    for (size_t i = 0; m->schedules && i < m->schedules->n; i++)
        if (m->schedules->v[i].at == at && strcmp(m->schedules->v[i].id, id) == 0)
            return;
    if (at >= 0 && heap_push(m, at, id) != 0)
        rk_log_error("schedule not armed: out of memory", "schedule_id", id);
}

void srv__schedules_free(rk_srv_mgr_t *m)
{
    if (!m->schedules)
        return;
    free(m->schedules->v);
    free(m->schedules);
    m->schedules = NULL;
}

int srv__schedules_load(rk_srv_mgr_t *m)
{
    char **ids = NULL, **texts = NULL;
    size_t n = 0;
    int rc = rk_store_doc_list(m->store, RK_SRV_SCHEDULE_DOC, &ids, &texts, &n);
    if (rc == RK_EUNSUP)
        return 0;
    if (rc)
        return rc;
    size_t armed = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *doc = json_loads(texts[i], 0, NULL);
        rk_time_t at = 0;
        if (doc && json_is_true(json_object_get(doc, "enabled")) &&
            rk_json_get_time(doc, "", "next_run_at", RK_REQUIRED, &at, NULL, NULL) == 0) {
            rc = heap_push(m, at, ids[i]); /* one in the past fires once, at the first tick */
            armed += rc == 0;
        }
        json_decref(doc);
    }
    rk_store_docs_free(ids, texts, n);
    char na[24], nn[24];
    snprintf(na, sizeof na, "%zu", armed);
    snprintf(nn, sizeof nn, "%zu", n);
    rk_log_info("schedules loaded", "schedules", nn, "enabled", na);
    return rc;
}

/* ---- reading and writing a document, in the batch ---- */

/* The document of id into *out (new reference) and, when text is not
 * NULL, its stored text (malloc'd): 0, RK_ENOENT, or the store's error. */
static int doc_read_text(rk_srv_mgr_t *m, const char *id, json_t **out, char **text_out)
{
    char *text = NULL;
    *out = NULL;
    int rc = rk_store_doc_get(m->store, RK_SRV_SCHEDULE_DOC, id, &text);
    if (rc)
        return rc;
    *out = json_loads(text, 0, NULL);
    if (text_out && *out)
        *text_out = text;
    else
        free(text);
    return *out ? 0 : RK_EIO;
}

static int doc_read(rk_srv_mgr_t *m, const char *id, json_t **out)
{
    return doc_read_text(m, id, out, NULL);
}

/* Writes doc in the batch; a failure fails the batch. */
static int doc_write(rk_srv_mgr_t *m, const char *id, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int rc = text ? srv__txn(m) : RK_ENOMEM;
    if (!rc)
        rc = rk_store_doc_put(m->store, RK_SRV_SCHEDULE_DOC, id, text);
    free(text);
    return srv__batch_error(m, rc);
}

/* Claims a firing: writes doc in the batch only while the stored text is
 * still `was` (compare and swap). With several servers on one database,
 * the one whose claim lands first fires; the others get RK_ESTATE (nothing
 * written, the batch unharmed) and make no jobs. Other failures fail the
 * batch. A store without compare and swap: a plain write. */
static int doc_claim(rk_srv_mgr_t *m, const char *id, const char *was, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int rc = text ? srv__txn(m) : RK_ENOMEM;
    if (!rc)
        rc = rk_store_doc_replace(m->store, RK_SRV_SCHEDULE_DOC, id, was, text);
    if (rc == RK_EUNSUP)
        rc = rk_store_doc_put(m->store, RK_SRV_SCHEDULE_DOC, id, text);
    free(text);
    return rc == RK_ESTATE ? rc : srv__batch_error(m, rc);
}

static rk_time_t doc_time(const json_t *doc, const char *key)
{
    rk_time_t t = -1;
    if (rk_json_get_time(doc, "", key, RK_REQUIRED, &t, NULL, NULL) != 0)
        return -1;
    return t;
}

/* The next slot of doc's cron after `after`, or -1 (unparsable, never). */
static rk_time_t doc_next(const json_t *doc, rk_time_t after)
{
    rk_cron_t c;
    if (rk_cron_parse(json_string_value(json_object_get(doc, "cron")), &c, NULL, 0) != 0)
        return -1;
    return rk_srv_cron_next(&c, after);
}

/* Answers a failed read or write of schedule id. */
static void answer_doc_error(rk_srv_mgr_t *m, rk_http_wait_t *w, int rc, const char *id)
{
    char what[64];
    snprintf(what, sizeof what, "schedule %s", id);
    srv__answer_store_error(m, w, rc, what);
}

/* ---- firing ---- */

/* The jobs one firing of doc creates, like POST /experiments/{id}/run:
 * one per listed agent, or one per registered agent that can run the
 * experiment and carries the selector's labels. Each is stamped with
 * extra.schedule_id. On failure *why says what stopped it (and 404 or 422
 * in *status); 0 jobs is a failure ("no agent can run it"). */
static int build_jobs(rk_srv_mgr_t *m, const json_t *doc, const char *id, rk_time_t now,
                      rk_job_info_t **jobs_out, int64_t **timeouts_out, size_t *n_out, int *status,
                      char *why, size_t why_n)
{
    rk_experiment_t x = {0};
    rk_registered_agent_t *all = NULL;
    size_t n_all = 0, n = 0, want = 0;
    rk_job_info_t *jobs = NULL;
    int64_t *timeouts = NULL;
    rk_srv_job_opts_t o = {.priority = RK_PRIO_MEDIUM, .count = 1};
    rk_verr_t e;
    const char *exp = json_string_value(json_object_get(doc, "experiment_id"));
    int rc = rk_store_experiment_get(m->store, exp ? exp : "", &x);
    if (rc) {
        *status = rc == RK_ENOENT ? 404 : 503;
        snprintf(why, why_n, "experiment %s %s", exp ? exp : "?",
                 rc == RK_ENOENT ? "not found" : "could not be read");
        goto done;
    }
    rk_job_priority_parse(json_string_value(json_object_get(doc, "priority")), &o.priority);
    o.exclusive = json_is_true(json_object_get(doc, "exclusive"));
    const json_t *retry = json_object_get(doc, "retry"); /* stored validated */
    if (json_is_object(retry) &&
        !(o.extra = json_pack("{s:i,s:O,s:O}", "attempt", 1, "max_attempts",
                              json_object_get(retry, "max_attempts"), "retry", retry))) {
        rc = RK_ENOMEM;
        *status = 503;
        snprintf(why, why_n, "out of memory");
        goto done;
    }
    if ((rc = rk_job_selector_decode(doc, "", &o.selector, &e))) {
        *status = 422;
        snprintf(why, why_n, "%s", e.msg);
        goto done;
    }
    const json_t *listed = json_object_get(doc, "agent_ids");
    want = json_array_size(listed);
    if (!want) {
        if ((rc = rk_store_agent_list(m->store, &all, &n_all))) {
            *status = 503;
            snprintf(why, why_n, "agents could not be read");
            goto done;
        }
        want = n_all;
    }
    jobs = calloc(want ? want : 1, sizeof *jobs);
    timeouts = calloc(want ? want : 1, sizeof *timeouts);
    rc = jobs && timeouts ? 0 : RK_ENOMEM;
    for (size_t i = 0; !rc && i < want; i++) {
        const char *agent_id;
        if (json_array_size(listed)) {
            agent_id = json_string_value(json_array_get(listed, i));
        } else {
            json_t *missing = json_array(), *warnings = json_array();
            bool ok = missing && warnings && rk_srv_compat(&x, &all[i].info, missing, warnings) &&
                      (!o.selector || rk_agent_info_labels_match(&all[i].info, o.selector));
            json_decref(missing);
            json_decref(warnings);
            if (!ok)
                continue;
            agent_id = all[i].info.agent_id;
        }
        /* A fresh id the store does not hold yet, so last_job_ids names
         * the jobs as stored (the insert would draw another on a clash). */
        for (int tries = 0; !rc && tries < 8; tries++) {
            rk_job_info_cleanup(&jobs[n]);
            memset(&jobs[n], 0, sizeof jobs[n]);
            rc = m->srv ? rk_srv_job_fill(m->srv, &jobs[n], &x, agent_id, &o, now) : RK_EINVAL;
            rk_job_info_t probe = {0};
            int g = rc ? rc : rk_store_job_get(m->store, jobs[n].job_id, false, &probe);
            rk_job_info_cleanup(&probe);
            if (g == RK_ENOENT)
                break;
            rc = rc ? rc : g ? g : tries == 7 ? RK_EEXIST : 0;
        }
        /* Beside what job_fill gave it (a retry policy, the schedule's or
         * the experiment's). */
        if (!rc && !jobs[n].extra && !(jobs[n].extra = json_object()))
            rc = RK_ENOMEM;
        if (!rc && json_object_set_new(jobs[n].extra, "schedule_id", json_string(id)))
            rc = RK_ENOMEM;
        timeouts[n] = x.requirements.timeout_seconds;
        n++;
    }
    if (rc) {
        *status = 503;
        snprintf(why, why_n, "jobs could not be made: %s", rk_strerror(rc));
    } else if (n == 0) {
        rc = RK_EINVAL;
        *status = 422;
        snprintf(why, why_n, "no registered agent can run experiment %s", x.id);
    }
done:
    rk_srv_job_opts_cleanup(&o);
    rk_store_agents_free(all, n_all);
    rk_experiment_cleanup(&x);
    if (rc) { /* jobs[n] may be half filled: every slot is freeable */
        for (size_t i = 0; jobs && i < want; i++)
            rk_job_info_cleanup(&jobs[i]);
        free(jobs);
        free(timeouts);
        jobs = NULL;
        timeouts = NULL;
        n = 0;
    }
    *jobs_out = jobs;
    *timeouts_out = timeouts;
    *n_out = n;
    return rc;
}

/* Hands the jobs (taken) to the job manager in the open batch, with w (or
 * NULL: no one waits) answered {jobs: [...]} once they are placed. */
static void hand_jobs(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_job_info_t *jobs, int64_t *timeouts,
                      size_t n)
{
    srv_create_t *c = calloc(1, sizeof *c);
    srv_job_t **waiting = calloc(n ? n : 1, sizeof *waiting);
    if (!c || !waiting) {
        free(c);
        free(waiting);
        for (size_t i = 0; i < n; i++)
            rk_job_info_cleanup(&jobs[i]);
        free(jobs);
        free(timeouts);
        srv__batch_error(m, RK_ENOMEM);
        srv__release(m, w);
        return;
    }
    *c = (srv_create_t){
        .wait = w, .jobs = jobs, .timeouts = timeouts, .waiting = waiting, .n = n, .single = false};
    srv__jobs_create(m, c); /* inserts in the batch; c is the manager's now */
}

/* Fires schedule id: the timer's firing (w NULL, manual false) only when
 * the stored document says it is due and enabled (an entry of the heap
 * left by a change since is dropped here); run now (manual) always. The
 * document's update and the jobs share the batch, then it commits. */
static void fire(rk_srv_mgr_t *m, const char *id, rk_http_wait_t *w, bool manual)
{
    rk_time_t now = rk_time_now_us();
    json_t *doc = NULL;
    char *was = NULL; /* the text read: the claim holds only if it is still stored */
    /* Read inside the transaction: the claim and the jobs are one unit. */
    int rc = srv__txn(m);
    if (!rc)
        rc = doc_read_text(m, id, &doc, &was);
    if (rc) {
        if (manual)
            answer_doc_error(m, w, rc, id);
        else if (rc != RK_ENOENT) /* deleted: nothing to do; else try again */
            wake_at(m, now + RK_SRV_SCHEDULE_RETRY_US, id);
        return;
    }
    rk_time_t due = doc_time(doc, "next_run_at");
    if (!manual && (!json_is_true(json_object_get(doc, "enabled")) || due < 0 || due > now)) {
        /* Paused, deleted or moved since this entry was pushed: by a change
         * here (which armed its own entry) or by another server's firing
         * on the same database (which armed nothing here): armed again at
         * the stored time, once. */
        if (json_is_true(json_object_get(doc, "enabled")) && due > now)
            wake_at(m, due, id);
        json_decref(doc);
        free(was);
        return;
    }
    rk_job_info_t *jobs = NULL;
    int64_t *timeouts = NULL;
    size_t n = 0;
    int status = 0;
    char why[512] = "";
    rc = build_jobs(m, doc, id, now, &jobs, &timeouts, &n, &status, why, sizeof why);
    if (rc && manual) {
        srv__answer_error(m, w, status, "%s", why);
        json_decref(doc);
        free(was);
        return;
    }
    /* A timer's firing claims its slot even when it could make no job
     * (experiment gone, no agent): the reason is kept in last_error. */
    rk_time_t next = manual ? due : doc_next(doc, now);
    if (!manual)
        rk_json_set_time(doc, "next_run_at", next);
    rk_json_set_time(doc, "last_run_at", now);
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(jobs[i].job_id));
    json_object_set_new(doc, "last_job_ids", ids);
    if (rc)
        json_object_set_new(doc, "last_error", json_string(why));
    else
        json_object_del(doc, "last_error");
    /* A failure fails the batch (the flush says so); a claim another
     * server made first leaves this firing to it. */
    int claim = doc_claim(m, id, was, doc);
    free(was);
    if (claim == RK_ESTATE) {
        for (size_t i = 0; i < n; i++)
            rk_job_info_cleanup(&jobs[i]);
        free(jobs);
        free(timeouts);
        rk_log_info("schedule slot claimed by another server", "schedule_id", id);
        if (manual)
            srv__answer_error(m, w, 409, "schedule %s changed meanwhile; try again", id);
        else
            wake_at(m, now + RK_SRV_SCHEDULE_RETRY_US, id); /* re-read: its next slot */
        json_decref(doc);
        return;
    }
    srv__event(m, "schedule", json_pack("{s:s,s:s}", "schedule_id", id, "event", "fired"));
    json_decref(doc);
    if (!rc)
        hand_jobs(m, w, jobs, timeouts, n);
    int err = srv__flush(m); /* the claim and the jobs, or neither */
    if (rc)
        rk_log_warn("schedule fired without jobs", "schedule_id", id, "reason", why);
    if (!manual)
        wake_at(m, err ? now + RK_SRV_SCHEDULE_RETRY_US : next, id);
    if (err)
        rk_log_error("schedule firing not stored; retried", "schedule_id", id, "error",
                     rk_strerror(err));
}

void srv__schedules_tick(rk_srv_mgr_t *m)
{
    struct srv_schedules *h = m->schedules;
    if (!h || !h->n)
        return;
    rk_time_t now = rk_time_now_us();
    /* Due entries only, a bounded number per iteration (each is a commit):
     * a thousand schedules due at 03:00 do not hold up dispatch; the rest
     * go in the next iterations, at once (m->again). Each firing pushes its
     * next entry, later than now, so this ends. */
    for (int fired = 0; h->n && h->v[0].at <= now; fired++) {
        if (fired == SRV_SCHEDULE_TICK_MAX) {
            m->again = true;
            break;
        }
        sch_entry_t e;
        heap_pop(h, &e);
        fire(m, e.id, NULL, false);
    }
}

/* ---- commands from the routes ---- */

typedef struct sch_task {
    rk_srv_mgr_t *m;
    rk_http_wait_t *w;
    rk_srv_sch_op_t op;
    char id[RK_SRV_SCHEDULE_ID_SIZE];
    json_t *doc;
} sch_task_t;

static void op_create(rk_srv_mgr_t *m, sch_task_t *t)
{
    /* The route chose an id no document held; two creates at once could
     * have drawn the same one (32 random bits): the second is refused. */
    json_t *clash = NULL;
    int rc = srv__txn(m);
    if (!rc && (rc = doc_read(m, t->id, &clash)) == 0) {
        json_decref(clash);
        srv__answer_error(m, t->w, 409, "schedule id %s drawn twice; try again", t->id);
        return;
    }
    if (rc == RK_ENOENT)
        rc = doc_write(m, t->id, t->doc);
    if (rc) {
        answer_doc_error(m, t->w, rc, t->id);
        return;
    }
    rk_time_t next = doc_time(t->doc, "next_run_at");
    if (json_is_true(json_object_get(t->doc, "enabled")))
        wake_at(m, next, t->id); /* if the commit fails, the firing finds no document */
    json_t *out = json_pack("{s:s}", "schedule_id", t->id);
    if (out)
        json_object_set(out, "next_run_at", json_object_get(t->doc, "next_run_at"));
    srv__answer_change(m, t->w, 201, out);
    srv__event(m, "schedule", json_pack("{s:s,s:s}", "schedule_id", t->id, "event", "created"));
}

static void op_change(rk_srv_mgr_t *m, sch_task_t *t)
{
    json_t *doc = NULL;
    int rc = srv__txn(m);
    if (!rc)
        rc = doc_read(m, t->id, &doc);
    if (rc) {
        answer_doc_error(m, t->w, rc, t->id);
        return;
    }
    rk_time_t now = rk_time_now_us();
    if (t->op == RK_SRV_SCH_DELETE) {
        rc = srv__batch_error(m, rk_store_doc_delete(m->store, RK_SRV_SCHEDULE_DOC, t->id));
        json_decref(doc);
        if (rc) {
            answer_doc_error(m, t->w, rc, t->id);
            return;
        }
        json_t *out = json_pack("{s:s}", "schedule_id", t->id);
        if (out)
            rk_json_set_time(out, "deleted_at", now);
        srv__answer_change(m, t->w, 200, out); /* its heap entry is dropped when due */
        srv__event(m, "schedule", json_pack("{s:s,s:s}", "schedule_id", t->id, "event", "deleted"));
        return;
    }
    bool resume = t->op == RK_SRV_SCH_RESUME;
    bool was = json_is_true(json_object_get(doc, "enabled"));
    if (resume && !was) { /* from now on: slots missed while paused do not fire */
        rk_time_t next = doc_next(doc, now);
        rk_json_set_time(doc, "next_run_at", next);
        wake_at(m, next, t->id);
    }
    json_object_set_new(doc, "enabled", json_boolean(resume));
    rc = was == resume ? 0 : doc_write(m, t->id, doc);
    if (rc) {
        json_decref(doc);
        answer_doc_error(m, t->w, rc, t->id);
        return;
    }
    srv__answer_change(m, t->w, 200, json_pack("{s:o}", "schedule", doc));
    if (was != resume)
        srv__event(
            m, "schedule",
            json_pack("{s:s,s:s}", "schedule_id", t->id, "event", resume ? "resumed" : "paused"));
}

static void sch_task_run(void *ud)
{
    sch_task_t *t = ud;
    rk_srv_mgr_t *m = t->m;
    if (m->stop) {
        srv__release(m, t->w); /* shutting down: the HTTP stop answered it */
    } else if (t->op == RK_SRV_SCH_CREATE) {
        op_create(m, t);
    } else if (t->op == RK_SRV_SCH_RUN) {
        fire(m, t->id, t->w, true);
    } else {
        op_change(m, t);
    }
    json_decref(t->doc);
    free(t);
}

int rk_srv_mgr_schedule(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_srv_sch_op_t op, const char *id,
                        json_t *doc)
{
    sch_task_t *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(doc);
        return RK_ENOMEM;
    }
    *t = (sch_task_t){.m = m, .w = w, .op = op, .doc = doc};
    snprintf(t->id, sizeof t->id, "%s", id);
    int rc = rk_http_client_post_task(m->client, sch_task_run, t);
    if (rc) {
        json_decref(doc);
        free(t);
    }
    return rc;
}
