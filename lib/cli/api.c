/* Calls to the server, the mapping of every failure to an exit code, and
 * the checks and printing every command shares. */
#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "cli/cli.h"
#include "http/client.h"
#include "model/json.h"

/* JSON answers are small; logs and artifacts pass their own cap. */
#define JSON_CAP (64u << 20)
/* Reads are tried this many times when the server cannot be reached, as
 * lib/http's client does for the other GETs. */
#define RAW_ATTEMPTS 3
#define RAW_RETRY_MS 200
#ifndef RK_VERSION
#define RK_VERSION "dev"
#endif

void rk_cli_errorf(rk_cli_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ruckus: ", c->err);
    vfprintf(c->err, fmt, ap);
    fputc('\n', c->err);
    va_end(ap);
}

int rk_cli_exit_for(int err, long status)
{
    if (err == RK_ECONN || err == RK_ETIMEDOUT)
        return RK_CLI_EXIT_UNREACHABLE;
    if (err)
        return RK_CLI_EXIT_FAILURE;
    if (status >= 200 && status < 300)
        return RK_CLI_EXIT_OK;
    switch (status) {
    case 401:
    case 403:
        return RK_CLI_EXIT_AUTH;
    case 404:
        return RK_CLI_EXIT_NOT_FOUND;
    case 400:
    case 409:
    case 413:
    case 422:
        return RK_CLI_EXIT_INVALID;
    default:
        return RK_CLI_EXIT_FAILURE;
    }
}

int rk_cli_urlencode(const char *s, rk_buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            rc = rk_buf_add(out, p, 1);
        else
            rc = rk_buf_printf(out, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
    return rc;
}

int rk_cli_query_add(rk_buf_t *q, const char *key, const char *val)
{
    if (!val)
        return 0;
    int rc = rk_buf_printf(q, "%c%s=", q->len ? '&' : '?', key);
    return rc ? rc : rk_cli_urlencode(val, q);
}

static int build_url(rk_cli_t *c, const char *path, rk_buf_t *url)
{
    const char *base = c->s.server;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    if (rk_buf_add(url, base, n) || rk_buf_adds(url, "/api/v1") || rk_buf_adds(url, path))
        return RK_ENOMEM;
    return 0;
}

/* Prints why a request failed and returns the exit code. */
static int report(rk_cli_t *c, const char *method, const char *path, const rk_http_response_t *resp)
{
    int code = rk_cli_exit_for(resp->err, resp->status);
    if (resp->err == RK_ECONN || resp->err == RK_ETIMEDOUT) {
        rk_cli_errorf(c, "cannot reach the server at %s: %s", c->s.server,
                      resp->msg[0] ? resp->msg : rk_strerror(resp->err));
        return code;
    }
    if (resp->err) {
        rk_cli_errorf(c, "%s %s: %s", method, path,
                      resp->msg[0] ? resp->msg : rk_strerror(resp->err));
        return code;
    }
    /* The server's {"detail": ...} says why; fall back to the status. */
    const char *detail = NULL;
    json_t *v = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
    json_t *d = json_is_object(v) ? json_object_get(v, "detail") : NULL;
    if (json_is_string(d))
        detail = json_string_value(d);
    if (detail && strstr(detail, "(HTTP "))
        rk_cli_errorf(c, "%s", detail); /* it names its own status already */
    else if (detail)
        rk_cli_errorf(c, "%s (HTTP %ld)", detail, resp->status);
    else
        rk_cli_errorf(c, "%s %s: the server answered HTTP %ld", method, path, resp->status);
    if (code == RK_CLI_EXIT_AUTH)
        fputs("ruckus: check --token or RUCKUS_SERVER_API_TOKEN\n", c->err);
    json_decref(v);
    return code;
}

static int request(rk_cli_t *c, const char *method, const char *path, const char *body, size_t max,
                   rk_http_response_t *resp)
{
    memset(resp, 0, sizeof *resp);
    rk_buf_init(&resp->body, 0);
    rk_buf_t url;
    rk_buf_init(&url, 16384);
    int rc = build_url(c, path, &url);
    if (rc) {
        rk_cli_errorf(c, "%s", rk_strerror(rc));
        rk_buf_cleanup(&url);
        return RK_CLI_EXIT_FAILURE;
    }
    bool get = strcmp(method, "GET") == 0;
    /* A POST under an Idempotency-Key creates its job once however often
     * it is sent: it may be retried like a read. */
    bool keyed = c->idem_key && strcmp(method, "POST") == 0;
    char idem[320];
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", keyed ? c->idem_key : "");
    const char *const headers[] = {idem, NULL};
    rk_http_request_t req = {
        .method = method,
        .url = rk_buf_str(&url),
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .token = c->s.token,
        .timeout_ms = (int)(c->s.timeout * 1000),
        .connect_timeout_ms =
            (int)(c->s.timeout * 1000) < 10000 ? (int)(c->s.timeout * 1000) : 10000,
        .max_body = max,
        /* Reads may retry a brief outage; writes are sent once. */
        .retry = {.max_attempts = get || keyed ? 3 : 1, .base_ms = 200, .max_ms = 1000},
        .headers = keyed ? headers : NULL,
        .idempotent = keyed,
    };
    rk_http_client_request_sync(&req, resp);
    rk_buf_cleanup(&url);
    int code = rk_cli_exit_for(resp->err, resp->status);
    if (code)
        return report(c, method, path, resp);
    return 0;
}

int rk_cli_api(rk_cli_t *c, const char *method, const char *path, const json_t *body, json_t **out,
               long *status)
{
    *out = NULL;
    char *text = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT))) {
        rk_cli_errorf(c, "%s", rk_strerror(RK_ENOMEM));
        return RK_CLI_EXIT_FAILURE;
    }
    rk_http_response_t resp;
    int code = request(c, method, path, text, JSON_CAP, &resp);
    free(text);
    if (status)
        *status = resp.status;
    if (!code) {
        rk_verr_t e;
        if (rk_http_response_json(&resp, out, &e)) {
            rk_cli_errorf(c, "%s %s: the server's answer is not JSON: %s", method, path, e.msg);
            code = RK_CLI_EXIT_FAILURE;
        } else if (!json_is_object(*out)) {
            rk_cli_errorf(c, "%s %s: the server's answer is not a JSON object", method, path);
            json_decref(*out);
            *out = NULL;
            code = RK_CLI_EXIT_FAILURE;
        }
    }
    rk_http_response_cleanup(&resp);
    return code;
}

