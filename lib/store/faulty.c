/* The failing-on-command store wrapper (faulty.h). Every slot passes
 * through to the wrapped store unless a fault is armed on it. */
#include "store/faulty.h"

#include <stdlib.h>

#include "base/err.h"

typedef struct fault {
    int rc;
    unsigned after, times;
    unsigned long calls;
} fault_t;

typedef struct faulty {
    rk_store_t base;
    rk_store_t *in;
    fault_t f[RK_FAULTY_OP_COUNT];
    void (*on_commit)(void *ud);
    void *on_commit_ud;
} faulty_t;

#define IN(s) (((faulty_t *)(s))->in)

/* 0: let the call through; else the armed error. */
static int fire(rk_store_t *s, rk_faulty_op_t op)
{
    fault_t *f = &((faulty_t *)s)->f[op];
    f->calls++;
    if (!f->times)
        return 0;
    if (f->after) {
        f->after--;
        return 0;
    }
    f->times--;
    return f->rc;
}

static int f_open(const char *location, rk_store_t **out)
{
    (void)location;
    (void)out;
    return RK_EINVAL; /* wrap an open store instead */
}

static void f_close(rk_store_t *s)
{
    rk_store_close(IN(s));
    free(s);
}

static int f_begin(rk_store_t *s)
{
    int rc = fire(s, RK_FAULTY_BEGIN);
    return rc ? rc : rk_store_begin(IN(s));
}

static int f_commit(rk_store_t *s)
{
    faulty_t *fs = (faulty_t *)s;
    if (fs->on_commit)
        fs->on_commit(fs->on_commit_ud);
    int rc = fire(s, RK_FAULTY_COMMIT);
    if (rc) {
        rk_store_rollback(IN(s)); /* a failed commit leaves nothing behind */
        return rc;
    }
    return rk_store_commit(IN(s));
}

static int f_rollback(rk_store_t *s)
{
    /* After a failed commit the inner transaction is already gone. */
    int rc = rk_store_rollback(IN(s));
    return rc == RK_ESTATE ? 0 : rc;
}

static int f_agent_put(rk_store_t *s, const rk_registered_agent_t *a)
{
    int rc = fire(s, RK_FAULTY_AGENT_PUT);
    return rc ? rc : rk_store_agent_put(IN(s), a);
}

static int f_agent_get(rk_store_t *s, const char *id, rk_registered_agent_t *out)
{
    return rk_store_agent_get(IN(s), id, out);
}

static int f_agent_list(rk_store_t *s, rk_registered_agent_t **out, size_t *n)
{
    return rk_store_agent_list(IN(s), out, n);
}

static int f_agent_delete(rk_store_t *s, const char *id)
{
    int rc = fire(s, RK_FAULTY_AGENT_DELETE);
    return rc ? rc : rk_store_agent_delete(IN(s), id);
}

static int f_experiment_insert(rk_store_t *s, const rk_experiment_t *x)
{
    return rk_store_experiment_insert(IN(s), x);
}

static int f_experiment_get(rk_store_t *s, const char *id, rk_experiment_t *out)
{
    return rk_store_experiment_get(IN(s), id, out);
}

static int f_experiment_list(rk_store_t *s, rk_experiment_t **out, size_t *n)
{
    return rk_store_experiment_list(IN(s), out, n);
}

static int f_experiment_delete(rk_store_t *s, const char *id, bool cascade)
{
    return rk_store_experiment_delete(IN(s), id, cascade);
}

static int f_job_insert(rk_store_t *s, const rk_job_info_t *job, int64_t *seq)
{
    int rc = fire(s, RK_FAULTY_JOB_INSERT);
    return rc ? rc : rk_store_job_insert(IN(s), job, seq);
}

static int f_job_set_status(rk_store_t *s, const char *id, const rk_job_status_t *st)
{
    int rc = fire(s, RK_FAULTY_JOB_SET_STATUS);
    return rc ? rc : rk_store_job_set_status(IN(s), id, st);
}

static int f_job_get(rk_store_t *s, const char *id, bool hist, rk_job_info_t *out)
{
    int rc = fire(s, RK_FAULTY_JOB_GET);
    return rc ? rc : rk_store_job_get(IN(s), id, hist, out);
}

static int f_job_list(rk_store_t *s, const rk_job_filter_t *f, rk_page_t *page, rk_job_info_t **out,
                      size_t *n)
{
    return rk_store_job_list(IN(s), f, page, out, n);
}

static int f_job_scan(rk_store_t *s, unsigned mask, rk_job_scan_fn fn, void *ud)
{
    return rk_store_job_scan(IN(s), mask, fn, ud);
}

static int f_result_put(rk_store_t *s, const rk_result_t *r)
{
    int rc = fire(s, RK_FAULTY_RESULT_PUT);
    return rc ? rc : rk_store_result_put(IN(s), r);
}

static int f_result_get(rk_store_t *s, const char *id, rk_result_t *out)
{
    return rk_store_result_get(IN(s), id, out);
}

static int f_result_list(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                         rk_result_t **out, size_t *n)
{
    return rk_store_result_list(IN(s), f, page, out, n);
}

static int f_result_list_text(rk_store_t *s, const rk_result_filter_t *f, rk_page_t *page,
                              char ***out, size_t *n)
{
    int rc = fire(s, RK_FAULTY_RESULT_LIST_TEXT);
    return rc ? rc : rk_store_result_list_text(IN(s), f, page, out, n);
}

