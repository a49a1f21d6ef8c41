/* table.c - aligned plain-text tables for people; JSON for scripts. */
#include "cli/cli.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void table_init(struct table *t, size_t cols, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    if (cols > TABLE_MAX_COLS)
        OB_BUG("table with %zu columns", cols);
    t->cols = cols;
    for (size_t i = 0; i < cols; i++)
        t->headers[i] = headers[i];
}

void table_add_row(struct table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, cap * t->cols * sizeof(*n));
        if (n == NULL)
            ob_die(70, "out of memory");
        t->cells = n;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->cols; c++) {
        char *copy = strdup(cells[c] != NULL && cells[c][0] != '\0' ? cells[c] : "-");
        if (copy == NULL)
            ob_die(70, "out of memory");
        /* A cell never breaks the table's lines. */
        for (char *p = copy; *p != '\0'; p++) {
            if (*p == '\n' || *p == '\t' || *p == '\r')
                *p = ' ';
        }
        t->cells[t->rows * t->cols + c] = copy;
    }
    t->rows++;
}

void table_print(const struct table *t, FILE *fp)
{
    size_t width[TABLE_MAX_COLS];

    for (size_t c = 0; c < t->cols; c++) {
        width[c] = strlen(t->headers[c]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t len = strlen(t->cells[r * t->cols + c]);
            if (len > width[c])
                width[c] = len;
        }
    }
    for (size_t r = 0; r <= t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *cell = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->cols + c];
            if (c + 1 < t->cols)
                fprintf(fp, "%-*s  ", (int)width[c], cell);
            else
                fprintf(fp, "%s\n", cell);
        }
    }
}

void table_release(struct table *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

void cli_print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_ENCODE_ANY);

    if (text != NULL) {
        puts(text);
        free(text);
    }
}

const char *cli_json_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

void cli_format_ms(json_t *v, char *out, size_t cap)
{
    time_t secs;
    struct tm tm;

    if (!json_is_integer(v)) {
        snprintf(out, cap, "-");
        return;
    }
    secs = (time_t)(json_integer_value(v) / 1000);
    gmtime_r(&secs, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
