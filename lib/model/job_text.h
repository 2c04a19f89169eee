/* Splicing JSON texts that are already encoded (a store's stored result
 * bodies) into a larger JSON text without parsing them again: the pieces
 * a listing needs to write `{"results":[<text>,<text>,...],...}` straight
 * into one buffer. The texts are trusted to be valid JSON (the store wrote
 * them from rk_result_encode); strings written here are escaped.
 */
#ifndef RK_MODEL_JOB_TEXT_H
#define RK_MODEL_JOB_TEXT_H

#include <stddef.h>

#include "base/buf.h"
#include "model/job.h"

/* Appends s as a JSON string (quoted; ", \ and control characters
 * escaped, everything else, UTF-8 included, as is). RK_ETOOBIG, RK_ENOMEM. */
int rk_text_string(rk_buf_t *b, const char *s);
/* Appends `"key":` (key escaped as by rk_text_string). */
int rk_text_key(rk_buf_t *b, const char *key);
/* Appends `[t0,t1,...]`, each text as is; NULL texts are skipped. */
int rk_text_array(rk_buf_t *b, char *const *texts, size_t n);
/* Appends JSON value v compact (as json_dumps with JSON_COMPACT |
 * JSON_ENCODE_ANY); RK_ENOMEM also for a value jansson cannot dump. */
int rk_text_json(rk_buf_t *b, const json_t *v);
/* Appends j as rk_job_info_encode + json_dumps(JSON_COMPACT) would write
 * it, byte for byte, without building the jansson tree (listing pages
 * encode a thousand at a time). */
int rk_job_info_text(rk_buf_t *b, const rk_job_info_t *j);

#endif
