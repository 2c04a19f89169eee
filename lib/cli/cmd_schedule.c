/* ruckus schedule create | list | show | delete | pause | resume | run:
 * recurring runs of an experiment on a cron expression (docs/api.md,
 * "Schedules"; issue 12). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "model/enums.h"

/* Most --agent options one create takes. */
#define SCH_CLI_AGENTS_MAX 32

static rk_time_t doc_time(const json_t *doc, const char *key)
{
    rk_time_t t = 0;
    const char *s = json_string_value(json_object_get(doc, key));
    if (!s || rk_time_parse(s, &t))
        return 0;
    return t;
}

static int cmd_create(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {
        {"name", 'n', true},     {"cron", 0, true},      {"experiment", 'e', true},
        {"agent", 'a', true},    {"selector", 0, true},  {"priority", 'p', true},
        {"exclusive", 0, false}, {"disabled", 0, false},
    };
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, opts, sizeof opts / sizeof opts[0], 0, 0,
        "ruckus schedule create --name NAME --cron \"M H DOM MON DOW\" --experiment EXP\n"
        "                       [--agent A]... | [--selector k=v]...\n"
        "                       [--priority low|medium|high|critical] [--exclusive] "
        "[--disabled]\n\n"
        "Runs EXP at every time the cron expression (5 fields, UTC) names, like\n"
        "`ruckus experiment run`: one job per --agent (an id or a unique name), or,\n"
        "without --agent, one per registered agent that can run it (and carries every\n"
        "--selector label). --disabled stores it paused. A bad cron field is exit 6,\n"
        "naming the field.\n\n"
        "Examples:\n"
        "  ruckus schedule create --name nightly --cron \"0 3 * * *\" --experiment exp_1a2b3c\n"
        "  ruckus schedule create -n weekdays --cron \"30 6 * * mon-fri\" -e exp_1a2b3c \\\n"
        "      --agent worker1 --agent worker2 --priority high\n",
        &a);
    if (code)
        return code < 0 ? 0 : code;
    if (!a.val[0] || !a.val[1] || !a.val[2]) {
        rk_cli_errorf(c, "--name, --cron and --experiment are required (see --help)");
        return RK_CLI_EXIT_USAGE;
    }
    if ((code = rk_cli_check_id(c, "experiment", a.val[2])))
        return code;
    rk_job_priority_t p = RK_PRIO_MEDIUM;
    if (a.val[5] && rk_job_priority_parse(a.val[5], &p)) {
        rk_cli_errorf(c, "--priority: expected one of low, medium, high, critical");
        return RK_CLI_EXIT_USAGE;
    }
    json_t *body =
        json_pack("{s:s,s:s,s:s,s:b,s:b}", "name", a.val[0], "cron", a.val[1], "experiment_id",
                  a.val[2], "exclusive", a.val[6] != NULL, "enabled", a.val[7] == NULL);
    if (!body)
        return RK_CLI_EXIT_FAILURE;
    if (a.val[5])
        json_object_set_new(body, "priority", json_string(rk_job_priority_name(p)));
    const char *agents[SCH_CLI_AGENTS_MAX], *sels[SCH_CLI_AGENTS_MAX];
    size_t na = rk_cli_args_all(&a, 3, agents, SCH_CLI_AGENTS_MAX);
    size_t ns = rk_cli_args_all(&a, 4, sels, SCH_CLI_AGENTS_MAX);
    if (na) {
        json_t *ids = json_array();
        json_object_set_new(body, "agent_ids", ids);
        for (size_t i = 0; i < na && !code; i++) {
            char id[128];
            if (!(code = rk_cli_agent_ref(c, agents[i], id, sizeof id)))
                json_array_append_new(ids, json_string(id));
        }
    }
    if (ns && !code) {
        json_t *labels = json_object();
        json_object_set_new(body, "agent_selector", json_pack("{s:o}", "labels", labels));
        for (size_t i = 0; i < ns && !code; i++) {
            const char *eq = strchr(sels[i], '=');
            if (!eq || eq == sels[i]) {
                rk_cli_errorf(c, "--selector: expected KEY=VALUE, got \"%.100s\"", sels[i]);
                code = RK_CLI_EXIT_USAGE;
                break;
            }
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - sels[i]), sels[i]);
            json_object_set_new(labels, key, json_string(eq + 1));
        }
    }
    json_t *ans = NULL;
    if (!code)
        code = rk_cli_api(c, "POST", "/schedules", body, &ans, NULL);
    json_decref(body);
    if (code)
        return code;
    char when[RK_CLI_TIMESTR];
    rk_cli_reltime(doc_time(ans, "next_run_at"), c->now, when);
    code = rk_cli_print_ok(c, ans, "created schedule %s (next run %s, %s)\n",
                           json_string_value(json_object_get(ans, "schedule_id")), when,
                           json_string_value(json_object_get(ans, "next_run_at")));
    json_decref(ans);
    return code;
}

