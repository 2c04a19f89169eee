/* bench_servers: issue 17's figures for 1, 2 and 3 ruckus-servers on one
 * PostgreSQL, clients spread over all of them (docs/benchmarks.md).
 *
 *   Rounds 1, 2, 3, 1, 2, 3 servers; each on a fresh database of a
 *   PostgreSQL this bench starts itself (fsync on): server A dispatches,
 *   the others stand by and forward (lib/server/front.c); four fresh
 *   one-slot agents registered through A, one busy fifth.
 *     e2e   N /bin/true jobs over the 4 agents, POST /jobs 32 in flight,
 *           request i to server i % k, clocked until none is unfinished
 *     post  P POST /jobs to the busy agent (queued), 64 in flight, spread
 *           the same way
 *   Beside each figure, the CPU seconds every server, the agents (their
 *   jobs included) and PostgreSQL used in the e2e phase, and the machine's
 *   two cores' worth of that time: where each server's time goes.
 *
 * Usage: bench_servers [--quick] [--jobs N] [--posts P] [--keep]
 * Exit status: 0 when every round ran, 1 when one could not; 0 with a note
 * when PostgreSQL cannot run here.
 */
#include <dirent.h>
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
#define MAX_SERVERS 3

typedef struct bench {
    size_t jobs, posts;
    bool quick, keep;
    char *dir;
    bs_proc_t srv[MAX_SERVERS];
    int port[MAX_SERVERS]; /* where clients send: A's, then the fronts' */
    int k;
    bs_proc_t agents[N_AGENTS + 1];
    char ids[N_AGENTS + 1][80];
    int failures;
} bench_t;

/* CPU seconds of every postgres process so far (its sessions come and go:
 * an estimate from the live ones plus the postmaster's reaped children). */
static double pg_cpu(void)
{
    double sum = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[300], comm[64] = "";
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof comm, f) && strncmp(comm, "postgres", 8) == 0) {
            double s = bs_cpu_seconds((pid_t)atoi(e->d_name));
            sum += s > 0 ? s : 0;
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return sum;
}

static void stop_all(bench_t *b)
{
    for (int i = 0; i < MAX_SERVERS; i++)
        bs_proc_stop(&b->srv[i], SIGTERM, 10);
    for (int i = 0; i <= N_AGENTS; i++)
        bs_proc_stop(&b->agents[i], SIGTERM, 5);
    bs_http_cleanup();
}

