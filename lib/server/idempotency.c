/* POST /jobs' Idempotency-Key: a client that lost the answer to its POST
 * (a dropped connection, a timeout, a 504 from a standby's forward) sends
 * the same request again under the same key and gets the job the first
 * one created, never a second job.
 *
 * The key is stored with its job (store.h, job_find_key), with the
 * fingerprint of the request (the MD5 of its body as canonical JSON: key
 * order and spacing do not count), and goes with the job when retention
 * deletes it. A repeat is answered here, on the handler's thread, from
 * what is committed. Two requests under one key at once both pass that
 * look; the job manager looks again inside its batch (jobs.c), where it
 * sees its own uncommitted jobs too, and answers the later one 409: the
 * client's retry then finds the job here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/md5.h"
#include "server/internal.h"

#define HEADER "Idempotency-Key"

int rk_srv_idem_read(const rk_http_req_t *req, rk_http_resp_t *resp, const json_t *body,
                     rk_srv_idem_t *k)
{
    memset(k, 0, sizeof *k);
    const char *key = rk_http_req_header(req, HEADER);
    if (!key)
        return 0;
    size_t n = strlen(key);
    if (n == 0 || n > RK_SRV_IDEM_KEY_MAX) {
        rk_http_resp_errorf(resp, 400, HEADER ": %s (1 to %d visible ASCII characters)",
                            n ? "too long" : "empty", RK_SRV_IDEM_KEY_MAX);
        return RK_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x21 || c > 0x7e) {
            rk_http_resp_errorf(resp, 400,
                                HEADER ": byte %zu is 0x%02x; a key is visible ASCII "
                                       "characters only (0x21-0x7e)",
                                i, c);
            return RK_EINVAL;
        }
    }
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text) {
        rk_http_resp_error(resp, 503, "out of memory");
        return RK_ENOMEM;
    }
    unsigned char d[RK_MD5_SIZE];
    rk_md5(text, strlen(text), d);
    free(text);
    for (size_t i = 0; i < RK_MD5_SIZE; i++)
        snprintf(k->fp + 2 * i, 3, "%02x", d[i]);
    k->key = key;
    return 0;
}

bool rk_srv_idem_replay(rk_server_t *srv, rk_http_resp_t *resp, const rk_srv_idem_t *k)
{
    if (!k->key)
        return false;
    char *job_id = NULL, *fp = NULL;
    int rc = rk_store_job_find_key(srv->store, k->key, &job_id, &fp);
    if (rc == RK_ENOENT)
        return false;
    if (rc) {
        rk_srv_store_error(resp, rc, "idempotency key");
        return true;
    }
    rk_job_info_t j = {0};
    if (strcmp(fp, k->fp) != 0) {
        rk_http_resp_errorf(resp, 422,
                            HEADER ": already used by another request, which created job %s; "
                                   "send this one under a new key",
                            job_id);
    } else if ((rc = rk_store_job_get(srv->store, job_id, false, &j)) == RK_ENOENT) {
        /* Found, then deleted (retention) before it could be read. */
        rk_http_resp_errorf(resp, 409, HEADER ": job %s of this key was just deleted; retry",
                            job_id);
    } else if (rc) {
        rk_srv_store_errorf(resp, rc, "job %s", job_id);
    } else {
        rk_http_resp_json_take(resp, 200, rk_job_info_encode(&j));
        rk_http_resp_header(resp, "Idempotent-Replayed", "true");
    }
    rk_job_info_cleanup(&j);
    free(job_id);
    free(fp);
    return true;
}

int rk_srv_idem_refuse(const rk_http_req_t *req, rk_http_resp_t *resp)
{
    if (!rk_http_req_header(req, HEADER))
        return 0;
    rk_http_resp_error(resp, 400,
                       HEADER ": taken by POST /api/v1/jobs only (one job); send each job of "
                              "a batch or run there under its own key");
    return RK_EINVAL;
}
