#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"

#ifndef RK_VERSION
#define RK_VERSION "0.0.0"
#endif

/* Generated text (help, markdown) is ours, but bound it all the same. */
#define TEXT_CAP (1u << 20)

static void *field(void *settings, const rk_config_option_t *o)
{
    return (char *)settings + o->offset;
}

static const void *cfield(const void *settings, const rk_config_option_t *o)
{
    return (const char *)settings + o->offset;
}

static size_t type_size(rk_config_type_t t)
{
    switch (t) {
    case RK_CONFIG_STRING:
    case RK_CONFIG_PATH:
        return sizeof(char *);
    case RK_CONFIG_INT:
        return sizeof(int64_t);
    case RK_CONFIG_DOUBLE:
        return sizeof(double);
    case RK_CONFIG_BOOL:
        return sizeof(bool);
    case RK_CONFIG_ENUM:
        return sizeof(int);
    case RK_CONFIG_LIST:
        return sizeof(rk_config_list_t);
    }
    return 0;
}

static void list_free(rk_config_list_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* "--port (RUCKUS_SERVER_PORT)", the way every message names an option. */
static void label(const rk_config_option_t *o, char *out, size_t n)
{
    if (o->env)
        snprintf(out, n, "--%s (%s)", o->name, o->env);
    else
        snprintf(out, n, "--%s", o->name);
}

/* The "expected ..." phrase of the built-in checks of a type. */
static void expect_text(const rk_config_option_t *o, char *out, size_t n)
{
    switch (o->type) {
    case RK_CONFIG_INT:
        snprintf(out, n, "expected an integer from %lld to %lld", (long long)o->min,
                 (long long)o->max);
        break;
    case RK_CONFIG_DOUBLE:
        if (o->flags & RK_CONFIG_MIN_EXCLUSIVE)
            snprintf(out, n, "expected a number greater than %.15g and at most %.15g", o->dmin,
                     o->dmax);
        else
            snprintf(out, n, "expected a number from %.15g to %.15g", o->dmin, o->dmax);
        break;
    case RK_CONFIG_BOOL:
        snprintf(out, n, "expected true or false");
        break;
    case RK_CONFIG_ENUM: {
        size_t pos = (size_t)snprintf(out, n, "expected one of");
        for (size_t i = 0; o->choices[i] && pos < n; i++)
            pos += (size_t)snprintf(out + pos, n - pos, "%s %s", i ? "," : "", o->choices[i]);
        break;
    }
    default:
        snprintf(out, n, "expected a non-empty value");
        break;
    }
}

static int parse_int(const char *s, int64_t *out)
{
    if (!*s || isspace((unsigned char)*s))
        return RK_EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return RK_EINVAL;
    *out = v;
    return RK_OK;
}

static int parse_double(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return RK_EINVAL;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return RK_EINVAL;
    *out = v;
    return RK_OK;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return RK_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return RK_OK;
        }
    }
    return RK_EINVAL;
}

/* Splits on commas, trims blanks around items and drops empty ones. */
static int parse_list(const char *s, rk_config_list_t *out)
{
    out->items = NULL;
    out->count = 0;
    for (;;) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        const char *b = s;
        while (b < end && isspace((unsigned char)*b))
            b++;
        while (end > b && isspace((unsigned char)end[-1]))
            end--;
        if (end > b) {
            char **items = realloc(out->items, (out->count + 1) * sizeof *items);
            if (!items)
                goto nomem;
            out->items = items;
            if (!(items[out->count] = strndup(b, (size_t)(end - b))))
                goto nomem;
            out->count++;
        }
        if (!comma)
            return RK_OK;
        s = comma + 1;
    }
nomem:
    list_free(out);
    return RK_ENOMEM;
}

/* Parses text as the option's value and stores it, freeing what it
 * replaces. On a bad value the field is unchanged and err names the option. */
