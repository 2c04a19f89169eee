/* Answer quality against a reference: ROUGE-1, ROUGE-2 and ROUGE-L F1
 * (Lin 2004) over lower-cased alphanumeric words, as the rouge-score
 * package computes them without stemming, and exact match (equal after
 * trimming white space).
 */
#ifndef RK_LLM_ROUGE_H
#define RK_LLM_ROUGE_H

#include <stdbool.h>

/* Words of a text scored, at most (ROUGE-L is quadratic in them). */
#define RK_LLM_ROUGE_WORDS_MAX 4096

typedef struct rk_llm_rouge {
    double r1, r2, rl; /* F1 scores in [0, 1] */
} rk_llm_rouge_t;

/* Scores candidate against reference. RK_ENOMEM, else 0. */
int rk_llm_rouge(const char *candidate, const char *reference, rk_llm_rouge_t *out);
/* Whether a and b are equal once leading and trailing white space is
 * dropped. */
bool rk_llm_exact_match(const char *a, const char *b);

#endif
