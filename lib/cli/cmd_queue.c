/* Queue control from the command line (protocol.md, "Queue control"):
 * ruckus job pause | resume | priority | cancel (one id, several, or
 * filters), and ruckus agent pause | resume | drain. The groups' tables in
 * cmd_job.c and cmd_agent.c point here. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "model/enums.h"

/* POST <prefix>/<id>/<verb> with no body, then one line or the JSON. */
static int post_verb(rk_cli_t *c, int argc, char **argv, const char *what, const char *prefix,
                     const char *verb, const char *usage, const char *past)
{
    rk_cli_args_t a;
    char path[256], suffix[32];
    snprintf(suffix, sizeof suffix, "/%s", verb);
    int code = rk_cli_parse(c, argc, argv, NULL, 0, 1, 1, usage, &a);
    if (code)
        return code < 0 ? 0 : code;
    char id[128];
    if (strcmp(what, "agent") == 0) {
        if ((code = rk_cli_agent_ref(c, a.pos[0], id, sizeof id)))
            return code;
    } else {
        snprintf(id, sizeof id, "%s", a.pos[0]);
    }
    if ((code = rk_cli_id_path(c, what, prefix, id, suffix, path, sizeof path)))
        return code;
    json_t *ans = NULL;
    if ((code = rk_cli_api(c, "POST", path, NULL, &ans, NULL)))
        return code;
    const char *state =
        json_string_value(json_object_get(json_object_get(ans, "status"), "status"));
    const char *sched = json_string_value(json_object_get(ans, "scheduling"));
    if (strcmp(what, "agent") == 0)
        code = rk_cli_print_ok(c, ans, "agent %s: scheduling %s\n", a.pos[0], sched ? sched : "?");
    else
        code = rk_cli_print_ok(c, ans, "%s job %s (%s)\n", past, a.pos[0], state ? state : "?");
    json_decref(ans);
    return code;
}

int rk_cli_job_pause(rk_cli_t *c, int argc, char **argv)
{
    return post_verb(
        c, argc, argv, "job", "/jobs", "pause",
        "ruckus job pause ID\n\n"
        "A queued job is held in its place; a running one is frozen on its agent\n"
        "(its timeout clock stops). `job resume` undoes it. A finished job: exit 6.\n\n"
        "Example:\n  ruckus job pause job_0badcafe\n",
        "paused");
}

int rk_cli_job_resume(rk_cli_t *c, int argc, char **argv)
{
    return post_verb(c, argc, argv, "job", "/jobs", "resume",
                     "ruckus job resume ID\n\n"
                     "A held job goes back to its place in the queue; a frozen one runs on.\n\n"
                     "Example:\n  ruckus job resume job_0badcafe\n",
                     "resumed");
}

int rk_cli_job_priority(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    char path[256];
    int code = rk_cli_parse(c, argc, argv, NULL, 0, 2, 2,
                            "ruckus job priority ID LEVEL\n\n"
                            "LEVEL: low, medium, high or critical. Only a job that has not "
                            "started\n(queued or paused) can change it; it moves in the queue "
                            "at once.\n\nExample:\n  ruckus job priority job_0badcafe critical\n",
                            &a);
    if (code)
        return code < 0 ? 0 : code;
    rk_job_priority_t p;
    if (rk_job_priority_parse(a.pos[1], &p)) {
        rk_cli_errorf(c, "LEVEL: expected one of low, medium, high, critical");
        return RK_CLI_EXIT_USAGE;
    }
    if ((code = rk_cli_id_path(c, "job", "/jobs", a.pos[0], "", path, sizeof path)))
        return code;
    json_t *body = json_pack("{s:s}", "priority", rk_job_priority_name(p)), *ans = NULL;
    code = body ? rk_cli_api(c, "PATCH", path, body, &ans, NULL) : RK_CLI_EXIT_FAILURE;
    json_decref(body);
    if (code)
        return code;
    code =
        rk_cli_print_ok(c, ans, "job %s now has priority %s\n", a.pos[0], rk_job_priority_name(p));
    json_decref(ans);
    return code;
}

/* DELETE /jobs with the filters given: every matching unfinished job. */
static int cancel_filtered(rk_cli_t *c, const rk_cli_args_t *a)
{
    /* a->val: status, agent, experiment, priority, before, all, force */
    char agent[128];
    int code;
    if (a->val[1] && (code = rk_cli_agent_ref(c, a->val[1], agent, sizeof agent)))
        return code;
    if (a->val[2] && (code = rk_cli_check_id(c, "experiment", a->val[2])))
        return code;
    rk_job_priority_t p;
    if (a->val[3] && rk_job_priority_parse(a->val[3], &p)) {
        rk_cli_errorf(c, "--priority: expected one of low, medium, high, critical");
        return RK_CLI_EXIT_USAGE;
    }
    rk_buf_t q, path;
    rk_buf_init(&q, 1024);
    rk_buf_init(&path, 1024);
    rk_cli_query_add(&q, "status", a->val[0]);
    rk_cli_query_add(&q, "agent_id", a->val[1] ? agent : NULL);
    rk_cli_query_add(&q, "experiment_id", a->val[2]);
    rk_cli_query_add(&q, "priority", a->val[3]);
    rk_cli_query_add(&q, "created_before", a->val[4]);
    rk_cli_query_add(&q, "all", a->val[5] ? "true" : NULL);
    rk_cli_query_add(&q, "force", a->val[6] ? "true" : NULL);
    rk_buf_printf(&path, "/jobs%s", rk_buf_str(&q));
    json_t *ans = NULL;
    code = rk_cli_api(c, "DELETE", rk_buf_str(&path), NULL, &ans, NULL);
    if (!code) {
        json_t *n = json_object_get(ans, "cancelled");
        code = rk_cli_print_ok(c, ans, "cancelled %lld jobs\n",
                               json_is_integer(n) ? (long long)json_integer_value(n) : 0LL);
    }
    json_decref(ans);
    rk_buf_cleanup(&q);
    rk_buf_cleanup(&path);
    return code;
}

