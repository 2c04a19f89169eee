/* ruckus agent register | unregister | list | status | show (pause, resume
 * and drain: cmd_queue.c) */
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/table.h"
#include "model/agent.h"

static const char usage[] =
    "ruckus agent COMMAND\n\n"
    "  register URL [--agent-token T]  register the agent listening at URL\n"
    "  unregister ID                   forget an agent\n"
    "  list                            registered agents\n"
    "  status [ID]                     live status of every agent, or one\n"
    "  show ID                         one agent: hardware, capabilities\n"
    "  pause ID | resume ID            stop or restart new dispatches to an agent\n"
    "  drain ID [--deadline S]         take it out of service; past S its jobs are requeued\n\n"
    "Examples:\n"
    "  ruckus agent register http://worker1:8001\n"
    "  ruckus agent status\n"
    "  ruckus --json agent show worker1\n";

static int cmd_register(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"agent-token", 0, true}};
    rk_cli_args_t a;
    int code =
        rk_cli_parse(c, argc, argv, opts, 1, 1, 1,
                     "ruckus agent register URL [--agent-token TOKEN]\n\n"
                     "The server reads the agent's /api/v1/info; TOKEN is the agent's own.\n\n"
                     "Example:\n  ruckus agent register http://worker1:8001\n",
                     &a);
    if (code)
        return code < 0 ? 0 : code;
    if (!rk_agent_url_valid(a.pos[0])) {
        rk_cli_errorf(c, "\"%.200s\" is not an http:// or https:// URL", a.pos[0]);
        return RK_CLI_EXIT_USAGE;
    }
    json_t *body = json_pack("{s:s}", "agent_url", a.pos[0]);
    json_t *ans = NULL;
    if (!body || (a.val[0] && json_object_set_new(body, "agent_token", json_string(a.val[0])))) {
        json_decref(body);
        return RK_CLI_EXIT_FAILURE;
    }
    long status = 0;
    char *msg = NULL;
    code = rk_cli_api_quiet(c, "POST", "/agents/register", body, &ans, &status, &msg);
    json_decref(body);
    if (code && status == 502 && msg && strstr(msg, "refused the token")) {
        /* The agent said no to the token: an authentication failure, with
         * what to check, not a bare "server error". */
        fputs(msg, c->err);
        rk_cli_errorf(c, "check --agent-token: it must be the token the agent was started with "
                         "(its --token or RUCKUS_AGENT_TOKEN)");
        code = RK_CLI_EXIT_AUTH;
    } else if (code && msg) {
        fputs(msg, c->err);
    }
    free(msg);
    if (!code) {
        const char *id = json_string_value(json_object_get(ans, "agent_id"));
        if (c->s.json)
            code = rk_cli_print_json(c, ans);
        else if (!id) {
            rk_verr_t e;
            rk_verr_set(&e, "agent_id", "field required");
            code = rk_cli_bad_answer(c, &e);
        } else
            fprintf(c->out, "registered agent %s at %s\n", id, a.pos[0]);
    }
    json_decref(ans);
    return code;
}

static int cmd_unregister(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, NULL, 0, 1, 1,
        "ruckus agent unregister ID|NAME\n\nExample:\n  ruckus agent unregister worker1\n", &a);
    if (code)
        return code < 0 ? 0 : code;
    char id[128];
    if ((code = rk_cli_agent_ref(c, a.pos[0], id, sizeof id)))
        return code;
    json_t *body = json_pack("{s:s}", "agent_id", id);
    json_t *ans = NULL;
    code =
        body ? rk_cli_api(c, "POST", "/agents/unregister", body, &ans, NULL) : RK_CLI_EXIT_FAILURE;
    json_decref(body);
    if (!code)
        code = rk_cli_print_ok(c, ans, "unregistered agent %s\n", id);
    json_decref(ans);
    return code;
}

static void task_list(const rk_agent_info_t *ai, rk_buf_t *b)
{
    for (size_t i = 0; i < ai->capabilities.n_task_types; i++)
        rk_buf_printf(b, "%s%s", i ? "," : "", rk_task_type_name(ai->capabilities.task_types[i]));
}

