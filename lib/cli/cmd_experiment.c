/* ruckus experiment create | list | show | delete | check | run */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/table.h"
#include "model/experiment.h"
#include "model/job.h"
#include "model/parse.h"

/* Largest spec file read. */
#define SPEC_FILE_MAX (16u << 20)

static const char usage[] =
    "ruckus experiment COMMAND\n\n"
    "  create FILE               store the JSON spec in FILE (- for stdin)\n"
    "  list                      stored experiments\n"
    "  show ID                   one experiment's spec\n"
    "  delete ID [--cascade]     delete it (--cascade: with its finished jobs)\n"
    "  check ID                  which agents can run it, and what the others miss\n"
    "  run ID [--agents A,B] [--wait]\n"
    "                            one job per listed (or every compatible) agent\n\n"
    "Examples:\n"
    "  ruckus experiment create examples/memory_benchmark.json\n"
    "  ruckus experiment check exp_1a2b3c\n"
    "  ruckus experiment run exp_1a2b3c --agents worker1,worker2\n";

static int read_file(rk_cli_t *c, const char *name, rk_buf_t *out)
{
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
    if (!f) {
        rk_cli_errorf(c, "cannot read %s: %s", name, strerror(errno));
        return RK_CLI_EXIT_USAGE;
    }
    char chunk[16384];
    size_t n;
    int code = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (rk_buf_add(out, chunk, n)) {
            rk_cli_errorf(c, "%s: larger than %u MiB", name, SPEC_FILE_MAX >> 20);
            code = RK_CLI_EXIT_USAGE;
            break;
        }
    }
    if (!code && ferror(f)) {
        rk_cli_errorf(c, "cannot read %s: %s", name, strerror(errno));
        code = RK_CLI_EXIT_USAGE;
    }
    if (f != stdin)
        fclose(f);
    return code;
}

static int cmd_create(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    int code =
        rk_cli_parse(c, argc, argv, NULL, 0, 1, 1,
                     "ruckus experiment create FILE\n\n"
                     "FILE holds an ExperimentSpec (or {\"experiment_spec\": ...}); it is "
                     "validated before it is sent.\nexamples/ holds one for each task type.\n\n"
                     "Example:\n  ruckus experiment create examples/command.json\n",
                     &a);
    if (code)
        return code < 0 ? 0 : code;
    rk_buf_t text;
    rk_buf_init(&text, SPEC_FILE_MAX);
    json_t *doc = NULL, *body = NULL, *ans = NULL;
    rk_experiment_t x;
    memset(&x, 0, sizeof x);
    rk_verr_t e;
    if ((code = read_file(c, a.pos[0], &text)))
        goto done;
    if (rk_model_parse_json(text.data ? text.data : "", text.len, &doc, &e)) {
        rk_cli_errorf(c, "%s: %s", a.pos[0], e.msg);
        code = RK_CLI_EXIT_INVALID;
        goto done;
    }
    json_t *spec = json_object_get(doc, "experiment_spec");
    if (!spec)
        spec = doc;
    if (rk_experiment_decode(spec, "", &x, &e)) {
        rk_cli_errorf(c, "%s: %s", a.pos[0], e.msg);
        code = RK_CLI_EXIT_INVALID;
        goto done;
    }
    /* The file's own JSON goes out, so fields we do not know survive. */
    if (!(body = json_pack("{s:O}", "experiment_spec", spec))) {
        code = RK_CLI_EXIT_FAILURE;
        goto done;
    }
    if ((code = rk_cli_api(c, "POST", "/experiments", body, &ans, NULL)))
        goto done;
    const char *id = json_string_value(json_object_get(ans, "experiment_id"));
    size_t wi;
    json_t *w;
    json_array_foreach(json_object_get(ans, "warnings"), wi, w)
        rk_cli_errorf(c, "warning: %s", json_string_value(w));
    code = rk_cli_print_ok(c, ans, "created experiment %s (%s)\n", id ? id : x.id, x.name);
done:
    rk_experiment_cleanup(&x);
    rk_buf_cleanup(&text);
    json_decref(doc);
    json_decref(body);
    json_decref(ans);
    return code;
}

