/* Bearer tokens kept in files (--token-file and friends), so they stay out
 * of argv and the environment and can be rotated: a daemon re-reads its
 * files on SIGHUP.
 */
#ifndef RK_BASE_TOKENFILE_H
#define RK_BASE_TOKENFILE_H

#include <stddef.h>

/* Largest token file accepted, in bytes. */
#define RK_TOKEN_FILE_MAX 4096

/* Reads the token in path into *out (malloc'd; wipe it before freeing):
 * the whole file, one trailing "\n" or "\r\n" stripped. RK_EIO when the
 * file cannot be read, RK_EINVAL when it is empty, over RK_TOKEN_FILE_MAX,
 * or holds a NUL, CR, LF or other control character after the strip;
 * RK_ENOMEM. On failure why (may be NULL) says what was wrong, without
 * the file's content, and *out is NULL. */
int rk_token_file_read(const char *path, char **out, char *why, size_t whylen);

/* Wipes and frees a token; NULL is a no-op. */
void rk_token_free(char *token);

#endif
