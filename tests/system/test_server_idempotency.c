/* POST /jobs under an Idempotency-Key, against a real ruckus-server on
 * SQLite and a real agent: a repeat gets the first job (200,
 * Idempotent-Replayed), never a second one, across restarts, kill -9,
 * requests at once and a connection dropped before its answer; bad keys and
 * keys where they are not taken are refused, creating nothing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rk_test_run.h"
#include "server_fixture.h"

typedef struct idem_fx {
    fx_t f;
    char exp[32];
} idem_fx_t;

static int setup(void **state)
{
    idem_fx_t *x = calloc(1, sizeof *x);
    assert_non_null(x);
    fx_init(&x->f);
    fx_server_start(&x->f, "sqlite", NULL);
    fx_agent_start(&x->f, 0, 2, NULL);
    fx_experiment(&x->f, "idem", "sleep 0.05", 0, x->exp);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    idem_fx_t *x = *state;
    fx_cleanup(&x->f);
    free(x);
    return 0;
}

/* POST /jobs with body text under key (NULL: no header); the answer into
 * *r (the caller cleans it up). */
static void post(idem_fx_t *x, const char *key, const char *body, rk_test_resp_t *r)
{
    char h[600];
    snprintf(h, sizeof h, "Idempotency-Key: %s", key ? key : "");
    const char *hdrs[] = {h, NULL};
    assert_int_equal(
        rk_test_req_hdrs(&x->f.srv, "POST", "/api/v1/jobs", body, key ? hdrs : NULL, r), 0);
}

static char *body_of(idem_fx_t *x, const char *extra)
{
    char *b = NULL;
    assert_true(asprintf(&b, "{\"experiment_id\":\"%s\",\"agent_id\":\"%s\"%s}", x->exp,
                         x->f.agent_ids[0], extra ? extra : "") > 0);
    return b;
}

/* How many jobs the server stores for the experiment. */
static long jobs_total(idem_fx_t *x)
{
    long st;
    json_t *v = fx_callf(&x->f, "GET", &st, NULL, "/api/v1/jobs?experiment_id=%s&limit=1", x->exp);
    assert_int_equal(st, 200);
    long n = (long)json_integer_value(json_object_get(v, "total"));
    json_decref(v);
    return n;
}

static void test_repeat_gets_the_first_job(void **state)
{
    idem_fx_t *x = *state;
    char *b = body_of(x, NULL);
    rk_test_resp_t r, r2;
    post(x, "order-1", b, &r);
    assert_int_equal(r.status, 201);
    char hv[16];
    assert_false(rk_test_resp_header(&r, "Idempotent-Replayed", hv, sizeof hv));
    const char *id = fx_id(r.json);
    assert_non_null(id);
    /* The same request, keys in another order and spaced out: the same
     * job, as it is now. */
    char *same = NULL;
    assert_true(asprintf(&same, "{ \"agent_id\" : \"%s\",\n \"experiment_id\": \"%s\" }",
                         x->f.agent_ids[0], x->exp) > 0);
    post(x, "order-1", same, &r2);
    assert_int_equal(r2.status, 200);
    assert_true(rk_test_resp_header(&r2, "Idempotent-Replayed", hv, sizeof hv));
    assert_string_equal(hv, "true");
    assert_string_equal(fx_id(r2.json), id);
    rk_test_resp_cleanup(&r2);
    assert_int_equal(jobs_total(x), 1);
    /* Another request under the key: refused, naming the job. */
    char *other = body_of(x, ",\"priority\":\"high\"");
    post(x, "order-1", other, &r2);
    assert_int_equal(r2.status, 422);
    assert_non_null(strstr(r2.body, id));
    assert_non_null(strstr(r2.body, "new key"));
    rk_test_resp_cleanup(&r2);
    /* Another key: another job. No key: a job each time. */
    post(x, "order-2", b, &r2);
    assert_int_equal(r2.status, 201);
    assert_string_not_equal(fx_id(r2.json), id);
    rk_test_resp_cleanup(&r2);
    post(x, NULL, b, &r2);
    assert_int_equal(r2.status, 201);
    rk_test_resp_cleanup(&r2);
    post(x, NULL, b, &r2);
    assert_int_equal(r2.status, 201);
    rk_test_resp_cleanup(&r2);
    assert_int_equal(jobs_total(x), 4);
    /* Once finished, a repeat still gets it, finished. */
    json_t *done = fx_wait_job(&x->f, id, "completed", 15000);
    json_decref(done);
    post(x, "order-1", b, &r2);
    assert_int_equal(r2.status, 200);
    assert_string_equal(fx_id(r2.json), id);
    assert_string_equal(fx_state(r2.json), "completed");
    rk_test_resp_cleanup(&r2);
    assert_int_equal(jobs_total(x), 4);
    rk_test_resp_cleanup(&r);
    free(b);
    free(same);
    free(other);
}

