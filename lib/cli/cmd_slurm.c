/* ruckus slurm submit: writes the pilot agent's batch script
 * (slurm_script.c) and submits it with sbatch once per node wanted
 * (docs/slurm.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/config.h"
#include "base/err.h"
#include "cli/cli.h"
#include "cli/slurm_script.h"

static const char usage[] = "ruckus slurm COMMAND\n\n"
                            "  submit --nodes N --partition P [OPTIONS]  start N pilot agents "
                            "through sbatch\n\n"
                            "`ruckus slurm submit --help` shows its options.\n";

static const char submit_usage[] =
    "ruckus slurm submit --nodes N --partition P [OPTIONS]\n\n"
    "Writes the batch script of a pilot agent (one ruckus-agent per allocation,\n"
    "as many slots as the allocation has CPUs, labels partition, node and\n"
    "slurm_job) and submits it N times with sbatch; prints the Slurm job ids.\n"
    "Each agent registers with the server, runs the jobs placed on it, and\n"
    "exits and unregisters after --exit-when-idle seconds with nothing to do.\n\n"
    "Options:\n"
    "  --nodes N            pilot agents (Slurm jobs) to submit, 1 to 1000\n"
    "  --partition P        Slurm partition (its name is the agents' partition label)\n"
    "  --time T             time limit (minutes, HH:MM:SS, D-HH:MM...); default: the\n"
    "                       partition's\n"
    "  --cpus-per-task C    CPUs of each allocation, the agent's slots; default: the\n"
    "                       partition's\n"
    "  --server URL         the server the agents register with (default: the global\n"
    "                       --server / RUCKUS_SERVER_URL); it must be reachable from\n"
    "                       the compute nodes\n"
    "  --exit-when-idle S   seconds with nothing to do before an agent exits (300)\n"
    "  --label KEY=VALUE    another label of every agent; repeat for more\n"
    "  --agent-bin PATH     the agent program on the nodes (ruckus-agent on PATH)\n"
    "  --agent-host ADDR    address the agent listens on (0.0.0.0: the node's name\n"
    "                       is registered)\n"
    "  --job-name NAME      Slurm job name (ruckus-agent)\n"
    "  --script-only        print the batch script, submit nothing\n"
    "  --json               print {\"slurm_job_ids\": [...], ...}\n\n"
    "Tokens never go into the script: the server token (--token or\n"
    "RUCKUS_SERVER_API_TOKEN) reaches the agents as RUCKUS_AGENT_SERVER_TOKEN in\n"
    "the environment sbatch passes on, and unless RUCKUS_AGENT_TOKEN is set a\n"
    "random agent token is made for an agent listening beyond loopback.\n\n"
    "Examples:\n"
    "  ruckus slurm submit --nodes 4 --partition gpu --time 04:00:00 --cpus-per-task 8\n"
    "  ruckus slurm submit --nodes 1 --partition debug --script-only > agent.sbatch\n"
    "  ruckus --json slurm submit --nodes 2 --partition debug | jq -r '.slurm_job_ids[]'\n";

enum {
    O_NODES,
    O_PARTITION,
    O_TIME,
    O_CPUS,
    O_SERVER,
    O_IDLE,
    O_LABEL,
    O_AGENT_BIN,
    O_AGENT_HOST,
    O_JOB_NAME,
    O_SCRIPT_ONLY,
};

/* The full path of prog on PATH, into out[n]; false when there is none. */
static bool find_on_path(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(out, n, "%.*s/%s", (int)(len ? len : 1), len ? path : ".", prog);
        if (access(out, X_OK) == 0)
            return true;
        path += len;
        if (*path == ':')
            path++;
    }
    return false;
}

/* Reads what a child wrote to f (rewound), trimmed, into out[n]. */
static void read_back(FILE *f, char *out, size_t n)
{
    size_t k = 0;
    rewind(f);
    if (n)
        k = fread(out, 1, n - 1, f);
    while (k > 0 && (out[k - 1] == '\n' || out[k - 1] == ' ' || out[k - 1] == '\r'))
        k--;
    if (n)
        out[k] = '\0';
}

/* Runs sbatch --parsable --export=ALL script; its exit status in *status
 * (-1: could not run), its output in out and err. */
