/* Shared by tests/isolate: a small OCI image built from /bin/busybox. */
#ifndef RK_TESTS_HELPER_IMAGE_H
#define RK_TESTS_HELPER_IMAGE_H

/* Runs a shell command (printf-style); fails the test when it fails. */
void helper_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Builds <images>/bb, an OCI image layout of two layers, in scratch folder
 * work. Layer 1 (gzip): bin/busybox, bin/sh, etc/gone, d/a, d/b. Layer 2
 * (plain tar): etc/.wh.gone, d/.wh..wh..opq, d/c, etc/hello. The manifest's
 * digest goes to manifest_digest. */
void build_image(const char *images, const char *work, char manifest_digest[80]);

#endif