static int cmd_list(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    int code = rk_cli_parse(c, argc, argv, NULL, 0, 0, 0, "ruckus experiment list\n", &a);
    if (code)
        return code < 0 ? 0 : code;
    json_t *ans = NULL;
    if ((code = rk_cli_api(c, "GET", "/experiments", NULL, &ans, NULL)))
        return code;
    static const char *const hdr[] = {"EXPERIMENT", "NAME", "TASK TYPE", "MODEL", "CREATED"};
    rk_cli_table_t t;
    rk_cli_table_init(&t, 5, hdr);
    json_t *list;
    rk_verr_t e;
    if ((code = rk_cli_answer_array(c, ans, "experiments", &list)))
        goto done;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        rk_experiment_t x;
        char path[RK_PATH_MAX], when[RK_CLI_TIMESTR];
        rk_path_index(path, "experiments", i);
        if (rk_experiment_decode(v, path, &x, &e)) {
            rk_experiment_cleanup(&x);
            code = rk_cli_bad_answer(c, &e);
            goto done;
        }
        rk_cli_reltime(x.has_created_at ? x.created_at : 0, c->now, when);
        const char *row[] = {x.id, x.name, rk_task_type_name(x.task.type), x.model, when};
        int rc = rk_cli_table_add(&t, row);
        rk_experiment_cleanup(&x);
        if (rc) {
            code = RK_CLI_EXIT_FAILURE;
            goto done;
        }
    }
    code =
        rk_cli_print_table(c, ans, &t, "no experiments (see `ruckus experiment create --help`)\n");
done:
    rk_cli_table_cleanup(&t);
    json_decref(ans);
    return code;
}

static int cmd_show(rk_cli_t *c, int argc, char **argv)
{
    json_t *ans;
    int code = rk_cli_get_by_id(
        c, argc, argv,
        "ruckus experiment show ID\n\nExample:\n  ruckus experiment show exp_1a2b3c\n",
        "experiment", "/experiments", &ans);
    if (code || !ans)
        return code;
    rk_experiment_t x;
    rk_verr_t e;
    if (rk_experiment_decode(json_object_get(ans, "experiment"), "experiment", &x, &e)) {
        rk_experiment_cleanup(&x);
        json_decref(ans);
        return rk_cli_bad_answer(c, &e);
    }
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
    } else {
        rk_buf_t b;
        rk_buf_init(&b, SIZE_MAX);
        char when[RK_CLI_TIMESTR];
        rk_cli_kv(&b, "experiment", x.id);
        rk_cli_kv(&b, "name", x.name);
        rk_cli_kv(&b, "description", x.description);
        rk_cli_kv(&b, "model", x.model);
        rk_cli_kv(&b, "task", x.task.name);
        rk_cli_kv(&b, "task type", rk_task_type_name(x.task.type));
        rk_cli_kv(&b, "framework", x.framework.name);
        rk_cli_reltime(x.has_created_at ? x.created_at : 0, c->now, when);
        rk_cli_kv(&b, "created", when);
        char *params = json_dumps(x.task.params, JSON_COMPACT | JSON_SORT_KEYS);
        char *req = x.capability_requirements
                        ? json_dumps(x.capability_requirements, JSON_COMPACT | JSON_SORT_KEYS)
                        : NULL;
        rk_cli_kv(&b, "task params", params);
        rk_cli_kv(&b, "requirements", req);
        free(params);
        free(req);
        code = rk_cli_print_buf(c, &b);
        rk_buf_cleanup(&b);
    }
    rk_experiment_cleanup(&x);
    json_decref(ans);
    return code;
}

static int cmd_delete(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"cascade", 0, false}};
    rk_cli_args_t a;
    char path[160];
    int code =
        rk_cli_parse(c, argc, argv, opts, 1, 1, 1,
                     "ruckus experiment delete ID [--cascade]\n\n"
                     "Refused (exit 6) while jobs refer to it; --cascade deletes its finished\n"
                     "jobs and results too, and is refused only while one is unfinished.\n\n"
                     "Example:\n  ruckus experiment delete exp_1a2b3c --cascade\n",
                     &a);
    if (code || (code = rk_cli_id_path(c, "experiment", "/experiments", a.pos[0],
                                       a.val[0] ? "?cascade=true" : "", path, sizeof path)))
        return code < 0 ? 0 : code;
    json_t *ans = NULL;
    char *msg = NULL;
    if ((code = rk_cli_api_quiet(c, "DELETE", path, NULL, &ans, NULL, &msg))) {
        /* The server speaks API ("?cascade=true"); a CLI user types --cascade. */
        char *p = msg ? strstr(msg, "?cascade=true") : NULL;
        if (p) {
            *p = '\0';
            fprintf(c->err, "%s--cascade%s", msg, p + strlen("?cascade=true"));
        } else if (msg) {
            fputs(msg, c->err);
        }
        free(msg);
        json_decref(ans);
        return code;
    }
    free(msg);
    code = rk_cli_print_ok(c, ans, "deleted experiment %s\n", a.pos[0]);
    json_decref(ans);
    return code;
}

