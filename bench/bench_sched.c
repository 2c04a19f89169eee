/* bench_sched: issue 11's "scheduling one job must not grow with queue
 * length" figure, measured in one run.
 *
 *   Agents: A busy one-slot agents labelled pool=busy, each running a
 *   `sleep 3600` job, and one idle one-slot agent M without the label.
 *   Measured twice, first with nothing else queued ("empty"), then after
 *   the server was stopped, N jobs of mixed priorities were queued on the
 *   busy agents and U more left unplaced for any agent with pool=busy
 *   (filled through rk_store in big transactions) and the server restarted
 *   ("loaded"):
 *     post  K POST /jobs one at a time to busy agent 0 (queued there; each
 *           201 is sent after the commit that stores the job): p50, p99
 *     gap   G /bin/true jobs queued on M behind a `sleep 1` job: the agent's
 *           completed_at of one to its started_at of the next, from the
 *           stored results: p50, p99
 *   Targets: loaded p99 <= 1.5 x empty p99, for each.
 *
 * Usage: bench_sched [--quick] [--queued N] [--unplaced U] [--agents A]
 *                    [--posts K] [--gap-jobs G] [--keep]
 * --quick is the smoke mode CTest runs (small counts, targets not judged).
 * Exit status: 0 when everything ran (a target missed is reported, not
 * failed), 1 when something could not run.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/time.h"
#include "bs_ruckus.h"
#include "store/store.h"

#define MAX_AGENTS 128

typedef struct bench {
    bool quick, keep;
    size_t queued, unplaced, posts, gap_jobs;
    int n_busy; /* agents 0..n_busy-1 busy; agent n_busy is M */
    char *dir;
    char db[600];
    bs_proc_t srv;
    bs_proc_t agents[MAX_AGENTS + 1];
    char ids[MAX_AGENTS + 1][80];
    char exp_true[64], exp_block[64], exp_one[64];
    int failures;
} bench_t;

static long post(bench_t *b, const char *exp, const char *agent)
{
    char url[256], body[256];
    bs_url(url, sizeof url, b->srv.port, "/jobs");
    snprintf(body, sizeof body, "{\"experiment_id\":\"%s\",\"agent_id\":\"%s\"}", exp, agent);
    return bs_http("POST", url, body, NULL);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;
    return a < c ? -1 : a > c;
}

/* K POST /jobs one at a time to busy agent 0: p50 and p99 in ms. */
static int measure_posts(bench_t *b, double *p50, double *p99)
{
    double *lat = calloc(b->posts, sizeof *lat);
    if (!lat)
        return -1;
    for (size_t i = 0; i < b->posts; i++) {
        double t = bs_now();
        if (post(b, b->exp_true, b->ids[0]) != 201) {
            fprintf(stderr, "POST /jobs to busy agent 0 not 201\n");
            free(lat);
            return -1;
        }
        lat[i] = (bs_now() - t) * 1000;
    }
    qsort(lat, b->posts, sizeof *lat, cmp_double);
    *p50 = bs_percentile(lat, b->posts, 50);
    *p99 = bs_percentile(lat, b->posts, 99);
    free(lat);
    return 0;
}

/* G jobs of a fresh experiment queued on M behind a `sleep 1`: the gaps
 * between one's completed_at and the next's started_at, p50 and p99 in ms. */
static int measure_gaps(bench_t *b, const char *name, double *p50, double *p99)
{
    char exp[64], m[80];
    snprintf(m, sizeof m, "%s", b->ids[b->n_busy]);
    if (bs_ruckus_experiment(b->srv.port, name, "[\"/bin/true\"]", exp) ||
        post(b, b->exp_one, m) != 201)
        return -1;
    for (size_t i = 0; i < b->gap_jobs; i++)
        if (post(b, exp, m) != 201)
            return -1;
    double end = bs_now() + 120;
    while (bs_ruckus_count(b->srv.port, exp, "completed") < (long)b->gap_jobs && bs_now() < end)
        usleep(20000);
    char path[256], url[300];
    snprintf(path, sizeof path, "/results?experiment_id=%s&limit=10000", exp);
    bs_url(url, sizeof url, b->srv.port, path);
    json_t *v = NULL;
    bs_http("GET", url, NULL, &v);
    json_t *arr = json_object_get(v, "results");
    size_t n = json_array_size(arr), k = 0, g = 0;
    rk_time_t *start = calloc(n + 1, sizeof *start), *stop = calloc(n + 1, sizeof *stop);
    double *gaps = calloc(n + 1, sizeof *gaps);
    for (size_t i = n; start && stop && gaps && i-- > 0;) { /* newest first: run order */
        json_t *r = json_array_get(arr, i);
        if (!rk_time_parse(json_string_value(json_object_get(r, "started_at")), &start[k]) &&
            !rk_time_parse(json_string_value(json_object_get(r, "completed_at")), &stop[k]))
            k++;
    }
    for (size_t i = 1; i < k; i++)
        gaps[g++] = (double)(start[i] - stop[i - 1]) / 1000.0;
    int rc = g + 1 == b->gap_jobs ? 0 : -1;
    if (rc)
        fprintf(stderr, "gaps: %zu results of %zu jobs\n", n, b->gap_jobs);
    *p50 = g ? bs_percentile(gaps, g, 50) : 0;
    *p99 = g ? bs_percentile(gaps, g, 99) : 0;
    free(start);
    free(stop);
    free(gaps);
    json_decref(v);
    return rc;
}

