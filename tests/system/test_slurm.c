/* Pilot agents through a real Slurm (issue 17, "Agents from Slurm";
 * docs/slurm.md): the test starts a one-node cluster of Debian's slurm-wlm
 * in a temp folder (its own munged, slurmctld and slurmd, free ports,
 * CPUs=8 configured over the real cores), a ruckus-server, and submits
 * pilots with `ruckus slurm submit` (the real sbatch):
 *
 * - two pilots register (GET /agents, labelled partition and node), run
 *   placed jobs (agent_selector partition=debug), each job exactly once,
 *   then exit when idle, are gone from GET /agents, and their Slurm jobs
 *   end COMPLETED (scontrol, and the jobcomp/filetxt record: sacct needs
 *   slurmdbd, which this cluster does not run);
 * - a pilot scancel-ed (SIGTERM) while it runs a job unregisters itself
 *   and its job is not lost: it ends `cancelled`, saying the agent was
 *   unregistered (docs/api.md, POST /agents/unregister), and its Slurm job
 *   ends CANCELLED.
 *
 * Needs root (slurmd runs jobs as their users) and the packages of
 * scripts/deps.sh; without them it says why and skips. Every daemon is a
 * child of this test, stopped by its PID at the end.
 */
#include "server_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk_test_run.h"

typedef struct cluster {
    char *dir;
    char conf[600];
    char node[128];
    pid_t munged, ctld, slurmd;
} cluster_t;

static cluster_t cl = {.munged = -1, .ctld = -1, .slurmd = -1};
static char skip_why[512];
static rk_test_run_t run;