static void test_bad_keys_create_nothing(void **state)
{
    idem_fx_t *x = *state;
    char *b = body_of(x, NULL);
    rk_test_resp_t r;
    char long_key[300];
    memset(long_key, 'k', 256);
    long_key[256] = '\0';
    const struct {
        const char *header;
        long want;
        const char *says;
    } bad[] = {
        {"Idempotency-Key: a b", 400, "0x20"},
        {"Idempotency-Key: caf\xc3\xa9", 400, "0xc3"},
        {"Idempotency-Key: tab\there", 400, "0x09"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *h[] = {bad[i].header, NULL};
        assert_int_equal(rk_test_req_hdrs(&x->f.srv, "POST", "/api/v1/jobs", b, h, &r), 0);
        assert_int_equal(r.status, bad[i].want);
        assert_non_null(strstr(r.body, bad[i].says));
        assert_non_null(strstr(r.body, "Idempotency-Key"));
        rk_test_resp_cleanup(&r);
    }
    post(x, long_key, b, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "too long"));
    rk_test_resp_cleanup(&r);
    long_key[255] = '\0'; /* 255: the most taken */
    post(x, long_key, b, &r);
    assert_int_equal(r.status, 201);
    rk_test_resp_cleanup(&r);
    /* A key covers one job. */
    char *two = body_of(x, ",\"count\":2");
    post(x, "arr-1", two, &r);
    assert_int_equal(r.status, 422);
    assert_non_null(strstr(r.body, "count"));
    rk_test_resp_cleanup(&r);
    /* Endpoints that create several jobs do not take one. */
    char batch[512], path[128];
    snprintf(batch, sizeof batch, "{\"jobs\":[%s]}", b);
    const char *h[] = {"Idempotency-Key: batch-1", NULL};
    assert_int_equal(rk_test_req_hdrs(&x->f.srv, "POST", "/api/v1/jobs/batch", batch, h, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "POST /api/v1/jobs only"));
    rk_test_resp_cleanup(&r);
    snprintf(path, sizeof path, "/api/v1/experiments/%s/run", x->exp);
    assert_int_equal(rk_test_req_hdrs(&x->f.srv, "POST", path, NULL, h, &r), 0);
    assert_int_equal(r.status, 400);
    rk_test_resp_cleanup(&r);
    /* Only the 255-character key's job was created. */
    assert_int_equal(jobs_total(x), 1);
    free(b);
    free(two);
}

/* The key is stored with its job: a restart, and a kill -9 right after
 * the 201, keep it. */
