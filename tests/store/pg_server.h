/* A real PostgreSQL for the store tests (helper_pg.c, linked into every
 * tests/store binary): started on first use, once per test binary, and
 * stopped and removed when the binary exits.
 *
 * It runs from a fresh temporary folder (initdb as the unprivileged user
 * postgres when the tests run as root, chown'ed to it; as the current user
 * otherwise), listens on a free port on 127.0.0.1 only, with its socket in
 * that folder, trust authentication, and fsync off (the tests restart it
 * cleanly, never crash the machine). Binaries: RK_PG_BINDIR, or the newest
 * /usr/lib/postgresql/N/bin.
 */
#ifndef RK_TESTS_STORE_PG_SERVER_H
#define RK_TESTS_STORE_PG_SERVER_H

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

/* Restarts the server (pg_ctl restart, fast mode: sessions are cut);
 * 0 or -1. */
int rk_test_pg_restart(void);

#endif
