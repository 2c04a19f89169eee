/* Monotonic deadlines: saturation, the timespec a monotonic condition
 * variable waits for, the poll timeout's rounding, and a timed wait that
 * really ends at its deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>

#include "base/deadline.h"
#include "base/time.h"

static void test_in_us(void **state)
{
    (void)state;
    int64_t t0 = rk_time_mono_us();
    int64_t d = rk_deadline_in_us(250000);
    int64_t t1 = rk_time_mono_us();
    assert_true(d >= t0 + 250000 && d <= t1 + 250000);
    assert_true(rk_deadline_in_us(0) >= t1);
    assert_true(rk_deadline_in_us(-5) >= t1 && rk_deadline_in_us(-5) <= rk_time_mono_us());
    assert_true(rk_deadline_in_us(INT64_MAX) == INT64_MAX); /* saturates */
}

static void test_timespec(void **state)
{
    (void)state;
    struct timespec ts = rk_deadline_timespec(INT64_C(12345678901));
    assert_int_equal(ts.tv_sec, 12345);
    assert_int_equal(ts.tv_nsec, 678901000L);
    ts = rk_deadline_timespec(999999);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 999999000L);
    ts = rk_deadline_timespec(-1);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 0);
    /* The same instant as CLOCK_MONOTONIC reads it, to the microsecond. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ts = rk_deadline_timespec((int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000);
    assert_int_equal(ts.tv_sec, now.tv_sec);
    assert_int_equal(ts.tv_nsec / 1000, now.tv_nsec / 1000);
}

/* ms_left(d) bracketed by the clock read before and after the call: it is
 * the rounded-up time left at some instant between them. */
static void assert_ms_left(int64_t in_us)
{
    int64_t before = rk_time_mono_us();
    int64_t d = before + in_us;
    int ms = rk_deadline_ms_left(d);
    int64_t after = rk_time_mono_us();
    int64_t hi = (d - before + 999) / 1000, lo = d - after <= 0 ? 0 : (d - after + 999) / 1000;
    if (ms < lo || ms > hi)
        fail_msg("%lld us ahead: %d ms, want %lld..%lld", (long long)in_us, ms, (long long)lo,
                 (long long)hi);
}

static void test_ms_left(void **state)
{
    (void)state;
    assert_int_equal(rk_deadline_ms_left(0), -1); /* none */
    assert_int_equal(rk_deadline_ms_left(1), 0);  /* long passed */
    assert_int_equal(rk_deadline_ms_left(rk_time_mono_us() - 10), 0);
    /* Rounded up: a wait never ends before the deadline. */
    assert_ms_left(1500);
    assert_ms_left(100500);
    assert_ms_left(2000000);
    assert_int_equal(rk_deadline_ms_left(INT64_MAX), INT_MAX);
}

/* A monotonic condition variable's timed wait ends at the deadline built
 * from mono us (not at a wall-clock reading of the same numbers). */
static void test_cond_wait_ends(void **state)
{
    (void)state;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    assert_int_equal(rk_cond_init_mono(&c), 0);
    int64_t t0 = rk_time_mono_us();
    struct timespec ts = rk_deadline_timespec(rk_deadline_in_us(30000));
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&c, &mu, &ts);
    pthread_mutex_unlock(&mu);
    int64_t took = rk_time_mono_us() - t0;
    /* On CLOCK_REALTIME these numbers are a time in 1970: it would end at
     * once. */
    assert_true(took >= 30000);
    assert_true(took < 5000000);
    pthread_cond_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_us),
        cmocka_unit_test(test_timespec),
        cmocka_unit_test(test_ms_left),
        cmocka_unit_test(test_cond_wait_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
