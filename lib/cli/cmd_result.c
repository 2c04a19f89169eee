/* ruckus result show | list | export | compare */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/metrics.h"
#include "cli/report.h"
#include "cli/table.h"
#include "model/result.h"

/* Pages followed at most when reading every result (10000 per page). */
#define MAX_PAGES 1000

static const char usage[] =
    "ruckus result COMMAND\n\n"
    "  show JOB                                       one job's result and metrics\n"
    "  list [--experiment E] [--agent A]              results, newest first\n"
    "  export --format csv|json [--experiment E] [--agent A] [-o FILE]\n"
    "                                                 one row per job, metrics as columns\n"
    "  compare EXPERIMENT [--metric M[,M...]]         one row per agent: hardware and\n"
    "                                                 mean metrics side by side\n"
    "  compare A B [--metric M] [--min-delta F]       B against A with Welch's t-test:\n"
    "                                                 change, 95 % interval, p, verdict\n"
    "  compare EXPERIMENT --baseline SEL [--fail-on-regression]\n"
    "                                                 each agent's latest against SEL\n"
    "  history EXPERIMENT --metric M [--agent A] [--format table|csv]\n"
    "                                                 one metric over time, per agent\n\n"
    "Examples:\n"
    "  ruckus result show job_0badcafe\n"
    "  ruckus result export --format csv --experiment exp_1a2b3c -o results.csv\n"
    "  ruckus result compare exp_1a2b3c --metric mem_seq_read_64mb_gb_s\n"
    "  ruckus result compare job_0badcafe job_0c0ffee0\n"
    "  ruckus result compare exp_1a2b3c --baseline job_0badcafe --fail-on-regression\n";

/* Reads every result matching the filters (following next_cursor) into
 * *out, a new {"results": [...]} object. */
static int fetch_results(rk_cli_t *c, const char *exp, const char *agent, json_t **out)
{
    int code;
    *out = NULL;
    char agent_id[128];
    if ((exp && (code = rk_cli_check_id(c, "experiment", exp))) ||
        (agent && (code = rk_cli_agent_ref(c, agent, agent_id, sizeof agent_id))))
        return code;
    if (agent)
        agent = agent_id;
    json_t *all = json_array(), *ans = NULL;
    if (!all)
        return RK_CLI_EXIT_FAILURE;
    char *cursor = NULL;
    code = 0;
    for (int page = 0; page < MAX_PAGES && !code; page++) {
        rk_buf_t q;
        rk_buf_init(&q, 8192);
        rk_buf_adds(&q, "/results?limit=10000");
        if (exp)
            rk_buf_printf(&q, "&experiment_id=%s", exp);
        if (agent)
            rk_buf_printf(&q, "&agent_id=%s", agent);
        if (cursor) {
            rk_buf_adds(&q, "&cursor=");
            rk_cli_urlencode(cursor, &q);
        }
        code = rk_cli_api(c, "GET", rk_buf_str(&q), NULL, &ans, NULL);
        rk_buf_cleanup(&q);
        free(cursor);
        cursor = NULL;
        if (code)
            break;
        json_t *list;
        if (!(code = rk_cli_answer_array(c, ans, "results", &list)) && json_array_extend(all, list))
            code = RK_CLI_EXIT_FAILURE;
        const char *next = json_string_value(json_object_get(ans, "next_cursor"));
        if (!code && next && next[0] && json_array_size(list) > 0)
            cursor = strdup(next);
        json_decref(ans);
        ans = NULL;
        if (!cursor)
            break;
    }
    free(cursor);
    if (!code && !(*out = json_pack("{s:O}", "results", all)))
        code = RK_CLI_EXIT_FAILURE;
    json_decref(all);
    return code;
}