static void test_key_survives_restart_and_kill9(void **state)
{
    idem_fx_t *x = *state;
    char *b = body_of(x, NULL);
    rk_test_resp_t r;
    post(x, "restart-1", b, &r);
    assert_int_equal(r.status, 201);
    char id1[32];
    snprintf(id1, sizeof id1, "%s", fx_id(r.json));
    rk_test_resp_cleanup(&r);
    int status = 0;
    assert_int_equal(rk_test_proc_stop(&x->f.srv, SIGTERM, 10000, &status), 0);
    fx_server_start(&x->f, "sqlite", NULL);
    post(x, "restart-1", b, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_id(r.json), id1);
    rk_test_resp_cleanup(&r);

    post(x, "kill-1", b, &r);
    assert_int_equal(r.status, 201);
    char id2[32];
    snprintf(id2, sizeof id2, "%s", fx_id(r.json));
    rk_test_resp_cleanup(&r);
    assert_int_equal(rk_test_proc_kill9(&x->f.srv), 0);
    fx_server_start(&x->f, "sqlite", NULL);
    post(x, "kill-1", b, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(fx_id(r.json), id2);
    rk_test_resp_cleanup(&r);
    assert_int_equal(jobs_total(x), 2);
    free(b);
}

static pthread_barrier_t start_line;

typedef struct racer {
    idem_fx_t *x;
    const char *body;
    int idx;
    char id[32];
    int n201, n200, n409, nother;
} racer_t;

/* Sends its key until it has the job: 201 or 200, retrying a 409. */
static void *race_main(void *arg)
{
    racer_t *t = arg;
    char key[64];
    snprintf(key, sizeof key, "race-%d", t->idx);
    pthread_barrier_wait(&start_line); /* all at once */
    for (int tries = 0; tries < 200 && !t->id[0]; tries++) {
        rk_test_resp_t r;
        post(t->x, key, t->body, &r);
        if (r.status == 201 || r.status == 200) {
            snprintf(t->id, sizeof t->id, "%s", fx_id(r.json));
            if (r.status == 201)
                t->n201++;
            else
                t->n200++;
        } else if (r.status == 409 && strstr(r.body, "meanwhile")) {
            t->n409++;
            rk_test_sleep_ms(5);
        } else {
            fprintf(stderr, "%s: %ld %s\n", key, r.status, r.body);
            t->nother++;
        }
        rk_test_resp_cleanup(&r);
    }
    return NULL;
}

/* Requests under one key at once: one job per key, every sender gets it,
 * and none fails (a second insert under a key would fail the manager's
 * whole batch, other keys' jobs with it: the manager looks first). */
static void test_senders_at_once_get_one_job(void **state)
{
    idem_fx_t *x = *state;
    char *b = body_of(x, NULL);
    enum { KEYS = 10, SENDERS = 20 };
    racer_t t[KEYS * SENDERS];
    pthread_t th[KEYS * SENDERS];
    for (int round = 0; round < 2; round++) { /* the second: every key exists */
        pthread_barrier_init(&start_line, NULL, KEYS * SENDERS);
        for (int i = 0; i < KEYS * SENDERS; i++) {
            t[i] = (racer_t){.x = x, .body = b, .idx = i % KEYS};
            assert_int_equal(pthread_create(&th[i], NULL, race_main, &t[i]), 0);
        }
        for (int i = 0; i < KEYS * SENDERS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start_line);
        int created = 0, conflicts = 0;
        for (int i = 0; i < KEYS * SENDERS; i++) {
            assert_true(t[i].id[0]);
            assert_string_equal(t[i].id, t[i % KEYS].id);
            created += t[i].n201;
            conflicts += t[i].n409;
            assert_int_equal(t[i].nother, 0); /* no request of another key failed */
        }
        assert_int_equal(created, round == 0 ? KEYS : 0);
        if (round == 1)
            assert_int_equal(conflicts, 0);
        fprintf(stderr, "round %d: %d created, %d answered 409 then retried\n", round, created,
                conflicts);
    }
    assert_int_equal(jobs_total(x), KEYS);
    free(b);
}

/* A client that sends its POST and drops the connection without reading
 * the answer, then sends it again: one job. */
static void test_dropped_connection_then_retry(void **state)
{
    idem_fx_t *x = *state;
    char *b = body_of(x, NULL);
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        char key[32], req[1024];
        snprintf(key, sizeof key, "dropped-%d", i);
        int n = snprintf(req, sizeof req,
                         "POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         "application/json\r\nIdempotency-Key: %s\r\nContent-Length: %zu\r\n\r\n%s",
                         key, strlen(b), b);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(x->f.srv.port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(write(fd, req, (size_t)n), n);
        close(fd); /* before any answer */
        rk_test_resp_t r;
        post(x, key, b, &r);
        assert_true(r.status == 200 || r.status == 201 || r.status == 409);
        if (r.status == 409) { /* the first is still in its batch */
            rk_test_resp_cleanup(&r);
            rk_test_sleep_ms(50);
            post(x, key, b, &r);
        }
        assert_true(r.status == 200 || r.status == 201);
        rk_test_resp_cleanup(&r);
    }
    assert_int_equal(jobs_total(x), N);
    free(b);
}

/* ruckus job submit: --idempotency-key, and a fresh key per submit. */
static void test_cli_submit_keys(void **state)
{
    idem_fx_t *x = *state;
    static rk_test_run_t r;
    char url[64], first[32];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", x->f.srv.port);
    const char *keyed[] = {"--server",
                           url,
                           "--json",
                           "job",
                           "submit",
                           x->exp,
                           x->f.agent_ids[0],
                           "--idempotency-key",
                           "nightly-2026-12-07",
                           NULL};
    assert_int_equal(rk_test_run(&r, "ruckus", keyed, 0), 0);
    assert_int_equal(r.code, 0);
    json_t *v = json_loads(r.out, 0, NULL);
    assert_non_null(v);
    snprintf(first, sizeof first, "%s", fx_id(v));
    json_decref(v);
    const char *again[] = {
        "--server",           url, "job", "submit", x->exp, x->f.agent_ids[0], "--idempotency-key",
        "nightly-2026-12-07", NULL};
    assert_int_equal(rk_test_run(&r, "ruckus", again, 0), 0);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, first));
    assert_non_null(strstr(r.out, "submitted before under this key"));
    assert_int_equal(jobs_total(x), 1);
    /* No key given: each submit its own job. */
    const char *plain[] = {"--server", url, "job", "submit", x->exp, x->f.agent_ids[0], NULL};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rk_test_run(&r, "ruckus", plain, 0), 0);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "submitted job"));
    }
    assert_int_equal(jobs_total(x), 3);
    /* A key with --count, and a key the server refuses: nothing created. */
    const char *counted[] = {"--server", url, "job", "submit", x->exp,
                             "--count",  "2", "-k",  "k-1",    NULL};
    assert_int_equal(rk_test_run(&r, "ruckus", counted, 0), 0);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "leave out --count"));
    const char *spaced[] = {"--server", url, "job", "submit", x->exp, "-k", "a b", NULL};
    assert_int_equal(rk_test_run(&r, "ruckus", spaced, 0), 0);
    assert_int_equal(r.code, 6);
    assert_non_null(strstr(r.err, "Idempotency-Key"));
    assert_int_equal(jobs_total(x), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_repeat_gets_the_first_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys_create_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_survives_restart_and_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_senders_at_once_get_one_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_connection_then_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_submit_keys, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
