/* Every command example of README.md and docs/cli.md, run as written
 * against a live server and agent (a fresh pair per document): placeholders
 * become the ids the examples before them created, `build/bin/ruckus` is
 * the ruckus on PATH, and each line must exit 0. A documented example that
 * does not work is a bug in the docs or in the program.
 *
 * Examples are the lines starting `ruckus ` (or `build/bin/ruckus `) in an
 * indented or fenced code block; `ruckus-agent` / `ruckus-server` lines
 * start daemons and are not run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rk_test.h"
#include "rk_test_agent.h"

#define MAX_EXAMPLES 64

/* The example lines of a markdown file (malloc'd strings). */
static size_t examples(const char *path, char **out)
{
    char *text = rk_test_read_file(path, NULL);
    assert_non_null(text);
    size_t n = 0;
    bool fenced = false;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "```", 3)) {
            fenced = !fenced;
            continue;
        }
        const char *p = line;
        bool indented = !strncmp(p, "    ", 4);
        if (!fenced && !indented)
            continue;
        while (*p == ' ')
            p++;
        if (!strncmp(p, "build/bin/", 10))
            p += 10;
        if (strncmp(p, "ruckus ", 7) != 0)
            continue;
        assert_true(n < MAX_EXAMPLES);
        out[n++] = strdup(p);
    }
    free(text);
    return n;
}

/* s with every occurrence of from replaced by to (malloc'd). */
static char *replace(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl)
        n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    assert_non_null(out);
    for (const char *p = s;;) {
        const char *q = strstr(p, from);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}

/* Runs line with sh in dir; returns the exit code, output in *out. */
static int run(const char *dir, const char *line, char **out)
{
    char outp[1200];
    snprintf(outp, sizeof outp, "%s/example.out", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0 || !freopen(outp, "w", stdout) || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *out = rk_test_read_file(outp, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The first word of out that starts with prefix ("exp_", "job_"). */
static bool first_id(const char *out, const char *prefix, char *id, size_t n)
{
    for (const char *p = out; p && (p = strstr(p, prefix)); p++) {
        if (p != out && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z')))
            continue;
        size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (len > strlen(prefix) && len < n) {
            memcpy(id, p, len);
            id[len] = '\0';
            return true;
        }
    }
    return false;
}

/* preregister: the document assumes a running system (scripts/run.sh
 * registers its agent). */
static void run_doc(const char *doc, bool preregister)
{
    const char *src = getenv("RK_SOURCE_DIR"), *bin = getenv("RK_BIN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : "..", doc);
    char *lines[MAX_EXAMPLES];
    size_t n = examples(path, lines);
    assert_true(n >= 5);

    char *dir = rk_test_tmpdir();
    assert_non_null(dir);
    char link[1200], target[1024];
    snprintf(link, sizeof link, "%s/examples", dir);
    snprintf(target, sizeof target, "%s/examples", src ? src : "..");
    assert_int_equal(symlink(target, link), 0);
    rk_test_proc_t srv = {.pid = -1};
    assert_int_equal(rk_test_proc_start(&srv, "ruckus-server",
                                        (const char *const[]){"--port", "0", "--storage", "memory",
                                                              "--poll-interval", "0.2", NULL},
                                        NULL),
                     0);
    rk_test_agent_t ag;
    assert_int_equal(
        rk_test_agent_start(&ag, 1, (const char *const[]){"--name", "worker1", NULL}, NULL), 0);
    /* The README's other machine: an agent listening with a token. */
    rk_test_agent_t remote;
    assert_int_equal(
        rk_test_agent_start(
            &remote, 1, (const char *const[]){"--name", "worker", "--token", "SECRET", NULL}, NULL),
        0);
    char url[64], agent_url[64], remote_url[64], pathenv[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", srv.port);
    snprintf(agent_url, sizeof agent_url, "http://127.0.0.1:%u", ag.p.port);
    snprintf(remote_url, sizeof remote_url, "http://127.0.0.1:%u", remote.p.port);
    setenv("RUCKUS_SERVER_URL", url, 1);
    setenv("NO_COLOR", "1", 1);
    snprintf(pathenv, sizeof pathenv, "%s:%s", bin ? bin : "bin", getenv("PATH"));
    setenv("PATH", pathenv, 1);

    char exp[64] = "", job[64] = "";
    int failures = 0;
    if (preregister) {
        char reg[256], *out = NULL;
        snprintf(reg, sizeof reg, "ruckus agent register %s", agent_url);
        assert_int_equal(run(dir, reg, &out), 0);
        free(out);
    }
    for (size_t i = 0; i < n; i++) {
        /* Placeholders: the documented worker URLs and ids. */
        char *l = lines[i], *t;
        const char *subs[][2] = {{"http://worker1:8001", agent_url},
                                 {"http://worker:8081", remote_url},
                                 {"exp_...", exp},
                                 {"exp_81615b", exp},
                                 {"exp_1a2b3c", exp},
                                 {"job_...", job},
                                 {"job_16e10fbe", job}};
        for (size_t k = 0; k < sizeof subs / sizeof *subs; k++) {
            t = replace(l, subs[k][0], subs[k][1]);
            free(l);
            l = t;
        }
        char *out = NULL;
        int code = run(dir, l, &out);
        if (strstr(l, "experiment create"))
            first_id(out, "exp_", exp, sizeof exp);
        if (strstr(l, "experiment run"))
            first_id(out, "job_", job, sizeof job);
        if (code != 0) {
            fprintf(stderr, "%s: `%s` exited %d:\n%s\n", doc, l, code, out ? out : "");
            failures++;
        }
        free(out);
        free(l);
    }
    unsetenv("RUCKUS_SERVER_URL");
    rk_test_agent_cleanup(&ag);
    rk_test_agent_cleanup(&remote);
    rk_test_proc_stop(&srv, SIGTERM, 10000, NULL);
    rk_test_proc_cleanup(&srv);
    rk_test_rmrf(dir);
    free(dir);
    assert_int_equal(failures, 0);
}

static void test_readme_examples(void **state)
{
    (void)state;
    run_doc("README.md", true);
}

static void test_cli_doc_examples(void **state)
{
    (void)state;
    run_doc("docs/cli.md", false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_readme_examples),
                                       cmocka_unit_test(test_cli_doc_examples)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
