/* Argument parsing for one CLI command ("job list --status failed").
 *
 * Each command declares its options as a small table; the parser takes
 * "--name value", "--name=value", "-x value", "-x" for flags, and "--"
 * to end options; options and positional arguments may be mixed. "--help"
 * and "-h" set help; "--json" is accepted after any command (the same as
 * the global option). Values point into argv (nothing is copied).
 */
#ifndef RK_CLI_ARGS_H
#define RK_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define RK_CLI_MAX_OPTS 16
#define RK_CLI_MAX_POS 8
#define RK_CLI_MAX_VALS 64 /* option values on one command line */

typedef struct rk_cli_opt {
    const char *name; /* long name without dashes */
    char short_name;  /* 0: none */
    bool has_arg;     /* false: a flag */
} rk_cli_opt_t;

typedef struct rk_cli_args {
    /* By option index: the value, "" for a flag that is set, NULL when
     * absent. A repeated option keeps the last value. */
    const char *val[RK_CLI_MAX_OPTS];
    const char *pos[RK_CLI_MAX_POS];
    int npos;
    /* Every option value in command-line order, for options that may be
     * repeated (rk_cli_args_all): all_val[i] was given to option all_opt[i]. */
    const char *all_val[RK_CLI_MAX_VALS];
    int all_opt[RK_CLI_MAX_VALS];
    int nall;
    bool help;
    bool json;
} rk_cli_args_t;

/* Parses argv[0..argc) (the words after the command). Returns 0, or
 * RK_EINVAL with a message in err ("unknown option --frob", "--limit needs
 * a value", "too many arguments") for a usage error. */
int rk_cli_args_parse(int argc, char **argv, const rk_cli_opt_t *opts, size_t nopts,
                      rk_cli_args_t *out, char *err, size_t errlen);

/* Every value given to the option of index opt (a repeatable one, such as
 * --label), in order, into out[0..max); returns how many (at most max). */
size_t rk_cli_args_all(const rk_cli_args_t *a, int opt, const char **out, size_t max);

/* Parses a whole decimal number in [min, max] for an option value. */
int rk_cli_args_int(const char *s, long min, long max, long *out);

#endif
