/*
 * test_matcher.c - label matchers: the four operators, absent labels, regex
 * anchoring and refusals, matcher and set parsing (every accepted form,
 * escapes, errors with positions), limits, formatting and its round trip,
 * matcher_init, and the NULL-ish states the destructors accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ingest/matcher.h"
#include "util/error.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough for any matcher: name + op + quotes + every value byte escaped. */
#define FORMAT_CAP (ALERT_LABEL_NAME_MAX + 2 * MATCHER_VALUE_MAX + 8)

/* ---- helpers ------------------------------------------------------------------ */

/* Labels sorted by name, as doors leave them. */
static const struct alert_label labels[] = {
    {"alertname", "HighLatency"}, {"empty", ""}, {"env", "prod"}, {"job", "api-2"},
    {"msg", "say \"hi\"\\now"},
};
#define LABEL_COUNT (sizeof(labels) / sizeof(labels[0]))

static bool is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        size_t n;
        unsigned cp;
        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xe0) == 0xc0) {
            n = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            cp = *p & 0x07;
        } else {
            return false;
        }
        p++;
        for (size_t i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

static void parse_ok(const char *text, struct matcher *m)
{
    struct ob_error err = {0};
    int rc = matcher_parse(text, m, &err);

    if (rc != 0)
        fail_msg("matcher_parse(%s) failed %d: %s", text, rc, err.msg);
    assert_non_null(m->name);
    assert_non_null(m->value);
}

static void init_ok(struct matcher *m, const char *name, enum matcher_op op, const char *value)
{
    struct ob_error err = {0};
    int rc = matcher_init(m, name, op, value, &err);

    if (rc != 0)
        fail_msg("matcher_init(%s, %d, %s) failed %d: %s", name, (int)op, value, rc, err.msg);
}

/* A refusal: OB_EINVAL, err filled with a one-line message containing want. */
static void check_refused(int rc, const struct ob_error *err, const char *what, const char *want)
{
    if (rc != OB_EINVAL)
        fail_msg("%s: want OB_EINVAL, got %d (%s)", what, rc, err->msg);
    assert_int_equal(err->code, OB_EINVAL);
    assert_true(err->msg[0] != '\0');
    assert_null(strchr(err->msg, '\n'));
    assert_true(utf8_valid(err->msg));
    if (want != NULL && strstr(err->msg, want) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", what, err->msg, want);
}

static void parse_fails(const char *text, const char *want)
{
    struct ob_error err = {0};
    struct matcher m;
    int rc;

    memset(&m, 0xa5, sizeof(m));
    rc = matcher_parse(text, &m, &err);
    check_refused(rc, &err, text, want);
    assert_true(is_zero(&m, sizeof(m)));
}

static void init_fails(const char *name, enum matcher_op op, const char *value, const char *want)
{
    struct ob_error err = {0};
    struct matcher m;
    int rc;

    memset(&m, 0xa5, sizeof(m));
    rc = matcher_init(&m, name, op, value, &err);
    check_refused(rc, &err, name != NULL ? name : "(null)", want);
    assert_true(is_zero(&m, sizeof(m)));
}

static void set_parse_ok(const char *text, struct matcher_set *set)
{
    struct ob_error err = {0};
    int rc = matcher_set_parse(text, set, &err);

    if (rc != 0)
        fail_msg("matcher_set_parse(%s) failed %d: %s", text, rc, err.msg);
}

static void set_parse_fails(const char *text, const char *want)
{
    struct ob_error err = {0};
    struct matcher_set set;
    int rc;

    memset(&set, 0xa5, sizeof(set));
    rc = matcher_set_parse(text, &set, &err);
    check_refused(rc, &err, text, want);
    assert_null(set.items);
    assert_int_equal(set.count, 0);
}

static void assert_matcher(const struct matcher *m, const char *name, enum matcher_op op,
                           const char *value)
{
    assert_string_equal(m->name, name);
    assert_int_equal(m->op, op);
    assert_string_equal(m->value, value);
    assert_int_equal(m->has_re, op == MATCH_REGEX || op == MATCH_NOT_REGEX);
}

/* Does the one-matcher text match the labels? */
static bool text_matches(const char *text, const struct alert_label *ls, size_t count)
{
    struct matcher m;
    bool result;

    parse_ok(text, &m);
    result = matcher_matches(&m, ls, count);
    matcher_release(&m);
    return result;
}

static bool matches(const char *text)
{
    return text_matches(text, labels, LABEL_COUNT);
}

/* Does regex value match one label value, job=<value>? */
static bool regex_matches(const char *regex, const char *value)
{
    const struct alert_label one[] = {{"job", (char *)value}};
    struct matcher m;
    bool result;

    init_ok(&m, "job", MATCH_REGEX, regex);
    result = matcher_matches(&m, one, 1);
    matcher_release(&m);
    return result;
}

static char *repeat(const char *piece, size_t times)
{
    size_t n = strlen(piece);
    char *s = malloc(n * times + 1);

    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * n, piece, n);
    s[n * times] = '\0';
    return s;
}

/* ---- operators ---------------------------------------------------------------- */

static void test_op_equal(void **state)
{
    assert_true(matches("job=\"api-2\""));
    assert_false(matches("job=\"api\""));
    assert_false(matches("job=\"api-2 \""));
    assert_false(matches("job=\"API-2\""));
    assert_false(matches("nope=\"api-2\""));
}

static void test_op_not_equal(void **state)
{
    assert_false(matches("job!=\"api-2\""));
    assert_true(matches("job!=\"api\""));
    assert_true(matches("job!=\"API-2\""));
    assert_true(matches("nope!=\"api-2\""));
}

static void test_op_regex(void **state)
{
    assert_true(matches("job=~\"api-[0-9]+\""));
    assert_true(matches("env=~\"pro.\""));
    assert_false(matches("job=~\"web-[0-9]+\""));
    assert_false(matches("job=~\"api-[a-z]\""));
}

static void test_op_not_regex(void **state)
{
    assert_false(matches("job!~\"api-[0-9]+\""));
    assert_true(matches("job!~\"web-[0-9]+\""));
    assert_true(matches("job!~\"api\""));
    assert_true(matches("nope!~\".+\""));
}

static void test_op_text(void **state)
{
    assert_string_equal(matcher_op_text(MATCH_EQUAL), "=");
    assert_string_equal(matcher_op_text(MATCH_NOT_EQUAL), "!=");
    assert_string_equal(matcher_op_text(MATCH_REGEX), "=~");
    assert_string_equal(matcher_op_text(MATCH_NOT_REGEX), "!~");
    assert_string_equal(matcher_op_text((enum matcher_op)42), "?");
}

/* ---- absent labels ------------------------------------------------------------ */

static void test_absent_label(void **state)
{
    /* name="" matches an absent label and an empty one, not a set one. */
    assert_true(matches("team=\"\""));
    assert_true(matches("empty=\"\""));
    assert_false(matches("job=\"\""));
    /* name!="" requires the label. */
    assert_false(matches("team!=\"\""));
    assert_false(matches("empty!=\"\""));
    assert_true(matches("job!=\"\""));
    /* Regexes see "" too. */
    assert_true(matches("team=~\"\""));
    assert_true(matches("team=~\".*\""));
    assert_false(matches("team=~\".+\""));
    assert_true(matches("team!~\".+\""));
    assert_false(matches("team!~\".*\""));
    assert_false(matches("team=\"x\""));
    assert_true(matches("team!=\"x\""));
    /* No labels at all. */
    assert_true(text_matches("team=\"\"", NULL, 0));
    assert_false(text_matches("team!=\"\"", NULL, 0));
    assert_true(text_matches("team!~\"a\"", NULL, 0));
    assert_false(text_matches("team=\"a\"", NULL, 0));
}

/* Names are compared whole: "jo" and "jobs" are other labels than "job". */
static void test_label_names_exact(void **state)
{
    assert_true(matches("jo=\"\""));
    assert_true(matches("jobs=\"\""));
    assert_true(matches("Job=\"\""));
    assert_true(matches("alertname=\"HighLatency\""));
    assert_true(matches("msg=\"say \\\"hi\\\"\\\\now\""));
}

/* ---- regexes ------------------------------------------------------------------ */

static void test_regex_anchored(void **state)
{
    assert_false(regex_matches("api", "api-2"));
    assert_false(regex_matches("api", "my-api"));
    assert_false(regex_matches("api", "xapix"));
    assert_true(regex_matches("api", "api"));
    assert_true(regex_matches("api.*", "api-2"));
    assert_false(regex_matches("api.*", "my-api-2"));
    assert_true(regex_matches(".*api", "my-api"));
    assert_true(regex_matches(".*api.*", "my-api-2"));
    assert_true(regex_matches("", ""));
    assert_false(regex_matches("", "x"));
    /* '.' matches a newline, as with Prometheus' (?s). */
    assert_true(regex_matches("a.b", "a\nb"));
    /* Explicit anchors are harmless. */
    assert_true(regex_matches("^api$", "api"));
    assert_false(regex_matches("^api", "api-2"));
}

static void test_regex_alternation(void **state)
{
    assert_true(regex_matches("api|web", "api"));
    assert_true(regex_matches("api|web", "web"));
    /* Anchoring covers every alternative. */
    assert_false(regex_matches("api|web", "api-2"));
    assert_false(regex_matches("api|web", "my-web"));
    assert_false(regex_matches("api|web", "apiweb"));
    assert_false(regex_matches("api|web", "api|web"));
    assert_true(regex_matches("(api|web)-[0-9]+", "web-12"));
    assert_false(regex_matches("(api|web)-[0-9]+", "db-12"));
    assert_true(regex_matches("a|", ""));
    assert_true(regex_matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}", "10.0.0.255"));
    assert_false(regex_matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}", "10.0.0"));
}

/* regerror's text for the anchored pattern of a bad regex. */
static void regerror_text(const char *value, char *buf, size_t cap)
{
    char pattern[256];
    regex_t re;
    int rc;

    snprintf(pattern, sizeof(pattern), "^(%s)$", value);
    rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
    assert_int_not_equal(rc, 0);
    regerror(rc, &re, buf, cap);
}

static void test_regex_invalid(void **state)
{
    static const char *const bad[] = {"(", "api(", "*a", "[z-a]", "a{2,1}", "[[:nope:]]", "[a"};
    char reason[160];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[64];
        regerror_text(bad[i], reason, sizeof(reason));
        assert_true(reason[0] != '\0');
        init_fails("job", MATCH_REGEX, bad[i], reason);
        init_fails("job", MATCH_NOT_REGEX, bad[i], "invalid regular expression for label \"job\"");
        snprintf(text, sizeof(text), "job=~\"%s\"", bad[i]);
        parse_fails(text, reason);
        parse_fails(text, "at position 6");
    }
    /* The same values are fine as literals. */
    assert_true(text_matches("job=\"(\"", (const struct alert_label[]){{"job", "("}}, 1));
}

