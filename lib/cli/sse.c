#include "cli/sse.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/time.h"
#include "http/client.h"

void rk_cli_sse_init(rk_cli_sse_t *p, rk_cli_sse_cb cb, void *ud)
{
    memset(p, 0, sizeof *p);
    rk_buf_init(&p->line, RK_CLI_SSE_LINE_CAP);
    rk_buf_init(&p->data, RK_CLI_SSE_DATA_CAP);
    rk_buf_init(&p->event, 256);
    rk_buf_init(&p->id, 256);
    p->cb = cb;
    p->ud = ud;
}

void rk_cli_sse_cleanup(rk_cli_sse_t *p)
{
    rk_buf_cleanup(&p->line);
    rk_buf_cleanup(&p->data);
    rk_buf_cleanup(&p->event);
    rk_buf_cleanup(&p->id);
}

static int dispatch(rk_cli_sse_t *p)
{
    int rc = 0;
    if (p->has_data) {
        rk_cli_sse_event_t ev = {
            .id = rk_buf_str(&p->id),
            .event = p->event.len ? rk_buf_str(&p->event) : "message",
            .data = rk_buf_str(&p->data),
        };
        rc = p->cb(&ev, p->ud);
    }
    /* The id persists across events (it is the stream's last id). */
    rk_buf_reset(&p->data);
    rk_buf_reset(&p->event);
    p->has_data = false;
    return rc;
}

static int line(rk_cli_sse_t *p)
{
    const char *l = rk_buf_str(&p->line);
    if (p->line.len == 0)
        return dispatch(p);
    if (l[0] == ':')
        return 0;
    const char *colon = strchr(l, ':');
    size_t nlen = colon ? (size_t)(colon - l) : strlen(l);
    const char *v = colon ? colon + 1 : "";
    if (*v == ' ')
        v++;
    int rc = 0;
    if (nlen == 4 && strncmp(l, "data", 4) == 0) {
        if (p->has_data)
            rc = rk_buf_adds(&p->data, "\n");
        if (!rc)
            rc = rk_buf_adds(&p->data, v);
        p->has_data = true;
    } else if (nlen == 5 && strncmp(l, "event", 5) == 0) {
        rk_buf_reset(&p->event);
        rc = rk_buf_adds(&p->event, v);
    } else if (nlen == 2 && strncmp(l, "id", 2) == 0) {
        rk_buf_reset(&p->id);
        rc = rk_buf_adds(&p->id, v);
    }
    return rc;
}

int rk_cli_sse_feed(rk_cli_sse_t *p, const char *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = bytes[i];
        if (ch == '\n' && p->skip_lf) {
            p->skip_lf = false;
            continue;
        }
        p->skip_lf = ch == '\r';
        if (ch == '\n' || ch == '\r') {
            int rc = line(p);
            rk_buf_reset(&p->line);
            if (rc)
                return rc;
            continue;
        }
        if (ch == '\0')
            continue;
        int rc = rk_buf_add(&p->line, &ch, 1);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct stream {
    rk_cli_sse_t *p;
    rk_cli_sse_tick_cb tick;
    void *ud;
    int stop; /* the non-zero value that ended the stream */
    int64_t last_tick;
    CURL *curl;
    bool checked; /* status and content type looked at */
} stream_t;

static bool is_event_stream(CURL *h, long *status)
{
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    return *status == 200 && ct && strncmp(ct, "text/event-stream", 17) == 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    stream_t *s = ud;
    size_t n = size * nmemb;
    if (!s->checked) {
        long status = 0;
        s->checked = true;
        if (!is_event_stream(s->curl, &status)) {
            s->stop = RK_EPROTO;
            return 0; /* short count: curl aborts */
        }
    }
    int rc = rk_cli_sse_feed(s->p, ptr, n);
    if (!rc && s->tick) {
        s->last_tick = rk_time_mono_us();
        rc = s->tick(s->ud);
    }
    if (rc) {
        s->stop = rc;
        return 0; /* short count: curl aborts */
    }
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    stream_t *s = ud;
    int64_t now = rk_time_mono_us();
    if (!s->tick || now - s->last_tick < 1000000)
        return 0;
    s->last_tick = now;
    int rc = s->tick(s->ud);
    if (rc) {
        s->stop = rc;
        return 1;
    }
    return 0;
}

int rk_cli_sse_stream(const char *url, const char *token, rk_cli_sse_t *p, rk_cli_sse_tick_cb tick,
                      void *ud, long *status)
{
    *status = 0;
    stream_t s = {.p = p, .tick = tick, .ud = ud, .last_tick = rk_time_mono_us()};
    struct curl_slist *hdrs = NULL, *h;
    rk_buf_t auth;
    rk_buf_init(&auth, 8192);
    int rc = RK_ENOMEM;
    CURL *c = curl_easy_init();
    if (!c)
        goto done;
    s.curl = c;
    if (!(h = curl_slist_append(hdrs, "Accept: text/event-stream")))
        goto done;
    hdrs = h;
    if (token && token[0]) {
        if (strpbrk(token, "\r\n")) {
            rc = RK_EINVAL;
            goto done;
        }
        if (rk_buf_printf(&auth, "Authorization: Bearer %s", token) ||
            !(h = curl_slist_append(hdrs, rk_buf_str(&auth))))
            goto done;
        hdrs = h;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (rk_http_ca_file())
        curl_easy_setopt(c, CURLOPT_CAINFO, rk_http_ca_file());
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (s.stop)
        rc = s.stop;
    else if (cc == CURLE_OK)
        rc = s.checked || is_event_stream(c, status) ? 0 : RK_EPROTO;
    else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
             cc == CURLE_OPERATION_TIMEDOUT)
        rc = RK_ECONN;
    else
        rc = RK_EIO;
done:
    if (auth.data)
        memset(auth.data, 0, auth.len);
    rk_buf_cleanup(&auth);
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}