static int metrics_table(rk_cli_t *c, const rk_result_t *r, rk_buf_t *b)
{
    bool stats = r->n_stats > 0;
    static const char *const hdr[] = {"METRIC", "VALUE", "MEAN", "STD", "MIN", "MAX", "RUNS"};
    rk_cli_table_t t;
    rk_cli_table_init(&t, stats ? 7 : 2, hdr);
    for (size_t i = 1; i < 7; i++)
        t.right[i] = true;
    const char *k;
    json_t *v;
    rk_buf_t val;
    rk_buf_init(&val, 4096);
    int rc = 0;
    json_object_foreach(r->metrics, k, v)
    {
        rk_buf_reset(&val);
        rk_cli_value(v, &val);
        const rk_metric_stats_t *s = NULL;
        for (size_t i = 0; i < r->n_stats; i++)
            if (strcmp(r->stats[i].name, k) == 0)
                s = &r->stats[i];
        char f[5][32];
        const double nums[5] = {s ? s->mean : NAN, s ? s->std : NAN, s ? s->min : NAN,
                                s ? s->max : NAN, s ? (double)s->count : NAN};
        for (int i = 0; i < 5; i++) {
            json_t *x = json_real(nums[i]);
            rk_buf_t tmp;
            rk_buf_init(&tmp, 32);
            if (x)
                rk_cli_value(x, &tmp);
            snprintf(f[i], sizeof f[i], "%s", isnan(nums[i]) ? "-" : rk_buf_str(&tmp));
            rk_buf_cleanup(&tmp);
            json_decref(x);
        }
        const char *row[] = {k, rk_buf_str(&val), f[0], f[1], f[2], f[3], f[4]};
        if ((rc = rk_cli_table_add(&t, row)))
            break;
    }
    if (!rc && t.nrows)
        rc = rk_cli_table_render(&t, c->color, b);
    else if (!rc)
        rc = rk_buf_adds(b, "no metrics\n");
    rk_buf_cleanup(&val);
    rk_cli_table_cleanup(&t);
    return rc;
}

static int cmd_show(rk_cli_t *c, int argc, char **argv)
{
    json_t *ans;
    int code = rk_cli_get_by_id(
        c, argc, argv, "ruckus result show JOB\n\nExample:\n  ruckus result show job_0badcafe\n",
        "job", "/results", &ans);
    if (code || !ans)
        return code;
    rk_result_t r;
    rk_verr_t e;
    if (rk_result_decode(json_object_get(ans, "result"), "result", &r, &e)) {
        rk_result_cleanup(&r);
        json_decref(ans);
        return rk_cli_bad_answer(c, &e);
    }
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
    } else {
        rk_buf_t b;
        rk_buf_init(&b, SIZE_MAX);
        char ts[RK_TIME_STRLEN], dur[RK_CLI_TIMESTR], when[RK_CLI_TIMESTR];
        rk_cli_kv(&b, "job", r.job_id);
        rk_cli_kv(&b, "experiment", r.experiment_id);
        rk_cli_kv(&b, "agent", r.agent_id);
        rk_cli_kv(&b, "status", rk_job_state_name(r.status));
        rk_time_format(r.started_at, ts);
        rk_cli_kv(&b, "started", ts);
        rk_cli_reltime(r.completed_at, c->now, when);
        rk_cli_kv(&b, "completed", when);
        rk_cli_duration(r.duration_seconds, dur);
        rk_cli_kv(&b, "duration", dur);
        if (r.model_actual)
            rk_cli_kv(&b, "model", r.model_actual);
        if (r.framework_version)
            rk_cli_kv(&b, "framework", r.framework_version);
        if (r.has_runs) {
            snprintf(ts, sizeof ts, "%zu (first is the cold start)", r.n_runs);
            rk_cli_kv(&b, "runs", ts);
        }
        if (r.error)
            rk_cli_kv(&b, "error", r.error);
        rk_buf_adds(&b, "hardware:       ");
        rk_cli_hw_summary(r.hardware_info, &b);
        rk_buf_adds(&b, "\n\n");
        if (metrics_table(c, &r, &b) || rk_cli_print_buf(c, &b))
            code = RK_CLI_EXIT_FAILURE;
        rk_buf_cleanup(&b);
    }
    rk_result_cleanup(&r);
    json_decref(ans);
    return code;
}