/* What regcomp accepts but the matcher refuses: escaping the anchors,
 * back-references, and repetitions that expand too far. */
static void test_regex_refused(void **state)
{
    char *big;

    /* "^(a)|(b)$" would match anything starting with a or ending with b. */
    init_fails("job", MATCH_REGEX, "a)|(b", "unmatched ')'");
    init_fails("job", MATCH_REGEX, "x)|(.*", "unmatched ')'");
    init_fails("job", MATCH_REGEX, "a)", "unmatched ')'");
    init_fails("job", MATCH_REGEX, "api\\", "lone backslash");
    /* Exponential time in glibc's matcher. */
    init_fails("job", MATCH_REGEX, "(a+)+\\1", "back-references are not supported");
    init_fails("job", MATCH_NOT_REGEX, "(a)\\1", "back-references are not supported");
    /* Gigabytes at compile time. */
    init_fails("job", MATCH_REGEX, "((a{100}){100}){100}", "too large");
    init_fails("job", MATCH_REGEX, "(((.{30}){30}){30})", "too large");
    init_fails("job", MATCH_REGEX, "((ab)(cd)){1000}", "too large");
    init_fails("job", MATCH_REGEX, "a{1001}", "over 1000");
    init_fails("job", MATCH_REGEX, "a{2,100000}", "over 1000");
    init_fails("job", MATCH_REGEX, "a{99999999999999999999999}", "over 1000");
    big = repeat("(", 40);
    init_fails("job", MATCH_REGEX, big, "nested too deeply");
    free(big);
    /* Exponential time in glibc's compiler. */
    init_fails("job", MATCH_REGEX, "a**", "stacked");
    init_fails("job", MATCH_REGEX, "a++", "stacked");
    init_fails("job", MATCH_REGEX, "a?*", "stacked");
    init_fails("job", MATCH_REGEX, "a*??", "stacked");
    init_fails("job", MATCH_REGEX, "a?*?", "stacked");
    init_fails("job", MATCH_REGEX, "a{2}{3}", "stacked");
    init_fails("job", MATCH_REGEX, "a+{2}", "stacked");
    init_fails("job", MATCH_REGEX, "(a*)*", "repeats a part that can match the empty string");
    init_fails("job", MATCH_REGEX, "(a|)+", "repeats a part that can match the empty string");
    init_fails("job", MATCH_REGEX, "(|a)+", "repeats a part that can match the empty string");
    init_fails("job", MATCH_REGEX, "x(a?b*)*", "repeats a part that can match the empty string");
    init_fails("job", MATCH_REGEX, "((a*))*", "repeats a part that can match the empty string");
    init_fails("job", MATCH_REGEX, "(a{0,2}){1,}", "repeats a part");
    init_fails("job", MATCH_REGEX, "()*", "repeats a part");
    init_fails("job", MATCH_REGEX, "(^)+", "repeats a part");
    init_fails("job", MATCH_REGEX, "x(\\b)*", "repeats a part");
    big = repeat("a?", 257);
    init_fails("job", MATCH_REGEX, big, "too many optional parts");
    free(big);
    big = repeat("(a*)?", 129);
    init_fails("job", MATCH_REGEX, big, "too many optional parts");
    free(big);
    init_fails("job", MATCH_REGEX, "a{0,200}b{0,57}", "too many optional parts");
    /* Parts that match "" count once copied: 258 empty groups here. */
    init_fails("job", MATCH_REGEX, "((){86}){3}", "too many optional parts");
    init_fails("job", MATCH_REGEX, "(a?b?){86}", "too many optional parts");
    init_fails("job", MATCH_REGEX, "(x^){257}", "too many optional parts");

    /* Their harmless neighbours are fine. */
    big = repeat("a?", 256);
    assert_true(regex_matches(big, "aaa"));
    free(big);
    assert_true(regex_matches("a{0,200}b{0,56}", "aab"));
    assert_true(regex_matches("(a?b?){85}", "abba"));
    assert_true(regex_matches("(a+)+b", "aab"));
    assert_true(regex_matches("(ab*)*", "abbab"));
    assert_true(regex_matches("(a*b)+", "bab"));
    assert_true(regex_matches("(a*)?", ""));
    assert_true(regex_matches("(a?){3}", "aa"));
    assert_true(regex_matches("x(a|b?)", "x"));
    assert_true(regex_matches(".*?-prod", "api-prod"));
    assert_true(regex_matches("a??b", "b"));
    /* RE2 reads "a+?" as a lazy "a+", glibc as "(a+)?": they differ on "". */
    init_fails("job", MATCH_REGEX, "a+?", "stacked");
    init_fails("job", MATCH_REGEX, "a{2,3}?", "stacked");
    big = repeat("a*?", 129);
    init_fails("job", MATCH_REGEX, big, "too many optional parts");
    free(big);
    assert_true(regex_matches("([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z]{2,6}",
                              "api-1.eu.example.com"));

    /* The same characters where they are ordinary are fine. */
    assert_true(regex_matches("[)]|x", ")"));
    assert_true(regex_matches("[)]|x", "x"));
    assert_false(regex_matches("[)]|x", "y)"));
    assert_true(regex_matches("a\\)", "a)"));
    assert_true(regex_matches("[]a)]+", "]a)"));
    assert_true(regex_matches("[^]a)]", "b"));
    assert_true(regex_matches("[[:digit:])]+", "1)2"));
    assert_true(regex_matches("[\\]x", "\\x"));
    big = repeat("a", 1000);
    assert_true(regex_matches("a{1000}", big));
    assert_false(regex_matches("a{999}", big));
    free(big);
    big = repeat("a", 100);
    assert_true(regex_matches("(a{10}){10}", big));
    free(big);
    big = repeat("(", 32);
    {
        char *close = repeat(")", 32);
        char *re = malloc(strlen(big) + strlen(close) + 2);
        assert_non_null(re);
        memcpy(re, big, 32);
        re[32] = 'x';
        memcpy(re + 33, close, 33);
        assert_true(regex_matches(re, "x"));
        free(re);
        free(close);
    }
    free(big);
}

