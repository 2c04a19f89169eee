/* Validating accessors over jansson values, shared by every model decoder.
 *
 * Each getter reads obj[key], checks its type and range, and on failure
 * fills an rk_verr_t whose message starts with the field's full path
 * ("task.params.argv: expected an array of strings") and returns RK_EINVAL.
 * `path` is the path of obj itself ("" at the top level). Absent optional
 * fields and JSON null leave the output untouched and return 0.
 */
#ifndef RK_MODEL_JSON_H
#define RK_MODEL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/time.h"

#define RK_PATH_MAX 256

typedef struct rk_verr {
    char msg[512];
} rk_verr_t;

/* Formats "path: reason" into e (if e is not NULL); returns RK_EINVAL. */
int rk_verr_set(rk_verr_t *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "parent.key" (or "key" when parent is empty) into out[RK_PATH_MAX]. */
void rk_path_key(char *out, const char *parent, const char *key);
/* Writes "parent[i]" into out[RK_PATH_MAX]. */
void rk_path_index(char *out, const char *parent, size_t i);

/* True when s matches [A-Za-z0-9_.-]{1,64} and is not "." or "..", so it is
 * safe as a single path segment and a file name. */
bool rk_id_valid(const char *s);
/* rk_id_valid in words, for error messages. */
#define RK_ID_RULE "an id of 1 to 64 characters from [A-Za-z0-9_.-]"

/* Required fields: absent or null is "field required". */
enum { RK_OPTIONAL = 0, RK_REQUIRED = 1 };

/* String; *out is a malloc'd copy the caller frees. With max_len > 0 a longer
 * string is rejected. */
int rk_json_get_str(const json_t *obj, const char *path, const char *key, int required,
                    size_t max_len, char **out, rk_verr_t *e);
/* String that must satisfy rk_id_valid. */
int rk_json_get_id(const json_t *obj, const char *path, const char *key, int required, char **out,
                   rk_verr_t *e);
/* RFC 3339 timestamp; *present (may be NULL) tells whether it was there. */
int rk_json_get_time(const json_t *obj, const char *path, const char *key, int required,
                     rk_time_t *out, bool *present, rk_verr_t *e);
/* Integer in [min, max]; a real with no fractional part is accepted. */
int rk_json_get_int(const json_t *obj, const char *path, const char *key, int required, int64_t min,
                    int64_t max, int64_t *out, bool *present, rk_verr_t *e);
/* Finite number in [min, max]. */
int rk_json_get_num(const json_t *obj, const char *path, const char *key, int required, double min,
                    double max, double *out, bool *present, rk_verr_t *e);
int rk_json_get_bool(const json_t *obj, const char *path, const char *key, int required, bool *out,
                     bool *present, rk_verr_t *e);
/* JSON object; *out gets a new reference (json_decref it). */
int rk_json_get_obj(const json_t *obj, const char *path, const char *key, int required,
                    json_t **out, rk_verr_t *e);
/* One of names[0..n-1]; *out is its index. The error lists the values:
 * "task.type: expected one of llm_generation, gpu_benchmark, ...". */
int rk_json_get_enum(const json_t *obj, const char *path, const char *key, int required,
                     const char *const *names, int n, int *out, rk_verr_t *e);
/* Array of strings: *out is a malloc'd array of *n malloc'd strings; free
 * with rk_strv_free. At most max_items entries. */
int rk_json_get_strv(const json_t *obj, const char *path, const char *key, int required,
                     size_t max_items, char ***out, size_t *n, rk_verr_t *e);
void rk_strv_free(char **v, size_t n);

/* Checks that the top value is an object ("path: expected an object"). */
int rk_json_expect_obj(const json_t *v, const char *path, rk_verr_t *e);

/* Encoding helpers: set obj[key] only when the value is there. Each returns
 * RK_ENOMEM on allocation failure. */
int rk_json_set_str(json_t *obj, const char *key, const char *s); /* skips NULL */
int rk_json_set_time(json_t *obj, const char *key, rk_time_t t);  /* always sets */
int rk_json_set_obj(json_t *obj, const char *key, json_t *v);     /* borrows v, skips NULL */
int rk_json_set_strv(json_t *obj, const char *key, char *const *v, size_t n);

/* Copies into dst every member of src whose key is not in known[] (NULL
 * terminated), so unknown fields survive a decode/encode round trip.
 * dst may be NULL, then it is created when there is something to keep. */
int rk_json_keep_unknown(const json_t *src, const char *const *known, json_t **dst);

#endif