static int set_value(const rk_config_spec_t *spec, const rk_config_option_t *o, void *settings,
                     const char *text, char *err, size_t errlen)
{
    void *f = field(settings, o);
    const char *why = NULL;
    char expect[256];
    expect_text(o, expect, sizeof expect);
    switch (o->type) {
    case RK_CONFIG_STRING:
    case RK_CONFIG_PATH: {
        char *v = NULL;
        if (!*text && (o->flags & RK_CONFIG_NONEMPTY)) {
            why = expect;
            break;
        }
        if (*text && !(v = strdup(text)))
            return RK_ENOMEM;
        if (v && o->validate && o->validate(&v, &why)) {
            free(v);
            break;
        }
        free(*(char **)f);
        *(char **)f = v;
        return RK_OK;
    }
    case RK_CONFIG_INT: {
        int64_t v;
        if (parse_int(text, &v) || v < o->min || v > o->max) {
            why = expect;
            break;
        }
        if (o->validate && o->validate(&v, &why))
            break;
        *(int64_t *)f = v;
        return RK_OK;
    }
    case RK_CONFIG_DOUBLE: {
        double v;
        bool low = (o->flags & RK_CONFIG_MIN_EXCLUSIVE) ? false : true;
        if (parse_double(text, &v) || v > o->dmax || v < o->dmin || (!low && v == o->dmin)) {
            why = expect;
            break;
        }
        if (o->validate && o->validate(&v, &why))
            break;
        *(double *)f = v;
        return RK_OK;
    }
    case RK_CONFIG_BOOL: {
        bool v;
        if (parse_bool(text, &v)) {
            why = expect;
            break;
        }
        *(bool *)f = v;
        return RK_OK;
    }
    case RK_CONFIG_ENUM: {
        int i = 0;
        while (o->choices[i] && strcasecmp(text, o->choices[i]) != 0)
            i++;
        if (!o->choices[i]) {
            why = expect;
            break;
        }
        *(int *)f = i;
        return RK_OK;
    }
    case RK_CONFIG_LIST: {
        rk_config_list_t v;
        if (parse_list(text, &v))
            return RK_ENOMEM;
        if (v.count && o->validate && o->validate(&v, &why)) {
            list_free(&v);
            break;
        }
        list_free((rk_config_list_t *)f);
        *(rk_config_list_t *)f = v;
        return RK_OK;
    }
    }
    char lab[160];
    label(o, lab, sizeof lab);
    if (o->flags & RK_CONFIG_SECRET)
        seterr(err, errlen, "%s: %s: %s", spec->program, lab, why);
    else
        seterr(err, errlen, "%s: %s: %s, got \"%.100s\"", spec->program, lab, why, text);
    return RK_EINVAL;
}

/* A repeatable LIST's flag: adds text as one item (the list was emptied at
 * the option's first flag). On a bad value the list is unchanged and err
 * names the option. */
static int add_item(const rk_config_spec_t *spec, const rk_config_option_t *o, void *settings,
                    const char *text, char *err, size_t errlen)
{
    rk_config_list_t *l = field(settings, o);
    char *item = strdup(text);
    char **items = item ? realloc(l->items, (l->count + 1) * sizeof *items) : NULL;
    if (!items) {
        free(item);
        return RK_ENOMEM;
    }
    l->items = items;
    l->items[l->count++] = item;
    const char *why = NULL;
    if (!*item)
        why = "expected a value";
    else if (o->validate && o->validate(l, &why)) {
        if (!why)
            why = "bad value";
    }
    if (!why)
        return RK_OK;
    l->count--;
    free(item);
    char lab[160];
    label(o, lab, sizeof lab);
    if (o->flags & RK_CONFIG_SECRET)
        seterr(err, errlen, "%s: %s: %s", spec->program, lab, why);
    else
        seterr(err, errlen, "%s: %s: %s, got \"%.100s\"", spec->program, lab, why, text);
    return RK_EINVAL;
}

static int set_default(const rk_config_spec_t *spec, const rk_config_option_t *o, void *settings,
                       char *err, size_t errlen)
{
    if (o->def)
        return set_value(spec, o, settings, o->def, err, errlen);
    void *f = field(settings, o);
    if (o->type == RK_CONFIG_STRING || o->type == RK_CONFIG_PATH)
        free(*(char **)f);
    else if (o->type == RK_CONFIG_LIST)
        list_free(f);
    memset(f, 0, o->size);
    return RK_OK;
}

