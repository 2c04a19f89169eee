/* The postgresql schema, as a list of migrations: migrations[i] takes a
 * database from schema_version i to i + 1. They run in one transaction
 * holding an advisory lock, so servers starting together migrate once and
 * a failed step leaves the old version whole. Never edit a shipped step;
 * append one.
 *
 * Layout (version 1), the same data as the sqlite backend's:
 * - jobs: one row per job with its current status; seq is the queue order
 *   and the paging cursor: one past the newest job's, or past job_seq.v
 *   (the highest number a delete took away), so never reused, and given
 *   back by a rollback as SQLite's AUTOINCREMENT behaves (a SEQUENCE would
 *   leave gaps; a counter row updated by every insert grows a version
 *   chain per transaction). Inserters take them in turn under an advisory
 *   lock held to their transaction's end. Indexes (state, seq), (agent_id, state, seq),
 *   (experiment_id, state, seq), (agent_id, experiment_id, state, seq) and
 *   a partial one over unfinished jobs serve every listing shape and the
 *   start-up scan.
 * - job_history: every status of a job, idx 0 = its first.
 * - agents, experiments, results, docs: the model's JSON text whole
 *   (unknown fields kept; text, not jsonb, so it comes back byte for byte)
 *   plus the key columns filters use. History and results go with their
 *   job (ON DELETE CASCADE).
 * - job_counts: jobs per (agent, experiment, state), kept by a trigger in
 *   the statement that changes jobs (a rollback undoes both): a listing's
 *   exact total is a sum of counter rows.
 * - leases: who dispatches an agent's jobs until when (several servers).
 * Version 2 (queue control) adds the job columns priority (by name,
 * 'medium' for jobs stored before), exclusive and selector (the
 * agent_selector's labels as JSON text, or NULL), and counts paused among
 * the unfinished jobs of the partial index. An unplaced job ("any" agent)
 * stores agent_id '' as the sqlite backend does. Version 3 (jobs over
 * time) adds extra: the JobInfo's extra object as JSON text, or NULL.
 * Keys are COLLATE "C" so lists come in byte order, as with SQLite.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/log.h"
#include "store/pg_int.h"

/* pg_advisory_xact_lock key: "rkmg" */
#define MIGRATE_LOCK "1802333543"

