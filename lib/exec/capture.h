/* One output stream of a child: the read end of its pipe, drained into a
 * size-capped log file, optionally keeping the last bytes in memory.
 *
 * The sink keeps reading past the cap (so the child never blocks on a full
 * pipe) but stops writing, and records that the log was truncated. The
 * file then holds exactly the first cap bytes.
 */
#ifndef RK_EXEC_CAPTURE_H
#define RK_EXEC_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of stderr kept in memory for a job's error message. */
#define RK_EXEC_TAIL_MAX 4096

typedef struct rk_exec_sink {
    int fd;            /* log file, -1 discards */
    size_t cap;        /* largest file size */
    uint64_t base;     /* bytes already in the file when it was opened (append) */
    uint64_t written;  /* bytes written to the file by this sink (it holds base + written) */
    uint64_t total;    /* bytes the child produced */
    bool truncated;    /* total went past cap */
    bool write_failed; /* a write to the file failed; later output is dropped */
    char *tail;        /* ring of RK_EXEC_TAIL_MAX bytes, NULL when not kept */
    size_t tail_pos;   /* next write position in the ring */
    char *path;        /* lazy sink: the file opened at the first byte (then freed) */
    bool append;       /* lazy sink: open mode of path */
} rk_exec_sink_t;

/* Opens path (created or truncated, 0644, close-on-exec); path NULL
 * discards. With keep_tail the last RK_EXEC_TAIL_MAX bytes are kept.
 * RK_EIO (errno set) or RK_ENOMEM on failure; the sink is then closed and
 * rk_exec_sink_close is still safe. */
int rk_exec_sink_open(rk_exec_sink_t *s, const char *path, size_t cap, bool keep_tail);
/* As rk_exec_sink_open, but with append an existing file is kept and
 * written after its end; cap then bounds the whole file (what was there
 * counts), so a file appended to by several runs never passes cap. */
int rk_exec_sink_open_ex(rk_exec_sink_t *s, const char *path, size_t cap, bool keep_tail,
                         bool append);
/* As rk_exec_sink_open_ex, but the file is opened (created, truncated or
 * appended to) only when the first byte arrives: a child that writes
 * nothing costs no file. Without output the file is not touched at all (an
 * existing one keeps its contents even without append), so use it on a path
 * that is new or appended to. A failure to open then counts as a failed
 * write (write_failed: the output is drained and dropped). path is copied.
 * RK_ENOMEM on failure, the sink closed. */
int rk_exec_sink_open_lazy(rk_exec_sink_t *s, const char *path, size_t cap, bool keep_tail,
                           bool append);
/* Closes the file and frees the tail; safe twice and on a zeroed sink
 * whose fd is -1. */
void rk_exec_sink_close(rk_exec_sink_t *s);
/* Takes n bytes the child wrote. */
void rk_exec_sink_feed(rk_exec_sink_t *s, const char *data, size_t n);
/* Reads fd (non-blocking) into the sink through buf until it would block.
 * Returns 1 at EOF, 0 when it would block, RK_EIO on a read error. */
int rk_exec_sink_drain(rk_exec_sink_t *s, int fd, char *buf, size_t bufsz);
/* Copies the kept tail, oldest byte first, NUL-terminated, into out
 * (outsz > RK_EXEC_TAIL_MAX holds all of it; a smaller out keeps the newest
 * bytes). Returns its length. */
size_t rk_exec_sink_tail(const rk_exec_sink_t *s, char *out, size_t outsz);

#endif
