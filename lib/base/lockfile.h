/* An advisory lock on a file, held for as long as a process uses it.
 *
 * The server takes it on its SQLite database file at start and keeps it
 * until it stops; `ruckus-server migrate` takes it on the file it copies
 * from. So a second server on the same file, or a migration from a file a
 * server is using, is refused with a clear message instead of two writers
 * racing. flock(2) locks are separate from the POSIX record locks SQLite
 * takes on the same file, and the kernel drops them when the process dies
 * (kill -9 included), so a crash never leaves a stale lock behind.
 */
#ifndef RK_BASE_LOCKFILE_H
#define RK_BASE_LOCKFILE_H

/* Opens path (which must exist) and takes an exclusive lock without
 * waiting. 0 and the descriptor in *fd (release with rk_lockfile_release),
 * RK_EBUSY when another process holds it, RK_ENOENT when path does not
 * exist, RK_EIO otherwise. */
int rk_lockfile_take(const char *path, int *fd);
/* Releases and closes; a negative fd is a no-op. */
void rk_lockfile_release(int fd);

#endif
