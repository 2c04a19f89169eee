/* ruckus job submit | list | show | watch | logs | artifacts (pause,
 * resume, priority and cancel: cmd_queue.c) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/logs.h"
#include "cli/table.h"
#include "model/job.h"

/* Largest artifact archive read in one answer. */
#define ARTIFACTS_MAX (1024u << 20)

static const char usage[] =
    "ruckus job COMMAND\n\n"
    "  submit EXPERIMENT [AGENT|any] [--priority P] [--label K=V[,K=V]] [--exclusive]\n"
    "         [--count N] [--wait]         queue a job (--wait: watch it to the end)\n"
    "         [--max-attempts N] [--backoff S] [--retry-on C,...] [--not-before T]\n"
    "         [--after ID[,ID] [--after-any]]\n"
    "  retry ID                           a new job like a failed one (retry_of)\n"
    "  list [--status S[,S...]] [--agent ID|NAME] [--experiment E] [--limit N]\n"
    "  show ID                            one job with its status history\n"
    "  cancel ID... | --status S ...      cancel jobs by id or by filters (--force: kill)\n"
    "  pause ID | resume ID               hold or freeze a job, and let it go on\n"
    "  priority ID LEVEL                  low, medium, high or critical\n"
    "  watch ID                           live status until it ends (exit 0 if completed)\n"
    "  logs ID [-f] [--stream stderr]     the job's output (-f: follow)\n"
    "  artifacts ID -o FILE               the job's output folder as a zip\n"
    "  delete ID --purge                  delete a finished job and its result for good\n\n"
    "Examples:\n"
    "  ruckus job submit exp_1a2b3c worker1 --wait\n"
    "  ruckus job submit exp_1a2b3c --label gpu=a100 --priority high --count 10\n"
    "  ruckus job submit exp_1a2b3c --after job_0badcafe\n"
    "  ruckus job list --status failed --limit 20\n"
    "  ruckus job logs job_0badcafe -f\n";

/* "k=v,k2=v2" into {k: v, k2: v2}; NULL (after printing why) when a pair
 * has no '=' or an empty key. */
static json_t *parse_labels(rk_cli_t *c, const char *text)
{
    json_t *o = json_object();
    for (const char *p = text; o && *p;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p) {
            rk_cli_errorf(c, "--label: expected KEY=VALUE[,KEY=VALUE...]");
            json_decref(o);
            return NULL;
        }
        char *k = strndup(p, (size_t)(eq - p));
        json_t *v = json_stringn(eq + 1, (size_t)(p + len - eq - 1));
        if (!k || !v || json_object_set_new(o, k, v)) {
            json_decref(o);
            o = NULL;
        }
        free(k);
        p += len + (p[len] == ',');
    }
    return o;
}

int rk_cli_set_after(rk_cli_t *c, const char *after, bool after_any, json_t *body)
{
    if (after_any && !after) {
        rk_cli_errorf(c, "--after-any: give the jobs with --after ID[,ID...]");
        return RK_CLI_EXIT_USAGE;
    }
    if (!after)
        return 0;
    json_t *ids = json_array();
    for (const char *p = after; ids && *p;) {
        size_t len = strcspn(p, ",");
        char *id = strndup(p, len);
        if (!id || !rk_id_valid(id)) {
            if (id)
                rk_cli_errorf(c, "--after: expected job ids separated by commas");
            free(id);
            json_decref(ids);
            return id ? RK_CLI_EXIT_USAGE : RK_CLI_EXIT_FAILURE;
        }
        json_array_append_new(ids, json_string(id));
        free(id);
        p += len + (p[len] == ',');
    }
    if (!ids || json_object_set_new(body, "depends_on", ids) ||
        json_object_set_new(body, "dependency", json_string(after_any ? "afterany" : "afterok")))
        return RK_CLI_EXIT_FAILURE;
    return 0;
}

