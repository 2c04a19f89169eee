/* What the backends share: the registered ops tables, the calling thread's
 * id (for "does this thread hold the open transaction"), and the text
 * codecs that store agents, experiments and results whole as JSON.
 * Internal to lib/store.
 */
#ifndef RK_STORE_STORE_INT_H
#define RK_STORE_STORE_INT_H

#include <stdbool.h>

#include "store/store.h"

extern const rk_store_ops_t rk_store_memory_ops;
extern const rk_store_ops_t rk_store_sqlite_ops;
extern const rk_store_ops_t rk_store_postgresql_ops;

/* The kernel id of the calling thread; never 0, so 0 means "nobody". */
long rk_store_tid(void);

/* Compact JSON text of a model, malloc'ed into *out; RK_ENOMEM. */
int rk_store_agent_to_text(const rk_registered_agent_t *a, char **out);
int rk_store_experiment_to_text(const rk_experiment_t *x, char **out);
int rk_store_result_to_text(const rk_result_t *r, char **out);
/* The reverse; RK_EIO (logged with what) when the stored text no longer
 * decodes, which means the store was damaged or written by another build. */
int rk_store_agent_from_text(const char *text, rk_registered_agent_t *out);
int rk_store_experiment_from_text(const char *text, rk_experiment_t *out);
int rk_store_result_from_text(const char *text, rk_result_t *out);

#endif