static const char *const migrations[RK_PG_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE agents ("
    "  agent_id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  body TEXT NOT NULL);"
    "CREATE TABLE experiments ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  body TEXT NOT NULL);"
    "CREATE TABLE job_seq (v BIGINT NOT NULL);"
    "INSERT INTO job_seq VALUES (0);"
    "CREATE TABLE jobs ("
    "  seq BIGINT PRIMARY KEY,"
    "  job_id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  experiment_id TEXT COLLATE \"C\" NOT NULL,"
    "  agent_id TEXT COLLATE \"C\" NOT NULL,"
    "  created_time BIGINT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  status_time BIGINT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  progress DOUBLE PRECISION);"
    "CREATE INDEX jobs_state ON jobs(state, seq);"
    "CREATE INDEX jobs_agent_state ON jobs(agent_id, state, seq);"
    "CREATE INDEX jobs_experiment_state ON jobs(experiment_id, state, seq);"
    "CREATE INDEX jobs_pair_state ON jobs(agent_id, experiment_id, state, seq);"
    "CREATE INDEX jobs_unfinished ON jobs(seq) WHERE state IN ('queued','assigned','running');"
    "CREATE TABLE job_history ("
    "  job_seq BIGINT NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  time BIGINT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  progress DOUBLE PRECISION,"
    "  PRIMARY KEY (job_seq, idx));"
    "CREATE TABLE results ("
    "  job_seq BIGINT PRIMARY KEY REFERENCES jobs(seq) ON DELETE CASCADE,"
    "  job_id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
    "  experiment_id TEXT COLLATE \"C\" NOT NULL,"
    "  agent_id TEXT COLLATE \"C\" NOT NULL,"
    "  body TEXT NOT NULL);"
    "CREATE INDEX results_experiment ON results(experiment_id, job_seq);"
    "CREATE INDEX results_agent ON results(agent_id, job_seq);"
    "CREATE INDEX results_pair ON results(agent_id, experiment_id, job_seq);"
    "CREATE TABLE job_counts ("
    "  agent_id TEXT COLLATE \"C\" NOT NULL,"
    "  experiment_id TEXT COLLATE \"C\" NOT NULL,"
    "  state TEXT NOT NULL,"
    "  n BIGINT NOT NULL,"
    "  PRIMARY KEY (agent_id, experiment_id, state));"
    "CREATE INDEX job_counts_experiment ON job_counts(experiment_id, state);"
    "CREATE INDEX job_counts_state ON job_counts(state);"
    "CREATE FUNCTION job_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP IN ('UPDATE', 'DELETE') THEN"
    "   UPDATE job_counts SET n = n - 1 WHERE agent_id = OLD.agent_id"
    "    AND experiment_id = OLD.experiment_id AND state = OLD.state;"
    "   DELETE FROM job_counts WHERE agent_id = OLD.agent_id"
    "    AND experiment_id = OLD.experiment_id AND state = OLD.state AND n = 0;"
    "  END IF;"
    "  IF TG_OP IN ('INSERT', 'UPDATE') THEN"
    "   INSERT INTO job_counts VALUES (NEW.agent_id, NEW.experiment_id, NEW.state, 1)"
    "    ON CONFLICT (agent_id, experiment_id, state) DO UPDATE SET n = job_counts.n + 1;"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER job_counts_insert_delete AFTER INSERT OR DELETE ON jobs"
    "  FOR EACH ROW EXECUTE FUNCTION job_counts_change();"
    "CREATE TRIGGER job_counts_update AFTER UPDATE OF state, agent_id, experiment_id ON jobs"
    "  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state"
    "   OR OLD.agent_id IS DISTINCT FROM NEW.agent_id"
    "   OR OLD.experiment_id IS DISTINCT FROM NEW.experiment_id)"
    "  EXECUTE FUNCTION job_counts_change();"
    "CREATE TABLE docs ("
    "  kind TEXT COLLATE \"C\" NOT NULL,"
    "  id TEXT COLLATE \"C\" NOT NULL,"
    "  body TEXT NOT NULL,"
    "  PRIMARY KEY (kind, id));"
    "CREATE TABLE leases ("
    "  agent_id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  expires_at TIMESTAMPTZ NOT NULL);",
    /* 1 -> 2: queue control. */
    "ALTER TABLE jobs ADD COLUMN priority TEXT NOT NULL DEFAULT 'medium';"
    "ALTER TABLE jobs ADD COLUMN exclusive BOOLEAN NOT NULL DEFAULT false;"
    "ALTER TABLE jobs ADD COLUMN selector TEXT;"
    "DROP INDEX jobs_unfinished;"
    "CREATE INDEX jobs_unfinished ON jobs(seq)"
    "  WHERE state IN ('queued','assigned','running','paused');",
    /* 2 -> 3: jobs over time. */
    "ALTER TABLE jobs ADD COLUMN extra TEXT;",
    /* 3 -> 4: idempotency keys of POST /jobs, each naming one job. */
    "ALTER TABLE jobs ADD COLUMN idem_key TEXT;"
    "ALTER TABLE jobs ADD COLUMN idem_fp TEXT;"
    "CREATE UNIQUE INDEX jobs_idem ON jobs(idem_key) WHERE idem_key IS NOT NULL;",
};

/* Runs text (one or more statements); 0, or RK_EIO logged with step. */
static int run(PGconn *c, const char *text, const char *step, PGresult **keep)
{
    PGresult *r = PQexec(c, text);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (keep)
            *keep = r;
        else
            PQclear(r);
        return 0;
    }
    rk_log_error("postgresql store: schema migration failed", "step", step, "error",
                 PQerrorMessage(c));
    PQclear(r);
    return RK_EIO;
}

int rk_pg_migrate(PGconn *c)
{
    PGresult *r = NULL;
    int rc = run(c, "BEGIN", "begin", NULL);
    if (!rc)
        rc = run(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", "lock", NULL);
    if (!rc)
        rc = run(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                 "schema_version", NULL);
    if (!rc)
        rc = run(c, "SELECT coalesce(max(version), 0) FROM schema_version", "read version", &r);
    int v = r ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (!rc && v > RK_PG_SCHEMA_VERSION) {
        char have[16], want[16];
        snprintf(have, sizeof have, "%d", v);
        snprintf(want, sizeof want, "%d", RK_PG_SCHEMA_VERSION);
        rk_log_error("postgresql store: the database's schema is newer than this build's",
                     "version", have, "supported", want);
        rc = RK_EIO;
    }
    for (int i = v; !rc && i < RK_PG_SCHEMA_VERSION; i++) {
        char step[64];
        snprintf(step, sizeof step, "%d -> %d", i, i + 1);
        rc = run(c, migrations[i], step, NULL);
    }
    if (!rc && v < RK_PG_SCHEMA_VERSION) {
        char text[128];
        snprintf(text, sizeof text,
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
                 RK_PG_SCHEMA_VERSION);
        rc = run(c, text, "bump version", NULL);
    }
    if (!rc)
        rc = run(c, "COMMIT", "commit", NULL);
    else
        PQclear(PQexec(c, "ROLLBACK"));
    return rc;
}
