/* rk_cli_api without the printing: for callers that decide for themselves
 * whether a failure is worth saying (a 404 that only means "skip", a
 * server restart that a watch rides out). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

int rk_cli_api_quiet(rk_cli_t *c, const char *method, const char *path, const json_t *body,
                     json_t **out, long *status, char **msg)
{
    FILE *err = c->err;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    c->err = mem ? mem : err;
    long st = 0;
    int code = rk_cli_api(c, method, path, body, out, &st);
    c->err = err;
    if (mem)
        fclose(mem);
    if (status)
        *status = st;
    if (msg)
        *msg = buf;
    else
        free(buf);
    return code;
}
