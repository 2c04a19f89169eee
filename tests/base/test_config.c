/* The table-driven configuration engine, on a test table with every type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/config.h"
#include "base/err.h"
#include "base/log.h"

typedef struct {
    char *name;
    char *dir;
    int64_t count;
    double ratio;
    double wait;
    bool verbose;
    int color;
    rk_config_list_t tags;
    char *secret;
    char *url;
} t_settings;

static const char *const colors[] = {"red", "green", "blue", NULL};

static int no_x_tags(const void *field, const char **why)
{
    const rk_config_list_t *l = field;
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i], "x") == 0) {
            *why = "expected tags other than x";
            return RK_EINVAL;
        }
    }
    return RK_OK;
}

#define T t_settings
static const rk_config_option_t options[] = {
    {.name = "name",
     .env = "RKT_NAME",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(T, name),
     .def = "alpha",
     .flags = RK_CONFIG_NONEMPTY,
     .help = "A name"},
    {.name = "dir",
     .env = "RKT_DIR",
     .type = RK_CONFIG_PATH,
     RK_CONFIG_FIELD(T, dir),
     .help = "A folder"},
    {.name = "count",
     .env = "RKT_COUNT",
     .type = RK_CONFIG_INT,
     RK_CONFIG_FIELD(T, count),
     .def = "3",
     .min = 1,
     .max = 10,
     .help = "How many"},
    {.name = "ratio",
     .env = "RKT_RATIO",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(T, ratio),
     .def = "0.5",
     .dmin = 0,
     .dmax = 1,
     .flags = RK_CONFIG_MIN_EXCLUSIVE,
     .help = "A ratio"},
    {.name = "wait",
     .env = "RKT_WAIT",
     .type = RK_CONFIG_DOUBLE,
     RK_CONFIG_FIELD(T, wait),
     .def = "0",
     .metavar = "SECONDS",
     .dmin = 0,
     .dmax = 60,
     .help = "A wait"},
    {.name = "verbose",
     .env = "RKT_VERBOSE",
     .type = RK_CONFIG_BOOL,
     RK_CONFIG_FIELD(T, verbose),
     .help = "Talk more"},
    {.name = "color",
     .env = "RKT_COLOR",
     .type = RK_CONFIG_ENUM,
     RK_CONFIG_FIELD(T, color),
     .def = "green",
     .choices = colors,
     .help = "A color"},
    {.name = "tags",
     .env = "RKT_TAGS",
     .type = RK_CONFIG_LIST,
     RK_CONFIG_FIELD(T, tags),
     .def = "a,b",
     .validate = no_x_tags,
     .help = "Some | tags"},
    {.name = "secret",
     .env = "RKT_SECRET",
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(T, secret),
     .flags = RK_CONFIG_SECRET,
     .help = "A token"},
    {.name = "url",
     .env = NULL,
     .type = RK_CONFIG_STRING,
     RK_CONFIG_FIELD(T, url),
     .validate = rk_config_validate_url,
     .help = "A URL"},
};

static int check_rule(const void *settings, char *err, size_t errlen)
{
    const T *s = settings;
    if (s->count == 7 && s->verbose) {
        snprintf(err, errlen, "rkt: seven is quiet");
        return RK_EINVAL;
    }
    return RK_OK;
}

static rk_config_spec_t spec = {
    .program = "rkt",
    .usage = "[OPTIONS]",
    .summary = "A test program.",
    .examples = "  rkt --count 2\n",
    .options = options,
    .count = sizeof options / sizeof options[0],
    .check = check_rule,
};

static const char *const envs[] = {"RKT_NAME",   "RKT_DIR",     "RKT_COUNT", "RKT_RATIO",
                                   "RKT_WAIT",   "RKT_VERBOSE", "RKT_COLOR", "RKT_TAGS",
                                   "RKT_SECRET", NULL};

static int setup(void **state)
{
    for (size_t i = 0; envs[i]; i++)
        unsetenv(envs[i]);
    spec.positional = false;
    return 0;
}

/* Loads argv (NULL-terminated) into s; returns the load's code. */
static int load_argv(T *s, rk_config_result_t *res, char *err, const char **args)
{
    char *argv[32] = {"rkt"};
    int argc = 1;
    while (args && args[argc - 1])
        argv[argc] = (char *)args[argc - 1], argc++;
    memset(s, 0, sizeof *s);
    return rk_config_load(&spec, argc, argv, s, res, err, RK_CONFIG_ERRLEN);
}

