/* The validating JSON getters and setters of model/json.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "model/json.h"

#define BAD_ID "expected an id of 1 to 64 characters from [A-Za-z0-9_.-]"

/* One document every test reads from. */
static const char *doc_text =
    "{\"s\":\"hello\",\"n\":null,\"i\":42,\"neg\":-7,\"r\":2.5,\"whole\":3.0,\"b\":true,"
    "\"o\":{\"k\":1},\"a\":[\"x\",\"y\"],\"an\":[\"x\",1],\"id\":\"gpu-1.a_b\","
    "\"t\":\"2026-11-23T13:07:37.123456Z\",\"badt\":\"2026-13-01T00:00:00Z\","
    "\"e\":\"fp16\",\"empty\":\"\"}";

static int setup(void **state)
{
    *state = json_loads(doc_text, 0, NULL);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    json_decref(*state);
    return 0;
}

static void test_verr_and_paths(void **state)
{
    (void)state;
    rk_verr_t e;
    assert_int_equal(rk_verr_set(&e, "a.b", "bad %d", 3), RK_EINVAL);
    assert_string_equal(e.msg, "a.b: bad 3");
    rk_verr_set(&e, "", "no path");
    assert_string_equal(e.msg, "no path");
    rk_verr_set(&e, NULL, "no path");
    assert_string_equal(e.msg, "no path");
    assert_int_equal(rk_verr_set(NULL, "x", "ignored"), RK_EINVAL);

    char p[RK_PATH_MAX];
    rk_path_key(p, "", "task");
    assert_string_equal(p, "task");
    rk_path_key(p, "task", "params");
    assert_string_equal(p, "task.params");
    rk_path_index(p, "task.params.argv", 2);
    assert_string_equal(p, "task.params.argv[2]");
}

static void test_id_valid(void **state)
{
    (void)state;
    assert_true(rk_id_valid("a"));
    assert_true(rk_id_valid("job_0123abcd"));
    assert_true(rk_id_valid("A-z.0_9"));
    assert_true(rk_id_valid("..."));
    assert_true(rk_id_valid(".hidden"));
    assert_false(rk_id_valid(""));
    assert_false(rk_id_valid("."));
    assert_false(rk_id_valid(".."));
    assert_false(rk_id_valid("a/b"));
    assert_false(rk_id_valid("/"));
    assert_false(rk_id_valid("a b"));
    assert_false(rk_id_valid("a\\b"));
    assert_false(rk_id_valid("caf\xc3\xa9"));
    assert_false(rk_id_valid(NULL));
    char s[66];
    memset(s, 'x', 65);
    s[64] = '\0';
    assert_true(rk_id_valid(s)); /* 64 */
    s[64] = 'x';
    s[65] = '\0';
    assert_false(rk_id_valid(s)); /* 65 */
}

