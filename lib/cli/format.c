#include "cli/format.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

void rk_cli_reltime(rk_time_t t, rk_time_t now, char out[RK_CLI_TIMESTR])
{
    if (t == 0) {
        snprintf(out, RK_CLI_TIMESTR, "-");
        return;
    }
    int64_t d = (now - t) / 1000000;
    bool future = d < 0;
    if (future)
        d = -d;
    if (d < 5) {
        snprintf(out, RK_CLI_TIMESTR, "just now");
        return;
    }
    char n[24];
    if (d < 60)
        snprintf(n, sizeof n, "%lld s", (long long)d);
    else if (d < 3600)
        snprintf(n, sizeof n, "%lld min", (long long)(d / 60));
    else if (d < 86400)
        snprintf(n, sizeof n, "%lld h", (long long)(d / 3600));
    else if (d < 2 * 86400)
        snprintf(n, sizeof n, "1 day");
    else
        snprintf(n, sizeof n, "%lld days", (long long)(d / 86400));
    snprintf(out, RK_CLI_TIMESTR, future ? "in %s" : "%s ago", n);
}

void rk_cli_duration(double s, char out[RK_CLI_TIMESTR])
{
    if (!isfinite(s) || s < 0)
        snprintf(out, RK_CLI_TIMESTR, "-");
    else if (s < 1)
        snprintf(out, RK_CLI_TIMESTR, "%.0f ms", s * 1000);
    else if (s < 60)
        snprintf(out, RK_CLI_TIMESTR, "%.1f s", s);
    else if (s < 3600) {
        long t = lround(s);
        snprintf(out, RK_CLI_TIMESTR, "%ld min %02ld s", t / 60, t % 60);
    } else {
        long m = lround(s / 60);
        snprintf(out, RK_CLI_TIMESTR, "%ld h %02ld min", m / 60, m % 60);
    }
}

int rk_cli_progress_bar(double fraction, int width, rk_buf_t *out)
{
    if (isnan(fraction))
        fraction = 0;
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    if (width < 1)
        width = 1;
    int full = (int)floor(fraction * width + 1e-9);
    int rc = rk_buf_adds(out, "[");
    for (int i = 0; i < width && !rc; i++)
        rc = rk_buf_adds(out, i < full ? "#" : ".");
    if (!rc)
        rc = rk_buf_printf(out, "] %3d%%", (int)floor(fraction * 100 + 1e-9));
    return rc;
}

int rk_cli_value(const json_t *v, rk_buf_t *out)
{
    if (json_is_string(v))
        return rk_buf_adds(out, json_string_value(v));
    if (json_is_integer(v))
        return rk_buf_printf(out, "%lld", (long long)json_integer_value(v));
    if (!json_is_real(v))
        return rk_buf_adds(out, "-");
    double d = json_real_value(v);
    if (d == floor(d) && fabs(d) < 1e9)
        return rk_buf_printf(out, "%.0f", d);
    double a = fabs(d);
    if (a >= 1e9 || a < 1e-6)
        return rk_buf_printf(out, "%.4g", d);
    /* Four significant decimals: 12.3457, 0.000123 (trailing zeros cut). */
    int decimals = 4;
    if (a < 1)
        decimals = 4 + (int)floor(-log10(a));
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, d);
    char *dot = strchr(tmp, '.');
    if (dot) {
        char *end = tmp + strlen(tmp) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    return rk_buf_adds(out, tmp);
}

int rk_cli_csv_field(const char *s, rk_buf_t *out)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") != NULL || (n > 0 && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote)
        return rk_buf_add(out, s, n);
    int rc = rk_buf_adds(out, "\"");
    for (const char *p = s; *p && !rc; p++)
        rc = *p == '"' ? rk_buf_adds(out, "\"\"") : rk_buf_add(out, p, 1);
    return rc ? rc : rk_buf_adds(out, "\"");
}

const char *rk_cli_job_color(rk_job_state_t s, bool color)
{
    if (!color)
        return "";
    switch (s) {
    case RK_JOB_COMPLETED:
        return RK_CLI_GREEN;
    case RK_JOB_FAILED:
    case RK_JOB_TIMEOUT:
        return RK_CLI_RED;
    case RK_JOB_RUNNING:
        return RK_CLI_BLUE;
    default:
        return RK_CLI_YELLOW;
    }
}

const char *rk_cli_agent_color(rk_agent_state_t s, bool color)
{
    if (!color)
        return "";
    switch (s) {
    case RK_AGENT_IDLE:
        return RK_CLI_GREEN;
    case RK_AGENT_ACTIVE:
        return RK_CLI_BLUE;
    default:
        return RK_CLI_RED;
    }
}

bool rk_cli_color_wanted(int fd)
{
    const char *nc = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    if (nc && nc[0])
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fd) == 1;
}

size_t rk_cli_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p == 0x1b && p[1] == '[') {
            p += 2;
            while (*p && !(*p >= 0x40 && *p <= 0x7e))
                p++;
            if (*p)
                p++;
            continue;
        }
        if ((*p & 0xc0) != 0x80)
            w++;
        p++;
    }
    return w;
}

int rk_cli_kv(rk_buf_t *out, const char *key, const char *value)
{
    return rk_buf_printf(out, "%s:%*s%s\n", key,
                         (int)(key && strlen(key) < 15 ? 15 - strlen(key) : 1), "",
                         value ? value : "-");
}

static int part(rk_buf_t *out, size_t start, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int part(rk_buf_t *out, size_t start, const char *fmt, ...)
{
    int rc = out->len > start ? rk_buf_adds(out, ", ") : 0;
    va_list ap;
    va_start(ap, fmt);
    if (!rc)
        rc = rk_buf_vprintf(out, fmt, ap);
    va_end(ap);
    return rc;
}

int rk_cli_hw_summary(const json_t *si, rk_buf_t *out)
{
    size_t start = out->len;
    int rc = 0;
    const json_t *cpu = json_object_get(si, "cpu");
    const char *model = json_string_value(json_object_get(cpu, "model"));
    json_t *cores = json_object_get(cpu, "cores");
    const char *arch = json_string_value(json_object_get(cpu, "architecture"));
    json_t *mem = json_object_get(json_object_get(si, "memory"), "total_mb");
    json_t *gpus = json_object_get(si, "gpus");
    if (model && model[0])
        rc = part(out, start, "%s", model);
    if (!rc && json_is_integer(cores))
        rc = part(out, start, "%lld cores", (long long)json_integer_value(cores));
    if (!rc && arch && arch[0])
        rc = part(out, start, "%s", arch);
    if (!rc && json_is_number(mem))
        rc = part(out, start, "%.1f GiB", json_number_value(mem) / 1024.0);
    if (!rc && json_is_array(gpus) && json_array_size(gpus) > 0) {
        const char *g = json_string_value(json_object_get(json_array_get(gpus, 0), "name"));
        rc = part(out, start, "%zux %s", json_array_size(gpus), g ? g : "GPU");
    }
    if (!rc && out->len == start)
        rc = rk_buf_adds(out, "-");
    return rc;
}
