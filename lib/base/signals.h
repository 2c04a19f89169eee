/* The daemons' signals: SIGTERM and SIGINT end a daemon gracefully; SIGHUP
 * asks it to re-read its token files (and never ends it).
 *
 * rk_stop_signals_block must run before any thread is created, so every
 * thread inherits the mask and only the thread calling rk_stop_signals_wait
 * ever sees the signals (no handler runs at an arbitrary point). It also
 * ignores SIGPIPE: a peer that goes away must cost one failed write, not
 * the process.
 */
#ifndef RK_BASE_SIGNALS_H
#define RK_BASE_SIGNALS_H

#include <signal.h>

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
 * thread created after it), fills *set with them, and ignores SIGPIPE. */
void rk_stop_signals_block(sigset_t *set);
/* Waits for one of set's signals; returns its name ("SIGTERM", "SIGINT",
 * "SIGHUP"). */
const char *rk_stop_signals_wait(const sigset_t *set);

#endif
