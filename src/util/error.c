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
    /* Keep messages on one line and valid UTF-8 whatever the input contained:
     * they end up in JSON bodies and log lines. */
    for (char *p = err->msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    ob_utf8_sanitize(err->msg);
    return code;
}

size_t ob_utf8_sequence_len(const unsigned char *s)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void ob_utf8_sanitize(char *text)
{
    unsigned char *p = (unsigned char *)text;

    while (*p != '\0') {
        size_t len = ob_utf8_sequence_len(p);
        if (len == 0) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
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
    case OB_EAGAIN:
        return "try again";
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
