/* Text pieces of the CLI's human output: relative times, durations,
 * progress bars, metric values, CSV fields and terminal colours.
 *
 * Everything here is pure (the caller passes "now"), so the tests pin
 * exact strings. Functions that append to an rk_buf_t return 0, RK_ENOMEM
 * or RK_ETOOBIG.
 */
#ifndef RK_CLI_FORMAT_H
#define RK_CLI_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/time.h"
#include "model/enums.h"

/* Room for any text rk_cli_reltime or rk_cli_duration writes. */
#define RK_CLI_TIMESTR 32

/* ANSI escapes; empty strings when colour is off (see rk_cli_color_wanted). */
#define RK_CLI_RESET "\033[0m"
#define RK_CLI_BOLD "\033[1m"
#define RK_CLI_RED "\033[31m"
#define RK_CLI_GREEN "\033[32m"
#define RK_CLI_YELLOW "\033[33m"
#define RK_CLI_BLUE "\033[34m"
#define RK_CLI_DIM "\033[2m"

/* "just now" (under 5 s), "42 s ago", "3 min ago", "5 h ago", "2 days ago";
 * a time after now reads "in 3 min". t == 0 (never set) writes "-". */
void rk_cli_reltime(rk_time_t t, rk_time_t now, char out[RK_CLI_TIMESTR]);

/* Seconds as "850 ms", "12.3 s", "4 min 05 s", "2 h 07 min"; negative or
 * non-finite values write "-". */
void rk_cli_duration(double seconds, char out[RK_CLI_TIMESTR]);

/* Appends "[#########...........]  45%" with width cells between the
 * brackets; fraction is clamped to 0..1, NaN draws an empty bar. */
int rk_cli_progress_bar(double fraction, int width, rk_buf_t *out);

/* Appends a metric value: strings as they are, integers without a
 * fraction, other numbers with up to 4 significant decimals ("12.3457",
 * "0.000123", "1.5e+09"); NULL or other JSON types append "-". */
int rk_cli_value(const json_t *v, rk_buf_t *out);

/* Appends one CSV field (RFC 4180): quoted, with quotes doubled, when it
 * holds a comma, quote, CR or LF or starts or ends with a space. */
int rk_cli_csv_field(const char *s, rk_buf_t *out);

/* The colour that marks a job status (green completed, red failed and
 * timeout, yellow queued/assigned/cancelled, blue running) or an agent
 * status; "" when color is false. */
const char *rk_cli_job_color(rk_job_state_t s, bool color);
const char *rk_cli_agent_color(rk_agent_state_t s, bool color);

/* True when output to fd should be coloured: fd is a terminal and NO_COLOR
 * is unset or empty (https://no-color.org), and TERM is not "dumb". */
bool rk_cli_color_wanted(int fd);

/* Appends "key:          value\n" (values aligned at column 16). */
int rk_cli_kv(rk_buf_t *out, const char *key, const char *value);

/* Appends a one-line hardware summary of a system_info (or hardware_info)
 * object: "Intel Xeon E5-2680, 8 cores, x86_64, 31.2 GiB, 1x NVIDIA A100";
 * parts that are missing are left out, "-" when nothing is known. */
int rk_cli_hw_summary(const json_t *si, rk_buf_t *out);

/* Display width of s: UTF-8 code points, ANSI escape sequences skipped. */
size_t rk_cli_width(const char *s);

#endif
