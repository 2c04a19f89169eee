/* `ruckus-server migrate --from STORE --to STORE`: copies everything a
 * server keeps from one store into a new one (store/copy.h does the copy
 * and the check) and prints what it copied.
 *
 * STORE is `sqlite:PATH` or a `postgresql://` (or `postgres://`) URL. The
 * source SQLite file must exist and is locked for the whole copy
 * (base/lockfile.h): a server running on it holds that lock, so migrating
 * from a live server is refused, and no server can start on it meanwhile.
 * The target must be empty. Progress goes to stderr, the summary to stdout
 * (one JSON object with --json).
 */
#include "server/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/config.h"
#include "base/err.h"
#include "base/lockfile.h"
#include "base/log.h"
#include "server/internal.h"
#include "server/schedules.h"
#include "server/webhooks.h"
#include "store/copy.h"

typedef struct migrate_settings {
    char *from, *to;
    bool json, quiet;
} migrate_settings_t;

#define S migrate_settings_t
static const rk_config_option_t options[] = {
    {.name = "from",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, from),
     .metavar = "STORE",
     .flags = RK_CONFIG_NONEMPTY,
     .help = "Store to copy from: sqlite:PATH or a postgresql:// URL (required)"},
    {.name = "to",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(S, to),
     .metavar = "STORE",
     .flags = RK_CONFIG_NONEMPTY,
     .help = "Empty store to copy into: sqlite:PATH or a postgresql:// URL (required)"},
    {.name = "json",
     .type = RK_CONFIG_BOOL,
     RK_CONFIG_FIELD(S, json),
     .help = "Print the summary as one JSON object"},
    {.name = "quiet",
     .type = RK_CONFIG_BOOL,
     RK_CONFIG_FIELD(S, quiet),
     .help = "No progress lines on stderr"},
};
#undef S

static int check(const void *settings, char *err, size_t errlen)
{
    const migrate_settings_t *s = settings;
    if (!s->from || !s->to) {
        snprintf(err, errlen, "ruckus-server migrate: --from and --to are both required");
        return RK_EINVAL;
    }
    return RK_OK;
}

static const rk_config_spec_t spec = {
    .program = "ruckus-server migrate",
    .usage = "--from STORE --to STORE [--json]",
    .summary = "Copies agents, experiments, jobs with their history, results, baselines and "
               "agent tokens into a new, empty store, then checks counts and a sample.",
    .examples = "  ruckus-server migrate --from sqlite:datastore/ruckus.db --to "
                "postgresql://ruckus@db.example.com/ruckus\n"
                "  ruckus-server migrate --from sqlite:old.db --to sqlite:new.db --json\n",
    .options = options,
    .count = sizeof options / sizeof options[0],
    .check = check,
};

/* The backend and location of a STORE argument; false when it is neither
 * form. */
static bool parse_store(const char *arg, const char **backend, const char **where)
{
    if (strncmp(arg, "sqlite:", 7) == 0 && arg[7]) {
        *backend = "sqlite";
        *where = arg + 7;
        return true;
    }
    if (strncmp(arg, "postgresql://", 13) == 0 || strncmp(arg, "postgres://", 11) == 0) {
        *backend = "postgresql";
        *where = arg;
        return true;
    }
    return false;
}

static void progress(void *ud, const char *what, uint64_t done, uint64_t total)
{
    (void)ud;
    if (total)
        fprintf(stderr, "migrate: %s %llu/%llu\n", what, (unsigned long long)done,
                (unsigned long long)total);
    else
        fprintf(stderr, "migrate: %s %llu\n", what, (unsigned long long)done);
}

/* Every document kind the server keeps; a kind missing here would not be
 * migrated, so a new one is added here with its owner. */
static const char *const doc_kinds[] = {
    RK_SRV_TOKEN_DOC,          RK_SRV_BASELINE_DOC, RK_SRV_SCHED_DOC,    RK_SRV_ATTEMPT_DOC,
    RK_SRV_RESULT_ATTEMPT_DOC, SRV_HOOKS_DOC,       RK_SRV_SCHEDULE_DOC, NULL};

