/* Retention from the command line (protocol.md, "Jobs over time"):
 * ruckus maintenance cleanup --older-than-days N (POST
 * /maintenance/cleanup) and ruckus job delete ID --purge (DELETE
 * /jobs/{id}?purge=true; the job group's table in cmd_job.c points here). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"

static const char cleanup_usage[] =
    "ruckus maintenance cleanup --older-than-days N [--json]\n\n"
    "Deletes, now, every finished job (completed, failed, cancelled, timeout)\n"
    "whose status is older than N days (a number, 0 or more), with its status\n"
    "history, result and per-job records; their agents are told to drop their\n"
    "copies. Unfinished jobs, jobs a baseline pins and jobs that finished in the\n"
    "last few seconds are kept. The server's --retention-days does the same every\n"
    "--retention-period seconds.\n\n"
    "Examples:\n"
    "  ruckus maintenance cleanup --older-than-days 90\n"
    "  ruckus --json maintenance cleanup --older-than-days 0.5\n";

static int cmd_cleanup(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"older-than-days", 'd', true}};
    rk_cli_args_t a;
    int code = rk_cli_parse(c, argc, argv, opts, 1, 0, 0, cleanup_usage, &a);
    if (code)
        return code < 0 ? 0 : code;
    char *end = NULL;
    double days = a.val[0] ? strtod(a.val[0], &end) : -1;
    if (!a.val[0] || !end || *end || end == a.val[0] || !isfinite(days) || days < 0) {
        rk_cli_errorf(c, "--older-than-days: expected a number of days, 0 or more");
        fprintf(c->err, "Usage: %s", cleanup_usage);
        return RK_CLI_EXIT_USAGE;
    }
    json_t *body = json_pack("{s:f}", "older_than_days", days), *ans = NULL;
    code = body ? rk_cli_api(c, "POST", "/maintenance/cleanup", body, &ans, NULL)
                : RK_CLI_EXIT_FAILURE;
    json_decref(body);
    if (code)
        return code;
    code = rk_cli_print_ok(
        c, ans, "deleted %lld jobs and %lld results finished more than %g days ago\n",
        (long long)json_integer_value(json_object_get(ans, "deleted_jobs")),
        (long long)json_integer_value(json_object_get(ans, "deleted_results")), days);
    json_decref(ans);
    return code;
}

int rk_cli_cmd_maintenance(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_cmd_t cmds[] = {{"cleanup", cmd_cleanup}, {NULL, NULL}};
    return rk_cli_dispatch(c, "maintenance",
                           "ruckus maintenance COMMAND\n\n"
                           "  cleanup --older-than-days N   delete finished jobs older than N "
                           "days\n",
                           cmds, argc, argv);
}

int rk_cli_job_delete(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"purge", 0, false}};
    static const char usage[] =
        "ruckus job delete ID --purge [--json]\n\n"
        "Deletes one finished job for good: its status history, result and\n"
        "records on the server, and its agent's copy (record, logs, artifacts).\n"
        "--purge is required (it cannot be undone). A job that has not finished:\n"
        "exit 6 (cancel it first); an unknown job: exit 3.\n\n"
        "Example:\n  ruckus job delete job_0badcafe --purge\n";
    rk_cli_args_t a;
    char path[256];
    int code = rk_cli_parse(c, argc, argv, opts, 1, 1, 1, usage, &a);
    if (code)
        return code < 0 ? 0 : code;
    if (!a.val[0]) {
        rk_cli_errorf(c, "--purge is required: deleting a job cannot be undone");
        fprintf(c->err, "Usage: %s", usage);
        return RK_CLI_EXIT_USAGE;
    }
    if ((code = rk_cli_id_path(c, "job", "/jobs", a.pos[0], "?purge=true", path, sizeof path)))
        return code;
    json_t *ans = NULL;
    if ((code = rk_cli_api(c, "DELETE", path, NULL, &ans, NULL)))
        return code;
    code = rk_cli_print_ok(c, ans, "deleted job %s\n", a.pos[0]);
    json_decref(ans);
    return code;
}
