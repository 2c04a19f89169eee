/* The "postgresql" backend: one database shared by any number of servers.
 *
 * Location: a libpq connection string ("host=... dbname=..." or
 * "postgresql://user@host:port/db"); empty = the environment variable
 * RUCKUS_POSTGRES_DATABASE_URL. Opening connects, migrates the schema
 * (pg_schema.c) and keeps the connection (pg_conn.c). Transactions are
 * PostgreSQL's: begin holds the connection for the calling thread until
 * its commit or rollback; a refused write inside (a duplicate job) leaves
 * the rest of the transaction to commit, as with SQLite (the statements
 * answer refusals without an error; see pg_wbegin).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "store/pg_int.h"

#define ENV_URL "RUCKUS_POSTGRES_DATABASE_URL"

static void pg_close(rk_store_t *base)
{
    pg_store_t *s = PG(base);
    while (s->idle) {
        pg_conn_t *c = s->idle;
        s->idle = c->next;
        pg_conn_close(c);
        free(c);
    }
    pg_conn_close(&s->w); /* an open transaction is rolled back by the server */
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    free(s->conninfo);
    free(s);
}

static int pg_open(const char *location, rk_store_t **out)
{
    if (!*location)
        location = getenv(ENV_URL) ? getenv(ENV_URL) : "";
    if (!*location) {
        rk_log_error("postgresql store: no connection string given (location or " ENV_URL ")");
        return RK_EINVAL;
    }
    pg_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return RK_ENOMEM;
    s->base.ops = &rk_store_postgresql_ops;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    s->w.s = s;
    s->w.writer = true;
    int rc = (s->conninfo = strdup(location)) ? 0 : RK_ENOMEM;
    if (!rc)
        rc = pg_connect(s->conninfo, &s->w.conn);
    if (!rc)
        rc = rk_pg_migrate(s->w.conn);
    if (rc) {
        pg_close(&s->base);
        return rc;
    }
    rk_log_info("postgresql store open", "database", PQdb(s->w.conn), "host", PQhost(s->w.conn));
    *out = &s->base;
    return 0;
}

int pg_begin(rk_store_t *base)
{
    pg_store_t *s = PG(base);
    if (pg_mine(s))
        return RK_ESTATE;
    pg_conn_t *c;
    int rc = pg_acquire(s, &c);
    if (!rc)
        rc = pg_exec(c, PG_BEGIN, 0, NULL, NULL, "begin");
    if (rc) {
        pg_release(s);
        return rc;
    }
    s->tx_lost = s->seq_locked = false;
    atomic_store(&s->owner, rk_store_tid());
    return 0;
}

