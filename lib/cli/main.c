/* The CLI's entry point: global options, then dispatch to a command group. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "http/client.h"

static const char commands_help[] =
    "\nCommands:\n"
    "  agent       register URL | unregister ID | list | status [ID] | show ID\n"
    "  experiment  create FILE | list | show ID | delete ID [--cascade] | check ID |\n"
    "              run ID [--agents A,B]\n"
    "  job         submit EXPERIMENT AGENT [--wait] | list | show ID | cancel ID |\n"
    "              watch ID | logs ID [-f] | artifacts ID -o FILE\n"
    "  result      show JOB | list | export --format csv|json | compare EXPERIMENT\n"
    "  slurm       submit --nodes N --partition P (pilot agents started by sbatch)\n"
    "  schedule    create --name N --cron \"0 3 * * *\" --experiment EXP | list |\n"
    "              show ID | delete ID | pause ID | resume ID | run ID\n"
    "  maintenance cleanup --older-than-days N (delete old finished jobs)\n"
    "\n`ruckus COMMAND --help` shows a command's options and examples.\n"
    "\nExamples:\n"
    "  ruckus agent register http://worker1:8001\n"
    "  ruckus experiment create examples/memory_benchmark.json\n"
    "  ruckus experiment run exp_1a2b3c\n"
    "  ruckus job watch job_0badcafe\n"
    "  ruckus result compare exp_1a2b3c\n"
    "  ruckus --json job list --status failed | jq '.jobs'\n"
    "\nExit codes: 0 ok, 1 failure (job did not complete, server error), 2 usage\n"
    "error, 3 not found, 4 server unreachable, 5 authentication, 6 conflict or\n"
    "validation error.\n";

static int print_help(void)
{
    int code = rk_config_print(&rk_cli_config, RK_CONFIG_HELP, stdout);
    if (!code && fputs(commands_help, stdout) == EOF)
        code = RK_CLI_EXIT_FAILURE;
    return code;
}

int rk_cli_parse(rk_cli_t *c, int argc, char **argv, const rk_cli_opt_t *opts, size_t nopts,
                 int min_pos, int max_pos, const char *usage, rk_cli_args_t *a)
{
    char err[256];
    if (rk_cli_args_parse(argc, argv, opts, nopts, a, err, sizeof err)) {
        rk_cli_errorf(c, "%s", err);
        fprintf(c->err, "Usage: %s", usage);
        return RK_CLI_EXIT_USAGE;
    }
    if (a->json)
        c->s.json = true;
    if (a->help) {
        fprintf(c->out, "Usage: %s", usage);
        return -1;
    }
    if (a->npos < min_pos || a->npos > max_pos) {
        rk_cli_errorf(c, a->npos < min_pos ? "missing argument" : "too many arguments");
        fprintf(c->err, "Usage: %s", usage);
        return RK_CLI_EXIT_USAGE;
    }
    return 0;
}

int rk_cli_dispatch(rk_cli_t *c, const char *group, const char *usage, const rk_cli_cmd_t *cmds,
                    int argc, char **argv)
{
    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fprintf(c->out, "Usage: %s", usage);
        return 0;
    }
    if (argc == 0) {
        rk_cli_errorf(c, "missing %s command", group);
    } else {
        for (const rk_cli_cmd_t *x = cmds; x->name; x++)
            if (strcmp(argv[0], x->name) == 0)
                return x->fn(c, argc - 1, argv + 1);
        rk_cli_errorf(c, "unknown %s command \"%.100s\"", group, argv[0]);
    }
    fprintf(c->err, "Usage: %s", usage);
    return RK_CLI_EXIT_USAGE;
}

int rk_cli_run(rk_cli_t *c, int argc, char **argv)
{
    static const struct {
        const char *name, *alias;
        int (*fn)(rk_cli_t *, int, char **);
    } groups[] = {
        {"agent", "agents", rk_cli_cmd_agent},
        {"experiment", "experiments", rk_cli_cmd_experiment},
        {"job", "jobs", rk_cli_cmd_job},
        {"result", "results", rk_cli_cmd_result},
        {"slurm", "slurm", rk_cli_cmd_slurm},
        {"schedule", "schedules", rk_cli_cmd_schedule},
        {"maintenance", "maintenance", rk_cli_cmd_maintenance},
    };
    if (strcmp(argv[0], "help") == 0)
        return print_help();
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        if (strcmp(argv[0], groups[i].name) == 0 || strcmp(argv[0], groups[i].alias) == 0)
            return groups[i].fn(c, argc - 1, argv + 1);
    }
    fprintf(c->err, "ruckus: unknown command \"%.100s\" (see --help)\n", argv[0]);
    return RK_CLI_EXIT_USAGE;
}

int rk_cli_main(int argc, char **argv)
{
    rk_cli_t c = {.out = stdout, .err = stderr};
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    int code;
    int rc = rk_cli_settings_load(argc, argv, &c.s, &res, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s\n", err[0] ? err : rk_strerror(rc));
        code = rc == RK_EINVAL ? RK_CLI_EXIT_USAGE : RK_CLI_EXIT_FAILURE;
    } else if (res.action == RK_CONFIG_HELP || (res.action == RK_CONFIG_RUN && res.argi == argc)) {
        code = print_help();
    } else if (res.action != RK_CONFIG_RUN) {
        code = rk_config_print(&rk_cli_config, res.action, stdout);
    } else if (rk_http_set_ca_file(c.s.ca_file) != 0) {
        code = RK_CLI_EXIT_FAILURE;
    } else {
        c.color = rk_cli_color_wanted(STDOUT_FILENO);
        c.now = rk_time_now_us();
        code = rk_cli_run(&c, argc - res.argi, argv + res.argi);
    }
    if (fflush(stdout) == EOF && code == 0)
        code = RK_CLI_EXIT_FAILURE;
    rk_cli_settings_cleanup(&c.s);
    return code;
}