static int f_job_set_priority(rk_store_t *s, const char *id, rk_job_priority_t priority)
{
    int rc = fire(s, RK_FAULTY_JOB_SET_PRIORITY);
    return rc ? rc : rk_store_job_set_priority(IN(s), id, priority);
}

static int f_job_place(rk_store_t *s, const char *id, const char *agent_id)
{
    int rc = fire(s, RK_FAULTY_JOB_PLACE);
    return rc ? rc : rk_store_job_place(IN(s), id, agent_id);
}

static int f_job_set_extra(rk_store_t *s, const char *id, const json_t *extra)
{
    int rc = fire(s, RK_FAULTY_JOB_SET_EXTRA);
    return rc ? rc : rk_store_job_set_extra(IN(s), id, extra);
}

static int f_job_set_progress(rk_store_t *s, const char *id, double progress)
{
    int rc = fire(s, RK_FAULTY_JOB_SET_PROGRESS);
    return rc ? rc : rk_store_job_set_progress(IN(s), id, progress);
}

static int f_doc_put(rk_store_t *s, const char *kind, const char *id, const char *json)
{
    int rc = fire(s, RK_FAULTY_DOC_PUT);
    return rc ? rc : rk_store_doc_put(IN(s), kind, id, json);
}

static int f_doc_get(rk_store_t *s, const char *kind, const char *id, char **json)
{
    return rk_store_doc_get(IN(s), kind, id, json);
}

static int f_doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n)
{
    return rk_store_doc_list(IN(s), kind, ids, jsons, n);
}

static int f_doc_delete(rk_store_t *s, const char *kind, const char *id)
{
    int rc = fire(s, RK_FAULTY_DOC_DELETE);
    return rc ? rc : rk_store_doc_delete(IN(s), kind, id);
}

static int f_doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                         const char *json)
{
    int rc = fire(s, RK_FAULTY_DOC_REPLACE);
    return rc ? rc : rk_store_doc_replace(IN(s), kind, id, expect, json);
}

static int f_lease_acquire(rk_store_t *s, const char *agent_id, const char *owner, int64_t ttl_ms)
{
    return rk_store_lease_acquire(IN(s), agent_id, owner, ttl_ms);
}

static int f_job_purge_finished(rk_store_t *s, rk_job_purge_t *p)
{
    int rc = fire(s, RK_FAULTY_JOB_PURGE);
    return rc ? rc : rk_store_job_purge_finished(IN(s), p);
}

static int f_job_purge(rk_store_t *s, const char *job_id, bool *had_result)
{
    int rc = fire(s, RK_FAULTY_JOB_PURGE);
    return rc ? rc : rk_store_job_purge(IN(s), job_id, had_result);
}

static int f_job_find_key(rk_store_t *s, const char *key, char **job_id, char **fp)
{
    int rc = fire(s, RK_FAULTY_JOB_FIND_KEY);
    if (rc) {
        *job_id = *fp = NULL;
        return rc;
    }
    return rk_store_job_find_key(IN(s), key, job_id, fp);
}

static const rk_store_ops_t faulty_ops = {
    .version = RK_STORE_OPS_VERSION,
    .name = "faulty",
    .open = f_open,
    .close = f_close,
    .begin = f_begin,
    .commit = f_commit,
    .rollback = f_rollback,
    .agent_put = f_agent_put,
    .agent_get = f_agent_get,
    .agent_list = f_agent_list,
    .agent_delete = f_agent_delete,
    .experiment_insert = f_experiment_insert,
    .experiment_get = f_experiment_get,
    .experiment_list = f_experiment_list,
    .experiment_delete = f_experiment_delete,
    .job_insert = f_job_insert,
    .job_set_status = f_job_set_status,
    .job_set_progress = f_job_set_progress,
    .job_set_priority = f_job_set_priority,
    .job_place = f_job_place,
    .job_set_extra = f_job_set_extra,
    .doc_put = f_doc_put,
    .doc_get = f_doc_get,
    .doc_list = f_doc_list,
    .doc_delete = f_doc_delete,
    .doc_replace = f_doc_replace,
    .job_get = f_job_get,
    .job_list = f_job_list,
    .job_scan = f_job_scan,
    .result_put = f_result_put,
    .result_get = f_result_get,
    .result_list = f_result_list,
    .result_list_text = f_result_list_text,
    .lease_acquire = f_lease_acquire,
    .job_find_key = f_job_find_key,
    .job_purge_finished = f_job_purge_finished,
    .job_purge = f_job_purge,
};

int rk_store_faulty_wrap(rk_store_t *inner, rk_store_t **out)
{
    faulty_t *fs = calloc(1, sizeof *fs);
    if (!fs)
        return RK_ENOMEM;
    fs->base.ops = &faulty_ops;
    fs->in = inner;
    *out = &fs->base;
    return 0;
}

void rk_store_faulty_arm(rk_store_t *s, rk_faulty_op_t op, int rc, unsigned after, unsigned times)
{
    fault_t *f = &((faulty_t *)s)->f[op];
    f->rc = rc;
    f->after = after;
    f->times = times;
}

unsigned long rk_store_faulty_calls(const rk_store_t *s, rk_faulty_op_t op)
{
    return ((const faulty_t *)s)->f[op].calls;
}

void rk_store_faulty_on_commit(rk_store_t *s, void (*fn)(void *ud), void *ud)
{
    faulty_t *fs = (faulty_t *)s;
    fs->on_commit = fn;
    fs->on_commit_ud = ud;
}
