/* ruckus result compare with statistics: two selectors side by side, or
 * every agent's latest result of an experiment against a baseline, through
 * GET /compare (Welch's t-test on the server). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/report.h"
#include "cli/table.h"

static const char *verdict_color(const char *v, bool color)
{
    if (!color || !v)
        return NULL;
    if (!strcmp(v, "faster"))
        return RK_CLI_GREEN;
    if (!strcmp(v, "slower"))
        return RK_CLI_RED;
    if (!strcmp(v, "inconclusive"))
        return RK_CLI_YELLOW;
    return NULL;
}

static void fmt_num(const json_t *v, char *out, size_t n)
{
    if (json_is_number(v))
        snprintf(out, n, "%.4g", json_number_value(v));
    else
        snprintf(out, n, "-");
}

/* "+10.2 % [+8.9, +11.5]" from the comparison of one metric. */
static void fmt_change(const json_t *m, char *out, size_t n)
{
    double a = json_number_value(json_object_get(m, "a_mean"));
    json_t *d = json_object_get(m, "diff"), *lo = json_object_get(m, "ci95_low"),
           *hi = json_object_get(m, "ci95_high");
    if (!json_is_number(d) || a == 0) {
        snprintf(out, n, "-");
        return;
    }
    double pct = 100 * json_number_value(d) / fabs(a);
    if (json_is_number(lo) && json_is_number(hi))
        snprintf(out, n, "%+.1f %% [%+.1f, %+.1f]", pct, 100 * json_number_value(lo) / fabs(a),
                 100 * json_number_value(hi) / fabs(a));
    else
        snprintf(out, n, "%+.1f %%", pct);
}

/* GET /compare for a and b into *out (new reference), the answer's status
 * in *status. quiet: print nothing; a failure's message goes to *msg
 * (malloc'd, may be NULL) for the caller to say or not. */
static int fetch(rk_cli_t *c, const char *a, const char *b, const char *metric,
                 const char *min_delta, bool quiet, json_t **out, long *status, char **msg)
{
    rk_buf_t q;
    rk_buf_init(&q, 8192);
    rk_buf_adds(&q, "/compare?a=");
    rk_cli_urlencode(a, &q);
    rk_buf_adds(&q, "&b=");
    rk_cli_urlencode(b, &q);
    if (metric) {
        rk_buf_adds(&q, "&metric=");
        rk_cli_urlencode(metric, &q);
    }
    if (min_delta) {
        rk_buf_adds(&q, "&min_delta=");
        rk_cli_urlencode(min_delta, &q);
    }
    int code = quiet ? rk_cli_api_quiet(c, "GET", rk_buf_str(&q), NULL, out, status, msg)
                     : rk_cli_api(c, "GET", rk_buf_str(&q), NULL, out, status);
    rk_buf_cleanup(&q);
    return code;
}

/* Adds one row per metric of cmp (label in the first column, may be NULL
 * for none); counts slower verdicts into *slower. */
static int add_rows(rk_cli_t *c, rk_cli_table_t *t, const char *label, const json_t *cmp,
                    int *slower)
{
    const char *name;
    json_t *m;
    json_object_foreach(json_object_get(cmp, "metrics"), name, m)
    {
        char am[32], bm[32], change[64], p[32], n[32];
        fmt_num(json_object_get(m, "a_mean"), am, sizeof am);
        fmt_num(json_object_get(m, "b_mean"), bm, sizeof bm);
        fmt_change(m, change, sizeof change);
        fmt_num(json_object_get(m, "p_value"), p, sizeof p);
        snprintf(n, sizeof n, "%lld/%lld", (long long)json_integer_value(json_object_get(m, "a_n")),
                 (long long)json_integer_value(json_object_get(m, "b_n")));
        const char *v = json_string_value(json_object_get(m, "verdict"));
        if (v && !strcmp(v, "slower"))
            (*slower)++;
        const char *row[8] = {name, am, bm, change, p, n, v ? v : "-"};
        const char *const *cells = row;
        const char *lrow[8];
        if (label) {
            lrow[0] = label;
            memcpy(lrow + 1, row, 7 * sizeof *row);
            cells = lrow;
        }
        if (rk_cli_table_add(t, cells))
            return RK_CLI_EXIT_FAILURE;
        rk_cli_table_color(t, label ? 7 : 6, verdict_color(v, c->color));
    }
    return 0;
}

