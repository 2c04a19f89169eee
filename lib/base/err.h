/* Error codes shared by every module.
 *
 * Functions return 0 on success or a negative RK_E* code; output parameters
 * come last. A failed call leaves its objects in a state that can be freed.
 */
#ifndef RK_BASE_ERR_H
#define RK_BASE_ERR_H

enum {
    RK_OK = 0,
    RK_ENOMEM = -1,    /* allocation failed */
    RK_EINVAL = -2,    /* invalid argument or input (validation failed) */
    RK_ENOENT = -3,    /* no such object */
    RK_EEXIST = -4,    /* object already exists */
    RK_EIO = -5,       /* I/O or system call failed */
    RK_ETOOBIG = -6,   /* input over its size cap */
    RK_ETIMEDOUT = -7, /* deadline passed */
    RK_EBUSY = -8,     /* no capacity now; try again later */
    RK_ESTATE = -9,    /* not allowed in the object's current state */
    RK_EPROTO = -10,   /* peer answered something we cannot use */
    RK_ECONN = -11,    /* peer could not be reached */
    RK_EUNSUP = -12,   /* not supported here */
};

/* Static English text for an RK_E* code; never NULL. */
const char *rk_strerror(int err);

#endif
