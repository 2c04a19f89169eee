#include "model/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int rk_verr_set(rk_verr_t *e, const char *path, const char *fmt, ...)
{
    if (!e)
        return RK_EINVAL;
    int n = 0;
    if (path && *path)
        n = snprintf(e->msg, sizeof e->msg, "%s: ", path);
    if (n < 0 || (size_t)n >= sizeof e->msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return RK_EINVAL;
}

void rk_path_key(char *out, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf(out, RK_PATH_MAX, "%s.%s", parent, key);
    else
        snprintf(out, RK_PATH_MAX, "%s", key);
}

void rk_path_index(char *out, const char *parent, size_t i)
{
    snprintf(out, RK_PATH_MAX, "%s[%zu]", parent ? parent : "", i);
}

bool rk_id_valid(const char *s)
{
    if (!s)
        return false;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        char c = *p;
        if (n >= 64)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n > 0 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Looks obj[key] up; returns NULL for absent or null. */
static json_t *field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* The start of every getter: *v = obj[key], NULL when absent or null,
 * which is the "field required" error when required. p receives the
 * field's path for messages; *present (may be NULL) is cleared. */
static int lookup(const json_t *obj, const char *path, const char *key, int required, bool *present,
                  char *p, json_t **v, rk_verr_t *e)
{
    if (present)
        *present = false;
    rk_path_key(p, path, key);
    *v = field(obj, key);
    if (*v || !required)
        return RK_OK;
    return rk_verr_set(e, p, "field required");
}

int rk_json_expect_obj(const json_t *v, const char *path, rk_verr_t *e)
{
    if (!json_is_object(v))
        return rk_verr_set(e, path && *path ? path : "body", "expected an object");
    return RK_OK;
}

int rk_json_get_str(const json_t *obj, const char *path, const char *key, int required,
                    size_t max_len, char **out, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    json_t *v;
    int rc = lookup(obj, path, key, required, NULL, p, &v, e);
    if (rc || !v)
        return rc;
    if (!json_is_string(v))
        return rk_verr_set(e, p, "expected a string");
    size_t len = json_string_length(v);
    if (max_len && len > max_len)
        return rk_verr_set(e, p, "longer than %zu characters", max_len);
    if (strlen(json_string_value(v)) != len)
        return rk_verr_set(e, p, "contains a NUL character");
    char *s = strdup(json_string_value(v));
    if (!s)
        return RK_ENOMEM;
    free(*out);
    *out = s;
    return RK_OK;
}

int rk_json_get_id(const json_t *obj, const char *path, const char *key, int required, char **out,
                   rk_verr_t *e)
{
    char *s = NULL;
    int rc = rk_json_get_str(obj, path, key, required, 64, &s, e);
    if (rc || !s)
        return rc;
    if (!rk_id_valid(s)) {
        char p[RK_PATH_MAX];
        rk_path_key(p, path, key);
        free(s);
        return rk_verr_set(e, p, "expected " RK_ID_RULE);
    }
    free(*out);
    *out = s;
    return RK_OK;
}

int rk_json_get_time(const json_t *obj, const char *path, const char *key, int required,
                     rk_time_t *out, bool *present, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    json_t *v;
    int rc = lookup(obj, path, key, required, present, p, &v, e);
    if (rc || !v)
        return rc;
    rk_time_t t;
    if (!json_is_string(v) || rk_time_parse(json_string_value(v), &t) != RK_OK)
        return rk_verr_set(e, p, "expected an RFC 3339 timestamp");
    *out = t;
    if (present)
        *present = true;
    return RK_OK;
}

int rk_json_get_int(const json_t *obj, const char *path, const char *key, int required, int64_t min,
                    int64_t max, int64_t *out, bool *present, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    json_t *v;
    int rc = lookup(obj, path, key, required, present, p, &v, e);
    if (rc || !v)
        return rc;
    int64_t x;
    if (json_is_integer(v)) {
        x = (int64_t)json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return rk_verr_set(e, p, "expected an integer");
        x = (int64_t)d;
    } else {
        return rk_verr_set(e, p, "expected an integer");
    }
    if (x < min || x > max)
        return rk_verr_set(e, p, "expected an integer from %lld to %lld", (long long)min,
                           (long long)max);
    *out = x;
    if (present)
        *present = true;
    return RK_OK;
}

int rk_json_get_num(const json_t *obj, const char *path, const char *key, int required, double min,
                    double max, double *out, bool *present, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    json_t *v;
    int rc = lookup(obj, path, key, required, present, p, &v, e);
    if (rc || !v)
        return rc;
    if (!json_is_number(v))
        return rk_verr_set(e, p, "expected a number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max)
        return rk_verr_set(e, p, "expected a number from %g to %g", min, max);
    *out = d;
    if (present)
        *present = true;
    return RK_OK;
}

int rk_json_get_bool(const json_t *obj, const char *path, const char *key, int required, bool *out,
                     bool *present, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    json_t *v;
    int rc = lookup(obj, path, key, required, present, p, &v, e);
    if (rc || !v)
        return rc;
    if (!json_is_boolean(v))
        return rk_verr_set(e, p, "expected true or false");
    *out = json_is_true(v);
    if (present)
        *present = true;
    return RK_OK;
}

int rk_json_get_obj(const json_t *obj, const char *path, const char *key, int required,
                    json_t **out, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    json_t *v;
    int rc = lookup(obj, path, key, required, NULL, p, &v, e);
    if (rc || !v)
        return rc;
    if (!json_is_object(v))
        return rk_verr_set(e, p, "expected an object");
    json_decref(*out);
    *out = json_incref(v);
    return RK_OK;
}

int rk_json_get_enum(const json_t *obj, const char *path, const char *key, int required,
                     const char *const *names, int n, int *out, rk_verr_t *e)
{
    char p[RK_PATH_MAX], list[384];
    json_t *v;
    int rc = lookup(obj, path, key, required, NULL, p, &v, e);
    if (rc || !v)
        return rc;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (int i = 0; i < n; i++) {
            if (strcmp(s, names[i]) == 0) {
                *out = i;
                return RK_OK;
            }
        }
    }
    size_t pos = 0;
    list[0] = '\0';
    for (int i = 0; i < n && pos < sizeof list; i++) {
        int w = snprintf(list + pos, sizeof list - pos, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        pos += (size_t)w;
    }
    return rk_verr_set(e, p, "expected one of %s", list);
}

void rk_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int rk_json_get_strv(const json_t *obj, const char *path, const char *key, int required,
                     size_t max_items, char ***out, size_t *n, rk_verr_t *e)
{
    char p[RK_PATH_MAX];
    json_t *v;
    int rc = lookup(obj, path, key, required, NULL, p, &v, e);
    if (rc || !v)
        return rc;
    if (!json_is_array(v))
        return rk_verr_set(e, p, "expected an array of strings");
    size_t count = json_array_size(v);
    if (count > max_items)
        return rk_verr_set(e, p, "more than %zu items", max_items);
    char **arr = calloc(count + 1, sizeof *arr);
    if (!arr)
        return RK_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        json_t *it = json_array_get(v, i);
        if (!json_is_string(it) || strlen(json_string_value(it)) != json_string_length(it)) {
            rk_strv_free(arr, i);
            return rk_verr_set(e, p, "expected an array of strings");
        }
        arr[i] = strdup(json_string_value(it));
        if (!arr[i]) {
            rk_strv_free(arr, i);
            return RK_ENOMEM;
        }
    }
    rk_strv_free(*out, *n);
    *out = arr;
    *n = count;
    return RK_OK;
}

int rk_json_set_str(json_t *obj, const char *key, const char *s)
{
    if (!s)
        return RK_OK;
    return json_object_set_new(obj, key, json_string(s)) ? RK_ENOMEM : RK_OK;
}

int rk_json_set_time(json_t *obj, const char *key, rk_time_t t)
{
    char buf[RK_TIME_STRLEN];
    rk_time_format(t, buf);
    return json_object_set_new(obj, key, json_string(buf)) ? RK_ENOMEM : RK_OK;
}

int rk_json_set_obj(json_t *obj, const char *key, json_t *v)
{
    if (!v)
        return RK_OK;
    return json_object_set(obj, key, v) ? RK_ENOMEM : RK_OK;
}

int rk_json_set_strv(json_t *obj, const char *key, char *const *v, size_t n)
{
    json_t *arr = json_array();
    if (!arr)
        return RK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(arr, json_string(v[i]))) {
            json_decref(arr);
            return RK_ENOMEM;
        }
    }
    return json_object_set_new(obj, key, arr) ? RK_ENOMEM : RK_OK;
}

int rk_json_keep_unknown(const json_t *src, const char *const *known, json_t **dst)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v)
    {
        int is_known = 0;
        for (const char *const *q = known; *q; q++) {
            if (strcmp(*q, k) == 0) {
                is_known = 1;
                break;
            }
        }
        if (is_known)
            continue;
        if (!*dst && !(*dst = json_object()))
            return RK_ENOMEM;
        if (json_object_set(*dst, k, v))
            return RK_ENOMEM;
    }
    return RK_OK;
}
