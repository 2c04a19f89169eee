/* rk_store_copy: see copy.h. Reads go through the rk_store_* wrappers of
 * src, writes through those of dst, so any pair of backends works. */
#include "store/copy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

typedef struct ids {
    char **v;
    size_t n, cap;
} ids_t;

static void ids_free(ids_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int ids_add(void *ud, const rk_job_brief_t *b)
{
    ids_t *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return RK_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(b->job_id)))
        return RK_ENOMEM;
    l->n++;
    return RK_OK;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t len = (size_t)vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    if (len < errlen)
        snprintf(err + len, errlen - len, " (%s)", rk_strerror(rc));
    return rc == RK_ENOMEM ? rc : rc == RK_ESTATE ? rc : RK_EIO;
}

static uint64_t job_total(rk_store_t *s, int *rc)
{
    rk_job_filter_t f = {0};
    rk_page_t p = {.limit = 1};
    rk_job_info_t *v = NULL;
    size_t n = 0;
    *rc = rk_store_job_list(s, &f, &p, &v, &n);
    rk_store_jobs_free(v, n);
    return p.total;
}

/* Every result of s, counted page by page (results have no total). */
static int result_count(rk_store_t *s, uint64_t *out)
{
    rk_result_filter_t f = {0};
    rk_page_t p = {.limit = 1000};
    *out = 0;
    for (;;) {
        rk_result_t *v = NULL;
        size_t n = 0;
        int rc = rk_store_result_list(s, &f, &p, &v, &n);
        rk_store_results_free(v, n);
        if (rc)
            return rc;
        *out += n;
        if (!p.next_cursor)
            return RK_OK;
        p.cursor = p.next_cursor;
    }
}

static int copy_agents(rk_store_t *src, rk_store_t *dst, rk_copy_counts_t *c, char *err,
                       size_t errlen)
{
    rk_registered_agent_t *v = NULL;
    size_t n = 0;
    int rc = rk_store_agent_list(src, &v, &n);
    if (rc)
        return fail(err, errlen, rc, "reading the agents");
    for (size_t i = 0; i < n && !rc; i++)
        if ((rc = rk_store_agent_put(dst, &v[i])))
            fail(err, errlen, rc, "writing agent %s", v[i].info.agent_id);
    c->agents = rc ? 0 : n;
    rk_store_agents_free(v, n);
    return rc ? (rc == RK_ENOMEM ? rc : RK_EIO) : RK_OK;
}

static int copy_experiments(rk_store_t *src, rk_store_t *dst, rk_copy_counts_t *c, char *err,
                            size_t errlen)
{
    rk_experiment_t *v = NULL;
    size_t n = 0;
    int rc = rk_store_experiment_list(src, &v, &n);
    if (rc)
        return fail(err, errlen, rc, "reading the experiments");
    for (size_t i = 0; i < n && !rc; i++)
        if ((rc = rk_store_experiment_insert(dst, &v[i])))
            fail(err, errlen, rc, "writing experiment %s", v[i].id);
    c->experiments = rc ? 0 : n;
    rk_store_experiments_free(v, n);
    return rc ? (rc == RK_ENOMEM ? rc : RK_EIO) : RK_OK;
}

/* One job with its history: inserted with its first status, then every
 * later one appended, then the current progress (kept in place). */
static int copy_job(rk_store_t *src, rk_store_t *dst, const char *id, rk_copy_counts_t *c,
                    char *err, size_t errlen)
{
    rk_job_info_t j;
    int rc = rk_store_job_get(src, id, true, &j);
    if (rc)
        return fail(err, errlen, rc, "reading job %s", id);
    rk_job_status_t cur = j.status;
    if (j.n_history)
        j.status = j.history[0];
    int64_t seq;
    if ((rc = rk_store_job_insert(dst, &j, &seq))) {
        fail(err, errlen, rc, "writing job %s", id);
        goto out;
    }
    for (size_t h = 1; h < j.n_history; h++)
        if ((rc = rk_store_job_set_status(dst, id, &j.history[h]))) {
            fail(err, errlen, rc, "writing job %s's history", id);
            goto out;
        }
    if (cur.has_progress && (rc = rk_store_job_set_progress(dst, id, cur.progress)) &&
        rc != RK_EUNSUP) {
        fail(err, errlen, rc, "writing job %s's progress", id);
        goto out;
    }
    rc = RK_OK;
    c->jobs++;
    c->history += j.n_history;
out:
    j.status = cur;
    rk_job_info_cleanup(&j);
    return rc ? (rc == RK_ENOMEM ? rc : RK_EIO) : RK_OK;
}