static int cmd_list(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    int code =
        rk_cli_parse(c, argc, argv, NULL, 0, 0, 0,
                     "ruckus schedule list\n\nEvery schedule with its next and last run.\n", &a);
    if (code)
        return code < 0 ? 0 : code;
    json_t *ans = NULL, *list;
    if ((code = rk_cli_api(c, "GET", "/schedules", NULL, &ans, NULL)))
        return code;
    static const char *const hdr[] = {"SCHEDULE", "NAME",     "CRON",     "EXPERIMENT",
                                      "ENABLED",  "NEXT RUN", "LAST RUN", "LAST JOBS"};
    rk_cli_table_t t;
    rk_cli_table_init(&t, 8, hdr);
    if ((code = rk_cli_answer_array(c, ans, "schedules", &list)))
        goto done;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        char next[RK_CLI_TIMESTR], last[RK_CLI_TIMESTR], jobs[24];
        bool on = json_is_true(json_object_get(v, "enabled"));
        rk_cli_reltime(on ? doc_time(v, "next_run_at") : 0, c->now, next);
        rk_cli_reltime(doc_time(v, "last_run_at"), c->now, last);
        snprintf(jobs, sizeof jobs, "%zu", json_array_size(json_object_get(v, "last_job_ids")));
        const char *row[] = {json_string_value(json_object_get(v, "schedule_id")),
                             json_string_value(json_object_get(v, "name")),
                             json_string_value(json_object_get(v, "cron")),
                             json_string_value(json_object_get(v, "experiment_id")),
                             on ? "yes" : "paused",
                             next,
                             last,
                             jobs};
        for (size_t k = 0; k < 4; k++)
            if (!row[k])
                row[k] = "?";
        if (rk_cli_table_add(&t, row)) {
            code = RK_CLI_EXIT_FAILURE;
            goto done;
        }
    }
    code = rk_cli_print_table(c, ans, &t, "no schedules (see `ruckus schedule create --help`)\n");
done:
    rk_cli_table_cleanup(&t);
    json_decref(ans);
    return code;
}

/* The human form of one schedule object. */
static int print_schedule(rk_cli_t *c, const json_t *s)
{
    rk_buf_t b;
    rk_buf_init(&b, SIZE_MAX);
    char when[RK_CLI_TIMESTR], line[256];
    rk_cli_kv(&b, "schedule", json_string_value(json_object_get(s, "schedule_id")));
    rk_cli_kv(&b, "name", json_string_value(json_object_get(s, "name")));
    rk_cli_kv(&b, "cron", json_string_value(json_object_get(s, "cron")));
    rk_cli_kv(&b, "experiment", json_string_value(json_object_get(s, "experiment_id")));
    bool on = json_is_true(json_object_get(s, "enabled"));
    rk_cli_kv(&b, "enabled", on ? "yes" : "no (paused)");
    rk_cli_kv(&b, "priority", json_string_value(json_object_get(s, "priority")));
    json_t *ids = json_object_get(s, "agent_ids");
    rk_buf_t agents;
    rk_buf_init(&agents, 1 << 16);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        rk_buf_printf(&agents, "%s%s", i ? ", " : "", json_string_value(v));
    }
    rk_cli_kv(&b, "agents", json_array_size(ids) ? rk_buf_str(&agents) : "every compatible agent");
    rk_buf_cleanup(&agents);
    rk_cli_reltime(on ? doc_time(s, "next_run_at") : 0, c->now, when);
    snprintf(line, sizeof line, "%s (%s)", when,
             on ? json_string_value(json_object_get(s, "next_run_at")) : "paused");
    rk_cli_kv(&b, "next run", line);
    rk_cli_reltime(doc_time(s, "last_run_at"), c->now, when);
    rk_cli_kv(&b, "last run", when);
    rk_buf_t jobs;
    rk_buf_init(&jobs, 1 << 16);
    json_array_foreach(json_object_get(s, "last_job_ids"), i, v)
    {
        rk_buf_printf(&jobs, "%s%s", i ? ", " : "", json_string_value(v));
    }
    if (jobs.len)
        rk_cli_kv(&b, "last jobs", rk_buf_str(&jobs));
    rk_buf_cleanup(&jobs);
    const char *err = json_string_value(json_object_get(s, "last_error"));
    if (err)
        rk_cli_kv(&b, "last error", err);
    int code = rk_cli_print_buf(c, &b);
    rk_buf_cleanup(&b);
    return code;
}