#define LOAD(s, res, err, ...) load_argv(s, res, err, (const char *[]){__VA_ARGS__, NULL})

static void test_defaults(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    assert_int_equal(load_argv(&s, &res, err, NULL), 0);
    assert_int_equal(res.action, RK_CONFIG_RUN);
    assert_int_equal(res.argi, 1);
    assert_string_equal(s.name, "alpha");
    assert_null(s.dir);
    assert_int_equal(s.count, 3);
    assert_true(s.ratio == 0.5);
    assert_false(s.verbose);
    assert_int_equal(s.color, 1);
    assert_int_equal(s.tags.count, 2);
    assert_string_equal(s.tags.items[1], "b");
    assert_null(s.secret);
    rk_config_cleanup(&spec, &s);
    assert_null(s.name);
    assert_int_equal(s.tags.count, 0);
}

static void test_precedence(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    setenv("RKT_COUNT", "5", 1);
    setenv("RKT_NAME", "from-env", 1);
    setenv("RKT_COLOR", "BLUE", 1);
    setenv("RKT_DIR", "", 1); /* empty means unset */
    assert_int_equal(LOAD(&s, &res, err, "--count=9"), 0);
    assert_int_equal(s.count, 9);            /* flag beats env */
    assert_string_equal(s.name, "from-env"); /* env beats default */
    assert_int_equal(s.color, 2);
    assert_null(s.dir);
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--count", "8", "--name", "x", "--name=y"), 0);
    assert_int_equal(s.count, 8);
    assert_string_equal(s.name, "y"); /* the last flag wins */
    rk_config_cleanup(&spec, &s);
}

static void test_bad_values(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    assert_int_equal(LOAD(&s, &res, err, "--count", "abc"), RK_EINVAL);
    assert_string_equal(err,
                        "rkt: --count (RKT_COUNT): expected an integer from 1 to 10, got \"abc\"");
    rk_config_cleanup(&spec, &s);

    static const char *const bad_counts[] = {"0", "11", "", " 3", "3x", "99999999999999999999",
                                             NULL};
    for (size_t i = 0; bad_counts[i]; i++) {
        char arg[64];
        snprintf(arg, sizeof arg, "--count=%s", bad_counts[i]);
        assert_int_equal(LOAD(&s, &res, err, arg), RK_EINVAL);
        rk_config_cleanup(&spec, &s);
    }

    setenv("RKT_RATIO", "0", 1);
    assert_int_equal(load_argv(&s, &res, err, NULL), RK_EINVAL);
    assert_string_equal(
        err, "rkt: --ratio (RKT_RATIO): expected a number greater than 0 and at most 1, got \"0\"");
    rk_config_cleanup(&spec, &s);
    setenv("RKT_RATIO", "nan", 1);
    assert_int_equal(load_argv(&s, &res, err, NULL), RK_EINVAL);
    rk_config_cleanup(&spec, &s);
    setenv("RKT_RATIO", "1", 1);
    assert_int_equal(LOAD(&s, &res, err, "--wait=0"), 0); /* inclusive bounds */
    assert_true(s.ratio == 1.0 && s.wait == 0.0);
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--color=pink"), RK_EINVAL);
    assert_string_equal(err,
                        "rkt: --color (RKT_COLOR): expected one of red, green, blue, got \"pink\"");
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--name="), RK_EINVAL);
    assert_string_equal(err, "rkt: --name (RKT_NAME): expected a non-empty value, got \"\"");
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--verbose=maybe"), RK_EINVAL);
    assert_non_null(strstr(err, "expected true or false"));
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--url", "ftp://x"), RK_EINVAL);
    assert_string_equal(err, "rkt: --url: expected an http:// or https:// URL, got \"ftp://x\"");
    rk_config_cleanup(&spec, &s);
}

