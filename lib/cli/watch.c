/* `ruckus job watch`: follow one job until it ends.
 *
 * The server's event stream (GET /events) tells us when something changed;
 * each event that names our job triggers a GET /jobs/{id}, whose answer is
 * the truth we draw (so the event's own format only needs a job_id). A
 * fetch every few seconds covers events we could not match, and when the
 * stream is not available at all (older server, proxy) we poll instead.
 *
 * A server that goes away (restarted, upgraded) is waited for: once the job
 * has been seen, an unreachable server or a 5xx is said once, on its own
 * line, and retried every second for up to OUTAGE_US; the watch goes on
 * when it answers again. Only then, or on a 404 or a bad answer, does it
 * stop with that error.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/sse.h"
#include "model/job.h"

/* Re-read the job at least this often while the stream is quiet. */
#define REFRESH_US (5 * 1000000)
#define POLL_MS 1000
/* How long a watch rides out a server that does not answer. */
#define OUTAGE_US (60 * 1000000LL)

typedef struct watch {
    rk_cli_t *c;
    const char *id;
    bool tty;
    rk_job_info_t last;
    bool have;
    bool done;
    int code; /* a failed fetch stops the watch with this exit code */
    int64_t last_fetch;
    int64_t outage_since; /* monotonic; 0 while the server answers */
    bool line_open;       /* a terminal line drawn without its newline */
} watch_t;

/* Ends a half-drawn terminal line, so a message gets a line of its own. */
static void close_line(watch_t *w)
{
    if (w->line_open) {
        fputc('\n', w->c->out);
        fflush(w->c->out);
        w->line_open = false;
    }
}

static void draw(watch_t *w, const rk_job_info_t *j)
{
    rk_cli_t *c = w->c;
    if (c->s.json)
        return;
    const rk_job_status_t *st = &j->status;
    bool term = rk_job_state_terminal(st->status);
    rk_buf_t b;
    rk_buf_init(&b, 65536);
    const char *col = rk_cli_job_color(st->status, c->color);
    if (w->tty)
        rk_buf_adds(&b, "\r\033[K");
    else {
        char ts[RK_TIME_STRLEN];
        rk_time_format(st->timestamp, ts);
        rk_buf_printf(&b, "%s  ", ts);
    }
    rk_buf_printf(&b, "%s  %s%-9s%s", j->job_id, col, rk_job_state_name(st->status),
                  col[0] ? RK_CLI_RESET : "");
    if (st->has_progress || st->status == RK_JOB_COMPLETED) {
        rk_buf_adds(&b, "  ");
        rk_cli_progress_bar(st->has_progress ? st->progress : 1.0, 30, &b);
    }
    if (st->message && st->message[0]) {
        /* One line on a terminal: the message is cut at its first newline. */
        size_t n = strcspn(st->message, "\r\n");
        rk_buf_printf(&b, "  %.*s", (int)(n > 200 ? 200 : n), st->message);
    }
    if (!w->tty || term)
        rk_buf_adds(&b, "\n");
    w->line_open = w->tty && !term;
    fputs(rk_buf_str(&b), c->out);
    fflush(c->out);
    rk_buf_cleanup(&b);
}

static bool changed(const watch_t *w, const rk_job_info_t *j)
{
    return !w->have || !rk_job_status_equal(&w->last.status, &j->status);
}