/* The CreateJobRequest the options describe (NULL after printing why). */
static json_t *submit_body(rk_cli_t *c, const rk_cli_args_t *a, const char *agent, int *code)
{
    *code = RK_CLI_EXIT_USAGE;
    rk_job_priority_t p;
    if (a->val[1] && rk_job_priority_parse(a->val[1], &p)) {
        rk_cli_errorf(c, "--priority: expected one of low, medium, high, critical");
        return NULL;
    }
    long count = 1;
    if (a->val[5] && rk_cli_args_int(a->val[5], 1, 10000, &count)) {
        rk_cli_errorf(c, "--count: expected a number from 1 to 10000");
        return NULL;
    }
    json_t *labels = a->val[2] ? parse_labels(c, a->val[2]) : NULL;
    if (a->val[2] && !labels)
        return NULL;
    json_t *body = json_pack("{s:s}", "experiment_id", a->pos[0]);
    if (!body || (*code = rk_cli_set_after(c, a->val[10], a->val[11] != NULL, body))) {
        if (!body)
            *code = RK_CLI_EXIT_FAILURE;
        json_decref(body);
        json_decref(labels);
        return NULL;
    }
    *code = RK_CLI_EXIT_FAILURE;
    if (agent)
        json_object_set_new(body, "agent_id", json_string(agent));
    if (labels)
        json_object_set_new(body, "agent_selector", json_pack("{s:o}", "labels", labels));
    if (a->val[1])
        json_object_set_new(body, "priority", json_string(rk_job_priority_name(p)));
    if (a->val[4])
        json_object_set_new(body, "exclusive", json_true());
    if (count > 1)
        json_object_set_new(body, "count", json_integer(count));
    if ((*code = rk_cli_retry_opts(c, a->val[6], a->val[7], a->val[8], a->val[9], body))) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* A key no other submit has: "cli-" and 128 random bits. */
static int fresh_key(rk_cli_t *c, char *out, size_t n)
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        rk_cli_errorf(c, "no randomness for an idempotency key: %s", strerror(errno));
        return RK_CLI_EXIT_FAILURE;
    }
    size_t k = (size_t)snprintf(out, n, "cli-");
    for (size_t i = 0; i < sizeof r && k + 2 < n; i++, k += 2)
        snprintf(out + k, n - k, "%02x", r[i]);
    return 0;
}

