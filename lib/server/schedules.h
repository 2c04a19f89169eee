/* Schedules (issue 12): recurring runs of an experiment on a cron
 * expression, shared between routes_schedules.c (the HTTP side) and
 * schedules.c (the manager side that fires them).
 *
 * A schedule is a store document of kind RK_SRV_SCHEDULE_DOC keyed by its
 * id ("sch_" + 8 hex digits), its body the wire object: {schedule_id, name,
 * cron, experiment_id, agent_ids? | agent_selector?, priority, exclusive,
 * enabled, created_at, next_run_at, last_run_at?, last_job_ids?,
 * last_error?}. The store is the truth; the manager keeps only a min-heap
 * of (next_run_at, id) to know when to wake, rebuilt from the documents at
 * start, so a tick costs O(1) whatever the number of schedules.
 *
 * Once per slot: every write of a schedule document happens on the manager
 * thread, and a firing re-reads the document inside the manager's batch
 * transaction, moves next_run_at to the following slot, sets last_run_at
 * and inserts the jobs in that same transaction. A kill -9 leaves either
 * all of it or none of it. A slot missed while the server was down is a
 * next_run_at in the past: it fires once at start, and next_run_at moves to
 * the first slot after now (not once per missed slot).
 *
 * The clock: cron times are computed on a scaled clock when the
 * environment variable RK_SRV_CRON_MINUTE_ENV holds a number of
 * milliseconds (a test hook: RUCKUS_CRON_MINUTE_MS=2000 makes a cron
 * minute last two real seconds; cron time = real time x 60000 / that).
 * Without it the real clock is used.
 */
#ifndef RK_SERVER_SCHEDULES_H
#define RK_SERVER_SCHEDULES_H

#include "model/cron.h"
#include "server/internal.h"

#define RK_SRV_SCHEDULE_DOC "schedule"
#define RK_SRV_CRON_MINUTE_ENV "RUCKUS_CRON_MINUTE_MS"
/* "sch_" + 8 hex digits + NUL. */
#define RK_SRV_SCHEDULE_ID_SIZE 13
/* Longest schedule name. */
#define RK_SRV_SCHEDULE_NAME_MAX 200
/* A firing whose commit failed is tried again this much later (real
 * time): the store still holds the old next_run_at, so it is not lost. */
#define RK_SRV_SCHEDULE_RETRY_US 1000000

/* The first firing time of c strictly after `after` (µs since the epoch,
 * real time), on the scaled clock when the test hook is set; -1 when c
 * never fires. Any thread. */
rk_time_t rk_srv_cron_next(const rk_cron_t *c, rk_time_t after);

/* What a schedule command does on the manager thread. */
typedef enum rk_srv_sch_op {
    RK_SRV_SCH_CREATE, /* doc: the new document, stored as given */
    RK_SRV_SCH_PAUSE,
    RK_SRV_SCH_RESUME,
    RK_SRV_SCH_DELETE,
    RK_SRV_SCH_RUN /* fire now: 201 {jobs: [JobInfo]} */
} rk_srv_sch_op_t;

/* Hands op on schedule id (copied) to the manager thread, which answers w
 * after its commit: create 201 {schedule_id, next_run_at}; pause and resume
 * 200 {schedule}; delete 200 {schedule_id, deleted_at}; run 201 {jobs};
 * 404 for an unknown id. doc (create only) is taken, also on failure.
 * RK_ENOMEM when the command could not be queued (w not used). */
int rk_srv_mgr_schedule(rk_srv_mgr_t *m, rk_http_wait_t *w, rk_srv_sch_op_t op, const char *id,
                        json_t *doc);

/* Manager side (schedules.c), manager thread only. */
/* Reads every schedule document into the heap (at recovery). A backend
 * without documents has no schedules: 0. */
int srv__schedules_load(rk_srv_mgr_t *m);
/* Fires every schedule whose next_run_at has come (each in its own
 * commit). */
void srv__schedules_tick(rk_srv_mgr_t *m);
/* Frees the heap (shutdown). */
void srv__schedules_free(rk_srv_mgr_t *m);

#endif
