/* bench_standby: how long a standby ruckus-server takes to take over from
 * a dispatcher killed with kill -9, by how many unfinished jobs the
 * database holds (issue 17; docs/storage.md, "Several servers").
 *
 *   For each N: a fresh database on a PostgreSQL this bench starts itself
 *   (fsync on, tests/support/rk_test_pg.h); server A listening, server B
 *   standing by; one agent, paused, so its N jobs stay queued; N jobs
 *   stored through POST /jobs/batch (10,000 per request). Then kill -9 of
 *   A, and the clock runs until B listens (its manager rebuilt from the
 *   store: every queued job back in its queue). Reported: the batch POST
 *   rate, the takeover time, B's RssAnon after it and per job, and the
 *   queued count B reports. Before the kill, FORWARDED jobs are POSTed
 *   one by one (64 in flight) to A, then as many to B, which forwards
 *   each to A (lib/server/front.c): both rates.
 *
 * Usage: bench_standby [--quick] [--jobs N[,N...]] [--keep]
 *   default --jobs 10000,100000,1000000; --quick: 2000.
 * Exit status: 0 when every round ran, 1 when one could not; 0 with a
 * note when PostgreSQL cannot run here.
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

#define BATCH 10000
/* Jobs POSTed one by one to each server of a round. */
#define FORWARDED 5000