static int cmd_submit(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"wait", 'w', false},          {"priority", 'p', true},
                                        {"label", 'l', true},          {"any", 0, false},
                                        {"exclusive", 0, false},       {"count", 'n', true},
                                        {"max-attempts", 0, true},     {"backoff", 0, true},
                                        {"retry-on", 0, true},         {"not-before", 0, true},
                                        {"after", 'a', true},          {"after-any", 0, false},
                                        {"idempotency-key", 'k', true}};
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, opts, 13, 1, 2,
        "ruckus job submit EXPERIMENT [AGENT|any] [--priority P] [--label K=V[,K=V...]]\n"
        "                  [--any] [--exclusive] [--count N] [--wait]\n"
        "                  [--max-attempts N] [--backoff S] [--retry-on C[,C...]]\n"
        "                  [--not-before T] [--after ID[,ID...]] [--after-any]\n"
        "                  [--idempotency-key KEY]\n\n"
        "AGENT is an agent id or name. Without one (or with `any`, --any or --label)\n"
        "the job runs on the first agent that can run it and has a free slot; --label\n"
        "keeps it to agents with those labels (ruckus-agent --label). P: low, medium\n"
        "(default), high, critical. --exclusive: nothing else runs on the agent\n"
        "meanwhile. --count N: N copies (1..10000). With --wait, follows the job like\n"
        "`job watch` and exits 0 only if it completed (one job only).\n"
        "--max-attempts N (1..20): run it again after a failure, up to N runs in all,\n"
        "waiting --backoff S seconds (default 10) after the first, doubling each time;\n"
        "--retry-on: which ends count (failed, timeout, agent_lost; default all).\n"
        "--not-before T: not started before T (RFC 3339, or +SECONDS from now).\n"
        "--after: the job waits (queued) until those jobs ended, and is cancelled if\n"
        "one of them does not complete; with --after-any it runs once they ended,\n"
        "whatever the outcome.\n"
        "--idempotency-key KEY: submitting again under the same KEY gets the job the\n"
        "first submit created, never a second one (1-255 visible ASCII characters;\n"
        "one job: not with --count). Without it each submit of one job has a fresh\n"
        "key of its own, so a request cut off by the network is retried safely.\n\n"
        "Examples:\n  ruckus job submit exp_1a2b3c worker1 --wait\n"
        "  ruckus job submit exp_1a2b3c --label gpu=a100 --count 4\n"
        "  ruckus job submit exp_1a2b3c --after job_0badcafe,job_0c0ffee0 --after-any\n"
        "  ruckus job submit exp_1a2b3c worker1 --idempotency-key nightly-2026-12-07\n",
        &a);
    if (code)
        return code < 0 ? 0 : code;
    bool any = a.val[3] || (a.npos == 2 && strcmp(a.pos[1], "any") == 0);
    if (a.npos == 2 && a.val[3] && strcmp(a.pos[1], "any") != 0) {
        rk_cli_errorf(c, "give an AGENT or --any, not both");
        return RK_CLI_EXIT_USAGE;
    }
    if (a.val[0] && a.val[5] && strcmp(a.val[5], "1") != 0) {
        rk_cli_errorf(c, "--wait follows one job: leave out --count");
        return RK_CLI_EXIT_USAGE;
    }
    char agent[128];
    if ((code = rk_cli_check_id(c, "experiment", a.pos[0])) ||
        (a.npos == 2 && !any && (code = rk_cli_agent_ref(c, a.pos[1], agent, sizeof agent))))
        return code;
    json_t *body = submit_body(c, &a, a.npos == 2 && !any ? agent : NULL, &code);
    if (!body)
        return code;
    bool one = !a.val[5] || strcmp(a.val[5], "1") == 0;
    char key[40];
    if (a.val[12] && !one) {
        json_decref(body);
        rk_cli_errorf(c, "--idempotency-key covers one job: leave out --count");
        return RK_CLI_EXIT_USAGE;
    }
    if (one && !a.val[12] && (code = fresh_key(c, key, sizeof key))) {
        json_decref(body);
        return code;
    }
    c->idem_key = one ? (a.val[12] ? a.val[12] : key) : NULL;
    json_t *ans = NULL;
    long status = 0;
    code = rk_cli_api(c, "POST", "/jobs", body, &ans, &status);
    c->idem_key = NULL;
    json_decref(body);
    if (code)
        return code;
    json_t *many = json_object_get(ans, "jobs");
    if (json_is_array(many)) {
        size_t n = json_array_size(many);
        const char *first = json_string_value(json_object_get(json_array_get(many, 0), "job_id"));
        const char *last =
            json_string_value(json_object_get(json_array_get(many, n ? n - 1 : 0), "job_id"));
        code = rk_cli_print_ok(c, ans, "submitted %zu jobs (%s .. %s)\n", n, first ? first : "-",
                               last ? last : "-");
        json_decref(ans);
        return code;
    }
    rk_job_info_t j;
    rk_verr_t e;
    if (rk_job_info_decode(ans, "", &j, &e)) {
        json_decref(ans);
        return rk_cli_bad_answer(c, &e);
    }
    if (a.val[0]) {
        if (!c->s.json)
            fprintf(c->out, "submitted job %s\n", j.job_id);
        code = rk_cli_job_watch(c, j.job_id);
    } else if (status == 200) { /* a repeat under its key: the first submit's job */
        code = rk_cli_print_ok(c, ans, "job %s was submitted before under this key (%s)\n",
                               j.job_id, rk_job_state_name(j.status.status));
    } else {
        code = rk_cli_print_ok(c, ans, "submitted job %s (%s)\n", j.job_id,
                               rk_job_state_name(j.status.status));
    }
    rk_job_info_cleanup(&j);
    json_decref(ans);
    return code;
}

static int by_created_desc(const void *pa, const void *pb)
{
    const rk_job_info_t *a = pa, *b = pb;
    if (a->created_time != b->created_time)
        return a->created_time > b->created_time ? -1 : 1;
    return strcmp(a->job_id, b->job_id);
}

