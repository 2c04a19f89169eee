/* Every spec in examples/ is one the CLI (and the server) accepts, and
 * there is one per task type. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/experiment.h"

static void test_examples_decode(void **state)
{
    const char *src = getenv("RK_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/examples", src ? src : "..");
    DIR *d = opendir(dir);
    assert_non_null(d);
    bool seen[RK_TASK_TYPE_COUNT] = {false};
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        json_error_t jerr;
        json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!v)
            fail_msg("%s: %s", path, jerr.text);
        rk_experiment_t x;
        rk_verr_t e;
        if (rk_experiment_decode(v, "", &x, &e))
            fail_msg("%s: %s", path, e.msg);
        seen[x.task.type] = true;
        /* As the original project's examples: a benchmark of the machine
         * itself names model "hardware-test"; only LLM serving names one. */
        if (x.task.type != RK_TASK_LLM_GENERATION && strcmp(x.model, "hardware-test") != 0)
            fail_msg("%s: model %s, expected hardware-test", path, x.model);
        rk_experiment_cleanup(&x);
        json_decref(v);
    }
    closedir(d);
    for (int t = 0; t < RK_TASK_TYPE_COUNT; t++)
        if (!seen[t])
            fail_msg("no example for task type %s", rk_task_type_name((rk_task_type_t)t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_examples_decode)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
