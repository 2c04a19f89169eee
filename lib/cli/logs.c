#include "cli/logs.h"

#include "cli/cli.h"

int rk_cli_logs_copy(const rk_cli_log_io_t *io, bool follow, FILE *out)
{
    rk_cli_log_chunk_t ch = {0};
    rk_buf_init(&ch.text, RK_CLI_LOG_ANSWER_MAX);
    uint64_t off = 0;
    /* Whether the last answer carried the offsets: then "ended" comes with
     * it; otherwise it is asked before each read. Assumed before the first
     * answer: without headers the first end reached only waits once more
     * before asking. */
    bool headers = true;
    int code = 0;
    for (;;) {
        int ended = 0;
        if (follow && !headers && (ended = io->ended(io->ud)) < 0) {
            code = -ended;
            break;
        }
        rk_buf_reset(&ch.text);
        ch.has_next = ch.has_size = ch.has_finished = ch.finished = false;
        if ((code = io->fetch(io->ud, off, &ch)))
            break;
        if (ch.text.len && fwrite(ch.text.data, 1, ch.text.len, out) != ch.text.len) {
            code = RK_CLI_EXIT_FAILURE;
            break;
        }
        fflush(out);
        uint64_t next = ch.has_next ? ch.next : off + ch.text.len;
        if (next < off) {
            fprintf(io->err, "ruckus: the log's next offset went backwards (%llu < %llu)\n",
                    (unsigned long long)next, (unsigned long long)off);
            code = RK_CLI_EXIT_FAILURE;
            break;
        }
        off = next;
        headers = ch.has_next && ch.has_size && ch.has_finished;
        /* Read to the current end? Without the size, an empty chunk says so;
         * a chunk that brought nothing never counts as more to read. */
        bool more = ch.text.len > 0 && (ch.has_size ? off < ch.size : true);
        if (more)
            continue;
        if (!follow)
            break;
        if (headers ? ch.finished : ended == 1)
            break;
        io->pause(io->ud);
    }
    rk_buf_cleanup(&ch.text);
    return code;
}
