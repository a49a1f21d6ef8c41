/*
 * fuzz_matcher.c - libFuzzer target for label matchers (src/ingest/matcher.c).
 *
 * The input, as a NUL-terminated string, is
 *   - parsed as a matcher set; on success every matcher is formatted and
 *     reparsed and must come back equal, and must judge a fixed label set as
 *     the original does; the set must match exactly when all its matchers do;
 *   - parsed as one matcher, with the same checks;
 *   - given whole to matcher_init as a value (the operator chosen by the
 *     length), which takes arbitrary bytes to the regex checks and regcomp.
 * Failures must set err with the returned code and a one-line, valid UTF-8
 * message, and leave the output zeroed.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_matcher fuzz/corpus/fuzz_matcher
 */
#include "ingest/matcher.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Any formatted matcher fits: name, operator, quotes, every value byte escaped. */
#define FORMAT_CAP (ALERT_LABEL_NAME_MAX + 2 * MATCHER_VALUE_MAX + 8)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Sorted by name, as doors leave them. */
static const struct alert_label labels[] = {
    {"alertname", "HighLatency"},
    {"city", "Z\xc3\xbcrich"},
    {"empty", ""},
    {"env", "prod"},
    {"job", "api-2"},
    {"msg", "say \"hi\"\\\n"},
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

static void check_error(int rc, const struct ob_error *err)
{
    char copy[OB_ERROR_MSG_MAX];

    CHECK(rc == OB_EINVAL || rc == OB_ENOMEM);
    CHECK(err->code == rc);
    CHECK(err->msg[0] != '\0');
    CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    CHECK(strchr(err->msg, '\n') == NULL);
    memcpy(copy, err->msg, sizeof(copy));
    ob_utf8_sanitize(copy);
    CHECK(strcmp(copy, err->msg) == 0);
}

/* A parsed matcher is well formed, formats, and reparses to itself. */
static void check_matcher(const struct matcher *m, size_t small_cap)
{
    static char out[FORMAT_CAP];
    static char small[FORMAT_CAP];
    struct ob_error err;
    struct matcher back;
    size_t len;
    int rc;

    CHECK(m->name != NULL && m->value != NULL);
    CHECK(m->name[0] != '\0' && strlen(m->name) <= ALERT_LABEL_NAME_MAX);
    CHECK(strlen(m->value) <= MATCHER_VALUE_MAX);
    CHECK(m->has_re == (m->op == MATCH_REGEX || m->op == MATCH_NOT_REGEX));

    matcher_format(m, out, sizeof(out));
    len = strlen(out);
    CHECK(len > 0 && len + 1 < sizeof(out) && out[len - 1] == '"');

    /* A smaller buffer gets a NUL-terminated prefix. */
    if (small_cap > sizeof(small))
        small_cap = sizeof(small);
    memset(small, 'X', sizeof(small));
    matcher_format(m, small, small_cap);
    if (small_cap > 0) {
        size_t slen = strlen(small);
        CHECK(slen < small_cap);
        CHECK(memcmp(small, out, slen) == 0);
    }

    ob_error_clear(&err);
    rc = matcher_parse(out, &back, &err);
    CHECK(rc == 0);
    CHECK(strcmp(back.name, m->name) == 0);
    CHECK(back.op == m->op);
    CHECK(strcmp(back.value, m->value) == 0);
    CHECK(back.has_re == m->has_re);
    for (size_t n = 0; n <= LABEL_COUNT; n++)
        CHECK(matcher_matches(&back, labels, n) == matcher_matches(m, labels, n));
    matcher_release(&back);
    CHECK(is_zero(&back, sizeof(back)));
}

static void fuzz_set(const char *text, size_t small_cap)
{
    struct matcher_set set;
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = matcher_set_parse(text, &set, &err);
    if (rc != 0) {
        check_error(rc, &err);
        CHECK(set.items == NULL && set.count == 0);
        return;
    }
    CHECK(set.count <= MATCHER_MAX_PER_SET);
    CHECK(set.count == 0 || set.items != NULL);
    for (size_t n = 0; n <= LABEL_COUNT; n++) {
        bool all = true;
        for (size_t i = 0; i < set.count; i++)
            all = all && matcher_matches(&set.items[i], labels, n);
        CHECK(matcher_set_matches(&set, labels, n) == all);
    }
    for (size_t i = 0; i < set.count; i++)
        check_matcher(&set.items[i], small_cap);
    matcher_set_release(&set);
    CHECK(set.items == NULL && set.count == 0);
}

static void fuzz_one(const char *text, size_t small_cap)
{
    struct matcher m;
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = matcher_parse(text, &m, &err);
    if (rc != 0) {
        check_error(rc, &err);
        CHECK(is_zero(&m, sizeof(m)));
        return;
    }
    check_matcher(&m, small_cap);
    matcher_release(&m);
}

static void fuzz_init(const char *value, enum matcher_op op, size_t small_cap)
{
    struct matcher m;
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = matcher_init(&m, "job", op, value, &err);
    if (rc != 0) {
        check_error(rc, &err);
        CHECK(is_zero(&m, sizeof(m)));
        return;
    }
    CHECK(strcmp(m.value, value) == 0);
    check_matcher(&m, small_cap);
    matcher_release(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    size_t small_cap = size > 0 ? data[0] : 0;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_set(text, small_cap);
    fuzz_one(text, small_cap);
    fuzz_init(text, (enum matcher_op)(size % 4), small_cap);
    free(text);
    return 0;
}
