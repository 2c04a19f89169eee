/* Local models: each subfolder of the models folder holding a config.json
 * (the Hugging Face layout, format "huggingface") is one model, and so is
 * each *.gguf file (llama.cpp's format, "gguf"; named without the
 * extension). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "sysinfo/internal.h"
#include "sysinfo/sysinfo.h"

#define CONFIG_CAP (1u << 20) /* config.json files are a few KiB */
#define WALK_DEPTH 16
#define WALK_ENTRIES 200000 /* per model: bounds the time one scan can take */
#define MAX_MODELS 1000
#define MAX_ARCHITECTURES 16

/* Adds the apparent size of every regular file under dirfd to *bytes.
 * Symlinks to files count (Hugging Face snapshots are symlinks to blobs);
 * symlinked folders are not entered, so no loop is possible. */
static void walk_size(int dirfd, int depth, uint64_t *bytes, long *budget)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && (*budget)-- > 0) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < WALK_DEPTH) {
                int fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (fd >= 0)
                    walk_size(fd, depth + 1, bytes, budget);
            }
        } else if (S_ISLNK(st.st_mode)) {
            if (fstatat(dirfd, e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode))
                *bytes += (uint64_t)st.st_size;
        } else if (S_ISREG(st.st_mode)) {
            *bytes += (uint64_t)st.st_size;
        }
    }
    closedir(d); /* closes dirfd */
}

/* Copies model_type and architectures from config.json when it parses. */
static void add_config_fields(json_t *model, const char *config_path)
{
    char *text = rk_sysinfo_slurp(config_path, CONFIG_CAP);
    if (!text)
        return;
    json_t *cfg = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(cfg))
        goto out;
    json_t *mt = json_object_get(cfg, "model_type");
    if (json_is_string(mt) && json_string_length(mt) <= 128)
        json_object_set(model, "model_type", mt);
    json_t *archs = json_object_get(cfg, "architectures");
    if (json_is_array(archs)) {
        json_t *list = json_array();
        size_t i;
        json_t *a;
        json_array_foreach(archs, i, a)
        {
            if (i >= MAX_ARCHITECTURES)
                break;
            if (json_is_string(a) && json_string_length(a) <= 128)
                json_array_append(list, a);
        }
        json_object_set_new(model, "architectures", list);
    }
out:
    json_decref(cfg);
}

static int by_name(const void *a, const void *b)
{
    const json_t *ma = *(json_t *const *)a, *mb = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(ma, "name")),
                  json_string_value(json_object_get(mb, "name")));
}

int rk_sysinfo_models_scan(const char *models_dir, json_t **out)
{
    json_t **found = NULL;
    size_t n = 0;
    int rc = RK_ENOMEM;
    *out = json_array();
    if (!*out)
        return RK_ENOMEM;
    DIR *d = models_dir ? opendir(models_dir) : NULL;
    if (!d)
        return RK_OK;
    found = calloc(MAX_MODELS, sizeof *found);
    if (!found)
        goto out;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_MODELS) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096], config[4200];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", models_dir, e->d_name) >= sizeof path)
            continue;
        snprintf(config, sizeof config, "%s/config.json", path);
        struct stat st;
        size_t nlen = strlen(e->d_name);
        if (nlen > 5 && strcmp(e->d_name + nlen - 5, ".gguf") == 0 && stat(path, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(nlen - 5), e->d_name);
            json_t *m = json_pack("{s:s, s:s, s:I, s:s}", "name", name, "path", path, "size_bytes",
                                  (json_int_t)st.st_size, "format", "gguf");
            if (!m)
                goto out;
            found[n++] = m;
            continue;
        }
        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode) || stat(config, &st) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        uint64_t bytes = 0;
        long budget = WALK_ENTRIES;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
            walk_size(fd, 0, &bytes, &budget);
        json_t *m = json_pack("{s:s, s:s, s:I, s:s}", "name", e->d_name, "path", path, "size_bytes",
                              (json_int_t)bytes, "format", "huggingface");
        if (!m)
            goto out;
        add_config_fields(m, config);
        found[n++] = m;
    }
    qsort(found, n, sizeof *found, by_name);
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(*out, found[i]) < 0) {
            found[i] = NULL;
            goto out;
        }
        found[i] = NULL;
    }
    rc = RK_OK;
out:
    for (size_t i = 0; found && i < n; i++)
        json_decref(found[i]);
    free(found);
    closedir(d);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