static int cmd_list(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    int code = rk_cli_parse(c, argc, argv, NULL, 0, 0, 0, "ruckus agent list\n", &a);
    if (code)
        return code < 0 ? 0 : code;
    json_t *ans = NULL;
    if ((code = rk_cli_api(c, "GET", "/agents", NULL, &ans, NULL)))
        return code;
    static const char *const hdr[] = {"AGENT", "NAME",     "URL",       "SLOTS",
                                      "TASKS", "HARDWARE", "REGISTERED"};
    rk_cli_table_t t;
    rk_buf_t tasks, hw;
    rk_buf_init(&tasks, 4096);
    rk_buf_init(&hw, 4096);
    rk_cli_table_init(&t, 7, hdr);
    t.right[3] = true;
    json_t *list;
    rk_verr_t e;
    if ((code = rk_cli_answer_array(c, ans, "agents", &list)))
        goto done;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        rk_registered_agent_t r;
        char path[RK_PATH_MAX], slots[24], when[RK_CLI_TIMESTR];
        rk_path_index(path, "agents", i);
        if (rk_registered_agent_decode(v, path, &r, &e)) {
            code = rk_cli_bad_answer(c, &e);
            goto done;
        }
        rk_buf_reset(&tasks);
        rk_buf_reset(&hw);
        task_list(&r.info, &tasks);
        rk_cli_hw_summary(r.info.system_info, &hw);
        snprintf(slots, sizeof slots, "%lld", (long long)r.info.capabilities.slots);
        rk_cli_reltime(r.registered_at, c->now, when);
        const char *row[] = {r.info.agent_id,    r.info.agent_name, r.agent_url, slots,
                             rk_buf_str(&tasks), rk_buf_str(&hw),   when};
        int rc = rk_cli_table_add(&t, row);
        rk_registered_agent_cleanup(&r);
        if (rc) {
            code = RK_CLI_EXIT_FAILURE;
            goto done;
        }
    }
    code = rk_cli_print_table(c, ans, &t,
                              "no agents registered (see `ruckus agent register --help`)\n");
done:
    rk_cli_table_cleanup(&t);
    rk_buf_cleanup(&tasks);
    rk_buf_cleanup(&hw);
    json_decref(ans);
    return code;
}

static int status_row(rk_cli_t *c, rk_cli_table_t *t, const json_t *v, const char *path)
{
    rk_agent_status_t st;
    rk_verr_t e;
    if (rk_agent_status_decode(v, path, &st, &e))
        return rk_cli_bad_answer(c, &e);
    char running[24], queued[24], up[RK_CLI_TIMESTR], when[RK_CLI_TIMESTR];
    snprintf(running, sizeof running, "%zu", st.n_running);
    snprintf(queued, sizeof queued, "%zu", st.n_queued);
    rk_cli_duration(st.uptime_seconds, up);
    rk_cli_reltime(st.timestamp, c->now, when);
    const char *row[] = {
        st.agent_id, rk_agent_state_name(st.status), running, queued, st.current_job_id, up, when};
    int code = rk_cli_table_add(t, row) ? RK_CLI_EXIT_FAILURE : 0;
    rk_cli_table_color(t, 1, rk_cli_agent_color(st.status, c->color));
    rk_agent_status_cleanup(&st);
    return code;
}