static bool log_has(const char *path, long from, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    fseek(f, from, SEEK_SET);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int pg_server(bs_proc_t *p, const char *dir, const char *name, const char *url, bool wait)
{
    char log[700];
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    const char *args[] = {"--port", "0", "--storage", "postgresql", "--postgres-url", url, NULL};
    if (bs_proc_spawn(p, "ruckus-server", args, log))
        return -1;
    if (wait)
        return bs_proc_listening(p, 15);
    for (double end = bs_now() + 15; bs_now() < end; usleep(5000))
        if (log_has(p->log, p->from, "standing by"))
            return 0;
    fprintf(stderr, "%s did not stand by within 15 s; see %s\n", name, p->log);
    return -1;
}

/* POST /jobs one by one, 64 in flight, to port: jobs/s, or -1. */
static double post_rate(int port, const char *exp, const char *agent)
{
    bs_posts_t p = {.ports = &port, .n_ports = 1, .ids = &agent, .n_ids = 1, .exp = exp};
    double t0 = bs_now();
    bs_posts_run(&p, FORWARDED, 64, 120);
    double el = bs_now() - t0;
    if (p.created != FORWARDED) {
        fprintf(stderr, "POST /jobs to port %d: %zu of %d created (last other HTTP %ld)\n", port,
                p.created, FORWARDED, p.last_other);
        return -1;
    }
    return FORWARDED / el;
}

static int round_run(const char *dir, long n)
{
    char url[256], sub[600], path[700], agent[128], exp[64], u[256];
    if (rk_test_pg_create_db(url, sizeof url))
        return -1;
    snprintf(sub, sizeof sub, "%s/n%ld", dir, n);
    mkdir(sub, 0755);
    bs_proc_t a = {0}, b = {0}, ag = {0};
    int rc = -1;
    if (pg_server(&a, sub, "a", url, true) || pg_server(&b, sub, "b", url, false) ||
        bs_ruckus_agent(&ag, sub, sub, 0, 1, NULL) ||
        bs_ruckus_register(a.port, ag.port, agent, sizeof agent) ||
        bs_ruckus_experiment(a.port, "true", "[\"true\"]", exp))
        goto out;
    snprintf(path, sizeof path, "/agents/%s/pause", agent);
    bs_url(u, sizeof u, a.port, path);
    if (bs_http("POST", u, "{}", NULL) != 200) {
        fprintf(stderr, "could not pause the agent\n");
        goto out;
    }
    bs_url(u, sizeof u, a.port, "/jobs/batch");
    double t0 = bs_now();
    for (long done = 0; done < n;) {
        long k = n - done < BATCH ? n - done : BATCH;
        char body[512];
        snprintf(body, sizeof body,
                 "{\"jobs\":[{\"experiment_id\":\"%s\",\"agent_id\":\"%s\",\"count\":%ld}]}", exp,
                 agent, k);
        long st = bs_http("POST", u, body, NULL);
        if (st != 201) {
            fprintf(stderr, "POST /jobs/batch: HTTP %ld\n", st);
            goto out;
        }
        done += k;
    }
    double post_s = bs_now() - t0;
    /* Any server answers: POST /jobs to the dispatcher, then to the
     * standby, which forwards each to it. */
    int fport = bs_ruckus_front_port(&b, 5);
    double direct = post_rate(a.port, exp, agent);
    double fwd = fport ? post_rate(fport, exp, agent) : -1;
    if (direct < 0 || fwd < 0)
        goto out;
    printf("%9ld jobs  POST /jobs (64 in flight) to the dispatcher %5.0f/s, through the standby "
           "%5.0f/s (%.0f %%)\n",
           n, direct, fwd, 100 * fwd / direct);
    long stored = n + 2 * FORWARDED; /* all queued */
    long rss_a = bs_rss_anon_kib(a.pid);
    double k0 = bs_now();
    bs_proc_stop(&a, SIGKILL, 1);
    if (bs_proc_listening(&b, 600))
        goto out;
    double take_ms = (bs_now() - k0) * 1e3;
    long rss_b = bs_rss_anon_kib(b.pid);
    long queued = bs_ruckus_count(b.port, NULL, "queued");
    printf("%9ld jobs  batch POST %7.0f jobs/s  takeover %8.0f ms  standby RssAnon %7ld KiB "
           "(%4.0f B/job; the killed dispatcher had %ld KiB)  queued after: %ld%s\n",
           n, n / post_s, take_ms, rss_b, rss_b * 1024.0 / (double)stored, rss_a, queued,
           queued == stored ? "" : "  MISMATCH");
    fflush(stdout);
    rc = queued == stored ? 0 : -1;
out:
    bs_proc_stop(&a, SIGKILL, 1);
    bs_proc_stop(&b, SIGTERM, 30);
    bs_proc_stop(&ag, SIGTERM, 10);
    rk_test_pg_drop_db(url);
    return rc;
}

static void on_alarm(int sig)
{
    (void)sig;
    bs_proc_kill_all();
    _exit(1);
}

int main(int argc, char **argv)
{
    bool quick = false, keep = false;
    const char *jobs = "10000,100000,1000000";
    static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"keep", no_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (c == 'q')
            quick = true, jobs = "2000";
        else if (c == 'j')
            jobs = optarg;
        else if (c == 'k')
            keep = true;
        else {
            fprintf(stderr, "usage: bench_standby [--quick] [--jobs N[,N...]] [--keep]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(quick ? 120 : 3600);
    atexit(bs_proc_kill_all);
    printf("bench_standby%s\n", quick ? " --quick (smoke mode: small counts)" : "");
    bs_print_machine(stdout);
    setenv("RK_PG_FSYNC", "on", 1);
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        printf("PostgreSQL cannot run here (%s): nothing measured\n", why);
        return 0;
    }
    char *dir = bs_tmpdir();
    if (!dir)
        return 1;
    printf("a local PostgreSQL this bench started (fsync on); kill -9 of the dispatcher, "
           "clocked until the standby listens; work folder %s\n\n",
           dir);
    int failures = 0;
    char *list = strdup(jobs), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && !failures; t = strtok_r(NULL, ",", &save)) {
        long n = atol(t);
        if (n < 1 || round_run(dir, n)) {
            fprintf(stderr, "round with %s jobs could not run\n", t);
            failures++;
        }
    }
    free(list);
    if (failures || keep)
        printf("\nkept %s (logs)\n", dir);
    else
        bs_rmrf(dir);
    free(dir);
    printf("\n%s\n", failures ? "FAILED: a round could not run (see above)" : "done");
    return failures ? 1 : 0;
}
