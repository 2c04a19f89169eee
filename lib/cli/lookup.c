/* Agents by id or by name: every --help example says `pi-sim`, the name an
 * agent was started with, while the API takes ids. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int rk_cli_agent_ref(rk_cli_t *c, const char *ref, char *out, size_t n)
{
    json_t *ans = NULL, *list = NULL;
    int code = rk_cli_api(c, "GET", "/agents", NULL, &ans, NULL);
    if (code || (code = rk_cli_answer_array(c, ans, "agents", &list))) {
        json_decref(ans);
        return code;
    }
    const char *by_name = NULL;
    size_t named = 0, i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        const char *id = json_string_value(json_object_get(a, "agent_id"));
        const char *name = json_string_value(json_object_get(a, "agent_name"));
        if (id && !strcmp(id, ref)) { /* an id always wins */
            snprintf(out, n, "%s", id);
            json_decref(ans);
            return 0;
        }
        if (id && name && !strcmp(name, ref)) {
            by_name = id;
            named++;
        }
    }
    if (named == 1) {
        snprintf(out, n, "%s", by_name);
        code = 0;
    } else if (named > 1) {
        rk_cli_errorf(c,
                      "%zu agents are named \"%.80s\"; give one of their ids (ruckus agent list)",
                      named, ref);
        code = RK_CLI_EXIT_INVALID;
    } else {
        rk_cli_errorf(c, "no agent with id or name \"%.80s\" (ruckus agent list shows them)", ref);
        code = RK_CLI_EXIT_NOT_FOUND;
    }
    json_decref(ans);
    return code;
}