/* ---- values ------------------------------------------------------------------- */

static void test_value_max(void **state)
{
    char *value = repeat("v", MATCHER_VALUE_MAX);
    char *longer = repeat("v", MATCHER_VALUE_MAX + 1);
    char *text = malloc(MATCHER_VALUE_MAX + 16);
    struct matcher m;

    assert_non_null(text);
    init_ok(&m, "job", MATCH_EQUAL, value);
    assert_int_equal(strlen(m.value), MATCHER_VALUE_MAX);
    matcher_release(&m);
    init_ok(&m, "job", MATCH_REGEX, value);
    matcher_release(&m);
    init_fails("job", MATCH_EQUAL, longer, "longer than 1024 bytes");
    init_fails("job", MATCH_REGEX, longer, "longer than 1024 bytes");

    snprintf(text, MATCHER_VALUE_MAX + 16, "job=\"%s\"", value);
    parse_ok(text, &m);
    matcher_release(&m);
    snprintf(text, MATCHER_VALUE_MAX + 16, "job=%s", value);
    parse_ok(text, &m);
    matcher_release(&m);
    snprintf(text, MATCHER_VALUE_MAX + 16, "job=\"%s\"", longer);
    parse_fails(text, "value at position 5 is longer than 1024 bytes");
    snprintf(text, MATCHER_VALUE_MAX + 16, "job=%s", longer);
    parse_fails(text, "value at position 5 is longer than 1024 bytes");
    /* The cap is on the value, after unescaping. */
    free(value);
    value = repeat("\\\\", MATCHER_VALUE_MAX);
    free(text);
    text = malloc(2 * MATCHER_VALUE_MAX + 16);
    assert_non_null(text);
    snprintf(text, 2 * MATCHER_VALUE_MAX + 16, "job=\"%s\"", value);
    parse_ok(text, &m);
    assert_int_equal(strlen(m.value), MATCHER_VALUE_MAX);
    matcher_release(&m);

    free(value);
    free(longer);
    free(text);
}

