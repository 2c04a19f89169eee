#include "base/err.h"

const char *rk_strerror(int err)
{
    switch (err) {
    case RK_OK:
        return "success";
    case RK_ENOMEM:
        return "out of memory";
    case RK_EINVAL:
        return "invalid argument";
    case RK_ENOENT:
        return "not found";
    case RK_EEXIST:
        return "already exists";
    case RK_EIO:
        return "input/output error";
    case RK_ETOOBIG:
        return "too large";
    case RK_ETIMEDOUT:
        return "timed out";
    case RK_EBUSY:
        return "busy";
    case RK_ESTATE:
        return "not allowed in the current state";
    case RK_EPROTO:
        return "protocol error";
    case RK_ECONN:
        return "connection failed";
    case RK_EUNSUP:
        return "not supported";
    default:
        return "unknown error";
    }
}