static const rk_config_option_t *find(const rk_config_spec_t *spec, const char *name, size_t n)
{
    for (size_t i = 0; i < spec->count; i++) {
        const rk_config_option_t *o = &spec->options[i];
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
            return o;
    }
    return NULL;
}

/* Walks argv. Without apply it only checks the syntax and spots the
 * built-in flags; with apply it stores every flag's value. */
static int scan(const rk_config_spec_t *spec, int argc, char **argv, void *settings, bool apply,
                rk_config_result_t *res, char *err, size_t errlen)
{
    bool seen[RK_CONFIG_MAX_OPTIONS] = {0}; /* a repeatable option's flag came */
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            res->action = RK_CONFIG_HELP;
            return RK_OK;
        }
        if (strcmp(a, "--version") == 0) {
            res->action = RK_CONFIG_VERSION;
            return RK_OK;
        }
        if (strcmp(a, "--help-config-markdown") == 0) {
            res->action = RK_CONFIG_MARKDOWN;
            return RK_OK;
        }
        const char *name = a[1] == '-' ? a + 2 : a + 1;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        const rk_config_option_t *o = a[1] == '-' ? find(spec, name, n) : NULL;
        if (!o) {
            /* Only the name: "--tokne=s3cret" must not echo the secret. */
            size_t len = (size_t)(name - a) + n;
            seterr(err, errlen, "%s: unknown option \"%.*s\" (see --help)", spec->program,
                   (int)(len > 100 ? 100 : len), a);
            return RK_EINVAL;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (o->type == RK_CONFIG_BOOL) {
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            char lab[160];
            label(o, lab, sizeof lab);
            seterr(err, errlen, "%s: %s: missing value", spec->program, lab);
            return RK_EINVAL;
        }
        if (apply && o->type == RK_CONFIG_LIST && (o->flags & RK_CONFIG_REPEAT)) {
            size_t k = (size_t)(o - spec->options);
            if (!seen[k])
                list_free(field(settings, o));
            seen[k] = true;
            int rc = add_item(spec, o, settings, value, err, errlen);
            if (rc)
                return rc;
        } else if (apply) {
            int rc = set_value(spec, o, settings, value, err, errlen);
            if (rc)
                return rc;
        }
    }
    if (i < argc && !spec->positional) {
        seterr(err, errlen, "%s: unexpected argument \"%.100s\" (see --help)", spec->program,
               argv[i]);
        return RK_EINVAL;
    }
    res->argi = i;
    return RK_OK;
}

static int check_table(const rk_config_spec_t *spec, char *err, size_t errlen)
{
    if (spec->count > RK_CONFIG_MAX_OPTIONS) {
        seterr(err, errlen, "%s: internal: too many options", spec->program);
        return RK_EINVAL;
    }
    for (size_t i = 0; i < spec->count; i++) {
        const rk_config_option_t *o = &spec->options[i];
        if (o->size != type_size(o->type) || (o->type == RK_CONFIG_ENUM && !o->choices)) {
            seterr(err, errlen, "%s: internal: option --%s does not match its field", spec->program,
                   o->name);
            return RK_EINVAL;
        }
    }
    return RK_OK;
}

