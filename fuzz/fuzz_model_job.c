/* Fuzzes the job models: any input that decodes as a JobStatus or JobInfo
 * must encode, decode again and encode to the same JSON, and never crash or
 * leak on the way. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/job.h"
#include "model/parse.h"

/* A real mismatch is a bug: abort so libFuzzer keeps the input. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void round_trip_status(const json_t *v)
{
    rk_job_status_t a, b;
    rk_verr_t e;
    if (rk_job_status_decode(v, "", &a, &e) != 0)
        return;
    json_t *enc1 = rk_job_status_encode(&a);
    CHECK(enc1);
    CHECK(rk_job_status_decode(enc1, "", &b, &e) == 0);
    CHECK(rk_job_status_equal(&a, &b));
    json_t *enc2 = rk_job_status_encode(&b);
    CHECK(enc2 && json_equal(enc1, enc2));
    json_decref(enc1);
    json_decref(enc2);
    rk_job_status_cleanup(&a);
    rk_job_status_cleanup(&b);
}

static void round_trip_info(const json_t *v)
{
    rk_job_info_t a, b, c;
    rk_verr_t e;
    if (rk_job_info_decode(v, "", &a, &e) != 0)
        return;
    json_t *enc1 = rk_job_info_encode(&a);
    CHECK(enc1);
    CHECK(rk_job_info_decode(enc1, "", &b, &e) == 0);
    CHECK(rk_job_info_equal(&a, &b));
    json_t *enc2 = rk_job_info_encode(&b);
    CHECK(enc2 && json_equal(enc1, enc2));
    CHECK(rk_job_info_copy(&b, &c) == 0 && rk_job_info_equal(&b, &c));
    json_decref(enc1);
    json_decref(enc2);
    rk_job_info_cleanup(&a);
    rk_job_info_cleanup(&b);
    rk_job_info_cleanup(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v;
    rk_verr_t e;
    if (rk_model_parse_json((const char *)data, size, &v, &e) != 0)
        return 0;
    round_trip_status(v);
    round_trip_info(v);
    json_decref(v);
    return 0;
}
