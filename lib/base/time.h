/* Wall-clock and monotonic time, and RFC 3339 timestamps.
 *
 * Timestamps travel as RFC 3339 UTC strings with a Z and microseconds
 * ("2026-11-23T13:07:37.123456Z") and are held as int64 microseconds since
 * the Unix epoch (rk_time_t).
 */
#ifndef RK_BASE_TIME_H
#define RK_BASE_TIME_H

#include <stdint.h>

typedef int64_t rk_time_t; /* microseconds since 1970-01-01T00:00:00Z */

/* Longest formatted timestamp plus its NUL. */
#define RK_TIME_STRLEN 32

/* Current wall-clock time. */
rk_time_t rk_time_now_us(void);
/* Monotonic clock in microseconds, for durations and deadlines. */
int64_t rk_time_mono_us(void);
/* Formats t as "YYYY-MM-DDTHH:MM:SS.ffffffZ" into out[RK_TIME_STRLEN]. */
void rk_time_format(rk_time_t t, char out[RK_TIME_STRLEN]);
/* Same with milliseconds, for log lines. */
void rk_time_format_ms(rk_time_t t, char out[RK_TIME_STRLEN]);
/* Parses an RFC 3339 timestamp: date, 'T' or 't' or ' ', time, optional
 * fraction (any digits; kept to microseconds), and 'Z' or a +hh:mm/-hh:mm
 * offset, which is applied. Years 0001..9999. RK_EINVAL for anything else,
 * including out-of-range fields ("2026-02-30T..."). */
int rk_time_parse(const char *s, rk_time_t *out);

#endif