static int cmd_list(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"experiment", 'e', true}, {"agent", 'a', true}};
    rk_cli_args_t a;
    int code = rk_cli_parse(c, argc, argv, opts, 2, 0, 0,
                            "ruckus result list [--experiment E] [--agent A]\n\n"
                            "Example:\n  ruckus result list --experiment exp_1a2b3c\n",
                            &a);
    if (code)
        return code < 0 ? 0 : code;
    json_t *ans = NULL;
    if ((code = fetch_results(c, a.val[0], a.val[1], &ans)))
        return code;
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
        json_decref(ans);
        return code;
    }
    static const char *const hdr[] = {"JOB",      "EXPERIMENT", "AGENT",  "STATUS",
                                      "DURATION", "COMPLETED",  "METRICS"};
    rk_cli_table_t t;
    rk_cli_table_init(&t, 7, hdr);
    t.right[4] = t.right[6] = true;
    json_t *list = json_object_get(ans, "results");
    for (size_t i = 0; i < json_array_size(list); i++) {
        rk_result_t r;
        rk_verr_t e;
        char path[RK_PATH_MAX], dur[RK_CLI_TIMESTR], when[RK_CLI_TIMESTR], nm[24];
        rk_path_index(path, "results", i);
        if (rk_result_decode(json_array_get(list, i), path, &r, &e)) {
            rk_result_cleanup(&r);
            code = rk_cli_bad_answer(c, &e);
            break;
        }
        rk_cli_duration(r.duration_seconds, dur);
        rk_cli_reltime(r.completed_at, c->now, when);
        snprintf(nm, sizeof nm, "%zu", json_object_size(r.metrics));
        const char *row[] = {
            r.job_id, r.experiment_id, r.agent_id, rk_job_state_name(r.status), dur, when, nm};
        int rc = rk_cli_table_add(&t, row);
        rk_cli_table_color(&t, 3, rk_cli_job_color(r.status, c->color));
        rk_result_cleanup(&r);
        if (rc) {
            code = RK_CLI_EXIT_FAILURE;
            break;
        }
    }
    if (!code)
        code = rk_cli_print_table(c, NULL, &t, "no results\n");
    rk_cli_table_cleanup(&t);
    json_decref(ans);
    return code;
}

static int write_out(rk_cli_t *c, const char *file, const rk_buf_t *b)
{
    if (!file)
        return rk_cli_print_buf(c, b);
    FILE *f = fopen(file, "wb");
    bool ok = f && (b->len == 0 || fwrite(b->data, 1, b->len, f) == b->len);
    if (f && fclose(f))
        ok = false;
    if (!ok) {
        rk_cli_errorf(c, "cannot write %s: %s", file, strerror(errno));
        return RK_CLI_EXIT_FAILURE;
    }
    return 0;
}

static int cmd_export(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"format", 'f', true},
                                        {"experiment", 'e', true},
                                        {"agent", 'a', true},
                                        {"output", 'o', true}};
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, opts, 4, 0, 0,
        "ruckus result export --format csv|json [--experiment E] [--agent A] [-o FILE]\n\n"
        "One row per job: job_id, experiment_id, agent_id, status, started_at,\n"
        "completed_at, duration_seconds, error, then one column per metric.\n"
        "json writes the same rows as an array of objects.\n\n"
        "Example:\n  ruckus result export --format csv --experiment exp_1a2b3c -o results.csv\n",
        &a);
    if (code)
        return code < 0 ? 0 : code;
    const char *fmt = a.val[0] ? a.val[0] : "csv";
    if (strcmp(fmt, "csv") != 0 && strcmp(fmt, "json") != 0) {
        rk_cli_errorf(c, "--format: expected csv or json");
        return RK_CLI_EXIT_USAGE;
    }
    json_t *ans = NULL, *rows = NULL, *cols = NULL;
    rk_buf_t b;
    rk_buf_init(&b, SIZE_MAX);
    rk_verr_t e;
    if ((code = fetch_results(c, a.val[1], a.val[2], &ans)))
        goto done;
    if (rk_cli_export_rows(json_object_get(ans, "results"), &rows, &cols, &e)) {
        code = rk_cli_bad_answer(c, &e);
        goto done;
    }
    if (strcmp(fmt, "csv") == 0) {
        if (rk_cli_export_csv(rows, cols, &b))
            code = RK_CLI_EXIT_FAILURE;
    } else {
        char *t = json_dumps(rows, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!t || rk_buf_adds(&b, t) || rk_buf_adds(&b, "\n"))
            code = RK_CLI_EXIT_FAILURE;
        free(t);
    }
    if (!code)
        code = write_out(c, a.val[3], &b);
    if (!code && a.val[3])
        fprintf(c->err, "wrote %zu rows to %s\n", json_array_size(rows), a.val[3]);
done:
    rk_buf_cleanup(&b);
    json_decref(ans);
    json_decref(rows);
    json_decref(cols);
    return code;
}

