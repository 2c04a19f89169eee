/* Aligned text tables for the CLI's human output.
 *
 *   JOB           STATUS     CREATED
 *   job_1a2b3c4d  completed  3 min ago
 *
 * Cells are copied in; each may carry a colour (an ANSI escape from
 * format.h) that is written around the padded text only when rendering
 * with colour, so alignment never depends on escapes. Columns are
 * separated by two spaces; trailing spaces are trimmed.
 */
#ifndef RK_CLI_TABLE_H
#define RK_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Most columns a table may have. */
#define RK_CLI_TABLE_MAX_COLS 64

typedef struct rk_cli_cell {
    char *text;
    const char *color; /* static escape, or NULL */
} rk_cli_cell_t;

typedef struct rk_cli_table {
    size_t ncols;
    char *headers[RK_CLI_TABLE_MAX_COLS];
    bool right[RK_CLI_TABLE_MAX_COLS]; /* right-aligned (numbers) */
    rk_cli_cell_t *cells;              /* nrows * ncols, row-major */
    size_t nrows;
    size_t cap_rows;
} rk_cli_table_t;

/* Initializes t with ncols headers copied from headers[]. RK_EINVAL for 0
 * or more than RK_CLI_TABLE_MAX_COLS columns, RK_ENOMEM. Always pair with
 * rk_cli_table_cleanup. */
int rk_cli_table_init(rk_cli_table_t *t, size_t ncols, const char *const *headers);

/* Appends a row of ncols cells copied from cells[] (NULL cells print "-"). */
int rk_cli_table_add(rk_cli_table_t *t, const char *const *cells);

/* Colours one cell of the last row added; color is a static escape. */
void rk_cli_table_color(rk_cli_table_t *t, size_t col, const char *color);

/* Appends the table: a header line (bold with colour) and one line per
 * row. */
int rk_cli_table_render(const rk_cli_table_t *t, bool color, rk_buf_t *out);

void rk_cli_table_cleanup(rk_cli_table_t *t);

#endif