static int cmd_list(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"status", 's', true},
                                        {"agent", 'a', true},
                                        {"experiment", 'e', true},
                                        {"limit", 'n', true}};
    rk_cli_args_t a;
    int code = rk_cli_parse(
        c, argc, argv, opts, 4, 0, 0,
        "ruckus job list [--status S[,S...]] [--agent ID|NAME] [--experiment E] [--limit N]\n\n"
        "Newest first; N defaults to the server's page (1000), at most 10000.\n\n"
        "Example:\n  ruckus job list --status running --agent worker1\n",
        &a);
    if (code)
        return code < 0 ? 0 : code;
    rk_job_state_t st;
    long limit;
    /* One status or several, comma-separated, as the API takes them. */
    for (const char *p = a.val[0]; p && *p;) {
        size_t len = strcspn(p, ",");
        char one[32];
        if (len >= sizeof one ||
            (memcpy(one, p, len), one[len] = '\0', rk_job_state_parse(one, &st))) {
            rk_cli_errorf(c,
                          "--status: expected one or more (comma-separated) of queued, assigned, "
                          "running, completed, failed, cancelled, timeout, paused");
            return RK_CLI_EXIT_USAGE;
        }
        p += len + (p[len] == ',');
    }
    if (a.val[3] && rk_cli_args_int(a.val[3], 1, 10000, &limit)) {
        rk_cli_errorf(c, "--limit: expected a number from 1 to 10000");
        return RK_CLI_EXIT_USAGE;
    }
    char agent_id[128];
    if ((a.val[1] && (code = rk_cli_agent_ref(c, a.val[1], agent_id, sizeof agent_id))) ||
        (a.val[2] && (code = rk_cli_check_id(c, "experiment", a.val[2]))))
        return code;
    rk_buf_t q;
    rk_buf_init(&q, 4096);
    rk_buf_t qs;
    rk_buf_init(&qs, 4096);
    rk_cli_query_add(&qs, "status", a.val[0]);
    rk_cli_query_add(&qs, "agent_id", a.val[1] ? agent_id : NULL);
    rk_cli_query_add(&qs, "experiment_id", a.val[2]);
    rk_cli_query_add(&qs, "limit", a.val[3]);
    rk_buf_printf(&q, "/jobs%s", rk_buf_str(&qs));
    rk_buf_cleanup(&qs);
    json_t *ans = NULL;
    rk_job_info_t *jobs = NULL;
    size_t n = 0, cap = 0;
    rk_cli_table_t t;
    static const char *const hdr[] = {"JOB",     "EXPERIMENT", "AGENT",  "STATUS",
                                      "CREATED", "UPDATED",    "MESSAGE"};
    rk_cli_table_init(&t, 7, hdr);
    if ((code = rk_cli_api(c, "GET", rk_buf_str(&q), NULL, &ans, NULL)))
        goto done;
    json_t *groups = json_object_get(ans, "jobs");
    rk_verr_t e;
    if (!json_is_object(groups)) {
        rk_verr_set(&e, "jobs", "expected an object of agent ids to job lists");
        code = rk_cli_bad_answer(c, &e);
        goto done;
    }
    const char *agent;
    json_t *list;
    json_object_foreach(groups, agent, list)
    {
        char gpath[RK_PATH_MAX], path[RK_PATH_MAX];
        rk_path_key(gpath, "jobs", agent);
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                rk_job_info_t *nj = realloc(jobs, cap * sizeof *nj);
                if (!nj) {
                    code = RK_CLI_EXIT_FAILURE;
                    goto done;
                }
                jobs = nj;
            }
            rk_path_index(path, gpath, i);
            if (rk_job_info_decode(v, path, &jobs[n], &e)) {
                code = rk_cli_bad_answer(c, &e);
                goto done;
            }
            n++;
        }
    }
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
        goto done;
    }
    qsort(jobs, n, sizeof *jobs, by_created_desc);
    for (size_t i = 0; i < n; i++) {
        char created[RK_CLI_TIMESTR], updated[RK_CLI_TIMESTR];
        rk_cli_reltime(jobs[i].created_time, c->now, created);
        rk_cli_reltime(jobs[i].status.timestamp, c->now, updated);
        char msg[81];
        snprintf(msg, sizeof msg, "%.*s",
                 (int)strcspn(jobs[i].status.message ? jobs[i].status.message : "", "\r\n"),
                 jobs[i].status.message ? jobs[i].status.message : "");
        const char *row[] = {jobs[i].job_id,    jobs[i].experiment_id,
                             jobs[i].agent_id,  rk_job_state_name(jobs[i].status.status),
                             created,           updated,
                             msg[0] ? msg : "-"};
        if (rk_cli_table_add(&t, row)) {
            code = RK_CLI_EXIT_FAILURE;
            goto done;
        }
        rk_cli_table_color(&t, 3, rk_cli_job_color(jobs[i].status.status, c->color));
    }
    json_t *total = json_object_get(ans, "total");
    if (!(code = rk_cli_print_table(c, NULL, &t, "no jobs\n")) && n && json_is_integer(total) &&
        (size_t)json_integer_value(total) > n)
        fprintf(c->out, "%zu of %lld jobs (use --limit or filters to see others)\n", n,
                (long long)json_integer_value(total));
