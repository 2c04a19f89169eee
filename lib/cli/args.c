#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static const rk_cli_opt_t *find(const rk_cli_opt_t *opts, size_t nopts, const char *name,
                                size_t len, char short_name, size_t *idx)
{
    for (size_t i = 0; i < nopts; i++) {
        bool hit = short_name
                       ? opts[i].short_name == short_name
                       : strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0;
        if (hit) {
            *idx = i;
            return &opts[i];
        }
    }
    return NULL;
}

int rk_cli_args_parse(int argc, char **argv, const rk_cli_opt_t *opts, size_t nopts,
                      rk_cli_args_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    if (nopts > RK_CLI_MAX_OPTS) {
        snprintf(err, errlen, "too many options declared");
        return RK_EINVAL;
    }
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (out->npos == RK_CLI_MAX_POS) {
                snprintf(err, errlen, "too many arguments");
                return RK_EINVAL;
            }
            out->pos[out->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            out->help = true;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            out->json = true;
            continue;
        }
        const rk_cli_opt_t *o;
        size_t idx = 0;
        const char *inline_val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find(opts, nopts, name, len, 0, &idx);
            if (!o) {
                snprintf(err, errlen, "unknown option --%.*s", (int)(len > 64 ? 64 : len), name);
                return RK_EINVAL;
            }
            inline_val = eq ? eq + 1 : NULL;
        } else {
            if (a[2] != '\0' || !(o = find(opts, nopts, NULL, 0, a[1], &idx))) {
                snprintf(err, errlen, "unknown option %.64s", a);
                return RK_EINVAL;
            }
        }
        if (!o->has_arg) {
            if (inline_val) {
                snprintf(err, errlen, "--%s takes no value", o->name);
                return RK_EINVAL;
            }
            out->val[idx] = "";
        } else if (inline_val) {
            out->val[idx] = inline_val;
        } else if (i + 1 < argc) {
            out->val[idx] = argv[++i];
        } else {
            snprintf(err, errlen, "--%s needs a value", o->name);
            return RK_EINVAL;
        }
        if (o->has_arg) {
            if (out->nall == RK_CLI_MAX_VALS) {
                snprintf(err, errlen, "too many options (at most %d values)", RK_CLI_MAX_VALS);
                return RK_EINVAL;
            }
            out->all_opt[out->nall] = (int)idx;
            out->all_val[out->nall++] = out->val[idx];
        }
    }
    return 0;
}

size_t rk_cli_args_all(const rk_cli_args_t *a, int opt, const char **out, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < a->nall && n < max; i++)
        if (a->all_opt[i] == opt)
            out[n++] = a->all_val[i];
    return n;
}

int rk_cli_args_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return RK_EINVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return RK_EINVAL;
    *out = v;
    return 0;
}
