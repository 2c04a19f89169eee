/* Retries and start times from the command line (protocol.md, "Jobs over
 * time"): the submit options --max-attempts, --backoff, --retry-on and
 * --not-before, `ruckus job retry ID`, and the attempt lines of `job
 * show`. The job group's table in cmd_job.c points here. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/time.h"
#include "cli/cli.h"

int rk_cli_retry_opts(rk_cli_t *c, const char *max_attempts, const char *backoff, const char *on,
                      const char *not_before, json_t *body)
{
    if (max_attempts || backoff || on) {
        json_t *r = json_object();
        long n = 1;
        if (max_attempts && rk_cli_args_int(max_attempts, 1, 20, &n)) {
            rk_cli_errorf(c, "--max-attempts: expected a number from 1 to 20");
            json_decref(r);
            return RK_CLI_EXIT_USAGE;
        }
        json_object_set_new(r, "max_attempts", json_integer(n));
        if (backoff) {
            char *end = NULL;
            double b = strtod(backoff, &end);
            if (end == backoff || *end || b < 0) {
                rk_cli_errorf(c, "--backoff: expected seconds (0 or more)");
                json_decref(r);
                return RK_CLI_EXIT_USAGE;
            }
            json_object_set_new(r, "backoff_s", json_real(b));
        }
        if (on) { /* the server checks the names */
            json_t *arr = json_array();
            for (const char *p = on; *p;) {
                size_t len = strcspn(p, ",");
                json_array_append_new(arr, json_stringn(p, len));
                p += len + (p[len] == ',');
            }
            json_object_set_new(r, "on", arr);
        }
        json_object_set_new(body, "retry", r);
    }
    if (not_before) {
        /* RFC 3339, or +SECONDS from now. */
        rk_time_t t = 0;
        if (not_before[0] == '+') {
            char *end = NULL;
            double s = strtod(not_before + 1, &end);
            if (end == not_before + 1 || *end || s < 0) {
                rk_cli_errorf(c, "--not-before: expected an RFC 3339 time or +SECONDS");
                return RK_CLI_EXIT_USAGE;
            }
            t = rk_time_now_us() + (rk_time_t)(s * 1e6);
        } else if (rk_time_parse(not_before, &t)) {
            rk_cli_errorf(c, "--not-before: expected an RFC 3339 time or +SECONDS");
            return RK_CLI_EXIT_USAGE;
        }
        char ts[RK_TIME_STRLEN];
        rk_time_format(t, ts);
        json_object_set_new(body, "not_before", json_string(ts));
    }
    return 0;
}

void rk_cli_retry_show(const json_t *ans, rk_buf_t *b)
{
    json_int_t at = json_integer_value(json_object_get(ans, "attempt"));
    json_int_t max = json_integer_value(json_object_get(ans, "max_attempts"));
    if (at > 0)
        rk_buf_printf(b, "attempt:        %lld/%lld\n", (long long)at,
                      (long long)(max > 0 ? max : 1));
    const char *nb = json_string_value(json_object_get(ans, "not_before"));
    if (nb)
        rk_buf_printf(b, "not before:     %s\n", nb);
    const char *of = json_string_value(json_object_get(ans, "retry_of"));
    if (of)
        rk_buf_printf(b, "retry of:       %s\n", of);
}

int rk_cli_job_retry(rk_cli_t *c, int argc, char **argv)
{
    rk_cli_args_t a;
    char path[256];
    int code = rk_cli_parse(c, argc, argv, NULL, 0, 1, 1,
                            "ruckus job retry ID\n\n"
                            "Submits a new job like a failed, timed out or cancelled one: the\n"
                            "same experiment, agent choice and priority, with retry_of naming\n"
                            "it. Any other state: exit 6.\n\n"
                            "Example:\n  ruckus job retry job_0badcafe\n",
                            &a);
    if (code)
        return code < 0 ? 0 : code;
    if ((code = rk_cli_id_path(c, "job", "/jobs", a.pos[0], "/retry", path, sizeof path)))
        return code;
    json_t *ans = NULL;
    if ((code = rk_cli_api(c, "POST", path, NULL, &ans, NULL)))
        return code;
    const char *id = json_string_value(json_object_get(ans, "job_id"));
    code = rk_cli_print_ok(c, ans, "retried job %s as job %s\n", a.pos[0], id ? id : "?");
    json_decref(ans);
    return code;
}
