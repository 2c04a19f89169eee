/* An agent's token is a record of its own: kept across a server restart
 * (the restarted server still reaches the token-protected agent), never in
 * any answer, and not inside the stored AgentInfo (the agents table of the
 * SQLite file does not hold it). */
#include <sqlite3.h>

#include "server_fixture.h"

static bool agents_table_holds(const char *db, const char *needle)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT body FROM agents", -1, &st, NULL), SQLITE_OK);
    bool found = false;
    while (sqlite3_step(st) == SQLITE_ROW)
        found |= strstr((const char *)sqlite3_column_text(st, 0), needle) != NULL;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return found;
}

static void test_token_record(void **state)
{
    (void)state;
    fx_t f;
    fx_init(&f);
    fx_server_start(&f, "sqlite", NULL);
    rk_test_agent_t *ag = &f.agents[0];
    assert_int_equal(rk_test_agent_start(
                         ag, 1, (const char *const[]){"--token", "s3cret-agent-tok", NULL}, NULL),
                     0);
    f.n_agents = 1;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ag->p.port);
    json_t *b = json_pack("{s:s,s:s}", "agent_url", url, "agent_token", "s3cret-agent-tok");
    long st;
    json_t *v = fx_call(&f, "POST", "/api/v1/agents/register", b, &st);
    json_decref(b);
    assert_int_equal(st, 200);
    snprintf(f.agent_ids[0], sizeof f.agent_ids[0], "%s",
             json_string_value(json_object_get(v, "agent_id")));
    json_decref(v);
    /* Never in an answer. */
    rk_test_resp_t r;
    rk_test_req(&f.srv, "GET", "/api/v1/agents", NULL, NULL, &r);
    assert_null(strstr(r.body, "s3cret-agent-tok"));
    rk_test_resp_cleanup(&r);
    rk_test_req(&f.srv, "GET", "/api/v1/agents/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "s3cret-agent-tok"));
    assert_non_null(strstr(r.body, "\"idle\"")); /* the server reached it with the token */
    rk_test_resp_cleanup(&r);
    /* Not inside the stored AgentInfo. */
    assert_false(agents_table_holds(f.db, "s3cret-agent-tok"));

    /* After a restart the server still reaches the agent: a job runs. */
    assert_int_equal(rk_test_proc_kill9(&f.srv), 0);
    fx_server_start(&f, "sqlite", NULL);
    char exp[32];
    fx_experiment(&f, "with token", "true", 0, exp);
    json_t *j = fx_job(&f, exp, 0, 201);
    json_decref(fx_wait_job(&f, fx_id(j), "completed", 15000));
    json_decref(j);
    fx_cleanup(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_token_record)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
