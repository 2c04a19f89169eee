/* Metrics in the Prometheus text exposition format (version 0.0.4): a
 * registry of counter, gauge and histogram families, each with up to
 * RK_PROM_MAX_LABELS label names, whose series are created on first use.
 *
 * Threads: every call takes the registry's one mutex; an update is a hash
 * lookup and an add, cheap enough for once per HTTP request. Scrape-time
 * values (a queue length, disk free) come from collectors that run, in
 * registration order, at the start of every render.
 *
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and label names
 * [a-zA-Z_][a-zA-Z0-9_]*; label values are escaped when rendered.
 */
#ifndef RK_BASE_PROM_H
#define RK_BASE_PROM_H

#include <stddef.h>

#include "base/buf.h"

#define RK_PROM_MAX_LABELS 4
#define RK_PROM_MAX_BUCKETS 24

typedef struct rk_prom rk_prom_t;
typedef struct rk_prom_family rk_prom_family_t;

typedef enum rk_prom_type {
    RK_PROM_COUNTER,
    RK_PROM_GAUGE,
    RK_PROM_HISTOGRAM,
} rk_prom_type_t;

/* A new empty registry (free with rk_prom_free); NULL on ENOMEM. */
rk_prom_t *rk_prom_new(void);
void rk_prom_free(rk_prom_t *r);

/* Registers a family; labels is NULL-terminated (may be NULL); buckets
 * (histograms only: ascending upper bounds, +Inf implied) n_buckets of
 * them. Returns the family (owned by r) or NULL for a bad name, too many
 * labels or buckets, a name already taken, or ENOMEM. */
rk_prom_family_t *rk_prom_family(rk_prom_t *r, const char *name, const char *help,
                                 rk_prom_type_t type, const char *const *labels,
                                 const double *buckets, size_t n_buckets);

/* Updates the series of f with these label values (as many as f has
 * label names; NULL for none). Counters only grow: a negative add is
 * ignored. A series that cannot be created (ENOMEM) is dropped silently:
 * metrics never fail the work they count. */
void rk_prom_add(rk_prom_family_t *f, const char *const *values, double v);
void rk_prom_set(rk_prom_family_t *f, const char *const *values, double v);
void rk_prom_observe(rk_prom_family_t *f, const char *const *values, double v);
/* Forgets every series of f (a gauge set afresh by a collector). */
void rk_prom_reset(rk_prom_family_t *f);

/* fn(r, ud) runs at the start of each render, under no lock: it may call
 * the update functions above. */
typedef void (*rk_prom_collect_fn)(rk_prom_t *r, void *ud);
int rk_prom_collector(rk_prom_t *r, rk_prom_collect_fn fn, void *ud);

/* Appends the whole registry in the text format to out. 0, or the error
 * of the buffer (RK_ETOOBIG, RK_ENOMEM). */
int rk_prom_render(rk_prom_t *r, rk_buf_t *out);

/* The Content-Type of rk_prom_render's output. */
#define RK_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