/* Queues b->queued jobs round-robin on the busy agents (mixed levels) and
 * b->unplaced for any agent with pool=busy, through the store. */
static int fill(bench_t *b, double *secs)
{
    rk_store_t *s = NULL;
    double t0 = bs_now();
    int rc = rk_store_open("sqlite", b->db, &s);
    json_t *sel = json_pack("{s:s}", "pool", "busy");
    rk_time_t now = rk_time_now_us();
    size_t done = 0, total = b->queued + b->unplaced;
    uint32_t next = 0x40000000u;
    while (!rc && done < total) {
        rc = rk_store_begin(s);
        for (size_t k = 0; !rc && k < 100000 && done < total; k++) {
            char id[32];
            snprintf(id, sizeof id, "job_%08x", (unsigned)next++);
            bool placed = done < b->queued;
            rk_job_info_t j = {
                .job_id = id,
                .experiment_id = b->exp_true,
                .agent_id = placed ? b->ids[done % (size_t)b->n_busy] : NULL,
                .selector_labels = placed ? NULL : sel,
                .created_time = now,
                .status = {.status = RK_JOB_QUEUED, .timestamp = now, .message = "queued"},
                .priority = (rk_job_priority_t)(next % RK_PRIORITY_COUNT)};
            int64_t seq;
            rc = rk_store_job_insert(s, &j, &seq);
            if (rc == RK_EEXIST)
                rc = 0; /* an id the server made: take the next */
            else if (!rc)
                done++;
        }
        if (!rc)
            rc = rk_store_commit(s);
        else
            rk_store_rollback(s);
    }
    json_decref(sel);
    rk_store_close(s);
    *secs = bs_now() - t0;
    return rc;
}

static int setup(bench_t *b)
{
    snprintf(b->db, sizeof b->db, "%s/ruckus.db", b->dir);
    if (bs_ruckus_server(&b->srv, b->dir, b->db, "normal"))
        return -1;
    static const char *const label[] = {"--label", "pool=busy", NULL};
    for (int i = 0; i <= b->n_busy; i++)
        if (bs_ruckus_agent(&b->agents[i], b->dir, b->dir, i, 1, i < b->n_busy ? label : NULL) ||
            bs_ruckus_register(b->srv.port, b->agents[i].port, b->ids[i], sizeof b->ids[i]))
            return -1;
    if (bs_ruckus_experiment(b->srv.port, "true", "[\"/bin/true\"]", b->exp_true) ||
        bs_ruckus_experiment(b->srv.port, "block", "[\"sleep\",\"3600\"]", b->exp_block) ||
        bs_ruckus_experiment(b->srv.port, "one", "[\"sleep\",\"1\"]", b->exp_one))
        return -1;
    for (int i = 0; i < b->n_busy; i++)
        if (post(b, b->exp_block, b->ids[i]) != 201)
            return -1;
    return 0;
}

/* Restarts the server on its db; the seconds until it answers. */
static int restart(bench_t *b, double *secs)
{
    double t0 = bs_now();
    if (bs_ruckus_server(&b->srv, b->dir, b->db, "normal"))
        return -1;
    char url[256];
    bs_url(url, sizeof url, b->srv.port, "/health");
    while (bs_http("GET", url, NULL, NULL) != 200)
        if (bs_now() - t0 > 300)
            return -1;
        else
            usleep(20000);
    *secs = bs_now() - t0;
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench_sched: time limit reached; stopping\n";
    (void)!write(2, msg, sizeof msg - 1);
    bs_proc_kill_all();
    _exit(3);
}

static void verdict(const bench_t *b, const char *what, bool met)
{
    printf("  %-46s %s\n", what, b->quick ? "(not judged in --quick)" : met ? "met" : "MISSED");
}

