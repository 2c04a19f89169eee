/* The sqlite schema, as a list of migrations: migrations[i] takes a file
 * from user_version i to i + 1, in one transaction with the version bump,
 * so a crash mid-migration leaves the old version whole. Never edit a
 * shipped step; append one.
 *
 * Layout (version 1):
 * - jobs: one row per job with its current status; seq (AUTOINCREMENT, so
 *   never reused even after a cascade delete) is the queue order and the
 *   paging cursor. Indexes (state, seq), (agent_id, seq, state) and
 *   (experiment_id, seq, state) serve newest-first pages for every filter
 *   (state rides along so a combined filter's count reads no rows); the
 *   partial index over unfinished jobs lets the start-up scan and unfinished
 *   listings skip the (many) finished ones.
 * - job_history: every status of a job, idx 0 = its first.
 * - agents, experiments, results: the model's JSON whole (unknown fields
 *   kept) plus the key columns that filters use. History and results go
 *   with their job (foreign keys, ON DELETE CASCADE).
 *
 * Version 2 adds job_counts: how many jobs are in each state, overall
 * (kind 0, key ''), per agent (kind 1, key agent_id) and per experiment
 * (kind 2, key experiment_id), kept by triggers on jobs in the same
 * statement as the change (so a rollback undoes both). A listing's total
 * for those filter shapes sums a few of its rows instead of counting
 * jobs. Zero rows of a key go when its jobs are deleted; the rest is
 * bounded by 7 states x (agents + experiments).
 * Version 3 gives every listing filter shape an index that yields its
 * rows newest first for one state: (state, seq), (agent_id, state, seq),
 * (experiment_id, state, seq) and (agent_id, experiment_id, state, seq)
 * (these replace version 1's (agent_id, seq, state) and (experiment_id,
 * seq, state), which made a set of states or a rare state scan every
 * entry of the key). A listing over several states merges one such range
 * per state (sqlite_jobs.c). job_pair_counts counts jobs per (agent,
 * experiment, state), kept by triggers like job_counts, so every filter
 * shape's total sums at most 7 counter rows. results_pair serves results
 * filtered by both agent and experiment.
 * Version 4 adds docs: small JSON documents by kind and id.
 * Version 5 (queue control) adds the job columns priority (by name,
 * 'medium' for jobs stored before), exclusive (0/1) and selector (the
 * agent_selector's labels as JSON text, or NULL), and counts paused among
 * the unfinished jobs of the partial index. An unplaced job ("any" agent)
 * stores agent_id '' (the column stays NOT NULL, so older files need no
 * table rebuild): its counters are those of key '' and a listing filtered
 * by agent '' gives the unplaced jobs.
 * States are stored by name (model/enums.h: names are stable, numbers are
 * not promised).
 */
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"
#include "store/sqlite_int.h"

