/* See rk_test_openapi.h. */
#include "rk_test_openapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_test.h"

static const char *const methods[] = {"get",  "put",   "post",  "delete", "options",
                                      "head", "patch", "trace", NULL};

typedef struct list {
    char **v;
    size_t n, cap;
} list_t;

static void list_add(list_t *l, const char *method, const char *path)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    size_t len = strlen(method) + strlen(path) + 2;
    char *s = malloc(len);
    if (!s)
        abort();
    snprintf(s, len, "%s %s", method, path);
    for (char *p = s; *p && *p != ' '; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    l->v[l->n++] = s;
}

static void list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static bool list_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* The {names} of a path template, each as "{name}" joined by ",", in
 * order into out. */
static void template_params(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    size_t len = 0;
    for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
        const char *q = strchr(p, '}');
        if (!q)
            break;
        int k = snprintf(out + len, n - len, "%s%.*s", len ? "," : "", (int)(q - p - 1), p + 1);
        if (k < 0 || (size_t)k >= n - len)
            break;
        len += (size_t)k;
    }
}

/* Adds the names of the `in: path` parameters of params (an array or NULL)
 * to out ("a,b"), skipping names already there. $refs are not used for
 * parameters in our documents; one would show up as a missing name. */
static void declared_params(const json_t *params, char *out, size_t n)
{
    size_t i;
    const json_t *p;
    json_array_foreach(params, i, p)
    {
        const char *in = json_string_value(json_object_get(p, "in"));
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!in || !name || strcmp(in, "path") != 0)
            continue;
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s", len ? "," : "", name);
    }
}

/* Sorts a comma-separated list in place so two spellings compare equal. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_csv(char *s)
{
    char *parts[16];
    size_t n = 0;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", s);
    for (char *t = strtok(copy, ","); t && n < 16; t = strtok(NULL, ","))
        parts[n++] = t;
    qsort(parts, n, sizeof *parts, cmp_str);
    char out[512] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%s", i ? "," : "", parts[i]);
    }
    strcpy(s, out);
}

/* The document's operations into l; parameter mismatches counted. */
static size_t doc_operations(const json_t *doc, list_t *l, const char *label)
{
    size_t bad = 0;
    const json_t *paths = json_object_get(doc, "paths");
    const char *path;
    json_t *item;
    if (!json_is_object(paths)) {
        fprintf(stderr, "%s: the document has no paths object\n", label);
        return 1;
    }
    json_object_foreach((json_t *)paths, path, item)
    {
        for (const char *const *m = methods; *m; m++) {
            const json_t *opv = json_object_get(item, *m);
            if (!opv)
                continue;
            list_add(l, *m, path);
            char want[512], have[512] = "";
            template_params(path, want, sizeof want);
            declared_params(json_object_get(item, "parameters"), have, sizeof have);
            declared_params(json_object_get(opv, "parameters"), have, sizeof have);
            sort_csv(want);
            sort_csv(have);
            if (strcmp(want, have) != 0) {
                fprintf(stderr, "%s: %s declares path parameters [%s], its template has [%s]\n",
                        label, l->v[l->n - 1], have, want);
                bad++;
            }
        }
    }
    return bad;
}

size_t rk_test_openapi_drift_list(char *const *routes, size_t n, const json_t *doc,
                                  const char *label)
{
    list_t ops = {0};
    size_t bad = doc_operations(doc, &ops, label);
    for (size_t i = 0; i < n; i++) {
        if (!list_has(ops.v, ops.n, routes[i])) {
            fprintf(stderr, "%s: route %s is registered but missing from the document\n", label,
                    routes[i]);
            bad++;
        }
    }
    for (size_t i = 0; i < ops.n; i++) {
        if (!list_has(routes, n, ops.v[i])) {
            fprintf(stderr, "%s: operation %s is in the document but not registered\n", label,
                    ops.v[i]);
            bad++;
        }
    }
    list_free(&ops);
    return bad;
}

typedef struct collect {
    list_t l;
    rk_test_route_skip_fn skip;
    void *ud;
} collect_t;

static int collect(const char *method, const char *pattern, void *ud)
{
    collect_t *c = ud;
    if (!c->skip || !c->skip(method, pattern, c->ud))
        list_add(&c->l, method, pattern);
    return 0;
}

size_t rk_test_openapi_drift(const rk_http_server_t *s, const json_t *doc,
                             rk_test_route_skip_fn skip, void *ud, const char *label)
{
    collect_t c = {.skip = skip, .ud = ud};
    size_t bad = rk_http_server_each_route(s, collect, &c) != 0;
    if (c.l.n == 0) {
        fprintf(stderr, "%s: no route registered\n", label);
        bad++;
    }
    bad += rk_test_openapi_drift_list(c.l.v, c.l.n, doc, label);
    list_free(&c.l);
    return bad;
}

char *rk_test_source_file(const char *rel, size_t *len)
{
    const char *root = getenv("RK_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root && *root ? root : ".", rel);
    return rk_test_read_file(path, len);
}
