/* A real PostgreSQL for the tests (rk_test_pg.c, in tests/support, so the
 * store and the system tests can start one): started on first use, once
 * per test binary, and
 * stopped and removed when the binary exits.
 *
 * It runs from a fresh temporary folder (initdb as the unprivileged user
 * postgres when the tests run as root, chown'ed to it; as the current user
 * otherwise), listens on a free port on 127.0.0.1 only, with its socket in
 * that folder, trust authentication, and fsync off (the tests restart it
 * cleanly, never crash the machine; RK_PG_FSYNC=on turns it on, for the
 * benchmarks, which link this file too). Binaries: RK_PG_BINDIR, or the newest
 * /usr/lib/postgresql/N/bin.
 */
#ifndef RK_TESTS_SUPPORT_PG_H
#define RK_TESTS_SUPPORT_PG_H

#include <stddef.h>

/* The server's connection string without a database ("host=127.0.0.1
 * port=N user=postgres"), starting it on the first call; NULL when it
 * cannot run here, with why (one line) in *why. */
const char *rk_test_pg_server(const char **why);

/* Creates a fresh database and writes its connection string into out;
 * 0 or -1 (printed). */
int rk_test_pg_create_db(char *out, size_t cap);
/* Drops the database of a connection string rk_test_pg_create_db gave. */
void rk_test_pg_drop_db(const char *conninfo);

/* Stops the server at once (pg_ctl stop -m immediate: as a crash would,
 * every session cut) / starts it again on the same port and data. 0 or -1. */
int rk_test_pg_kill(void);
int rk_test_pg_start_again(void);

/* Restarts the server (pg_ctl restart, fast mode: sessions are cut);
 * 0 or -1. */
int rk_test_pg_restart(void);

#endif
