#include "cli/table.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/format.h"

int rk_cli_table_init(rk_cli_table_t *t, size_t ncols, const char *const *headers)
{
    memset(t, 0, sizeof *t);
    if (ncols == 0 || ncols > RK_CLI_TABLE_MAX_COLS)
        return RK_EINVAL;
    t->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        if (!(t->headers[i] = strdup(headers[i] ? headers[i] : "")))
            return RK_ENOMEM;
    }
    return 0;
}

int rk_cli_table_add(rk_cli_table_t *t, const char *const *cells)
{
    if (t->nrows == t->cap_rows) {
        size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
        rk_cli_cell_t *n = realloc(t->cells, cap * t->ncols * sizeof *n);
        if (!n)
            return RK_ENOMEM;
        t->cells = n;
        t->cap_rows = cap;
    }
    rk_cli_cell_t *row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i].color = NULL;
        row[i].text = strdup(cells[i] ? cells[i] : "-");
        if (!row[i].text) {
            while (i > 0)
                free(row[--i].text);
            return RK_ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

void rk_cli_table_color(rk_cli_table_t *t, size_t col, const char *color)
{
    if (t->nrows > 0 && col < t->ncols)
        t->cells[(t->nrows - 1) * t->ncols + col].color = color && color[0] ? color : NULL;
}

static int cell(rk_buf_t *out, const char *text, const char *color, size_t width, bool right,
                bool last)
{
    size_t w = rk_cli_width(text);
    size_t pad = width > w ? width - w : 0;
    int rc = 0;
    if (right)
        for (size_t i = 0; i < pad && !rc; i++)
            rc = rk_buf_adds(out, " ");
    if (!rc && color)
        rc = rk_buf_adds(out, color);
    if (!rc)
        rc = rk_buf_adds(out, text);
    if (!rc && color)
        rc = rk_buf_adds(out, RK_CLI_RESET);
    if (!right && !last)
        for (size_t i = 0; i < pad && !rc; i++)
            rc = rk_buf_adds(out, " ");
    if (!rc && !last)
        rc = rk_buf_adds(out, "  ");
    return rc;
}

int rk_cli_table_render(const rk_cli_table_t *t, bool color, rk_buf_t *out)
{
    size_t width[RK_CLI_TABLE_MAX_COLS];
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = rk_cli_width(t->headers[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = rk_cli_width(t->cells[r * t->ncols + c].text);
            if (w > width[c])
                width[c] = w;
        }
    }
    int rc = 0;
    for (size_t c = 0; c < t->ncols && !rc; c++)
        rc = cell(out, t->headers[c], color ? RK_CLI_BOLD : NULL, width[c], t->right[c],
                  c + 1 == t->ncols);
    if (!rc)
        rc = rk_buf_adds(out, "\n");
    for (size_t r = 0; r < t->nrows && !rc; r++) {
        for (size_t c = 0; c < t->ncols && !rc; c++) {
            const rk_cli_cell_t *x = &t->cells[r * t->ncols + c];
            rc = cell(out, x->text, color ? x->color : NULL, width[c], t->right[c],
                      c + 1 == t->ncols);
        }
        if (!rc)
            rc = rk_buf_adds(out, "\n");
    }
    return rc;
}

void rk_cli_table_cleanup(rk_cli_table_t *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->headers[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i].text);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
