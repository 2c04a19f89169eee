/* task.params.container through the agent's --container-runtime
 * (docs/isolation.md, "Container runtime"): the runtime probed at start,
 * the capability it gives, the checks that refuse a container job this
 * agent cannot run, the "<rt> run" argv of a run (folder at /job, under
 * the job's cgroup where the runtime uses cgroupfs, else limits as the
 * runtime's flags), its pause and unpause, and the kill and removal
 * of the container when its client did not end by itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/internal.h"
#include "base/err.h"
#include "base/log.h"
#include "isolate/sandbox.h"

/* A runtime command (info, kill, rm) gets this long before SIGALRM. */
#define RT_TIMEOUT_S 60
/* Arguments of "<rt> run" besides --container-run-arg, env and argv. */
#define RUN_FIXED_ARGS 48

struct agent__ctr {
    const char *name; /* "podman" | "docker" */
    const char *prog; /* --container-runtime-path or the name */
    bool cgroupfs;    /* it makes cgroups as plain directories */
};

static const char *const rt_names[] = {NULL, "podman", "docker"};

/* Runs argv (its output to out, bounded, when out is not NULL; else
 * discarded) and returns its exit status, or -1 when it could not run or
 * was killed (after RT_TIMEOUT_S). */
static int run_quiet(const char *const *argv, char *out, size_t outsz)
{
    int fds[2];
    if (out && outsz)
        out[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0)
            dup2(null, 0);
        dup2(out ? fds[1] : null, 1);
        dup2(out ? fds[1] : null, 2);
        alarm(RT_TIMEOUT_S); /* survives the exec */
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    char buf[512];
    for (;;) {
        ssize_t r = read(fds[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; out && i < r && n + 1 < outsz; i++)
            out[n++] = buf[i];
    }
    if (out && outsz)
        out[n < outsz ? n : outsz - 1] = '\0';
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last line of out that has text, in place. */
static const char *last_line(char *out)
{
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

int agent__container_init(rk_agent_t *a)
{
    const rk_agent_settings_t *s = a->s;
    if (s->container_runtime <= RK_AGENT_CONTAINER_NONE ||
        s->container_runtime > RK_AGENT_CONTAINER_DOCKER)
        return RK_OK;
    struct agent__ctr *c = calloc(1, sizeof *c);
    if (!c)
        return RK_ENOMEM;
    c->name = rt_names[s->container_runtime];
    c->prog = s->container_runtime_path ? s->container_runtime_path : c->name;
    char out[4096];
    const char *argv[] = {c->prog, "info", NULL};
    int st = run_quiet(argv, out, sizeof out);
    if (st != 0) {
        char why[600];
        snprintf(why, sizeof why, "\"%s info\" %s: %s", c->prog,
                 st == 127  ? "cannot run (not installed?)"
                 : st == -1 ? "was killed or timed out"
                            : "failed",
                 out[0] ? last_line(out) : "no output");
        rk_log_error("--container-runtime: the runtime does not answer", "runtime", c->name, "why",
                     why);
        free(c);
        return RK_EINVAL;
    }
    const char *fmt_argv[] = {
        c->prog, "info", "--format",
        strcmp(c->name, "podman") == 0 ? "{{.Host.CgroupManager}}" : "{{.CgroupDriver}}", NULL};
    c->cgroupfs =
        run_quiet(fmt_argv, out, sizeof out) == 0 && strcmp(last_line(out), "cgroupfs") == 0;
    a->ctr = c;
    rk_log_info("container runtime", "runtime", c->name, "program", c->prog, "cgroups",
                c->cgroupfs ? "cgroupfs" : "its own (limits as its flags)");
    return RK_OK;
}

bool agent__container_cgroupfs(const rk_agent_t *a)
{
    return a->ctr && a->ctr->cgroupfs;
}

void agent__container_free(rk_agent_t *a)
{
    free(a->ctr);
    a->ctr = NULL;
}

void agent__container_caps(const rk_agent_t *a, json_t *caps)
{
    json_object_set_new(caps, "container_runtime",
                        a->ctr ? json_string(a->ctr->name) : json_null());
}

#define P "experiment_spec.task.params."

int agent__container_check(const rk_agent_t *a, const rk_task_params_t *p, char *err, size_t errsz)
{
    const rk_container_params_t *c = &p->isolation.container;
    if (p->type != RK_TASK_COMMAND || !c->present)
        return 0;
    if (!a->ctr) {
        snprintf(err, errsz,
                 P "container: this agent has no container runtime (--container-runtime none)");
        return 422;
    }
    if (strncmp(c->image, "oci-archive:", 12) == 0 && strcmp(a->ctr->name, "docker") == 0) {
        snprintf(err, errsz, P "container.image: docker runs no oci-archive: (load the image)");
        return 422;
    }
    return 0;
}

bool agent__job_contained(const job_t *j)
{
    return j->has_req && j->type == RK_TASK_COMMAND &&
           j->req.spec.params.isolation.container.present;
}

/* Appends to a NULL-terminated vector of n items (room checked by the
 * caller's count); the string is copied. */
static int add(char **v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add(char **v, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&v[*n], fmt, ap);
    va_end(ap);
    if (rc < 0) {
        v[*n] = NULL;
        return RK_ENOMEM;
    }
    (*n)++;
    return RK_OK;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

int agent__container_start(rk_agent_t *a, job_t *j, rk_exec_spec_t *sp, const char *workdir,
                           const char *cg_parent)
{
    const rk_task_params_t *p = &j->req.spec.params;
    const rk_container_params_t *c = &p->isolation.container;
    const rk_limits_params_t *l = &p->limits;
    const rk_rlimits_t *rl = &p->command.rlimits;
    size_t n_env = 0, n_sp_env = 0;
    if (!a->ctr) {
        rk_log_error("the job asks for a container; this agent has no runtime", "job_id", j->id);
        return RK_EUNSUP;
    }
    for (; sp->env && sp->env[n_sp_env]; n_sp_env++)
        ;
    size_t cap = RUN_FIXED_ARGS + a->s->container_run_args.count + 2 * (n_sp_env + c->n_env) +
                 p->command.argc + 1;
    char **argv = calloc(cap, sizeof *argv);
    char **env = calloc(n_sp_env + c->n_env + 1, sizeof *env);
    size_t n = 0;
    int rc = RK_ENOMEM;
    if (!argv || !env)
        goto fail;
    /* The job's variables (RUCKUS_*, the command's env, the container's)
     * reach the client in its environment and the container by name
     * ("-e NAME"): no value shows in the argv. */
    for (size_t i = 0; i < n_sp_env; i++)
        if (!(env[n_env++] = strdup(sp->env[i])))
            goto fail;
    for (size_t i = 0; i < c->n_env; i++)
        if (!(env[n_env++] = strdup(c->env[i])))
            goto fail;
    if ((rc = add(argv, &n, "%s", a->ctr->prog)) || (rc = add(argv, &n, "run")) ||
        (rc = add(argv, &n, "--rm")) || (rc = add(argv, &n, "--name=ruckus-%s", j->id)) ||
        (rc = add(argv, &n, "--pull=%s", rk_container_pull_name(c->pull))) ||
        (rc = add(argv, &n, "--network=%s", c->network ? "host" : "none")) ||
        (rc = add(argv, &n, "--volume=%s:" RK_SANDBOX_JOB_DIR, j->dir)))
        goto fail;
    if (c->workdir)
        rc = add(argv, &n, "--workdir=%s", c->workdir);
    else if (workdir)
        rc = add(argv, &n, "--workdir=" RK_SANDBOX_JOB_DIR "/%s", workdir);
    else
        rc = add(argv, &n, "--workdir=" RK_SANDBOX_JOB_DIR);
    if (rc)
        goto fail;
    if (p->command.stdin_data && (rc = add(argv, &n, "--interactive")))
        goto fail;
    /* task.params.limits: the job's group's (the container under it), or
     * else the runtime's flags (its own cgroup: no figures for the run). */
    if (cg_parent && (rc = add(argv, &n, "--cgroup-parent=%s", cg_parent)))
        goto fail;
    static const rk_limits_params_t no_limits;
    if (cg_parent)
        l = &no_limits;
    if (l->memory_mb > 0 && ((rc = add(argv, &n, "--memory=%lldm", (long long)l->memory_mb)) ||
                             (rc = add(argv, &n, "--memory-swap=%lldm", (long long)l->memory_mb))))
        goto fail;
    if (l->pids > 0 && (rc = add(argv, &n, "--pids-limit=%lld", (long long)l->pids)))
        goto fail;
    if (l->cpus > 0 && (rc = add(argv, &n, "--cpus=%.3f", l->cpus)))
        goto fail;
    /* cgroup v2's weight (default 100) as v1's shares (default 1024). */
    if (l->cpu_weight > 0 &&
        (rc = add(argv, &n, "--cpu-shares=%lld",
                  (long long)(l->cpu_weight * 1024 / 100 < 2 ? 2 : l->cpu_weight * 1024 / 100))))
        goto fail;
    /* task.params.rlimits inside the container (the client runs free). */
    if (rl->cpu_seconds > 0 && (rc = add(argv, &n, "--ulimit=cpu=%lld:%lld",
                                         (long long)rl->cpu_seconds, (long long)rl->cpu_seconds)))
        goto fail;
    if (rl->nofile > 0 && (rc = add(argv, &n, "--ulimit=nofile=%lld:%lld", (long long)rl->nofile,
                                    (long long)rl->nofile)))
        goto fail;
    if (rl->nproc > 0 && (rc = add(argv, &n, "--ulimit=nproc=%lld:%lld", (long long)rl->nproc,
                                   (long long)rl->nproc)))
        goto fail;
    if (rl->memory_mb > 0 &&
        (rc = add(argv, &n, "--ulimit=as=%lld:%lld", (long long)rl->memory_mb << 20,
                  (long long)rl->memory_mb << 20)))
        goto fail;
    for (size_t i = 0; i < n_env; i++)
        if ((rc = add(argv, &n, "--env=%.*s", (int)strcspn(env[i], "="), env[i])))
            goto fail;
    for (size_t i = 0; i < a->s->container_run_args.count; i++)
        if ((rc = add(argv, &n, "%s", a->s->container_run_args.items[i])))
            goto fail;
    if ((rc = add(argv, &n, "%s", c->image)))
        goto fail;
    for (size_t i = 0; i < p->command.argc; i++)
        if ((rc = add(argv, &n, "%s", p->command.argv[i])))
            goto fail;
    j->ctr_argv = argv;
    j->ctr_env = env;
    sp->argv = (const char *const *)argv;
    sp->env = (const char *const *)env;
    sp->fn = NULL;
    /* The client is the runtime's: no rlimit of the job's fits it (the
     * ones asked for are --ulimit above). */
    sp->limits = (rk_exec_limits_t){0};
    return RK_OK;
fail:
    strv_free(argv);
    strv_free(env);
    rk_log_error("cannot build the job's container command", "job_id", j->id, "error",
                 rk_strerror(rc));
    return rc ? rc : RK_ENOMEM;
}

void agent__container_reap(rk_agent_t *a, const char *job_id, bool exited)
{
    if (!a->ctr || exited)
        return;
    char name[96]; /* job ids are at most 64 bytes */
    snprintf(name, sizeof name, "ruckus-%s", job_id);
    const char *kill_argv[] = {a->ctr->prog, "kill", name, NULL};
    const char *rm_argv[] = {a->ctr->prog, "rm", "-f", name, NULL};
    run_quiet(kill_argv, NULL, 0);
    char out[1024];
    if (run_quiet(rm_argv, out, sizeof out) != 0 && !strstr(out, "no such") &&
        !strstr(out, "No such"))
        rk_log_warn("cannot remove the job's container", "job_id", job_id, "container", name,
                    "error", last_line(out));
}

int agent__container_freeze(rk_agent_t *a, const job_t *j, bool freeze)
{
    if (!a->ctr || !agent__job_contained(j))
        return RK_OK;
    char name[96], out[1024];
    snprintf(name, sizeof name, "ruckus-%s", j->id);
    const char *argv[] = {a->ctr->prog, freeze ? "pause" : "unpause", name, NULL};
    if (run_quiet(argv, out, sizeof out) != 0) {
        rk_log_warn(freeze ? "cannot pause the job's container"
                           : "cannot unpause the job's container",
                    "job_id", j->id, "error", last_line(out));
        return RK_EIO;
    }
    return RK_OK;
}

void agent__container_end(job_t *j)
{
    strv_free(j->ctr_argv);
    strv_free(j->ctr_env);
    j->ctr_argv = j->ctr_env = NULL;
}