static int cmd_show(rk_cli_t *c, int argc, char **argv)
{
    json_t *ans;
    int code = rk_cli_get_by_id(
        c, argc, argv, "ruckus schedule show ID\n\nExample:\n  ruckus schedule show sch_0badcafe\n",
        "schedule", "/schedules", &ans);
    if (code || !ans)
        return code;
    code =
        c->s.json ? rk_cli_print_json(c, ans) : print_schedule(c, json_object_get(ans, "schedule"));
    json_decref(ans);
    return code;
}

/* METHOD /schedules/ID<suffix> with no body; prints what done says. */
static int verb(rk_cli_t *c, int argc, char **argv, const char *method, const char *suffix,
                const char *usage, const char *done)
{
    rk_cli_args_t a;
    char path[256];
    int code = rk_cli_parse(c, argc, argv, NULL, 0, 1, 1, usage, &a);
    if (code)
        return code < 0 ? 0 : code;
    if ((code = rk_cli_id_path(c, "schedule", "/schedules", a.pos[0], suffix, path, sizeof path)))
        return code;
    json_t *ans = NULL;
    if ((code = rk_cli_api(c, method, path, NULL, &ans, NULL)))
        return code;
    if (strcmp(suffix, "/run") == 0) {
        json_t *jobs = json_object_get(ans, "jobs");
        code = rk_cli_print_ok(c, ans, "schedule %s fired: %zu jobs\n", a.pos[0],
                               json_array_size(jobs));
        size_t i;
        json_t *j;
        json_array_foreach(jobs, i, j)
        {
            if (!code && !c->s.json)
                code = rk_cli_print_ok(c, ans, "  %s on %s\n",
                                       json_string_value(json_object_get(j, "job_id")),
                                       json_string_value(json_object_get(j, "agent_id")));
        }
    } else {
        code = rk_cli_print_ok(c, ans, "%s schedule %s\n", done, a.pos[0]);
    }
    json_decref(ans);
    return code;
}

static int cmd_delete(rk_cli_t *c, int argc, char **argv)
{
    return verb(c, argc, argv, "DELETE", "",
                "ruckus schedule delete ID\n\nThe schedule goes; the jobs it made stay.\n",
                "deleted");
}

static int cmd_pause(rk_cli_t *c, int argc, char **argv)
{
    return verb(c, argc, argv, "POST", "/pause",
                "ruckus schedule pause ID\n\nNo more firings until `schedule resume`.\n", "paused");
}

static int cmd_resume(rk_cli_t *c, int argc, char **argv)
{
    return verb(c, argc, argv, "POST", "/resume",
                "ruckus schedule resume ID\n\nFires again from the next slot after now (slots "
                "missed while paused\ndo not fire).\n",
                "resumed");
}

static int cmd_run(rk_cli_t *c, int argc, char **argv)
{
    return verb(c, argc, argv, "POST", "/run",
                "ruckus schedule run ID\n\nFires now, once, whether paused or not; the next "
                "run stays as it was.\n",
                "ran");
}

int rk_cli_cmd_schedule(rk_cli_t *c, int argc, char **argv)
{
    static const char usage[] =
        "ruckus schedule create|list|show|delete|pause|resume|run ...\n\n"
        "Recurring runs of an experiment on a cron expression (UTC).\n\n"
        "Examples:\n"
        "  ruckus schedule create --name nightly --cron \"0 3 * * *\" --experiment exp_1a2b3c\n"
        "  ruckus schedule list\n"
        "  ruckus schedule run sch_0badcafe\n";
    static const rk_cli_cmd_t cmds[] = {
        {"create", cmd_create}, {"list", cmd_list},     {"show", cmd_show}, {"delete", cmd_delete},
        {"pause", cmd_pause},   {"resume", cmd_resume}, {"run", cmd_run},   {NULL, NULL}};
    return rk_cli_dispatch(c, "schedule", usage, cmds, argc, argv);
}
