/*
 * matcher.c - Prometheus/Alertmanager label matchers (see matcher.h).
 *
 * Text forms (Alertmanager's classic parser):
 *
 *   set     = ws "{" ws [ matcher ws { "," ws matcher ws } [ "," ws ] ] "}" ws
 *           | ws matcher ws { "," ws matcher ws }
 *   matcher = name ws op ws value
 *   name    = [a-zA-Z_][a-zA-Z0-9_]*          (at most ALERT_LABEL_NAME_MAX bytes)
 *   op      = "=" | "!=" | "=~" | "!~"
 *   value   = '"' { char | '\"' | '\\' | '\n' } '"'
 *           | { any byte but whitespace, ',', '}' and '"' }  (may be empty)
 *
 * Inside quotes any other backslash is kept as written, so that regexes such
 * as "api\.prod" read as they do in Alertmanager. An empty text is refused
 * (an empty set matches every alert, so it has to be asked for as "{}").
 * Positions in messages are 1-based byte offsets into the text.
 *
 * Regexes are POSIX extended, compiled as "^(" value ")$". Before compiling,
 * regex_check() makes sure that a value cannot leave the anchoring group (an
 * unmatched ')' would turn "a)|(b" into an unanchored alternation) and cannot
 * make glibc slow or huge: glibc takes exponential time over back-references,
 * stacked repetitions and loops over parts that match "", and gigabytes over
 * nested intervals. RE2, which Prometheus uses, has no back-references and
 * refuses stacked repetitions and counts over 1000 too.
 */
#include "ingest/matcher.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_MAX        64   /* bytes of input echoed in a message */
#define RE_MAX_DEPTH    32   /* nested groups in a regex */
#define RE_MAX_SIZE     4096 /* regex size once glibc has expanded repetitions */
#define RE_MAX_INTERVAL 1000 /* largest bound in {m,n} (as in RE2) */
#define RE_MAX_OPTIONAL 256  /* optional parts ('*', '?', ...) in a regex */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static const char *skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* How many bytes of s to echo in a message: at most ECHO_MAX, never half of a
 * UTF-8 sequence. */
