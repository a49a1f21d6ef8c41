/*
 * secret.h - secrets given by reference: "env:NAME" or "file:PATH".
 *
 * A secret's value is read once when the configuration is loaded and kept
 * only in struct secret.  `ref` is safe to print (it names where the secret
 * lives); `value` must never be logged, printed or put in an error message.
 */
#ifndef OPSBELL_UTIL_SECRET_H
#define OPSBELL_UTIL_SECRET_H

#include <stddef.h>

struct ob_error;

#define SECRET_FILE_MAX (64 * 1024) /* cap on a file: secret */

struct secret {
    char *ref;   /* owned: "env:NAME" or "file:PATH" as written */
    char *value; /* owned: the resolved bytes plus a NUL; NULL when unset */
    size_t len;  /* length of value, without the NUL */
};

/*
 * Resolve ref into out. Relative file: paths are taken relative to base_dir
 * (NULL = the current directory). A single trailing newline of a file is
 * dropped. Errors (OB_EINVAL for a malformed reference or a missing variable,
 * OB_EIO for an unreadable file, OB_ETOOLARGE) name the reference, never the
 * value. On failure out is left zeroed.
 */
int secret_resolve(const char *ref, const char *base_dir, struct secret *out, struct ob_error *err);

/* True when ref looks like "env:X" or "file:X" with a non-empty X. */
int secret_ref_is_valid(const char *ref);

/* Wipe and free what out owns; out itself is not freed. Accepts NULL. */
void secret_release(struct secret *s);

#endif
