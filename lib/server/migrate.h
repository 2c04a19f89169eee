/* `ruckus-server migrate`: the store-to-store copy as a subcommand of the
 * server program (see migrate.c for its arguments). */
#ifndef RK_SERVER_MIGRATE_H
#define RK_SERVER_MIGRATE_H

/* argv[0] is "migrate"; the rest are its options. Returns the process exit
 * code: 0 copied and checked, 1 failed, 2 bad usage. */
int rk_server_migrate_main(int argc, char **argv);

#endif