int rk_config_load(const rk_config_spec_t *spec, int argc, char **argv, void *settings,
                   rk_config_result_t *res, char *err, size_t errlen)
{
    int rc;
    res->action = RK_CONFIG_RUN;
    res->argi = argc;
    if (errlen)
        err[0] = '\0';
    if ((rc = check_table(spec, err, errlen)))
        return rc;
    for (size_t i = 0; i < spec->count; i++)
        if ((rc = set_default(spec, &spec->options[i], settings, err, errlen)))
            return rc;
    if ((rc = scan(spec, argc, argv, settings, false, res, err, errlen)) ||
        res->action != RK_CONFIG_RUN)
        return rc;
    for (size_t i = 0; i < spec->count; i++) {
        const rk_config_option_t *o = &spec->options[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        if (v && *v && (rc = set_value(spec, o, settings, v, err, errlen)))
            return rc;
    }
    if ((rc = scan(spec, argc, argv, settings, true, res, err, errlen)))
        return rc;
    if (spec->check)
        return spec->check(settings, err, errlen);
    return RK_OK;
}

void rk_config_cleanup(const rk_config_spec_t *spec, void *settings)
{
    for (size_t i = 0; i < spec->count; i++) {
        const rk_config_option_t *o = &spec->options[i];
        void *f = field(settings, o);
        if (o->size != type_size(o->type))
            continue; /* a broken table; load refused it and touched nothing */
        if (o->type == RK_CONFIG_STRING || o->type == RK_CONFIG_PATH)
            free(*(char **)f);
        else if (o->type == RK_CONFIG_LIST)
            list_free(f);
        memset(f, 0, o->size);
    }
}

int rk_config_format(const rk_config_option_t *o, const void *settings, rk_buf_t *out)
{
    const void *f = cfield(settings, o);
    if (o->flags & RK_CONFIG_SECRET) {
        bool set = (o->type == RK_CONFIG_STRING || o->type == RK_CONFIG_PATH)
                       ? *(char *const *)f != NULL
                       : true;
        return rk_buf_adds(out, set ? "(set)" : "(unset)");
    }
    switch (o->type) {
    case RK_CONFIG_STRING:
    case RK_CONFIG_PATH:
        return rk_buf_adds(out, *(char *const *)f ? *(char *const *)f : "");
    case RK_CONFIG_INT:
        return rk_buf_printf(out, "%lld", (long long)*(const int64_t *)f);
    case RK_CONFIG_DOUBLE:
        return rk_buf_printf(out, "%.15g", *(const double *)f);
    case RK_CONFIG_BOOL:
        return rk_buf_adds(out, *(const bool *)f ? "true" : "false");
    case RK_CONFIG_ENUM:
        return rk_buf_adds(out, o->choices[*(const int *)f]);
    case RK_CONFIG_LIST: {
        const rk_config_list_t *l = f;
        for (size_t i = 0; i < l->count; i++) {
            int rc = rk_buf_printf(out, "%s%s", i ? "," : "", l->items[i]);
            if (rc)
                return rc;
        }
        return RK_OK;
    }
    }
    return RK_EINVAL;
}

void rk_config_log(const rk_config_spec_t *spec, const void *settings, int level, const char *msg)
{
    const char *kv[2 * RK_CONFIG_MAX_OPTIONS] = {0};
    char keys[RK_CONFIG_MAX_OPTIONS][48];
    rk_buf_t vals[RK_CONFIG_MAX_OPTIONS];
    size_t n = spec->count < RK_CONFIG_MAX_OPTIONS ? spec->count : RK_CONFIG_MAX_OPTIONS;
    for (size_t i = 0; i < n; i++) {
        const rk_config_option_t *o = &spec->options[i];
        snprintf(keys[i], sizeof keys[i], "%s", o->name);
        for (char *c = keys[i]; *c; c++)
            if (*c == '-')
                *c = '_';
        rk_buf_init(&vals[i], 2048);
        if (rk_config_format(o, settings, &vals[i]))
            rk_buf_reset(&vals[i]); /* over the cap: log it empty rather than not at all */
        kv[2 * i] = keys[i];
        kv[2 * i + 1] = rk_buf_str(&vals[i]);
    }
    rk_log_kv((rk_log_level_t)level, msg, kv, n);
    for (size_t i = 0; i < n; i++)
        rk_buf_cleanup(&vals[i]);
}

/* ---- generated text -------------------------------------------------- */

static const char *metavar(const rk_config_option_t *o)
{
    if (o->metavar)
        return o->metavar;
    switch (o->type) {
    case RK_CONFIG_STRING:
        return "TEXT";
    case RK_CONFIG_PATH:
        return "PATH";
    case RK_CONFIG_INT:
        return "N";
    case RK_CONFIG_DOUBLE:
        return "X";
    case RK_CONFIG_BOOL:
        return "";
    case RK_CONFIG_ENUM:
        return "NAME";
    case RK_CONFIG_LIST:
        return "A,B,...";
    }
    return "";
}

/* "--port N": the flag column of the help and the markdown. */
static int flag_text(const rk_config_option_t *o, rk_buf_t *out)
{
    const char *mv = metavar(o);
    return rk_buf_printf(out, "--%s%s%s", o->name, *mv ? " " : "", mv);
}

/* The default as shown to people; never a secret's. */
static const char *default_text(const rk_config_option_t *o)
{
    if (o->def_doc)
        return o->def_doc;
    if (!o->def)
        return "(none)";
    return (o->flags & RK_CONFIG_SECRET) ? "(hidden)" : o->def;
}

/* Allowed values in a few words: "1..65535", "sqlite|memory". */
static int constraint_text(const rk_config_option_t *o, rk_buf_t *out)
{
    switch (o->type) {
    case RK_CONFIG_INT:
        return rk_buf_printf(out, "%lld..%lld", (long long)o->min, (long long)o->max);
    case RK_CONFIG_DOUBLE:
        return rk_buf_printf(out, "%s %.15g, <= %.15g",
                             (o->flags & RK_CONFIG_MIN_EXCLUSIVE) ? ">" : ">=", o->dmin, o->dmax);
    case RK_CONFIG_ENUM:
        for (size_t i = 0; o->choices[i]; i++) {
            int rc = rk_buf_printf(out, "%s%s", i ? "|" : "", o->choices[i]);
            if (rc)
                return rc;
        }
        return RK_OK;
    default:
        return RK_OK;
    }
}

int rk_config_help(const rk_config_spec_t *spec, rk_buf_t *out)
{
    int rc = RK_OK;
    size_t wflag = strlen("--help, -h"), wenv = strlen("ENVIRONMENT"), wdef = strlen("DEFAULT");
    rk_buf_t tmp;
    rk_buf_init(&tmp, TEXT_CAP);
    for (size_t i = 0; i < spec->count; i++) {
        const rk_config_option_t *o = &spec->options[i];
        rk_buf_reset(&tmp);
        if ((rc = flag_text(o, &tmp)))
            goto done;
        if (tmp.len > wflag)
            wflag = tmp.len;
        if (o->env && strlen(o->env) > wenv)
            wenv = strlen(o->env);
        if (strlen(default_text(o)) > wdef)
            wdef = strlen(default_text(o));
    }
    if ((rc = rk_buf_printf(out, "Usage: %s %s\n\n%s\n\n", spec->program, spec->usage,
                            spec->summary)) ||
        (rc = rk_buf_printf(out, "Options (a flag wins over its environment variable, which wins "
                                 "over the default):\n")) ||
        (rc = rk_buf_printf(out, "  %-*s  %-*s  %-*s  %s\n", (int)wflag, "FLAG", (int)wenv,
                            "ENVIRONMENT", (int)wdef, "DEFAULT", "DESCRIPTION")))
        goto done;
    for (size_t i = 0; i < spec->count; i++) {
        const rk_config_option_t *o = &spec->options[i];
        rk_buf_reset(&tmp);
        if ((rc = flag_text(o, &tmp)))
            goto done;
        if ((rc = rk_buf_printf(out, "  %-*s  %-*s  %-*s  %s", (int)wflag, rk_buf_str(&tmp),
                                (int)wenv, o->env ? o->env : "", (int)wdef, default_text(o),
                                o->help)))
            goto done;
        rk_buf_reset(&tmp);
        if ((rc = constraint_text(o, &tmp)) ||
            (tmp.len && (rc = rk_buf_printf(out, " [%s]", rk_buf_str(&tmp)))) ||
            (rc = rk_buf_adds(out, "\n")))
            goto done;
    }
    if ((rc = rk_buf_printf(out, "  %-*s  %-*s  %-*s  %s\n", (int)wflag, "--help, -h", (int)wenv,
                            "", (int)wdef, "", "Show this help and exit")) ||
        (rc = rk_buf_printf(out, "  %-*s  %-*s  %-*s  %s\n", (int)wflag, "--version", (int)wenv, "",
                            (int)wdef, "", "Show the version and exit")))
        goto done;
    if (spec->examples && (rc = rk_buf_printf(out, "\nExamples:\n%s", spec->examples)))
        goto done;
done:
    rk_buf_cleanup(&tmp);
    return rc;
}

/* Appends text with the characters that would break a table cell escaped. */
static int md_cell(rk_buf_t *out, const char *s)
{
    for (; *s; s++) {
        int rc = *s == '|'   ? rk_buf_adds(out, "\\|")
                 : *s == '<' ? rk_buf_adds(out, "&lt;")
                 : *s == '>' ? rk_buf_adds(out, "&gt;")
                             : rk_buf_add(out, s, 1);
        if (rc)
            return rc;
    }
    return RK_OK;
}

static int md_type(const rk_config_option_t *o, rk_buf_t *out)
{
    static const char *const names[] = {
        [RK_CONFIG_STRING] = "string",
        [RK_CONFIG_PATH] = "path",
        [RK_CONFIG_INT] = "integer",
        [RK_CONFIG_DOUBLE] = "number",
        [RK_CONFIG_BOOL] = "boolean",
        [RK_CONFIG_ENUM] = "one of",
        [RK_CONFIG_LIST] = "comma-separated list",
    };
    int rc = rk_buf_adds(out, names[o->type]);
    if (rc)
        return rc;
    if (o->type == RK_CONFIG_ENUM) {
        for (size_t i = 0; o->choices[i]; i++)
            if ((rc = rk_buf_printf(out, "%s `%s`", i ? "," : "", o->choices[i])))
                return rc;
    } else if (o->type == RK_CONFIG_INT || o->type == RK_CONFIG_DOUBLE) {
        if ((rc = rk_buf_adds(out, ", ")) || (rc = constraint_text(o, out)))
            return rc;
    }
    if (o->type == RK_CONFIG_LIST && (o->flags & RK_CONFIG_REPEAT) &&
        (rc = rk_buf_adds(out, " (flag repeatable, one item each)")))
        return rc;
    return (o->flags & RK_CONFIG_SECRET) ? rk_buf_adds(out, ", secret") : RK_OK;
}

int rk_config_markdown(const rk_config_spec_t *spec, rk_buf_t *out)
{
    int rc;
    if ((rc = rk_buf_printf(out, "## %s\n\n%s\n\nUsage: `%s %s`\n\n", spec->program, spec->summary,
                            spec->program, spec->usage)) ||
        (rc = rk_buf_adds(out, "| Flag | Environment variable | Type | Default | Description |\n"
                               "|---|---|---|---|---|\n")))
        return rc;
    for (size_t i = 0; i < spec->count; i++) {
        const rk_config_option_t *o = &spec->options[i];
        if ((rc = rk_buf_adds(out, "| `")) || (rc = flag_text(o, out)) ||
            (rc = rk_buf_printf(out, "` | %s%s%s | ", o->env ? "`" : "", o->env ? o->env : "-",
                                o->env ? "`" : "")) ||
            (rc = md_type(o, out)) || (rc = rk_buf_adds(out, " | ")))
            return rc;
        if (o->def && !o->def_doc && !(o->flags & RK_CONFIG_SECRET))
            rc = rk_buf_printf(out, "`%s`", o->def);
        else
            rc = md_cell(out, default_text(o));
        if (rc || (rc = rk_buf_adds(out, " | ")) || (rc = md_cell(out, o->help)) ||
            (rc = rk_buf_adds(out, " |\n")))
            return rc;
    }
    if (!spec->examples)
        return RK_OK;
    if ((rc = rk_buf_adds(out, "\nExamples:\n\n```sh\n")))
        return rc;
    /* The help indents examples; a code block needs no indent. */
    for (const char *line = spec->examples; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
        size_t skip = strspn(line, " ");
        if (skip > n)
            skip = n;
        if ((rc = rk_buf_add(out, line + skip, n - skip)))
            return rc;
        line += n;
    }
    return rk_buf_adds(out, "```\n");
}

int rk_config_markdown_doc(const rk_config_spec_t *const *specs, size_t n, rk_buf_t *out)
{
    int rc = rk_buf_adds(
        out, "# Configuration reference\n\n"
             "<!-- Generated from the option tables in lib/{server,agent,cli}/settings.c by\n"
             "     tests/docs/test_configuration.c; do not edit by hand. To regenerate:\n"
             "     RK_UPDATE_DOCS=1 ctest -R docs/test_configuration -->\n\n"
             "Every option of `ruckus-server`, `ruckus-agent` and `ruckus` can be given as a\n"
             "command-line flag or as an environment variable. A flag wins over the\n"
             "environment variable, which wins over the built-in default.\n\n"
             "- Flags take `--name=value` or `--name value`; `--` ends the options.\n"
             "- A boolean flag alone (`--json`) means true; boolean values are `true`,\n"
             "  `false`, `1`, `0`, `yes`, `no`, `on`, `off`.\n"
             "- Lists are comma-separated (`a,b,c`); blanks around items are ignored.\n"
             "- An environment variable set to the empty string counts as unset.\n"
             "- Durations are in seconds and may have a fraction (`0.5`).\n"
             "- A bad value or an unknown flag stops the program with exit code 2 and a\n"
             "  message naming the option, e.g.\n"
             "  `ruckus-server: --port (RUCKUS_SERVER_PORT): expected an integer from 1 to 65535, "
             "got \"abc\"`.\n"
             "- Secret options (tokens) are never printed: not in `--help`, not in\n"
             "  logs, not in error messages.\n"
             "- `--help` prints this table for one program; `--version` its version.\n");
    for (size_t i = 0; i < n && !rc; i++)
        if (!(rc = rk_buf_adds(out, "\n")))
            rc = rk_config_markdown(specs[i], out);
    return rc;
}

int rk_config_print(const rk_config_spec_t *spec, rk_config_action_t action, FILE *out)
{
    rk_buf_t b;
    rk_buf_init(&b, TEXT_CAP);
    int rc = RK_OK;
    if (action == RK_CONFIG_HELP)
        rc = rk_config_help(spec, &b);
    else if (action == RK_CONFIG_VERSION)
        rc = rk_buf_printf(&b, "%s %s\n", spec->program, RK_VERSION);
    else if (action == RK_CONFIG_MARKDOWN)
        rc = rk_config_markdown(spec, &b);
    if (!rc && (fputs(rk_buf_str(&b), out) == EOF || fflush(out) == EOF))
        rc = RK_EIO;
    rk_buf_cleanup(&b);
    return rc ? 1 : 0;
}

/* ---- shared validators ----------------------------------------------- */

static bool url_ok(const char *s, bool allow_path)
{
    size_t skip;
    if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else
        return false;
    const char *host = s + skip;
    size_t hlen = strcspn(host, "/?#");
    if (hlen == 0 || host[hlen] == '?' || host[hlen] == '#')
        return false;
    if (!allow_path && host[hlen] != '\0')
        return false;
    for (const char *c = s; *c; c++)
        if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
            return false;
    return true;
}

int rk_config_validate_url(const void *field, const char **why)
{
    if (url_ok(*(char *const *)field, true))
        return RK_OK;
    *why = "expected an http:// or https:// URL";
    return RK_EINVAL;
}

int rk_config_validate_origins(const void *field, const char **why)
{
    const rk_config_list_t *l = field;
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i], "*") != 0 && !url_ok(l->items[i], false)) {
            *why = "expected \"*\" or origins like https://ui.example.com, comma-separated";
            return RK_EINVAL;
        }
    }
    return RK_OK;
}

bool rk_config_host_is_loopback(const char *host)
{
    if (!host)
        return false;
    if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
        strcmp(host, "[::1]") == 0)
        return true;
    /* 127.0.0.0/8, written as four decimal parts. */
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
           c < 256 && d < 256;
}
