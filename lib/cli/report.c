#include "cli/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/format.h"
#include "model/result.h"

static int sort_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the keys of set (an object used as a set) to arr, sorted. */
static int sorted_keys(const json_t *set, json_t *arr)
{
    size_t n = json_object_size(set), i = 0;
    const char **names = n ? malloc(n * sizeof *names) : NULL;
    if (n && !names)
        return RK_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)set, k, v) names[i++] = k;
    qsort(names, n, sizeof *names, sort_names);
    int rc = 0;
    for (i = 0; i < n && !rc; i++)
        rc = json_array_append_new(arr, json_string(names[i])) ? RK_ENOMEM : 0;
    free(names);
    return rc;
}

static int decode_at(const json_t *results, size_t i, rk_result_t *r, rk_verr_t *e)
{
    char path[RK_PATH_MAX];
    rk_path_index(path, "results", i);
    return rk_result_decode(json_array_get(results, i), path, r, e);
}

static json_t *time_str(rk_time_t t)
{
    char ts[RK_TIME_STRLEN];
    rk_time_format(t, ts);
    return json_string(ts);
}

int rk_cli_export_rows(const json_t *results, json_t **out, json_t **columns, rk_verr_t *e)
{
    static const char *const fixed[] = {RK_CLI_EXPORT_FIXED};
    *out = NULL;
    if (columns)
        *columns = NULL;
    if (!json_is_array(results))
        return rk_verr_set(e, "results", "expected an array");
    json_t *rows = json_array(), *names = json_object(), *cols = json_array();
    int rc = rows && names && cols ? 0 : RK_ENOMEM;
    for (size_t i = 0; i < json_array_size(results) && !rc; i++) {
        rk_result_t r;
        if ((rc = decode_at(results, i, &r, e))) {
            rk_result_cleanup(&r);
            break;
        }
        json_t *row = json_pack("{s:s, s:s, s:s?, s:s, s:o, s:o, s:f, s:s?}", "job_id", r.job_id,
                                "experiment_id", r.experiment_id, "agent_id", r.agent_id, "status",
                                rk_job_state_name(r.status), "started_at", time_str(r.started_at),
                                "completed_at", time_str(r.completed_at), "duration_seconds",
                                r.duration_seconds, "error", r.error);
        const char *k;
        json_t *v;
        if (!row)
            rc = RK_ENOMEM;
        json_object_foreach(r.metrics, k, v)
        {
            if (rc)
                break;
            /* A metric named like a fixed column would overwrite it. */
            bool clash = false;
            for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++)
                clash |= strcmp(k, fixed[f]) == 0;
            if (!clash && (json_object_set(row, k, v) || json_object_set(names, k, json_true())))
                rc = RK_ENOMEM;
        }
        if (!rc && json_array_append(rows, row))
            rc = RK_ENOMEM;
        json_decref(row);
        rk_result_cleanup(&r);
    }
    for (size_t f = 0; f < sizeof fixed / sizeof fixed[0] && !rc; f++)
        rc = json_array_append_new(cols, json_string(fixed[f])) ? RK_ENOMEM : 0;
    if (!rc)
        rc = sorted_keys(names, cols);
    json_decref(names);
    if (rc) {
        json_decref(rows);
        json_decref(cols);
        return rc;
    }
    *out = rows;
    if (columns)
        *columns = cols;
    else
        json_decref(cols);
    return 0;
}

/* The shortest text that reads back as exactly d ("2.5", "134772"), so a
 * spreadsheet sees the value the agent measured, unrounded. */
static int csv_number(double d, rk_buf_t *out)
{
    char t[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, d);
        if (strtod(t, NULL) == d)
            break;
    }
    return rk_buf_adds(out, t);
}

int rk_cli_export_csv(const json_t *rows, const json_t *columns, rk_buf_t *out)
{
    int rc = 0;
    size_t i, c;
    json_t *col, *row;
    json_array_foreach(columns, c, col)
    {
        if (!rc && c)
            rc = rk_buf_adds(out, ",");
        if (!rc)
            rc = rk_cli_csv_field(json_string_value(col), out);
    }
    if (!rc)
        rc = rk_buf_adds(out, "\n");
    rk_buf_t cell;
    rk_buf_init(&cell, 1u << 20);
    json_array_foreach(rows, i, row)
    {
        json_array_foreach(columns, c, col)
        {
            json_t *v = json_object_get(row, json_string_value(col));
            rk_buf_reset(&cell);
            if (!rc && c)
                rc = rk_buf_adds(out, ",");
            /* Numbers exactly as JSON writes them, so nothing is rounded. */
            if (!rc && json_is_number(v))
                rc = csv_number(json_number_value(v), &cell);
            else if (!rc && json_is_string(v)) {
                rc = rk_buf_adds(&cell, json_string_value(v));
            }
            if (!rc)
                rc = rk_cli_csv_field(rk_buf_str(&cell), out);
        }
        if (!rc)
            rc = rk_buf_adds(out, "\n");
        if (rc)
            break;
    }
    rk_buf_cleanup(&cell);
    return rc;
}