static int cmd_compare(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"metric", 'm', true},
                                        {"baseline", 'b', true},
                                        {"min-delta", 0, true},
                                        {"fail-on-regression", 0, false},
                                        {"all", 0, false}};
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, opts, 5, 1, 2,
        "ruckus result compare EXPERIMENT [--metric M[,M...]] [--all]\n"
        "ruckus result compare A B [--metric M[,M...]] [--min-delta F] [--fail-on-regression]\n"
        "ruckus result compare EXPERIMENT --baseline SEL [--metric M[,M...]] [--min-delta F]\n"
        "                      [--fail-on-regression]\n\n"
        "With one EXPERIMENT: one column per agent that completed it (by name), one row\n"
        "per metric with its unit: the mean over the agent's completed jobs, under its\n"
        "hardware and job count. The spec's declared metrics come first (or --metric's,\n"
        "in that order); checksums and bookkeeping (exit_status, blas_threads) only\n"
        "with --all or when named.\n\n"
        "With two selectors, or an experiment and --baseline: the server compares them\n"
        "metric by metric (GET /compare): the change with its 95 % confidence interval,\n"
        "Welch's t-test p-value, the runs on each side, and a verdict: faster or slower\n"
        "(p < 0.05 and a change over --min-delta, default 0.02 = 2 %, in the metric's\n"
        "better direction), same, or inconclusive (fewer than 2 runs on a side). A\n"
        "selector is a job id, EXPERIMENT:AGENT (its latest completed result) or\n"
        "EXPERIMENT:AGENT:N (its last N, pooled). --baseline compares every agent's\n"
        "latest result of EXPERIMENT with SEL.\n\n"
        "--fail-on-regression exits 7 when any metric is slower (for CI pipelines).\n\n"
        "Examples:\n"
        "  ruckus result compare exp_1a2b3c --metric wall_time_s,max_rss_kib\n"
        "  ruckus result compare job_0badcafe job_0c0ffee0 --metric wall_time_s\n"
        "  ruckus result compare exp_1a2b3c:pi-4 exp_1a2b3c:gpu-1:5\n"
        "  ruckus result compare exp_1a2b3c --baseline job_0badcafe --fail-on-regression\n",
        &a);
    if (code)
        return code < 0 ? 0 : code;
    if (a.npos == 2 && a.val[1]) {
        rk_cli_errorf(c, "give two selectors or one experiment with --baseline, not both");
        return RK_CLI_EXIT_USAGE;
    }
    if (a.npos == 2 || a.val[1])
        return rk_cli_compare_stats(c, &a, a.val[0], a.val[1], a.val[2], a.val[3] != NULL);
    if (a.val[2] || a.val[3]) {
        rk_cli_errorf(c, "--min-delta and --fail-on-regression need two selectors or --baseline");
        return RK_CLI_EXIT_USAGE;
    }
    json_t *res = NULL, *agents = NULL, *cmp = NULL, *exp = NULL, *order = NULL;
    rk_cli_table_t t;
    memset(&t, 0, sizeof t);
    rk_verr_t e;
    if ((code = fetch_results(c, a.pos[0], NULL, &res)) ||
        (code = rk_cli_api(c, "GET", "/agents", NULL, &agents, NULL)))
        goto done;
    /* The spec says which metrics matter; a deleted experiment still
     * compares, in name order. */
    rk_buf_t path;
    rk_buf_init(&path, 512);
    rk_buf_printf(&path, "/experiments/%s", a.pos[0]);
    if (rk_cli_api_quiet(c, "GET", rk_buf_str(&path), NULL, &exp, NULL, NULL)) {
        json_decref(exp);
        exp = NULL;
    }
    rk_buf_cleanup(&path);
    if (rk_cli_compare(json_object_get(res, "results"), json_object_get(agents, "agents"), a.val[0],
                       &cmp, &e)) {
        code = rk_cli_bad_answer(c, &e);
        goto done;
    }
    const json_t *spec_metrics =
        json_object_get(json_object_get(json_object_get(exp, "experiment"), "metrics"), "metrics");
    order = rk_cli_metric_order(json_object_get(cmp, "metrics"), a.val[0], spec_metrics,
                                a.val[4] != NULL);
    if (!order) {
        code = RK_CLI_EXIT_FAILURE;
        goto done;
    }
    json_object_set(cmp, "metrics", order);
    json_t *units = json_object();
    size_t k;
    json_t *mv;
    json_array_foreach(order, k, mv) json_object_set_new(
        units, json_string_value(mv), json_string(rk_cli_metric_unit(json_string_value(mv))));
    json_object_set_new(cmp, "units", units);
    if (c->s.json) {
        json_object_set_new(cmp, "experiment_id", json_string(a.pos[0]));
        code = rk_cli_print_json(c, cmp);
        goto done;
    }
    json_t *rows = json_object_get(cmp, "agents");
    if (json_array_size(rows) == 0) {
        fprintf(c->out, "no completed results for %s\n", a.pos[0]);
        goto done;
    }
    /* Metrics as rows, machines as columns (by name when it is unique). */
    size_t na = json_array_size(rows);
    if (na > RK_CLI_TABLE_MAX_COLS - 2)
        na = RK_CLI_TABLE_MAX_COLS - 2;
    const char *hdr[RK_CLI_TABLE_MAX_COLS] = {"METRIC", "UNIT"};
    for (size_t i = 0; i < na; i++) {
        const char *id = json_string_value(json_object_get(json_array_get(rows, i), "agent_id"));
        const char *name = NULL;
        size_t same = 0, j;
        json_t *ag;
        json_array_foreach(json_object_get(agents, "agents"), j, ag)
        {
            const char *n = json_string_value(json_object_get(ag, "agent_name"));
            if (!strcmp(json_string_value(json_object_get(ag, "agent_id")), id))
                name = n;
        }
        json_array_foreach(json_object_get(agents, "agents"), j, ag)
        {
            const char *n = json_string_value(json_object_get(ag, "agent_name"));
            same += name && n && !strcmp(n, name);
        }
        hdr[2 + i] = name && same == 1 ? name : id;
    }
    rk_cli_table_init(&t, 2 + na, hdr);
    for (size_t i = 2; i < 2 + na; i++)
        t.right[i] = true;
    const char *cell[RK_CLI_TABLE_MAX_COLS];
    rk_buf_t cells[RK_CLI_TABLE_MAX_COLS];
    char jobs[RK_CLI_TABLE_MAX_COLS][24];
    cell[0] = "hardware";
    cell[1] = "";
    for (size_t i = 0; i < na; i++)
        cell[2 + i] = json_string_value(json_object_get(json_array_get(rows, i), "hardware"));
    if (rk_cli_table_add(&t, cell)) {
        code = RK_CLI_EXIT_FAILURE;
        goto done;
    }
    cell[0] = "jobs";
    for (size_t i = 0; i < na; i++) {
        snprintf(jobs[i], sizeof jobs[i], "%lld",
                 (long long)json_integer_value(json_object_get(json_array_get(rows, i), "jobs")));
        cell[2 + i] = jobs[i];
    }
    if (rk_cli_table_add(&t, cell)) {
        code = RK_CLI_EXIT_FAILURE;
        goto done;
    }
    json_array_foreach(order, k, mv)
    {
        const char *name = json_string_value(mv);
        cell[0] = name;
        cell[1] = rk_cli_metric_unit(name);
        for (size_t i = 0; i < na; i++) {
            rk_buf_init(&cells[i], 64);
            json_t *v = json_object_get(json_object_get(json_array_get(rows, i), "metrics"), name);
            if (v)
                rk_cli_value(v, &cells[i]);
            else
                rk_buf_adds(&cells[i], "-");
            cell[2 + i] = rk_buf_str(&cells[i]);
        }
        int rc = rk_cli_table_add(&t, cell);
        for (size_t i = 0; i < na; i++)
            rk_buf_cleanup(&cells[i]);
        if (rc) {
            code = RK_CLI_EXIT_FAILURE;
            goto done;
        }
    }
    fprintf(c->out, "%s: %zu agents, mean of completed jobs\n", a.pos[0], json_array_size(rows));
    code = rk_cli_print_table(c, NULL, &t, NULL);
done:
    rk_cli_table_cleanup(&t);
    json_decref(res);
    json_decref(agents);
    json_decref(cmp);
    json_decref(exp);
    json_decref(order);
    return code;
}

int rk_cli_cmd_result(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_cmd_t cmds[] = {{"show", cmd_show},          {"list", cmd_list},
                                        {"export", cmd_export},      {"compare", cmd_compare},
                                        {"history", rk_cli_history}, {NULL, NULL}};
    return rk_cli_dispatch(c, "result", usage, cmds, argc, argv);
}
