/*
 * form.c - application/x-www-form-urlencoded parsing (see form.h).
 */
#include "util/form.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len) into a new string. */
static int decode(const char *s, size_t len, char **out, struct ob_error *err)
{
    char *d = malloc(len + 1);
    size_t n = 0;

    *out = NULL;
    if (d == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 1 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(d);
                return ob_fail(err, OB_EINVAL, "form body has a malformed %%-escape");
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            free(d);
            return ob_fail(err, OB_EINVAL, "form body contains a NUL byte");
        }
        d[n++] = c;
    }
    d[n] = '\0';
    *out = d;
    return 0;
}

int form_parse(const char *body, size_t len, struct form *out, struct ob_error *err)
{
    size_t pos = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    while (rc == 0 && pos < len) {
        const char *field = body + pos;
        const char *amp = memchr(field, '&', len - pos);
        size_t flen = amp != NULL ? (size_t)(amp - field) : len - pos;
        const char *eq = memchr(field, '=', flen);
        size_t nlen = eq != NULL ? (size_t)(eq - field) : flen;
        struct form_field *f;

        pos += flen + (amp != NULL);
        if (flen == 0)
            continue;
        if (nlen == 0) {
            rc = ob_fail(err, OB_EINVAL, "form body has a field without a name");
            break;
        }
        if (out->count == FORM_MAX_FIELDS) {
            rc = ob_fail(err, OB_EINVAL, "form body has more than %d fields", FORM_MAX_FIELDS);
            break;
        }
        if (out->count % 16 == 0) {
            f = realloc(out->fields, (out->count + 16) * sizeof(*f));
            if (f == NULL) {
                rc = ob_fail(err, OB_ENOMEM, "out of memory");
                break;
            }
            out->fields = f;
        }
        f = &out->fields[out->count];
        memset(f, 0, sizeof(*f));
        rc = decode(field, nlen, &f->name, err);
        if (rc == 0)
            rc = eq != NULL ? decode(eq + 1, flen - nlen - 1, &f->value, err)
                            : decode("", 0, &f->value, err);
        if (rc == 0) {
            out->count++;
        } else {
            free(f->name);
            free(f->value);
        }
    }
    if (rc != 0)
        form_release(out);
    return rc;
}

const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->count; i++) {
        if (strcmp(f->fields[i].name, name) == 0)
            return f->fields[i].value;
    }
    return NULL;
}

void form_release(struct form *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->count; i++) {
        free(f->fields[i].name);
        free(f->fields[i].value);
    }
    free(f->fields);
    memset(f, 0, sizeof(*f));
}
