/* WAL checkpoints off the commit path.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL
 * past 1000 pages, on the committing thread: the job manager's commit then
 * copies and fsyncs the database file (a ~4 ms spike in its p99). So the
 * write connection has wal_autocheckpoint=0 and this thread, with its own
 * connection, checkpoints instead:
 * - PASSIVE every CKPT_PERIOD_MS when something was committed, or at once
 *   when a commit leaves more than CKPT_PAGES pages in the WAL. PASSIVE
 *   never waits for or blocks the writer or the readers; once all frames
 *   are copied, the next commit starts the WAL over from its beginning, so
 *   the file stays bounded.
 * - TRUNCATE once the store has been idle for CKPT_IDLE_MS, giving the disk
 *   space back. It needs the write lock: it is tried without waiting (no
 *   busy handler), and a writer that comes meanwhile waits for it at most
 *   one checkpoint of an idle store.
 * The wal hook (called by SQLite after each commit on the writer's thread)
 * only counts and, past the threshold, signals.
 */
#include <stdlib.h>
#include <time.h>

#include "base/deadline.h"
#include "base/err.h"
#include "base/log.h"
#include "store/sqlite_int.h"

#define CKPT_PERIOD_MS 200
#define CKPT_IDLE_MS 1000
#define CKPT_PAGES 1000

struct sq_ckpt {
    sqlite3 *db;  /* the checkpointer's own connection */
    sqlite3 *wdb; /* the write connection carrying the hook */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    uint64_t commits;  /* under mu: commits seen by the hook */
    int wal_pages;     /* under mu: WAL size after the last commit */
    bool stop;         /* under mu */
};

static int on_commit(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    sq_ckpt_t *k = ud;
    pthread_mutex_lock(&k->mu);
    k->commits++;
    k->wal_pages = pages;
    if (pages > CKPT_PAGES)
        pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return SQLITE_OK;
}

static void checkpoint(sq_ckpt_t *k, int mode)
{
    int log_frames = 0, done_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, mode, &log_frames, &done_frames);
    /* BUSY: a reader or the writer was in the way; the next round retries. */
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        rk_log_warn("sqlite store checkpoint failed", "error", sqlite3_errmsg(k->db));
}

static void *ckpt_main(void *arg)
{
    sq_ckpt_t *k = arg;
    uint64_t seen = 0;
    int idle_ms = 0;
    bool truncated = true; /* nothing written since open */
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec until =
            rk_deadline_timespec(rk_deadline_in_us(CKPT_PERIOD_MS * INT64_C(1000)));
        int w = 0;
        while (!k->stop && w == 0 && k->wal_pages <= CKPT_PAGES)
            w = pthread_cond_timedwait(&k->cv, &k->mu, &until);
        if (k->stop)
            break;
        bool busy = k->commits != seen;
        seen = k->commits;
        k->wal_pages = 0; /* until the next commit reports */
        pthread_mutex_unlock(&k->mu);
        if (busy) {
            checkpoint(k, SQLITE_CHECKPOINT_PASSIVE);
            idle_ms = 0;
            truncated = false;
        } else if (!truncated && (idle_ms += CKPT_PERIOD_MS) >= CKPT_IDLE_MS) {
            checkpoint(k, SQLITE_CHECKPOINT_TRUNCATE);
            truncated = true;
        }
        pthread_mutex_lock(&k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

int sq_ckpt_start(const char *path, bool sync_full, sqlite3 *wdb, sq_ckpt_t **out)
{
    sq_ckpt_t *k = calloc(1, sizeof *k);
    if (!k)
        return RK_ENOMEM;
    int rc = RK_EIO;
    rk_cond_init_mono(&k->cv);
    pthread_mutex_init(&k->mu, NULL);
    /* The checkpoint syncs as the connection running it says, so it gets
     * the writer's setting. No busy handler: it never waits for a lock. */
    if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(k->db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK) {
        rk_log_error("sqlite store: cannot open the checkpoint connection", "path", path, "error",
                     k->db ? sqlite3_errmsg(k->db) : "out of memory");
        goto fail;
    }
    if (pthread_create(&k->thread, NULL, ckpt_main, k) != 0) {
        rk_log_error("sqlite store: cannot start the checkpoint thread", "path", path);
        goto fail;
    }
    k->wdb = wdb;
    sqlite3_wal_hook(wdb, on_commit, k); /* replaces the auto-checkpoint hook */
    *out = k;
    return 0;
fail:
    sqlite3_close(k->db);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
    return rc;
}

void sq_ckpt_stop(sq_ckpt_t *k)
{
    if (!k)
        return;
    sqlite3_wal_hook(k->wdb, NULL, NULL);
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    sqlite3_close(k->db);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k);
}
