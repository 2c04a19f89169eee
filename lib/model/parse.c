#include "model/parse.h"

#include "base/err.h"

int rk_model_parse_json(const char *text, size_t len, json_t **out, rk_verr_t *e)
{
    *out = NULL;
    json_error_t je;
    /* JSON_DECODE_ANY so a scalar or array top level parses and gets the
     * clearer "expected an object" message instead of a syntax error. */
    json_t *v =
        json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return RK_ENOMEM;
        return rk_verr_set(e, "", "invalid JSON at line %d, column %d: %s", je.line, je.column,
                           je.text);
    }
    int rc = rk_json_expect_obj(v, "", e);
    if (rc) {
        json_decref(v);
        return rc;
    }
    *out = v;
    return RK_OK;
}
