/* A small OCI image for the tests (helper_image.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "helper_image.h"
#include "isolate/internal.h"

void helper_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st != 0)
        printf("command failed (%d): %s\n", st, cmd);
    assert_int_equal(st, 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Moves file into the layout's blobs, named by its digest; returns its
 * "sha256:..." digest in d and its size. */
static long add_blob(const char *layout, const char *file, char d[80])
{
    char hex[65], to[256];
    assert_int_equal(isolate__sha256_file(file, hex), 0);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    snprintf(d, 80, "sha256:%s", hex);
    snprintf(to, sizeof to, "%s/blobs/sha256/%s", layout, hex);
    assert_int_equal(rename(file, to), 0);
    return (long)st.st_size;
}

/* images/bb: an OCI layout of two layers. Layer 1 (gzip): bin/busybox,
 * bin/sh, etc/gone, d/a, d/b. Layer 2 (plain tar): etc/.wh.gone,
 * d/.wh..wh..opq, d/c, etc/hello. */
void build_image(const char *images, const char *work, char manifest_digest[80])
{
    char layout[128], l1[80], l2[80], cfg[80], man[80], path[256], json[2048];
    snprintf(layout, sizeof layout, "%s/bb", images);
    helper_sh("mkdir -p %s/blobs/sha256 %s/l1/bin %s/l1/etc %s/l1/d %s/l2/etc %s/l2/d", layout,
              work, work, work, work, work);
    helper_sh("cp /bin/busybox %s/l1/bin/busybox && ln -s busybox %s/l1/bin/sh && "
              "echo gone > %s/l1/etc/gone && echo a > %s/l1/d/a && echo b > %s/l1/d/b",
              work, work, work, work, work);
    helper_sh("touch %s/l2/etc/.wh.gone %s/l2/d/.wh..wh..opq && echo c > %s/l2/d/c && "
              "echo hello > %s/l2/etc/hello",
              work, work, work, work);
    helper_sh("tar -C %s/l1 -czf %s/l1.tar.gz . && tar -C %s/l2 -cf %s/l2.tar .", work, work, work,
              work);
    snprintf(path, sizeof path, "%s/l1.tar.gz", work);
    long s1 = add_blob(layout, path, l1);
    snprintf(path, sizeof path, "%s/l2.tar", work);
    long s2 = add_blob(layout, path, l2);
    snprintf(path, sizeof path, "%s/config.json", work);
    write_file(path, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
                     "\"diff_ids\":[]},\"config\":{}}");
    long sc = add_blob(layout, path, cfg);
    snprintf(json, sizeof json,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
             "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
             "\"digest\":\"%s\",\"size\":%ld},\"layers\":["
             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
             "\"size\":%ld},"
             "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
             "\"size\":%ld}]}",
             cfg, sc, l1, s1, l2, s2);
    snprintf(path, sizeof path, "%s/manifest.json", work);
    write_file(path, json);
    long sm = add_blob(layout, path, man);
    memcpy(manifest_digest, man, 80);
    snprintf(json, sizeof json,
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
             "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%ld}]}",
             man, sm);
    snprintf(path, sizeof path, "%s/index.json", layout);
    write_file(path, json);
    snprintf(path, sizeof path, "%s/oci-layout", layout);
    write_file(path, "{\"imageLayoutVersion\":\"1.0.0\"}");
}
