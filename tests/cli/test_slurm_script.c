/* The pilot agent's batch script (`ruckus slurm submit`, lib/cli/
 * slurm_script.c): its #SBATCH lines, the checks of every value taken from
 * the command line, and the script run for real by /bin/sh with the
 * variables Slurm sets, its agent replaced by a program printing the
 * arguments it was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "cli/slurm_script.h"
#include "rk_test.h"

static rk_slurm_opts_t base(void)
{
    rk_slurm_opts_t o = {
        .partition = "debug", .server_url = "http://head:8000", .exit_when_idle = 300};
    return o;
}

/* The script for o (must be accepted), malloc'd. */
static char *script(const rk_slurm_opts_t *o)
{
    rk_buf_t b;
    char err[256];
    rk_buf_init(&b, 1 << 20);
    int rc = rk_slurm_script(o, &b, err, sizeof err);
    if (rc)
        fail_msg("refused: %s", err);
    return rk_buf_take(&b);
}

static void expect_refused(const rk_slurm_opts_t *o, const char *msg)
{
    rk_buf_t b;
    char err[256];
    rk_buf_init(&b, 1 << 20);
    assert_int_equal(rk_slurm_script(o, &b, err, sizeof err), RK_EINVAL);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" lacks \"%s\"", err, msg);
    assert_int_equal(b.len, 0);
    rk_buf_cleanup(&b);
}

static void test_sbatch_lines(void **state)
{
    rk_slurm_opts_t o = base();
    char *s = script(&o);
    assert_int_equal(strncmp(s, "#!/bin/sh\n", 10), 0);
    assert_non_null(strstr(s, "\n#SBATCH --job-name=ruckus-agent\n"));
    assert_non_null(strstr(s, "\n#SBATCH --partition=debug\n"));
    assert_non_null(strstr(s, "\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n"));
    /* Not asked: the partition's defaults. */
    assert_null(strstr(s, "--cpus-per-task"));
    assert_null(strstr(s, "--time"));
    assert_non_null(strstr(s, "exec 'ruckus-agent' \\\n  --host '0.0.0.0' --port 0"));
    assert_non_null(strstr(s, "--register-with 'http://head:8000'"));
    assert_non_null(strstr(s, "--exit-when-idle 300 "));
    /* No token in the file: the agent reads them from its environment. */
    assert_null(strstr(s, "--token"));
    assert_null(strstr(s, "--server-token"));
    free(s);

    o.cpus_per_task = 8;
    o.time = "1-04:00:00";
    o.job_name = "pilots";
    o.exit_when_idle = 2.5;
    o.agent_bin = "/opt/ruckus/bin/ruckus-agent";
    o.agent_host = "127.0.0.1";
    s = script(&o);
    assert_non_null(strstr(s, "\n#SBATCH --cpus-per-task=8\n"));
    assert_non_null(strstr(s, "\n#SBATCH --time=1-04:00:00\n"));
    assert_non_null(strstr(s, "\n#SBATCH --job-name=pilots\n"));
    assert_non_null(strstr(s, "--exit-when-idle 2.5 "));
    assert_non_null(strstr(s, "exec '/opt/ruckus/bin/ruckus-agent' \\\n  --host '127.0.0.1'"));
    free(s);
}

