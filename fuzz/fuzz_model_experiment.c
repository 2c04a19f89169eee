/* Fuzzes the ExperimentSpec decoder (and ExecuteJobRequest, which wraps it):
 * any input must decode or be refused without a crash or leak, and a spec
 * that decodes must encode to a document that decodes to the same
 * encoding again. */
#include <stdint.h>
#include <stdlib.h>

#include "model/execute.h"
#include "model/experiment.h"
#include "model/parse.h"

/* decode(v) → encode → decode → encode; aborts when the encodings differ
 * or the first encoding does not decode. */
static void check_spec(const json_t *v, const char *path)
{
    rk_experiment_t a, b;
    rk_verr_t e;
    if (rk_experiment_decode(v, path, &a, &e) != 0)
        return;
    json_t *enc1 = rk_experiment_encode(&a);
    if (!enc1)
        abort();
    if (rk_experiment_decode(enc1, "", &b, &e) != 0)
        abort();
    json_t *enc2 = rk_experiment_encode(&b);
    if (!enc2 || !json_equal(enc1, enc2))
        abort();
    json_decref(enc2);
    json_decref(enc1);
    rk_experiment_cleanup(&b);
    rk_experiment_cleanup(&a);
}

static void check_request(const json_t *v)
{
    rk_execute_request_t a, b;
    rk_verr_t e;
    if (rk_execute_request_decode(v, "", &a, &e) != 0)
        return;
    json_t *enc1 = rk_execute_request_encode(&a);
    if (!enc1 || rk_execute_request_decode(enc1, "", &b, &e) != 0)
        abort();
    json_t *enc2 = rk_execute_request_encode(&b);
    if (!enc2 || !json_equal(enc1, enc2))
        abort();
    json_decref(enc2);
    json_decref(enc1);
    rk_execute_request_cleanup(&b);
    rk_execute_request_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    rk_verr_t e;
    if (rk_model_parse_json((const char *)data, size, &v, &e) != 0)
        return 0;
    check_spec(v, "");
    check_request(v);
    json_decref(v);
    return 0;
}
