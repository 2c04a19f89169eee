/* The job's side of isolation (launch.h). */
#include "isolate/launch.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "isolate/image.h"
#include "isolate/warm.h"

/* A job for the warm sandbox: it joins its group while it sees the host. */
static int warm_main(const rk_isolate_child_t *c)
{
    if (c->cg && rk_cg_enter(c->cg, getpid()) != 0) {
        fprintf(stderr, "cannot join the job's cgroup: %s\n", strerror(errno));
        return RK_ISOLATE_EXIT_SETUP;
    }
    rk_warm_job_t job = {.job_dir = c->sandbox->job_dir,
                         .workdir = c->sandbox->workdir,
                         .network = c->sandbox->network,
                         .argv = c->argv,
                         .run_as = c->run_as,
                         .uid = c->uid,
                         .gid = c->gid};
    return rk_warm_exec(c->warm, &job);
}

int rk_isolate_child_main(void *arg)
{
    const rk_isolate_child_t *c = arg;
    char *const *argv = c->argv;
    char **boxed = NULL;
    char err[1024], root[PATH_MAX];
    if (c->sandbox && c->warm && !c->image) {
        int rc = warm_main(c);
        if (rc != RK_WARM_GONE)
            return rc;
        /* Its holder died since the agent last looked: a bwrap of its own. */
    }
    if (c->sandbox) {
        rk_sandbox_spec_t spec = *c->sandbox;
        spec.argv = (const char *const *)c->argv;
        spec.rootfs = NULL;
        if (c->image) {
            if (rk_image_prepare(c->images_dir, c->image_cache_dir, c->image, root, sizeof root,
                                 err, sizeof err) != 0) {
                fprintf(stderr, "%s\n", err);
                return RK_ISOLATE_EXIT_SETUP;
            }
            spec.rootfs = root;
        }
        /* run-as: bwrap then starts unprivileged and needs a user namespace. */
        spec.user_ns = spec.user_ns || (c->run_as && c->uid != 0);
        if (rk_sandbox_argv(&spec, &boxed, err, sizeof err) != 0) {
            fprintf(stderr, "sandbox: %s\n", err);
            return RK_ISOLATE_EXIT_SETUP;
        }
        argv = boxed;
    } else if (c->image) {
        fprintf(stderr, "an image needs the sandbox\n");
        return RK_ISOLATE_EXIT_SETUP;
    }
    /* Join before dropping privileges: moving into a cgroup needs them. */
    if (c->cg && rk_cg_enter(c->cg, getpid()) != 0) {
        fprintf(stderr, "cannot join the job's cgroup: %s\n", strerror(errno));
        return RK_ISOLATE_EXIT_SETUP;
    }
    if (c->run_as && (setgroups(0, NULL) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0)) {
        fprintf(stderr, "cannot run as uid %d gid %d: %s\n", (int)c->uid, (int)c->gid,
                strerror(errno));
        return RK_ISOLATE_EXIT_SETUP;
    }
    execvp(argv[0], argv);
    fprintf(stderr, "cannot execute '%s': %s\n", argv[0], strerror(errno));
    return RK_ISOLATE_EXIT_EXEC;
}
