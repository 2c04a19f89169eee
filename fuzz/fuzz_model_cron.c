/* Cron expressions: any text either parses or gives a message naming the
 * problem; a parsed one's next time is a whole minute strictly after the
 * start (or -1: never), and asking again from the answer moves forward. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    rk_cron_t c;
    char err[RK_CRON_ERR_SIZE];
    if (rk_cron_parse(text, &c, err, sizeof err) != 0) {
        if (strncmp(err, "cron: ", 6) != 0)
            abort();
        free(text);
        return 0;
    }
    static const int64_t starts[] = {0, 951782399, 1709164800, 4102444799};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        int64_t t = rk_cron_next(&c, starts[i]);
        if (t == -1)
            continue;
        if (t <= starts[i] || t % 60 != 0)
            abort();
        int64_t u = rk_cron_next(&c, t);
        if (u != -1 && u <= t)
            abort();
    }
    free(text);
    return 0;
}
