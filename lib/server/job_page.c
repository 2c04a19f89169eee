/* Listing pages as spliced JSON text (job_page.h). */
#include "server/job_page.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/job_text.h"

int rk_srv_results_page(rk_buf_t *out, char *const *texts, size_t n, int64_t next_cursor)
{
    int rc = rk_buf_add(out, "{", 1);
    if (!rc)
        rc = rk_text_key(out, "results");
    if (!rc)
        rc = rk_text_array(out, texts, n);
    if (!rc && next_cursor) {
        char c[24];
        snprintf(c, sizeof c, "%" PRId64, next_cursor);
        if (!(rc = rk_buf_add(out, ",", 1)) && !(rc = rk_text_key(out, "next_cursor")))
            rc = rk_text_string(out, c);
    }
    return rc ? rc : rk_buf_add(out, "}", 1);
}

static const char *group_of(const rk_job_info_t *j)
{
    return j->agent_id ? j->agent_id : "any";
}

int rk_srv_jobs_page(rk_buf_t *out, const rk_job_info_t *jobs, size_t n, int64_t total,
                     int64_t next_cursor)
{
    /* order[]: the page's indexes grouped by key, groups in order of first
     * appearance (a few agents per page: the linear search over the
     * groups seen is short; a page of all-different agents costs n^2/2
     * strcmp, 0.5 M at the largest page). */
    size_t *order = n ? malloc(n * sizeof *order) : NULL,
           *start = n ? malloc(n * sizeof *start) : NULL;
    const char **keys = n ? malloc(n * sizeof *keys) : NULL;
    size_t *gof = n ? malloc(n * sizeof *gof) : NULL, *count = n ? calloc(n, sizeof *count) : NULL;
    int rc = n && !(order && start && keys && gof && count) ? RK_ENOMEM : 0;
    size_t groups = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *k = group_of(&jobs[i]);
        size_t g = 0;
        while (g < groups && strcmp(keys[g], k) != 0)
            g++;
        if (g == groups)
            keys[groups++] = k;
        gof[i] = g;
        count[g]++;
    }
    for (size_t g = 0, at = 0; !rc && g < groups; at += count[g], g++)
        start[g] = at;
    for (size_t i = 0; !rc && i < n; i++)
        order[start[gof[i]]++] = i;
    if (!rc)
        rc = rk_buf_add(out, "{", 1);
    if (!rc)
        rc = rk_text_key(out, "jobs");
    if (!rc)
        rc = rk_buf_add(out, "{", 1);
    for (size_t g = 0, at = 0; !rc && g < groups; g++) {
        if (g && (rc = rk_buf_add(out, ",", 1)))
            break;
        if ((rc = rk_text_key(out, keys[g])) || (rc = rk_buf_add(out, "[", 1)))
            break;
        for (size_t k = 0; !rc && k < count[g]; k++, at++) {
            if (k)
                rc = rk_buf_add(out, ",", 1);
            if (!rc)
                rc = rk_job_info_text(out, &jobs[order[at]]);
        }
        if (!rc)
            rc = rk_buf_add(out, "]", 1);
    }
    free(order);
    free(start);
    free(keys);
    free(gof);
    free(count);
    if (!rc)
        rc = rk_buf_printf(out, "},\"total\":%" PRId64, total);
    if (!rc && next_cursor)
        rc = rk_buf_printf(out, ",\"next_cursor\":\"%" PRId64 "\"", next_cursor);
    return rc ? rc : rk_buf_add(out, "}", 1);
}

int rk_srv_resp_json_buf(rk_http_resp_t *resp, rk_buf_t *b)
{
    int rc = rk_http_resp_bytes(resp, 200, "application/json", rk_buf_str(b), b->len);
    rk_buf_cleanup(b);
    return rc;
}
