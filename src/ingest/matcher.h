/*
 * matcher.h - Prometheus/Alertmanager label matchers: name="v", name!="v",
 * name=~"re", name!~"re". Regular expressions are anchored at both ends (as
 * in Prometheus) and use POSIX extended syntax (regcomp REG_EXTENDED).
 *
 * Used by service routing (team YAML `match:`) and by silences. A label that
 * is absent has the value "" (so name="" matches it, as in Alertmanager).
 *
 * Ownership: matcher_parse() fills a struct matcher that owns its strings and
 * compiled regex; matcher_release() frees them. A matcher_set owns its
 * matchers. Compiled matchers are read-only and safe to share across threads.
 */
#ifndef OPSBELL_INGEST_MATCHER_H
#define OPSBELL_INGEST_MATCHER_H

#include "ingest/event.h"

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

struct ob_error;

enum matcher_op { MATCH_EQUAL = 0, MATCH_NOT_EQUAL, MATCH_REGEX, MATCH_NOT_REGEX };

#define MATCHER_MAX_PER_SET 64
#define MATCHER_VALUE_MAX   1024

struct matcher {
    char *name;
    enum matcher_op op;
    char *value; /* the literal, or the regex source as written */
    regex_t re;  /* compiled "^(" value ")$" for MATCH_REGEX / MATCH_NOT_REGEX */
    bool has_re;
};

struct matcher_set {
    struct matcher *items;
    size_t count;
};

/*
 * Parse one matcher: `name=value`, `name="value"`, `name!="v"`, `name=~"re"`,
 * `name!~"re"` (quotes optional when the value has no spaces, commas or
 * quotes; inside quotes \" and \\ escape). Names are [a-zA-Z_][a-zA-Z0-9_]*.
 * Returns 0 or OB_EINVAL with the reason (bad name, unknown operator, bad
 * regex with regerror's text).
 */
int matcher_parse(const char *text, struct matcher *out, struct ob_error *err);
/* Build from parts (for JSON APIs): same checks as matcher_parse. */
int matcher_init(struct matcher *out, const char *name, enum matcher_op op, const char *value,
                 struct ob_error *err);
void matcher_release(struct matcher *m);

/*
 * Parse a list: `{a="b", c=~"d"}` or `a="b",c=~"d"` (braces optional; empty
 * braces = empty set). Returns 0 or OB_EINVAL.
 */
int matcher_set_parse(const char *text, struct matcher_set *out, struct ob_error *err);
/* Append a parsed matcher. m is always taken: left zeroed on success and released and
 * zeroed on failure. 0 or OB_ENOMEM / OB_EINVAL (too many). */
int matcher_set_add(struct matcher_set *set, struct matcher *m, struct ob_error *err);
void matcher_set_release(struct matcher_set *set);

bool matcher_matches(const struct matcher *m, const struct alert_label *labels, size_t count);
/* All matchers match (an empty set matches everything). */
bool matcher_set_matches(const struct matcher_set *set, const struct alert_label *labels,
                         size_t count);

const char *matcher_op_text(enum matcher_op op); /* "=", "!=", "=~", "!~" */
/* Write `name="value"` (value escaped) into out. */
void matcher_format(const struct matcher *m, char *out, size_t cap);

#endif
