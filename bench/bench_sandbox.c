/* bench_sandbox: the sandbox's cost per job (issue 13, "Numbers").
 *
 * One after another, /bin/true is started and waited for
 *   bare     fork + execv("/bin/true") + waitpid
 *   bwrap-min `bwrap --ro-bind / / /bin/true`: bwrap's own floor (its
 *            fork, a mount namespace, one bind), no isolation worth having
 *   bwrap    the same through the job sandbox: fork + exec of bwrap with
 *            the argv rk_sandbox_argv builds (read-only host view, /job,
 *            private /tmp, new PID/IPC/UTS/network namespaces)
 *   bwrap+cg the bwrap job in a cgroup of its own with limits (memory_mb
 *            256, pids 64, cpus 1): create, apply, the child joins before
 *            exec (rk_isolate_child_main), wait, remove; only where
 *            cgroups work (root)
 * Modes alternate over ROUNDS rounds of --seconds each, and each mode's
 * median rate is reported, so a drift of the machine's load hits every
 * mode alike. Target: bwrap's rate >= 50 % of bare's.
 *
 * Usage: bench_sandbox [--quick] [--seconds S]
 * --quick is the smoke mode CTest runs (0.2 s rounds, target not judged).
 * Exit status 0 when every mode ran, 1 when bwrap does not work here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bs.h"
#include "isolate/cgroup.h"
#include "isolate/launch.h"
#include "isolate/sandbox.h"
#include "isolate/warm.h"

#define ROUNDS 3

typedef enum mode { BARE, BWRAP_MIN, BWRAP, WARM, WARM_CG, BWRAP_CG, NMODES } mode_t_;
static const char *const mode_names[NMODES] = {"bare", "bwrap-min", "bwrap",
                                               "warm", "warm+cg",   "bwrap+cg"};

static char **bwrap_argv;
static rk_warm_t *warm;
static rk_sandbox_spec_t warm_spec;
static rk_cg_probe_t probe;
/* Per process: two runs at once (two worktrees) must not sweep each other. */
static char cg_root[64];

