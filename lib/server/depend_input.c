/* Job dependencies as submitters give them (handler threads; see
 * depend.h): `depends_on`, `dependency` and a batch entry's
 * `depends_on_index`, validated before anything is stored. A named job
 * must exist (404 naming it); a finished one is fine (the manager judges
 * it at once). Within a batch an entry may not depend on itself nor take
 * part in a cycle (422 naming the entry and the cycle).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/depend.h"

int rk_srv_deps_parse(rk_server_t *srv, const json_t *body, const char *path, bool in_batch,
                      rk_http_resp_t *resp, json_t **extra)
{
    char fp[RK_PATH_MAX], ip[RK_PATH_MAX];
    const json_t *on = json_object_get(body, "depends_on");
    const json_t *how = json_object_get(body, "dependency");
    const json_t *idx = json_object_get(body, "depends_on_index");
    if (json_is_null(on))
        on = NULL;
    if (json_is_null(idx))
        idx = NULL;
    if (how && !json_is_null(how) &&
        (!json_is_string(how) || (strcmp(json_string_value(how), "afterok") != 0 &&
                                  strcmp(json_string_value(how), "afterany") != 0))) {
        rk_path_key(fp, path, "dependency");
        rk_http_resp_errorf(resp, 422, "%s: expected afterok or afterany", fp);
        return RK_EINVAL;
    }
    if (idx && !in_batch) {
        rk_path_key(fp, path, "depends_on_index");
        rk_http_resp_errorf(resp, 422, "%s: only in an entry of POST /jobs/batch", fp);
        return RK_EINVAL;
    }
    rk_path_key(fp, path, "depends_on");
    if (on && (!json_is_array(on) || json_array_size(on) > RK_SRV_DEPS_MAX)) {
        rk_http_resp_errorf(resp, 422, "%s: expected an array of at most %d job ids", fp,
                            RK_SRV_DEPS_MAX);
        return RK_EINVAL;
    }
    if (!json_array_size(on) && !json_array_size(idx))
        return 0; /* no dependency: dependency alone changes nothing */
    json_t *ids = json_array(), *seen = json_object();
    int rc = ids && seen ? 0 : RK_ENOMEM;
    size_t i;
    const json_t *v;
    json_array_foreach(on, i, v)
    {
        if (rc)
            break;
        rk_path_index(ip, fp, i);
        const char *id = json_string_value(v);
        if (!id || !rk_id_valid(id)) {
            rk_http_resp_errorf(resp, 422, "%s: expected a job id (" RK_ID_RULE ")", ip);
            rc = RK_EINVAL;
            break;
        }
        if (json_object_get(seen, id))
            continue;
        rk_job_info_t ji = {0};
        rc = rk_store_job_get(srv->store, id, false, &ji);
        rk_job_info_cleanup(&ji);
        if (rc) {
            rk_srv_store_errorf(resp, rc, "%s: job %s", ip, id);
            break;
        }
        json_object_set_new(seen, id, json_true());
        json_array_append_new(ids, json_string(id));
    }
    if (!rc) {
        if (!*extra && !(*extra = json_object()))
            rc = RK_ENOMEM;
        else if (json_object_set(*extra, "depends_on", ids) ||
                 json_object_set_new(
                     *extra, "dependency",
                     json_string(how && json_is_string(how) ? json_string_value(how) : "afterok")))
            rc = RK_ENOMEM;
        if (rc)
            rk_http_resp_error(resp, 500, "out of memory");
    } else if (rc == RK_ENOMEM) {
        rk_http_resp_error(resp, 500, "out of memory");
    }
    json_decref(ids);
    json_decref(seen);
    return rc;
}

/* ---- a batch's own graph ---- */

typedef struct graph {
    size_t n;
    size_t **deps; /* deps[i]: the entries entry i depends on */
    size_t *nd;
} graph_t;

static void graph_cleanup(graph_t *g)
{
    for (size_t i = 0; g->deps && i < g->n; i++)
        free(g->deps[i]);
    free(g->deps);
    free(g->nd);
}

