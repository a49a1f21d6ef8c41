#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ob_error_clear(struct ob_error *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

int ob_fail(struct ob_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    /* Keep messages on one line whatever the input contained. */
    for (char *p = err->msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    return code;
}

const char *ob_strerror(int code)
{
    switch (code) {
    case OB_OK:
        return "success";
    case OB_ENOMEM:
        return "out of memory";
    case OB_EINVAL:
        return "invalid input";
    case OB_ENOTFOUND:
        return "not found";
    case OB_ECONFLICT:
        return "conflict";
    case OB_EIO:
        return "input/output error";
    case OB_ESTORE:
        return "storage error";
    case OB_EUNAUTH:
        return "unauthorized";
    case OB_EFORBIDDEN:
        return "forbidden";
    case OB_ETOOLARGE:
        return "too large";
    case OB_EUNSUPPORTED:
        return "unsupported";
    case OB_EUNAVAILABLE:
        return "unavailable";
    case OB_EINTERNAL:
    default:
        return "internal error";
    }
}

int ob_code_http_status(int code)
{
    switch (code) {
    case OB_OK:
        return 200;
    case OB_EINVAL:
        return 400;
    case OB_EUNAUTH:
        return 401;
    case OB_EFORBIDDEN:
        return 403;
    case OB_ENOTFOUND:
        return 404;
    case OB_ECONFLICT:
        return 409;
    case OB_ETOOLARGE:
        return 413;
    case OB_EUNSUPPORTED:
        return 415;
    case OB_EUNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}

void ob_die(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("opsbell: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

void ob_bug(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "opsbell: BUG at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