static void test_get_str(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    char *s = NULL;
    assert_int_equal(rk_json_get_str(d, "", "s", RK_REQUIRED, 0, &s, &e), RK_OK);
    assert_string_equal(s, "hello");
    /* A second read replaces (and frees) the previous value. */
    assert_int_equal(rk_json_get_str(d, "", "empty", RK_REQUIRED, 5, &s, &e), RK_OK);
    assert_string_equal(s, "");
    /* Absent or null optional: untouched. */
    assert_int_equal(rk_json_get_str(d, "", "nope", RK_OPTIONAL, 0, &s, &e), RK_OK);
    assert_int_equal(rk_json_get_str(d, "", "n", RK_OPTIONAL, 0, &s, &e), RK_OK);
    assert_string_equal(s, "");
    assert_int_equal(rk_json_get_str(d, "top", "nope", RK_REQUIRED, 0, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "top.nope: field required");
    assert_int_equal(rk_json_get_str(d, "", "n", RK_REQUIRED, 0, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "n: field required");
    assert_int_equal(rk_json_get_str(d, "", "i", RK_REQUIRED, 0, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "i: expected a string");
    assert_int_equal(rk_json_get_str(d, "", "s", RK_REQUIRED, 4, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "s: longer than 4 characters");
    assert_string_equal(s, ""); /* failures leave the output alone */
    free(s);

    json_t *nul = json_object();
    json_object_set_new(nul, "z", json_stringn("a\0b", 3));
    s = NULL;
    assert_int_equal(rk_json_get_str(nul, "", "z", RK_REQUIRED, 0, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "z: contains a NUL character");
    assert_null(s);
    json_decref(nul);
}

static void test_get_id(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    char *s = NULL;
    assert_int_equal(rk_json_get_id(d, "", "id", RK_REQUIRED, &s, &e), RK_OK);
    assert_string_equal(s, "gpu-1.a_b");
    free(s);
    s = NULL;
    assert_int_equal(rk_json_get_id(d, "x", "t", RK_REQUIRED, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "x.t: " BAD_ID);
    assert_int_equal(rk_json_get_id(d, "", "empty", RK_REQUIRED, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "empty: " BAD_ID);
    assert_int_equal(rk_json_get_id(d, "", "i", RK_REQUIRED, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "i: expected a string");
    assert_int_equal(rk_json_get_id(d, "", "nope", RK_REQUIRED, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "nope: field required");
    assert_null(s);

    json_t *o = json_object();
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    json_object_set_new(o, "id", json_string(long_id));
    assert_int_equal(rk_json_get_id(o, "", "id", RK_REQUIRED, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "id: longer than 64 characters");
    json_object_set_new(o, "id", json_string(".."));
    assert_int_equal(rk_json_get_id(o, "", "id", RK_REQUIRED, &s, &e), RK_EINVAL);
    assert_string_equal(e.msg, "id: " BAD_ID);
    assert_null(s);
    json_decref(o);
}

static void test_get_time(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    rk_time_t t = 0, want;
    bool present = false;
    assert_int_equal(rk_time_parse("2026-11-23T13:07:37.123456Z", &want), RK_OK);
    assert_int_equal(rk_json_get_time(d, "", "t", RK_REQUIRED, &t, &present, &e), RK_OK);
    assert_true(t == want);
    assert_true(present);
    assert_int_equal(rk_json_get_time(d, "", "nope", RK_OPTIONAL, &t, &present, &e), RK_OK);
    assert_false(present);
    assert_true(t == want);
    assert_int_equal(rk_json_get_time(d, "", "nope", RK_REQUIRED, &t, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "nope: field required");
    assert_int_equal(rk_json_get_time(d, "", "badt", RK_REQUIRED, &t, &present, &e), RK_EINVAL);
    assert_string_equal(e.msg, "badt: expected an RFC 3339 timestamp");
    assert_false(present);
    assert_int_equal(rk_json_get_time(d, "", "i", RK_REQUIRED, &t, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "i: expected an RFC 3339 timestamp");
}

static void test_get_int(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    int64_t x = 0;
    bool present = false;
    assert_int_equal(rk_json_get_int(d, "", "i", RK_REQUIRED, 0, 100, &x, &present, &e), RK_OK);
    assert_int_equal(x, 42);
    assert_true(present);
    assert_int_equal(rk_json_get_int(d, "", "whole", RK_REQUIRED, 0, 100, &x, NULL, &e), RK_OK);
    assert_int_equal(x, 3);
    assert_int_equal(rk_json_get_int(d, "", "neg", RK_REQUIRED, -10, 0, &x, NULL, &e), RK_OK);
    assert_int_equal(x, -7);
    assert_int_equal(rk_json_get_int(d, "", "n", RK_OPTIONAL, 0, 1, &x, &present, &e), RK_OK);
    assert_false(present);
    assert_int_equal(x, -7);
    assert_int_equal(rk_json_get_int(d, "p", "r", RK_REQUIRED, 0, 100, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "p.r: expected an integer");
    assert_int_equal(rk_json_get_int(d, "", "s", RK_REQUIRED, 0, 100, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "s: expected an integer");
    assert_int_equal(rk_json_get_int(d, "", "b", RK_REQUIRED, 0, 100, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "b: expected an integer");
    assert_int_equal(rk_json_get_int(d, "", "i", RK_REQUIRED, 1, 10, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "i: expected an integer from 1 to 10");
    assert_int_equal(rk_json_get_int(d, "", "nope", RK_REQUIRED, 1, 10, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "nope: field required");
    assert_int_equal(x, -7);
}

static void test_get_num(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    double x = 0;
    bool present = false;
    assert_int_equal(rk_json_get_num(d, "", "r", RK_REQUIRED, 0, 10, &x, &present, &e), RK_OK);
    assert_true(x == 2.5);
    assert_true(present);
    assert_int_equal(rk_json_get_num(d, "", "i", RK_REQUIRED, 0, 100, &x, NULL, &e), RK_OK);
    assert_true(x == 42.0);
    assert_int_equal(rk_json_get_num(d, "", "nope", RK_OPTIONAL, 0, 1, &x, &present, &e), RK_OK);
    assert_false(present);
    assert_int_equal(rk_json_get_num(d, "", "r", RK_REQUIRED, 0, 1, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "r: expected a number from 0 to 1");
    assert_int_equal(rk_json_get_num(d, "", "s", RK_REQUIRED, 0, 1, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "s: expected a number");
    assert_int_equal(rk_json_get_num(d, "", "n", RK_REQUIRED, 0, 1, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "n: field required");
    assert_true(x == 42.0);
}

static void test_get_bool(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    bool x = false, present = false;
    assert_int_equal(rk_json_get_bool(d, "", "b", RK_REQUIRED, &x, &present, &e), RK_OK);
    assert_true(x);
    assert_true(present);
    assert_int_equal(rk_json_get_bool(d, "", "nope", RK_OPTIONAL, &x, &present, &e), RK_OK);
    assert_false(present);
    assert_int_equal(rk_json_get_bool(d, "", "i", RK_REQUIRED, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "i: expected true or false");
    assert_int_equal(rk_json_get_bool(d, "", "s", RK_REQUIRED, &x, NULL, &e), RK_EINVAL);
    assert_int_equal(rk_json_get_bool(d, "", "nope", RK_REQUIRED, &x, NULL, &e), RK_EINVAL);
    assert_string_equal(e.msg, "nope: field required");
}

static void test_get_obj(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    json_t *o = NULL;
    assert_int_equal(rk_json_get_obj(d, "", "o", RK_REQUIRED, &o, &e), RK_OK);
    assert_ptr_equal(o, json_object_get(d, "o"));
    assert_int_equal(o->refcount, 2); /* a new reference */
    assert_int_equal(rk_json_get_obj(d, "", "o", RK_REQUIRED, &o, &e), RK_OK);
    assert_int_equal(o->refcount, 2); /* the old one was released */
    assert_int_equal(rk_json_get_obj(d, "", "a", RK_REQUIRED, &o, &e), RK_EINVAL);
    assert_string_equal(e.msg, "a: expected an object");
    assert_int_equal(rk_json_get_obj(d, "", "nope", RK_REQUIRED, &o, &e), RK_EINVAL);
    assert_string_equal(e.msg, "nope: field required");
    assert_int_equal(rk_json_get_obj(d, "", "nope", RK_OPTIONAL, &o, &e), RK_OK);
    assert_non_null(o);
    json_decref(o);
}

static void test_get_enum(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    static const char *const names[] = {"fp64", "fp32", "fp16"};
    int x = -1;
    assert_int_equal(rk_json_get_enum(d, "", "e", RK_REQUIRED, names, 3, &x, &e), RK_OK);
    assert_int_equal(x, 2);
    assert_int_equal(rk_json_get_enum(d, "c", "s", RK_REQUIRED, names, 3, &x, &e), RK_EINVAL);
    assert_string_equal(e.msg, "c.s: expected one of fp64, fp32, fp16");
    assert_int_equal(rk_json_get_enum(d, "", "i", RK_REQUIRED, names, 3, &x, &e), RK_EINVAL);
    assert_string_equal(e.msg, "i: expected one of fp64, fp32, fp16");
    assert_int_equal(rk_json_get_enum(d, "", "nope", RK_REQUIRED, names, 3, &x, &e), RK_EINVAL);
    assert_string_equal(e.msg, "nope: field required");
    assert_int_equal(rk_json_get_enum(d, "", "nope", RK_OPTIONAL, names, 3, &x, &e), RK_OK);
    assert_int_equal(x, 2);
}

static void test_get_strv(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    char **v = NULL;
    size_t n = 0;
    assert_int_equal(rk_json_get_strv(d, "", "a", RK_REQUIRED, 10, &v, &n, &e), RK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "x");
    assert_string_equal(v[1], "y");
    assert_int_equal(rk_json_get_strv(d, "", "a", RK_REQUIRED, 1, &v, &n, &e), RK_EINVAL);
    assert_string_equal(e.msg, "a: more than 1 items");
    assert_int_equal(rk_json_get_strv(d, "", "an", RK_REQUIRED, 10, &v, &n, &e), RK_EINVAL);
    assert_string_equal(e.msg, "an: expected an array of strings");
    assert_int_equal(rk_json_get_strv(d, "", "s", RK_REQUIRED, 10, &v, &n, &e), RK_EINVAL);
    assert_string_equal(e.msg, "s: expected an array of strings");
    assert_int_equal(rk_json_get_strv(d, "", "nope", RK_REQUIRED, 10, &v, &n, &e), RK_EINVAL);
    assert_string_equal(e.msg, "nope: field required");
    assert_int_equal(n, 2); /* untouched by the failures */
    rk_strv_free(v, n);
    rk_strv_free(NULL, 0);
}

static void test_expect_obj(void **state)
{
    json_t *d = *state;
    rk_verr_t e;
    assert_int_equal(rk_json_expect_obj(d, "", &e), RK_OK);
    assert_int_equal(rk_json_expect_obj(json_object_get(d, "a"), "", &e), RK_EINVAL);
    assert_string_equal(e.msg, "body: expected an object");
    assert_int_equal(rk_json_expect_obj(NULL, "spec.task", &e), RK_EINVAL);
    assert_string_equal(e.msg, "spec.task: expected an object");
}

static void test_setters(void **state)
{
    (void)state;
    json_t *o = json_object();
    char *strs[] = {"a", "b"};
    assert_int_equal(rk_json_set_str(o, "s", "v"), RK_OK);
    assert_int_equal(rk_json_set_str(o, "skip", NULL), RK_OK);
    assert_int_equal(rk_json_set_time(o, "t", 1000001), RK_OK);
    json_t *sub = json_pack("{s:i}", "k", 1);
    assert_int_equal(rk_json_set_obj(o, "o", sub), RK_OK);
    assert_int_equal(rk_json_set_obj(o, "none", NULL), RK_OK);
    json_decref(sub); /* borrowed: o holds its own reference */
    assert_int_equal(rk_json_set_strv(o, "v", strs, 2), RK_OK);
    assert_int_equal(rk_json_set_strv(o, "empty", NULL, 0), RK_OK);
    json_t *want = json_loads("{\"s\":\"v\",\"t\":\"1970-01-01T00:00:01.000001Z\","
                              "\"o\":{\"k\":1},\"v\":[\"a\",\"b\"],\"empty\":[]}",
                              0, NULL);
    assert_true(json_equal(o, want));
    json_decref(want);
    json_decref(o);
}

static void test_keep_unknown(void **state)
{
    json_t *d = *state;
    static const char *const known[] = {"s", "n", "i",  "neg", "r", "whole", "b",
                                        "o", "a", "an", "id",  "t", "badt",  NULL};
    json_t *extra = NULL;
    assert_int_equal(rk_json_keep_unknown(d, known, &extra), RK_OK);
    assert_int_equal(json_object_size(extra), 2);
    assert_non_null(json_object_get(extra, "e"));
    assert_non_null(json_object_get(extra, "empty"));
    json_decref(extra);

    static const char *const all[] = {"s", "n",  "i",  "neg", "r",    "whole", "b",     "o",
                                      "a", "an", "id", "t",   "badt", "e",     "empty", NULL};
    extra = NULL;
    assert_int_equal(rk_json_keep_unknown(d, all, &extra), RK_OK);
    assert_null(extra); /* nothing to keep: nothing created */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verr_and_paths), cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_get_str),        cmocka_unit_test(test_get_id),
        cmocka_unit_test(test_get_time),       cmocka_unit_test(test_get_int),
        cmocka_unit_test(test_get_num),        cmocka_unit_test(test_get_bool),
        cmocka_unit_test(test_get_obj),        cmocka_unit_test(test_get_enum),
        cmocka_unit_test(test_get_strv),       cmocka_unit_test(test_expect_obj),
        cmocka_unit_test(test_setters),        cmocka_unit_test(test_keep_unknown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