static int tx_end(pg_store_t *s, bool keep)
{
    if (!pg_mine(s))
        return RK_ESTATE;
    int rc;
    if (s->tx_lost) {
        /* The server rolled it back (the connection went, or it aborted). */
        rc = keep ? RK_EIO : 0;
        if (keep)
            rk_log_error("postgresql store: commit refused: the transaction was lost (its "
                         "connection, or a failed statement)");
    } else {
        rc = pg_exec(&s->w, keep ? PG_COMMIT : PG_ROLLBACK, 0, NULL, NULL,
                     keep ? "commit" : "rollback");
        if (rc && !keep && PQstatus(s->w.conn) != CONNECTION_OK)
            rc = 0; /* nothing is left to undo */
    }
    s->tx_lost = false;
    atomic_store(&s->owner, 0);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pg_commit(rk_store_t *s)
{
    return tx_end(PG(s), true);
}

int pg_rollback(rk_store_t *s)
{
    return tx_end(PG(s), false);
}

/* ---- agents and experiments: JSON text by key ---- */

/* Runs write id with the key and (when text) the body; when no row
 * changed: RK_ENOENT for a delete, RK_EEXIST for an insert that refuses
 * duplicates (want_change), 0 otherwise. */
static int put(pg_store_t *s, pg_id_t id, const char *key, const char *text, bool want_change,
               const char *what)
{
    const char *vals[] = {key, text};
    long changed = 0;
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    if (!rc)
        rc = pg_exec(c, id, text ? 2 : 1, vals, &changed, what);
    if (!rc && want_change && changed == 0)
        rc = text ? RK_EEXIST : RK_ENOENT;
    return pg_wend(s, rc, false);
}

/* The first column of a one-row query by key, malloc'ed into *text. */
static int get_text(pg_store_t *s, pg_id_t id, const char *key, char **text)
{
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    PGresult *r = rc ? NULL : pg_run(c, id, 1, &key, &rc, "get");
    pg_rdone(s, c);
    if (r)
        rc = PQntuples(r) == 0 ? RK_ENOENT : (*text = pg_text(r, 0, 0)) ? 0 : RK_ENOMEM;
    PQclear(r);
    return rc;
}

typedef int (*from_text_fn)(const char *text, void *out);

/* Every body of list query id into a new array of elem-sized models. */
static int list_texts(pg_store_t *s, pg_id_t id, size_t elem, from_text_fn decode, void **out,
                      size_t *n)
{
    pg_conn_t *c;
    int rc = pg_rget(s, &c);
    PGresult *r = rc ? NULL : pg_run(c, id, 0, NULL, &rc, "list");
    pg_rdone(s, c);
    if (!r)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    char *v = calloc(rows + 1, elem);
    if (!v)
        rc = RK_ENOMEM;
    for (size_t i = 0; !rc && i < rows; i++) {
        rc = decode(PQgetvalue(r, (int)i, 0), v + i * elem);
        (*n)++;
    }
    PQclear(r);
    *out = v;
    return rc;
}

static int agent_decode(const char *text, void *out)
{
    return rk_store_agent_from_text(text, out);
}

static int experiment_decode(const char *text, void *out)
{
    return rk_store_experiment_from_text(text, out);
}

static int pg_agent_put(rk_store_t *s, const rk_registered_agent_t *a)
{
    char *text;
    int rc = rk_store_agent_to_text(a, &text);
    if (!rc)
        rc = put(PG(s), PG_AGENT_PUT, a->info.agent_id, text, false, "agent put");
    free(text);
    return rc;
}

static int pg_agent_get(rk_store_t *s, const char *agent_id, rk_registered_agent_t *out)
{
    char *text = NULL;
    int rc = get_text(PG(s), PG_AGENT_GET, agent_id, &text);
    if (!rc)
        rc = rk_store_agent_from_text(text, out);
    free(text);
    return rc;
}

static int pg_agent_list(rk_store_t *s, rk_registered_agent_t **out, size_t *n)
{
    return list_texts(PG(s), PG_AGENT_LIST, sizeof **out, agent_decode, (void **)out, n);
}

static int pg_agent_delete(rk_store_t *s, const char *agent_id)
{
    return put(PG(s), PG_AGENT_DELETE, agent_id, NULL, true, "agent delete");
}

static int pg_experiment_insert(rk_store_t *s, const rk_experiment_t *x)
{
    char *text;
    int rc = rk_store_experiment_to_text(x, &text);
    if (!rc)
        rc = put(PG(s), PG_EXP_INSERT, x->id, text, true, "experiment insert");
    free(text);
    return rc;
}

static int pg_experiment_get(rk_store_t *s, const char *id, rk_experiment_t *out)
{
    char *text = NULL;
    int rc = get_text(PG(s), PG_EXP_GET, id, &text);
    if (!rc)
        rc = rk_store_experiment_from_text(text, out);
    free(text);
    return rc;
}

static int pg_experiment_list(rk_store_t *s, rk_experiment_t **out, size_t *n)
{
    return list_texts(PG(s), PG_EXP_LIST, sizeof **out, experiment_decode, (void **)out, n);
}

static int pg_experiment_delete(rk_store_t *base, const char *id, bool cascade)
{
    pg_store_t *s = PG(base);
    long changed = 0;
    pg_conn_t *c;
    int rc = pg_wbegin(s, true, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_EXP_REFS, 1, &id, &rc, "experiment refs");
    if (r) {
        bool found = PQgetvalue(r, 0, 0)[0] == 't', any = PQgetvalue(r, 0, 1)[0] == 't';
        bool unfinished = PQgetvalue(r, 0, 2)[0] == 't';
        rc = !found ? RK_ENOENT : unfinished || (any && !cascade) ? RK_ESTATE : 0;
        PQclear(r);
    }
    if (!rc && !(rc = pg_exec(c, PG_EXP_DELETE, 1, &id, &changed, "experiment delete")) &&
        changed == 0)
        rc = RK_ENOENT;
    if (!rc)
        rc = pg_exec(c, PG_EXP_SEQ_KEEP, 1, &id, NULL, "experiment delete: keep numbers");
    if (!rc)
        rc = pg_exec(c, PG_EXP_DELETE_JOBS, 1, &id, NULL, "experiment delete jobs");
    return pg_wend(s, rc, true);
}

const rk_store_ops_t rk_store_postgresql_ops = {
    .version = RK_STORE_OPS_VERSION,
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .agent_put = pg_agent_put,
    .agent_get = pg_agent_get,
    .agent_list = pg_agent_list,
    .agent_delete = pg_agent_delete,
    .experiment_insert = pg_experiment_insert,
    .experiment_get = pg_experiment_get,
    .experiment_list = pg_experiment_list,
    .experiment_delete = pg_experiment_delete,
    .job_insert = pg_job_insert,
    .job_set_status = pg_job_set_status,
    .job_set_progress = pg_job_set_progress,
    .job_get = pg_job_get,
    .job_list = pg_job_list,
    .job_scan = pg_job_scan,
    .job_set_priority = pg_job_set_priority,
    .job_place = pg_job_place,
    .job_set_extra = pg_job_set_extra,
    .result_put = pg_result_put,
    .result_get = pg_result_get,
    .result_list = pg_result_list,
    .result_list_text = pg_result_list_text,
    .doc_put = pg_doc_put,
    .doc_get = pg_doc_get,
    .doc_list = pg_doc_list,
    .doc_delete = pg_doc_delete,
    .doc_replace = pg_doc_replace,
    .lease_acquire = pg_lease_acquire,
    .job_find_key = pg_job_find_key,
    .lead = pg_lead,
    .job_purge_finished = pg_job_purge_finished,
    .job_purge = pg_job_purge,
};
