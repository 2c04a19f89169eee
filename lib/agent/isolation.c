/* The agent's side of job isolation (docs/isolation.md, "Integration into
 * the agent"): what this machine offers (bwrap, cgroups, images), probed
 * once at start; the checks that refuse a job asking for more; and, per
 * run of an isolated job, its cgroup and the rk_isolate_child_t that
 * lib/exec's forked child runs (lib/isolate/launch.h), so everything the
 * sandbox needs happens in the job's child, not in the agent.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"
#include "isolate/cgroup.h"
#include "isolate/image.h"
#include "isolate/launch.h"
#include "isolate/sandbox.h"
#include "isolate/warm.h"

/* Unpacked images are swept this often (besides at start). */
#define IMAGE_SWEEP_EVERY_US (INT64_C(3600) * 1000000)
/* Where the job's folder is seen inside the sandbox, with a '/'. */
#define JOB_PREFIX RK_SANDBOX_JOB_DIR "/"

struct agent__iso {
    bool sandbox; /* bwrap works here and --sandbox allows it */
    char sandbox_why[256];
    rk_warm_t *warm; /* the warm sandbox (warm.h); NULL: a bwrap per job */
    char warm_why[256];
    rk_cg_probe_t cg; /* version RK_CG_NONE: no cgroups (cg.why says why) */
    char cg_root[RK_CG_PATH_MAX];
    /* Container jobs' groups, at one path in every hierarchy (the runtime's
     * --cgroup-parent); version RK_CG_NONE: their limits are the runtime's
     * flags (ctr_why says why). */
    rk_cg_probe_t ctr_cg;
    char ctr_why[300];
    bool run_as;
    uid_t uid;
    gid_t gid;
    const char **allow;  /* --allow-bind, NULL-terminated (items borrowed from settings) */
    const char *hide[2]; /* the data dir; NULL-terminated */
    int64_t next_sweep_mono;
};

/* One run's isolation; lives until the run's completion callback (the
 * child reads child and sb until it has exec'd). */
struct agent__job_iso {
    rk_cg_t *cg;
    rk_isolate_child_t child;
    rk_sandbox_spec_t sb;
    rk_sandbox_bind_t binds[RK_SANDBOX_MAX_BINDS];
    char workdir[4200];
    char **boxed; /* bwrap's argv, built here for a job without an image */
    int64_t memory_mb;
    char ctr_rel[RK_CG_PATH_MAX]; /* a container job's group path, for the groups its
                                     runtime made in other hierarchies; "" */
};

static int resolve_user(const char *name, uid_t *uid, gid_t *gid)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || !res)
        return RK_ENOENT;
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return RK_OK;
}

static void sweep_images(const rk_agent_t *a)
{
    size_t n = 0;
    char count[24];
    if (!a->s->image_cache_dir || a->s->image_cache_days <= 0) /* settings not loaded (tests) */
        return;
    if (rk_image_cache_sweep(a->s->image_cache_dir, (unsigned)a->s->image_cache_days, &n) == 0 &&
        n > 0) {
        snprintf(count, sizeof count, "%zu", n);
        rk_log_info("removed unpacked images nobody used", "count", count, "path",
                    a->s->image_cache_dir);
    }
}

/* The path of the container jobs' root in the hierarchies. */
static int ctr_root_rel(const struct agent__iso *o, char *out, size_t n)
{
    for (int i = 0; o->ctr_cg.version != RK_CG_NONE && i < RK_CG_NCTRL; i++)
        if (o->ctr_cg.base[i][0] &&
            (size_t)snprintf(out, n, "%s/%s", o->ctr_cg.base[i] + o->ctr_cg.mnt_len[i],
                             o->cg_root) < n)
            return 0;
    return RK_EINVAL;
}

/* Where container jobs' groups go: the runtime must make its groups as
 * plain directories and the agent's groups must nest (rk_cg_probe_align);
 * else ctr_cg stays RK_CG_NONE and the limits are the runtime's flags. */