static void test_value_utf8(void **state)
{
    struct matcher m;
    const struct alert_label one[] = {{"city", "Zürich"}};

    parse_ok("city=\"Zürich\"", &m);
    assert_true(matcher_matches(&m, one, 1));
    matcher_release(&m);
    assert_true(text_matches("city=~\"Z.+ich\"", one, 1));
    init_fails("city", MATCH_EQUAL, "Z\xfcrich", "not valid UTF-8");
    parse_fails("city=\"Z\xfcrich\"", "not valid UTF-8");
    parse_fails("city=Z\xc3", "not valid UTF-8");
}

/* ---- parsing one matcher ------------------------------------------------------ */

static void test_parse_forms(void **state)
{
    static const struct {
        const char *text;
        const char *name;
        enum matcher_op op;
        const char *value;
    } cases[] = {
        {"job=\"api\"", "job", MATCH_EQUAL, "api"},
        {"job=api", "job", MATCH_EQUAL, "api"},
        {"  job  !=  \"api\"  ", "job", MATCH_NOT_EQUAL, "api"},
        {"\tjob\n=~\r\"a.*\" ", "job", MATCH_REGEX, "a.*"},
        {"job!~\"x|y\"", "job", MATCH_NOT_REGEX, "x|y"},
        {"job!~x|y", "job", MATCH_NOT_REGEX, "x|y"},
        {"job=\"\"", "job", MATCH_EQUAL, ""},
        {"job=", "job", MATCH_EQUAL, ""},
        {"job!=", "job", MATCH_NOT_EQUAL, ""},
        {"_x9=1", "_x9", MATCH_EQUAL, "1"},
        {"__name__=\"up\"", "__name__", MATCH_EQUAL, "up"},
        {"a=\"x, y}\"", "a", MATCH_EQUAL, "x, y}"},
        {"a=b=c", "a", MATCH_EQUAL, "b=c"},
        {"a=!b", "a", MATCH_EQUAL, "!b"},
        {"a={b", "a", MATCH_EQUAL, "{b"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct matcher m;
        parse_ok(cases[i].text, &m);
        assert_matcher(&m, cases[i].name, cases[i].op, cases[i].value);
        matcher_release(&m);
    }
}

static void test_parse_escapes(void **state)
{
    struct matcher m;

    parse_ok("msg=\"say \\\"hi\\\"\"", &m);
    assert_string_equal(m.value, "say \"hi\"");
    matcher_release(&m);
    parse_ok("path=\"C:\\\\temp\"", &m);
    assert_string_equal(m.value, "C:\\temp");
    matcher_release(&m);
    parse_ok("lines=\"a\\nb\"", &m);
    assert_string_equal(m.value, "a\nb");
    matcher_release(&m);
    parse_ok("end=\"\\\\\"", &m);
    assert_string_equal(m.value, "\\");
    matcher_release(&m);
    /* Any other backslash stays, so regex escapes read as written. */
    parse_ok("job=~\"api\\.prod\"", &m);
    assert_string_equal(m.value, "api\\.prod");
    assert_true(matcher_matches(&m, (const struct alert_label[]){{"job", "api.prod"}}, 1));
    assert_false(matcher_matches(&m, (const struct alert_label[]){{"job", "apixprod"}}, 1));
    matcher_release(&m);
    parse_ok("t=\"a\\tb\"", &m);
    assert_string_equal(m.value, "a\\tb");
    matcher_release(&m);
    /* Unquoted values are taken literally. */
    parse_ok("job=~api\\.prod", &m);
    assert_string_equal(m.value, "api\\.prod");
    matcher_release(&m);
    /* A raw newline inside quotes is kept. */
    parse_ok("lines=\"a\nb\"", &m);
    assert_string_equal(m.value, "a\nb");
    matcher_release(&m);
}

static void test_parse_errors(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        /* bad names */
        {"1job=\"x\"", "invalid label name at position 1: \"1job=\"x\"\""},
        {"  -job=x", "invalid label name at position 3"},
        {"job-name=\"x\"", "after label \"job\" at position 4: \"-name=\"x\"\""},
        {"jöb=\"x\"", "after label \"j\" at position 2"},
        {"{job=\"x\"}", "invalid label name at position 1"},
        /* empty name */
        {"=\"x\"", "empty label name at position 1"},
        {"  !=x", "empty label name at position 3"},
        {"", "expected a label name at position 1"},
        {"   ", "expected a label name at position 4"},
        /* missing or unknown operator */
        {"job", "missing operator after label \"job\" at position 4"},
        {"job  ", "missing operator after label \"job\" at position 6"},
        {"job \"x\"", "expected an operator (=, !=, =~ or !~) after label \"job\" at position 5"},
        {"job~\"x\"", "at position 4: \"~\"x\"\""},
        {"job!\"x\"", "after label \"job\" at position 4"},
        {"job==\"x\"", "unknown operator at position 4: \"==\"x\"\""},
        {"job=~~x", "unknown operator at position 4"},
        {"job!=~x", "unknown operator at position 4"},
        /* quoting */
        {"job=\"api", "unterminated quoted value starting at position 5"},
        {"job=\"api\\\"", "unterminated quoted value starting at position 5"},
        {"job=\"api\\", "unterminated quoted value starting at position 5"},
        {"job=a\"b\"", "quote inside an unquoted value at position 6"},
        /* trailing garbage */
        {"job=\"api\" x", "unexpected text after the matcher at position 11: \"x\""},
        {"job=\"api\"x", "unexpected text after the matcher at position 10"},
        {"job=api x", "unexpected text after the matcher at position 9"},
        {"job=api,env=prod", "unexpected text after the matcher at position 8"},
        {"job=api}", "unexpected text after the matcher at position 8"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_fails(cases[i].text, cases[i].want);
    {
        struct ob_error err = {0};
        struct matcher m;
        check_refused(matcher_parse(NULL, &m, &err), &err, "NULL", "no matcher");
        assert_true(is_zero(&m, sizeof(m)));
    }
    /* err may be NULL. */
    {
        struct matcher m;
        assert_int_equal(matcher_parse("1x=y", &m, NULL), OB_EINVAL);
        assert_int_equal(matcher_parse("x=~\"(\"", &m, NULL), OB_EINVAL);
        assert_true(is_zero(&m, sizeof(m)));
    }
}

static void test_parse_name_max(void **state)
{
    char *name = repeat("n", ALERT_LABEL_NAME_MAX);
    char *longer = repeat("n", ALERT_LABEL_NAME_MAX + 1);
    char text[ALERT_LABEL_NAME_MAX + 16];
    struct matcher m;

    snprintf(text, sizeof(text), "%s=x", name);
    parse_ok(text, &m);
    assert_string_equal(m.name, name);
    matcher_release(&m);
    snprintf(text, sizeof(text), "%s=x", longer);
    parse_fails(text, "label name at position 1 is longer than 128 bytes");
    init_ok(&m, name, MATCH_EQUAL, "x");
    matcher_release(&m);
    init_fails(longer, MATCH_EQUAL, "x", "longer than 128 bytes");
    free(name);
    free(longer);
}

/* Echoed input is cut to 64 bytes without splitting a UTF-8 character. */
static void test_error_echo_truncated(void **state)
{
    char *tail = repeat("\xc3\xa9", 100); /* é */
    char text[256];
    char want[128];
    struct ob_error err = {0};
    struct matcher m;

    snprintf(text, sizeof(text), "-%s", tail);
    check_refused(matcher_parse(text, &m, &err), &err, "long", NULL);
    /* '-' and 31 é (63 bytes): a 32nd would end at byte 65. */
    snprintf(want, sizeof(want), "position 1: \"-%.62s\"...", tail);
    if (strstr(err.msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    assert_true(strlen(err.msg) < 160);
    free(tail);
}

/* ---- sets ----------------------------------------------------------------------- */

static void test_set_parse_forms(void **state)
{
    static const char *const two[] = {
        "{a=\"b\", c=~\"d\"}", "a=\"b\",c=~\"d\"",         "  {  a = \"b\" ,\n\tc =~ \"d\"  }  ",
        "{a=\"b\",c=~\"d\",}", "{ a=\"b\" , c=~\"d\" , }", "{a=b,c=~d}",
        "a=b, c=~d",           "  a = b ,c =~ d  ",
    };
    struct matcher_set set;

    for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++) {
        set_parse_ok(two[i], &set);
        assert_int_equal(set.count, 2);
        assert_matcher(&set.items[0], "a", MATCH_EQUAL, "b");
        assert_matcher(&set.items[1], "c", MATCH_REGEX, "d");
        matcher_set_release(&set);
        assert_null(set.items);
        assert_int_equal(set.count, 0);
    }

    static const char *const none[] = {"{}", "{ }", "  {\n}  "};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        set_parse_ok(none[i], &set);
        assert_int_equal(set.count, 0);
        assert_true(matcher_set_matches(&set, labels, LABEL_COUNT));
        matcher_set_release(&set);
    }

    set_parse_ok("{a=\"x, y}\", b!~\"x{1,2}\", c!=\"\"}", &set);
    assert_int_equal(set.count, 3);
    assert_matcher(&set.items[0], "a", MATCH_EQUAL, "x, y}");
    assert_matcher(&set.items[1], "b", MATCH_NOT_REGEX, "x{1,2}");
    assert_matcher(&set.items[2], "c", MATCH_NOT_EQUAL, "");
    matcher_set_release(&set);

    /* Empty unquoted values end at ',' and '}'. */
    set_parse_ok("{a=,b!=}", &set);
    assert_int_equal(set.count, 2);
    assert_matcher(&set.items[0], "a", MATCH_EQUAL, "");
    assert_matcher(&set.items[1], "b", MATCH_NOT_EQUAL, "");
    matcher_set_release(&set);

    set_parse_ok("job=api", &set);
    assert_int_equal(set.count, 1);
    assert_matcher(&set.items[0], "job", MATCH_EQUAL, "api");
    matcher_set_release(&set);

    /* The same name twice is allowed (a range, say). */
    set_parse_ok("{job=~\"api.*\", job!=\"api-3\"}", &set);
    assert_int_equal(set.count, 2);
    assert_true(matcher_set_matches(&set, labels, LABEL_COUNT));
    matcher_set_release(&set);
}

static void test_set_parse_errors(void **state)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"", "empty matcher list (write {} for no matchers)"},
        {"  \n ", "empty matcher list"},
        {"{", "expected a label name at position 2"},
        {"{a=\"b\"", "missing '}' at position 7"},
        {"{a=\"b\",", "expected a label name at position 8"},
        {"{a=\"b\"}x", "unexpected text after '}' at position 8: \"x\""},
        {"{a=\"b\"} }", "unexpected text after '}' at position 9"},
        {"{}{}", "unexpected text after '}' at position 3"},
        {"{a=\"b\"}}", "unexpected text after '}' at position 8"},
        {"a=\"b\",", "expected a label name at position 7"},
        {"a=\"b\", ", "expected a label name at position 8"},
        {"a=\"b\"}", "expected ',' at position 6: \"}\""},
        {"{,}", "invalid label name at position 2"},
        {",a=b", "invalid label name at position 1"},
        {"{a=\"b\",,c=\"d\"}", "invalid label name at position 8"},
        {"{a=\"b\" c=\"d\"}", "expected ',' or '}' at position 8: \"c=\"d\"}\""},
        {"a=\"b\" c=\"d\"", "expected ',' at position 7"},
        {"{a=\"b\", 9c=\"d\"}", "invalid label name at position 9"},
        {"{a=\"b\", =\"d\"}", "empty label name at position 9"},
        {"{a=\"b\", c}", "expected an operator (=, !=, =~ or !~) after label \"c\" at position 10"},
        {"{a=\"b\", c=\"d}", "unterminated quoted value starting at position 11"},
        {"{a=\"b\", c=~\"(\"}", "invalid regular expression for label \"c\" at position 12"},
        {"{a=b\"c\"}", "quote inside an unquoted value at position 5"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        set_parse_fails(cases[i].text, cases[i].want);
    {
        struct ob_error err = {0};
        struct matcher_set set;
        check_refused(matcher_set_parse(NULL, &set, &err), &err, "NULL", NULL);
        assert_null(set.items);
        assert_int_equal(matcher_set_parse("{a=b,,}", &set, NULL), OB_EINVAL);
        assert_null(set.items);
    }
}

static char *set_text(size_t n, bool braces)
{
    size_t cap = n * 16 + 8;
    char *text = malloc(cap);
    size_t len = 0;

    assert_non_null(text);
    if (braces)
        text[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%sl%zu=~\"v%zu\"", i ? ", " : "", i, i);
    if (braces)
        text[len++] = '}';
    text[len] = '\0';
    return text;
}

static void test_set_too_many(void **state)
{
    struct matcher_set set;
    char *text;

    for (int braces = 0; braces <= 1; braces++) {
        text = set_text(MATCHER_MAX_PER_SET, braces);
        set_parse_ok(text, &set);
        assert_int_equal(set.count, MATCHER_MAX_PER_SET);
        assert_matcher(&set.items[63], "l63", MATCH_REGEX, "v63");
        matcher_set_release(&set);
        free(text);

        text = set_text(MATCHER_MAX_PER_SET + 1, braces);
        set_parse_fails(text, "too many matchers at position");
        set_parse_fails(text, "(at most 64)");
        free(text);
    }
}

static void test_set_add(void **state)
{
    struct matcher_set set = {0};
    struct ob_error err = {0};
    struct matcher m;

    for (int i = 0; i < MATCHER_MAX_PER_SET; i++) {
        init_ok(&m, "job", MATCH_REGEX, "a.*");
        assert_int_equal(matcher_set_add(&set, &m, &err), 0);
        /* moved: m is left zeroed */
        assert_true(is_zero(&m, sizeof(m)));
    }
    assert_int_equal(set.count, MATCHER_MAX_PER_SET);
    /* One too many: refused, and m is released (zeroed) all the same. */
    init_ok(&m, "job", MATCH_REGEX, "a.*");
    check_refused(matcher_set_add(&set, &m, &err), &err, "add", "too many matchers (at most 64)");
    assert_true(is_zero(&m, sizeof(m)));
    matcher_release(&m); /* harmless */
    assert_int_equal(set.count, MATCHER_MAX_PER_SET);
    matcher_set_release(&set);

    /* A zeroed matcher is refused. */
    memset(&m, 0, sizeof(m));
    check_refused(matcher_set_add(&set, &m, &err), &err, "zeroed", NULL);
    assert_int_equal(set.count, 0);
    init_ok(&m, "job", MATCH_EQUAL, "x");
    check_refused(matcher_set_add(NULL, &m, &err), &err, "NULL set", NULL);
    assert_true(is_zero(&m, sizeof(m)));
    matcher_set_release(&set);
}

static void test_set_matches(void **state)
{
    struct matcher_set set;
    static const struct matcher_set empty = {0};

    set_parse_ok("{job=~\"api-.*\", env=\"prod\", team=\"\"}", &set);
    assert_true(matcher_set_matches(&set, labels, LABEL_COUNT));
    assert_false(matcher_set_matches(&set, labels, 2)); /* env and job not among these */
    assert_false(matcher_set_matches(&set, NULL, 0));
    matcher_set_release(&set);

    set_parse_ok("{job=~\"api-.*\", env=\"staging\"}", &set);
    assert_false(matcher_set_matches(&set, labels, LABEL_COUNT));
    matcher_set_release(&set);

    /* An empty set matches everything, even no labels. */
    assert_true(matcher_set_matches(&empty, labels, LABEL_COUNT));
    assert_true(matcher_set_matches(&empty, NULL, 0));
}

/* ---- formatting ---------------------------------------------------------------- */

static void test_format(void **state)
{
    static const struct {
        const char *name;
        enum matcher_op op;
        const char *value;
        const char *want;
    } cases[] = {
        {"job", MATCH_EQUAL, "api", "job=\"api\""},
        {"job", MATCH_NOT_EQUAL, "", "job!=\"\""},
        {"job", MATCH_REGEX, "api\\.prod|x", "job=~\"api\\\\.prod|x\""},
        {"msg", MATCH_NOT_REGEX, "say \"hi\"", "msg!~\"say \\\"hi\\\"\""},
        {"p", MATCH_EQUAL, "C:\\temp\\", "p=\"C:\\\\temp\\\\\""},
        {"l", MATCH_EQUAL, "a\nb", "l=\"a\\nb\""},
        {"c", MATCH_EQUAL, "Zürich, {x}", "c=\"Zürich, {x}\""},
    };
    char out[FORMAT_CAP];
    struct matcher m;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        init_ok(&m, cases[i].name, cases[i].op, cases[i].value);
        matcher_format(&m, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        matcher_release(&m);
    }

    /* Too small: cut, NUL-terminated, never inside an escape or a character. */
    init_ok(&m, "job", MATCH_EQUAL, "a\"é");
    memset(out, 'X', sizeof(out));
    matcher_format(&m, out, 7); /* job="a fits with its NUL; \" does not */
    assert_string_equal(out, "job=\"a");
    matcher_format(&m, out, 9);
    assert_string_equal(out, "job=\"a\\\"");
    matcher_format(&m, out, 10); /* é needs two bytes */
    assert_string_equal(out, "job=\"a\\\"");
    matcher_format(&m, out, 11);
    assert_string_equal(out, "job=\"a\\\"é");
    matcher_format(&m, out, 12);
    assert_string_equal(out, "job=\"a\\\"é\"");
    matcher_format(&m, out, 2);
    assert_string_equal(out, "");
    out[0] = 'X';
    matcher_format(&m, out, 0);
    assert_int_equal(out[0], 'X');
    matcher_format(&m, NULL, 10);
    matcher_release(&m);

    /* A zeroed or NULL matcher formats as "". */
    memset(&m, 0, sizeof(m));
    matcher_format(&m, out, sizeof(out));
    assert_string_equal(out, "");
    out[0] = 'X';
    matcher_format(NULL, out, sizeof(out));
    assert_string_equal(out, "");
}

static void assert_same(const struct matcher *a, const struct matcher *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->op, b->op);
    assert_string_equal(a->value, b->value);
    assert_int_equal(a->has_re, b->has_re);
}

