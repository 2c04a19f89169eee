/* Shared between the files of lib/isolate; not part of its API. */
#ifndef RK_ISOLATE_INTERNAL_H
#define RK_ISOLATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct isolate__sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} isolate__sha256_t;

/* Incremental SHA-256 (FIPS 180-4). */
void isolate__sha256_init(isolate__sha256_t *s);
void isolate__sha256_update(isolate__sha256_t *s, const void *data, size_t n);
/* Writes the digest as 64 lowercase hex digits plus NUL. */
void isolate__sha256_hex(isolate__sha256_t *s, char hex[65]);

/* SHA-256 of a file's contents as hex; 0, or -errno when it cannot be read. */
int isolate__sha256_file(const char *path, char hex[65]);

/* Applies one layer (a tar, compressed or not) onto dir, whiteouts first,
 * through libarchive loaded with dlopen. Child processes only: it loads a
 * large library into the address space. 0, or -1 with err set. */
int isolate__layer_apply(const char *tar, const char *dir, char *err, size_t errsz);

/* Extracts a whole archive (a rootfs tarball or an oci-archive) into dir,
 * no whiteout handling. Child processes only. 0, or -1 with err set. */
int isolate__archive_extract(const char *tar, const char *dir, char *err, size_t errsz);

/* rm -rf of name under the directory dirfd without following symlinks
 * (a planted link cannot lead the removal out). 0 or -errno; a missing
 * name is 0. */
int isolate__remove_at(int dirfd, const char *name);

/* cgroup_probe.c: the mount points of every cgroup hierarchy (v1 and
 * v2) from /proc/self/mountinfo, at most cap of them; the count. */
#define ISOLATE__CG_MNT_MAX 256
int isolate__cg_mounts(char (*mnts)[ISOLATE__CG_MNT_MAX], int cap);

/* cgroup.c and cgroup_probe.c: the controllers' names, indexed like the
 * RK_CG_* bits, and reading a cgroup file. */
extern const char *const isolate__cg_ctrl_names[];
/* Reads dir/file into buf (NUL-terminated); its length or -errno. */
ssize_t isolate__cg_read(const char *dir, const char *file, char *buf, size_t sz);

#endif
