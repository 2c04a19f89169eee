/* Fuzzes the agent models: any input that decodes as an AgentInfo,
 * RegisteredAgentInfo or AgentStatus must encode, decode again and encode to
 * the same JSON, and never crash or leak on the way. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "model/agent.h"
#include "model/parse.h"

/* A real mismatch is a bug: abort so libFuzzer keeps the input. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Decode, encode, decode, encode; the two encodings and the two values must
 * agree. One macro so the three models share the exact same steps. */
#define ROUND_TRIP(T, prefix, v)                                                                   \
    do {                                                                                           \
        T a_, b_;                                                                                  \
        rk_verr_t e_;                                                                              \
        if (prefix##_decode(v, "", &a_, &e_) != 0)                                                 \
            break;                                                                                 \
        json_t *enc1_ = prefix##_encode(&a_);                                                      \
        CHECK(enc1_);                                                                              \
        CHECK(prefix##_decode(enc1_, "", &b_, &e_) == 0);                                          \
        CHECK(prefix##_equal(&a_, &b_));                                                           \
        json_t *enc2_ = prefix##_encode(&b_);                                                      \
        CHECK(enc2_ &&json_equal(enc1_, enc2_));                                                   \
        json_decref(enc1_);                                                                        \
        json_decref(enc2_);                                                                        \
        prefix##_cleanup(&a_);                                                                     \
        prefix##_cleanup(&b_);                                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v;
    rk_verr_t e;
    if (rk_model_parse_json((const char *)data, size, &v, &e) != 0)
        return 0;
    ROUND_TRIP(rk_agent_info_t, rk_agent_info, v);
    ROUND_TRIP(rk_registered_agent_t, rk_registered_agent, v);
    ROUND_TRIP(rk_agent_status_t, rk_agent_status, v);

    /* A copy is equal to its source and encodes the same. */
    rk_registered_agent_t r, c;
    if (rk_registered_agent_decode(v, "", &r, &e) == 0) {
        CHECK(rk_registered_agent_copy(&r, &c) == 0 && rk_registered_agent_equal(&r, &c));
        rk_registered_agent_cleanup(&r);
        rk_registered_agent_cleanup(&c);
    }
    json_decref(v);
    return 0;
}
