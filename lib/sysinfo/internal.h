/* Helpers shared by the sysinfo files; not part of the module's API. */
#ifndef RK_SYSINFO_INTERNAL_H
#define RK_SYSINFO_INTERNAL_H

#include <stddef.h>

/* Reads at most cap bytes of path into a new NUL-terminated string (free()
 * it); a longer file is cut at cap. NULL when it cannot be read or on
 * ENOMEM. */
char *rk_sysinfo_slurp(const char *path, size_t cap);

/* Copies the value of the first "key<spaces/tabs>: value" line of text
 * (key matched in full) into out[n], trimmed. 0 when found, RK_ENOENT. */
int rk_sysinfo_kv(const char *text, const char *key, char *out, size_t n);

#endif