/* parse(format(m)) equals m, alone and inside a set. */
static void test_format_round_trip(void **state)
{
    static const char *const values[] = {
        "",       "api",  "a b",  "a,b",   "{a}",    "}",          "\"",
        "\\",     "\\\"", "\"\\", "a\nb",  "\\n",    "api\\.prod", "say \"hi\" \\ there",
        "Zürich", "日本", "=~",   " lead", "trail ",
    };
    static const enum matcher_op ops[] = {MATCH_EQUAL, MATCH_NOT_EQUAL, MATCH_REGEX,
                                          MATCH_NOT_REGEX};
    struct {
        enum matcher_op op;
        const char *value;
    } kept[MATCHER_MAX_PER_SET];
    char out[FORMAT_CAP];
    size_t all_cap = MATCHER_MAX_PER_SET * (FORMAT_CAP + 2) + 2;
    char *all = malloc(all_cap);
    struct matcher_set set;
    size_t n = 0, len = 0, tried = 0;

    assert_non_null(all);
    all[len++] = '{';
    for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
        for (size_t o = 0; o < 4; o++) {
            const struct alert_label one[] = {{"label_1", (char *)values[v]}};
            struct ob_error err = {0};
            struct matcher m, back;

            if (matcher_init(&m, "label_1", ops[o], values[v], &err) != 0) {
                /* Only a value that is no regex ("\\", "{a}") may be refused. */
                assert_true(ops[o] == MATCH_REGEX || ops[o] == MATCH_NOT_REGEX);
                assert_non_null(strstr(err.msg, "invalid regular expression"));
                continue;
            }
            tried++;
            matcher_format(&m, out, sizeof(out));
            parse_ok(out, &back);
            assert_same(&m, &back);
            /* Same meaning too. */
            assert_int_equal(matcher_matches(&m, one, 1), matcher_matches(&back, one, 1));
            matcher_release(&back);
            if (n < MATCHER_MAX_PER_SET) {
                len += (size_t)snprintf(all + len, all_cap - len, "%s%s", n > 0 ? ", " : "", out);
                kept[n].op = ops[o];
                kept[n].value = values[v];
                n++;
            }
            matcher_release(&m);
        }
    }
    assert_true(tried > MATCHER_MAX_PER_SET);
    all[len++] = '}';
    all[len] = '\0';
    set_parse_ok(all, &set);
    assert_int_equal(set.count, n);
    for (size_t i = 0; i < n; i++) {
        struct matcher m;
        init_ok(&m, "label_1", kept[i].op, kept[i].value);
        assert_same(&set.items[i], &m);
        matcher_release(&m);
    }
    matcher_set_release(&set);
    free(all);
}