static const char *const migrations[RK_SQLITE_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE agents ("
    "  agent_id TEXT PRIMARY KEY,"
    "  body TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE experiments ("
    "  id TEXT PRIMARY KEY,"
    "  body TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE jobs ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  job_id TEXT NOT NULL UNIQUE,"
    "  experiment_id TEXT NOT NULL,"
    "  agent_id TEXT NOT NULL,"
    "  created_time INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  status_time INTEGER NOT NULL,"
    "  message TEXT NOT NULL,"
    "  progress REAL"
    ");"
    "CREATE INDEX jobs_state ON jobs(state, seq);"
    "CREATE INDEX jobs_agent ON jobs(agent_id, seq, state);"
    "CREATE INDEX jobs_experiment ON jobs(experiment_id, seq, state);"
    "CREATE INDEX jobs_unfinished ON jobs(seq)"
    "  WHERE state IN ('queued','assigned','running');"
    "CREATE TABLE job_history ("
    "  job_seq INTEGER NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  message TEXT NOT NULL,"
    "  progress REAL,"
    "  PRIMARY KEY (job_seq, idx)"
    ") WITHOUT ROWID;"
    "CREATE TABLE results ("
    "  job_seq INTEGER PRIMARY KEY REFERENCES jobs(seq) ON DELETE CASCADE,"
    "  job_id TEXT NOT NULL UNIQUE,"
    "  experiment_id TEXT NOT NULL,"
    "  agent_id TEXT NOT NULL,"
    "  body TEXT NOT NULL"
    ");"
    "CREATE INDEX results_experiment ON results(experiment_id, job_seq);"
    "CREATE INDEX results_agent ON results(agent_id, job_seq);",
    /* 1 -> 2: job counters */
    "CREATE TABLE job_counts ("
    "  kind INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, key, state)"
    ") WITHOUT ROWID;"
    "INSERT INTO job_counts SELECT 0, '', state, count(*) FROM jobs GROUP BY state;"
    "INSERT INTO job_counts SELECT 1, agent_id, state, count(*) FROM jobs"
    "  GROUP BY agent_id, state;"
    "INSERT INTO job_counts SELECT 2, experiment_id, state, count(*) FROM jobs"
    "  GROUP BY experiment_id, state;"
    "CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs BEGIN"
    "  INSERT INTO job_counts VALUES (0, '', new.state, 1), (1, new.agent_id, new.state, 1),"
    "    (2, new.experiment_id, new.state, 1) ON CONFLICT DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER job_counts_update AFTER UPDATE OF state, agent_id, experiment_id ON jobs"
    "  WHEN old.state IS NOT new.state OR old.agent_id IS NOT new.agent_id"
    "    OR old.experiment_id IS NOT new.experiment_id BEGIN"
    "  UPDATE job_counts SET n = n - 1 WHERE kind = 0 AND key = '' AND state = old.state;"
    "  UPDATE job_counts SET n = n - 1 WHERE kind = 1 AND key = old.agent_id"
    "    AND state = old.state;"
    "  UPDATE job_counts SET n = n - 1 WHERE kind = 2 AND key = old.experiment_id"
    "    AND state = old.state;"
    "  INSERT INTO job_counts VALUES (0, '', new.state, 1), (1, new.agent_id, new.state, 1),"
    "    (2, new.experiment_id, new.state, 1) ON CONFLICT DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs BEGIN"
    "  UPDATE job_counts SET n = n - 1 WHERE kind = 0 AND key = '' AND state = old.state;"
    "  UPDATE job_counts SET n = n - 1 WHERE kind = 1 AND key = old.agent_id"
    "    AND state = old.state;"
    "  UPDATE job_counts SET n = n - 1 WHERE kind = 2 AND key = old.experiment_id"
    "    AND state = old.state;"
    "  DELETE FROM job_counts WHERE kind = 1 AND key = old.agent_id AND n = 0;"
    "  DELETE FROM job_counts WHERE kind = 2 AND key = old.experiment_id AND n = 0;"
    "END;",
    /* 2 -> 3: an index per filter shape (state second, so one state of a
     * key is one range), pair counters, a results (agent, experiment)
     * index. */
    "DROP INDEX jobs_agent;"
    "DROP INDEX jobs_experiment;"
    "CREATE INDEX jobs_agent_state ON jobs(agent_id, state, seq);"
    "CREATE INDEX jobs_experiment_state ON jobs(experiment_id, state, seq);"
    "CREATE INDEX jobs_pair_state ON jobs(agent_id, experiment_id, state, seq);"
    "CREATE INDEX results_pair ON results(agent_id, experiment_id, job_seq);"
    "CREATE TABLE job_pair_counts ("
    "  agent_id TEXT NOT NULL,"
    "  experiment_id TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (agent_id, experiment_id, state)"
    ") WITHOUT ROWID;"
    "INSERT INTO job_pair_counts SELECT agent_id, experiment_id, state, count(*) FROM jobs"
    "  GROUP BY agent_id, experiment_id, state;"
    "CREATE TRIGGER job_pair_counts_insert AFTER INSERT ON jobs BEGIN"
    "  INSERT INTO job_pair_counts VALUES (new.agent_id, new.experiment_id, new.state, 1)"
    "    ON CONFLICT DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER job_pair_counts_update AFTER UPDATE OF state, agent_id, experiment_id"
    "  ON jobs WHEN old.state IS NOT new.state OR old.agent_id IS NOT new.agent_id"
    "    OR old.experiment_id IS NOT new.experiment_id BEGIN"
    "  UPDATE job_pair_counts SET n = n - 1 WHERE agent_id = old.agent_id"
    "    AND experiment_id = old.experiment_id AND state = old.state;"
    "  INSERT INTO job_pair_counts VALUES (new.agent_id, new.experiment_id, new.state, 1)"
    "    ON CONFLICT DO UPDATE SET n = n + 1;"
    "END;"
    "CREATE TRIGGER job_pair_counts_delete AFTER DELETE ON jobs BEGIN"
    "  UPDATE job_pair_counts SET n = n - 1 WHERE agent_id = old.agent_id"
    "    AND experiment_id = old.experiment_id AND state = old.state;"
    "  DELETE FROM job_pair_counts WHERE agent_id = old.agent_id"
    "    AND experiment_id = old.experiment_id AND n = 0;"
    "END;",
    /* 3 -> 4: small documents by kind and id (baselines, ...). */
    "CREATE TABLE docs ("
    "  kind TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  PRIMARY KEY (kind, id)"
    ") WITHOUT ROWID;",
    /* 4 -> 5: queue control. */
    "ALTER TABLE jobs ADD COLUMN priority TEXT NOT NULL DEFAULT 'medium';"
    "ALTER TABLE jobs ADD COLUMN exclusive INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN selector TEXT;"
    "DROP INDEX jobs_unfinished;"
    "CREATE INDEX jobs_unfinished ON jobs(seq)"
    "  WHERE state IN ('queued','assigned','running','paused');",
    /* 5 -> 6: jobs over time (retries, dependencies, schedules): the
     * JobInfo's extra object as JSON text, NULL for none. */
    "ALTER TABLE jobs ADD COLUMN extra TEXT;",
    /* 6 -> 7: idempotency keys of POST /jobs, each naming one job. */
    "ALTER TABLE jobs ADD COLUMN idem_key TEXT;"
    "ALTER TABLE jobs ADD COLUMN idem_fp TEXT;"
    "CREATE UNIQUE INDEX jobs_idem ON jobs(idem_key) WHERE idem_key IS NOT NULL;",
};

static int fail(sqlite3 *db, const char *path, const char *what)
{
    rk_log_error("cannot open sqlite store", "path", path, "step", what, "error",
                 sqlite3_errmsg(db));
    return RK_EIO;
}

static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int rk_sqlite_migrate(sqlite3 *db, const char *path)
{
    int v = 0;
    if (user_version(db, &v) != SQLITE_OK)
        return fail(db, path, "read schema version");
    if (v > RK_SQLITE_SCHEMA_VERSION) {
        char have[16], want[16];
        snprintf(have, sizeof have, "%d", v);
        snprintf(want, sizeof want, "%d", RK_SQLITE_SCHEMA_VERSION);
        rk_log_error("sqlite store has a newer schema than this build", "path", path, "version",
                     have, "supported", want);
        return RK_EIO;
    }
    for (; v < RK_SQLITE_SCHEMA_VERSION; v++) {
        char bump[48];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, path, "begin migration");
        if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, bump, NULL, NULL, NULL) != SQLITE_OK) {
            int rc = fail(db, path, "migrate");
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            return fail(db, path, "commit migration");
        char to[16];
        snprintf(to, sizeof to, "%d", v + 1);
        rk_log_info("sqlite store schema migrated", "path", path, "version", to);
    }
    return 0;
}