static void container_cgroups(rk_agent_t *a, struct agent__iso *o)
{
    o->ctr_cg.version = RK_CG_NONE;
    if (o->cg.version == RK_CG_NONE)
        snprintf(o->ctr_why, sizeof o->ctr_why, "no cgroups: %s", o->cg.why);
    else if (!agent__container_cgroupfs(a))
        snprintf(o->ctr_why, sizeof o->ctr_why,
                 "the runtime manages its cgroups through systemd, not cgroupfs");
    else
        (void)rk_cg_probe_align(&o->cg, &o->ctr_cg, o->ctr_why, sizeof o->ctr_why);
    if (o->ctr_cg.version == RK_CG_NONE)
        rk_log_warn("container jobs: limits through the runtime's flags, no cgroup figures", "why",
                    o->ctr_why);
}

int agent__isolation_init(rk_agent_t *a)
{
    const rk_agent_settings_t *s = a->s;
    struct agent__iso *o = calloc(1, sizeof *o);
    if (!o || !(o->allow = calloc(s->allow_bind.count + 1, sizeof *o->allow))) {
        free(o);
        return RK_ENOMEM;
    }
    a->iso = o;
    for (size_t i = 0; i < s->allow_bind.count; i++)
        o->allow[i] = s->allow_bind.items[i];
    o->hide[0] = a->data_dir;
    if (s->run_as) {
        if (resolve_user(s->run_as, &o->uid, &o->gid) != 0) {
            rk_log_error("--run-as: no such user", "user", s->run_as);
            return RK_EINVAL;
        }
        o->run_as = true;
    }
    if (s->sandbox == RK_AGENT_SANDBOX_NONE) {
        snprintf(o->sandbox_why, sizeof o->sandbox_why, "disabled by --sandbox none");
    } else if (rk_sandbox_probe(NULL, o->sandbox_why, sizeof o->sandbox_why) == 0) {
        o->sandbox = true;
    } else if (s->sandbox == RK_AGENT_SANDBOX_BWRAP) {
        rk_log_error("--sandbox bwrap: bwrap cannot run a sandbox here", "why", o->sandbox_why);
        return RK_EINVAL;
    } else {
        rk_log_warn("no sandbox: jobs asking for isolation are refused", "why", o->sandbox_why);
    }
    if (o->sandbox && rk_warm_start(NULL, o->hide, &o->warm, o->warm_why, sizeof o->warm_why) != 0)
        rk_log_warn("no warm sandbox: each sandboxed job starts a bwrap of its own", "why",
                    o->warm_why);
    if (s->cgroup_root)
        snprintf(o->cg_root, sizeof o->cg_root, "%s", s->cgroup_root);
    else
        snprintf(o->cg_root, sizeof o->cg_root, "ruckus/%s", a->id);
    if (rk_cg_probe(RK_CG_NONE, &o->cg) != 0) {
        rk_log_warn("no cgroups: jobs asking for limits are refused; rlimits still apply", "why",
                    o->cg.why);
    } else {
        size_t n = 0;
        char count[24];
        if (rk_cg_sweep(&o->cg, o->cg_root, &n) == 0 && n > 0) {
            snprintf(count, sizeof count, "%zu", n);
            rk_log_info("removed cgroups a previous run left", "count", count, "root", o->cg_root);
        }
    }
    sweep_images(a);
    o->next_sweep_mono = rk_time_mono_us() + IMAGE_SWEEP_EVERY_US;
    rk_log_info("isolation", "sandbox",
                o->warm      ? "bwrap, warm"
                : o->sandbox ? "bwrap"
                             : "none",
                "cgroups",
                o->cg.version == RK_CG_V2   ? "v2"
                : o->cg.version == RK_CG_V1 ? "v1"
                                            : "none",
                "cgroup_root", o->cg_root);
    int rc = agent__container_init(a);
    if (rc == RK_OK && a->ctr)
        container_cgroups(a, o);
    return rc;
}