/* Appends the strings of arr joined by "; ". */
static void join(const json_t *arr, rk_buf_t *b)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            rk_buf_printf(b, "%s%s", b->len ? "; " : "", json_string_value(v));
    }
}

static int cmd_check(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, NULL, 0, 1, 1,
        "ruckus experiment check ID\n\nExample:\n  ruckus experiment check exp_1a2b3c\n", &a);
    if (code)
        return code < 0 ? 0 : code;
    if ((code = rk_cli_check_id(c, "experiment", a.pos[0])))
        return code;
    json_t *body = json_pack("{s:s}", "experiment_id", a.pos[0]);
    json_t *ans = NULL;
    code = body ? rk_cli_api(c, "POST", "/agents/compatibility/check", body, &ans, NULL)
                : RK_CLI_EXIT_FAILURE;
    json_decref(body);
    if (code)
        return code;
    static const char *const hdr[] = {"AGENT", "NAME", "CAN RUN", "MISSING", "WARNINGS"};
    rk_cli_table_t t;
    rk_buf_t miss, warn;
    rk_buf_init(&miss, 65536);
    rk_buf_init(&warn, 65536);
    rk_cli_table_init(&t, 5, hdr);
    json_t *list, *v;
    rk_verr_t e;
    size_t ok = 0, i;
    if ((code = rk_cli_answer_array(c, ans, "compatibility_results", &list)))
        goto done;
    json_array_foreach(list, i, v)
    {
        char path[RK_PATH_MAX];
        rk_path_index(path, "compatibility_results", i);
        const char *id = json_string_value(json_object_get(v, "agent_id"));
        json_t *can = json_object_get(v, "can_run");
        if (!id || !json_is_boolean(can)) {
            rk_verr_set(&e, path, "expected agent_id and can_run");
            code = rk_cli_bad_answer(c, &e);
            goto done;
        }
        rk_buf_reset(&miss);
        rk_buf_reset(&warn);
        join(json_object_get(v, "missing_requirements"), &miss);
        join(json_object_get(v, "warnings"), &warn);
        ok += json_is_true(can);
        const char *row[] = {id, json_string_value(json_object_get(v, "agent_name")),
                             json_is_true(can) ? "yes" : "no", miss.len ? rk_buf_str(&miss) : "-",
                             warn.len ? rk_buf_str(&warn) : "-"};
        if (rk_cli_table_add(&t, row)) {
            code = RK_CLI_EXIT_FAILURE;
            goto done;
        }
        rk_cli_table_color(&t, 2,
                           c->color ? (json_is_true(can) ? RK_CLI_GREEN : RK_CLI_RED) : NULL);
    }
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
    } else {
        const char *name = json_string_value(json_object_get(ans, "experiment_name"));
        fprintf(c->out, "%zu of %zu agents can run %s%s%s%s\n", ok, t.nrows, a.pos[0],
                name ? " (" : "", name ? name : "", name ? ")" : "");
        code = rk_cli_print_table(c, NULL, &t, "");
    }
done:
    rk_cli_table_cleanup(&t);
    rk_buf_cleanup(&miss);
    rk_buf_cleanup(&warn);
    json_decref(ans);
    return code;
}

/* Checks the jobs of a {jobs: [JobInfo]} answer and, unless --json, prints
 * them as a table. */
static int print_jobs(rk_cli_t *c, const json_t *ans)
{
    static const char *const hdr[] = {"JOB", "AGENT", "STATUS", "MESSAGE"};
    rk_cli_table_t t;
    rk_cli_table_init(&t, 4, hdr);
    rk_verr_t e;
    size_t i;
    json_t *jobs, *v;
    int code = rk_cli_answer_array(c, ans, "jobs", &jobs);
    if (code)
        goto done;
    json_array_foreach(jobs, i, v)
    {
        rk_job_info_t j;
        char path[RK_PATH_MAX];
        rk_path_index(path, "jobs", i);
        if (rk_job_info_decode(v, path, &j, &e)) {
            code = rk_cli_bad_answer(c, &e);
            goto done;
        }
        const char *row[] = {j.job_id, j.agent_id, rk_job_state_name(j.status.status),
                             j.status.message};
        int rc = rk_cli_table_add(&t, row);
        rk_cli_table_color(&t, 2, rk_cli_job_color(j.status.status, c->color));
        rk_job_info_cleanup(&j);
        if (rc) {
            code = RK_CLI_EXIT_FAILURE;
            goto done;
        }
    }
    code = rk_cli_print_table(c, NULL, &t, NULL);
done:
    rk_cli_table_cleanup(&t);
    return code;
}