/* One DELETE per id; every id is tried, the exit code is the first
 * failure's. */
static int cancel_ids(rk_cli_t *c, const rk_cli_args_t *a)
{
    int first = 0;
    json_t *all = c->s.json ? json_array() : NULL;
    for (int i = 0; i < a->npos; i++) {
        char path[256];
        int code = rk_cli_id_path(c, "job", "/jobs", a->pos[i], a->val[6] ? "?force=true" : "",
                                  path, sizeof path);
        json_t *ans = NULL;
        long status = 0;
        if (!code)
            code = rk_cli_api(c, "DELETE", path, NULL, &ans, &status);
        if (!code && all)
            json_array_append(all, ans);
        else if (!code)
            fprintf(c->out,
                    status == 202 ? "job %s is being stopped; it will end cancelled\n"
                                  : "cancelled job %s\n",
                    a->pos[i]);
        json_decref(ans);
        if (code && !first)
            first = code;
    }
    if (all) {
        int code = rk_cli_print_json(c, all);
        first = first ? first : code;
        json_decref(all);
    }
    return first;
}

int rk_cli_job_cancel(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {
        {"status", 's', true}, {"agent", 'a', true}, {"experiment", 'e', true},
        {"priority", 0, true}, {"before", 0, true},  {"all", 0, false},
        {"force", 'f', false},
    };
    rk_cli_args_t a;
    int code =
        rk_cli_parse(c, argc, argv, opts, 7, 0, RK_CLI_MAX_POS,
                     "ruckus job cancel ID [ID...] [--force]\n"
                     "ruckus job cancel [--status S[,S...]] [--agent ID|NAME] [--experiment E]\n"
                     "                  [--priority P] [--before TIME] [--all] [--force]\n\n"
                     "Cancels the jobs named, or every unfinished job matching the filters in one\n"
                     "request (at least one filter, or --all). A running job gets TERM, a grace\n"
                     "period, then KILL; --force kills at once. TIME is RFC 3339. A finished job\n"
                     "cannot be cancelled (exit 6).\n\n"
                     "Examples:\n  ruckus job cancel job_0badcafe job_0deadbee\n"
                     "  ruckus job cancel --status queued --experiment exp_1a2b3c\n",
                     &a);
    if (code)
        return code < 0 ? 0 : code;
    bool filtered = a.val[0] || a.val[1] || a.val[2] || a.val[3] || a.val[4] || a.val[5];
    if (filtered && a.npos) {
        rk_cli_errorf(c, "give job ids or filters, not both");
        return RK_CLI_EXIT_USAGE;
    }
    if (!filtered && !a.npos) {
        rk_cli_errorf(c, "give one or more job ids, or filters (--status, --agent, "
                         "--experiment, --priority, --before) or --all");
        return RK_CLI_EXIT_USAGE;
    }
    return filtered ? cancel_filtered(c, &a) : cancel_ids(c, &a);
}

int rk_cli_agent_pause(rk_cli_t *c, int argc, char **argv)
{
    return post_verb(c, argc, argv, "agent", "/agents", "pause",
                     "ruckus agent pause ID|NAME\n\n"
                     "No new jobs start on the agent; running ones go on. `agent resume` "
                     "undoes it.\n\nExample:\n  ruckus agent pause worker1\n",
                     "paused");
}

int rk_cli_agent_resume(rk_cli_t *c, int argc, char **argv)
{
    return post_verb(c, argc, argv, "agent", "/agents", "resume",
                     "ruckus agent resume ID|NAME\n\n"
                     "Jobs start on the agent again.\n\nExample:\n  ruckus agent resume worker1\n",
                     "resumed");
}

int rk_cli_agent_drain(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"deadline", 'd', true}};
    rk_cli_args_t a;
    int code = rk_cli_parse(c, argc, argv, opts, 1, 1, 1,
                            "ruckus agent drain ID|NAME [--deadline SECONDS]\n\n"
                            "Takes the agent out of service: no new jobs start there; past the\n"
                            "deadline its running jobs are stopped and put back in the queue\n"
                            "(not failed). Without a deadline they run to their end.\n\n"
                            "Example:\n  ruckus agent drain worker1 --deadline 600\n",
                            &a);
    if (code)
        return code < 0 ? 0 : code;
    long deadline = -1;
    if (a.val[0] && rk_cli_args_int(a.val[0], 0, 31536000, &deadline)) {
        rk_cli_errorf(c, "--deadline: expected seconds from 0 to 31536000");
        return RK_CLI_EXIT_USAGE;
    }
    char id[128], path[256];
    if ((code = rk_cli_agent_ref(c, a.pos[0], id, sizeof id)) ||
        (code = rk_cli_id_path(c, "agent", "/agents", id, "/drain", path, sizeof path)))
        return code;
    json_t *body = deadline >= 0 ? json_pack("{s:I}", "deadline_s", (json_int_t)deadline)
                                 : json_object(),
           *ans = NULL;
    code = body ? rk_cli_api(c, "POST", path, body, &ans, NULL) : RK_CLI_EXIT_FAILURE;
    json_decref(body);
    if (code)
        return code;
    const char *sched = json_string_value(json_object_get(ans, "scheduling"));
    code = rk_cli_print_ok(c, ans, "agent %s: scheduling %s\n", a.pos[0], sched ? sched : "?");
    json_decref(ans);
    return code;
}