int rk_cli_api_raw(rk_cli_t *c, const char *path, size_t max, rk_buf_t *out)
{
    rk_http_response_t resp;
    int code = request(c, "GET", path, NULL, max, &resp);
    if (!code && rk_buf_add(out, resp.body.data ? resp.body.data : "", resp.body.len)) {
        rk_cli_errorf(c, "GET %s: answer too large", path);
        code = RK_CLI_EXIT_FAILURE;
    }
    rk_http_response_cleanup(&resp);
    return code;
}

/* Drops what b holds past len bytes. */
static void cut(rk_buf_t *b, size_t len)
{
    if (b->len > len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

typedef struct raw_ctx {
    rk_buf_t *body;
    bool over;
    json_t *headers;
} raw_ctx_t;

static size_t raw_body(char *p, size_t size, size_t n, void *ud)
{
    raw_ctx_t *x = ud;
    if (rk_buf_add(x->body, p, size * n)) {
        x->over = true;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    return size * n;
}

/* Keeps "X-Ruckus-Name: value" lines (lower-cased name, trimmed value). A
 * redirect or 100-continue starts a new header block: only the last one's
 * headers are kept. */
static size_t raw_header(char *p, size_t size, size_t n, void *ud)
{
    raw_ctx_t *x = ud;
    size_t len = size * n;
    static const char pre[] = "x-ruckus-";
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        json_object_clear(x->headers);
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon || (size_t)(colon - p) <= sizeof pre - 1 || (size_t)(colon - p) > 64 ||
        strncasecmp(p, pre, sizeof pre - 1) != 0)
        return len;
    char name[72], value[256];
    size_t nl = (size_t)(colon - p);
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)tolower((unsigned char)p[i]);
    name[nl] = '\0';
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v) < sizeof value - 1 ? (size_t)(end - v) : sizeof value - 1;
    memcpy(value, v, vl);
    value[vl] = '\0';
    json_object_set_new(x->headers, name, json_string(value));
    return len;
}

/* One GET through libcurl with the settings lib/http's client uses (no
 * proxy, http(s) only, token, timeouts, a body cap). Fills resp as that
 * client would. */
static void raw_get(rk_cli_t *c, const char *url, size_t max, raw_ctx_t *x,
                    rk_http_response_t *resp)
{
    CURL *e = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char auth[1100], err[CURL_ERROR_SIZE] = "";
    if (c->s.token && *c->s.token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->s.token);
        hdr = curl_slist_append(NULL, auth);
    }
    if (!e || (c->s.token && *c->s.token && !hdr)) {
        resp->err = RK_ENOMEM;
        goto out;
    }
    long timeout_ms = (long)(c->s.timeout * 1000);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rk_http_ca_file())
        curl_easy_setopt(e, CURLOPT_CAINFO, rk_http_ca_file());
    curl_easy_setopt(e, CURLOPT_USERAGENT, "ruckus/" RK_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, raw_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, raw_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    switch (rc) {
    case CURLE_OK:
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        resp->err = RK_ECONN;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        resp->err = RK_ETIMEDOUT;
        break;
    case CURLE_FILESIZE_EXCEEDED:
        resp->err = RK_ETOOBIG;
        break;
    case CURLE_WRITE_ERROR:
        resp->err = x->over ? RK_ETOOBIG : RK_EPROTO;
        break;
    case CURLE_OUT_OF_MEMORY:
        resp->err = RK_ENOMEM;
        break;
    default:
        resp->err = RK_EPROTO;
        break;
    }
    if (resp->err)
        snprintf(resp->msg, sizeof resp->msg, "%s", err[0] ? err : curl_easy_strerror(rc));
out:
    curl_slist_free_all(hdr);
    if (e)
        curl_easy_cleanup(e);
}