/* --wait: follows every job of ans to its end (one after the other: they
 * run at the same time on their agents). 0 only when all completed. With
 * --json, prints {"jobs": [each final JobInfo]} at the end instead. */
static int wait_all(rk_cli_t *c, const json_t *ans)
{
    json_t *jobs = json_object_get(ans, "jobs"), *final = json_array();
    int worst = 0;
    size_t i;
    json_t *v;
    json_array_foreach(jobs, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "job_id"));
        if (!id)
            continue;
        FILE *out = c->out;
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = c->s.json ? open_memstream(&buf, &len) : NULL;
        if (mem)
            c->out = mem;
        int code = rk_cli_job_watch(c, id);
        c->out = out;
        if (mem)
            fclose(mem);
        free(buf);
        if (code && !worst)
            worst = code;
        if (c->s.json) {
            char path[160];
            json_t *j = NULL;
            snprintf(path, sizeof path, "/jobs/%s", id);
            if (rk_cli_api(c, "GET", path, NULL, &j, NULL) == 0)
                json_array_append_new(final, j);
            else
                json_decref(j);
        }
    }
    if (c->s.json) {
        json_t *o = json_pack("{s:o}", "jobs", final);
        int code = rk_cli_print_json(c, o);
        json_decref(o);
        if (code && !worst)
            worst = code;
    } else {
        json_decref(final);
    }
    return worst;
}

static int cmd_run(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {
        {"agents", 0, true}, {"wait", 'w', false}, {"after", 'a', true}, {"after-any", 0, false}};
    rk_cli_args_t a;
    char path[160];
    int code = rk_cli_parse(
        c, argc, argv, opts, 4, 1, 1,
        "ruckus experiment run ID [--agents A,B] [--after ID[,ID...] [--after-any]] [--wait]\n\n"
        "Without --agents, one job goes to every compatible registered agent\n"
        "(agents by id or name). --after: every job waits (queued) until those\n"
        "jobs ended, and is cancelled if one of them did not complete;\n"
        "--after-any: it runs once they ended, whatever their outcome. --wait\n"
        "follows every job to its end and exits 0 only if all completed (with\n"
        "--json: {\"jobs\": [final JobInfo]}).\n\n"
        "Examples:\n  ruckus experiment run exp_1a2b3c\n"
        "  ruckus experiment run exp_1a2b3c --agents worker1,worker2 --wait\n"
        "  ruckus experiment run exp_1a2b3c --after job_0badcafe\n",
        &a);
    if (code || (code = rk_cli_id_path(c, "experiment", "/experiments", a.pos[0], "/run", path,
                                       sizeof path)))
        return code < 0 ? 0 : code;
    json_t *body = json_object(), *ids = NULL, *ans = NULL;
    if (!body)
        return RK_CLI_EXIT_FAILURE;
    if ((code = rk_cli_set_after(c, a.val[2], a.val[3] != NULL, body))) {
        json_decref(body);
        return code;
    }
    if (a.val[0]) {
        ids = json_array();
        json_object_set_new(body, "agent_ids", ids);
        char *list = strdup(a.val[0]), *save = NULL;
        for (char *tok = list ? strtok_r(list, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
            char id[128];
            if ((code = rk_cli_agent_ref(c, tok, id, sizeof id)))
                break;
            json_array_append_new(ids, json_string(id));
        }
        free(list);
        if (!code && json_array_size(ids) == 0) {
            rk_cli_errorf(c, "--agents needs at least one agent id");
            code = RK_CLI_EXIT_USAGE;
        }
    }
    if (!code)
        code = rk_cli_api(c, "POST", path, body, &ans, NULL);
    if (!code && !(a.val[1] && c->s.json)) {
        code = print_jobs(c, ans);
        if (!code && c->s.json)
            code = rk_cli_print_json(c, ans);
    }
    if (!code && a.val[1])
        code = wait_all(c, ans);
    json_decref(body);
    json_decref(ans);
    return code;
}

int rk_cli_cmd_experiment(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_cmd_t cmds[] = {
        {"create", cmd_create}, {"list", cmd_list}, {"show", cmd_show}, {"delete", cmd_delete},
        {"check", cmd_check},   {"run", cmd_run},   {NULL, NULL}};
    return rk_cli_dispatch(c, "experiment", usage, cmds, argc, argv);
}