/* Reads the job; draws it when it changed; sets done when it ended. */
static int fetch(watch_t *w)
{
    char path[128];
    snprintf(path, sizeof path, "/jobs/%s", w->id);
    json_t *ans = NULL;
    rk_job_info_t j;
    rk_verr_t e;
    w->last_fetch = rk_time_mono_us();
    long status = 0;
    char *msg = NULL;
    int code = rk_cli_api_quiet(w->c, "GET", path, NULL, &ans, &status, &msg);
    bool transient = code == RK_CLI_EXIT_UNREACHABLE ||
                     (code == RK_CLI_EXIT_FAILURE && (status == 0 || status >= 500));
    if (code && transient && w->have) {
        /* The server is away: wait for it, saying so once. */
        if (!w->outage_since) {
            w->outage_since = w->last_fetch;
            close_line(w);
            rk_cli_errorf(w->c, "the server stopped answering; still watching job %s (up to %d s)",
                          w->id, (int)(OUTAGE_US / 1000000));
        }
        if (w->last_fetch - w->outage_since < OUTAGE_US) {
            free(msg);
            json_decref(ans);
            return 0;
        }
    }
    if (code) {
        close_line(w);
        if (msg)
            fputs(msg, w->c->err);
        free(msg);
        goto fail;
    }
    free(msg);
    if (w->outage_since) {
        w->outage_since = 0;
        close_line(w);
        rk_cli_errorf(w->c, "the server answers again");
    }
    if (rk_job_info_decode(ans, "", &j, &e)) {
        code = rk_cli_bad_answer(w->c, &e);
        goto fail;
    }
    if (changed(w, &j))
        draw(w, &j);
    rk_job_info_cleanup(&w->last);
    w->last = j;
    w->have = true;
    w->done = rk_job_state_terminal(j.status.status);
    if (w->done && w->c->s.json)
        rk_cli_print_json(w->c, ans);
    json_decref(ans);
    return 0;
fail:
    json_decref(ans);
    w->code = code;
    w->done = true;
    return code;
}

/* The event names our job when its data is an object whose job_id (or
 * job.job_id) is ours; other events are not ours to read. */
static int on_event(const rk_cli_sse_event_t *ev, void *ud)
{
    watch_t *w = ud;
    json_t *v = json_loads(ev->data, 0, NULL);
    const char *id = json_string_value(json_object_get(v, "job_id"));
    if (!id)
        id = json_string_value(json_object_get(json_object_get(v, "job"), "job_id"));
    bool ours = id && strcmp(id, w->id) == 0;
    json_decref(v);
    if (ours)
        fetch(w);
    return w->done ? 1 : 0;
}

static int on_tick(void *ud)
{
    watch_t *w = ud;
    if (rk_time_mono_us() - w->last_fetch >= REFRESH_US)
        fetch(w);
    return w->done ? 1 : 0;
}

int rk_cli_job_watch(rk_cli_t *c, const char *job_id)
{
    watch_t w = {.c = c, .id = job_id, .tty = isatty(fileno(c->out)) == 1};
    /* The job may already be over, or unknown: read it before streaming. */
    fetch(&w);
    if (!w.done) {
        rk_buf_t url;
        rk_buf_init(&url, 16384);
        size_t n = strlen(c->s.server);
        while (n > 0 && c->s.server[n - 1] == '/')
            n--;
        rk_buf_add(&url, c->s.server, n);
        rk_buf_adds(&url, "/api/v1/events");
        rk_cli_sse_t p;
        rk_cli_sse_init(&p, on_event, &w);
        long status = 0;
        rk_cli_sse_stream(rk_buf_str(&url), c->s.token, &p, on_tick, &w, &status);
        rk_cli_sse_cleanup(&p);
        rk_buf_cleanup(&url);
    }
    /* No stream (or it closed early, e.g. the server restarted): poll until
     * the job ends, riding out an outage in fetch. */
    while (!w.done) {
        struct timespec ts = {.tv_sec = POLL_MS / 1000, .tv_nsec = (POLL_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        fetch(&w);
    }
    int code = w.code;
    close_line(&w);
    if (!code && w.last.status.status != RK_JOB_COMPLETED) {
        if (!c->s.json)
            rk_cli_errorf(c, "job %s ended %s%s%s", job_id, rk_job_state_name(w.last.status.status),
                          w.last.status.message && w.last.status.message[0] ? ": " : "",
                          w.last.status.message ? w.last.status.message : "");
        code = RK_CLI_EXIT_FAILURE;
    }
    rk_job_info_cleanup(&w.last);
    return code;
}