static int echo_len(const char *s)
{
    size_t n = strnlen(s, ECHO_MAX + 1);

    if (n <= ECHO_MAX)
        return (int)n;
    n = ECHO_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

/* "..." when echo_len() cut s short. */
static const char *echo_more(const char *s)
{
    return s[echo_len(s)] != '\0' ? "..." : "";
}

static bool utf8_valid(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    while (*p != '\0') {
        size_t len = ob_utf8_sequence_len(p);
        if (len == 0)
            return false;
        p += len;
    }
    return true;
}

static bool name_valid(const char *name)
{
    if (!is_name_start(name[0]))
        return false;
    for (const char *p = name + 1; *p != '\0'; p++) {
        if (!is_name_char(*p))
            return false;
    }
    return true;
}

/*
 * Index just past the bracket expression that starts at v[i] == '['. Inside
 * one, '\' and ')' are ordinary; "[:", "[." and "[=" run to ":]", ".]", "=]"
 * (as glibc reads them). An unterminated one runs to the end: regcomp refuses it.
 */
static size_t regex_bracket_end(const char *v, size_t i)
{
    size_t j = i + 1;

    if (v[j] == '^')
        j++;
    if (v[j] == ']')
        j++;
    while (v[j] != '\0') {
        if (v[j] == '[' && (v[j + 1] == ':' || v[j + 1] == '.' || v[j + 1] == '=')) {
            char delim = v[j + 1];
            size_t k = j + 2;
            while (v[k] != '\0' && !(v[k] == delim && v[k + 1] == ']'))
                k++;
            if (v[k] == '\0')
                return k;
            j = k + 2;
            continue;
        }
        if (v[j] == ']')
            return j + 1;
        j++;
    }
    return j;
}

/*
 * Read an interval "{m}", "{m,}", "{m,n}" or "{,n}" at v[*i] == '{'. On
 * success advance *i past it and set *min and *max (SIZE_MAX: no upper
 * bound); counts saturate just past RE_MAX_INTERVAL, so that a longer one is
 * still read and refused. Returns false when it is no interval (regcomp
 * judges it).
 */
static bool regex_interval(const char *v, size_t *i, size_t *min, size_t *max)
{
    size_t j = *i + 1;
    size_t lo = 0, hi = 0;
    bool has_lo = false, has_hi = false, comma = false;

    while (v[j] >= '0' && v[j] <= '9') {
        lo = lo * 10 + (size_t)(v[j++] - '0');
        if (lo > RE_MAX_INTERVAL)
            lo = RE_MAX_INTERVAL + 1;
        has_lo = true;
    }
    if (v[j] == ',') {
        comma = true;
        j++;
        while (v[j] >= '0' && v[j] <= '9') {
            hi = hi * 10 + (size_t)(v[j++] - '0');
            if (hi > RE_MAX_INTERVAL)
                hi = RE_MAX_INTERVAL + 1;
            has_hi = true;
        }
    }
    if (v[j] != '}' || (!has_lo && !has_hi))
        return false;
    *i = j + 1;
    *min = lo;
    if (has_hi)
        *max = hi;
    else
        *max = comma ? SIZE_MAX : lo;
    return true;
}

/*
 * The state of regex_check(): per open group, its size and whether it can
 * match the empty string; about the last atom, what a repetition would act on.
 */
struct regex_scan {
    size_t size[RE_MAX_DEPTH + 1];     /* nodes of each open group so far */
    bool alt_empty[RE_MAX_DEPTH + 1];  /* an earlier alternative can match "" */
    bool seq_empty[RE_MAX_DEPTH + 1];  /* the current alternative so far can */
    size_t opt_open[RE_MAX_DEPTH + 1]; /* optional parts before the group opened */
    size_t depth;
    size_t last;       /* nodes of the last atom; 0 = nothing to repeat */
    size_t last_opt;   /* optional parts in the last atom */
    bool last_empty;   /* the last atom can match "" */
    bool before_empty; /* the alternative before the last atom can match "" */
    int repeated;      /* 1 just after a repetition, 2 after a lazy '?' */
    size_t optional;   /* parts that may match "", in the whole regex */
};

static const char regex_too_large[] = "it is too large once its repetitions are expanded";
static const char regex_too_optional[] = "it has too many optional parts ('*', '?', '{0,n}', ...)";

/*
 * An atom of nodes nodes, inner of the optional parts already counted being
 * inside it (a group's). An atom that can match "" is an optional part too.
 */
static const char *regex_atom(struct regex_scan *st, size_t nodes, size_t inner, bool empty)
{
    size_t d = st->depth;

    st->before_empty = st->seq_empty[d];
    st->size[d] += nodes;
    st->last = nodes;
    st->last_opt = inner + (empty ? 1 : 0);
    st->optional += empty ? 1 : 0;
    st->last_empty = empty;
    st->seq_empty[d] = st->before_empty && empty;
    st->repeated = 0;
    if (st->optional > RE_MAX_OPTIONAL)
        return regex_too_optional;
    return st->size[d] > RE_MAX_SIZE ? regex_too_large : NULL;
}

/* A repetition of the last atom, min to max times (SIZE_MAX: unbounded). */
static const char *regex_repeat(struct regex_scan *st, size_t min, size_t max)
{
    size_t d = st->depth;
    size_t copies, created;

    if (st->last == 0) /* nothing to repeat: regcomp refuses it */
        return NULL;
    if (st->repeated != 0)
        return "repetition operators are stacked";
    if (min > RE_MAX_INTERVAL || (max != SIZE_MAX && max > RE_MAX_INTERVAL))
        return "a repetition count is over 1000";
    if (max == SIZE_MAX && st->last_empty)
        return "'*', '+' or '{m,}' repeats a part that can match the empty string";
    /* glibc copies the atom: x{2,4} is xx(x(x)?)?, x{2,} is xxx*. */
    if (max == SIZE_MAX)
        copies = min + 1;
    else
        copies = max > 0 ? max : 1;
    if (min == 0 && max == SIZE_MAX)
        copies = 1;
    st->size[d] += st->last * (copies - 1) + 1;
    st->last *= copies;
    if (max == SIZE_MAX)
        created = 1;
    else
        created = max > min ? max - min : 0;
    st->optional += st->last_opt * (copies - 1) + created;
    st->last_opt = st->last_opt * copies + created;
    st->last_empty = st->last_empty || min == 0;
    st->seq_empty[d] = st->before_empty && st->last_empty;
    st->repeated = 1;
    if (st->optional > RE_MAX_OPTIONAL)
        return regex_too_optional;
    return st->size[d] > RE_MAX_SIZE ? regex_too_large : NULL;
}

/*
 * Refuse what regcomp would accept but must not be run (see the top of the
 * file). Returns NULL when the value may be compiled, else the reason.
 *
 * glibc's compile and match times grow fast (some exponentially) with:
 *   - the size of the expanded tree: intervals copy their atom ("x{3}" is
 *     "xxx"), so nested ones multiply; at most RE_MAX_SIZE nodes;
 *   - stacked repetitions ("a**", "a++", "a{2}{3}"), undefined in POSIX and
 *     refused by RE2 too ("a*?" and "a??" are allowed: see '?' below);
 *   - a loop over a part that can match "" ("(a*)*", "(a|)+"): refused; it
 *     always has a simpler form;
 *   - long chains of parts that can match "" (counted once copied by
 *     intervals): at most RE_MAX_OPTIONAL.
 */
static const char *regex_check(const char *v)
{
    struct regex_scan st;
    const char *why = NULL;
    size_t i = 0;

    memset(&st, 0, sizeof(st));
    st.seq_empty[0] = true;
    while (why == NULL && v[i] != '\0') {
        size_t min, max;
        size_t d = st.depth;

        switch (v[i]) {
        case '\\':
            if (v[i + 1] == '\0')
                return "it ends with a lone backslash";
            if (v[i + 1] >= '1' && v[i + 1] <= '9')
                return "back-references are not supported";
            /* glibc's zero-width escapes: word boundaries, buffer ends */
            why = regex_atom(&st, 1, 0, strchr("bB<>`'", v[i + 1]) != NULL);
            i += 2;
            break;
        case '[':
            i = regex_bracket_end(v, i);
            why = regex_atom(&st, 1, 0, false);
            break;
        case '(':
            if (d == RE_MAX_DEPTH)
                return "groups are nested too deeply";
            st.depth = ++d;
            st.size[d] = 0;
            st.alt_empty[d] = false;
            st.seq_empty[d] = true;
            st.opt_open[d] = st.optional;
            st.last = 0;
            st.repeated = 0;
            i++;
            break;
        case ')':
            if (d == 0)
                return "unmatched ')'";
            st.depth = d - 1;
            why = regex_atom(&st, st.size[d] + 1, st.optional - st.opt_open[d],
                             st.alt_empty[d] || st.seq_empty[d]);
            i++;
            break;
        case '|':
            st.alt_empty[d] = st.alt_empty[d] || st.seq_empty[d];
            st.seq_empty[d] = true;
            st.size[d] += 1;
            st.last = 0;
            st.repeated = 0;
            i++;
            break;
        case '^':
        case '$':
            why = regex_atom(&st, 1, 0, true);
            i++;
            break;
        case '?':
            i++;
            /* RE2's lazy "x*?" or "x??": here an optional "x*", the same
             * language. Not after "x+" or "x{2}", where it would differ. */
            if (st.repeated == 1 && st.last_empty) {
                st.repeated = 2;
                st.size[d] += 1;
                st.last_opt += 1;
                if (++st.optional > RE_MAX_OPTIONAL)
                    why = regex_too_optional;
                break;
            }
            why = regex_repeat(&st, 0, 1);
            break;
        case '*':
            i++;
            why = regex_repeat(&st, 0, SIZE_MAX);
            break;
        case '+':
            i++;
            why = regex_repeat(&st, 1, SIZE_MAX);
            break;
        case '{':
            if (st.last > 0 && regex_interval(v, &i, &min, &max)) {
                why = regex_repeat(&st, min, max);
                break;
            }
            why = regex_atom(&st, 1, 0, false);
            i++;
            break;
        default:
            why = regex_atom(&st, 1, 0, false);
            i++;
            break;
        }
    }
    return why;
}

/* " at position N", or "" when at is 0 (not from a text). */
static void where_text(char *buf, size_t cap, size_t at)
{
    buf[0] = '\0';
    if (at > 0)
        snprintf(buf, cap, " at position %zu", at);
}

static int matcher_compile(struct matcher *m, size_t at, struct ob_error *err)
{
    size_t len = strlen(m->value);
    char *pattern = NULL;
    const char *why;
    char where[48];
    int rc = 0;
    int rrc;

    where_text(where, sizeof(where), at);
    why = regex_check(m->value);
    if (why != NULL) {
        rc = ob_fail(err, OB_EINVAL, "invalid regular expression for label \"%s\"%s: %s", m->name,
                     where, why);
        goto out;
    }
    pattern = malloc(len + 5);
    if (pattern == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(pattern, "^(", 2);
    memcpy(pattern + 2, m->value, len);
    memcpy(pattern + 2 + len, ")$", 3);
    rrc = regcomp(&m->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rrc != 0) {
        /* After a failed regcomp there is nothing to regfree (POSIX leaves
         * the regex_t undefined; glibc has freed it). */
        char reason[160];
        regerror(rrc, &m->re, reason, sizeof(reason));
        rc = ob_fail(err, rrc == REG_ESPACE ? OB_ENOMEM : OB_EINVAL,
                     "invalid regular expression for label \"%s\"%s: %s", m->name, where, reason);
        goto out;
    }
    m->has_re = true;
out:
    free(pattern);
    return rc;
}

/*
 * Fill out from parts it takes ownership of (name already checked); on
 * failure frees them and leaves out zeroed. at: position of the value in the
 * parsed text, 0 when not parsed.
 */
static int matcher_take(struct matcher *out, char *name, enum matcher_op op, char *value, size_t at,
                        struct ob_error *err)
{
    char where[48];
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->name = name;
    out->op = op;
    out->value = value;
    where_text(where, sizeof(where), at);
    if (strlen(value) > MATCHER_VALUE_MAX) {
        rc = ob_fail(err, OB_EINVAL, "value of label \"%s\"%s is longer than %d bytes", name, where,
                     MATCHER_VALUE_MAX);
        goto out;
    }
    if (!utf8_valid(value)) {
        rc = ob_fail(err, OB_EINVAL, "value of label \"%s\"%s is not valid UTF-8", name, where);
        goto out;
    }
    if (op == MATCH_REGEX || op == MATCH_NOT_REGEX)
        rc = matcher_compile(out, at, err);
out:
    if (rc != 0)
        matcher_release(out);
    return rc;
}

int matcher_init(struct matcher *out, const char *name, enum matcher_op op, const char *value,
                 struct ob_error *err)
{
    char *name_copy = NULL;
    char *value_copy = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (name == NULL || name[0] == '\0') {
        rc = ob_fail(err, OB_EINVAL, "empty label name");
        goto out;
    }
    if (!name_valid(name)) {
        rc = ob_fail(err, OB_EINVAL,
                     "invalid label name \"%.*s\"%s (names are [a-zA-Z_][a-zA-Z0-9_]*)",
                     echo_len(name), name, echo_more(name));
        goto out;
    }
    if (strlen(name) > ALERT_LABEL_NAME_MAX) {
        rc = ob_fail(err, OB_EINVAL, "label name \"%.*s...\" is longer than %d bytes",
                     echo_len(name), name, ALERT_LABEL_NAME_MAX);
        goto out;
    }
    if (op != MATCH_EQUAL && op != MATCH_NOT_EQUAL && op != MATCH_REGEX && op != MATCH_NOT_REGEX) {
        rc = ob_fail(err, OB_EINVAL, "unknown matcher operator %d", (int)op);
        goto out;
    }
    if (value == NULL) {
        rc = ob_fail(err, OB_EINVAL, "no value for label \"%s\"", name);
        goto out;
    }
    if (strlen(value) > MATCHER_VALUE_MAX) {
        rc = ob_fail(err, OB_EINVAL, "value of label \"%s\" is longer than %d bytes", name,
                     MATCHER_VALUE_MAX);
        goto out;
    }
    name_copy = strdup(name);
    value_copy = strdup(value);
    if (name_copy == NULL || value_copy == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    rc = matcher_take(out, name_copy, op, value_copy, 0, err);
    name_copy = NULL; /* taken, even on failure */
    value_copy = NULL;
out:
    free(name_copy);
    free(value_copy);
    return rc;
}

void matcher_release(struct matcher *m)
{
    if (m == NULL)
        return;
    if (m->has_re)
        regfree(&m->re);
    free(m->name);
    free(m->value);
    memset(m, 0, sizeof(*m));
}

/* ---- parsing ---------------------------------------------------------------- */

/* Position of at in text, 1-based. */
static size_t text_pos(const char *text, const char *at)
{
    return (size_t)(at - text) + 1;
}

/*
 * Quoted value at *pp == '"': unescape into a new string (*out). Advances
 * *pp past the closing quote.
 */
static int parse_quoted(const char *text, const char **pp, char **out, struct ob_error *err)
{
    const char *open = *pp;
    const char *r = open + 1;
    size_t len = 0;
    char *value;
    char *w;

    *out = NULL;
    for (;;) {
        if (*r == '\0' || (*r == '\\' && r[1] == '\0'))
            return ob_fail(err, OB_EINVAL, "unterminated quoted value starting at position %zu",
                           text_pos(text, open));
        if (*r == '"')
            break;
        if (*r == '\\') {
            len += (r[1] == '"' || r[1] == '\\' || r[1] == 'n') ? 1 : 2;
            r += 2;
            continue;
        }
        len++;
        r++;
    }
    if (len > MATCHER_VALUE_MAX)
        return ob_fail(err, OB_EINVAL, "value at position %zu is longer than %d bytes",
                       text_pos(text, open), MATCHER_VALUE_MAX);
    value = malloc(len + 1);
    if (value == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    w = value;
    for (const char *p = open + 1; p < r; p++) {
        if (*p != '\\') {
            *w++ = *p;
            continue;
        }
        p++;
        if (*p == 'n') {
            *w++ = '\n';
        } else if (*p == '"' || *p == '\\') {
            *w++ = *p;
        } else {
            /* Not an escape: keep the backslash, as Alertmanager does. */
            *w++ = '\\';
            *w++ = *p;
        }
    }
    *w = '\0';
    *out = value;
    *pp = r + 1;
    return 0;
}

/* Unquoted value at *pp: up to whitespace, ',', '}' or the end. */
static int parse_unquoted(const char *text, const char **pp, char **out, struct ob_error *err)
{
    const char *start = *pp;
    const char *p = start;
    char *value;

    *out = NULL;
    while (*p != '\0' && !is_space(*p) && *p != ',' && *p != '}') {
        if (*p == '"')
            return ob_fail(err, OB_EINVAL,
                           "quote inside an unquoted value at position %zu (quote the whole "
                           "value)",
                           text_pos(text, p));
        p++;
    }
    if ((size_t)(p - start) > MATCHER_VALUE_MAX)
        return ob_fail(err, OB_EINVAL, "value at position %zu is longer than %d bytes",
                       text_pos(text, start), MATCHER_VALUE_MAX);
    value = strndup(start, (size_t)(p - start));
    if (value == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    *out = value;
    *pp = p;
    return 0;
}

/*
 * One matcher at *pp (no leading whitespace). Advances *pp just past its
 * value. On failure out is zeroed.
 */
static int parse_matcher(const char *text, const char **pp, struct matcher *out,
                         struct ob_error *err)
{
    const char *start = *pp;
    const char *p = start;
    const char *op_at;
    const char *value_at;
    enum matcher_op op;
    size_t name_len;
    char *name = NULL;
    char *value = NULL;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!is_name_start(*p)) {
        if (*p == '\0')
            rc = ob_fail(err, OB_EINVAL, "expected a label name at position %zu, found the end",
                         text_pos(text, p));
        else if (*p == '=' || *p == '!')
            rc = ob_fail(err, OB_EINVAL, "empty label name at position %zu", text_pos(text, p));
        else
            rc = ob_fail(err, OB_EINVAL,
                         "invalid label name at position %zu: \"%.*s\"%s (names are "
                         "[a-zA-Z_][a-zA-Z0-9_]*)",
                         text_pos(text, p), echo_len(p), p, echo_more(p));
        goto out;
    }
    while (is_name_char(*p))
        p++;
    name_len = (size_t)(p - start);
    if (name_len > ALERT_LABEL_NAME_MAX) {
        rc = ob_fail(err, OB_EINVAL, "label name at position %zu is longer than %d bytes",
                     text_pos(text, start), ALERT_LABEL_NAME_MAX);
        goto out;
    }

    op_at = skip_space(p);
    p = op_at;
    if (p[0] == '=' && p[1] == '~') {
        op = MATCH_REGEX;
        p += 2;
    } else if (p[0] == '=') {
        op = MATCH_EQUAL;
        p += 1;
    } else if (p[0] == '!' && p[1] == '=') {
        op = MATCH_NOT_EQUAL;
        p += 2;
    } else if (p[0] == '!' && p[1] == '~') {
        op = MATCH_NOT_REGEX;
        p += 2;
    } else {
        int shown = name_len > ECHO_MAX ? ECHO_MAX : (int)name_len;
        if (*p == '\0')
            rc = ob_fail(err, OB_EINVAL,
                         "missing operator after label \"%.*s\" at position %zu (expected =, "
                         "!=, =~ or !~)",
                         shown, start, text_pos(text, p));
        else
            rc = ob_fail(err, OB_EINVAL,
                         "expected an operator (=, !=, =~ or !~) after label \"%.*s\" at "
                         "position %zu: \"%.*s\"%s",
                         shown, start, text_pos(text, p), echo_len(p), p, echo_more(p));
        goto out;
    }

    value_at = skip_space(p);
    p = value_at;
    if (*p == '"') {
        rc = parse_quoted(text, &p, &value, err);
    } else if (*p == '=' || *p == '~') {
        /* "a==b", "a=~~b": a mistyped operator rather than a value. */
        rc = ob_fail(err, OB_EINVAL, "unknown operator at position %zu: \"%.*s\"%s",
                     text_pos(text, op_at), echo_len(op_at), op_at, echo_more(op_at));
    } else {
        rc = parse_unquoted(text, &p, &value, err);
    }
    if (rc != 0)
        goto out;

    name = strndup(start, name_len);
    if (name == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    rc = matcher_take(out, name, op, value, text_pos(text, value_at), err);
    name = NULL; /* taken, even on failure */
    value = NULL;
    if (rc == 0)
        *pp = p;
out:
    free(name);
    free(value);
    return rc;
}

int matcher_parse(const char *text, struct matcher *out, struct ob_error *err)
{
    const char *p;
    int rc;

    memset(out, 0, sizeof(*out));
    if (text == NULL)
        return ob_fail(err, OB_EINVAL, "no matcher given");
    p = skip_space(text);
    rc = parse_matcher(text, &p, out, err);
    if (rc != 0)
        return rc;
    p = skip_space(p);
    if (*p != '\0') {
        rc =
            ob_fail(err, OB_EINVAL, "unexpected text after the matcher at position %zu: \"%.*s\"%s",
                    text_pos(text, p), echo_len(p), p, echo_more(p));
        matcher_release(out);
    }
    return rc;
}

/* ---- sets ------------------------------------------------------------------- */

/*
 * On failure m is released too (and left zeroed), so that a caller leaks
 * nothing whether or not it releases m afterwards. Matchers are moved by
 * copying their struct: a glibc regex_t holds no pointer to itself.
 */
int matcher_set_add(struct matcher_set *set, struct matcher *m, struct ob_error *err)
{
    struct matcher *items;
    int rc = 0;

    if (set == NULL || m == NULL || m->name == NULL || m->value == NULL) {
        rc = ob_fail(err, OB_EINVAL, "no matcher to add");
        goto out;
    }
    if (set->count >= MATCHER_MAX_PER_SET) {
        rc = ob_fail(err, OB_EINVAL, "too many matchers (at most %d)", MATCHER_MAX_PER_SET);
        goto out;
    }
    items = realloc(set->items, (set->count + 1) * sizeof(*items));
    if (items == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    set->items = items;
    set->items[set->count++] = *m;
    memset(m, 0, sizeof(*m));
out:
    if (rc != 0)
        matcher_release(m);
    return rc;
}

int matcher_set_parse(const char *text, struct matcher_set *out, struct ob_error *err)
{
    struct matcher m;
    const char *p;
    bool braces = false;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (text == NULL) {
        rc = ob_fail(err, OB_EINVAL, "no matchers given");
        goto out;
    }
    p = skip_space(text);
    if (*p == '\0') {
        rc = ob_fail(err, OB_EINVAL, "empty matcher list (write {} for no matchers)");
        goto out;
    }
    if (*p == '{') {
        braces = true;
        p = skip_space(p + 1);
        if (*p == '}') /* "{}" */
            goto close;
    }
    for (;;) {
        if (out->count == MATCHER_MAX_PER_SET) {
            rc = ob_fail(err, OB_EINVAL, "too many matchers at position %zu (at most %d)",
                         text_pos(text, p), MATCHER_MAX_PER_SET);
            goto out;
        }
        rc = parse_matcher(text, &p, &m, err);
        if (rc != 0)
            goto out;
        rc = matcher_set_add(out, &m, err);
        if (rc != 0)
            goto out;
        p = skip_space(p);
        if (*p == ',') {
            p = skip_space(p + 1);
            if (braces && *p == '}') /* trailing comma */
                goto close;
            continue;
        }
        if (braces && *p == '}')
            goto close;
        if (*p == '\0') {
            if (braces)
                rc = ob_fail(err, OB_EINVAL, "missing '}' at position %zu", text_pos(text, p));
            goto out;
        }
        rc = ob_fail(err, OB_EINVAL, "expected ','%s at position %zu: \"%.*s\"%s",
                     braces ? " or '}'" : "", text_pos(text, p), echo_len(p), p, echo_more(p));
        goto out;
    }
close:
    p = skip_space(p + 1);
    if (*p != '\0')
        rc = ob_fail(err, OB_EINVAL, "unexpected text after '}' at position %zu: \"%.*s\"%s",
                     text_pos(text, p), echo_len(p), p, echo_more(p));
out:
    if (rc != 0)
        matcher_set_release(out);
    return rc;
}

void matcher_set_release(struct matcher_set *set)
{
    if (set == NULL)
        return;
    if (set->items != NULL) {
        for (size_t i = 0; i < set->count; i++)
            matcher_release(&set->items[i]);
    }
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

/* ---- matching --------------------------------------------------------------- */

/*
 * Value of a label, or NULL. A plain scan: it gives the same answer whatever
 * the order of the labels (alert_label_get relies on them being sorted), and
 * an alert carries few.
 */
static const char *label_value(const struct alert_label *labels, size_t count, const char *name)
{
    if (labels == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (labels[i].name != NULL && strcmp(labels[i].name, name) == 0)
            return labels[i].value;
    }
    return NULL;
}

bool matcher_matches(const struct matcher *m, const struct alert_label *labels, size_t count)
{
    const char *value;

    if (m == NULL || m->name == NULL || m->value == NULL)
        return false;
    value = label_value(labels, count, m->name);
    if (value == NULL) /* absent: "" */
        value = "";
    switch (m->op) {
    case MATCH_EQUAL:
        return strcmp(value, m->value) == 0;
    case MATCH_NOT_EQUAL:
        return strcmp(value, m->value) != 0;
    case MATCH_REGEX:
        return m->has_re && regexec(&m->re, value, 0, NULL, 0) == 0;
    case MATCH_NOT_REGEX:
        return m->has_re && regexec(&m->re, value, 0, NULL, 0) == REG_NOMATCH;
    }
    return false;
}

bool matcher_set_matches(const struct matcher_set *set, const struct alert_label *labels,
                         size_t count)
{
    if (set == NULL || set->items == NULL)
        return true;
    for (size_t i = 0; i < set->count; i++) {
        if (!matcher_matches(&set->items[i], labels, count))
            return false;
    }
    return true;
}

/* ---- text ------------------------------------------------------------------- */

const char *matcher_op_text(enum matcher_op op)
{
    switch (op) {
    case MATCH_EQUAL:
        return "=";
    case MATCH_NOT_EQUAL:
        return "!=";
    case MATCH_REGEX:
        return "=~";
    case MATCH_NOT_REGEX:
        return "!~";
    }
    return "?";
}

/* Append n bytes if they fit whole (and leave room for the NUL). */
static bool format_put(char *out, size_t cap, size_t *len, const char *bytes, size_t n)
{
    if (*len + n >= cap)
        return false;
    memcpy(out + *len, bytes, n);
    *len += n;
    return true;
}

/*
 * Truncates when out is too small, never inside an escape or a UTF-8
 * sequence. The whole text needs strlen(name) + 2 * strlen(value) + 5 bytes.
 */
void matcher_format(const struct matcher *m, char *out, size_t cap)
{
    const char *op;
    size_t len = 0;

    if (out == NULL || cap == 0)
        return;
    out[0] = '\0';
    if (m == NULL || m->name == NULL || m->value == NULL)
        return;
    op = matcher_op_text(m->op);
    if (!format_put(out, cap, &len, m->name, strlen(m->name)) ||
        !format_put(out, cap, &len, op, strlen(op)) || !format_put(out, cap, &len, "\"", 1))
        goto out;
    for (const char *p = m->value; *p != '\0';) {
        size_t n = ob_utf8_sequence_len((const unsigned char *)p);
        bool ok;

        if (*p == '"')
            ok = format_put(out, cap, &len, "\\\"", 2);
        else if (*p == '\\')
            ok = format_put(out, cap, &len, "\\\\", 2);
        else if (*p == '\n')
            ok = format_put(out, cap, &len, "\\n", 2);
        else
            ok = format_put(out, cap, &len, p, n == 0 ? 1 : n);
        if (!ok)
            goto out;
        p += n == 0 ? 1 : n;
    }
    format_put(out, cap, &len, "\"", 1);
out:
    out[len] = '\0';
}