void agent__isolation_recovered(rk_agent_t *a)
{
    struct agent__iso *o = a->iso;
    char rel[RK_CG_PATH_MAX * 2];
    if (!o || ctr_root_rel(o, rel, sizeof rel) != 0)
        return;
    size_t n = 0;
    if (memcmp(o->ctr_cg.base, o->cg.base, sizeof o->cg.base) != 0 &&
        rk_cg_sweep(&o->ctr_cg, o->cg_root, &n) == 0 && n > 0) {
        char count[24];
        snprintf(count, sizeof count, "%zu", n);
        rk_log_info("removed container jobs' cgroups a previous run left", "count", count);
    }
    /* Under them, and in the other hierarchies, what the runtime made. */
    if (rk_cg_remove_everywhere(rel, true, NULL) != 0)
        rk_log_warn("cannot remove cgroups a previous run's containers left", "path", rel);
}

void agent__isolation_free(rk_agent_t *a)
{
    agent__container_free(a);
    if (!a->iso)
        return;
    /* The agent's own root goes when it is empty (its jobs' groups are
     * removed as they end); one left behind is swept at the next start. */
    for (int i = 0; a->iso->cg.version != RK_CG_NONE && i < RK_CG_NCTRL; i++) {
        char dir[RK_CG_PATH_MAX * 2 + 2];
        if (a->iso->cg.base[i][0]) {
            snprintf(dir, sizeof dir, "%s/%s", a->iso->cg.base[i], a->iso->cg_root);
            rmdir(dir);
        }
    }
    /* The container jobs' root, in every hierarchy (the runtime's too). */
    char rel[RK_CG_PATH_MAX * 2];
    if (ctr_root_rel(a->iso, rel, sizeof rel) == 0)
        (void)rk_cg_remove_everywhere(rel, false, NULL);
    rk_warm_stop(a->iso->warm);
    free(a->iso->allow);
    free(a->iso);
    a->iso = NULL;
}

void agent__isolation_sweep(rk_agent_t *a)
{
    if (!a->iso || rk_time_mono_us() < a->iso->next_sweep_mono)
        return;
    a->iso->next_sweep_mono = rk_time_mono_us() + IMAGE_SWEEP_EVERY_US;
    sweep_images(a);
}

void agent__isolation_caps(const rk_agent_t *a, json_t *caps)
{
    const struct agent__iso *o = a->iso;
    json_object_set_new(caps, "sandbox", o->sandbox ? json_string("bwrap") : json_null());
    json_object_set_new(caps, "cgroups",
                        o->cg.version == RK_CG_V2   ? json_string("v2")
                        : o->cg.version == RK_CG_V1 ? json_string("v1")
                                                    : json_null());
    json_t *names = json_array();
    rk_image_info_t *imgs = NULL;
    size_t n = 0;
    if (a->s->images_dir && rk_image_list(a->s->images_dir, NULL, &imgs, &n) == 0)
        for (size_t i = 0; i < n; i++)
            json_array_append_new(names, json_string(imgs[i].name));
    free(imgs);
    json_object_set_new(caps, "images", names);
    agent__container_caps(a, caps);
}

static void limits_of(const rk_limits_params_t *l, rk_cg_limits_t *out)
{
    *out = (rk_cg_limits_t){.memory_mb = (uint64_t)l->memory_mb,
                            .pids = (uint64_t)l->pids,
                            .cpus = l->cpus,
                            .cpu_weight = (uint32_t)l->cpu_weight};
}

static bool image_present(const rk_agent_t *a, const char *name)
{
    rk_image_info_t *imgs = NULL;
    size_t n = 0;
    bool found = false;
    if (rk_image_list(a->s->images_dir, NULL, &imgs, &n) == 0)
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(imgs[i].name, name) == 0;
    free(imgs);
    return found;
}

#define P "experiment_spec.task.params."