int rk_cli_compare_stats(rk_cli_t *c, const rk_cli_args_t *a, const char *metric,
                         const char *baseline, const char *min_delta, bool fail_on_regression)
{
    json_t *agents = NULL, *all = json_array();
    rk_cli_table_t t;
    memset(&t, 0, sizeof t);
    int code = 0, slower = 0;
    static const char *const hdr2[] = {"METRIC", "A",    "B",      "CHANGE [95 % CI]",
                                       "P",      "RUNS", "VERDICT"};
    static const char *const hdrb[] = {"AGENT", "METRIC", "BASELINE", "THIS", "CHANGE [95 % CI]",
                                       "P",     "RUNS",   "VERDICT"};
    if (!baseline) {
        /* compare A B */
        json_t *cmp = NULL;
        if ((code = fetch(c, a->pos[0], a->pos[1], metric, min_delta, false, &cmp, NULL, NULL)))
            goto done;
        json_array_append_new(all, cmp);
        if (!c->s.json) {
            rk_cli_table_init(&t, 7, hdr2);
            for (size_t i = 1; i < 6; i++)
                t.right[i] = true;
            if ((code = add_rows(c, &t, NULL, cmp, &slower)))
                goto done;
            fprintf(c->out, "B (%s) against A (%s):\n", a->pos[1], a->pos[0]);
        }
    } else {
        /* compare EXPERIMENT --baseline SEL: each agent's latest result */
        const char *exp = a->pos[0];
        if ((code = rk_cli_check_id(c, "experiment", exp)) ||
            (code = rk_cli_api(c, "GET", "/agents", NULL, &agents, NULL)))
            goto done;
        if (!c->s.json) {
            rk_cli_table_init(&t, 8, hdrb);
            for (size_t i = 2; i < 7; i++)
                t.right[i] = true;
        }
        size_t i;
        json_t *ag;
        json_array_foreach(json_object_get(agents, "agents"), i, ag)
        {
            const char *id = json_string_value(json_object_get(ag, "agent_id"));
            if (!id)
                continue;
            char sel[256];
            snprintf(sel, sizeof sel, "%s:%s", exp, id);
            json_t *cmp = NULL;
            long st = 0;
            /* An agent without a result of it answers 404: skipped quietly;
             * any other failure's message is passed on. */
            char *msg = NULL;
            code = fetch(c, baseline, sel, metric, min_delta, true, &cmp, &st, &msg);
            if (code && st != 404 && msg)
                fputs(msg, c->err);
            free(msg);
            if (code && st == 404) {
                code = 0;
                continue;
            }
            if (code)
                goto done;
            json_object_set_new(cmp, "agent_id", json_string(id));
            json_array_append_new(all, cmp);
            if (!c->s.json && (code = add_rows(c, &t, id, cmp, &slower)))
                goto done;
        }
        if (json_array_size(all) == 0) {
            fprintf(c->err, "ruckus: no agent has a completed result of %s\n", exp);
            code = RK_CLI_EXIT_NOT_FOUND;
            goto done;
        }
        if (!c->s.json)
            fprintf(c->out, "%s: each agent's latest result against %s:\n", exp, baseline);
    }
    if (c->s.json) {
        size_t i;
        json_t *cmp;
        json_array_foreach(all, i, cmp)
        {
            const char *name;
            json_t *m;
            json_object_foreach(json_object_get(cmp, "metrics"), name, m)
            {
                const char *v = json_string_value(json_object_get(m, "verdict"));
                if (v && !strcmp(v, "slower"))
                    slower++;
            }
        }
        json_t *out =
            baseline ? json_pack("{s:O}", "comparisons", all) : json_incref(json_array_get(all, 0));
        code = rk_cli_print_json(c, out);
        json_decref(out);
    } else {
        code = rk_cli_print_table(c, NULL, &t, NULL);
        fprintf(c->out, "faster/slower: p < 0.05 and a change over %s; RUNS: values on each side\n",
                min_delta ? min_delta : "0.02 (2 %)");
    }
    if (!code && fail_on_regression && slower) {
        fprintf(c->err, "ruckus: %d metric%s slower than the baseline\n", slower,
                slower == 1 ? "" : "s");
        code = RK_CLI_EXIT_REGRESSION;
    }
done:
    rk_cli_table_cleanup(&t);
    json_decref(agents);
    json_decref(all);
    return code;
}

/* ruckus result history EXPERIMENT --metric M [--agent A] [--since T]
 * [--format table|csv]: GET /results/history as a table (one row per
 * point, agents one after the other) or CSV. */