/* Reads every entry's depends_on_index (range and self checked). */
static int graph_read(const json_t *arr, size_t n, graph_t *g, rk_http_resp_t *resp)
{
    g->n = n;
    g->deps = calloc(n, sizeof *g->deps);
    g->nd = calloc(n, sizeof *g->nd);
    if (!g->deps || !g->nd) {
        rk_http_resp_error(resp, 500, "out of memory");
        return RK_ENOMEM;
    }
    size_t edges = 0;
    for (size_t i = 0; i < n; i++) {
        char ep[RK_PATH_MAX], fp[RK_PATH_MAX], ip[RK_PATH_MAX];
        rk_path_index(ep, "jobs", i);
        rk_path_key(fp, ep, "depends_on_index");
        const json_t *idx = json_object_get(json_array_get(arr, i), "depends_on_index");
        if (!idx || json_is_null(idx))
            continue;
        if (!json_is_array(idx)) {
            rk_http_resp_errorf(resp, 422, "%s: expected an array of entry indexes", fp);
            return RK_EINVAL;
        }
        size_t m = json_array_size(idx);
        if ((edges += m) > RK_SRV_DEPS_MAX) {
            rk_http_resp_errorf(resp, 422, "%s: more than %d dependencies in the batch", fp,
                                RK_SRV_DEPS_MAX);
            return RK_EINVAL;
        }
        if (m && !(g->deps[i] = calloc(m, sizeof **g->deps))) {
            rk_http_resp_error(resp, 500, "out of memory");
            return RK_ENOMEM;
        }
        for (size_t k = 0; k < m; k++) {
            rk_path_index(ip, fp, k);
            const json_t *v = json_array_get(idx, k);
            json_int_t at = json_is_integer(v) ? json_integer_value(v) : -1;
            if (!json_is_integer(v) || at < 0 || (size_t)at >= n) {
                rk_http_resp_errorf(resp, 422,
                                    "%s: expected the index of another entry, 0 to %zu (the "
                                    "batch has %zu entries)",
                                    ip, n - 1, n);
                return RK_EINVAL;
            }
            if ((size_t)at == i) {
                rk_http_resp_errorf(resp, 422, "%s: entry %zu cannot depend on itself", ip, i);
                return RK_EINVAL;
            }
            g->deps[i][g->nd[i]++] = (size_t)at;
        }
    }
    return 0;
}

/* The first dependency of entry i still left after Kahn's pass (each
 * left entry has one). */
static size_t next_left(const graph_t *g, const size_t *left, size_t i)
{
    for (size_t k = 0; k < g->nd[i]; k++)
        if (left[g->deps[i][k]])
            return g->deps[i][k];
    return i;
}

/* Kahn's algorithm over the entries; what is left is on or behind a
 * cycle, which a walk along remaining dependencies finds. O(entries +
 * edges). */