static void run_sbatch(const char *sbatch, const char *script, int *status, char *out, size_t outn,
                       char *err, size_t errn)
{
    FILE *o = tmpfile(), *e = tmpfile();
    *status = -1;
    out[0] = err[0] = '\0';
    if (!o || !e) {
        snprintf(err, errn, "cannot create a temporary file: %s", strerror(errno));
        goto done;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errn, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(fileno(o), 1) < 0 || dup2(fileno(e), 2) < 0)
            _exit(126);
        execl(sbatch, "sbatch", "--parsable", "--export=ALL", script, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", sbatch, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, errn, "waitpid: %s", strerror(errno));
            goto done;
        }
    }
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    read_back(o, out, outn);
    read_back(e, err, errn);
done:
    if (o)
        fclose(o);
    if (e)
        fclose(e);
}

/* The job id of sbatch --parsable's "ID" or "ID;CLUSTER", into id[n]. */
static bool parse_job_id(const char *out, char *id, size_t n)
{
    /* Warnings may come first: the id is the last line. */
    const char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    size_t len = strspn(line, "0123456789");
    if (len == 0 || len >= n || (line[len] != '\0' && line[len] != ';'))
        return false;
    memcpy(id, line, len);
    id[len] = '\0';
    return true;
}

/* A random agent token (32 hex digits) into out[33]. */
static int random_token(char out[33])
{
    unsigned char raw[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RK_EIO;
    ssize_t k = read(fd, raw, sizeof raw);
    close(fd);
    if (k != (ssize_t)sizeof raw)
        return RK_EIO;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static bool loopback_url(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
           strncmp(h, "[::1]", 5) == 0;
}

static int submit(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {
        [O_NODES] = {"nodes", 'N', true},
        [O_PARTITION] = {"partition", 'p', true},
        [O_TIME] = {"time", 't', true},
        [O_CPUS] = {"cpus-per-task", 'c', true},
        [O_SERVER] = {"server", 0, true},
        [O_IDLE] = {"exit-when-idle", 0, true},
        [O_LABEL] = {"label", 0, true},
        [O_AGENT_BIN] = {"agent-bin", 0, true},
        [O_AGENT_HOST] = {"agent-host", 0, true},
        [O_JOB_NAME] = {"job-name", 0, true},
        [O_SCRIPT_ONLY] = {"script-only", 0, false},
    };
    rk_cli_args_t a;
    int code =
        rk_cli_parse(c, argc, argv, opts, sizeof opts / sizeof *opts, 0, 0, submit_usage, &a);
    if (code)
        return code < 0 ? 0 : code;
    bool script_only = a.val[O_SCRIPT_ONLY] != NULL;
    rk_slurm_opts_t o = {
        .partition = a.val[O_PARTITION],
        .time = a.val[O_TIME],
        .server_url = a.val[O_SERVER] ? a.val[O_SERVER] : c->s.server,
        .exit_when_idle = 300,
        .agent_bin = a.val[O_AGENT_BIN],
        .agent_host = a.val[O_AGENT_HOST],
        .job_name = a.val[O_JOB_NAME],
    };
    long nodes = 0;
    char err[512];
    if (a.val[O_NODES] ? rk_cli_args_int(a.val[O_NODES], 1, 1000, &nodes) != 0 : !script_only) {
        snprintf(err, sizeof err,
                 a.val[O_NODES] ? "--nodes: expected a number from 1 to 1000"
                                : "--nodes is required");
        goto usage;
    }
    if (a.val[O_CPUS] && rk_cli_args_int(a.val[O_CPUS], 1, 1024, &o.cpus_per_task)) {
        snprintf(err, sizeof err, "--cpus-per-task: expected a number from 1 to 1024");
        goto usage;
    }
    if (a.val[O_IDLE]) {
        char *end;
        errno = 0;
        o.exit_when_idle = strtod(a.val[O_IDLE], &end);
        if (errno || end == a.val[O_IDLE] || *end) {
            snprintf(err, sizeof err, "--exit-when-idle: expected seconds, more than 0");
            goto usage;
        }
    }
    const char *labels[RK_CLI_MAX_VALS];
    o.n_labels = rk_cli_args_all(&a, O_LABEL, labels, RK_CLI_MAX_VALS);
    if (o.n_labels > RK_SLURM_MAX_LABELS) {
        snprintf(err, sizeof err, "--label: at most %d", RK_SLURM_MAX_LABELS);
        goto usage;
    }
    memcpy(o.labels, labels, o.n_labels * sizeof *labels);
    rk_buf_t script;
    rk_buf_init(&script, 1 << 20);
    if (rk_slurm_script(&o, &script, err, sizeof err)) {
        rk_buf_cleanup(&script);
        goto usage;
    }
    const char *host = o.agent_host ? o.agent_host : "0.0.0.0";
    if (loopback_url(o.server_url) && !rk_config_host_is_loopback(host))
        fprintf(c->err,
                "ruckus: note: the agents register with %s, a loopback address: agents on other "
                "nodes cannot reach it (--server)\n",
                o.server_url);
    if (script_only) {
        if (c->s.json) {
            json_t *v = json_pack("{s:s}", "script", rk_buf_str(&script));
            code = v ? rk_cli_print_json(c, v) : RK_CLI_EXIT_FAILURE;
            json_decref(v);
        } else {
            code = rk_cli_print_buf(c, &script);
        }
        rk_buf_cleanup(&script);
        return code;
    }

    char sbatch[4096];
    if (!find_on_path("sbatch", sbatch, sizeof sbatch)) {
        rk_cli_errorf(c, "sbatch not found on PATH: run this where Slurm's client commands are "
                         "installed (a login node), or print the script with --script-only");
        rk_buf_cleanup(&script);
        return RK_CLI_EXIT_FAILURE;
    }
    /* Tokens travel in the environment sbatch passes on, never in the file. */
    if (c->s.token && !getenv("RUCKUS_AGENT_SERVER_TOKEN"))
        setenv("RUCKUS_AGENT_SERVER_TOKEN", c->s.token, 1);
    if (!rk_config_host_is_loopback(host) && !getenv("RUCKUS_AGENT_TOKEN")) {
        char tok[33];
        if (random_token(tok)) {
            rk_cli_errorf(c, "cannot read /dev/urandom for the agents' token");
            rk_buf_cleanup(&script);
            return RK_CLI_EXIT_FAILURE;
        }
        setenv("RUCKUS_AGENT_TOKEN", tok, 1);
    }
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/ruckus-agent-XXXXXX.sbatch", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 7);
    if (fd < 0 || write(fd, script.data, script.len) != (ssize_t)script.len) {
        rk_cli_errorf(c, "cannot write the batch script to %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        rk_buf_cleanup(&script);
        return RK_CLI_EXIT_FAILURE;
    }
    close(fd);
    rk_buf_cleanup(&script);

    json_t *ids = json_array();
    for (long i = 0; i < nodes && !code; i++) {
        char out[4096], serr[4096], id[64];
        int status;
        run_sbatch(sbatch, path, &status, out, sizeof out, serr, sizeof serr);
        if (status != 0) {
            rk_cli_errorf(c, "sbatch failed (%s %d) for pilot agent %ld of %ld%s%s",
                          status < 0 ? "could not run:" : "exit", status, i + 1, nodes,
                          serr[0] ? ":\n" : "", serr);
            code = RK_CLI_EXIT_FAILURE;
        } else if (!parse_job_id(out, id, sizeof id)) {
            rk_cli_errorf(c, "sbatch printed no job id: \"%.200s\"", out);
            code = RK_CLI_EXIT_FAILURE;
        } else {
            json_array_append_new(ids, json_string(id));
            if (!c->s.json)
                fprintf(c->out, "submitted Slurm job %s (pilot agent %ld of %ld)\n", id, i + 1,
                        nodes);
        }
    }
    unlink(path);
    if (code && json_array_size(ids))
        rk_cli_errorf(c, "%zu of %ld pilot agents were submitted before the failure",
                      json_array_size(ids), nodes);
    if (c->s.json) {
        json_t *v = json_pack("{s:O,s:s,s:s,s:i}", "slurm_job_ids", ids, "partition", o.partition,
                              "server", o.server_url, "nodes", (int)nodes);
        int pc = v ? rk_cli_print_json(c, v) : RK_CLI_EXIT_FAILURE;
        json_decref(v);
        if (!code)
            code = pc;
    }
    json_decref(ids);
    return code;

usage:
    rk_cli_errorf(c, "%s", err);
    fprintf(c->err, "Usage: ruckus slurm submit --nodes N --partition P [OPTIONS] (see --help)\n");
    return RK_CLI_EXIT_USAGE;
}

int rk_cli_cmd_slurm(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_cmd_t cmds[] = {{"submit", submit}, {NULL, NULL}};
    return rk_cli_dispatch(c, "slurm", usage, cmds, argc, argv);
}
