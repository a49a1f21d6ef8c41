/*
 * strbuf.h - a growable NUL-terminated byte buffer (git's strbuf, small).
 *
 * Allocation failure aborts the process (there is nothing sensible a caller
 * could do with a half-built string); every other function cannot fail.
 * Lifecycle: STRBUF_INIT or strbuf_init(); strbuf_release() frees; a
 * released buffer is empty and may be reused. strbuf_detach() hands the
 * malloc'd string to the caller (free it with free()).
 */
#ifndef OPSBELL_UTIL_STRBUF_H
#define OPSBELL_UTIL_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *buf;  /* always NUL-terminated once anything was added; may be NULL when empty */
    size_t len; /* bytes used, without the NUL */
    size_t cap; /* bytes allocated */
};

#define STRBUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void strbuf_init(struct strbuf *sb);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, char c);
/* Append s for XML or HTML text and attribute values: & < > " ' as
 * entities (&amp; &lt; &gt; &quot; &#39;), control characters (CR and LF
 * included) as spaces.  s may be NULL (nothing appended). */
void strbuf_add_markup_escaped(struct strbuf *sb, const char *s);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_reset(struct strbuf *sb);
/* Read-only view: "" when empty, never NULL. */
const char *strbuf_str(const struct strbuf *sb);

#endif