/* ---- matcher_init and release ----------------------------------------------------- */

static void test_init(void **state)
{
    struct matcher m;

    init_ok(&m, "job", MATCH_REGEX, "api|web");
    assert_matcher(&m, "job", MATCH_REGEX, "api|web");
    assert_true(matcher_matches(&m, (const struct alert_label[]){{"job", "web"}}, 1));
    assert_false(matcher_matches(&m, (const struct alert_label[]){{"job", "db"}}, 1));
    matcher_release(&m);
    assert_true(is_zero(&m, sizeof(m)));

    init_ok(&m, "_", MATCH_NOT_EQUAL, "");
    assert_matcher(&m, "_", MATCH_NOT_EQUAL, "");
    matcher_release(&m);

    /* Literal operators compile nothing. */
    init_ok(&m, "job", MATCH_EQUAL, "(");
    assert_false(m.has_re);
    matcher_release(&m);

    init_fails(NULL, MATCH_EQUAL, "x", "empty label name");
    init_fails("", MATCH_EQUAL, "x", "empty label name");
    init_fails("a-b", MATCH_EQUAL, "x", "invalid label name \"a-b\"");
    init_fails("9a", MATCH_EQUAL, "x", "invalid label name \"9a\"");
    init_fails("a b", MATCH_EQUAL, "x", "invalid label name");
    init_fails("job", (enum matcher_op)4, "x", "unknown matcher operator 4");
    init_fails("job", (enum matcher_op) - 1, "x", "unknown matcher operator -1");
    init_fails("job", MATCH_EQUAL, NULL, "no value for label \"job\"");
    init_fails("job", MATCH_REGEX, "(", "invalid regular expression for label \"job\": ");
    {
        struct matcher z;
        assert_int_equal(matcher_init(&z, "job", MATCH_REGEX, "(", NULL), OB_EINVAL);
        assert_true(is_zero(&z, sizeof(z)));
    }
    /* The matcher owns copies. */
    {
        char name[] = "job";
        char value[] = "api";
        init_ok(&m, name, MATCH_EQUAL, value);
        name[0] = 'x';
        value[0] = 'x';
        assert_matcher(&m, "job", MATCH_EQUAL, "api");
        matcher_release(&m);
    }
}