int rk_cli_api_raw_headers(rk_cli_t *c, const char *path, size_t max, rk_buf_t *out,
                           json_t **headers)
{
    if (headers)
        *headers = NULL;
    rk_buf_t url;
    rk_buf_init(&url, 16384);
    raw_ctx_t x = {.body = out, .headers = json_object()};
    rk_http_response_t resp;
    int code = RK_CLI_EXIT_FAILURE;
    if (!x.headers || build_url(c, path, &url)) {
        rk_cli_errorf(c, "%s", rk_strerror(RK_ENOMEM));
        goto out;
    }
    size_t start = out->len;
    for (int attempt = 1;; attempt++) {
        memset(&resp, 0, sizeof resp);
        rk_buf_init(&resp.body, 0);
        cut(out, start); /* a failed attempt's part is dropped */
        x.over = false;
        json_object_clear(x.headers);
        raw_get(c, rk_buf_str(&url), max, &x, &resp);
        bool retry = (resp.err == RK_ECONN || resp.err == RK_ETIMEDOUT) && attempt < RAW_ATTEMPTS;
        if (!retry)
            break;
        rk_http_response_cleanup(&resp);
        struct timespec ts = {0, RAW_RETRY_MS * 1000000L * attempt};
        nanosleep(&ts, NULL);
    }
    code = rk_cli_exit_for(resp.err, resp.status);
    if (code) {
        /* The error answer's body (its "detail") is in out past start. */
        rk_buf_add(&resp.body, out->data ? out->data + start : "", out->len - start);
        cut(out, start);
        code = report(c, "GET", path, &resp);
    }
    rk_http_response_cleanup(&resp);
out:
    rk_buf_cleanup(&url);
    if (!code && headers) {
        *headers = x.headers;
        x.headers = NULL;
    }
    json_decref(x.headers);
    return code;
}

int rk_cli_print_json(rk_cli_t *c, const json_t *v)
{
    if (json_dumpf(v, c->out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) || fputc('\n', c->out) == EOF)
        return RK_CLI_EXIT_FAILURE;
    return 0;
}

int rk_cli_print_buf(rk_cli_t *c, const rk_buf_t *b)
{
    if (b->len && fwrite(b->data, 1, b->len, c->out) != b->len)
        return RK_CLI_EXIT_FAILURE;
    return 0;
}

int rk_cli_print_ok(rk_cli_t *c, const json_t *ans, const char *fmt, ...)
{
    if (c->s.json)
        return rk_cli_print_json(c, ans);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    return 0;
}

int rk_cli_print_table(rk_cli_t *c, const json_t *ans, const rk_cli_table_t *t, const char *empty)
{
    if (c->s.json)
        return ans ? rk_cli_print_json(c, ans) : 0;
    if (t->nrows == 0 && empty) {
        fputs(empty, c->out);
        return 0;
    }
    rk_buf_t out;
    rk_buf_init(&out, SIZE_MAX);
    int code = 0;
    if (rk_cli_table_render(t, c->color, &out) || rk_cli_print_buf(c, &out))
        code = RK_CLI_EXIT_FAILURE;
    rk_buf_cleanup(&out);
    return code;
}

int rk_cli_answer_array(rk_cli_t *c, const json_t *ans, const char *key, json_t **list)
{
    *list = json_object_get(ans, key);
    if (json_is_array(*list))
        return 0;
    rk_verr_t e;
    rk_verr_set(&e, key, "expected an array");
    return rk_cli_bad_answer(c, &e);
}

int rk_cli_check_id(rk_cli_t *c, const char *what, const char *id)
{
    if (rk_id_valid(id))
        return 0;
    rk_cli_errorf(c, "%s \"%.80s\" is not a valid id ([A-Za-z0-9_.-], at most 64)", what, id);
    return RK_CLI_EXIT_USAGE;
}

int rk_cli_id_path(rk_cli_t *c, const char *what, const char *prefix, const char *id,
                   const char *suffix, char *out, size_t n)
{
    int code = rk_cli_check_id(c, what, id);
    if (!code)
        snprintf(out, n, "%s/%s%s", prefix, id, suffix);
    return code;
}

int rk_cli_get_by_id(rk_cli_t *c, int argc, char **argv, const char *usage, const char *what,
                     const char *prefix, json_t **ans)
{
    rk_cli_args_t a;
    char path[128];
    *ans = NULL;
    int code = rk_cli_parse(c, argc, argv, NULL, 0, 1, 1, usage, &a);
    if (code || (code = rk_cli_id_path(c, what, prefix, a.pos[0], "", path, sizeof path)))
        return code < 0 ? 0 : code;
    return rk_cli_api(c, "GET", path, NULL, ans, NULL);
}

int rk_cli_bad_answer(rk_cli_t *c, const rk_verr_t *e)
{
    rk_cli_errorf(c, "the server's answer is invalid: %s", e->msg);
    return RK_CLI_EXIT_FAILURE;
}