static int graph_acyclic(const graph_t *g, rk_http_resp_t *resp)
{
    size_t n = g->n, total = 0;
    size_t *left = calloc(n, sizeof *left), *start = calloc(n + 1, sizeof *start);
    size_t *rev = NULL, *queue = calloc(n, sizeof *queue), *seen = calloc(n, sizeof *seen);
    int rc = left && start && queue && seen ? 0 : RK_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        total += g->nd[i];
    if (!rc && !(rev = calloc(total ? total : 1, sizeof *rev)))
        rc = RK_ENOMEM;
    if (rc) {
        rk_http_resp_error(resp, 500, "out of memory");
        goto out;
    }
    /* rev: who depends on entry k, as one array sliced by start[]. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nd[i]; k++)
            start[g->deps[i][k] + 1]++;
    for (size_t k = 0; k < n; k++)
        start[k + 1] += start[k];
    size_t *fill = calloc(n, sizeof *fill);
    if (!fill) {
        rk_http_resp_error(resp, 500, "out of memory");
        rc = RK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < g->nd[i]; k++) {
            size_t d = g->deps[i][k];
            rev[start[d] + fill[d]++] = i;
        }
    free(fill);
    size_t qh = 0, qt = 0;
    for (size_t i = 0; i < n; i++)
        if (!(left[i] = g->nd[i]))
            queue[qt++] = i;
    while (qh < qt) {
        size_t d = queue[qh++];
        for (size_t r = start[d]; r < start[d + 1]; r++)
            if (--left[rev[r]] == 0)
                queue[qt++] = rev[r];
    }
    if (qt == n)
        goto out;
    /* A cycle: from a remaining entry, follow the first remaining
     * dependency until an entry repeats; from that one the same walk goes
     * round the cycle. */
    size_t cur = 0;
    while (!left[cur])
        cur++;
    for (size_t step = 0; !seen[cur]; step++) {
        seen[cur] = step + 1;
        cur = next_left(g, left, cur);
    }
    char path[512];
    size_t len = 0, first = cur;
    do {
        int w = snprintf(path + len, sizeof path - len, "jobs[%zu] -> ", cur);
        len += w > 0 && (size_t)w < sizeof path - len ? (size_t)w : 0;
        cur = next_left(g, left, cur);
    } while (cur != first && len < sizeof path - 32);
    rk_http_resp_errorf(resp, 422,
                        "jobs[%zu].depends_on_index: a dependency cycle in the batch: %sjobs[%zu]",
                        first, path, first);
    rc = RK_EINVAL;
out:
    free(left);
    free(start);
    free(rev);
    free(queue);
    free(seen);
    return rc;
}

int rk_srv_deps_check_batch(const json_t *arr, size_t n, rk_http_resp_t *resp)
{
    graph_t g = {0};
    int rc = graph_read(arr, n, &g, resp);
    if (!rc)
        rc = graph_acyclic(&g, resp);
    graph_cleanup(&g);
    return rc;
}

/* The entries entry i's depends_on_index names, each once (a repeat
 * adds nothing), into out; returns how many. */
static size_t named_entries(const json_t *idx, size_t i, size_t *mark, size_t *out)
{
    size_t k, m = 0;
    const json_t *v;
    json_array_foreach(idx, k, v)
    {
        size_t e = (size_t)json_integer_value(v);
        if (mark[e] == i + 1)
            continue;
        mark[e] = i + 1;
        out[m++] = e;
    }
    return m;
}

int rk_srv_deps_apply_batch(const json_t *arr, size_t n, const size_t *first, const size_t *count,
                            rk_job_info_t *jobs, rk_http_resp_t *resp)
{
    size_t edges = 0;
    size_t *mark = calloc(n, sizeof *mark), *named = calloc(n, sizeof *named);
    int rc = mark && named ? 0 : RK_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const json_t *idx = json_object_get(json_array_get(arr, i), "depends_on_index");
        size_t m = named_entries(idx, i, mark, named), per = 0;
        for (size_t k = 0; k < m; k++)
            per += count[named[k]];
        if (!per)
            continue;
        if ((edges += per * count[i]) > RK_SRV_DEPS_MAX) {
            rk_http_resp_errorf(resp, 422,
                                "jobs[%zu].depends_on_index: more than %d dependencies in all "
                                "(each copy of an entry counts)",
                                i, RK_SRV_DEPS_MAX);
            rc = RK_EINVAL;
            break;
        }
        for (size_t c = 0; !rc && c < count[i]; c++) {
            /* rk_srv_deps_parse set depends_on: not an array only when
             * memory ran out */
            json_t *on = json_object_get(jobs[first[i] + c].extra, "depends_on");
            rc = json_is_array(on) ? 0 : RK_ENOMEM;
            for (size_t k = 0; !rc && k < m; k++)
                for (size_t cc = 0; !rc && cc < count[named[k]]; cc++)
                    if (json_array_append_new(on, json_string(jobs[first[named[k]] + cc].job_id)))
                        rc = RK_ENOMEM;
        }
    }
    if (rc == RK_ENOMEM)
        rk_http_resp_error(resp, 500, "out of memory");
    free(mark);
    free(named);
    return rc;
}
