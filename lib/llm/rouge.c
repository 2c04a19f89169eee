/* ROUGE and exact match (rouge.h). */
#include "llm/rouge.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

typedef struct word {
    const char *p;
    size_t n;
} word_t;

/* Splits s (lower-cased in place) into words of [a-z0-9]. */
static size_t split(char *s, word_t *w, size_t max)
{
    size_t n = 0;
    for (char *p = s; *p && n < max;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *b = p;
        while (*p && isalnum((unsigned char)*p)) {
            *p = (char)tolower((unsigned char)*p);
            p++;
        }
        w[n++] = (word_t){b, (size_t)(p - b)};
    }
    return n;
}

static bool eq(const word_t *a, const word_t *b, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (a[i].n != b[i].n || memcmp(a[i].p, b[i].p, a[i].n) != 0)
            return false;
    return true;
}

static double f1(double overlap, double nc, double nr)
{
    if (overlap == 0 || nc == 0 || nr == 0)
        return 0;
    double p = overlap / nc, r = overlap / nr;
    return 2 * p * r / (p + r);
}

/* F1 of k-gram multisets: each reference k-gram matches at most once. */
static double ngram_f1(const word_t *c, size_t nc, const word_t *r, size_t nr, size_t k, bool *used)
{
    if (nc < k || nr < k)
        return 0;
    size_t gc = nc - k + 1, gr = nr - k + 1, overlap = 0;
    memset(used, 0, gr);
    for (size_t i = 0; i < gc; i++)
        for (size_t j = 0; j < gr; j++)
            if (!used[j] && eq(&c[i], &r[j], k)) {
                used[j] = true;
                overlap++;
                break;
            }
    return f1((double)overlap, (double)gc, (double)gr);
}

/* Longest common subsequence, two rows. */
static size_t lcs(const word_t *c, size_t nc, const word_t *r, size_t nr, size_t *row)
{
    size_t *prev = row, *cur = row + nr + 1;
    memset(prev, 0, (nr + 1) * sizeof *prev);
    for (size_t i = 1; i <= nc; i++) {
        cur[0] = 0;
        for (size_t j = 1; j <= nr; j++)
            cur[j] = eq(&c[i - 1], &r[j - 1], 1) ? prev[j - 1] + 1
                     : prev[j] > cur[j - 1]      ? prev[j]
                                                 : cur[j - 1];
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    return prev[nr];
}

int rk_llm_rouge(const char *candidate, const char *reference, rk_llm_rouge_t *out)
{
    memset(out, 0, sizeof *out);
    const size_t max = RK_LLM_ROUGE_WORDS_MAX;
    char *c = strdup(candidate), *r = strdup(reference);
    word_t *wc = malloc(max * sizeof *wc), *wr = malloc(max * sizeof *wr);
    bool *used = malloc(max);
    size_t *row = malloc(2 * (max + 1) * sizeof *row);
    int rc = RK_ENOMEM;
    if (c && r && wc && wr && used && row) {
        size_t nc = split(c, wc, max), nr = split(r, wr, max);
        out->r1 = ngram_f1(wc, nc, wr, nr, 1, used);
        out->r2 = ngram_f1(wc, nc, wr, nr, 2, used);
        out->rl = f1((double)lcs(wc, nc, wr, nr, row), (double)nc, (double)nr);
        rc = 0;
    }
    free(c);
    free(r);
    free(wc);
    free(wr);
    free(used);
    free(row);
    return rc;
}

bool rk_llm_exact_match(const char *a, const char *b)
{
    while (isspace((unsigned char)*a))
        a++;
    while (isspace((unsigned char)*b))
        b++;
    size_t na = strlen(a), nb = strlen(b);
    while (na && isspace((unsigned char)a[na - 1]))
        na--;
    while (nb && isspace((unsigned char)b[nb - 1]))
        nb--;
    return na == nb && memcmp(a, b, na) == 0;
}
