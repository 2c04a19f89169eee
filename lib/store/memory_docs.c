/* The memory backend's documents: the slots doc_put, doc_replace, doc_get,
 * doc_list and doc_delete (store.h), kept in one sorted table keyed
 * "kind\x1fid".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "store/memory_int.h"

static char *doc_key(const char *kind, const char *id)
{
    char *k = NULL;
    return asprintf(&k, "%s\x1f%s", kind, id) < 0 ? NULL : k;
}

int mem__doc_put(rk_store_t *s, const char *kind, const char *id, const char *json)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id), *text = strdup(json);
    int rc = RK_ENOMEM;
    if (key && text) {
        mem__wlock(m);
        rc = mem__put_text(m, U_DOC, key, text);
        mem__unlock(m);
        text = NULL;
    }
    free(text);
    free(key);
    return rc;
}

int mem__doc_replace(rk_store_t *s, const char *kind, const char *id, const char *expect,
                     const char *json)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id), *text = strdup(json);
    int rc = RK_ENOMEM;
    if (key && text) {
        mem__wlock(m);
        const char *now = mem__table_get(&m->docs, key);
        rc = now && strcmp(now, expect) == 0 ? mem__put_text(m, U_DOC, key, text) : RK_ESTATE;
        if (rc != RK_ESTATE)
            text = NULL; /* mem__put_text took it, also on failure */
        mem__unlock(m);
    }
    free(text);
    free(key);
    return rc;
}

int mem__doc_get(rk_store_t *s, const char *kind, const char *id, char **json)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id);
    if (!key)
        return RK_ENOMEM;
    mem__rlock(m);
    const char *text = mem__table_get(&m->docs, key);
    int rc = !text ? RK_ENOENT : (*json = strdup(text)) ? 0 : RK_ENOMEM;
    mem__unlock(m);
    free(key);
    return rc;
}

int mem__doc_list(rk_store_t *s, const char *kind, char ***ids, char ***jsons, size_t *n)
{
    mem_t *m = M(s);
    size_t kl = strlen(kind);
    int rc = 0;
    mem__rlock(m);
    /* The table is sorted by key, so a kind's documents sit together. */
    char **iv = calloc(m->docs.n + 1, sizeof *iv), **jv = calloc(m->docs.n + 1, sizeof *jv);
    if (!iv || !jv)
        rc = RK_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; !rc && i < m->docs.n; i++) {
        const char *key = m->docs.v[i].id;
        if (strncmp(key, kind, kl) != 0 || key[kl] != '\x1f')
            continue;
        iv[k] = strdup(key + kl + 1);
        jv[k] = strdup(m->docs.v[i].text);
        k++;
        if (!iv[k - 1] || !jv[k - 1])
            rc = RK_ENOMEM;
    }
    mem__unlock(m);
    *ids = iv;
    *jsons = jv;
    *n = k;
    return rc;
}

int mem__doc_delete(rk_store_t *s, const char *kind, const char *id)
{
    mem_t *m = M(s);
    char *key = doc_key(kind, id);
    if (!key)
        return RK_ENOMEM;
    mem__wlock(m);
    int rc = mem__table_get(&m->docs, key) ? mem__put_text(m, U_DOC, key, NULL) : RK_ENOENT;
    mem__unlock(m);
    free(key);
    return rc;
}