static void test_time_formats(void **state)
{
    const char *good[] = {"10",      "10:30",      "01:00:00", "2-0",
                          "2-12:30", "2-12:30:05", "infinite", "unlimited"};
    const char *bad[] = {"",    "1h",    "1:2:3:4", "-5",   "2-",       ":30",
                         "1::", "5 min", "1-2-3",   "10;x", "$(reboot)"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!rk_slurm_time_valid(good[i]))
            fail_msg("\"%s\" refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (rk_slurm_time_valid(bad[i]))
            fail_msg("\"%s\" accepted", bad[i]);
}

static void test_refused(void **state)
{
    rk_slurm_opts_t o = base();
    o.partition = NULL;
    expect_refused(&o, "--partition is required");
    o.partition = "debug\n#SBATCH --uid=0";
    expect_refused(&o, "--partition: expected");
    o = base();
    o.time = "forever";
    expect_refused(&o, "--time: expected");
    o = base();
    o.cpus_per_task = 2000;
    expect_refused(&o, "--cpus-per-task");
    o = base();
    o.server_url = "ftp://head";
    expect_refused(&o, "--server: expected an http");
    o.server_url = "http://head:8000/'; rm -rf ~; '";
    expect_refused(&o, "--server: expected an http");
    o = base();
    o.exit_when_idle = 0;
    expect_refused(&o, "--exit-when-idle");
    o.exit_when_idle = -3;
    expect_refused(&o, "--exit-when-idle");
    o = base();
    o.agent_host = "0.0.0.0; reboot";
    expect_refused(&o, "--agent-host");
    o = base();
    o.agent_bin = "";
    expect_refused(&o, "--agent-bin");
    o = base();
    o.job_name = "a b";
    expect_refused(&o, "--job-name");
    o = base();
    o.labels[o.n_labels++] = "novalue";
    expect_refused(&o, "expected key=value");
    o = base();
    o.labels[o.n_labels++] = "bad key=1";
    expect_refused(&o, "expected key=value");
    o = base();
    o.labels[o.n_labels++] = "partition=gpu";
    expect_refused(&o, "--label partition: set by the batch script");
    o = base();
    o.labels[o.n_labels++] = "team=a";
    o.labels[o.n_labels++] = "team=b";
    expect_refused(&o, "--label team: the key is given twice");
    o = base();
    o.labels[o.n_labels++] = "team=a\nb";
    expect_refused(&o, "printable text");
}

static void test_quote(void **state)
{
    rk_buf_t b;
    rk_buf_init(&b, 1024);
    assert_int_equal(rk_slurm_shell_quote("it's $HOME `x`", &b), 0);
    assert_string_equal(rk_buf_str(&b), "'it'\\''s $HOME `x`'");
    rk_buf_cleanup(&b);
}

/* Runs the script with sh in dir, Slurm's variables set as a batch job
 * sees them; the "agent" writes its arguments one per line to args.txt.
 * Returns that file's text (malloc'd). */
static char *run_script(const char *dir, rk_slurm_opts_t *o, const char *cpus_on_node,
                        const char *cpus_per_task)
{
    char agent[1024], path[1024], args[1024];
    snprintf(args, sizeof args, "%s/args.txt", dir);
    snprintf(agent, sizeof agent, "%s/fake agent", dir);
    char body[2048];
    snprintf(body, sizeof body, "#!/bin/sh\nprintf '%%s\\n' \"$@\" > '%s'\n", args);
    assert_int_equal(rk_test_write_file(agent, body, 0755), 0);
    o->agent_bin = agent;
    char *s = script(o);
    snprintf(path, sizeof path, "%s/agent.sbatch", dir);
    assert_int_equal(rk_test_write_file(path, s, 0644), 0);
    free(s);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("SLURM_JOB_ID", "4242", 1);
        setenv("SLURM_JOB_PARTITION", "debug", 1);
        setenv("SLURMD_NODENAME", "node07", 1);
        setenv("TMPDIR", dir, 1);
        if (cpus_on_node)
            setenv("SLURM_CPUS_ON_NODE", cpus_on_node, 1);
        else
            unsetenv("SLURM_CPUS_ON_NODE");
        if (cpus_per_task)
            setenv("SLURM_CPUS_PER_TASK", cpus_per_task, 1);
        else
            unsetenv("SLURM_CPUS_PER_TASK");
        execl("/bin/sh", "sh", path, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *text = rk_test_read_file(args, NULL);
    assert_non_null(text);
    return text;
}

static void test_script_runs(void **state)
{
    char *dir = rk_test_tmpdir();
    assert_non_null(dir);
    rk_slurm_opts_t o = base();
    o.labels[o.n_labels++] = "team=it's ours";
    o.labels[o.n_labels++] = "gpu=a100";
    char *args = run_script(dir, &o, "6", "3");
    char want[4096];
    snprintf(want, sizeof want,
             "--host\n0.0.0.0\n--port\n0\n--register-with\nhttp://head:8000\n"
             "--exit-when-idle\n300\n--slots\n6\n--name\nnode07-4242\n"
             "--label\npartition=debug\n--label\nnode=node07\n--label\nslurm_job=4242\n"
             "--label\nteam=it's ours\n--label\ngpu=a100\n"
             "--data-dir\n%s/ruckus-agent-4242\n",
             dir);
    assert_string_equal(args, want);
    free(args);
    /* Slots: the CPUs on the node, else per task, else 1; at most 1024. */
    args = run_script(dir, &o, NULL, "3");
    assert_non_null(strstr(args, "--slots\n3\n"));
    free(args);
    args = run_script(dir, &o, NULL, NULL);
    assert_non_null(strstr(args, "--slots\n1\n"));
    free(args);
    args = run_script(dir, &o, "4096", NULL);
    assert_non_null(strstr(args, "--slots\n1024\n"));
    free(args);
    rk_test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbatch_lines), cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_refused),      cmocka_unit_test(test_quote),
        cmocka_unit_test(test_script_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
