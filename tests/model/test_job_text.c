/* model/job_text: strings escaped as jansson would, texts spliced as is,
 * and the result parses back to what was put in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "model/job_text.h"

static void string_escapes_like_jansson(void **state)
{
    (void)state;
    const char *cases[] = {"",
                           "plain",
                           "q\"uote",
                           "back\\slash",
                           "nl\ncr\rtab\t",
                           "bs\bff\f",
                           "ctl\x01\x1f",
                           "utf-8 \xc3\xa9\xe2\x82\xac",
                           "/slash"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rk_buf_t b;
        rk_buf_init(&b, 1 << 16);
        assert_int_equal(rk_text_string(&b, cases[i]), 0);
        json_t *s = json_string(cases[i]);
        char *want = json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(s);
        assert_string_equal(rk_buf_str(&b), want);
        /* And it parses back to the same string. */
        json_t *back = json_loads(rk_buf_str(&b), JSON_DECODE_ANY, NULL);
        assert_non_null(back);
        assert_string_equal(json_string_value(back), cases[i]);
        json_decref(back);
        free(want);
        rk_buf_cleanup(&b);
    }
}

static void key_and_array(void **state)
{
    (void)state;
    rk_buf_t b;
    rk_buf_init(&b, 1 << 16);
    char *texts[] = {"{\"a\":1}", NULL, "[2,3]", "\"s\""};
    assert_int_equal(rk_buf_add(&b, "{", 1), 0);
    assert_int_equal(rk_text_key(&b, "k\"ey"), 0);
    assert_int_equal(rk_text_array(&b, texts, 4), 0);
    assert_int_equal(rk_buf_add(&b, ",", 1), 0);
    assert_int_equal(rk_text_key(&b, "none"), 0);
    assert_int_equal(rk_text_array(&b, NULL, 0), 0);
    assert_int_equal(rk_buf_add(&b, "}", 1), 0);
    assert_string_equal(rk_buf_str(&b), "{\"k\\\"ey\":[{\"a\":1},[2,3],\"s\"],\"none\":[]}");
    json_t *v = json_loads(rk_buf_str(&b), 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_array_size(json_object_get(v, "k\"ey")), 3);
    json_decref(v);
    rk_buf_cleanup(&b);
}

static void cap_is_an_error(void **state)
{
    (void)state;
    rk_buf_t b;
    rk_buf_init(&b, 8);
    char *texts[] = {"{\"long\":\"text\"}"};
    assert_int_equal(rk_text_array(&b, texts, 1), RK_ETOOBIG);
    rk_buf_reset(&b);
    assert_int_equal(rk_text_string(&b, "far too long for eight"), RK_ETOOBIG);
    rk_buf_cleanup(&b);
}

/* rk_job_info_text writes what the encoder + json_dumps wrote. */
static void job_info_text_equals_encoder(void **state)
{
    (void)state;
    json_t *labels = json_pack("{s:s,s:s}", "gpu", "a100", "zone", "eu\"1");
    json_t *extra = json_pack("{s:i,s:i,s:[s],s:s}", "attempt", 2, "max_attempts", 3, "waiting_for",
                              "job_1\"x", "not_before", "2026-12-06T00:00:00Z");
    rk_job_status_t hist[2] = {{.status = RK_JOB_QUEUED, .timestamp = 1000000, .message = "q"},
                               {.status = RK_JOB_RUNNING, .timestamp = 2000001}};
    const double progress[] = {0, 0.5, 1, 0.1, 1.0 / 3};
    for (int i = 0; i < 40; i++) {
        rk_job_info_t j = {
            .job_id = "job_0000abcd",
            .experiment_id = i % 7 == 6 ? NULL : "exp-1",
            .agent_id = i % 3 == 0   ? NULL
                        : i % 3 == 1 ? "agent-1"
                                     : "caf\xc3\xa9\n",
            .created_time = 1767225600000000LL + i * 1234567LL,
            .priority = (rk_job_priority_t)(i % RK_PRIORITY_COUNT),
            .exclusive = i % 2,
            .selector_labels = i % 4 == 3 ? labels : NULL,
            .extra = i % 3 == 2 ? extra : NULL,
            .status = {.status = (rk_job_state_t)(i % RK_JOB_STATE_COUNT),
                       .timestamp = 1767225600123456LL + i,
                       .message = i % 5 == 0 ? NULL : "done \"ok\"\t\x01",
                       .has_progress = i % 2 == 0,
                       .progress = progress[i % 5],
                       .job_id = i % 9 == 8 ? "job_0000abcd" : NULL},
            .has_history = i % 10 == 9,
            .history = hist,
            .n_history = 2,
        };
        rk_buf_t b;
        rk_buf_init(&b, 1 << 16);
        assert_int_equal(rk_job_info_text(&b, &j), 0);
        json_t *v = rk_job_info_encode(&j);
        char *want = json_dumps(v, JSON_COMPACT);
        json_decref(v);
        assert_string_equal(rk_buf_str(&b), want);
        free(want);
        rk_buf_cleanup(&b);
    }
    json_decref(labels);
    json_decref(extra);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(string_escapes_like_jansson),
        cmocka_unit_test(key_and_array),
        cmocka_unit_test(cap_is_an_error),
        cmocka_unit_test(job_info_text_equals_encoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