done:
    for (size_t i = 0; i < n; i++)
        rk_job_info_cleanup(&jobs[i]);
    free(jobs);
    rk_cli_table_cleanup(&t);
    rk_buf_cleanup(&q);
    json_decref(ans);
    return code;
}

/* "depends on:" and "waiting for:" lines of a job's extra (issue 12). */
static void show_deps(rk_buf_t *b, const json_t *extra)
{
    static const char *const keys[] = {"depends_on", "waiting_for"};
    static const char *const labels[] = {"depends on:     ", "waiting for:    "};
    for (size_t k = 0; k < 2; k++) {
        const json_t *ids = json_object_get(extra, keys[k]);
        if (!json_is_array(ids) || (k == 0 && !json_array_size(ids)))
            continue;
        rk_buf_adds(b, labels[k]);
        size_t i;
        const json_t *v;
        json_array_foreach(ids, i, v)
        {
            if (i == 8) { /* a fan-in of thousands: the count says the rest */
                rk_buf_printf(b, " ... (%zu in all)", json_array_size(ids));
                break;
            }
            rk_buf_printf(b, "%s%s", i ? ", " : "", json_string_value(v));
        }
        if (!json_array_size(ids))
            rk_buf_adds(b, "nothing");
        if (k == 0)
            rk_buf_printf(b, " (%s)",
                          json_string_value(json_object_get(extra, "dependency"))
                              ? json_string_value(json_object_get(extra, "dependency"))
                              : "afterok");
        rk_buf_adds(b, "\n");
    }
}

static int cmd_show(rk_cli_t *c, int argc, char **argv)
{
    json_t *ans;
    int code = rk_cli_get_by_id(c, argc, argv,
                                "ruckus job show ID\n\nExample:\n  ruckus job show job_0badcafe\n",
                                "job", "/jobs", &ans);
    if (code || !ans)
        return code;
    rk_job_info_t j;
    rk_verr_t e;
    if (rk_job_info_decode(ans, "", &j, &e)) {
        json_decref(ans);
        return rk_cli_bad_answer(c, &e);
    }
    if (c->s.json) {
        code = rk_cli_print_json(c, ans);
        goto done;
    }
    rk_buf_t b;
    rk_buf_init(&b, SIZE_MAX);
    char when[RK_CLI_TIMESTR], ts[RK_TIME_STRLEN];
    rk_cli_kv(&b, "job", j.job_id);
    rk_cli_kv(&b, "experiment", j.experiment_id);
    rk_cli_kv(&b, "agent", j.agent_id);
    rk_cli_kv(&b, "status", rk_job_state_name(j.status.status));
    rk_cli_kv(&b, "message", j.status.message && j.status.message[0] ? j.status.message : NULL);
    rk_time_format(j.created_time, ts);
    rk_cli_reltime(j.created_time, c->now, when);
    rk_buf_printf(&b, "created:        %s (%s)\n", ts, when);
    show_deps(&b, j.extra);
    rk_cli_retry_show(ans, &b);
    if (j.status.has_progress) {
        rk_buf_adds(&b, "progress:       ");
        rk_cli_progress_bar(j.status.progress, 30, &b);
        rk_buf_adds(&b, "\n");
    }
    if (j.n_history) {
        static const char *const hdr[] = {"TIME", "STATUS", "MESSAGE"};
        rk_cli_table_t t;
        rk_cli_table_init(&t, 3, hdr);
        for (size_t i = 0; i < j.n_history; i++) {
            rk_time_format(j.history[i].timestamp, ts);
            const char *row[] = {
                ts, rk_job_state_name(j.history[i].status),
                j.history[i].message && j.history[i].message[0] ? j.history[i].message : "-"};
            rk_cli_table_add(&t, row);
            rk_cli_table_color(&t, 1, rk_cli_job_color(j.history[i].status, c->color));
        }
        rk_buf_adds(&b, "\nhistory:\n");
        rk_cli_table_render(&t, c->color, &b);
        rk_cli_table_cleanup(&t);
    }
    code = rk_cli_print_buf(c, &b);
    rk_buf_cleanup(&b);
done:
    rk_job_info_cleanup(&j);
    json_decref(ans);
    return code;
}

