/*
 * form.h - application/x-www-form-urlencoded bodies (Twilio callbacks,
 * Slack interactions and slash commands, Mattermost).
 *
 * Ownership: form_parse() fills a struct form the caller owns and frees
 * with form_release(); form_get() borrows from it.
 */
#ifndef OPSBELL_UTIL_FORM_H
#define OPSBELL_UTIL_FORM_H

#include <stddef.h>

struct ob_error;

#define FORM_MAX_FIELDS 256

struct form_field {
    char *name;  /* decoded, NUL-terminated */
    char *value; /* decoded, NUL-terminated; "" for a field without '=' */
};

struct form {
    struct form_field *fields; /* in body order */
    size_t count;
};

/*
 * Parse body (len bytes): fields separated by '&', '+' is a space, %XX is
 * a byte.  Empty fields ("a=1&&b=2") are skipped.  Refused with OB_EINVAL
 * (the message says why, without echoing the body): a bad %-escape, a NUL
 * byte (raw or decoded), an empty name, more than FORM_MAX_FIELDS fields.
 * Values are bytes: the caller checks UTF-8 where it matters.
 */
int form_parse(const char *body, size_t len, struct form *out, struct ob_error *err);
/* The first value named name; NULL when absent. */
const char *form_get(const struct form *f, const char *name);
/* Free what f owns and reset it. Accepts NULL. */
void form_release(struct form *f);

#endif