static int cmd_status(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    int code =
        rk_cli_parse(c, argc, argv, NULL, 0, 0, 1,
                     "ruckus agent status [ID|NAME]\n\nAn agent that cannot be reached reads "
                     "`unavailable`.\n\nExample:\n  ruckus agent status worker1\n",
                     &a);
    if (code)
        return code < 0 ? 0 : code;
    char path[200] = "/agents/status", id[128];
    if (a.npos == 1 &&
        ((code = rk_cli_agent_ref(c, a.pos[0], id, sizeof id)) ||
         (code = rk_cli_id_path(c, "agent", "/agents", id, "/status", path, sizeof path))))
        return code;
    json_t *ans = NULL;
    if ((code = rk_cli_api(c, "GET", path, NULL, &ans, NULL)))
        return code;
    static const char *const hdr[] = {"AGENT",       "STATUS", "RUNNING", "QUEUED",
                                      "CURRENT JOB", "UPTIME", "UPDATED"};
    rk_cli_table_t t;
    rk_cli_table_init(&t, 7, hdr);
    t.right[2] = t.right[3] = true;
    json_t *list;
    if (a.npos == 1) {
        code = status_row(c, &t, json_object_get(ans, "agent"), "agent");
    } else if (!(code = rk_cli_answer_array(c, ans, "agents", &list))) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            char p[RK_PATH_MAX];
            rk_path_index(p, "agents", i);
            if ((code = status_row(c, &t, v, p)))
                break;
        }
    }
    if (!code)
        code = rk_cli_print_table(c, ans, &t, "no agents registered\n");
    rk_cli_table_cleanup(&t);
    json_decref(ans);
    return code;
}

static int cmd_show(rk_cli_t *c, int argc, char **argv)
{
    json_t *ans = NULL;
    rk_cli_args_t a;
    char id[128], path[200];
    int code =
        rk_cli_parse(c, argc, argv, NULL, 0, 1, 1,
                     "ruckus agent show ID|NAME\n\nExample:\n  ruckus agent show worker1\n", &a);
    if (code)
        return code < 0 ? 0 : code;
    if ((code = rk_cli_agent_ref(c, a.pos[0], id, sizeof id)) ||
        (code = rk_cli_id_path(c, "agent", "/agents", id, "", path, sizeof path)) ||
        (code = rk_cli_api(c, "GET", path, NULL, &ans, NULL))) {
        json_decref(ans);
        return code;
    }
    rk_registered_agent_t r;
    rk_verr_t e;
    if (rk_registered_agent_decode(json_object_get(ans, "agent"), "agent", &r, &e)) {
        json_decref(ans);
        return rk_cli_bad_answer(c, &e);
    }
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
    } else {
        rk_buf_t b, x;
        rk_buf_init(&b, SIZE_MAX);
        rk_buf_init(&x, 65536);
        char when[RK_CLI_TIMESTR], ts[RK_TIME_STRLEN], slots[24];
        const json_t *si = r.info.system_info;
        rk_cli_kv(&b, "agent", r.info.agent_id);
        rk_cli_kv(&b, "name", r.info.agent_name);
        rk_cli_kv(&b, "type", rk_agent_type_name(r.info.agent_type));
        rk_cli_kv(&b, "url", r.agent_url);
        rk_time_format(r.registered_at, ts);
        rk_cli_reltime(r.registered_at, c->now, when);
        rk_buf_printf(&x, "%s (%s)", ts, when);
        rk_cli_kv(&b, "registered", rk_buf_str(&x));
        snprintf(slots, sizeof slots, "%lld", (long long)r.info.capabilities.slots);
        rk_cli_kv(&b, "slots", slots);
        rk_buf_reset(&x);
        task_list(&r.info, &x);
        rk_cli_kv(&b, "task types", rk_buf_str(&x));
        rk_cli_kv(&b, "hostname", json_string_value(json_object_get(si, "hostname")));
        rk_cli_kv(&b, "os", json_string_value(json_object_get(json_object_get(si, "os"), "name")));
        rk_buf_reset(&x);
        rk_cli_hw_summary(si, &x);
        rk_cli_kv(&b, "hardware", rk_buf_str(&x));
        code = rk_cli_print_buf(c, &b);
        rk_buf_cleanup(&b);
        rk_buf_cleanup(&x);
    }
    rk_registered_agent_cleanup(&r);
    json_decref(ans);
    return code;
}

int rk_cli_cmd_agent(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_cmd_t cmds[] = {{"register", cmd_register},
                                        {"unregister", cmd_unregister},
                                        {"list", cmd_list},
                                        {"status", cmd_status},
                                        {"show", cmd_show},
                                        {"pause", rk_cli_agent_pause},
                                        {"resume", rk_cli_agent_resume},
                                        {"drain", rk_cli_agent_drain},
                                        {NULL, NULL}};
    return rk_cli_dispatch(c, "agent", usage, cmds, argc, argv);
}
