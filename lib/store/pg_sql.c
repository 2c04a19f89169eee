/* The postgresql backend's statements (tables in pg_schema.c). Parameters
 * are sent as text and cast where PostgreSQL cannot infer their type.
 *
 * Listings: one statement per filter shape (no filter, agent, experiment,
 * both), with the states as a text array, so a listing's plan is its
 * shape's, not a catch-all's. Every page asks for one row past its limit
 * (the page code uses it only to set next_cursor).
 */
#include "store/pg_int.h"

#define JOB_COLS                                                                                   \
    "seq, job_id, experiment_id, agent_id, created_time, state, status_time, message, progress,"   \
    " priority, exclusive, selector, extra"

static const char *const sql[PG_COUNT] = {
    [PG_BEGIN] = "BEGIN",
    [PG_COMMIT] = "COMMIT",
    [PG_ROLLBACK] = "ROLLBACK",
    [PG_AGENT_PUT] = "INSERT INTO agents(agent_id, body) VALUES($1, $2)"
                     " ON CONFLICT(agent_id) DO UPDATE SET body = excluded.body",
    [PG_AGENT_GET] = "SELECT body FROM agents WHERE agent_id = $1",
    [PG_AGENT_LIST] = "SELECT body FROM agents ORDER BY agent_id",
    [PG_AGENT_DELETE] = "DELETE FROM agents WHERE agent_id = $1",
    /* Refusals come back as "no row changed", not as a statement error,
     * which would abort the caller's transaction. */
    [PG_EXP_INSERT] = "INSERT INTO experiments(id, body) VALUES($1, $2) ON CONFLICT DO NOTHING",
    [PG_EXP_GET] = "SELECT body FROM experiments WHERE id = $1",
    [PG_EXP_LIST] = "SELECT body FROM experiments ORDER BY id",
    [PG_EXP_DELETE] = "DELETE FROM experiments WHERE id = $1",
    [PG_EXP_REFS] = "SELECT EXISTS(SELECT 1 FROM experiments WHERE id = $1),"
                    " EXISTS(SELECT 1 FROM jobs WHERE experiment_id = $1),"
                    " EXISTS(SELECT 1 FROM jobs WHERE experiment_id = $1"
                    " AND state IN ('queued','assigned','running','paused'))",
    [PG_EXP_DELETE_JOBS] = "DELETE FROM jobs WHERE experiment_id = $1",
    /* Before its jobs go: their numbers stay taken. */
    [PG_EXP_SEQ_KEEP] = "UPDATE job_seq SET v = greatest(v, (SELECT coalesce(max(seq), 0)"
                        " FROM jobs WHERE experiment_id = $1))",
    /* Taken once per transaction before its first job insert (and held to
     * its end): inserts of several servers take their numbers in turn. */
    [PG_SEQ_LOCK] = "SELECT pg_advisory_xact_lock(1802334577)",
    /* One statement: the next sequence number (one past the highest ever
     * used: the newest job's, or job_seq.v, the highest a delete took away,
     * so numbers are never reused, and a rolled back insert gives its
     * number back as SQLite's AUTOINCREMENT does), the job and its first
     * history entry. No row back: a duplicate job_id or idem_key. */
    [PG_JOB_INSERT] =
        "WITH n AS (SELECT greatest((SELECT coalesce(max(seq), 0) FROM jobs),"
        "  (SELECT v FROM job_seq)) + 1 AS v"
        "  WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE job_id = $1)),"
        " j AS (INSERT INTO jobs(seq, job_id, experiment_id, agent_id, created_time, state,"
        "  status_time, message, progress, priority, exclusive, selector, extra, idem_key,"
        "  idem_fp)"
        "  SELECT v, $1, $2, $3, $4::bigint, $5, $6::bigint, $7, $8::float8, $9,"
        "  $10::boolean, $11, $12, $13, $14 FROM n ON CONFLICT DO NOTHING RETURNING seq)"
        " INSERT INTO job_history(job_seq, idx, state, time, message, progress)"
        " SELECT seq, 0, $5, $6::bigint, $7, $8::float8 FROM j RETURNING job_seq",
    /* One statement: the new status and its history entry; no row when
     * there is no such job. */
    [PG_JOB_SET] =
        "WITH j AS (UPDATE jobs SET state = $2, status_time = $3::bigint, message = $4,"
        "  progress = $5::float8 WHERE job_id = $1 RETURNING seq)"
        " INSERT INTO job_history(job_seq, idx, state, time, message, progress)"
        " SELECT j.seq, (SELECT coalesce(max(h.idx) + 1, 0) FROM job_history h"
        "  WHERE h.job_seq = j.seq), $2, $3::bigint, $4, $5::float8 FROM j RETURNING job_seq",
    [PG_JOB_GET] = "SELECT " JOB_COLS ", idem_key, idem_fp FROM jobs WHERE job_id = $1",
    [PG_JOB_FIND_KEY] = "SELECT job_id, idem_fp FROM jobs WHERE idem_key = $1",
    [PG_HIST_GET] = "SELECT state, time, message, progress FROM job_history"
                    " WHERE job_seq = $1::bigint ORDER BY idx",
    /* A scan reads chunks of PG_SCAN_CHUNK (pg_jobs.c) after the last seq
     * seen, all in one snapshot. */
    [PG_SCAN_BEGIN] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    [PG_JOB_SCAN] = "SELECT job_id, experiment_id, agent_id, state, seq, priority, exclusive,"
                    " selector, extra FROM jobs"
                    " WHERE state = ANY($1::text[]) AND seq > $2::bigint ORDER BY seq"
                    " LIMIT $3::bigint",
    [PG_RESULT_PUT] = "INSERT INTO results(job_seq, job_id, experiment_id, agent_id, body)"
                      " SELECT seq, job_id, $2, $3, $4 FROM jobs WHERE job_id = $1"
                      " ON CONFLICT(job_seq) DO UPDATE SET experiment_id = excluded.experiment_id,"
                      " agent_id = excluded.agent_id, body = excluded.body",
    [PG_RESULT_GET] = "SELECT body FROM results WHERE job_id = $1",
    [PG_DOC_PUT] = "INSERT INTO docs(kind, id, body) VALUES($1, $2, $3)"
                   " ON CONFLICT(kind, id) DO UPDATE SET body = excluded.body",
    [PG_DOC_GET] = "SELECT body FROM docs WHERE kind = $1 AND id = $2",
    [PG_DOC_LIST] = "SELECT id, body FROM docs WHERE kind = $1 ORDER BY id COLLATE \"C\"",
    [PG_DOC_DELETE] = "DELETE FROM docs WHERE kind = $1 AND id = $2",
    /* Under READ COMMITTED an UPDATE that finds the row locked waits for
     * the other transaction, then re-checks the WHERE on the row it left:
     * of two servers claiming the same text, one matches. */
    [PG_DOC_REPLACE] = "UPDATE docs SET body = $4 WHERE kind = $1 AND id = $2 AND body = $3",
    [PG_JOB_PRIORITY] = "UPDATE jobs SET priority = $2 WHERE job_id = $1",
    [PG_JOB_PLACE] = "UPDATE jobs SET agent_id = $2 WHERE job_id = $1",
    [PG_JOB_EXTRA] = "UPDATE jobs SET extra = $2 WHERE job_id = $1",
    /* Retention (pg_purge.c): the next candidates after a seq; one job's
     * delete, taking its number out of reuse (job_seq) and saying whether
     * it had a result (the CTE's snapshot still sees it); the documents of
     * a list of jobs; one job's state for a single purge. */
    /* (state || '') keeps the planner on the seq key: the state index
     * would read and sort every finished job per batch. */
    [PG_PURGE_PICK] = "SELECT seq, job_id, agent_id FROM jobs WHERE seq > $1::bigint"
                      " AND (state || '') IN ('completed','failed','timeout','cancelled')"
                      " AND status_time < $2::bigint ORDER BY seq LIMIT $3::bigint",
    [PG_PURGE_JOB] = "WITH d AS (DELETE FROM jobs WHERE seq = $1::bigint"
                     "  AND state IN ('completed','failed','timeout','cancelled')"
                     "  AND status_time < $2::bigint RETURNING seq),"
                     " k AS (UPDATE job_seq SET v = greatest(v, (SELECT max(seq) FROM d))"
                     "  WHERE EXISTS (SELECT 1 FROM d) RETURNING v)"
                     " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM k),"
                     " EXISTS(SELECT 1 FROM results WHERE job_seq = $1::bigint)",
    /* Per kind (found by an index walk, not a scan) and job, one range of
     * the (kind, id) key: "<id>" up to "<id>0" ('0' follows '/'). */
    [PG_PURGE_DOCS] =
        "WITH RECURSIVE k(kind) AS (SELECT min(kind) FROM docs UNION ALL"
        "  SELECT (SELECT min(kind) FROM docs WHERE kind > k.kind) FROM k"
        "  WHERE k.kind IS NOT NULL)"
        " DELETE FROM docs d USING k, unnest($1::text[]) AS j(id)"
        " WHERE k.kind IS NOT NULL AND d.kind = k.kind AND d.id >= j.id"
        " AND d.id < j.id || '0' AND (d.id = j.id OR substr(d.id, length(j.id) + 1, 1) = '/')",
    [PG_PURGE_ONE] = "SELECT seq, state FROM jobs WHERE job_id = $1 FOR UPDATE",
    [PG_JOB_PROGRESS] = "UPDATE jobs SET progress = $2::double precision WHERE job_id = $1",
    /* Granted (a row back) when the agent has no lease, it lapsed, or it
     * is the caller's; the database's clock decides, so servers' clocks
     * need not agree. */
    /* The dispatch lock ("rkdp"): a session-level advisory lock, held by
     * the writer session of the one server that dispatches and freed by
     * PostgreSQL when that session ends (kill -9, a lost connection). */
    [PG_LEAD] = "SELECT pg_try_advisory_lock(1919640688)",
    /* The backend holding it, if any (a bigint key: classid the high
     * half, objid the low, objsubid 1; the lock table is the cluster's,
     * advisory locks are per database). */
    [PG_LEAD_HOLDER] = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 0"
                       " AND objid = 1919640688 AND objsubid = 1 AND granted AND database ="
                       " (SELECT oid FROM pg_database WHERE datname = current_database())",
    [PG_LEASE] = "INSERT INTO leases(agent_id, owner, expires_at)"
                 " VALUES($1, $2, clock_timestamp() + $3::bigint * interval '1 millisecond')"
                 " ON CONFLICT(agent_id) DO UPDATE SET owner = excluded.owner,"
                 " expires_at = excluded.expires_at"
                 " WHERE leases.owner = excluded.owner OR leases.expires_at <= clock_timestamp()"
                 " RETURNING owner",
    /* Jobs: $1 states, then the agent and/or experiment, the cursor, the
     * row limit. */
    [PG_JOB_PAGE + 0] = "SELECT " JOB_COLS " FROM jobs WHERE state = ANY($1::text[])"
                        " AND seq < $2::bigint ORDER BY seq DESC LIMIT $3::bigint",
    [PG_JOB_PAGE + 1] = "SELECT " JOB_COLS " FROM jobs WHERE state = ANY($1::text[])"
                        " AND agent_id = $2 AND seq < $3::bigint ORDER BY seq DESC"
                        " LIMIT $4::bigint",
    [PG_JOB_PAGE + 2] = "SELECT " JOB_COLS " FROM jobs WHERE state = ANY($1::text[])"
                        " AND experiment_id = $2 AND seq < $3::bigint ORDER BY seq DESC"
                        " LIMIT $4::bigint",
    [PG_JOB_PAGE + 3] = "SELECT " JOB_COLS " FROM jobs WHERE state = ANY($1::text[])"
                        " AND agent_id = $2 AND experiment_id = $3 AND seq < $4::bigint"
                        " ORDER BY seq DESC LIMIT $5::bigint",
    /* Totals: a sum of counter rows (job_counts, kept by triggers). */
    [PG_JOB_COUNT + 0] = "SELECT coalesce(sum(n), 0) FROM job_counts"
                         " WHERE state = ANY($1::text[])",
    [PG_JOB_COUNT + 1] = "SELECT coalesce(sum(n), 0) FROM job_counts"
                         " WHERE state = ANY($1::text[]) AND agent_id = $2",
    [PG_JOB_COUNT + 2] = "SELECT coalesce(sum(n), 0) FROM job_counts"
                         " WHERE state = ANY($1::text[]) AND experiment_id = $2",
    [PG_JOB_COUNT + 3] = "SELECT coalesce(sum(n), 0) FROM job_counts"
                         " WHERE state = ANY($1::text[]) AND agent_id = $2 AND experiment_id = $3",
    /* Results: the agent and/or experiment, the cursor, the row limit. */
    [PG_RESULT_PAGE + 0] = "SELECT job_seq, body FROM results WHERE job_seq < $1::bigint"
                           " ORDER BY job_seq DESC LIMIT $2::bigint",
    [PG_RESULT_PAGE + 1] = "SELECT job_seq, body FROM results WHERE agent_id = $1"
                           " AND job_seq < $2::bigint ORDER BY job_seq DESC LIMIT $3::bigint",
    [PG_RESULT_PAGE + 2] = "SELECT job_seq, body FROM results WHERE experiment_id = $1"
                           " AND job_seq < $2::bigint ORDER BY job_seq DESC LIMIT $3::bigint",
    [PG_RESULT_PAGE + 3] = "SELECT job_seq, body FROM results WHERE agent_id = $1"
                           " AND experiment_id = $2 AND job_seq < $3::bigint"
                           " ORDER BY job_seq DESC LIMIT $4::bigint",
};

const char *pg_sql(pg_id_t id)
{
    return sql[id];
}
