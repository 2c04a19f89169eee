/* The webhooks' parts that need no process: the signature against RFC 4231's
 * HMAC-SHA256 test vectors, which events are sent and their stable ids, and
 * the settings (--webhook refused unless http(s), the secret from a file).
 * tests/system/test_webhooks.c delivers them for real. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/tokenfile.h"
#include "server/hmac.h"
#include "server/settings.h"
#include "server/webhooks.h"

/* RFC 4231 section 4: test cases 1, 2 (the one the issue names), 4 and 6
 * (a key longer than the block, hashed first). */
static void test_hmac_rfc4231(void **state)
{
    (void)state;
    char hex[RK_HMAC_SHA256_HEX + 1];
    unsigned char k1[20], k4[25], k6[131];
    memset(k1, 0x0b, sizeof k1);
    for (size_t i = 0; i < sizeof k4; i++)
        k4[i] = (unsigned char)(i + 1);
    memset(k6, 0xaa, sizeof k6);
    unsigned char d4[50];
    memset(d4, 0xcd, sizeof d4);

    rk_srv_hmac_sha256_hex(k1, sizeof k1, "Hi There", 8, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    const char *d2 = "what do ya want for nothing?";
    rk_srv_hmac_sha256_hex("Jefe", 4, d2, strlen(d2), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    rk_srv_hmac_sha256_hex(k4, sizeof k4, d4, sizeof d4, hex);
    assert_string_equal(hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    rk_srv_hmac_sha256_hex(k6, sizeof k6, d6, strlen(d6), hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* One byte of the body changed: another signature. */
    rk_srv_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing!", 28, hex);
    assert_string_not_equal(hex,
                            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static json_t *job(const char *status)
{
    return json_pack("{s:s,s:s,s:{s:s}}", "job_id", "j-1", "experiment_id", "x", "status", "status",
                     status);
}

/* Terminal job states and agent availability are sent, nothing else; the
 * id of a job's end depends only on the job (and its attempt), so a
 * redelivery or a second write of the same end carries the same id. */
static void test_event_ids(void **state)
{
    (void)state;
    char id[256];
    const char *const sent[] = {"completed", "failed", "timeout", "cancelled"};
    for (size_t i = 0; i < 4; i++) {
        json_t *j = job(sent[i]);
        assert_true(srv__hooks_event_id("job", j, 111, id, sizeof id));
        char want[64];
        snprintf(want, sizeof want, "job.j-1.%s", sent[i]);
        assert_string_equal(id, want);
        /* the time does not enter a job's id */
        char again[256];
        assert_true(srv__hooks_event_id("job", j, 222, again, sizeof again));
        assert_string_equal(id, again);
        json_decref(j);
    }
    const char *const not_sent[] = {"queued", "assigned", "running", "paused", "bogus"};
    for (size_t i = 0; i < 5; i++) {
        json_t *j = job(not_sent[i]);
        assert_false(srv__hooks_event_id("job", j, 1, id, sizeof id));
        json_decref(j);
    }
    /* a retried job's attempt tells its ends apart; the first's id is the
     * plain one */
    json_t *j = job("failed");
    json_object_set_new(j, "attempt", json_integer(1));
    assert_true(srv__hooks_event_id("job", j, 1, id, sizeof id));
    assert_string_equal(id, "job.j-1.failed");
    json_object_set_new(j, "attempt", json_integer(2));
    assert_true(srv__hooks_event_id("job", j, 1, id, sizeof id));
    assert_string_equal(id, "job.j-1.failed.2");
    /* too small a buffer: refused, never cut */
    assert_false(srv__hooks_event_id("job", j, 1, id, 8));
    json_decref(j);

    json_t *a = json_pack("{s:s,s:s,s:s}", "agent_id", "a-1", "event", "unavailable", "agent_url",
                          "http://x");
    assert_true(srv__hooks_event_id("agent", a, 1234, id, sizeof id));
    assert_string_equal(id, "agent.a-1.unavailable.1234");
    json_object_set_new(a, "event", json_string("available"));
    assert_true(srv__hooks_event_id("agent", a, 99, id, sizeof id));
    assert_string_equal(id, "agent.a-1.available.99");
    const char *const agent_not[] = {"registered", "paused", "draining", "enabled"};
    for (size_t i = 0; i < 4; i++) {
        json_object_set_new(a, "event", json_string(agent_not[i]));
        assert_false(srv__hooks_event_id("agent", a, 1, id, sizeof id));
    }
    json_decref(a);
    json_t *r = json_pack("{s:s}", "job_id", "j-1");
    assert_false(srv__hooks_event_id("regression", r, 1, id, sizeof id));
    json_decref(r);
}

static int load(rk_server_settings_t *s, char *err, int argc, char **argv)
{
    rk_config_result_t res;
    return rk_server_settings_load(argc, argv, s, &res, err, RK_CONFIG_ERRLEN);
}

static void test_settings(void **state)
{
    (void)state;
    unsetenv("RUCKUS_SERVER_WEBHOOKS");
    unsetenv("RUCKUS_SERVER_WEBHOOK_SECRET");
    unsetenv("RUCKUS_SERVER_WEBHOOK_SECRET_FILE");
    rk_server_settings_t s;
    char err[RK_CONFIG_ERRLEN];

    char *ok[] = {"ruckus-server",
                  "--webhook",
                  "http://127.0.0.1:9/a,b",
                  "--webhook",
                  "https://hooks.example.com/x",
                  "--webhook-secret",
                  "k"};
    assert_int_equal(load(&s, err, 7, ok), 0);
    assert_int_equal(s.webhooks.count, 2); /* a flag's item is taken whole, comma and all */
    assert_string_equal(s.webhooks.items[0], "http://127.0.0.1:9/a,b");
    assert_string_equal(s.webhooks.items[1], "https://hooks.example.com/x");
    char *secret = NULL;
    assert_int_equal(rk_server_settings_webhook_secret(&s, &secret, err, sizeof err), 0);
    assert_string_equal(secret, "k");
    rk_token_free(secret);
    rk_server_settings_cleanup(&s);

    char *bad[] = {"ruckus-server", "--webhook", "http://127.0.0.1:9/", "--webhook", "ftp://x"};
    assert_int_equal(load(&s, err, 5, bad), RK_EINVAL);
    assert_string_equal(err, "ruckus-server: --webhook (RUCKUS_SERVER_WEBHOOKS): a webhook must be "
                             "an http:// or https:// URL with a host, got \"ftp://x\"");
    rk_server_settings_cleanup(&s);

    setenv("RUCKUS_SERVER_WEBHOOKS", "http://127.0.0.1:1/a,http://", 1);
    char *none[] = {"ruckus-server"};
    assert_int_equal(load(&s, err, 1, none), RK_EINVAL);
    assert_non_null(strstr(err, "--webhook (RUCKUS_SERVER_WEBHOOKS): a webhook must be"));
    rk_server_settings_cleanup(&s);
    setenv("RUCKUS_SERVER_WEBHOOKS", "http://127.0.0.1:1/a, https://b.example", 1);
    assert_int_equal(load(&s, err, 1, none), 0);
    assert_int_equal(s.webhooks.count, 2);
    rk_server_settings_cleanup(&s);
    unsetenv("RUCKUS_SERVER_WEBHOOKS");

    /* the secret from a file, newline stripped; not both */
    char path[] = "/tmp/rk-hook-secret-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    char *file[] = {"ruckus-server", "--webhook", "http://127.0.0.1:9/", "--webhook-secret-file",
                    path};
    assert_int_equal(load(&s, err, 5, file), 0);
    assert_int_equal(rk_server_settings_webhook_secret(&s, &secret, err, sizeof err), 0);
    assert_string_equal(secret, "s3cret");
    rk_token_free(secret);
    rk_server_settings_cleanup(&s);
    char *both[] = {"ruckus-server", "--webhook-secret", "x", "--webhook-secret-file", path};
    assert_int_equal(load(&s, err, 5, both), RK_EINVAL);
    assert_string_equal(err, "ruckus-server: --webhook-secret and --webhook-secret-file: give one "
                             "of them");
    rk_server_settings_cleanup(&s);
    unlink(path);
    char *missing[] = {"ruckus-server", "--webhook-secret-file", path};
    assert_int_equal(load(&s, err, 3, missing), 0);
    assert_int_not_equal(rk_server_settings_webhook_secret(&s, &secret, err, sizeof err), 0);
    assert_null(secret);
    assert_non_null(strstr(err, "--webhook-secret-file"));
    rk_server_settings_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_event_ids),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