int rk_cli_history(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {
        {"metric", 'm', true}, {"agent", 'a', true}, {"since", 0, true}, {"format", 'f', true}};
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, opts, 4, 1, 1,
        "ruckus result history EXPERIMENT --metric M [--agent ID|NAME] [--since TIME]\n"
        "                      [--format table|csv]\n\n"
        "One metric of an experiment over time, per agent, oldest first: each completed\n"
        "job's mean, std and runs, and its verdict against the agent's baseline when one\n"
        "is pinned (POST /baselines). --since takes an RFC 3339 time.\n\n"
        "Examples:\n  ruckus result history exp_1a2b3c --metric wall_time_s\n"
        "  ruckus result history exp_1a2b3c --metric wall_time_s --format csv > history.csv\n",
        &a);
    if (code)
        return code < 0 ? 0 : code;
    if (!a.val[0]) {
        rk_cli_errorf(c, "--metric is required");
        return RK_CLI_EXIT_USAGE;
    }
    bool csv = a.val[3] && !strcmp(a.val[3], "csv");
    if (a.val[3] && !csv && strcmp(a.val[3], "table") != 0) {
        rk_cli_errorf(c, "--format: expected table or csv");
        return RK_CLI_EXIT_USAGE;
    }
    char agent[128];
    if ((code = rk_cli_check_id(c, "experiment", a.pos[0])) ||
        (a.val[1] && (code = rk_cli_agent_ref(c, a.val[1], agent, sizeof agent))))
        return code;
    rk_buf_t q;
    rk_buf_init(&q, 8192);
    rk_buf_printf(&q, "/results/history?experiment_id=%s&metric=", a.pos[0]);
    rk_cli_urlencode(a.val[0], &q);
    if (a.val[1])
        rk_buf_printf(&q, "&agent_id=%s", agent);
    if (a.val[2]) {
        rk_buf_adds(&q, "&since=");
        rk_cli_urlencode(a.val[2], &q);
    }
    json_t *ans = NULL;
    code = rk_cli_api(c, "GET", rk_buf_str(&q), NULL, &ans, NULL);
    rk_buf_cleanup(&q);
    if (code) {
        json_decref(ans);
        return code;
    }
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
        json_decref(ans);
        return code;
    }
    static const char *const hdr[] = {"AGENT", "JOB",  "COMPLETED", "MEAN",
                                      "STD",   "RUNS", "VERDICT"};
    rk_cli_table_t t;
    rk_cli_table_init(&t, 7, hdr);
    for (size_t i = 3; i < 6; i++)
        t.right[i] = true;
    rk_buf_t out;
    rk_buf_init(&out, SIZE_MAX);
    if (csv)
        rk_buf_adds(&out, "agent_id,job_id,completed_at,mean,std,n,verdict,baseline\n");
    size_t i, k;
    json_t *s, *p;
    json_array_foreach(json_object_get(ans, "series"), i, s)
    {
        const char *ag = json_string_value(json_object_get(s, "agent_id"));
        const char *base = json_string_value(json_object_get(s, "baseline_job_id"));
        json_array_foreach(json_object_get(s, "points"), k, p)
        {
            const char *job = json_string_value(json_object_get(p, "job_id"));
            const char *when = json_string_value(json_object_get(p, "completed_at"));
            const char *v = json_string_value(json_object_get(p, "verdict"));
            bool is_base = base && job && !strcmp(base, job);
            char mean[40], sd[40], n[24];
            snprintf(mean, sizeof mean, "%.6g", json_number_value(json_object_get(p, "mean")));
            snprintf(sd, sizeof sd, "%.3g", json_number_value(json_object_get(p, "std")));
            snprintf(n, sizeof n, "%lld", (long long)json_integer_value(json_object_get(p, "n")));
            if (csv) {
                rk_buf_printf(&out, "%s,%s,%s,%s,%s,%s,%s,%s\n", ag, job, when, mean, sd, n,
                              v ? v : "", is_base ? "1" : "0");
                continue;
            }
            const char *row[] = {ag, job, when, mean, sd, n, is_base ? "baseline" : v ? v : "-"};
            rk_cli_table_add(&t, row);
            rk_cli_table_color(&t, 6, verdict_color(v, c->color));
        }
    }
    if (csv)
        code = rk_cli_print_buf(c, &out);
    else
        code = rk_cli_print_table(c, NULL, &t, "no completed results with that metric\n");
    rk_buf_cleanup(&out);
    rk_cli_table_cleanup(&t);
    json_decref(ans);
    return code;
}