static bool wanted(const char *filter, const char *name)
{
    if (!filter)
        return true;
    size_t n = strlen(name);
    for (const char *p = filter; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static const json_t *agent_sysinfo(const json_t *agents, const char *id)
{
    size_t i;
    json_t *a;
    json_array_foreach(agents, i, a)
    {
        const char *aid = json_string_value(json_object_get(a, "agent_id"));
        if (aid && strcmp(aid, id) == 0)
            return json_object_get(a, "system_info");
    }
    return NULL;
}

/* Per agent while summing: {"jobs": n, "sum": {m: total}, "n": {m: count},
 * "hw": hardware_info of the latest result}. */
static int accumulate(json_t *acc, const rk_result_t *r, const char *filter, json_t *names)
{
    json_t *ag = json_object_get(acc, r->agent_id);
    if (!ag) {
        ag = json_pack("{s:i, s:{}, s:{}}", "jobs", 0, "sum", "n");
        if (!ag || json_object_set_new(acc, r->agent_id, ag))
            return RK_ENOMEM;
    }
    json_t *sum = json_object_get(ag, "sum"), *cnt = json_object_get(ag, "n");
    json_object_set_new(ag, "jobs",
                        json_integer(json_integer_value(json_object_get(ag, "jobs")) + 1));
    if (json_object_set(ag, "hw", r->hardware_info))
        return RK_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(r->metrics, k, v)
    {
        if (!json_is_number(v) || !wanted(filter, k))
            continue;
        double s = json_number_value(json_object_get(sum, k)) + json_number_value(v);
        json_int_t n = json_integer_value(json_object_get(cnt, k)) + 1;
        if (json_object_set_new(sum, k, json_real(s)) ||
            json_object_set_new(cnt, k, json_integer(n)) || json_object_set(names, k, json_true()))
            return RK_ENOMEM;
    }
    return 0;
}

int rk_cli_compare(const json_t *results, const json_t *agents, const char *filter, json_t **out,
                   rk_verr_t *e)
{
    *out = NULL;
    if (!json_is_array(results))
        return rk_verr_set(e, "results", "expected an array");
    json_t *acc = json_object(), *names = json_object(), *res = json_object();
    json_t *metric_list = json_array(), *rows = json_array();
    int rc = acc && names && res && metric_list && rows ? 0 : RK_ENOMEM;
    for (size_t i = 0; i < json_array_size(results) && !rc; i++) {
        rk_result_t r;
        rc = decode_at(results, i, &r, e);
        if (!rc && !r.agent_id) {
            char path[RK_PATH_MAX];
            rk_path_index(path, "results", i);
            rc = rk_verr_set(e, path, "agent_id: field required");
        }
        if (!rc && r.status == RK_JOB_COMPLETED)
            rc = accumulate(acc, &r, filter, names);
        rk_result_cleanup(&r);
    }
    if (!rc)
        rc = sorted_keys(names, metric_list);
    json_t *agent_ids = rc ? NULL : json_array();
    if (!rc && (!agent_ids || sorted_keys(acc, agent_ids)))
        rc = RK_ENOMEM;
    size_t i, m;
    json_t *idv, *mv;
    if (!rc) {
        json_array_foreach(agent_ids, i, idv)
        {
            const char *id = json_string_value(idv);
            json_t *ag = json_object_get(acc, id);
            const json_t *si = agent_sysinfo(agents, id);
            rk_buf_t hw;
            rk_buf_init(&hw, 4096);
            rk_cli_hw_summary(si ? si : json_object_get(ag, "hw"), &hw);
            json_t *means = json_object();
            json_t *row =
                json_pack("{s:s, s:s, s:O, s:o*}", "agent_id", id, "hardware", rk_buf_str(&hw),
                          "jobs", json_object_get(ag, "jobs"), "metrics", means);
            rk_buf_cleanup(&hw);
            if (!row || json_array_append_new(rows, row)) {
                rc = RK_ENOMEM;
                break;
            }
            json_array_foreach(metric_list, m, mv)
            {
                const char *k = json_string_value(mv);
                json_t *n = json_object_get(json_object_get(ag, "n"), k);
                if (n)
                    json_object_set_new(means, k,
                                        json_real(json_number_value(json_object_get(
                                                      json_object_get(ag, "sum"), k)) /
                                                  (double)json_integer_value(n)));
            }
        }
    }
    json_decref(agent_ids);
    json_decref(acc);
    json_decref(names);
    if (!rc && (json_object_set_new(res, "metrics", metric_list) ||
                json_object_set_new(res, "agents", rows)))
        rc = RK_ENOMEM;
    else if (rc) {
        json_decref(metric_list);
        json_decref(rows);
    }
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return 0;
}