int main(int argc, char **argv)
{
    bench_t b = {
        .queued = 1000000, .unplaced = 100000, .n_busy = 64, .posts = 1000, .gap_jobs = 500};
    static const struct option opts[] = {
        {"quick", no_argument, 0, 'q'},          {"queued", required_argument, 0, 'n'},
        {"unplaced", required_argument, 0, 'u'}, {"agents", required_argument, 0, 'a'},
        {"posts", required_argument, 0, 'p'},    {"gap-jobs", required_argument, 0, 'g'},
        {"keep", no_argument, 0, 'k'},           {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            b = (bench_t){.quick = true,
                          .queued = 2000,
                          .unplaced = 200,
                          .n_busy = 4,
                          .posts = 50,
                          .gap_jobs = 20};
            break;
        case 'n':
            b.queued = strtoul(optarg, NULL, 10);
            break;
        case 'u':
            b.unplaced = strtoul(optarg, NULL, 10);
            break;
        case 'a':
            b.n_busy = atoi(optarg);
            break;
        case 'p':
            b.posts = strtoul(optarg, NULL, 10);
            break;
        case 'g':
            b.gap_jobs = strtoul(optarg, NULL, 10);
            break;
        case 'k':
            b.keep = true;
            break;
        default:
            fprintf(stderr, "usage: bench_sched [--quick] [--queued N] [--unplaced U] "
                            "[--agents A] [--posts K] [--gap-jobs G] [--keep]\n");
            return 2;
        }
    }
    if (b.n_busy < 1 || b.n_busy > MAX_AGENTS || b.posts < 2 || b.gap_jobs < 3) {
        fprintf(stderr, "--agents 1..%d, --posts at least 2, --gap-jobs at least 3\n", MAX_AGENTS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(b.quick ? 60 : 1800);
    atexit(bs_proc_kill_all);
    if (!(b.dir = bs_tmpdir()))
        return 1;
    printf("bench_sched%s\n", b.quick ? " --quick (smoke mode: small counts)" : "");
    bs_print_machine(stdout);
    printf("storage: sqlite, WAL, synchronous=normal; %d busy one-slot agents (pool=busy, each "
           "running sleep 3600) and one idle one-slot agent; work folder %s\n",
           b.n_busy, b.dir);
    double e_p50, e_p99, e_g50, e_g99, l_p50, l_p99, l_g50, l_g99, fill_s = 0, ready = 0;
    if (setup(&b) || measure_posts(&b, &e_p50, &e_p99) ||
        measure_gaps(&b, "gap_empty", &e_g50, &e_g99)) {
        b.failures++;
        goto out;
    }
    bs_proc_stop(&b.srv, SIGTERM, 10);
    bs_http_cleanup();
    if (fill(&b, &fill_s) || restart(&b, &ready)) {
        fprintf(stderr, "filling the store or restarting failed\n");
        b.failures++;
        goto out;
    }
    printf("fill: %zu queued (round-robin on the busy agents, mixed priorities) and %zu unplaced "
           "(selector pool=busy) in %.1f s; server answering %.1f s after its restart\n",
           b.queued, b.unplaced, fill_s, ready);
    if (measure_posts(&b, &l_p50, &l_p99) || measure_gaps(&b, "gap_loaded", &l_g50, &l_g99)) {
        b.failures++;
        goto out;
    }
    /* The unplaced jobs can only go to busy agents: all still wait. */
    char url[300];
    bs_url(url, sizeof url, b.srv.port, "/jobs?agent_id=any&status=queued&limit=1");
    json_t *v = NULL;
    long st = bs_http("GET", url, NULL, &v);
    long any = st == 200 ? (long)json_integer_value(json_object_get(v, "total")) : -1;
    json_decref(v);
    if (any != (long)b.unplaced) {
        fprintf(stderr, "unplaced jobs: %ld still queued of %zu\n", any, b.unplaced);
        b.failures++;
    }
    printf("POST /jobs to a busy agent, %zu one at a time: empty p50 %.2f ms p99 %.2f ms; loaded "
           "p50 %.2f ms p99 %.2f ms (%.2f x)\n",
           b.posts, e_p50, e_p99, l_p50, l_p99, l_p99 / e_p99);
    printf("finish -> next start on the idle agent, %zu jobs: empty p50 %.2f ms p99 %.2f ms; "
           "loaded p50 %.2f ms p99 %.2f ms (%.2f x)\n",
           b.gap_jobs, e_g50, e_g99, l_g50, l_g99, l_g99 / e_g99);
    verdict(&b, "POST /jobs p99 loaded <= 1.5 x empty", l_p99 <= 1.5 * e_p99);
    verdict(&b, "finish -> next start p99 loaded <= 1.5 x empty", l_g99 <= 1.5 * e_g99);
out:
    bs_proc_stop(&b.srv, SIGTERM, 10);
    for (int i = 0; i <= b.n_busy; i++)
        bs_proc_stop(&b.agents[i], SIGTERM, 5);
    bs_http_cleanup();
    if (b.failures)
        b.keep = true;
    if (b.keep)
        printf("\nkept %s (logs, databases)\n", b.dir);
    else
        bs_rmrf(b.dir);
    free(b.dir);
    printf("\n%s\n", b.failures ? "FAILED: a measurement could not run (see above)" : "done");
    return b.failures ? 1 : 0;
}
