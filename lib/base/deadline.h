/* Deadlines on the monotonic clock, and the conversions every wait needs.
 *
 * A deadline is an int64 of rk_time_mono_us() microseconds (0: none). The
 * helpers turn one into what each wait takes: the absolute timespec of
 * pthread_cond_timedwait on a condition variable set to CLOCK_MONOTONIC
 * (rk_cond_init_mono), or the millisecond timeout of poll and epoll_wait.
 * One copy of the carry and rounding rules, so a wall-clock step (NTP,
 * a suspended VM) moves no timeout and no wait wakes a millisecond early
 * only to spin.
 */
#ifndef RK_BASE_DEADLINE_H
#define RK_BASE_DEADLINE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* rk_time_mono_us() + us, saturating at INT64_MAX; us <= 0 gives now. */
int64_t rk_deadline_in_us(int64_t us);

/* The CLOCK_MONOTONIC timespec of deadline (mono us), for
 * pthread_cond_timedwait on a condition variable made by
 * rk_cond_init_mono. A negative deadline gives the epoch of the clock
 * (already passed). */
struct timespec rk_deadline_timespec(int64_t deadline_us);

/* Milliseconds from now until deadline, rounded up (a wait never ends
 * before it), 0 once passed, at most INT32_MAX: a poll/epoll_wait
 * timeout. A deadline of 0 (none) gives -1 (wait without end). */
int rk_deadline_ms_left(int64_t deadline_us);

/* Initializes c to measure timed waits on CLOCK_MONOTONIC. 0, or the
 * pthread error (c is then not initialized). */
int rk_cond_init_mono(pthread_cond_t *c);

#endif