static bool on_path(const char *prog)
{
    char path[4096];
    const char *p = getenv("PATH");
    while (p && *p) {
        size_t n = strcspn(p, ":");
        snprintf(path, sizeof path, "%.*s/%s", (int)n, p, prog);
        if (access(path, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts argv in its own process group, output to log; returns its pid. */
static pid_t spawn(const char *const *argv, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (fd < 0 || in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static bool alive(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

static void stop(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(*pid, NULL, WNOHANG) != 0) {
            *pid = -1;
            return;
        }
        rk_test_sleep_ms(50);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = -1;
}

/* Runs a shell command (the Slurm clients), its output into a malloc'd
 * string; NULL when it fails. */
static char *sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    const char *args[] = {"-c", cmd, NULL};
    if (rk_test_run(&run, "/bin/sh", args, 0) != 0 || run.code != 0)
        return NULL;
    return strdup(run.out);
}

static void dump(const char *name)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", cl.dir, name);
    char *t = rk_test_read_file(path, NULL);
    fprintf(stderr, "---- %s ----\n%s\n", name, t ? t : "(none)");
    free(t);
}

/* The state of Slurm job id ("PENDING", "RUNNING", "COMPLETED"...), into
 * out[n]; "" when scontrol does not know it. */
static void job_state(const char *id, char *out, size_t n)
{
    char *t = sh("scontrol show job %s", id);
    const char *p = t ? strstr(t, "JobState=") : NULL;
    out[0] = '\0';
    if (p) {
        p += 9;
        size_t k = strcspn(p, " \n");
        snprintf(out, n, "%.*s", (int)k, p);
    }
    free(t);
}

static void wait_job_state(const char *id, const char *want, int timeout_ms)
{
    char st[64] = "";
    double end = rk_test_now_ms() + timeout_ms;
    while (rk_test_now_ms() < end) {
        job_state(id, st, sizeof st);
        if (strcmp(st, want) == 0)
            return;
        rk_test_sleep_ms(200);
    }
    fprintf(stderr, "Slurm job %s is %s, wanted %s\n", id, st, want);
    char name[64];
    snprintf(name, sizeof name, "slurm-%s.out", id);
    dump(name);
    dump("slurmd.log");
    fail();
}

/* The one-node cluster. Returns false (skip_why set) when it cannot run
 * here; fails the test when it starts but does not work. */
static bool cluster_start(void)
{
    const char *need[] = {"munged",   "slurmctld", "slurmd", "sbatch",
                          "scontrol", "scancel",   "sinfo"};
    if (geteuid() != 0) {
        snprintf(skip_why, sizeof skip_why, "needs root (slurmd runs jobs as their users)");
        return false;
    }
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) {
        if (!on_path(need[i])) {
            snprintf(skip_why, sizeof skip_why,
                     "%s is not installed (scripts/deps.sh: slurmctld slurmd slurm-client munge)",
                     need[i]);
            return false;
        }
    }
    cl.dir = rk_test_tmpdir();
    assert_non_null(cl.dir);
    /* munged and slurmd check their folders' modes: no group/other write. */
    chmod(cl.dir, 0755);
    char p[800], key[800], sock[800];
    const char *sub[] = {"munge", "state", "spool"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", cl.dir, sub[i]);
        assert_int_equal(mkdir(p, 0755), 0);
    }
    snprintf(key, sizeof key, "%s/munge/munge.key", cl.dir);
    snprintf(sock, sizeof sock, "%s/munge/munge.sock", cl.dir);
    unsigned char raw[1024];
    int fd = open("/dev/urandom", O_RDONLY);
    assert_true(fd >= 0 && read(fd, raw, sizeof raw) == (ssize_t)sizeof raw);
    close(fd);
    fd = open(key, O_WRONLY | O_CREAT | O_EXCL, 0400);
    assert_true(fd >= 0 && write(fd, raw, sizeof raw) == (ssize_t)sizeof raw);
    close(fd);

    char a_sock[900], a_key[900], a_log[900], a_pid[900], a_seed[900], log[800];
    snprintf(a_sock, sizeof a_sock, "--socket=%s", sock);
    snprintf(a_key, sizeof a_key, "--key-file=%s", key);
    snprintf(a_log, sizeof a_log, "--log-file=%s/munged.log", cl.dir);
    snprintf(a_pid, sizeof a_pid, "--pid-file=%s/munge/munged.pid", cl.dir);
    snprintf(a_seed, sizeof a_seed, "--seed-file=%s/munge/munged.seed", cl.dir);
    snprintf(log, sizeof log, "%s/munged.out", cl.dir);
    cl.munged = spawn(
        (const char *[]){"munged", "-F", "-f", a_sock, a_key, a_log, a_pid, a_seed, NULL}, log);
    for (int i = 0; i < 100 && access(sock, F_OK) != 0 && alive(cl.munged); i++)
        rk_test_sleep_ms(50);
    if (access(sock, F_OK) != 0) {
        dump("munged.out");
        snprintf(skip_why, sizeof skip_why, "munged did not start (its output is above)");
        return false;
    }

    if (gethostname(cl.node, sizeof cl.node) != 0)
        snprintf(cl.node, sizeof cl.node, "localhost");
    cl.node[strcspn(cl.node, ".")] = '\0';
    unsigned ctld_port = free_port(), slurmd_port = free_port();
    assert_true(ctld_port && slurmd_port && ctld_port != slurmd_port);
    char conf[4096];
    const char *d = cl.dir;
    snprintf(conf, sizeof conf,
             "ClusterName=rktest\n"
             "SlurmctldHost=localhost\n"
             "SlurmctldPort=%u\n"
             "SlurmdPort=%u\n"
             "SlurmUser=root\n"
             "SlurmdUser=root\n"
             "AuthType=auth/munge\n"
             "AuthInfo=socket=%s\n"
             "CredType=cred/munge\n"
             "StateSaveLocation=%s/state\n"
             "SlurmdSpoolDir=%s/spool\n"
             "SlurmctldPidFile=%s/slurmctld.pid\n"
             "SlurmdPidFile=%s/slurmd.pid\n"
             "SlurmctldLogFile=%s/slurmctld.log\n"
             "SlurmdLogFile=%s/slurmd.log\n"
             "ProctrackType=proctrack/linuxproc\n"
             "TaskPlugin=task/none\n"
             "JobCompType=jobcomp/filetxt\n"
             "JobCompLoc=%s/jobcomp.txt\n"
             "JobAcctGatherType=jobacct_gather/none\n"
             "AccountingStorageType=accounting_storage/none\n"
             "MpiDefault=none\n"
             "SwitchType=switch/none\n"
             "SelectType=select/cons_tres\n"
             "SelectTypeParameters=CR_CPU\n"
             "SchedulerType=sched/builtin\n"
             "ReturnToService=2\n"
             "MinJobAge=600\n"
             "KillWait=5\n"
             "SlurmdParameters=config_overrides\n"
             "NodeName=%s NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN\n"
             "PartitionName=debug Nodes=%s Default=YES MaxTime=INFINITE State=UP\n",
             ctld_port, slurmd_port, sock, d, d, d, d, d, d, d, cl.node, cl.node);
    snprintf(cl.conf, sizeof cl.conf, "%s/slurm.conf", d);
    assert_int_equal(rk_test_write_file(cl.conf, conf, 0644), 0);
    setenv("SLURM_CONF", cl.conf, 1);

    snprintf(log, sizeof log, "%s/slurmctld.out", d);
    cl.ctld = spawn((const char *[]){"slurmctld", "-D", "-i", NULL}, log);
    snprintf(log, sizeof log, "%s/slurmd.out", d);
    cl.slurmd = spawn((const char *[]){"slurmd", "-D", "-N", cl.node, NULL}, log);
    double end = rk_test_now_ms() + 30000;
    for (;;) {
        if (!alive(cl.ctld) || !alive(cl.slurmd)) {
            dump("slurmctld.out");
            dump("slurmd.out");
            snprintf(skip_why, sizeof skip_why,
                     "%s exited at start (its output is above): Slurm cannot run here",
                     alive(cl.ctld) ? "slurmd" : "slurmctld");
            return false;
        }
        char *t = sh("sinfo -h -n %s -o %%T", cl.node);
        bool idle = t && strncmp(t, "idle", 4) == 0;
        free(t);
        if (idle)
            return true;
        if (rk_test_now_ms() > end) {
            dump("slurmctld.log");
            dump("slurmd.log");
            fail_msg("the Slurm node did not become idle in 30 s");
        }
        rk_test_sleep_ms(200);
    }
}

static void cluster_stop(void)
{
    /* A test that failed half-way may leave pilots: end every job of this
     * cluster (SLURM_CONF names it) before its daemons. */
    if (alive(cl.ctld)) {
        free(sh("scancel --partition=debug"));
        for (int i = 0; i < 50; i++) {
            char *t = sh("squeue -h -o %%i");
            bool empty = t && !*t;
            free(t);
            if (empty)
                break;
            rk_test_sleep_ms(200);
        }
    }
    stop(&cl.slurmd);
    stop(&cl.ctld);
    stop(&cl.munged);
    if (cl.dir) {
        if (getenv("FX_KEEP"))
            fprintf(stderr, "kept %s\n", cl.dir);
        else
            rk_test_rmrf(cl.dir);
    }
    free(cl.dir);
    cl.dir = NULL;
}

static int setup(void **state)
{
    if (!cluster_start())
        fprintf(stderr, "test_slurm: skipped: %s\n", skip_why);
    return 0;
}

static int teardown(void **state)
{
    cluster_stop();
    return 0;
}

/* `ruckus slurm submit` of n pilots with the server of f; their Slurm job
 * ids into ids[n]. */
static void submit_pilots(fx_t *f, int n, const char *idle_s, char ids[][32])
{
    char url[64], nodes[16], agent[1024];
    const char *bin = getenv("RK_BIN_DIR");
    snprintf(url, sizeof url, "http://127.0.0.1:%u", f->srv.port);
    snprintf(nodes, sizeof nodes, "%d", n);
    snprintf(agent, sizeof agent, "%s/ruckus-agent", bin ? bin : "bin");
    const char *args[] = {"--json",    "slurm",
                          "submit",    "--nodes",
                          nodes,       "--partition",
                          "debug",     "--cpus-per-task",
                          "2",         "--time",
                          "5",         "--server",
                          url,         "--exit-when-idle",
                          idle_s,      "--agent-bin",
                          agent,       "--agent-host",
                          "127.0.0.1", "--label",
                          "site=test", NULL};
    /* The pilots' data folders (${TMPDIR:-/tmp}/ruckus-agent-<job>) go in
     * the cluster's folder: sbatch hands this environment on. */
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", cl.dir, 1);
    assert_int_equal(rk_test_run(&run, "ruckus", args, 0), 0);
    if (old)
        setenv("TMPDIR", old, 1);
    else
        unsetenv("TMPDIR");
    free(old);
    if (run.code != 0)
        fail_msg("ruckus slurm submit: exit %d\n%s%s", run.code, run.out, run.err);
    json_t *v = json_loads(run.out, 0, NULL);
    json_t *list = json_object_get(v, "slurm_job_ids");
    assert_int_equal(json_array_size(list), (size_t)n);
    for (int i = 0; i < n; i++)
        snprintf(ids[i], 32, "%s", json_string_value(json_array_get(list, (size_t)i)));
    json_decref(v);
}

/* The registered agents (GET /agents), new reference to the array. */
static json_t *agents(fx_t *f)
{
    long st;
    json_t *v = fx_call(f, "GET", "/api/v1/agents", NULL, &st);
    assert_int_equal(st, 200);
    json_t *l = json_incref(json_object_get(v, "agents"));
    json_decref(v);
    return l;
}

/* Waits until the agents of Slurm jobs ids[n] are all registered (want)
 * or all gone; fills agent_ids[n] when registered. */
static void wait_agents(fx_t *f, char ids[][32], int n, bool want, char agent_ids[][80],
                        int timeout_ms)
{
    double end = rk_test_now_ms() + timeout_ms;
    for (;;) {
        json_t *l = agents(f);
        int found = 0;
        for (int i = 0; i < n; i++) {
            size_t k;
            json_t *a;
            json_array_foreach(l, k, a)
            {
                json_t *labels = json_object_get(a, "labels");
                const char *job = json_string_value(json_object_get(labels, "slurm_job"));
                if (job && strcmp(job, ids[i]) == 0) {
                    found++;
                    if (want) {
                        assert_string_equal(json_string_value(json_object_get(labels, "partition")),
                                            "debug");
                        assert_string_equal(json_string_value(json_object_get(labels, "node")),
                                            cl.node);
                        assert_string_equal(json_string_value(json_object_get(labels, "site")),
                                            "test");
                        json_t *caps = json_object_get(a, "capabilities");
                        assert_int_equal(json_integer_value(json_object_get(caps, "slots")), 2);
                        snprintf(agent_ids[i], 80, "%s",
                                 json_string_value(json_object_get(a, "agent_id")));
                    }
                }
            }
        }
        json_decref(l);
        if (want ? found == n : found == 0)
            return;
        if (rk_test_now_ms() > end) {
            fprintf(stderr, "%d of %d pilot agents registered, wanted %s\n", found, n,
                    want ? "all" : "none");
            for (int i = 0; i < n; i++) {
                char name[64];
                snprintf(name, sizeof name, "slurm-%s.out", ids[i]);
                dump(name);
            }
            fail();
        }
        rk_test_sleep_ms(100);
    }
}

/* POST /jobs placed by label (no agent_id); returns the job id. */
static void placed_job(fx_t *f, const char *exp, char id[64])
{
    json_t *b = json_pack("{s:s,s:{s:{s:s}}}", "experiment_id", exp, "agent_selector", "labels",
                          "partition", "debug");
    long st;
    json_t *v = fx_call(f, "POST", "/api/v1/jobs", b, &st);
    json_decref(b);
    assert_int_equal(st, 201);
    snprintf(id, 64, "%s", fx_id(v));
    json_decref(v);
}

static bool jobcomp_says(const char *id, const char *state)
{
    char path[800], needle[128];
    snprintf(path, sizeof path, "%s/jobcomp.txt", cl.dir);
    snprintf(needle, sizeof needle, "JobId=%s ", id);
    char *t = rk_test_read_file(path, NULL);
    bool ok = false;
    for (char *line = t ? strtok(t, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char want[64];
        snprintf(want, sizeof want, "JobState=%s ", state);
        if (strncmp(line, needle, strlen(needle)) == 0 && strstr(line, want))
            ok = true;
    }
    free(t);
    return ok;
}

#define N_JOBS 8

static void test_pilots_run_placed_jobs(void **state)
{
    if (skip_why[0])
        skip();
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    /* sbatch runs in f.dir: the pilots' slurm-<id>.out land there. */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(cl.dir), 0);
    char slurm_ids[2][32], agent_ids[2][80];
    submit_pilots(&f, 2, "2", slurm_ids);
    wait_agents(&f, slurm_ids, 2, true, agent_ids, 30000);
    for (int i = 0; i < 2; i++) {
        char st[64];
        job_state(slurm_ids[i], st, sizeof st);
        assert_string_equal(st, "RUNNING");
    }

    char exp[32], script[8192], ids[N_JOBS][64];
    fx_logged_script(&f, "0.5", "echo '{\"ok\": 1}' > \"$RUCKUS_METRICS_FILE\"", script,
                     sizeof script);
    fx_experiment(&f, "slurm", script, 0, exp);
    for (int i = 0; i < N_JOBS; i++)
        placed_job(&f, exp, ids[i]);
    int on[2] = {0, 0};
    for (int i = 0; i < N_JOBS; i++) {
        json_t *j = fx_wait_job(&f, ids[i], "completed", 30000);
        const char *agent = json_string_value(json_object_get(j, "agent_id"));
        for (int k = 0; k < 2; k++)
            if (agent && strcmp(agent, agent_ids[k]) == 0)
                on[k]++;
        json_decref(j);
        long st;
        json_t *r = fx_callf(&f, "GET", &st, NULL, "/api/v1/results/%s", ids[i]);
        assert_int_equal(st, 200);
        json_decref(r);
    }
    /* Every job ran on a pilot, exactly once; at most 2 x 2 slots at once. */
    assert_int_equal(on[0] + on[1], N_JOBS);
    const char *idp[N_JOBS];
    int starts[N_JOBS];
    for (int i = 0; i < N_JOBS; i++)
        idp[i] = ids[i];
    fx_log_check(&f, 4, idp, N_JOBS, starts);
    for (int i = 0; i < N_JOBS; i++)
        assert_int_equal(starts[i], 1);

    /* Idle: both exit, unregistered, and Slurm records them COMPLETED. */
    wait_agents(&f, slurm_ids, 2, false, agent_ids, 30000);
    for (int i = 0; i < 2; i++) {
        wait_job_state(slurm_ids[i], "COMPLETED", 20000);
        assert_true(jobcomp_says(slurm_ids[i], "COMPLETED"));
    }
    /* Their results stay on the server. */
    for (int i = 0; i < N_JOBS; i++) {
        json_t *j = fx_get_job(&f, ids[i]);
        assert_string_equal(fx_state(j), "completed");
        json_decref(j);
    }
    assert_int_equal(chdir(cwd), 0);
    fx_cleanup(&f);
}

static void test_pilot_cancelled_mid_job(void **state)
{
    if (skip_why[0])
        skip();
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(cl.dir), 0);
    char slurm_ids[1][32], agent_ids[1][80];
    submit_pilots(&f, 1, "2", slurm_ids);
    wait_agents(&f, slurm_ids, 1, true, agent_ids, 30000);

    char exp[32], script[8192], id[64];
    fx_logged_script(&f, "60", "", script, sizeof script);
    fx_experiment(&f, "slurm-long", script, 0, exp);
    placed_job(&f, exp, id);
    json_decref(fx_wait_job(&f, id, "running", 20000));
    /* Slurm ends the pilot (scancel sends SIGTERM, as at the time limit). */
    char *t = sh("scancel %s", slurm_ids[0]);
    assert_non_null(t);
    free(t);
    wait_agents(&f, slurm_ids, 1, false, agent_ids, 20000);
    /* The job is not lost: it ends, saying why. Slurm signals every
     * process of the allocation, so either the workload dies of that
     * SIGTERM first and the agent reports it failed, or the agent's
     * unregistration comes first and the server cancels it (docs/api.md,
     * POST /agents/unregister). It is not run again. */
    json_t *j = fx_wait_job(&f, id, NULL, 20000);
    const char *state_s = fx_state(j),
               *msg = json_string_value(json_object_get(json_object_get(j, "status"), "message"));
    bool failed_by_term = !strcmp(state_s, "failed") && msg && strstr(msg, "killed by signal 15");
    bool cancelled_by_unreg =
        !strcmp(state_s, "cancelled") && msg && strstr(msg, "was unregistered");
    if (!failed_by_term && !cancelled_by_unreg)
        fail_msg("the job ended %s: \"%s\"", state_s, msg ? msg : "(no message)");
    json_decref(j);
    wait_job_state(slurm_ids[0], "CANCELLED", 20000);
    assert_true(jobcomp_says(slurm_ids[0], "CANCELLED"));
    int starts[1];
    const char *idp[1] = {id};
    fx_log_check(&f, 1, idp, 1, starts);
    assert_int_equal(starts[0], 1);
    assert_int_equal(chdir(cwd), 0);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pilots_run_placed_jobs),
        cmocka_unit_test(test_pilot_cancelled_mid_job),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