static int run_one(mode_t_ m, unsigned long i)
{
    static char *const bare[] = {"/bin/true", NULL};
    static char *const floor_argv[] = {"bwrap", "--ro-bind", "/", "/", "/bin/true", NULL};
    rk_cg_t *cg = NULL;
    if (m == BWRAP_CG || m == WARM_CG) {
        char name[32], err[256];
        snprintf(name, sizeof name, "job%lu", i);
        rk_cg_limits_t lim = {.memory_mb = 256, .pids = 64, .cpus = 1};
        if (rk_cg_create(&probe, cg_root, name, &cg, err, sizeof err) != 0 ||
            rk_cg_apply(cg, &lim, err, sizeof err) != 0) {
            fprintf(stderr, "bench_sandbox: %s\n", err);
            if (cg)
                rk_cg_remove(cg, err, sizeof err);
            return -1;
        }
    }
    rk_isolate_child_t c = {.argv = m == BARE        ? bare
                                    : m == BWRAP_MIN ? floor_argv
                                                     : bwrap_argv,
                            .cg = cg};
    if (m == WARM || m == WARM_CG) {
        c.argv = bare;
        c.sandbox = &warm_spec;
        c.warm = warm;
    }
    pid_t pid = fork();
    if (pid == 0)
        _exit(rk_isolate_child_main(&c));
    int st = -1;
    if (pid > 0)
        waitpid(pid, &st, 0);
    if (cg) {
        char err[256];
        if (rk_cg_remove(cg, err, sizeof err) != 0)
            fprintf(stderr, "bench_sandbox: %s\n", err);
    }
    return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Jobs per second of mode m over about secs seconds. */
static double rate(mode_t_ m, double secs)
{
    unsigned long n = 0;
    double t0 = bs_now(), t;
    do {
        if (run_one(m, n) != 0)
            return -1;
        n++;
        t = bs_now();
    } while (t - t0 < secs);
    return (double)n / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bool quick = false;
    double secs = 3;
    static const struct option opts[] = {
        {"quick", no_argument, NULL, 'q'}, {"seconds", required_argument, NULL, 's'}, {0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (o == 'q')
            quick = true;
        else if (o == 's')
            secs = atof(optarg);
        else
            return 2;
    }
    if (quick)
        secs = 0.2;
    char why[256];
    if (rk_sandbox_probe(NULL, why, sizeof why) != 0) {
        fprintf(stderr, "bench_sandbox: %s\n", why);
        return 1;
    }
    char job[] = "/tmp/rk-bench-sandbox-XXXXXX";
    if (!mkdtemp(job))
        return 1;
    static const char *const cmd[] = {"/bin/true", NULL};
    rk_sandbox_spec_t spec = {.job_dir = job, .argv = cmd};
    if (rk_sandbox_argv(&spec, &bwrap_argv, why, sizeof why) != 0) {
        fprintf(stderr, "bench_sandbox: %s\n", why);
        return 1;
    }
    snprintf(cg_root, sizeof cg_root, "rk-bench-sandbox-%d", (int)getpid());
    bool cgroups = rk_cg_probe(RK_CG_NONE, &probe) == 0 && probe.ctrls & RK_CG_MEMORY;
    char warm_why[256] = "";
    warm_spec = (rk_sandbox_spec_t){.job_dir = job, .argv = cmd};
    bool warm_ok = rk_warm_start(NULL, NULL, &warm, warm_why, sizeof warm_why) == 0;
    bool runs[NMODES];
    for (int m = 0; m < NMODES; m++)
        runs[m] = (cgroups || (m != BWRAP_CG && m != WARM_CG)) &&
                  (warm_ok || (m != WARM && m != WARM_CG));
    bs_print_machine(stdout);
    /* The machine is shared: the load says how much the figures can be trusted. */
    FILE *la = fopen("/proc/loadavg", "r");
    char load[128] = "?";
    if (la && fgets(load, sizeof load, la))
        load[strcspn(load, "\n")] = '\0';
    if (la)
        fclose(la);
    printf("load:    %s (before the run)\n", load);
    printf("sandbox: /bin/true one job after another, %d rounds of %.1f s per mode, "
           "modes alternating\n",
           ROUNDS, secs);
    if (!cgroups)
        printf("bwrap+cg, warm+cg: skipped, no cgroup with a memory controller here (%s)\n",
               probe.why);
    if (!warm_ok)
        printf("warm, warm+cg: skipped, no warm sandbox here (%s)\n", warm_why);
    double r[NMODES][ROUNDS];
    int rc = 0;
    for (int round = 0; round < ROUNDS && rc == 0; round++)
        for (int m = 0; m < NMODES && rc == 0; m++)
            if (runs[m] && (r[m][round] = rate((mode_t_)m, secs)) < 0) {
                fprintf(stderr, "bench_sandbox: a %s job failed\n", mode_names[m]);
                rc = 1;
            }
    rk_warm_stop(warm);
    if (cgroups) {
        size_t swept;
        rk_cg_sweep(&probe, cg_root, &swept);
        for (int i = 0; i < RK_CG_NCTRL; i++) {
            char dir[RK_CG_PATH_MAX + 128];
            if ((size_t)snprintf(dir, sizeof dir, "%s/%s", probe.base[i], cg_root) >= sizeof dir)
                continue;
            if (probe.base[i][0])
                rmdir(dir);
        }
    }
    rmdir(job);
    rk_sandbox_argv_free(bwrap_argv);
    if (rc != 0)
        return rc;
    double med[NMODES];
    for (int m = 0; m < NMODES; m++) {
        if (!runs[m])
            continue;
        qsort(r[m], ROUNDS, sizeof r[m][0], cmp_double);
        med[m] = r[m][ROUNDS / 2];
        printf("  %-9s %8.1f jobs/s  (%.3f ms/job; rounds %.1f %.1f %.1f)  %5.1f %% of bare\n",
               mode_names[m], med[m], 1000.0 / med[m], r[m][0], r[m][1], r[m][2],
               100.0 * med[m] / med[BARE]);
    }
    /* The sandbox a plain sandboxed job gets: the warm one where it runs. */
    mode_t_ boxed = runs[WARM] ? WARM : BWRAP;
    double share = med[boxed] / med[BARE];
    printf("target %s >= 50 %% of bare: %s (%.1f %%)%s\n", mode_names[boxed],
           share >= 0.5 ? "met" : "MISSED", share * 100, quick ? " [quick: not judged]" : "");
    return 0;
}
