/* The job's side of isolation: what a freshly forked child does before it
 * becomes the job (join its cgroup, drop to the run-as user, exec).
 *
 * rk_isolate_child_main has the shape of lib/exec's rk_exec_fn_t, so the
 * runner can start an isolated job with today's rk_exec_start: spec.fn =
 * rk_isolate_child_main, spec.fn_arg = a rk_isolate_child_t that lives until
 * the job's completion callback. lib/exec closes every descriptor above 2
 * before calling fn, so the child opens the cgroup's files itself (it is a
 * forked copy, free to allocate). A clone-based spawner with a pre-exec
 * hook would instead use rk_cg_join_fds / rk_cg_join_self (cgroup.h).
 */
#ifndef RK_ISOLATE_LAUNCH_H
#define RK_ISOLATE_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "isolate/cgroup.h"

/* Exit statuses of a child that failed before its exec, like a shell's. */
#define RK_ISOLATE_EXIT_SETUP 126 /* joining the cgroup or dropping privileges failed */
#define RK_ISOLATE_EXIT_EXEC 127  /* the program could not be executed */

typedef struct rk_isolate_child {
    char *const *argv;        /* exec'd with execvp (bwrap's argv, or the bare command) */
    const rk_cg_t *cg;        /* the job's group, joined before exec; NULL: none */
    bool run_as;              /* drop to uid/gid (supplementary groups cleared) */
    uid_t uid;
    gid_t gid;
} rk_isolate_child_t;

/* In the forked child: joins the cgroup, drops privileges if asked, execs
 * argv. Returns only on failure, with RK_ISOLATE_EXIT_* after one line on
 * stderr saying what failed. arg is a rk_isolate_child_t. */
int rk_isolate_child_main(void *arg);

#endif
