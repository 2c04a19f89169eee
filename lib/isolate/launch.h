/* The job's side of isolation: what the job's freshly forked child does
 * before it becomes the job. In order: make the image ready (unpacking it
 * in a child of its own if nobody did yet), build bwrap's argv, join the
 * job's cgroup, drop to the run-as user, exec. A job the warm sandbox takes
 * (warm.h) joins its cgroup and enters that sandbox instead.
 *
 * rk_isolate_child_main has the shape of lib/exec's rk_exec_fn_t, so the
 * runner starts an isolated job with today's rk_exec_start: spec.fn =
 * rk_isolate_child_main, spec.fn_arg = a rk_isolate_child_t that lives until
 * the job's completion callback. All the work (directory listing, JSON,
 * libarchive, the argv) happens in that child, never in the agent: its
 * memory stays as small as without isolation.
 *
 * lib/exec closes every descriptor above 2 before calling fn, so the child
 * opens the cgroup's files itself (it is a forked copy, free to allocate).
 * A clone-based spawner with a pre-exec hook would instead use
 * rk_cg_join_fds / rk_cg_join_self (cgroup.h).
 */
#ifndef RK_ISOLATE_LAUNCH_H
#define RK_ISOLATE_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "isolate/cgroup.h"
#include "isolate/sandbox.h"

/* Exit statuses of a child that failed before its exec, like a shell's;
 * the reason is one line on stderr (the job's stderr.log). */
#define RK_ISOLATE_EXIT_SETUP 126 /* image, sandbox, cgroup or privileges failed */
#define RK_ISOLATE_EXIT_EXEC 127  /* the program could not be executed */

/* Borrowed; must stay valid until the child has exec'd (with lib/exec's fn
 * variant: until the job's completion callback). */
typedef struct rk_isolate_child {
    char *const *argv;                /* the job's command; exec'd with execvp when sandbox is
                                         NULL, else run inside the sandbox */
    const rk_sandbox_spec_t *sandbox; /* NULL: no sandbox. Its argv and rootfs are ignored:
                                       argv above and image below are used */
    const struct rk_warm *warm;       /* with sandbox and no image: enter this warm
                                         sandbox (warm.h) instead of exec'ing bwrap */
    const char *image;                /* an image name (image.h) to use as the root; NULL: the
                                         host's root. Needs sandbox */
    const char *images_dir;
    const char *image_cache_dir;
    const rk_cg_t *cg; /* the job's group, joined before exec; NULL: none */
    bool run_as;       /* drop to uid/gid (supplementary groups cleared) */
    uid_t uid;
    gid_t gid;
} rk_isolate_child_t;

/* In the forked child: does the steps above and execs. Returns only on
 * failure, with RK_ISOLATE_EXIT_* after one line on stderr. arg is a
 * rk_isolate_child_t. */
int rk_isolate_child_main(void *arg);

#endif
