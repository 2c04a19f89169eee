/* The event relay between servers on one PostgreSQL (lib/server/relay.c),
 * against the real PostgreSQL the test starts: a relay out sends what its
 * tap is given, a relay in publishes it into another bus, in order.
 *
 * - Flow: 1,000 events arrive once each, in order, with no gap.
 * - Overflow (the fault case): the out connection's backend frozen
 *   (SIGSTOP) while 70,000 events are pushed: the queue keeps 65,536, the
 *   newest are dropped, and exactly one gap follows what was kept; events
 *   after it arrive after it.
 * Skipped, saying why, where no PostgreSQL can be started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rk_test.h"
#include "rk_test_pg.h"
#include "server/internal.h"

/* What the in side's bus published: each event's "n" (-1 for a gap). */
typedef struct {
    pthread_mutex_t mu;
    long *seen;
    size_t n, cap;
} cap_t;

static void capture(void *ud, const char *type, const char *json)
{
    cap_t *c = ud;
    long v = -1;
    if (strcmp(type, "gap") != 0) {
        const char *p = strstr(json, "\"n\":");
        v = p ? strtol(p + 4, NULL, 10) : -2;
    }
    pthread_mutex_lock(&c->mu);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->seen = realloc(c->seen, c->cap * sizeof *c->seen);
    }
    c->seen[c->n++] = v;
    pthread_mutex_unlock(&c->mu);
}

static size_t count(cap_t *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

typedef struct {
    char url[512], out_url[600];
    rk_srv_events_t *ev;
    srv_relay_t *in, *out;
    cap_t cap;
} fx_t;

static void push(fx_t *f, long n)
{
    char json[48];
    snprintf(json, sizeof json, "{\"n\":%ld}", n);
    srv__relay_push(f->out, "job", json);
}

/* Until the in side hears the out side (LISTEN is asynchronous to the
 * first NOTIFY): probes (n = -3) until one arrives; then forgets them. */
static void connect_both(fx_t *f)
{
    bool heard = false;
    for (double end = rk_test_now_ms() + 20000; !heard && rk_test_now_ms() < end;) {
        push(f, -3);
        rk_test_sleep_ms(50);
        heard = count(&f->cap) > 0;
    }
    assert_true(heard);
    rk_test_sleep_ms(300);
    pthread_mutex_lock(&f->cap.mu);
    f->cap.n = 0;
    pthread_mutex_unlock(&f->cap.mu);
}

static int setup(void **state)
{
    const char *why = NULL;
    if (!rk_test_pg_server(&why)) {
        print_message("postgresql unavailable: %s\n", why);
        skip();
    }
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_init(&f->cap.mu, NULL);
    assert_int_equal(rk_test_pg_create_db(f->url, sizeof f->url), 0);
    snprintf(f->out_url, sizeof f->out_url, "%s application_name=rk_relay_out", f->url);
    assert_int_equal(rk_srv_events_new(1024, &f->ev), 0);
    rk_srv_events_tap(f->ev, capture, &f->cap);
    assert_int_equal(srv__relay_in_new(f->url, f->ev, &f->in), 0);
    assert_int_equal(srv__relay_out_new(f->out_url, &f->out), 0);
    connect_both(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    srv__relay_free(f->out);
    srv__relay_free(f->in);
    rk_srv_events_free(f->ev);
    rk_test_pg_drop_db(f->url);
    free(f->cap.seen);
    pthread_mutex_destroy(&f->cap.mu);
    free(f);
    return 0;
}

static void wait_count(fx_t *f, size_t n, int ms)
{
    for (double end = rk_test_now_ms() + ms; count(&f->cap) < n && rk_test_now_ms() < end;)
        rk_test_sleep_ms(20);
}

static void test_in_order(void **state)
{
    fx_t *f = *state;
    enum { N = 1000 };
    for (long i = 0; i < N; i++)
        push(f, i);
    wait_count(f, N, 30000);
    rk_test_sleep_ms(200);
    assert_int_equal(count(&f->cap), N);
    for (long i = 0; i < N; i++)
        assert_int_equal(f->cap.seen[i], i);
}

/* The pid of the out relay's backend (by its application_name). */
static int out_backend(const fx_t *f)
{
    PGconn *c = PQconnectdb(f->url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r =
        PQexec(c, "SELECT pid FROM pg_stat_activity WHERE application_name = 'rk_relay_out'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    int pid = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return pid;
}

static void test_overflow_drops_newest_then_gap(void **state)
{
    fx_t *f = *state;
    enum { N = 70000, KEPT_MAX = 65536 };
    int pid = out_backend(f);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    /* The out thread takes what is queued at its first wake-up and then
     * hangs in its send; all the rest waits in the queue. */
    push(f, 0);
    rk_test_sleep_ms(300);
    for (long i = 1; i < N; i++)
        push(f, i);
    assert_int_equal(kill(pid, SIGCONT), 0);
    /* Kept: the first batch, KEPT_MAX queued, one gap; once it is all
     * through, ten more. */
    wait_count(f, KEPT_MAX + 2, 120000);
    rk_test_sleep_ms(500);
    for (long i = N; i < N + 10; i++)
        push(f, i);
    size_t least = KEPT_MAX + 2 + 10;
    wait_count(f, least, 30000);
    rk_test_sleep_ms(500);
    size_t n = count(&f->cap);
    assert_true(n >= least);
    /* In order: 0..k-1, the gap, then the last ten; nothing else. */
    size_t k = 0;
    while (k < n && f->cap.seen[k] == (long)k)
        k++;
    fprintf(stderr, "%zu kept of %d pushed while frozen, then a gap\n", k, N);
    assert_true(k >= KEPT_MAX + 1 && k < N);
    assert_int_equal(f->cap.seen[k], -1);
    assert_int_equal(n, k + 1 + 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(f->cap.seen[k + 1 + i], N + (long)i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow_drops_newest_then_gap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