static void test_bool_and_list(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    assert_int_equal(LOAD(&s, &res, err, "--verbose", "--tags", " p , ,q,"), 0);
    assert_true(s.verbose);
    assert_int_equal(s.tags.count, 2);
    assert_string_equal(s.tags.items[0], "p");
    assert_string_equal(s.tags.items[1], "q");
    rk_config_cleanup(&spec, &s);

    setenv("RKT_VERBOSE", "YES", 1);
    assert_int_equal(LOAD(&s, &res, err, "--tags="), 0);
    assert_true(s.verbose);
    assert_int_equal(s.tags.count, 0);
    rk_config_cleanup(&spec, &s);
    assert_int_equal(LOAD(&s, &res, err, "--verbose=off"), 0);
    assert_false(s.verbose);
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--tags=a,x"), RK_EINVAL);
    assert_string_equal(err, "rkt: --tags (RKT_TAGS): expected tags other than x, got \"a,x\"");
    assert_int_equal(s.tags.count, 2); /* the default stays */
    rk_config_cleanup(&spec, &s);
}

static void test_syntax_errors(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    assert_int_equal(LOAD(&s, &res, err, "--secrte=hunter2"), RK_EINVAL);
    assert_string_equal(err, "rkt: unknown option \"--secrte\" (see --help)");
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "-x"), RK_EINVAL);
    assert_string_equal(err, "rkt: unknown option \"-x\" (see --help)");
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--count"), RK_EINVAL);
    assert_string_equal(err, "rkt: --count (RKT_COUNT): missing value");
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--count=2", "extra"), RK_EINVAL);
    assert_string_equal(err, "rkt: unexpected argument \"extra\" (see --help)");
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--count=7", "--verbose"), RK_EINVAL);
    assert_string_equal(err, "rkt: seven is quiet");
    rk_config_cleanup(&spec, &s);
}

static void test_positional(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    spec.positional = true;
    assert_int_equal(LOAD(&s, &res, err, "--count", "2", "run", "--count=oops"), 0);
    assert_int_equal(res.argi, 3);
    assert_int_equal(s.count, 2); /* options after the command are the command's */
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--", "--count"), 0);
    assert_int_equal(res.argi, 2);
    rk_config_cleanup(&spec, &s);

    assert_int_equal(LOAD(&s, &res, err, "--verbose"), 0);
    assert_int_equal(res.argi, 2); /* argc: no command */
    rk_config_cleanup(&spec, &s);
}

static void test_builtin_actions(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    setenv("RKT_COUNT", "bad", 1); /* --help must work with a broken environment */
    assert_int_equal(LOAD(&s, &res, err, "--help"), 0);
    assert_int_equal(res.action, RK_CONFIG_HELP);
    assert_string_equal(s.name, "alpha");
    rk_config_cleanup(&spec, &s);
    assert_int_equal(LOAD(&s, &res, err, "-h"), 0);
    assert_int_equal(res.action, RK_CONFIG_HELP);
    rk_config_cleanup(&spec, &s);
    assert_int_equal(LOAD(&s, &res, err, "--version"), 0);
    assert_int_equal(res.action, RK_CONFIG_VERSION);
    rk_config_cleanup(&spec, &s);
    assert_int_equal(LOAD(&s, &res, err, "--help-config-markdown"), 0);
    assert_int_equal(res.action, RK_CONFIG_MARKDOWN);
    rk_config_cleanup(&spec, &s);
    assert_int_equal(load_argv(&s, &res, err, NULL), RK_EINVAL);
    rk_config_cleanup(&spec, &s);
}

