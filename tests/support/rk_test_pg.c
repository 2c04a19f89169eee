/* Starts and stops the store tests' PostgreSQL (see rk_test_pg.h). */
#include "rk_test_pg.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
    bool tried;
    bool up;
    char why[256];
    char bindir[256];
    char dir[64];
    char data[96];
    char conninfo[128];
    char opts[256]; /* pg_ctl -o: the port, address and socket folder */
    int port;
    uid_t uid;
    gid_t gid;
    int n_db;
    int reaper_fd; /* write end of the reaper's pipe; closing it stops the server */
    pid_t reaper;
} pg;

/* Runs argv (argv[0] a program in bindir) as the server's user, output to
 * dir/cmd.log; its exit status, or -1. */
static int run_as(char *const argv[])
{
    char prog[512], log[128];
    snprintf(prog, sizeof prog, "%s/%s", pg.bindir, argv[0]);
    snprintf(log, sizeof log, "%s/cmd.log", pg.dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (geteuid() == 0 && (setgroups(0, NULL) || setgid(pg.gid) || setuid(pg.uid)))
            _exit(126);
        if (chdir(pg.dir))
            _exit(126);
        execv(prog, argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Stops the server (if it runs) and removes its folder. */
static void cleanup(void)
{
    if (pg.data[0]) {
        char *argv[] = {"pg_ctl", "-D", pg.data, "-m", "fast", "-w", "stop", NULL};
        char pid[128];
        snprintf(pid, sizeof pid, "%s/postmaster.pid", pg.data);
        if (access(pid, F_OK) == 0)
            run_as(argv);
    }
    if (pg.dir[0])
        nftw(pg.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The binary's exit: the reaper sees its pipe close and cleans up. */
static void stop(void)
{
    if (pg.reaper > 0) {
        close(pg.reaper_fd);
        waitpid(pg.reaper, NULL, 0);
        pg.reaper = 0;
    }
    pg.up = false;
}

/* A process of its own that waits for the test binary to go, however it
 * goes (exit, a failed assertion's abort, ctest's kill at a timeout), then
 * stops the server and removes its folder: no server outlives its test. */
static bool start_reaper(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC))
        return false;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        setsid();
        close(fds[1]);
        char c;
        while (read(fds[0], &c, 1) != 0)
            ;
        cleanup();
        _exit(0);
    }
    close(fds[0]);
    pg.reaper_fd = fds[1];
    pg.reaper = pid;
    atexit(stop);
    return true;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool find_bindir(void)
{
    const char *env = getenv("RK_PG_BINDIR");
    if (env && *env) {
        char initdb[300];
        snprintf(pg.bindir, sizeof pg.bindir, "%s", env);
        snprintf(initdb, sizeof initdb, "%s/initdb", env);
        return access(initdb, X_OK) == 0;
    }
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
        return false;
    /* Sorted: the last is the newest major version (single digits aside). */
    snprintf(pg.bindir, sizeof pg.bindir, "%s", g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    *strrchr(pg.bindir, '/') = '\0';
    return true;
}

static bool start(void)
{
    if (!find_bindir()) {
        snprintf(pg.why, sizeof pg.why,
                 "no PostgreSQL server binaries (initdb) found in %s: "
                 "install postgresql-15 or set RK_PG_BINDIR",
                 getenv("RK_PG_BINDIR") ? getenv("RK_PG_BINDIR") : "/usr/lib/postgresql/*/bin");
        return false;
    }
    pg.uid = geteuid();
    pg.gid = getegid();
    if (pg.uid == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            snprintf(pg.why, sizeof pg.why,
                     "running as root and there is no user postgres to "
                     "run PostgreSQL as");
            return false;
        }
        pg.uid = pw->pw_uid;
        pg.gid = pw->pw_gid;
    }
    snprintf(pg.dir, sizeof pg.dir, "/tmp/rk_pg_XXXXXX");
    if (!mkdtemp(pg.dir) || chown(pg.dir, pg.uid, pg.gid) || chmod(pg.dir, 0700)) {
        snprintf(pg.why, sizeof pg.why, "cannot make a folder for PostgreSQL in /tmp");
        pg.dir[0] = '\0';
        return false;
    }
    snprintf(pg.data, sizeof pg.data, "%s/data", pg.dir);
    if (!start_reaper()) {
        snprintf(pg.why, sizeof pg.why, "cannot start the process that stops PostgreSQL");
        rmdir(pg.dir);
        return false;
    }
    char *initdb[] = {"initdb", "-D",   pg.data,     "-U",         "postgres", "--auth=trust",
                      "-E",     "UTF8", "--no-sync", "--locale=C", NULL};
    if (run_as(initdb) != 0) {
        /* The folder goes with the reaper: its log's last line says why. */
        char log[128], line[200] = "", last[200] = "";
        snprintf(log, sizeof log, "%s/cmd.log", pg.dir);
        FILE *fp = fopen(log, "r");
        while (fp && fgets(line, sizeof line, fp))
            if (line[0] != '\n')
                snprintf(last, sizeof last, "%s", line);
        if (fp)
            fclose(fp);
        last[strcspn(last, "\n")] = '\0';
        snprintf(pg.why, sizeof pg.why, "initdb failed: %s", last);
        return false;
    }
    for (int attempt = 0; attempt < 3 && !pg.up; attempt++) {
        pg.port = free_port();
        char log[128];
        /* Benchmarks ask for a durable server (RK_PG_FSYNC=on). */
        const char *fs = getenv("RK_PG_FSYNC");
        snprintf(pg.opts, sizeof pg.opts,
                 "-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s"
                 " -c fsync=%s -c max_connections=80",
                 pg.port, pg.dir, fs && strcmp(fs, "on") == 0 ? "on" : "off");
        snprintf(log, sizeof log, "%s/server.log", pg.dir);
        char *ctl[] = {"pg_ctl", "-D", pg.data, "-l", log,     "-o",
                       pg.opts,  "-w", "-t",    "60", "start", NULL};
        pg.up = run_as(ctl) == 0;
    }
    if (!pg.up) {
        snprintf(pg.why, sizeof pg.why, "pg_ctl start failed (see %s/server.log)", pg.dir);
        return false;
    }
    snprintf(pg.conninfo, sizeof pg.conninfo, "host=127.0.0.1 port=%d user=postgres", pg.port);
    return true;
}

const char *rk_test_pg_server(const char **why)
{
    if (!pg.tried) {
        pg.tried = true;
        start();
    }
    if (why)
        *why = pg.why;
    return pg.up ? pg.conninfo : NULL;
}

/* Runs one statement on the server's postgres database; 0 or -1. */
static int admin(const char *sql)
{
    char ci[192];
    snprintf(ci, sizeof ci, "%s dbname=postgres", pg.conninfo);
    PGconn *c = PQconnectdb(ci);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc)
        fprintf(stderr, "test postgresql: %s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return rc;
}

int rk_test_pg_create_db(char *out, size_t cap)
{
    if (!rk_test_pg_server(NULL))
        return -1;
    char name[32], sql[64];
    snprintf(name, sizeof name, "rk_%d_%d", (int)getpid(), ++pg.n_db);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (admin(sql))
        return -1;
    snprintf(out, cap, "%s dbname=%s", pg.conninfo, name);
    return 0;
}

void rk_test_pg_drop_db(const char *conninfo)
{
    const char *name = strstr(conninfo, "dbname=");
    if (!pg.up || !name)
        return;
    char sql[96];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 7);
    admin(sql);
}

int rk_test_pg_kill(void)
{
    if (!pg.up)
        return -1;
    char *ctl[] = {"pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop", NULL};
    return run_as(ctl) == 0 ? 0 : -1;
}

int rk_test_pg_start_again(void)
{
    if (!pg.up)
        return -1;
    char log[128];
    snprintf(log, sizeof log, "%s/server.log", pg.dir);
    char *ctl[] = {"pg_ctl", "-D", pg.data, "-l", log,     "-o",
                   pg.opts,  "-w", "-t",    "60", "start", NULL};
    return run_as(ctl) == 0 ? 0 : -1;
}

int rk_test_pg_restart(void)
{
    if (!pg.up)
        return -1;
    char log[128];
    snprintf(log, sizeof log, "%s/server.log", pg.dir);
    char *ctl[] = {"pg_ctl", "-D", pg.data, "-l", log,       "-m",
                   "fast",   "-w", "-t",    "60", "restart", NULL};
    return run_as(ctl) == 0 ? 0 : -1;
}
