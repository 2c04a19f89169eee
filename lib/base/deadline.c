#include "base/deadline.h"

#include "base/time.h"

int64_t rk_deadline_in_us(int64_t us)
{
    int64_t now = rk_time_mono_us();
    if (us <= 0)
        return now;
    return us > INT64_MAX - now ? INT64_MAX : now + us;
}

struct timespec rk_deadline_timespec(int64_t deadline_us)
{
    struct timespec ts = {0, 0};
    if (deadline_us <= 0)
        return ts;
    ts.tv_sec = (time_t)(deadline_us / 1000000);
    ts.tv_nsec = (long)(deadline_us % 1000000) * 1000L;
    return ts;
}

int rk_deadline_ms_left(int64_t deadline_us)
{
    if (deadline_us == 0)
        return -1;
    int64_t d = deadline_us - rk_time_mono_us();
    if (d <= 0)
        return 0;
    int64_t ms = d / 1000 + (d % 1000 != 0);
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int rk_cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}