static int cmd_watch(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    char path[128];
    int code =
        rk_cli_parse(c, argc, argv, NULL, 0, 1, 1,
                     "ruckus job watch ID\n\nFollows the job's status and progress until it ends; "
                     "exits 0 only if it completed\n(1 for failed, cancelled or timeout).\n\n"
                     "Example:\n  ruckus job watch job_0badcafe && echo done\n",
                     &a);
    if (code || (code = rk_cli_id_path(c, "job", "/jobs", a.pos[0], "", path, sizeof path)))
        return code < 0 ? 0 : code;
    return rk_cli_job_watch(c, a.pos[0]);
}

/* True when the job has ended; -1 (with the exit code in *code) when it
 * could not be read. */
static int job_ended(rk_cli_t *c, const char *id, int *code)
{
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s", id);
    json_t *ans = NULL;
    rk_job_state_t st;
    if ((*code = rk_cli_api(c, "GET", path, NULL, &ans, NULL)))
        return -1;
    int ended =
        rk_job_state_parse(
            json_string_value(json_object_get(json_object_get(ans, "status"), "status")), &st)
            ? 1
            : rk_job_state_terminal(st);
    json_decref(ans);
    return ended;
}

/* The transport of rk_cli_logs_copy: GET <base>?stream=&offset= and the
 * agent's X-Ruckus-* headers, passed through by the server. */
typedef struct log_ctx {
    rk_cli_t *c;
    const char *id, *base, *stream;
} log_ctx_t;

/* A header's unsigned number; false when absent or not one. */
static bool header_u64(const json_t *h, const char *name, uint64_t *out)
{
    const char *v = json_string_value(json_object_get(h, name));
    if (!v || *v < '0' || *v > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || errno)
        return false;
    *out = n;
    return true;
}

static int log_fetch(void *ud, uint64_t offset, rk_cli_log_chunk_t *ch)
{
    log_ctx_t *x = ud;
    char path[256];
    snprintf(path, sizeof path, "%s?stream=%s&offset=%llu", x->base, x->stream,
             (unsigned long long)offset);
    json_t *h = NULL;
    int code = rk_cli_api_raw_headers(x->c, path, RK_CLI_LOG_ANSWER_MAX, &ch->text, &h);
    if (code)
        return code;
    ch->has_next = header_u64(h, "x-ruckus-next-offset", &ch->next);
    ch->has_size = header_u64(h, "x-ruckus-log-size", &ch->size);
    const char *f = json_string_value(json_object_get(h, "x-ruckus-job-finished"));
    ch->has_finished = f && (strcmp(f, "true") == 0 || strcmp(f, "false") == 0);
    ch->finished = ch->has_finished && strcmp(f, "true") == 0;
    json_decref(h);
    return 0;
}

static int log_ended(void *ud)
{
    log_ctx_t *x = ud;
    int code = 0;
    int ended = job_ended(x->c, x->id, &code);
    return ended < 0 ? -code : ended;
}

