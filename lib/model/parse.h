/* Parsing request and answer bodies into JSON before a model decodes them.
 */
#ifndef RK_MODEL_PARSE_H
#define RK_MODEL_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "model/json.h"

/* Parses text[0..len) (which need not be NUL-terminated) as one JSON object.
 * Rejects malformed JSON, duplicate keys, "\u0000" in strings and any
 * top-level value that is not an object. On success *out is a new reference
 * the caller json_decref()s. On failure *out is NULL, e says where the text
 * is bad ("invalid JSON at line 1, column 9: ..." or "body: expected an
 * object") and RK_EINVAL is returned (RK_ENOMEM on allocation failure). */
int rk_model_parse_json(const char *text, size_t len, json_t **out, rk_verr_t *e);

#endif
