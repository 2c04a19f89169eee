/* The job's side of isolation (launch.h). */
#include "isolate/launch.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int rk_isolate_child_main(void *arg)
{
    const rk_isolate_child_t *c = arg;
    /* Join first: moving into a cgroup needs the privileges dropped below. */
    if (c->cg && rk_cg_enter(c->cg, getpid()) != 0) {
        fprintf(stderr, "cannot join the job's cgroup: %s\n", strerror(errno));
        return RK_ISOLATE_EXIT_SETUP;
    }
    if (c->run_as && (setgroups(0, NULL) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0)) {
        fprintf(stderr, "cannot run as uid %d gid %d: %s\n", (int)c->uid, (int)c->gid,
                strerror(errno));
        return RK_ISOLATE_EXIT_SETUP;
    }
    execvp(c->argv[0], c->argv);
    fprintf(stderr, "cannot execute '%s': %s\n", c->argv[0], strerror(errno));
    return RK_ISOLATE_EXIT_EXEC;
}