static int run(const migrate_settings_t *s)
{
    const char *fb, *fw, *tb, *tw;
    if (!parse_store(s->from, &fb, &fw) || !parse_store(s->to, &tb, &tw)) {
        fprintf(stderr,
                "ruckus-server migrate: --%s: expected sqlite:PATH or a postgresql:// URL\n",
                parse_store(s->from, &fb, &fw) ? "to" : "from");
        return 2;
    }
    if (strcmp(fb, "sqlite") == 0 && strcmp(tb, "sqlite") == 0 && strcmp(fw, tw) == 0) {
        fprintf(stderr, "ruckus-server migrate: --from and --to are the same file\n");
        return 2;
    }
    rk_log_set_level(RK_LOG_WARN); /* the stores' open lines are noise here */
    int lock = -1, code = 1;
    rk_store_t *src = NULL, *dst = NULL;
    if (strcmp(fb, "sqlite") == 0) {
        char *file = rk_store_sqlite_file(fw);
        int rc = file ? rk_lockfile_take(file, &lock) : RK_EINVAL;
        free(file);
        if (rc) {
            fprintf(stderr,
                    rc == RK_EBUSY
                        ? "ruckus-server migrate: refusing to migrate from %s: a running "
                          "ruckus-server is using it (stop it first)\n"
                    : rc == RK_ENOENT ? "ruckus-server migrate: %s: no such file\n"
                    : rc == RK_EINVAL ? "ruckus-server migrate: %s: not a sqlite location (PATH "
                                        "or PATH?synchronous=full)\n"
                                      : "ruckus-server migrate: %s: cannot open it\n",
                    fw);
            return 1;
        }
        struct stat sb;
        if (fstat(lock, &sb) == 0 && sb.st_size == 0) {
            fprintf(stderr, "ruckus-server migrate: %s is empty: not a ruckus database\n", fw);
            rk_lockfile_release(lock);
            return 1;
        }
    }
    if (rk_store_open(fb, fw, &src)) {
        fprintf(stderr, "ruckus-server migrate: cannot open the source store %s\n",
                strcmp(fb, "sqlite") == 0 ? s->from : "(postgresql)");
        goto out;
    }
    if (rk_store_open(tb, tw, &dst)) {
        fprintf(stderr, "ruckus-server migrate: cannot open the target store %s\n",
                strcmp(tb, "sqlite") == 0 ? s->to : "(postgresql)");
        goto out;
    }
    rk_copy_opts_t o = {.doc_kinds = doc_kinds, .progress = s->quiet ? NULL : progress};
    rk_copy_counts_t c;
    char err[512];
    int rc = rk_store_copy(src, dst, &o, &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ruckus-server migrate: %s\n", err);
        goto out;
    }
    if (s->json)
        printf("{\"agents\":%llu,\"experiments\":%llu,\"jobs\":%llu,\"history\":%llu,"
               "\"results\":%llu,\"documents\":%llu,\"checked\":%llu}\n",
               (unsigned long long)c.agents, (unsigned long long)c.experiments,
               (unsigned long long)c.jobs, (unsigned long long)c.history,
               (unsigned long long)c.results, (unsigned long long)c.docs,
               (unsigned long long)c.checked);
    else
        printf("migrated %llu agents, %llu experiments, %llu jobs (%llu status changes), %llu "
               "results, %llu documents; counts equal, %llu jobs compared\n",
               (unsigned long long)c.agents, (unsigned long long)c.experiments,
               (unsigned long long)c.jobs, (unsigned long long)c.history,
               (unsigned long long)c.results, (unsigned long long)c.docs,
               (unsigned long long)c.checked);
    code = 0;
out:
    rk_store_close(dst);
    rk_store_close(src);
    rk_lockfile_release(lock);
    return code;
}

int rk_server_migrate_main(int argc, char **argv)
{
    migrate_settings_t s = {0};
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    int rc = rk_config_load(&spec, argc, argv, &s, &res, err, sizeof err);
    int code;
    if (rc)
        fprintf(stderr, "%s\n", err[0] ? err : rk_strerror(rc)), code = 2;
    else if (res.action != RK_CONFIG_RUN)
        code = rk_config_print(&spec, res.action, stdout);
    else
        code = run(&s);
    rk_config_cleanup(&spec, &s);
    return code;
}
