/* docs/configuration.md is generated from the three option tables; this
 * test regenerates it and fails when the committed file differs, so the
 * reference cannot drift from the code. To refresh the file:
 *   RK_UPDATE_DOCS=1 ctest -R docs/test_configuration
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/settings.h"
#include "base/buf.h"
#include "cli/settings.h"
#include "server/settings.h"

static const rk_config_spec_t *const specs[] = {&rk_server_config, &rk_agent_config,
                                                &rk_cli_config};

static int read_stream(FILE *f, rk_buf_t *out)
{
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (rk_buf_add(out, chunk, n))
            return -1;
    return ferror(f) ? -1 : 0;
}

static void test_doc_matches_tables(void **state)
{
    const char *src = getenv("RK_SOURCE_DIR");
    assert_non_null(src);
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/configuration.md", src);

    rk_buf_t want, have;
    rk_buf_init(&want, 1 << 20);
    rk_buf_init(&have, 1 << 20);
    assert_int_equal(rk_config_markdown_doc(specs, 3, &want), 0);

    const char *update = getenv("RK_UPDATE_DOCS");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(rk_buf_str(&want), f) == EOF, 0);
        assert_int_equal(fclose(f), 0);
    }
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s is missing; generate it with RK_UPDATE_DOCS=1", path);
    assert_int_equal(read_stream(f, &have), 0);
    fclose(f);
    if (strcmp(rk_buf_str(&want), rk_buf_str(&have)) != 0) {
        rk_buf_cleanup(&want);
        rk_buf_cleanup(&have);
        fail_msg("%s is out of date with the option tables; regenerate it with RK_UPDATE_DOCS=1 "
                 "ctest -R "
                 "docs/test_configuration",
                 path);
    }
    /* Every option of every program appears in it. */
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < specs[i]->count; j++)
            if (specs[i]->options[j].env)
                assert_non_null(strstr(rk_buf_str(&have), specs[i]->options[j].env));
    rk_buf_cleanup(&want);
    rk_buf_cleanup(&have);
}

/* The hidden flag of each program prints the same section the doc holds. */
static void test_programs_print_their_section(void **state)
{
    static const char *const progs[] = {"ruckus-server", "ruckus-agent", "ruckus"};
    const char *bin = getenv("RK_BIN_DIR");
    assert_non_null(bin);
    for (size_t i = 0; i < 3; i++) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "'%s/%s' --help-config-markdown", bin, progs[i]);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        rk_buf_t out, want;
        rk_buf_init(&out, 1 << 20);
        rk_buf_init(&want, 1 << 20);
        assert_int_equal(read_stream(p, &out), 0);
        assert_int_equal(pclose(p), 0);
        assert_int_equal(rk_config_markdown(specs[i], &want), 0);
        assert_string_equal(rk_buf_str(&out), rk_buf_str(&want));
        rk_buf_cleanup(&out);
        rk_buf_cleanup(&want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_matches_tables),
        cmocka_unit_test(test_programs_print_their_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