static void test_secret_never_printed(void **state)
{
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    static const rk_config_option_t bad_secret[] = {
        {.name = "pin",
         .env = "RKT_PIN",
         .type = RK_CONFIG_INT,
         RK_CONFIG_FIELD(T, count),
         .min = 0,
         .max = 9999,
         .flags = RK_CONFIG_SECRET,
         .help = "A PIN"},
    };
    rk_config_spec_t pspec = {
        .program = "rkt", .usage = "", .summary = "", .options = bad_secret, .count = 1};
    char *argv[] = {"rkt", "--pin=hunter2"};
    memset(&s, 0, sizeof s);
    assert_int_equal(rk_config_load(&pspec, 2, argv, &s, &res, err, sizeof err), RK_EINVAL);
    assert_null(strstr(err, "hunter2"));
    assert_non_null(strstr(err, "--pin (RKT_PIN)"));

    setenv("RKT_SECRET", "hunter2", 1);
    assert_int_equal(load_argv(&s, &res, err, NULL), 0);
    assert_string_equal(s.secret, "hunter2");
    rk_buf_t b;
    rk_buf_init(&b, 1 << 16);
    assert_int_equal(rk_config_format(&options[8], &s, &b), 0);
    assert_string_equal(rk_buf_str(&b), "(set)");
    assert_int_equal(rk_config_help(&spec, &b), 0);
    assert_int_equal(rk_config_markdown(&spec, &b), 0);
    assert_null(strstr(rk_buf_str(&b), "hunter2"));
    rk_buf_cleanup(&b);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    rk_log_set_fd(fds[1]);
    rk_config_log(&spec, &s, RK_LOG_INFO, "starting");
    rk_log_set_fd(2);
    close(fds[1]);
    char line[4096];
    ssize_t n = read(fds[0], line, sizeof line - 1);
    close(fds[0]);
    assert_true(n > 0);
    line[n] = '\0';
    assert_null(strstr(line, "hunter2"));
    assert_non_null(strstr(line,
                           " starting name=alpha dir=\"\" count=3 ratio=0.5 wait=0 verbose=false "
                           "color=green tags=a,b secret=(set) url=\"\"\n"));
    rk_config_cleanup(&spec, &s);
}

/* Finds the line starting with start and checks it holds parts in order. */
static void assert_line_has(const char *text, const char *start, const char *const *parts)
{
    const char *line = strstr(text, start);
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    assert_non_null(end);
    const char *p = line;
    for (size_t i = 0; parts[i]; i++) {
        p = strstr(p, parts[i]);
        assert_non_null(p);
        assert_true(p < end);
        p += strlen(parts[i]);
    }
}

static void test_generated_text(void **state)
{
    rk_buf_t b;
    rk_buf_init(&b, 1 << 16);
    assert_int_equal(rk_config_help(&spec, &b), 0);
    const char *h = rk_buf_str(&b);
    assert_true(strncmp(h, "Usage: rkt [OPTIONS]\n", 21) == 0);
    assert_line_has(h, "  --count N ",
                    (const char *[]){"RKT_COUNT", " 3 ", "How many [1..10]", NULL});
    assert_line_has(h, "  --secret TEXT ",
                    (const char *[]){"RKT_SECRET", "(none)", "A token", NULL});
    assert_non_null(strstr(h, "--wait SECONDS"));
    assert_non_null(strstr(h, "[red|green|blue]"));
    assert_non_null(strstr(h, "--version"));
    assert_non_null(strstr(h, "Examples:\n  rkt --count 2\n"));
    assert_null(strstr(h, "help-config-markdown")); /* hidden */
    rk_buf_reset(&b);
    assert_int_equal(rk_config_markdown(&spec, &b), 0);
    h = rk_buf_str(&b);
    assert_true(strncmp(h, "## rkt\n", 7) == 0);
    assert_non_null(strstr(h, "| `--count N` | `RKT_COUNT` | integer, 1..10 | `3` | How many |\n"));
    assert_non_null(strstr(
        h,
        "| `--color NAME` | `RKT_COLOR` | one of `red`, `green`, `blue` | `green` | A color |\n"));
    assert_non_null(strstr(h, "| Some \\| tags |")); /* pipes escaped */
    assert_non_null(
        strstr(h, "| `--secret TEXT` | `RKT_SECRET` | string, secret | (none) | A token |\n"));
    assert_non_null(strstr(h, "| `--url TEXT` | - |"));
    rk_buf_reset(&b);
    const rk_config_spec_t *specs[] = {&spec, &spec};
    assert_int_equal(rk_config_markdown_doc(specs, 2, &b), 0);
    assert_true(strncmp(rk_buf_str(&b), "# Configuration reference\n", 26) == 0);
    rk_buf_cleanup(&b);

    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(rk_config_print(&spec, RK_CONFIG_VERSION, f), 0);
    rewind(f);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "rkt " RK_VERSION "\n");
    fclose(f);
}

