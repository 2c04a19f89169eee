#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/time.h"

static _Atomic int log_level = RK_LOG_INFO;
static _Atomic int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void rk_log_set_level(rk_log_level_t level)
{
    log_level = (int)level;
}
rk_log_level_t rk_log_get_level(void)
{
    return (rk_log_level_t)log_level;
}
void rk_log_set_fd(int fd)
{
    log_fd = fd;
}

int rk_log_level_parse(const char *s, rk_log_level_t *out)
{
    for (int i = 0; i <= RK_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (rk_log_level_t)i;
            return RK_OK;
        }
    }
    return RK_EINVAL;
}

/* Appends s to line at *pos, truncating at the line's end. */
static void put(char *line, size_t size, size_t *pos, const char *s, size_t n)
{
    if (*pos >= size)
        return;
    if (n > size - *pos)
        n = size - *pos;
    memcpy(line + *pos, s, n);
    *pos += n;
}

static void put_value(char *line, size_t size, size_t *pos, const char *v)
{
    if (!v)
        v = "-";
    int quote = *v == '\0' || strpbrk(v, " \"=\t\n\r\\") != NULL;
    if (!quote) {
        put(line, size, pos, v, strlen(v));
        return;
    }
    put(line, size, pos, "\"", 1);
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\') {
            put(line, size, pos, "\\", 1);
            put(line, size, pos, c, 1);
        } else if (*c == '\n') {
            put(line, size, pos, "\\n", 2);
        } else if (*c == '\r' || *c == '\t') {
            put(line, size, pos, " ", 1);
        } else {
            put(line, size, pos, c, 1);
        }
    }
    put(line, size, pos, "\"", 1);
}

/* Writes the timestamp, level and message; returns 0 if the level is off. */
static int begin_line(rk_log_level_t level, const char *msg, char *line, size_t size, size_t *pos)
{
    if ((int)level < log_level || level >= RK_LOG_OFF)
        return 0;
    char ts[RK_TIME_STRLEN];
    rk_time_format_ms(rk_time_now_us(), ts);
    put(line, size, pos, ts, strlen(ts));
    put(line, size, pos, " ", 1);
    put(line, size, pos, level_names[level], strlen(level_names[level]));
    put(line, size, pos, level == RK_LOG_INFO || level == RK_LOG_WARN ? "  " : " ",
        level == RK_LOG_INFO || level == RK_LOG_WARN ? 2 : 1);
    put(line, size, pos, msg, strlen(msg));
    return 1;
}

static void put_field(char *line, size_t size, size_t *pos, const char *k, const char *v)
{
    put(line, size, pos, " ", 1);
    put(line, size, pos, k, strlen(k));
    put(line, size, pos, "=", 1);
    put_value(line, size, pos, v);
}

/* size leaves room for the newline, so the line always ends with one. */
static void end_line(char *line, size_t pos)
{
    line[pos++] = '\n';
    ssize_t w = write(log_fd, line, pos);
    (void)w;
}

void rk_log(rk_log_level_t level, const char *msg, ...)
{
    char line[4096];
    size_t pos = 0, size = sizeof line - 1;
    if (!begin_line(level, msg, line, size, &pos))
        return;
    va_list ap;
    va_start(ap, msg);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        put_field(line, size, &pos, k, v);
    }
    va_end(ap);
    end_line(line, pos);
}

void rk_log_kv(rk_log_level_t level, const char *msg, const char *const *kv, size_t npairs)
{
    char line[4096];
    size_t pos = 0, size = sizeof line - 1;
    if (!begin_line(level, msg, line, size, &pos))
        return;
    for (size_t i = 0; i < npairs; i++)
        put_field(line, size, &pos, kv[2 * i], kv[2 * i + 1]);
    end_line(line, pos);
}
