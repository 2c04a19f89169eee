/* Fuzzes the JobResult / ExperimentResult decoder: any input must decode or
 * be refused without a crash or leak, and a result that decodes must encode
 * to a document that decodes to the same encoding again. A result with runs
 * is also summarized (model/stats.h), which must encode as well. */
#include <stdint.h>
#include <stdlib.h>

#include "model/parse.h"
#include "model/result.h"
#include "model/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    rk_verr_t e;
    if (rk_model_parse_json((const char *)data, size, &v, &e) != 0)
        return 0;
    rk_result_t a, b;
    if (rk_result_decode(v, "", &a, &e) != 0) {
        json_decref(v);
        return 0;
    }
    json_t *enc1 = rk_result_encode(&a);
    if (!enc1 || rk_result_decode(enc1, "", &b, &e) != 0)
        abort();
    json_t *enc2 = rk_result_encode(&b);
    if (!enc2 || !json_equal(enc1, enc2))
        abort();
    if (a.n_runs > 0) {
        if (rk_stats_apply(&a) != 0)
            abort();
        rk_result_t c;
        json_t *enc3 = rk_result_encode(&a);
        if (!enc3 || rk_result_decode(enc3, "", &c, &e) != 0)
            abort();
        rk_result_cleanup(&c);
        json_decref(enc3);
    }
    json_decref(enc2);
    json_decref(enc1);
    rk_result_cleanup(&b);
    rk_result_cleanup(&a);
    json_decref(v);
    return 0;
}