static void log_pause(void *ud)
{
    (void)ud;
    struct timespec ts = {RK_CLI_LOG_POLL_MS / 1000, (RK_CLI_LOG_POLL_MS % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int cmd_logs(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"follow", 'f', false}, {"stream", 0, true}};
    rk_cli_args_t a;
    char base[128];
    int code = rk_cli_parse(c, argc, argv, opts, 2, 1, 1,
                            "ruckus job logs ID [-f|--follow] [--stream stdout|stderr]\n\n"
                            "Prints the whole log (read in chunks). -f keeps printing new\n"
                            "output until the job ends.\n\n"
                            "Examples:\n  ruckus job logs job_0badcafe --stream stderr\n"
                            "  ruckus job logs job_0badcafe -f\n",
                            &a);
    if (code || (code = rk_cli_id_path(c, "job", "/jobs", a.pos[0], "/logs", base, sizeof base)))
        return code < 0 ? 0 : code;
    const char *stream = a.val[1] ? a.val[1] : "stdout";
    if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0) {
        rk_cli_errorf(c, "--stream: expected stdout or stderr");
        return RK_CLI_EXIT_USAGE;
    }
    /* A job not started yet has no log on any agent: -f waits for it to
     * start (saying so once); without -f there is simply nothing yet. */
    for (bool said = false;;) {
        char path[160];
        snprintf(path, sizeof path, "/jobs/%s", a.pos[0]);
        json_t *ans = NULL;
        rk_job_state_t st;
        /* Not known as a server job (or --server is an agent, which has
         * no GET /jobs/{id}): read the log and let its answer speak. */
        if (rk_cli_api_quiet(c, "GET", path, NULL, &ans, NULL, NULL)) {
            json_decref(ans);
            break;
        }
        const char *sname =
            json_string_value(json_object_get(json_object_get(ans, "status"), "status"));
        bool waiting = sname && rk_job_state_parse(sname, &st) == 0 &&
                       (st == RK_JOB_QUEUED || st == RK_JOB_ASSIGNED);
        if (waiting && !a.val[0])
            rk_cli_errorf(c, "job %s is %s: no output yet (-f waits for it to start)", a.pos[0],
                          sname);
        else if (waiting && !said)
            rk_cli_errorf(c, "job %s is %s; waiting for it to start", a.pos[0], sname);
        json_decref(ans);
        if (!waiting)
            break;
        if (!a.val[0])
            return 0;
        said = true;
        log_pause(NULL);
    }
    log_ctx_t x = {.c = c, .id = a.pos[0], .base = base, .stream = stream};
    rk_cli_log_io_t io = {
        .fetch = log_fetch, .ended = log_ended, .pause = log_pause, .ud = &x, .err = c->err};
    return rk_cli_logs_copy(&io, a.val[0] != NULL, c->out);
}

static int cmd_artifacts(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_opt_t opts[] = {{"output", 'o', true}};
    rk_cli_args_t a;
    char path[128];
    int code = rk_cli_parse(
        c, argc, argv, opts, 1, 1, 1,
        "ruckus job artifacts ID -o FILE\n\nSaves the job's output folder as a zip.\n\n"
        "Example:\n  ruckus job artifacts job_0badcafe -o out.zip\n",
        &a);
    if (code ||
        (code = rk_cli_id_path(c, "job", "/jobs", a.pos[0], "/artifacts", path, sizeof path)))
        return code < 0 ? 0 : code;
    if (!a.val[0]) {
        rk_cli_errorf(c, "-o FILE is required");
        return RK_CLI_EXIT_USAGE;
    }
    rk_buf_t b;
    rk_buf_init(&b, ARTIFACTS_MAX);
    if (!(code = rk_cli_api_raw(c, path, ARTIFACTS_MAX, &b))) {
        FILE *f = fopen(a.val[0], "wb");
        bool ok = f && (b.len == 0 || fwrite(b.data, 1, b.len, f) == b.len);
        if (f && fclose(f))
            ok = false;
        if (!ok) {
            rk_cli_errorf(c, "cannot write %s: %s", a.val[0], strerror(errno));
            code = RK_CLI_EXIT_FAILURE;
        } else if (!c->s.json) {
            fprintf(c->out, "wrote %zu bytes to %s\n", b.len, a.val[0]);
        } else {
            json_t *v = json_pack("{s:s, s:s, s:I}", "job_id", a.pos[0], "file", a.val[0], "bytes",
                                  (json_int_t)b.len);
            code = v ? rk_cli_print_json(c, v) : RK_CLI_EXIT_FAILURE;
            json_decref(v);
        }
    }
    rk_buf_cleanup(&b);
    return code;
}

int rk_cli_cmd_job(rk_cli_t *c, int argc, char **argv)
{
    static const rk_cli_cmd_t cmds[] = {{"submit", cmd_submit},
                                        {"list", cmd_list},
                                        {"show", cmd_show},
                                        {"cancel", rk_cli_job_cancel},
                                        {"watch", cmd_watch},
                                        {"logs", cmd_logs},
                                        {"artifacts", cmd_artifacts},
                                        {"pause", rk_cli_job_pause},
                                        {"resume", rk_cli_job_resume},
                                        {"priority", rk_cli_job_priority},
                                        {"retry", rk_cli_job_retry},
                                        {"delete", rk_cli_job_delete},
                                        {NULL, NULL}};
    return rk_cli_dispatch(c, "job", usage, cmds, argc, argv);
}
