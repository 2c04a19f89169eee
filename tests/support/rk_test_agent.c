/* Agent helpers for system tests. */
#include "rk_test_agent.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/err.h"

static int launch(rk_test_agent_t *a, int slots, const char *const *args, const char *const *env)
{
    char nslots[16];
    snprintf(nslots, sizeof nslots, "%d", slots);
    const char *argv[64] = {"--port", "0", "--data-dir", a->data, "--slots", nslots};
    size_t n = 6;
    for (size_t i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    rk_test_proc_opts_t o = {.cwd = a->root, .env = env};
    return rk_test_proc_start(&a->p, "ruckus-agent", argv, &o);
}

int rk_test_agent_start(rk_test_agent_t *a, int slots, const char *const *args,
                        const char *const *env)
{
    memset(a, 0, sizeof *a);
    a->p.pid = -1;
    char *root = rk_test_tmpdir();
    if (!root)
        return RK_EIO;
    snprintf(a->root, sizeof a->root, "%s", root);
    snprintf(a->data, sizeof a->data, "%s/data", root);
    free(root);
    return launch(a, slots, args, env);
}

int rk_test_agent_restart(rk_test_agent_t *a, int slots, const char *const *args,
                          const char *const *env)
{
    rk_test_proc_cleanup(&a->p);
    return launch(a, slots, args, env);
}

void rk_test_agent_cleanup(rk_test_agent_t *a)
{
    int status = 0;
    bool was_running = a->p.pid > 0;
    if (was_running && rk_test_proc_stop(&a->p, SIGTERM, 15000, &status) != 0)
        status = -1;
    /* A sanitizer report (agent built with RK_SANITIZE) or an unclean exit
     * fails the test, with the agent's log to show why. */
    bool dirty = (was_running && status != 0) || rk_test_proc_log_has(&a->p, "Sanitizer") ||
                 rk_test_proc_log_has(&a->p, "runtime error:");
    char *log = dirty ? rk_test_proc_log(&a->p) : NULL;
    rk_test_proc_cleanup(&a->p);
    if (a->root[0])
        rk_test_rmrf(a->root);
    a->root[0] = '\0';
    if (dirty) {
        fprintf(stderr, "agent exit status %d; its log:\n%s\n", status, log ? log : "");
        free(log);
        fail_msg("the agent did not stop cleanly");
    }
}

json_t *rk_test_job(const char *job_id, const char *type, json_t *params, json_t *requirements)
{
    json_t *spec = json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:{s:s,s:{}},s:{s:{}}}", "name",
                             "system test", "model", "none", "task", "name", "t", "type", type,
                             "params", params ? params : json_object(), "framework", "name", "none",
                             "params", "metrics", "metrics");
    if (spec && requirements)
        json_object_set_new(spec, "capability_requirements", requirements);
    else
        json_decref(requirements);
    return spec ? json_pack("{s:s,s:o}", "job_id", job_id, "experiment_spec", spec) : NULL;
}

json_t *rk_test_job_cmd(const char *job_id, const char *const *argv, json_t *extra)
{
    json_t *arr = json_array();
    for (size_t i = 0; argv[i]; i++)
        json_array_append_new(arr, json_string(argv[i]));
    json_t *params = json_pack("{s:o}", "argv", arr);
    if (extra) {
        json_object_update(params, extra);
        json_decref(extra);
    }
    return rk_test_job(job_id, "command", params, NULL);
}

json_t *rk_test_job_sh(const char *job_id, const char *script)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    return rk_test_job_cmd(job_id, argv, NULL);
}

long rk_test_agent_submit(const rk_test_agent_t *a, const json_t *job)
{
    rk_test_resp_t r;
    rk_test_req_json(&a->p, "POST", "/api/v1/jobs", job, a->token, &r);
    long st = r.status;
    rk_test_resp_cleanup(&r);
    return st;
}

char *rk_test_agent_state(const rk_test_agent_t *a, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/status/%s", id);
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", path, NULL, a->token, &r);
    const char *s = r.status == 200 ? json_string_value(json_object_get(r.json, "status")) : NULL;
    char *out = s ? strdup(s) : NULL;
    rk_test_resp_cleanup(&r);
    return out;
}

static bool terminal(const char *s)
{
    return strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0 ||
           strcmp(s, "timeout") == 0;
}

char *rk_test_agent_wait(const rk_test_agent_t *a, const char *id, const char *state,
                         int timeout_ms)
{
    double end = rk_test_now_ms() + timeout_ms;
    char *cur = rk_test_agent_state(a, id);
    while (cur && !(state ? strcmp(cur, state) == 0 : terminal(cur))) {
        double left = end - rk_test_now_ms();
        if (left <= 0 || (state && terminal(cur))) {
            free(cur);
            return NULL;
        }
        char path[256];
        snprintf(path, sizeof path, "/api/v1/status/%s?wait=%.3f&known=%s", id, left / 1000.0, cur);
        rk_test_resp_t r;
        rk_test_req(&a->p, "GET", path, NULL, a->token, &r);
        const char *s =
            r.status == 200 ? json_string_value(json_object_get(r.json, "status")) : NULL;
        if (!s)
            fprintf(stderr, "GET %s: status %ld, body %s\n", path, r.status, r.body);
        free(cur);
        cur = s ? strdup(s) : NULL;
        rk_test_resp_cleanup(&r);
    }
    return cur;
}

json_t *rk_test_agent_result(const rk_test_agent_t *a, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/results/%s", id);
    rk_test_resp_t r;
    rk_test_req(&a->p, "GET", path, NULL, a->token, &r);
    json_t *out = r.status == 200 ? json_incref(r.json) : NULL;
    if (!out) {
        char *log = rk_test_proc_log(&a->p);
        size_t n = strlen(log);
        fprintf(stderr, "GET %s: status %ld, body %s; agent pid %d, log tail:\n%s\n", path,
                r.status, r.body, (int)a->p.pid, log + (n > 3000 ? n - 3000 : 0));
        free(log);
    }
    rk_test_resp_cleanup(&r);
    return out;
}

bool rk_test_pid_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static bool environ_has(const char *env, size_t n, const char *want)
{
    size_t wl = strlen(want);
    for (size_t i = 0; i < n; i += strlen(env + i) + 1)
        if (strncmp(env + i, want, wl) == 0 && env[i + wl] == '\0')
            return true;
    return false;
}

bool rk_test_job_procs_alive(const rk_test_agent_t *a, const char *id)
{
    char want_id[128], want_out[PATH_MAX + 200], real[PATH_MAX];
    snprintf(want_id, sizeof want_id, "RUCKUS_JOB_ID=%s", id);
    const char *data = realpath(a->data, real) ? real : a->data;
    snprintf(want_out, sizeof want_out, "RUCKUS_OUTPUT_DIR=%s/jobs/%s/output", data, id);
    DIR *d = opendir("/proc");
    bool found = false;
    struct dirent *de;
    while (d && !found && (de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 1 || !rk_test_pid_alive((pid_t)pid))
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        size_t n = 0;
        char *env = rk_test_read_file(path, &n);
        found = env && environ_has(env, n, want_id) && environ_has(env, n, want_out);
        free(env);
    }
    if (d)
        closedir(d);
    return found;
}

bool rk_test_job_procs_gone(void *ref)
{
    const rk_test_job_ref_t *r = ref;
    return !rk_test_job_procs_alive(r->a, r->id);
}
