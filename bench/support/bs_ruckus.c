/* Driving a whole ruckus from a benchmark (bs_ruckus.h). */
#include "bs_ruckus.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bs_ruckus_server(bs_proc_t *p, const char *dir, const char *db, const char *sync)
{
    char loc[700], log[700];
    snprintf(loc, sizeof loc, "%s?synchronous=%s", db, sync);
    snprintf(log, sizeof log, "%s/server.log", dir);
    const char *args[] = {"--port", "0", "--db", loc, NULL};
    return bs_proc_start(p, "ruckus-server", args, log);
}

int bs_ruckus_server_pg(bs_proc_t *p, const char *dir, const char *url)
{
    char log[700];
    snprintf(log, sizeof log, "%s/server.log", dir);
    const char *args[] = {"--port", "0", "--storage", "postgresql", "--postgres-url", url, NULL};
    return bs_proc_start(p, "ruckus-server", args, log);
}

int bs_ruckus_agent(bs_proc_t *p, const char *dir, const char *data_dir, int i, int slots,
                    const char *const *extra)
{
    char data[700], log[700], s[16];
    snprintf(data, sizeof data, "%s/agent%d", data_dir, i);
    snprintf(log, sizeof log, "%s/agent%d.log", dir, i);
    snprintf(s, sizeof s, "%d", slots);
    const char *args[24] = {"--port", "0", "--data-dir", data, "--slots", s, "--grace", "1"};
    size_t n = 8;
    for (size_t k = 0; extra && extra[k] && n < 23; k++)
        args[n++] = extra[k];
    args[n] = NULL;
    return bs_proc_start(p, "ruckus-agent", args, log);
}

int bs_ruckus_register(int server_port, int agent_port, char *id, size_t n)
{
    char url[256], body[256];
    bs_url(url, sizeof url, server_port, "/agents/register");
    snprintf(body, sizeof body, "{\"agent_url\":\"http://127.0.0.1:%d\"}", agent_port);
    json_t *v = NULL;
    long st = bs_http("POST", url, body, &v);
    const char *got = json_string_value(json_object_get(v, "agent_id"));
    if (st == 200 && got)
        snprintf(id, n, "%s", got);
    json_decref(v);
    if (st != 200 || !got)
        fprintf(stderr, "registering the agent on port %d failed: HTTP %ld\n", agent_port, st);
    return st == 200 && got ? 0 : -1;
}

int bs_ruckus_experiment(int server_port, const char *name, const char *argv, char out[64])
{
    char url[256], body[1024];
    bs_url(url, sizeof url, server_port, "/experiments");
    snprintf(body, sizeof body,
             "{\"experiment_spec\":{\"name\":\"%s\",\"model\":\"none\",\"task\":{\"name\":\"%s\","
             "\"type\":\"command\",\"params\":{\"argv\":%s}},\"framework\":{\"name\":\"none\","
             "\"params\":{}},\"metrics\":{\"metrics\":{}}}}",
             name, name, argv);
    json_t *v = NULL;
    long st = bs_http("POST", url, body, &v);
    const char *id = json_string_value(json_object_get(v, "experiment_id"));
    if (st == 201 && id)
        snprintf(out, 64, "%s", id);
    json_decref(v);
    if (st != 201 || !id)
        fprintf(stderr, "creating experiment %s failed: HTTP %ld\n", name, st);
    return st == 201 && id ? 0 : -1;
}

long bs_ruckus_count(int server_port, const char *exp, const char *states)
{
    char path[256], url[300];
    snprintf(path, sizeof path, "/jobs?limit=1&status=%s%s%s", states, exp ? "&experiment_id=" : "",
             exp ? exp : "");
    bs_url(url, sizeof url, server_port, path);
    json_t *v = NULL;
    long st = bs_http("GET", url, NULL, &v);
    long n = st == 200 ? (long)json_integer_value(json_object_get(v, "total")) : -1;
    json_decref(v);
    return n;
}

double bs_ruckus_wait_idle(int server_port, double deadline_s)
{
    /* The count reads only the index of unfinished jobs, so polling this
     * often costs the server little. */
    double end = bs_now() + deadline_s;
    long left = -1;
    while (bs_now() < end) {
        if ((left = bs_ruckus_count(server_port, NULL, "queued,assigned,running")) == 0)
            return bs_now();
        usleep(2000);
    }
    fprintf(stderr, "%ld jobs still unfinished after %.0f s\n", left, deadline_s);
    return 0;
}

int bs_ruckus_front_port(const bs_proc_t *p, double timeout_s)
{
    for (double end = bs_now() + timeout_s;; usleep(10000)) {
        FILE *f = fopen(p->log, "r");
        char line[4096];
        int port = 0;
        if (f)
            fseek(f, p->from, SEEK_SET);
        while (f && !port && fgets(line, sizeof line, f)) {
            char *hit = strstr(line, "listening server=standby");
            hit = hit ? strstr(hit, " port=") : NULL;
            if (hit)
                port = atoi(hit + 6);
        }
        if (f)
            fclose(f);
        if (port || bs_now() >= end)
            return port;
    }
}

static void posts_req(void *ud, size_t i, char *url, size_t url_cap, char *body, size_t cap)
{
    bs_posts_t *p = ud;
    bs_url(url, url_cap, p->ports[i % p->n_ports], "/jobs");
    snprintf(body, cap, "{\"experiment_id\":\"%s\",\"agent_id\":\"%s\"}", p->exp,
             p->ids[i % p->n_ids]);
}

static void posts_done(void *ud, size_t i, long status, const char *body, size_t len)
{
    (void)i;
    (void)body;
    (void)len;
    bs_posts_t *p = ud;
    if (status == 201) {
        p->created++;
    } else if (status == 200 && p->key_prefix) {
        p->replayed++;
    } else {
        p->other++;
        p->last_other = status;
    }
}

static void posts_hdr(void *ud, size_t i, char *line, size_t cap)
{
    const bs_posts_t *p = ud;
    if (p->key_prefix)
        snprintf(line, cap, "Idempotency-Key: %s-%zu", p->key_prefix, i);
}

void bs_posts_run(bs_posts_t *p, size_t n, int inflight, double deadline_s)
{
    bs_many_hdr("POST", n, inflight, deadline_s, posts_req, p->key_prefix ? posts_hdr : NULL,
                posts_done, p);
}
