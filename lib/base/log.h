/* Leveled logging to stderr: one line per event, key=value fields.
 *
 *   2026-11-23T13:07:37.123Z info  job dispatched job_id=job_1a2b3c4d agent_id=a1
 *
 * The message is free text; fields follow as key=value, values with spaces
 * or quotes are quoted. Thread-safe: each line is written with one write(2).
 * Secrets (tokens) must never be passed to these functions.
 */
#ifndef RK_BASE_LOG_H
#define RK_BASE_LOG_H

#include <stddef.h>

typedef enum rk_log_level {
    RK_LOG_DEBUG = 0,
    RK_LOG_INFO = 1,
    RK_LOG_WARN = 2,
    RK_LOG_ERROR = 3,
    RK_LOG_OFF = 4,
} rk_log_level_t;

/* Sets the lowest level written (default RK_LOG_INFO). */
void rk_log_set_level(rk_log_level_t level);
rk_log_level_t rk_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off"; RK_EINVAL otherwise. */
int rk_log_level_parse(const char *s, rk_log_level_t *out);
/* Redirects output to fd (default 2); for tests. */
void rk_log_set_fd(int fd);

/* Writes one line. The variadic part is key/value string pairs ending with
 * NULL: rk_log(RK_LOG_INFO, "job done", "job_id", id, "status", st, NULL).
 * A NULL value prints as "-". */
void rk_log(rk_log_level_t level, const char *msg, ...) __attribute__((sentinel));

/* Same with the fields as an array of npairs key/value pairs, for callers
 * that build the field list at run time (kv[2*i] key, kv[2*i+1] value). */
void rk_log_kv(rk_log_level_t level, const char *msg, const char *const *kv, size_t npairs);

#define rk_log_debug(...) rk_log(RK_LOG_DEBUG, __VA_ARGS__, (const char *)NULL)
#define rk_log_info(...) rk_log(RK_LOG_INFO, __VA_ARGS__, (const char *)NULL)
#define rk_log_warn(...) rk_log(RK_LOG_WARN, __VA_ARGS__, (const char *)NULL)
#define rk_log_error(...) rk_log(RK_LOG_ERROR, __VA_ARGS__, (const char *)NULL)

#endif
