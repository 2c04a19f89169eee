/* The README points a newcomer at every document in docs/, and the docs
 * give the server's real default port (8000, from its option table). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static void test_readme_lists_every_doc(void **state)
{
    (void)state;
    const char *src = getenv("RK_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/README.md", src ? src : "..");
    char *readme = slurp(path);
    assert_non_null(readme);
    snprintf(path, sizeof path, "%s/docs", src ? src : "..");
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    int missing = 0, n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".md") != 0)
            continue;
        char name[512];
        snprintf(name, sizeof name, "docs/%s", de->d_name);
        n++;
        if (!strstr(readme, name)) {
            fprintf(stderr, "README.md does not mention %s\n", name);
            missing++;
        }
        /* The server listens on 8000 by default, the agent on 8081. */
        snprintf(path, sizeof path, "%s/docs/%s", src ? src : "..", de->d_name);
        char *doc = slurp(path);
        assert_non_null(doc);
        if (strstr(doc, "127.0.0.1:8080")) {
            fprintf(stderr, "%s names 127.0.0.1:8080 (the server's default is 8000)\n", name);
            missing++;
        }
        free(doc);
    }
    closedir(d);
    free(readme);
    assert_true(n > 5);
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_readme_lists_every_doc)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