static void test_table_mismatch(void **state)
{
    /* A bool field declared as an int64 option: load must refuse, not write 8 bytes into 1. */
    static const rk_config_option_t wrong[] = {
        {.name = "verbose",
         .type = RK_CONFIG_INT,
         RK_CONFIG_FIELD(T, verbose),
         .def = "1",
         .help = "y"},
    };
    rk_config_spec_t wspec = {
        .program = "rkt", .usage = "", .summary = "", .options = wrong, .count = 1};
    T s;
    rk_config_result_t res;
    char err[RK_CONFIG_ERRLEN];
    char *argv[] = {"rkt"};
    memset(&s, 0, sizeof s);
    assert_int_equal(rk_config_load(&wspec, 1, argv, &s, &res, err, sizeof err), RK_EINVAL);
    assert_string_equal(err, "rkt: internal: option --verbose does not match its field");
    assert_false(s.verbose);
    rk_config_cleanup(&wspec, &s);
}

static void test_validators(void **state)
{
    static const char *const good[] = {"http://a", "https://h.example.com:8000/x",
                                       "HTTP://[::1]:80", NULL};
    static const char *const bad[] = {"a.com",   "http://",    "http:///x", "https://a b",
                                      "ftp://a", "http://a?x", NULL};
    const char *why = NULL;
    for (size_t i = 0; good[i]; i++)
        assert_int_equal(rk_config_validate_url(&good[i], &why), 0);
    for (size_t i = 0; bad[i]; i++) {
        assert_int_equal(rk_config_validate_url(&bad[i], &why), RK_EINVAL);
        assert_non_null(why);
    }
    char *items_ok[] = {"*", "https://ui.example.com", "http://localhost:3000"};
    char *items_bad[] = {"https://ui.example.com/app"};
    rk_config_list_t ok = {items_ok, 3}, no = {items_bad, 1};
    assert_int_equal(rk_config_validate_origins(&ok, &why), 0);
    assert_int_equal(rk_config_validate_origins(&no, &why), RK_EINVAL);

    assert_true(rk_config_host_is_loopback("127.0.0.1"));
    assert_true(rk_config_host_is_loopback("127.1.2.3"));
    assert_true(rk_config_host_is_loopback("localhost"));
    assert_true(rk_config_host_is_loopback("::1"));
    assert_false(rk_config_host_is_loopback("0.0.0.0"));
    assert_false(rk_config_host_is_loopback("127.0.0.1.example.com"));
    assert_false(rk_config_host_is_loopback("128.0.0.1"));
    assert_false(rk_config_host_is_loopback("::"));
    assert_false(rk_config_host_is_loopback(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_precedence, setup),
        cmocka_unit_test_setup(test_bad_values, setup),
        cmocka_unit_test_setup(test_bool_and_list, setup),
        cmocka_unit_test_setup(test_syntax_errors, setup),
        cmocka_unit_test_setup(test_positional, setup),
        cmocka_unit_test_setup(test_builtin_actions, setup),
        cmocka_unit_test_setup(test_secret_never_printed, setup),
        cmocka_unit_test_setup(test_generated_text, setup),
        cmocka_unit_test_setup(test_table_mismatch, setup),
        cmocka_unit_test_setup(test_validators, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