int agent__isolation_check(const rk_agent_t *a, const rk_task_params_t *p, char *err, size_t errsz)
{
    const struct agent__iso *o = a->iso;
    const rk_isolation_params_t *iso = &p->isolation;
    if (p->type != RK_TASK_COMMAND)
        return 0;
    /* A container is the runtime's to isolate and limit. */
    if (iso->container.present)
        return agent__container_check(a, p, err, errsz);
    if (iso->present && !o->sandbox) {
        snprintf(err, errsz, P "isolation: this agent has no sandbox (bwrap not available: %s)",
                 o->sandbox_why);
        return 422;
    }
    if (iso->rootfs && !a->s->images_dir) {
        snprintf(err, errsz, P "isolation.rootfs: this agent has no images (no --images-dir)");
        return 422;
    }
    if (iso->rootfs && (!rk_image_name_valid(iso->rootfs) || !image_present(a, iso->rootfs))) {
        snprintf(err, errsz, P "isolation.rootfs: no image '%s' in this agent's --images-dir",
                 iso->rootfs);
        return 422;
    }
    if (iso->n_binds) {
        /* The sandbox's own rules (allowed directories, targets), on a
         * folder that exists: the job's is not made yet. */
        rk_sandbox_bind_t b[RK_SANDBOX_MAX_BINDS];
        for (size_t i = 0; i < iso->n_binds && i < RK_SANDBOX_MAX_BINDS; i++)
            b[i] = (rk_sandbox_bind_t){iso->binds[i].source, iso->binds[i].target,
                                       iso->binds[i].writable};
        const char *argv[] = {"true", NULL};
        rk_sandbox_spec_t sb = {.job_dir = a->data_dir,
                                .binds = b,
                                .nbinds = iso->n_binds,
                                .allow_binds = o->allow,
                                .argv = argv};
        char **out = NULL, why[512];
        int rc = rk_sandbox_argv(&sb, &out, why, sizeof why);
        rk_sandbox_argv_free(out);
        if (rc) {
            snprintf(err, errsz, P "isolation.%s", why);
            return 422;
        }
    }
    if (p->limits.present) {
        if (o->cg.version == RK_CG_NONE) {
            snprintf(err, errsz, P "limits: this agent has no cgroups (%s)", o->cg.why);
            return 422;
        }
        rk_cg_limits_t lim;
        char why[256];
        limits_of(&p->limits, &lim);
        if (rk_cg_limits_check(&o->cg, &lim, why, sizeof why) != 0) {
            snprintf(err, errsz, P "%s", why);
            return 422;
        }
    }
    return 0;
}

bool agent__job_isolated(const job_t *j)
{
    const rk_task_params_t *p = &j->req.spec.params;
    return j->has_req && j->type == RK_TASK_COMMAND &&
           (p->isolation.present || p->limits.present || p->isolation.container.present);
}

bool agent__job_sandboxed(const job_t *j)
{
    return j->has_req && j->type == RK_TASK_COMMAND &&
           (j->req.spec.params.isolation.present || agent__job_contained(j));
}

/* A container job's run: its group (limits, figures, oom_killed) is the
 * container's --cgroup-parent; the runtime's client stays outside it. */
static int container_start(rk_agent_t *a, job_t *j, rk_exec_spec_t *sp, const char *workdir)
{
    const struct agent__iso *o = a->iso;
    if (o->ctr_cg.version == RK_CG_NONE)
        return agent__container_start(a, j, sp, workdir, NULL);
    const rk_limits_params_t *l = &j->req.spec.params.limits;
    struct agent__job_iso *ji = calloc(1, sizeof *ji);
    if (!ji)
        return RK_ENOMEM;
    char err[512] = "", name[RK_AGENT_ID_MAX + 24], parent[RK_CG_PATH_MAX];
    rk_cg_limits_t lim;
    limits_of(l, &lim);
    snprintf(name, sizeof name, "%s-%lld", j->id, (long long)j->runs_done);
    int rc = rk_cg_create(&o->ctr_cg, o->cg_root, name, &ji->cg, err, sizeof err);
    if (rc) {
        rk_log_error("cannot make the job's cgroup", "job_id", j->id, "error", err);
        free(ji);
        return rc;
    }
    ji->memory_mb = l->memory_mb;
    j->iso = ji; /* from here agent__isolation_end removes the group */
    if ((rc = rk_cg_apply(ji->cg, &lim, err, sizeof err)) != RK_OK ||
        (l->memory_mb > 0 && (rc = rk_cg_oom_watch(ji->cg)) != RK_OK &&
         snprintf(err, sizeof err, "cannot watch the group's memory.oom_control") > 0) ||
        ((rc = rk_cg_rel_path(ji->cg, parent, sizeof parent)) != RK_OK &&
         snprintf(err, sizeof err, "the group's path differs between hierarchies") > 0)) {
        rk_log_error("cannot make the job's cgroup", "job_id", j->id, "error", err);
        agent__isolation_end(j, NULL, NULL);
        return rc;
    }
    snprintf(ji->ctr_rel, sizeof ji->ctr_rel, "%s", parent);
    if ((rc = agent__container_start(a, j, sp, workdir, parent)) != RK_OK)
        agent__isolation_end(j, NULL, NULL);
    return rc;
}

