/* Job dependencies (issue 12): `depends_on` with `dependency` afterok |
 * afterany on POST /jobs and batch entries (which may name other entries
 * by `depends_on_index`).
 *
 * A job with unfinished dependencies is stored queued with its extra
 * {depends_on, dependency, waiting_for}, and kept out of its agent's queue
 * (SRV_J_WAITING, in the agent's held list: no slot, not dispatchable)
 * until waiting_for is empty; then it enters the queue at its place. When
 * a dependency ends, each dependent loses it from waiting_for in the batch
 * that stores the end; under afterok an end other than completed cancels
 * the dependent naming it, and that cancel ends the dependent in turn, so
 * it propagates down a chain.
 *
 * The manager keeps a map dependency id -> dependent ids (depend.c): each
 * end costs O(its dependents), a chain of 10,000 resolves in linear time.
 * Handlers validate (depend_input.c); everything else runs on the manager
 * thread.
 */
#ifndef RK_SERVER_DEPEND_H
#define RK_SERVER_DEPEND_H

#include "server/mgr.h"

/* Most dependencies one request may name in all (edges, counting each
 * copy of a batch entry): bounds the handler's store reads and the
 * manager's work for one create. */
#define RK_SRV_DEPS_MAX 100000

/* ---- handlers (depend_input.c; any thread) ---- */

/* Reads `depends_on` and `dependency` of object body at path ("" or
 * "jobs[3]") into *extra (created when NULL; the caller owns it, also on
 * failure). Every named job must exist: 404 naming it; a bad shape or
 * value: 422 naming the field. A `depends_on_index` is refused unless
 * in_batch. Answers resp and returns RK_EINVAL (or the store's error) on
 * failure. */
int rk_srv_deps_parse(rk_server_t *srv, const json_t *body, const char *path, bool in_batch,
                      rk_http_resp_t *resp, json_t **extra);
/* Checks the `depends_on_index` of the n batch entries arr (ints in range,
 * not the entry itself, no cycle): 422 naming the entry otherwise. 0 or
 * RK_EINVAL. */
int rk_srv_deps_check_batch(const json_t *arr, size_t n, rk_http_resp_t *resp);
/* Adds to each job of entry i (first[i] .. first[i] + count[i] - 1 of
 * jobs) the ids of the jobs of the entries its depends_on_index names.
 * RK_ENOMEM, or RK_EINVAL (answered 422) past RK_SRV_DEPS_MAX. */
int rk_srv_deps_apply_batch(const json_t *arr, size_t n, const size_t *first, const size_t *count,
                            rk_job_info_t *jobs, rk_http_resp_t *resp);

/* ---- the manager (depend.c; manager thread) ---- */

/* Before a create stores its jobs: ids of jobs other jobs of it depend on
 * are made unique in the store (a fresh id would otherwise be replaced
 * at insert, leaving the reference behind), and each job's waiting_for is
 * filled in as it will be stored. */
void srv__deps_prepare(rk_srv_mgr_t *m, srv_create_t *c);
/* A job of a create, just tracked: true when it waits for dependencies
 * (then it is SRV_J_WAITING in its agent's held list, not queued). */
bool srv__deps_hold(rk_srv_mgr_t *m, srv_job_t *j, const rk_job_info_t *ji);
/* After a create placed its jobs: each waiting job is registered with
 * its unfinished dependencies, queued when none is left, or cancelled
 * naming a dependency that ended badly (afterok), and answered. */
void srv__deps_created(rk_srv_mgr_t *m, srv_create_t *c);
/* j's status was just stored terminal: its dependents learn of it before
 * the batch commits (srv__deps_run). */
void srv__deps_ended(rk_srv_mgr_t *m, srv_job_t *j);
/* Applies the ends of this batch to their dependents, cascading; called
 * by srv__flush before it commits. */
void srv__deps_run(rk_srv_mgr_t *m);
/* The batch committed / failed: drop / undo what srv__deps_run changed
 * (before the journal puts jobs back). */
void srv__deps_committed(rk_srv_mgr_t *m);
void srv__deps_failed(rk_srv_mgr_t *m);
/* True while j still waits for a dependency. */
bool srv__deps_waiting(const srv_job_t *j);
/* j's jobs-over-time extra as the manager knows it, or NULL. Borrowed. */
json_t *srv__deps_extra(const srv_job_t *j);
/* Frees what j keeps of its dependencies (the job is being freed). */
void srv__deps_forget(srv_job_t *j);
/* A job just recovered from the store with its stored extra (may be
 * NULL): remembered when it still waits. RK_ENOMEM. */
int srv__deps_recovered(rk_srv_mgr_t *m, srv_job_t *j, const json_t *extra);
/* After recovery: each remembered job leaves its queue, registers with its
 * unfinished dependencies and learns of those that ended while the server
 * was down (one commit). 0 or the store's error. */
int srv__deps_recover(rk_srv_mgr_t *m);
/* Frees the map (shutdown). */
void srv__deps_free(rk_srv_mgr_t *m);

#endif
