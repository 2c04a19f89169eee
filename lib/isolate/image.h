/* Images without an engine: root file systems a job can run in.
 *
 * An images directory holds, one entry per image (its file name is the
 * image's name):
 *   - a directory: used as the root as it is;
 *   - an OCI image layout (a directory with an "oci-layout" file);
 *   - an archive file: an oci-archive (a tar of an OCI layout, what `podman
 *     save --format oci-archive` writes) or a root file system tarball.
 * Layouts and archives are unpacked once into a cache directory: an OCI
 * image at <cache>/<manifest sha256 hex>, with its layers applied in order
 * with whiteouts after every blob (manifest, config, layers) was checked
 * against its sha256 digest; a rootfs tarball at <cache>/<its sha256 hex>.
 * An archive file is found again through <cache>/by-file/<size-mtime-inode>,
 * a symlink to its unpacked copy. Unpacking goes to a temporary directory
 * renamed into place, so concurrent jobs share one finished copy and a
 * crash leaves only a ".tmp-*" directory that rk_image_cache_sweep removes.
 *
 * Unpacking runs in a short-lived forked child that loads libarchive with
 * dlopen: the calling process never maps it. rk_image_prepare blocks for
 * as long as unpacking takes (seconds for a large image); call it where a
 * job may wait (the job's own thread or child), not on an HTTP thread.
 */
#ifndef RK_ISOLATE_IMAGE_H
#define RK_ISOLATE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define RK_IMAGE_NAME_MAX 128
#define RK_IMAGE_DIGEST_MAX 72 /* "sha256:" + 64 hex digits + NUL */
/* Caps on what an image's JSON documents may hold: they are read whole. */
#define RK_IMAGE_JSON_CAP ((size_t)4 << 20)
#define RK_IMAGE_LAYERS_MAX 256

typedef struct rk_image_info {
    char name[RK_IMAGE_NAME_MAX];
    char kind[16];                    /* "directory", "oci-layout", "archive" */
    char digest[RK_IMAGE_DIGEST_MAX]; /* OCI: the manifest's digest; an archive: that of
                                        its unpacked copy once unpacked, else ""; a
                                        directory: "" */
    uint64_t size_bytes;              /* bytes of its files in the images directory */
} rk_image_info_t;

/* Whether name can name an image: one path component of 1..127 bytes of
 * [A-Za-z0-9._-], not starting with '.'. */
int rk_image_name_valid(const char *name);

/* Lists the images in images_dir (cache_dir, may be NULL, supplies the
 * digests of unpacked archives), sorted by name. *out is the caller's to
 * free(), also when *n is 0. */
int rk_image_list(const char *images_dir, const char *cache_dir, rk_image_info_t **out, size_t *n);

/* Makes image name ready and writes the directory to use as the job's root
 * into rootfs. RK_EINVAL for a bad name, RK_ENOENT when there is no such
 * image, RK_EPROTO when it is broken or a blob does not match its digest,
 * RK_EIO otherwise; err says which in every case. */
int rk_image_prepare(const char *images_dir, const char *cache_dir, const char *name, char *rootfs,
                     size_t rootfssz, char *err, size_t errsz);

/* Removes unpacked copies not used (prepared) for max_age_days, leftover
 * ".tmp-*" directories, and dangling by-file links; *removed counts them. */
int rk_image_cache_sweep(const char *cache_dir, unsigned max_age_days, size_t *removed);

#endif