/* Whether the warm sandbox can take a job; one whose holder was killed is
 * started again, and if that fails jobs get a bwrap each from then on. */
static bool warm_ready(struct agent__iso *o)
{
    if (!o->warm)
        return false;
    if (rk_warm_ready(o->warm, o->warm_why, sizeof o->warm_why) == 0)
        return true;
    rk_log_warn("the warm sandbox ended and cannot start again: each sandboxed job starts a bwrap "
                "of its own",
                "why", o->warm_why);
    rk_warm_stop(o->warm);
    o->warm = NULL;
    return false;
}

int agent__isolation_start(rk_agent_t *a, job_t *j, rk_exec_spec_t *sp, const char *workdir)
{
    const struct agent__iso *o = a->iso;
    const rk_task_params_t *p = &j->req.spec.params;
    if (agent__job_contained(j))
        return container_start(a, j, sp, workdir);
    struct agent__job_iso *ji = calloc(1, sizeof *ji);
    if (!ji)
        return RK_ENOMEM;
    char err[512] = "", name[RK_AGENT_ID_MAX + 24];
    int rc = RK_OK;
    /* A group for the runs that ask for limits (the protocol's figures come
     * with them); a sandboxed run's PID namespace takes its leftovers. */
    if (o->cg.version != RK_CG_NONE && p->limits.present) {
        rk_cg_limits_t lim;
        limits_of(&p->limits, &lim);
        snprintf(name, sizeof name, "%s-%lld", j->id, (long long)j->runs_done);
        rc = rk_cg_create(&o->cg, o->cg_root, name, &ji->cg, err, sizeof err);
        if (rc == RK_OK && (rc = rk_cg_apply(ji->cg, &lim, err, sizeof err)) != RK_OK) {
            char e2[256];
            rk_cg_remove(ji->cg, e2, sizeof e2);
            ji->cg = NULL;
        }
        ji->memory_mb = p->limits.memory_mb;
    } else if (p->limits.present) { /* the check at accept refuses these */
        snprintf(err, sizeof err, "no cgroups: %s", o->cg.why);
        rc = RK_EUNSUP;
    }
    if (rc) {
        rk_log_error("cannot make the job's cgroup", "job_id", j->id, "error", err);
        free(ji);
        return rc;
    }
    ji->child = (rk_isolate_child_t){.argv = p->command.argv,
                                     .images_dir = a->s->images_dir,
                                     .image_cache_dir = a->s->image_cache_dir,
                                     .cg = ji->cg,
                                     .run_as = o->run_as,
                                     .uid = o->uid,
                                     .gid = o->gid};
    if (p->isolation.present) {
        for (size_t i = 0; i < p->isolation.n_binds && i < RK_SANDBOX_MAX_BINDS; i++)
            ji->binds[i] =
                (rk_sandbox_bind_t){p->isolation.binds[i].source, p->isolation.binds[i].target,
                                    p->isolation.binds[i].writable};
        if (workdir)
            snprintf(ji->workdir, sizeof ji->workdir, JOB_PREFIX "%s", workdir);
        ji->sb = (rk_sandbox_spec_t){.job_dir = j->dir,
                                     .network = p->isolation.network,
                                     .binds = ji->binds,
                                     .nbinds = p->isolation.n_binds,
                                     .allow_binds = o->allow,
                                     .hide = o->hide,
                                     .workdir = workdir ? ji->workdir : NULL};
        ji->child.sandbox = &ji->sb;
        ji->child.image = p->isolation.rootfs;
        /* The warm sandbox takes what needs neither an image nor binds. */
        if (!ji->child.image && ji->sb.nbinds == 0 && warm_ready(a->iso))
            ji->child.warm = o->warm;
        /* Without an image bwrap's argv is built here, so the forked child
         * allocates nothing before its exec: a lock another thread held at
         * the fork (ASan's allocator has no fork handler) cannot stop it.
         * An image is prepared in the child: that may take seconds. */
        if (!ji->child.image && !ji->child.warm) {
            ji->sb.argv = (const char *const *)p->command.argv;
            ji->sb.user_ns = o->run_as && o->uid != 0;
            if ((rc = rk_sandbox_argv(&ji->sb, &ji->boxed, err, sizeof err)) != RK_OK) {
                rk_log_error("cannot build the job's sandbox", "job_id", j->id, "error", err);
                j->iso = ji;
                agent__isolation_end(j, NULL, NULL); /* removes the group */
                return rc;
            }
            ji->child.argv = ji->boxed;
            ji->child.sandbox = NULL;
        }
    }
    /* The job's user writes its folder (the logs are the agent's). */
    if (o->run_as) {
        char out[4200];
        snprintf(out, sizeof out, "%s/output", j->dir);
        if (chown(j->dir, o->uid, o->gid) != 0 || chown(out, o->uid, o->gid) != 0)
            rk_log_warn("cannot give the job's folder to --run-as", "job_id", j->id, "error",
                        strerror(errno));
    }
    j->iso = ji;
    sp->argv = NULL;
    sp->fn = rk_isolate_child_main;
    sp->fn_arg = &ji->child;
    /* RLIMIT_NPROC counts the whole user and bwrap's own forks: pids is the
     * limit that fits a sandboxed job. */
    if (p->isolation.present)
        sp->limits.nproc = 0;
    return RK_OK;
}

