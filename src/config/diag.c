/*
 * diag.c - configuration diagnostics: the "FILE:LINE:COL: message" list that
 * config_load() and config_check_buffer() fill, and the helpers the checks
 * use to report a problem at a node given by its path.
 */
#include "config/internal.h"
#include "config/yamlpos.h"

#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Long enough for any message we write; values quoted in messages are
 * user input of any length, so this also caps what one line can carry. */
#define DIAG_MESSAGE_MAX 512

static int config_diags_vadd(struct config_diags *d, const char *file, unsigned line, unsigned col,
                             const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static int config_diags_vadd(struct config_diags *d, const char *file, unsigned line, unsigned col,
                             const char *fmt, va_list ap)
{
    char msg[DIAG_MESSAGE_MAX];
    struct config_diag *item;

    if (d->count == d->cap) {
        size_t cap = d->cap == 0 ? 8 : d->cap * 2;
        struct config_diag *items = realloc(d->items, cap * sizeof(*items));
        if (items == NULL)
            return OB_ENOMEM;
        d->items = items;
        d->cap = cap;
    }
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One line per problem, whatever bytes the input put in a name. */
    for (unsigned char *p = (unsigned char *)msg; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    item = &d->items[d->count];
    item->file = strdup(file != NULL ? file : "");
    item->message = strdup(msg);
    if (item->file == NULL || item->message == NULL) {
        free(item->file);
        free(item->message);
        return OB_ENOMEM;
    }
    item->line = line;
    item->col = col;
    d->count++;
    return 0;
}

int config_diags_add(struct config_diags *d, const char *file, unsigned line, unsigned col,
                     const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = config_diags_vadd(d, file, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

void config_diags_print(const struct config_diags *d, FILE *fp)
{
    for (size_t i = 0; i < d->count; i++) {
        const struct config_diag *item = &d->items[i];
        /* A problem with a whole file (cannot read it, too large) has no
         * position of its own; it is reported at the file's start so that
         * every line keeps the FILE:LINE:COL form tools and editors parse. */
        if (item->line == 0)
            fprintf(fp, "%s:1:1: %s\n", item->file, item->message);
        else
            fprintf(fp, "%s:%u:%u: %s\n", item->file, item->line, item->col ? item->col : 1,
                    item->message);
    }
}

void config_diags_release(struct config_diags *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].message);
    }
    free(d->items);
    d->items = NULL;
    d->count = 0;
    d->cap = 0;
}

static void diag_vreport(struct cfgctx *c, const struct cfgfile *f, const char *path, int want_key,
                         const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void diag_vreport(struct cfgctx *c, const struct cfgfile *f, const char *path, int want_key,
                         const char *fmt, va_list ap)
{
    unsigned line = 0, col = 0;

    yamlpos_locate(f->pos, path, want_key, &line, &col);
    c->failed = 1;
    if (config_diags_vadd(c->diags, f->display, line, col, fmt, ap) != 0)
        c->oom = 1;
}

void diag_report(struct cfgctx *c, const struct cfgfile *f, const char *path, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vreport(c, f, path, 0, fmt, ap);
    va_end(ap);
}

void diag_report_key(struct cfgctx *c, const struct cfgfile *f, const char *path, const char *fmt,
                     ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vreport(c, f, path, 1, fmt, ap);
    va_end(ap);
}

void diag_where(const struct cfgfile *f, const char *path, int want_key, char *buf, size_t cap)
{
    unsigned line = 0, col = 0;

    yamlpos_locate(f->pos, path, want_key, &line, &col);
    snprintf(buf, cap, "%s:%u:%u", f->display, line, col);
}

/* A diagnostic with what it is sorted by. */
struct diag_sortable {
    struct config_diag item;
    size_t file_rank; /* order in which its file first appeared */
    size_t index;     /* order in which it was added: keeps the sort stable */
};

static int diag_sortable_cmp(const void *a, const void *b)
{
    const struct diag_sortable *x = a, *y = b;

    if (x->file_rank != y->file_rank)
        return x->file_rank < y->file_rank ? -1 : 1;
    if (x->item.line != y->item.line)
        return x->item.line < y->item.line ? -1 : 1;
    if (x->item.col != y->item.col)
        return x->item.col < y->item.col ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

void diag_sort(struct config_diags *d, size_t start)
{
    size_t n = d->count > start ? d->count - start : 0;
    struct diag_sortable *tmp;

    if (n < 2)
        return;
    tmp = calloc(n, sizeof(*tmp));
    if (tmp == NULL)
        return; /* unsorted is still correct */
    for (size_t i = 0; i < n; i++) {
        tmp[i].item = d->items[start + i];
        tmp[i].index = i;
        tmp[i].file_rank = i;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(tmp[j].item.file, tmp[i].item.file) == 0) {
                tmp[i].file_rank = tmp[j].file_rank;
                break;
            }
        }
    }
    qsort(tmp, n, sizeof(*tmp), diag_sortable_cmp);
    for (size_t i = 0; i < n; i++)
        d->items[start + i] = tmp[i].item;
    free(tmp);
}

char *cfgctx_dup(struct cfgctx *c, const char *s)
{
    char *copy;

    if (s == NULL)
        return NULL;
    copy = strdup(s);
    if (copy == NULL)
        c->oom = 1;
    return copy;
}
