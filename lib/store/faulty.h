/* A store that fails on command: a wrapper over any backend whose slots
 * pass through until a test arms a fault (a seam, as beanstalkd's tests
 * swap its file allocator), so the callers' failure paths can be tested
 * without full disks, tmpfs tricks or sleeps.
 *
 * Not registered by name: tests and benchmarks wrap a store they opened.
 * One thread at a time, like the store it wraps.
 */
#ifndef RK_STORE_FAULTY_H
#define RK_STORE_FAULTY_H

#include "store/store.h"

/* The operations a fault can be armed on. */
typedef enum rk_faulty_op {
    RK_FAULTY_BEGIN,
    RK_FAULTY_COMMIT,
    RK_FAULTY_AGENT_PUT,
    RK_FAULTY_AGENT_DELETE,
    RK_FAULTY_JOB_INSERT,
    RK_FAULTY_JOB_SET_STATUS,
    RK_FAULTY_JOB_GET,
    RK_FAULTY_RESULT_PUT,
    RK_FAULTY_JOB_SET_PROGRESS,
    RK_FAULTY_DOC_PUT,
    RK_FAULTY_DOC_DELETE,
    RK_FAULTY_JOB_SET_PRIORITY,
    RK_FAULTY_JOB_PLACE,
    RK_FAULTY_RESULT_LIST_TEXT,
    RK_FAULTY_JOB_SET_EXTRA,
    RK_FAULTY_JOB_PURGE, /* both retention slots */
    RK_FAULTY_DOC_REPLACE,
    RK_FAULTY_JOB_FIND_KEY,
    RK_FAULTY_OP_COUNT
} rk_faulty_op_t;

/* Wraps inner (taken: closed with the wrapper) into *out. RK_ENOMEM:
 * inner is still the caller's. */
int rk_store_faulty_wrap(rk_store_t *inner, rk_store_t **out);
/* The next `times` calls of op on s (a wrapper) fail with rc after the
 * call skipped the inner store (a commit that fails rolls the inner
 * transaction back, as a real failed commit leaves nothing). `after`
 * calls pass first. times 0 disarms. */
void rk_store_faulty_arm(rk_store_t *s, rk_faulty_op_t op, int rc, unsigned after, unsigned times);
/* How many calls of op s has seen (failed ones included). */
unsigned long rk_store_faulty_calls(const rk_store_t *s, rk_faulty_op_t op);
/* Called before every commit reaches the inner store (fn may be NULL). */
void rk_store_faulty_on_commit(rk_store_t *s, void (*fn)(void *ud), void *ud);

#endif