static int round_run(bench_t *b, int r, int k)
{
    char dir[700], url[256], log[800];
    snprintf(dir, sizeof dir, "%s/round%d", b->dir, r);
    if (mkdir(dir, 0755) != 0 || rk_test_pg_create_db(url, sizeof url) ||
        bs_ruckus_server_pg(&b->srv[0], dir, url))
        return -1;
    b->k = k;
    b->port[0] = b->srv[0].port;
    for (int i = 1; i < k; i++) {
        snprintf(log, sizeof log, "%s/standby%d.log", dir, i);
        const char *args[] = {"--port",         "0", "--storage", "postgresql",
                              "--postgres-url", url, NULL};
        if (bs_proc_spawn(&b->srv[i], "ruckus-server", args, log) ||
            !(b->port[i] = bs_ruckus_front_port(&b->srv[i], 15))) {
            fprintf(stderr, "no standby front in %s\n", b->srv[i].log);
            return -1;
        }
    }
    for (int i = 0; i <= N_AGENTS; i++) /* agent N_AGENTS: the busy one for posts */
        if (bs_ruckus_agent(&b->agents[i], dir, dir, i, 1, NULL) ||
            bs_ruckus_register(b->port[0], b->agents[i].port, b->ids[i], sizeof b->ids[i]))
            return -1;
    char exp[64], block[64];
    if (bs_ruckus_experiment(b->port[0], "true", "[\"/bin/true\"]", exp) ||
        bs_ruckus_experiment(b->port[0], "block", "[\"sleep\",\"600\"]", block))
        return -1;

    double cpu0[MAX_SERVERS], ag0 = 0, pg0 = pg_cpu();
    for (int i = 0; i < k; i++)
        cpu0[i] = bs_cpu_seconds(b->srv[i].pid);
    for (int i = 0; i < N_AGENTS; i++)
        ag0 += bs_cpu_seconds(b->agents[i].pid);
    const char *all[N_AGENTS], *busy[] = {b->ids[N_AGENTS]};
    for (int i = 0; i < N_AGENTS; i++)
        all[i] = b->ids[i];
    bs_posts_t p = {
        .ports = b->port, .n_ports = (size_t)k, .ids = all, .n_ids = N_AGENTS, .exp = exp};
    double t0 = bs_now();
    bs_posts_run(&p, b->jobs, 32, 120);
    double t1 = p.created == b->jobs ? bs_ruckus_wait_idle(b->port[0], 300) : 0;
    long done = bs_ruckus_count(b->port[0], exp, "completed");
    if (!t1 || done != (long)b->jobs) {
        fprintf(stderr, "e2e: %zu created (last other HTTP %ld), %ld completed of %zu\n", p.created,
                p.last_other, done, b->jobs);
        return -1;
    }
    double el = t1 - t0, ag1 = 0, pg1 = pg_cpu();
    for (int i = 0; i < N_AGENTS; i++)
        ag1 += bs_cpu_seconds(b->agents[i].pid);
    printf("%d server%s  e2e %zu jobs: %5.0f jobs/s in %.2f s; CPU s: dispatcher %.2f", k,
           k > 1 ? "s" : " ", b->jobs, b->jobs / el, el, bs_cpu_seconds(b->srv[0].pid) - cpu0[0]);
    for (int i = 1; i < k; i++)
        printf(", standby%d %.2f", i, bs_cpu_seconds(b->srv[i].pid) - cpu0[i]);
    printf(", agents+jobs %.2f, postgres ~%.2f (2 cores: %.2f)\n", ag1 - ag0, pg1 - pg0, 2 * el);

    bs_posts_t q = {.ports = b->port, .n_ports = (size_t)k, .ids = busy, .n_ids = 1, .exp = block};
    bs_posts_run(&q, 1, 1, 30); /* the blocker runs */
    q = (bs_posts_t){.ports = b->port, .n_ports = (size_t)k, .ids = busy, .n_ids = 1, .exp = exp};
    t0 = bs_now();
    bs_posts_run(&q, b->posts, 64, 120);
    el = bs_now() - t0;
    if (q.created != b->posts) {
        fprintf(stderr, "post: %zu of %zu created (last other HTTP %ld)\n", q.created, b->posts,
                q.last_other);
        return -1;
    }
    printf("          POST /jobs %zu queued: %5.0f/s\n", b->posts, b->posts / el);
    fflush(stdout);
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench_servers: time limit reached; stopping\n";
    (void)!write(2, msg, sizeof msg - 1);
    bs_proc_kill_all();
    _exit(3);
}

int main(int argc, char **argv)
{
    bench_t b = {.jobs = 10000, .posts = 20000};
    static const struct option opts[] = {{"quick", no_argument, 0, 'q'},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"posts", required_argument, 0, 'p'},
                                         {"keep", no_argument, 0, 'k'},
                                         {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (c == 'q')
            b.quick = true, b.jobs = 200, b.posts = 300;
        else if (c == 'j')
            b.jobs = strtoul(optarg, NULL, 10);
        else if (c == 'p')
            b.posts = strtoul(optarg, NULL, 10);
        else if (c == 'k')
            b.keep = true;
        else {
            fprintf(stderr, "usage: bench_servers [--quick] [--jobs N] [--posts P] [--keep]\n");
            return 2;
        }
    }
    if (b.jobs < 1 || b.posts < 1) {
        fprintf(stderr, "--jobs and --posts: at least 1\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(b.quick ? 120 : 1800);
    atexit(bs_proc_kill_all);
    printf("bench_servers%s\n", b.quick ? " --quick (smoke mode: small counts)" : "");
    bs_print_machine(stdout);
    setenv("RK_PG_FSYNC", "on", 1);
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        printf("PostgreSQL cannot run here (%s): nothing measured\n", why);
        return 0;
    }
    if (!(b.dir = bs_tmpdir()))
        return 1;
    printf("a local PostgreSQL this bench started (fsync on); server A dispatches, the others "
           "forward; 4 one-slot agents for e2e, a busy fifth for POST; requests spread "
           "round-robin over the servers; work folder %s\n\n",
           b.dir);
    int rounds = b.quick ? 3 : 6;
    for (int r = 0; r < rounds && !b.failures; r++) {
        int k = r % MAX_SERVERS + 1;
        if (round_run(&b, r, k)) {
            fprintf(stderr, "round %d (%d servers) could not run\n", r, k);
            b.failures++;
        }
        stop_all(&b);
    }
    if (b.failures)
        b.keep = true;
    if (b.keep)
        printf("\nkept %s (logs)\n", b.dir);
    else
        bs_rmrf(b.dir);
    free(b.dir);
    printf("\n%s\n", b.failures ? "FAILED: a round could not run (see above)" : "done");
    return b.failures ? 1 : 0;
}
