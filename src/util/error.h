/*
 * error.h - the one error convention of opsbell.
 *
 * Every fallible function returns 0 on success or a negative OB_E* code on
 * failure.  Functions that can say more than the code take a
 * `struct ob_error *err` (which may be NULL) as their last argument and fill
 * it with the code and a one-line, human readable message.  The message never
 * contains a secret.
 *
 * Three kinds of failure are kept apart:
 *   - ob_error / return negative code: report and let the caller decide;
 *   - ob_die(): the process cannot go on (used only in main paths, never in a
 *     request handler);
 *   - OB_BUG(): the program itself is wrong (an invariant broke).
 */
#ifndef OPSBELL_UTIL_ERROR_H
#define OPSBELL_UTIL_ERROR_H

#include <stddef.h>

enum ob_code {
    OB_OK = 0,
    OB_ENOMEM = -1,        /* out of memory */
    OB_EINVAL = -2,        /* invalid input (bad request, bad config) */
    OB_ENOTFOUND = -3,     /* the named object does not exist */
    OB_ECONFLICT = -4,     /* already exists / state does not allow it */
    OB_EIO = -5,           /* file or socket I/O failed */
    OB_ESTORE = -6,        /* the database failed */
    OB_EUNAUTH = -7,       /* no or invalid credentials */
    OB_EFORBIDDEN = -8,    /* valid credentials, not allowed */
    OB_ETOOLARGE = -9,     /* input exceeds a size cap */
    OB_EUNSUPPORTED = -10, /* e.g. wrong content type, unknown scheme */
    OB_EINTERNAL = -11,    /* a bug or an unexpected library failure */
    OB_EUNAVAILABLE = -12, /* temporarily unable (shutting down, pool empty) */
    OB_EAGAIN = -13        /* internal: undone, run it again another way (never reaches users) */
};

#define OB_ERROR_MSG_MAX 512

struct ob_error {
    int code;                   /* one of enum ob_code, 0 when unset */
    char msg[OB_ERROR_MSG_MAX]; /* NUL-terminated one-line message */
};

/* Reset err to "no error". Accepts NULL. */
void ob_error_clear(struct ob_error *err);

/*
 * Record code and a printf-style message in err (err may be NULL).
 * Returns code, so that callers can write `return ob_fail(err, OB_EINVAL, ...)`.
 */
int ob_fail(struct ob_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replace every byte that is not part of valid UTF-8 with '?', in place. */
void ob_utf8_sanitize(char *text);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (overlong forms, surrogates, past U+10FFFF, a truncated sequence). */
size_t ob_utf8_sequence_len(const unsigned char *s);

/* Static English name of a code ("invalid input"). Never NULL. */
const char *ob_strerror(int code);

/* The HTTP status that reports a code (OB_EINVAL -> 400, ...). */
int ob_code_http_status(int code);

/* Print "opsbell: <message>" to stderr and exit(status). */
void ob_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Report a broken invariant with its location and abort(). */
#define OB_BUG(...) ob_bug(__FILE__, __LINE__, __VA_ARGS__)
void ob_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#endif