static int copy_jobs(rk_store_t *src, rk_store_t *dst, const rk_copy_opts_t *o, ids_t *ids,
                     rk_copy_counts_t *c, char *err, size_t errlen)
{
    int rc = rk_store_job_scan(src, 0, ids_add, ids);
    if (rc)
        return fail(err, errlen, rc, "reading the jobs");
    for (size_t i = 0; i < ids->n && !rc; i += RK_COPY_BATCH) {
        size_t end = i + RK_COPY_BATCH < ids->n ? i + RK_COPY_BATCH : ids->n;
        if ((rc = rk_store_begin(dst)))
            return fail(err, errlen, rc, "starting a transaction");
        for (size_t k = i; k < end && !rc; k++)
            rc = copy_job(src, dst, ids->v[k], c, err, errlen);
        if (rc) {
            rk_store_rollback(dst);
            return rc;
        }
        if ((rc = rk_store_commit(dst)))
            return fail(err, errlen, rc, "committing jobs %zu to %zu", i, end);
        if (o->progress)
            o->progress(o->progress_ud, "jobs", end, ids->n);
    }
    return rc;
}

/* Results after the jobs (a result belongs to a stored job), a page per
 * transaction. */
static int copy_results(rk_store_t *src, rk_store_t *dst, const rk_copy_opts_t *o,
                        rk_copy_counts_t *c, char *err, size_t errlen)
{
    rk_result_filter_t f = {0};
    rk_page_t p = {.limit = RK_COPY_BATCH};
    for (;;) {
        rk_result_t *v = NULL;
        size_t n = 0;
        int rc = rk_store_result_list(src, &f, &p, &v, &n);
        if (rc)
            return fail(err, errlen, rc, "reading the results");
        if ((rc = rk_store_begin(dst))) {
            rk_store_results_free(v, n);
            return fail(err, errlen, rc, "starting a transaction");
        }
        for (size_t i = 0; i < n && !rc; i++)
            if ((rc = rk_store_result_put(dst, &v[i])))
                fail(err, errlen, rc, "writing the result of job %s", v[i].job_id);
        rk_store_results_free(v, n);
        if (rc) {
            rk_store_rollback(dst);
            return rc == RK_ENOMEM ? rc : RK_EIO;
        }
        if ((rc = rk_store_commit(dst)))
            return fail(err, errlen, rc, "committing results");
        c->results += n;
        if (o->progress)
            o->progress(o->progress_ud, "results", c->results, 0);
        if (!p.next_cursor)
            return RK_OK;
        p.cursor = p.next_cursor;
    }
}

static int copy_docs(rk_store_t *src, rk_store_t *dst, const char *kind, rk_copy_counts_t *c,
                     char *err, size_t errlen)
{
    char **ids = NULL, **texts = NULL;
    size_t n = 0;
    int rc = rk_store_doc_list(src, kind, &ids, &texts, &n);
    if (rc == RK_EUNSUP)
        return RK_OK;
    if (rc)
        return fail(err, errlen, rc, "reading the %s documents", kind);
    for (size_t i = 0; i < n && !rc; i++)
        if ((rc = rk_store_doc_put(dst, kind, ids[i], texts[i])))
            fail(err, errlen, rc, "writing %s document %s", kind, ids[i]);
    c->docs += rc ? 0 : n;
    rk_store_docs_free(ids, texts, n);
    return rc ? (rc == RK_ENOMEM ? rc : RK_EIO) : RK_OK;
}

/* The two stores' answers for one job (with history) and its result must
 * be the same. */
static int check_job(rk_store_t *src, rk_store_t *dst, const char *id, char *err, size_t errlen)
{
    rk_job_info_t a, b;
    int rc = rk_store_job_get(src, id, true, &a);
    if (rc)
        return fail(err, errlen, rc, "check: reading job %s back from the source", id);
    if ((rc = rk_store_job_get(dst, id, true, &b))) {
        rk_job_info_cleanup(&a);
        return fail(err, errlen, rc, "check: job %s is not in the target", id);
    }
    bool same = rk_job_info_equal(&a, &b);
    rk_job_info_cleanup(&a);
    rk_job_info_cleanup(&b);
    if (!same)
        return fail(err, errlen, RK_EIO, "check: job %s differs between source and target", id);
    rk_result_t ra, rb;
    int ga = rk_store_result_get(src, id, &ra), gb = rk_store_result_get(dst, id, &rb);
    if (ga == RK_ENOENT && gb == RK_ENOENT)
        return RK_OK;
    same = ga == 0 && gb == 0;
    if (same) {
        json_t *ea = rk_result_encode(&ra), *eb = rk_result_encode(&rb);
        same = ea && eb && json_equal(ea, eb);
        json_decref(ea);
        json_decref(eb);
    }
    if (ga == 0)
        rk_result_cleanup(&ra);
    if (gb == 0)
        rk_result_cleanup(&rb);
    return same ? RK_OK : fail(err, errlen, RK_EIO, "check: the result of job %s differs", id);
}

