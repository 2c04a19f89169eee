/* Run a program to completion and capture what it prints: for tests of a
 * program's entry point (options, --help, exit codes, start/stop logging).
 *
 * Linked into the tests of the program modules (tests/server, tests/agent,
 * tests/cli) and tests/system. The wait is bounded, so a program that hangs
 * fails its test instead of hanging CI.
 *
 * Typical use:
 *     static rk_test_run_t r; // large: keep it off the stack
 *     assert_int_equal(rk_test_run(&r, "ruckus", (const char *[]){"--version", NULL}, 0), 0);
 *     assert_int_equal(r.code, 0);
 */
#ifndef RK_TEST_RUN_H
#define RK_TEST_RUN_H

#define RK_TEST_RUN_CAP 65536        /* bytes kept of each stream, NUL included */
#define RK_TEST_RUN_TIMEOUT_MS 30000 /* whole run, signal included */

typedef struct rk_test_run {
    int status;                /* raw waitpid status (WIFEXITED, WEXITSTATUS, ...) */
    int code;                  /* the exit code, or 128 + signal */
    char out[RK_TEST_RUN_CAP]; /* stdout, NUL-terminated; output past the cap is read and dropped */
    char err[RK_TEST_RUN_CAP]; /* stderr, likewise */
} rk_test_run_t;

/* Runs $RK_BIN_DIR/<prog> (default folder "bin"; prog may also be a path
 * with a '/') as argv[0] = prog followed by args (NULL-terminated, may be
 * NULL), in this process's environment, and waits for it to exit while
 * capturing both streams into *r (cleared first). With a stop_signal, sends
 * it once the program has logged "starting" on stderr. RK_ETIMEDOUT when it
 * has not exited after RK_TEST_RUN_TIMEOUT_MS (it is SIGKILLed and reaped);
 * RK_EIO/RK_ENOMEM when it could not be started. A program that cannot be
 * executed exits 127. */
int rk_test_run(rk_test_run_t *r, const char *prog, const char *const *args, int stop_signal);

#endif
