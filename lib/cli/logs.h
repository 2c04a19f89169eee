/* Reading a job's log to its end, and following a running job's.
 *
 * GET /jobs/{id}/logs?stream=S&offset=N answers at most one chunk (1 MiB at
 * the agent) from byte N, with X-Ruckus-Next-Offset (the offset after the
 * chunk), X-Ruckus-Log-Size (the file's size when read) and
 * X-Ruckus-Job-Finished (true once the job ended; the agent decides it
 * before it reads, so a finished answer holds the log's end). Without
 * those headers (a server that does not pass them through) the reader
 * falls back on the body: the next offset is N plus the chunk's length,
 * the log is read to its current end when a chunk comes back empty, and
 * whether the job ended is asked separately (before each read, so the
 * last read sees everything). The loop lives here, apart from the
 * transport, so tests drive it with scripted answers.
 */
#ifndef RK_CLI_LOGS_H
#define RK_CLI_LOGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"

/* Largest log answer taken (the agent sends at most 1 MiB at a time). */
#define RK_CLI_LOG_ANSWER_MAX (64u << 20)
/* How long a follower waits before asking again for new output. */
#define RK_CLI_LOG_POLL_MS 500

/* One answer: its text and the headers that came (has_*). */
typedef struct rk_cli_log_chunk {
    rk_buf_t text;
    bool has_next, has_size, has_finished;
    uint64_t next, size;
    bool finished;
} rk_cli_log_chunk_t;

typedef struct rk_cli_log_io {
    /* Fetches from offset into ch (text reset by the caller, capped at
     * RK_CLI_LOG_ANSWER_MAX; headers cleared). 0, or the exit code of a failure (already reported).
     */
    int (*fetch)(void *ud, uint64_t offset, rk_cli_log_chunk_t *ch);
    /* Whether the job ended: 1 yes, 0 no, or minus the exit code of a
     * failure (reported). Asked only while following without headers. */
    int (*ended)(void *ud);
    /* Waits RK_CLI_LOG_POLL_MS (tests: returns at once). */
    void (*pause)(void *ud);
    void *ud;
    FILE *err; /* where a bad answer is reported */
} rk_cli_log_io_t;

/* Copies the log to out from offset 0: to its current end, or with follow
 * until the job ended and all of it was read. Returns 0 or an exit code
 * (a failed fetch's, or RK_CLI_EXIT_FAILURE when out cannot be written or
 * an answer's next offset goes backwards). */
int rk_cli_logs_copy(const rk_cli_log_io_t *io, bool follow, FILE *out);

#endif