static void test_release_nullish(void **state)
{
    struct matcher m = {0};
    struct matcher_set set = {0};
    struct matcher_set odd = {NULL, 3};

    matcher_release(NULL);
    matcher_release(&m);
    matcher_release(&m);
    matcher_set_release(NULL);
    matcher_set_release(&set);
    matcher_set_release(&odd);
    assert_int_equal(odd.count, 0);

    /* A released matcher, a zeroed one and NULL match nothing. */
    assert_false(matcher_matches(&m, labels, LABEL_COUNT));
    assert_false(matcher_matches(NULL, labels, LABEL_COUNT));
    assert_true(matcher_set_matches(NULL, labels, LABEL_COUNT));
    assert_true(matcher_set_matches(&set, labels, LABEL_COUNT));

    /* Release twice after a real parse. */
    set_parse_ok("{a=~\"b\"}", &set);
    matcher_set_release(&set);
    matcher_set_release(&set);
    parse_ok("a=~b", &m);
    matcher_release(&m);
    matcher_release(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_equal),          cmocka_unit_test(test_op_not_equal),
        cmocka_unit_test(test_op_regex),          cmocka_unit_test(test_op_not_regex),
        cmocka_unit_test(test_op_text),           cmocka_unit_test(test_absent_label),
        cmocka_unit_test(test_label_names_exact), cmocka_unit_test(test_regex_anchored),
        cmocka_unit_test(test_regex_alternation), cmocka_unit_test(test_regex_invalid),
        cmocka_unit_test(test_regex_refused),     cmocka_unit_test(test_value_max),
        cmocka_unit_test(test_value_utf8),        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_escapes),     cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_name_max),    cmocka_unit_test(test_error_echo_truncated),
        cmocka_unit_test(test_set_parse_forms),   cmocka_unit_test(test_set_parse_errors),
        cmocka_unit_test(test_set_too_many),      cmocka_unit_test(test_set_add),
        cmocka_unit_test(test_set_matches),       cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_round_trip), cmocka_unit_test(test_init),
        cmocka_unit_test(test_release_nullish),
    };

    return cmocka_run_group_tests_name("matcher", tests, NULL, NULL);
}
