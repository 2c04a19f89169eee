/* The postgresql backend's dispatch leases (table leases: agent_id, owner,
 * expires_at). One statement takes or renews the lease when the agent has
 * none, its lease lapsed, or it is already the caller's; otherwise no row
 * changes and the answer is RK_EBUSY. Expiry is judged by the database's
 * clock, so the servers sharing it need not agree on the time.
 */
#include <stdio.h>

#include "base/err.h"
#include "store/pg_int.h"

int pg_lease_acquire(rk_store_t *base, const char *agent_id, const char *owner, int64_t ttl_ms)
{
    pg_store_t *s = PG(base);
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *v[3] = {agent_id, owner, ttl};
    pg_conn_t *c;
    int rc = pg_wbegin(s, false, &c);
    PGresult *r = rc ? NULL : pg_run(c, PG_LEASE, 3, v, &rc, "lease acquire");
    if (r) {
        rc = PQntuples(r) ? 0 : RK_EBUSY;
        PQclear(r);
    }
    return pg_wend(s, rc, false);
}
