/* ruckus job logs: the whole log of a finished job in 1 MiB answers, with
 * the agent's X-Ruckus-* headers and without them (a server that does not
 * pass them through), and following a running job's growing log to its
 * end. The answers are scripted: a log that grows by a given size at each
 * pause of the follower. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/logs.h"

#define CHUNK (1u << 20) /* the agent's LOG_CHUNK */
#define MIB (1u << 20)

typedef struct script {
    bool headers;     /* answer with X-Ruckus-* */
    uint64_t size[4]; /* the log's size after 0, 1, 2, 3 pauses */
    int finish_after; /* the job ends after this many pauses */
    int pauses, fetches, ended_asks;
    uint64_t back_at;  /* answer a next offset lower than asked at this offset (0: never) */
    int fail_at_fetch; /* return an exit code at this fetch (0: never) */
} script_t;

static char byte_at(uint64_t i)
{
    return (char)('a' + (i * 31 + i / 7) % 26);
}

static uint64_t size_now(const script_t *s)
{
    return s->size[s->pauses < 3 ? s->pauses : 3];
}

static int fetch(void *ud, uint64_t off, rk_cli_log_chunk_t *ch)
{
    script_t *s = ud;
    s->fetches++;
    if (s->fail_at_fetch && s->fetches == s->fail_at_fetch)
        return RK_CLI_EXIT_NOT_FOUND;
    bool finished = s->pauses >= s->finish_after; /* decided before the read */
    uint64_t size = size_now(s);
    size_t n = off < size ? (size - off > CHUNK ? CHUNK : (size_t)(size - off)) : 0;
    char *tmp = malloc(n + 1);
    assert_non_null(tmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = byte_at(off + i);
    assert_int_equal(rk_buf_add(&ch->text, tmp, n), 0);
    free(tmp);
    if (s->headers) {
        ch->has_next = ch->has_size = ch->has_finished = true;
        ch->next = s->back_at && off == s->back_at ? off - 1 : off + n;
        ch->size = size;
        ch->finished = finished;
    }
    return 0;
}

static int ended(void *ud)
{
    script_t *s = ud;
    s->ended_asks++;
    return s->pauses >= s->finish_after;
}

static void pause_(void *ud)
{
    script_t *s = ud;
    s->pauses++;
}

/* Runs the copy; *text gets what it printed (free it), *len its length. */
static int run(script_t *s, bool follow, char **text, size_t *len)
{
    FILE *out = open_memstream(text, len);
    assert_non_null(out);
    FILE *err = fopen("/dev/null", "w");
    assert_non_null(err);
    rk_cli_log_io_t io = {.fetch = fetch, .ended = ended, .pause = pause_, .ud = s, .err = err};
    int code = rk_cli_logs_copy(&io, follow, out);
    fclose(out);
    fclose(err);
    return code;
}

static void assert_log(const char *text, size_t len, uint64_t want)
{
    assert_int_equal(len, want);
    for (size_t i = 0; i < len; i++)
        if (text[i] != byte_at(i))
            fail_msg("byte %zu differs", i);
}

/* 16 MiB + 1 byte: all of it, 17 answers, the last one says the end. */
static void test_whole_log_with_headers(void **state)
{
    (void)state;
    script_t s = {.headers = true,
                  .size = {16 * MIB + 1, 16 * MIB + 1, 16 * MIB + 1, 16 * MIB + 1}};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(run(&s, false, &text, &len), 0);
    assert_log(text, len, 16 * MIB + 1);
    assert_int_equal(s.fetches, 17);
    assert_int_equal(s.pauses, 0);
    assert_int_equal(s.ended_asks, 0);
    free(text);
}

/* Without the headers: the same bytes; an empty answer marks the end. */
static void test_whole_log_without_headers(void **state)
{
    (void)state;
    script_t s = {.size = {3 * MIB + 5, 3 * MIB + 5, 3 * MIB + 5, 3 * MIB + 5}};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(run(&s, false, &text, &len), 0);
    assert_log(text, len, 3 * MIB + 5);
    assert_int_equal(s.fetches, 5);
    assert_int_equal(s.pauses, 0);
    free(text);
}

/* An empty log: one answer, nothing printed. */
static void test_empty_log(void **state)
{
    (void)state;
    script_t s = {.headers = true};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(run(&s, false, &text, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(s.fetches, 1);
    free(text);
}

/* -f on a running job: waits at the end of what is there, goes on as the
 * log grows, stops once an answer says finished and the end was read. */
static void test_follow_with_headers(void **state)
{
    (void)state;
    script_t s = {.headers = true,
                  .size = {MIB + MIB / 2, 2 * MIB + 10, 2 * MIB + 10, 2 * MIB + 10},
                  .finish_after = 2};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(run(&s, true, &text, &len), 0);
    assert_log(text, len, 2 * MIB + 10);
    assert_int_equal(s.pauses, 2);
    assert_int_equal(s.ended_asks, 0); /* the headers said it */
    free(text);
}

/* -f without headers: whether the job ended is asked before each read, so
 * the read after "ended" still gets the last bytes. */
static void test_follow_without_headers(void **state)
{
    (void)state;
    script_t s = {.size = {100, MIB + 200, 2 * MIB + 300, 2 * MIB + 300}, .finish_after = 2};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(run(&s, true, &text, &len), 0);
    assert_log(text, len, 2 * MIB + 300);
    assert_int_equal(s.pauses, 2);
    assert_true(s.ended_asks >= 3);
    free(text);
}

/* A failed answer ends the copy with its exit code; a next offset that
 * goes backwards is refused instead of looping. */
static void test_errors(void **state)
{
    (void)state;
    script_t s = {
        .headers = true, .size = {3 * MIB, 3 * MIB, 3 * MIB, 3 * MIB}, .fail_at_fetch = 2};
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(run(&s, false, &text, &len), RK_CLI_EXIT_NOT_FOUND);
    assert_log(text, len, MIB);
    free(text);
    script_t b = {.headers = true, .size = {3 * MIB, 3 * MIB, 3 * MIB, 3 * MIB}, .back_at = MIB};
    assert_int_equal(run(&b, false, &text, &len), RK_CLI_EXIT_FAILURE);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_log_with_headers),
        cmocka_unit_test(test_whole_log_without_headers),
        cmocka_unit_test(test_empty_log),
        cmocka_unit_test(test_follow_with_headers),
        cmocka_unit_test(test_follow_without_headers),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
