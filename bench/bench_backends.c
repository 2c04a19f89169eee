/* bench_backends: issue 17's figures for one server on PostgreSQL against
 * the same server on SQLite, measured in one run.
 *
 *   Rounds alternate sqlite, postgresql, sqlite, postgresql; each starts a
 *   fresh server (a new SQLite file, or a new database on a PostgreSQL this
 *   bench starts itself with fsync on: tests/support/rk_test_pg.h) and four
 *   fresh one-slot agents, then measures
 *     e2e   N /bin/true jobs over the 4 agents, POST /jobs 32 in flight,
 *           clocked until the server reports none unfinished
 *     post  P POST /jobs to a busy agent (queued), 64 in flight, each 201
 *           sent after the commit that stores the job
 *   Targets: PostgreSQL e2e >= 60 % of SQLite's; PostgreSQL POST /jobs
 *   durable >= 3,000/s. SQLite runs WAL with synchronous=normal (survives
 *   a process kill, not a power loss); PostgreSQL with fsync and
 *   synchronous_commit on (survives both).
 *
 * Usage: bench_backends [--quick] [--jobs N] [--posts P] [--pg-fsync on|off] [--keep]
 * --pg-fsync off runs PostgreSQL without fsync (not durable): what its
 * round trips alone cost, to tell them from its flushes.
 * Exit status: 0 when every round ran (a target missed is reported, not
 * failed), 1 when one could not run; 0 with a note when PostgreSQL cannot
 * run here.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs_ruckus.h"
#include "rk_test_pg.h"

#define N_AGENTS 4

typedef struct bench {
    bool quick, keep;
    const char *pg_fsync;
    size_t jobs, posts;
    char *dir;
    bs_proc_t srv;
    bs_proc_t agents[N_AGENTS + 1];
    char ids[N_AGENTS + 1][80];
    int failures;
} bench_t;

/* The manager's commits so far, from GET /metrics: how many, their total
 * seconds and the jobs they changed (where a round's time goes). */
typedef struct commits {
    int port;
    double n, secs, jobs;
} commits_t;

static void metrics_done(void *ud, size_t i, long status, const char *body, size_t len)
{
    (void)i;
    commits_t *c = ud;
    if (status != 200 || !body)
        return;
    char *text = strndup(body, len);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        double v;
        if (sscanf(line, "ruckus_store_commit_seconds_count %lf", &v) == 1)
            c->n = v;
        else if (sscanf(line, "ruckus_store_commit_seconds_sum %lf", &v) == 1)
            c->secs = v;
        else if (sscanf(line, "ruckus_store_batch_jobs_sum %lf", &v) == 1)
            c->jobs = v;
    }
    free(text);
}

static void metrics_req(void *ud, size_t i, char *url, size_t url_cap, char *body, size_t cap)
{
    (void)i;
    (void)cap;
    body[0] = 0;
    snprintf(url, url_cap, "http://127.0.0.1:%d/metrics", ((commits_t *)ud)->port);
}

static commits_t commits_now(bench_t *b)
{
    commits_t c = {.port = b->srv.port};
    bs_many("GET", 1, 1, 10, metrics_req, metrics_done, &c);
    return c;
}

/* One phase's commits: how many, mean ms each, mean jobs each. */
static void commits_print(const char *what, commits_t a, commits_t z)
{
    double n = z.n - a.n;
    if (n <= 0)
        return;
    printf("    %-6s %6.0f commits, %.2f ms and %.1f jobs each\n", what, n,
           (z.secs - a.secs) * 1e3 / n, (z.jobs - a.jobs) / n);
}

static void stop_all(bench_t *b)
{
    bs_proc_stop(&b->srv, SIGTERM, 10);
    for (int i = 0; i <= N_AGENTS; i++)
        bs_proc_stop(&b->agents[i], SIGTERM, 5);
    bs_http_cleanup();
}