bool agent__isolation_end(job_t *j, json_t *m, int64_t *memory_mb)
{
    struct agent__job_iso *ji = j->iso;
    agent__container_end(j);
    if (!ji)
        return false;
    j->iso = NULL;
    bool oom = false;
    rk_cg_stats_t st;
    if (ji->cg && rk_cg_stats(ji->cg, &st) == 0) {
        oom = st.oom_killed && ji->memory_mb > 0;
        if (m) {
            json_object_set_new(m, "cgroup_memory_peak_kib",
                                json_integer((json_int_t)st.memory_peak_kib));
            json_object_set_new(m, "cgroup_cpu_usage_s", json_real(st.cpu_usage_s));
            json_object_set_new(m, "oom_killed", json_integer(st.oom_killed ? 1 : 0));
        }
    }
    if (memory_mb)
        *memory_mb = ji->memory_mb;
    char err[256];
    /* Kills what the job left in the group (daemons that left its process
     * group included), then removes it. */
    if (ji->cg && rk_cg_remove(ji->cg, err, sizeof err) != 0)
        rk_log_warn("cannot remove the job's cgroup; the next start sweeps it", "job_id", j->id,
                    "error", err);
    /* A container's runtime made the group in every hierarchy. */
    if (ji->ctr_rel[0] && rk_cg_remove_everywhere(ji->ctr_rel, false, NULL) != 0)
        rk_log_warn("cannot remove the cgroups the runtime made for the job; the next start "
                    "sweeps them",
                    "job_id", j->id, "path", ji->ctr_rel);
    rk_sandbox_argv_free(ji->boxed);
    free(ji);
    return oom;
}

struct rk_cg *agent__job_cgroup(const job_t *j)
{
    return j->iso ? j->iso->cg : NULL;
}

void agent__h_images(rk_http_req_t *req, rk_http_resp_t *resp, void *ud)
{
    (void)req;
    const rk_agent_t *a = ud;
    json_t *list = json_array();
    rk_image_info_t *imgs = NULL;
    size_t n = 0;
    if (a->s->images_dir && rk_image_list(a->s->images_dir, a->s->image_cache_dir, &imgs, &n) != 0)
        n = 0;
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:I}", "name", imgs[i].name, "digest",
                                              imgs[i].digest, "size_bytes",
                                              (json_int_t)imgs[i].size_bytes));
    free(imgs);
    rk_http_resp_json_take(resp, 200, list ? json_pack("{s:o}", "images", list) : NULL);
}