/* Counts of both stores equal what was copied, then the sample. */
static int check(rk_store_t *src, rk_store_t *dst, const rk_copy_opts_t *o, const ids_t *ids,
                 rk_copy_counts_t *c, char *err, size_t errlen)
{
    int rc, rc2;
    uint64_t js = job_total(src, &rc), jd = job_total(dst, &rc2);
    if (rc || rc2)
        return fail(err, errlen, rc ? rc : rc2, "check: counting jobs");
    if (js != jd || jd != c->jobs)
        return fail(err, errlen, RK_EIO, "check: %llu jobs in the source, %llu in the target",
                    (unsigned long long)js, (unsigned long long)jd);
    uint64_t rs, rd;
    if ((rc = result_count(src, &rs)) || (rc = result_count(dst, &rd)))
        return fail(err, errlen, rc, "check: counting results");
    if (rs != rd || rd != c->results)
        return fail(err, errlen, RK_EIO, "check: %llu results in the source, %llu in the target",
                    (unsigned long long)rs, (unsigned long long)rd);
    rk_registered_agent_t *av = NULL;
    size_t an = 0;
    rk_experiment_t *xv = NULL;
    size_t xn = 0;
    if ((rc = rk_store_agent_list(dst, &av, &an)) || (rc = rk_store_experiment_list(dst, &xv, &xn)))
        return fail(err, errlen, rc, "check: listing the target");
    rk_store_agents_free(av, an);
    rk_store_experiments_free(xv, xn);
    if (an != c->agents || xn != c->experiments)
        return fail(err, errlen, RK_EIO, "check: the target holds %zu agents and %zu experiments",
                    an, xn);
    size_t stride = o->sample_stride ? o->sample_stride : 97;
    for (size_t i = 0; i < ids->n; i += stride) {
        if ((rc = check_job(src, dst, ids->v[i], err, errlen)))
            return rc;
        c->checked++;
    }
    if (ids->n && (ids->n - 1) % stride &&
        (rc = check_job(src, dst, ids->v[ids->n - 1], err, errlen)) == 0)
        c->checked++;
    return rc;
}

int rk_store_copy(rk_store_t *src, rk_store_t *dst, const rk_copy_opts_t *o, rk_copy_counts_t *out,
                  char *err, size_t errlen)
{
    static const rk_copy_opts_t none = {0};
    o = o ? o : &none;
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    int rc;
    uint64_t jobs = job_total(dst, &rc);
    if (rc)
        return fail(err, errlen, rc, "reading the target");
    rk_registered_agent_t *av = NULL;
    size_t an = 0;
    rk_experiment_t *xv = NULL;
    size_t xn = 0;
    if ((rc = rk_store_agent_list(dst, &av, &an)) || (rc = rk_store_experiment_list(dst, &xv, &xn)))
        return fail(err, errlen, rc, "reading the target");
    rk_store_agents_free(av, an);
    rk_store_experiments_free(xv, xn);
    if (jobs || an || xn) {
        snprintf(err, errlen,
                 "the target is not empty (%llu jobs, %zu agents, %zu experiments): migrate "
                 "into a new database",
                 (unsigned long long)jobs, an, xn);
        return RK_ESTATE;
    }
    ids_t ids = {0};
    if ((rc = copy_agents(src, dst, out, err, errlen)) ||
        (rc = copy_experiments(src, dst, out, err, errlen)) ||
        (rc = copy_jobs(src, dst, o, &ids, out, err, errlen)) ||
        (rc = copy_results(src, dst, o, out, err, errlen)))
        goto done;
    for (const char *const *k = o->doc_kinds; k && *k && !rc; k++)
        rc = copy_docs(src, dst, *k, out, err, errlen);
    if (!rc)
        rc = check(src, dst, o, &ids, out, err, errlen);
done:
    ids_free(&ids);
    return rc;
}