/* One round on backend pg (else sqlite): *e2e and *post in jobs/s. */
static int round_run(bench_t *b, int r, bool pg, double *e2e, double *post)
{
    char dir[700], db[800], url[256];
    snprintf(dir, sizeof dir, "%s/round%d", b->dir, r);
    if (mkdir(dir, 0755) != 0)
        return -1;
    if (pg) {
        if (rk_test_pg_create_db(url, sizeof url) || bs_ruckus_server_pg(&b->srv, dir, url))
            return -1;
    } else {
        snprintf(db, sizeof db, "%s/ruckus.db", dir);
        if (bs_ruckus_server(&b->srv, dir, db, "normal"))
            return -1;
    }
    for (int i = 0; i <= N_AGENTS; i++) /* agent N_AGENTS: the busy one for posts */
        if (bs_ruckus_agent(&b->agents[i], dir, dir, i, 1, NULL) ||
            bs_ruckus_register(b->srv.port, b->agents[i].port, b->ids[i], sizeof b->ids[i]))
            return -1;
    char exp[64], block[64];
    if (bs_ruckus_experiment(b->srv.port, "true", "[\"/bin/true\"]", exp) ||
        bs_ruckus_experiment(b->srv.port, "block", "[\"sleep\",\"600\"]", block))
        return -1;
    const char *all[N_AGENTS], *busy[] = {b->ids[N_AGENTS]};
    for (int i = 0; i < N_AGENTS; i++)
        all[i] = b->ids[i];
    bs_posts_t p = {.ports = &b->srv.port, .n_ports = 1, .ids = all, .n_ids = N_AGENTS, .exp = exp};
    commits_t c0 = commits_now(b);
    double t0 = bs_now();
    bs_posts_run(&p, b->jobs, 32, 120);
    double t1 = p.created == b->jobs ? bs_ruckus_wait_idle(b->srv.port, 300) : 0;
    long done = bs_ruckus_count(b->srv.port, exp, "completed");
    if (!t1 || done != (long)b->jobs) {
        fprintf(stderr, "e2e: %zu created (last other HTTP %ld), %ld completed of %zu\n", p.created,
                p.last_other, done, b->jobs);
        return -1;
    }
    *e2e = (double)b->jobs / (t1 - t0);
    commits_t c1 = commits_now(b);
    bs_posts_t q = {.ports = &b->srv.port, .n_ports = 1, .ids = busy, .n_ids = 1, .exp = block};
    bs_posts_run(&q, 1, 1, 30); /* the blocker runs */
    q = (bs_posts_t){.ports = &b->srv.port, .n_ports = 1, .ids = busy, .n_ids = 1, .exp = exp};
    t0 = bs_now();
    bs_posts_run(&q, b->posts, 64, 120);
    double el = bs_now() - t0;
    commits_t c2 = commits_now(b);
    if (q.created != b->posts) {
        fprintf(stderr, "post: %zu of %zu created (last other HTTP %ld)\n", q.created, b->posts,
                q.last_other);
        return -1;
    }
    *post = (double)b->posts / el;
    printf("%-10s e2e %zu jobs: %.0f jobs/s; POST /jobs %zu queued: %.0f/s\n",
           pg ? "postgresql" : "sqlite", b->jobs, *e2e, b->posts, *post);
    commits_print("e2e", c0, c1);
    commits_print("POST", c1, c2);
    /* The same under Idempotency-Keys (a look-up by the handler and one by
     * the manager each), then every one of them sent again: all replays. */
    q = (bs_posts_t){.ports = &b->srv.port,
                     .n_ports = 1,
                     .ids = busy,
                     .n_ids = 1,
                     .exp = exp,
                     .key_prefix = pg ? "pg" : "sq"};
    t0 = bs_now();
    bs_posts_run(&q, b->posts, 64, 120);
    double keyed = bs_now() - t0;
    size_t made = q.created;
    q.created = q.replayed = q.other = 0;
    t0 = bs_now();
    bs_posts_run(&q, b->posts, 64, 120);
    double again = bs_now() - t0;
    if (made != b->posts || q.replayed != b->posts || q.created) {
        fprintf(stderr, "keyed: %zu created, then %zu replayed, %zu created (last other %ld)\n",
                made, q.replayed, q.created, q.last_other);
        return -1;
    }
    printf("%-10s POST /jobs under a key: %.0f/s; the same again (replays): %.0f/s\n",
           pg ? "postgresql" : "sqlite", (double)b->posts / keyed, (double)b->posts / again);
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench_backends: time limit reached; stopping\n";
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
    bench_t b = {.jobs = 10000, .posts = 20000, .pg_fsync = "on"};
    static const struct option opts[] = {
        {"quick", no_argument, 0, 'q'},          {"jobs", required_argument, 0, 'j'},
        {"posts", required_argument, 0, 'p'},    {"keep", no_argument, 0, 'k'},
        {"pg-fsync", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            b.quick = true;
            b.jobs = 200;
            b.posts = 300;
            break;
        case 'j':
            b.jobs = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            b.posts = strtoul(optarg, NULL, 10);
            break;
        case 'k':
            b.keep = true;
            break;
        case 'f':
            b.pg_fsync = optarg;
            break;
        default:
            fprintf(stderr, "usage: bench_backends [--quick] [--jobs N] [--posts P] [--pg-fsync "
                            "on|off] [--keep]\n");
            return 2;
        }
    }
    if (b.jobs < 1 || b.posts < 1 ||
        (strcmp(b.pg_fsync, "on") != 0 && strcmp(b.pg_fsync, "off") != 0)) {
        fprintf(stderr, "--jobs and --posts: at least 1; --pg-fsync: on or off\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(b.quick ? 120 : 1800);
    atexit(bs_proc_kill_all);
    printf("bench_backends%s\n", b.quick ? " --quick (smoke mode: small counts)" : "");
    bs_print_machine(stdout);
    setenv("RK_PG_FSYNC", b.pg_fsync, 1);
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        printf("PostgreSQL cannot run here (%s): nothing measured\n", why);
        return 0;
    }
    if (!(b.dir = bs_tmpdir()))
        return 1;
    printf("sqlite: WAL, synchronous=normal; postgresql: a local server this bench started, "
           "fsync %s, synchronous_commit on; 4 one-slot agents for e2e, a busy fifth for "
           "POST; work folder %s\n\n",
           b.pg_fsync, b.dir);
    double e2e[2] = {0, 0}, post[2] = {0, 0};
    for (int r = 0; r < 4 && !b.failures; r++) {
        double e = 0, p = 0;
        bool pg = r % 2 == 1;
        if (round_run(&b, r, pg, &e, &p)) {
            fprintf(stderr, "round %d (%s) could not run\n", r, pg ? "postgresql" : "sqlite");
            b.failures++;
        }
        e2e[pg] += e / 2;
        post[pg] += p / 2;
        stop_all(&b);
    }
    if (!b.failures) {
        printf("\nmean: e2e sqlite %.0f, postgresql %.0f jobs/s (%.0f %%); POST /jobs sqlite "
               "%.0f, postgresql %.0f/s\n",
               e2e[0], e2e[1], 100 * e2e[1] / e2e[0], post[0], post[1]);
        verdict(&b, "postgresql e2e >= 60 % of sqlite's", e2e[1] >= 0.6 * e2e[0]);
        verdict(&b, "postgresql POST /jobs durable >= 3,000/s", post[1] >= 3000);
    }
    if (b.failures)
        b.keep = true;
    if (b.keep)
        printf("\nkept %s (logs, databases)\n", b.dir);
    else
        bs_rmrf(b.dir);
    free(b.dir);
    printf("\n%s\n", b.failures ? "FAILED: a round could not run (see above)" : "done");
    return b.failures ? 1 : 0;
}
