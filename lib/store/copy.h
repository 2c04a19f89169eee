/* Copying one store into another: what `ruckus-server migrate` does.
 *
 * rk_store_copy reads everything a server keeps (agents, experiments, jobs
 * with their whole history, results, and the documents of the kinds the
 * caller names) from src and writes it into dst, which must hold no jobs,
 * agents or experiments yet. Jobs go in oldest first, so dst's sequence
 * numbers keep the queue order; writes are grouped into transactions of
 * RK_COPY_BATCH jobs (one commit per batch, as the job manager does).
 * Afterwards every count is compared between the two stores and a sample
 * of jobs (every stride-th, with history) and their results is read back
 * from both and compared field by field.
 *
 * Neither store may be used by anyone else meanwhile: the caller makes
 * sure of it (the migrate command holds the SQLite file's lock).
 */
#ifndef RK_STORE_COPY_H
#define RK_STORE_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define RK_COPY_BATCH 1000

/* What was copied (and found equal in the check). */
typedef struct rk_copy_counts {
    uint64_t agents, experiments, jobs, history, results, docs, checked;
} rk_copy_counts_t;

/* Called after each batch with what is done so far of the jobs. */
typedef void (*rk_copy_progress_fn)(void *ud, const char *what, uint64_t done, uint64_t total);

typedef struct rk_copy_opts {
    const char *const *doc_kinds; /* NULL-terminated; NULL = none */
    size_t sample_stride;         /* check every n-th job; 0 = 97 */
    rk_copy_progress_fn progress; /* optional */
    void *progress_ud;
} rk_copy_opts_t;

/* 0 with *out filled, or: RK_ESTATE when dst is not empty, RK_EIO when a
 * read or write fails or the check finds a difference (err says which
 * object and what), RK_ENOMEM. On failure dst may hold part of the copy:
 * the command tells the user to start again on an empty target. */
int rk_store_copy(rk_store_t *src, rk_store_t *dst, const rk_copy_opts_t *o, rk_copy_counts_t *out,
                  char *err, size_t errlen);

#endif
