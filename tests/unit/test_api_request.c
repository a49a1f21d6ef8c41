/*
 * test_api_request.c - strict JSON request parsing: content type, empty and
 * malformed bodies (with line/column), object root, duplicate keys, nesting
 * cap, unknown keys, typed members, and the POST /api/v1/tokens body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "api/api.h"
#include "http/http.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_CT "application/json"

/* ---- helpers ------------------------------------------------------------------ */

/* Is s valid UTF-8 (so that it can go into a JSON error body)? */
static int utf8_valid(const char *s)
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
            return 0;
        }
        p++;
        for (size_t i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

static json_t *parse_ok(const char *content_type, const char *body)
{
    struct ob_error err = {0};
    json_t *root = (json_t *)1;
    int rc = api_parse_json_object(content_type, body, strlen(body), &root, &err);

    if (rc != 0)
        fail_msg("unexpected failure %d for %s: %s", rc, body, err.msg);
    assert_non_null(root);
    assert_true(json_is_object(root));
    return root;
}

/* Expect failure code with exactly message want (NULL: any non-empty message). */
static void parse_fails(const char *content_type, const char *body, size_t len, int code,
                        const char *want)
{
    struct ob_error err = {0};
    json_t *root = (json_t *)1;

    assert_int_equal(api_parse_json_object(content_type, body, len, &root, &err), code);
    assert_null(root);
    assert_int_equal(err.code, code);
    assert_true(err.msg[0] != '\0');
    assert_true(utf8_valid(err.msg));
    if (want != NULL)
        assert_string_equal(err.msg, want);
}

static void parse_fails_s(const char *content_type, const char *body, int code, const char *want)
{
    parse_fails(content_type, body, strlen(body), code, want);
}

/* {"a": [[[...]]]} with `containers` containers in all; innermost is empty. */
static char *nested_arrays(int containers)
{
    char *s = malloc((size_t)containers * 2 + 16);
    size_t o = 0;

    assert_non_null(s);
    o += (size_t)sprintf(s, "{\"a\":");
    for (int i = 1; i < containers; i++)
        s[o++] = '[';
    for (int i = 1; i < containers; i++)
        s[o++] = ']';
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* {"a":{"a":{...{}}}} with `containers` objects. */
static char *nested_objects(int containers)
{
    char *s = malloc((size_t)containers * 6 + 16);
    size_t o = 0;

    assert_non_null(s);
    for (int i = 1; i < containers; i++)
        o += (size_t)sprintf(s + o, "{\"a\":");
    o += (size_t)sprintf(s + o, "{}");
    for (int i = 1; i < containers; i++)
        s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* ---- content type ------------------------------------------------------------- */

static void test_content_type_accepted(void **state)
{
    static const char *const good[] = {
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
        "application/json; charset=UTF-8",
        "application/json; charset=\"utf-8\"",
        "APPLICATION/JSON",
        "Application/Json; Charset=UTF-8",
        "application/json ",
        "application/json;",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *root = parse_ok(good[i], "{\"k\":1}");
        assert_int_equal(json_integer_value(json_object_get(root, "k")), 1);
        json_decref(root);
    }
}

static void test_content_type_refused(void **state)
{
    parse_fails_s("text/plain", "{}", OB_EUNSUPPORTED,
                  "Content-Type must be application/json, not text/plain");
    parse_fails_s(NULL, "{}", OB_EUNSUPPORTED, "Content-Type must be application/json, not (none)");
    parse_fails_s("application/jsonx", "{}", OB_EUNSUPPORTED,
                  "Content-Type must be application/json, not application/jsonx");
    parse_fails_s("", "{}", OB_EUNSUPPORTED, "Content-Type must be application/json, not ");
    parse_fails_s("application/json; charset=iso-8859-1", "{}", OB_EUNSUPPORTED, NULL);
    parse_fails_s("application/json; charset=utf-8; x=y", "{}", OB_EUNSUPPORTED, NULL);
    parse_fails_s("application/x-www-form-urlencoded", "{}", OB_EUNSUPPORTED, NULL);
    parse_fails_s("application/js", "{}", OB_EUNSUPPORTED, NULL);
    parse_fails_s("text/json", "{}", OB_EUNSUPPORTED, NULL);
    parse_fails_s(" application/json", "{}", OB_EUNSUPPORTED, NULL);
    /* The content type is checked before the body. */
    parse_fails_s("text/plain", "", OB_EUNSUPPORTED, NULL);
}

/* A Content-Type header is client input: whatever bytes it holds, the error
 * message must stay valid UTF-8, or the JSON error body cannot carry it. */
static void test_content_type_bytes_in_message(void **state)
{
    parse_fails_s("text/plain; charset=\xff\xfe", "{}", OB_EUNSUPPORTED, NULL);
}

/* ---- body --------------------------------------------------------------------- */

static void test_empty_body(void **state)
{
    parse_fails(JSON_CT, "", 0, OB_EINVAL, "request body is empty; a JSON object is expected");
    /* len wins over the text: a body of length 0 is empty whatever the pointer holds. */
    parse_fails(JSON_CT, "{}", 0, OB_EINVAL, "request body is empty; a JSON object is expected");
    parse_fails_s(JSON_CT, "   ", OB_EINVAL,
                  "malformed JSON at line 1 column 3: '[' or '{' expected near end of file");
}

static void test_malformed_with_position(void **state)
{
    parse_fails_s(JSON_CT, "{\"a\": }", OB_EINVAL,
                  "malformed JSON at line 1 column 7: unexpected token near '}'");
    parse_fails_s(JSON_CT, "{\n  \"name\": \"x\",\n  \"scope\": read\n}", OB_EINVAL,
                  "malformed JSON at line 3 column 15: invalid token near 'read'");
    parse_fails_s(JSON_CT, "{", OB_EINVAL,
                  "malformed JSON at line 1 column 1: string or '}' expected near end of file");
    parse_fails_s(JSON_CT, "{\"a\":1} x", OB_EINVAL,
                  "malformed JSON at line 1 column 9: end of file expected near 'x'");
    parse_fails_s(JSON_CT, "{\"a\":99999999999999999999}", OB_EINVAL,
                  "malformed JSON at line 1 column 25: too big integer near "
                  "'99999999999999999999'");
    /* Invalid UTF-8 in the body is a parse error, not a crash or a bad message. */
    parse_fails_s(JSON_CT, "{\"name\":\"\xff\"}", OB_EINVAL, NULL);
    parse_fails_s(JSON_CT, "{\"a\": tru\xff}", OB_EINVAL, NULL);
}

/* The body need not be NUL-terminated: only len bytes are read. */
static void test_body_length_respected(void **state)
{
    struct ob_error err = {0};
    json_t *root = NULL;
    const char text[] = "{\"k\":\"v\"}GARBAGE";

    assert_int_equal(api_parse_json_object(JSON_CT, text, 9, &root, &err), 0);
    assert_string_equal(json_string_value(json_object_get(root, "k")), "v");
    json_decref(root);
}

static void test_root_must_be_object(void **state)
{
    parse_fails_s(JSON_CT, "[1,2]", OB_EINVAL, "request body must be a JSON object");
    parse_fails_s(JSON_CT, "[]", OB_EINVAL, "request body must be a JSON object");
    parse_fails_s(JSON_CT, "1", OB_EINVAL,
                  "malformed JSON at line 1 column 1: '[' or '{' expected near '1'");
    parse_fails_s(JSON_CT, "\"x\"", OB_EINVAL, NULL);
    parse_fails_s(JSON_CT, "null", OB_EINVAL, NULL);
}

static void test_duplicate_keys(void **state)
{
    parse_fails_s(JSON_CT, "{\"a\":1,\"a\":2}", OB_EINVAL,
                  "malformed JSON at line 1 column 10: duplicate object key near '\"a\"'");
    /* Nested objects too. */
    parse_fails_s(JSON_CT, "{\"o\":{\"x\":1,\"x\":1}}", OB_EINVAL, NULL);
}

static void test_nesting(void **state)
{
    char *s;
    json_t *root;

    s = nested_arrays(API_JSON_MAX_DEPTH);
    root = parse_ok(JSON_CT, s);
    json_decref(root);
    free(s);

    s = nested_objects(API_JSON_MAX_DEPTH);
    root = parse_ok(JSON_CT, s);
    json_decref(root);
    free(s);

    s = nested_arrays(API_JSON_MAX_DEPTH + 1);
    parse_fails_s(JSON_CT, s, OB_EINVAL, "JSON nested deeper than 32 levels");
    free(s);

    s = nested_objects(API_JSON_MAX_DEPTH + 1);
    parse_fails_s(JSON_CT, s, OB_EINVAL, "JSON nested deeper than 32 levels");
    free(s);

    /* Far deeper: refused without exhausting the stack. */
    s = nested_arrays(100000);
    parse_fails_s(JSON_CT, s, OB_EINVAL, NULL);
    free(s);

    /* Wide is fine. */
    {
        char wide[8192];
        size_t o = 0;
        o += (size_t)snprintf(wide + o, sizeof(wide) - o, "{");
        for (int i = 0; i < 500; i++)
            o += (size_t)snprintf(wide + o, sizeof(wide) - o, "%s\"k%d\":[]", i ? "," : "", i);
        snprintf(wide + o, sizeof(wide) - o, "}");
        root = parse_ok(JSON_CT, wide);
        assert_int_equal(json_object_size(root), 500);
        json_decref(root);
    }
}

static void test_nul_in_string(void **state)
{
    struct ob_error err = {0};
    const char *out = "untouched";
    json_t *obj;

    /* The parser itself refuses \u0000 ... */
    parse_fails_s(JSON_CT, "{\"name\":\"a\\u0000b\"}", OB_EINVAL, NULL);

    /* ... and api_json_string refuses a string that holds one anyway. */
    obj = json_object();
    assert_int_equal(json_object_set_new(obj, "name", json_stringn("a\0b", 3)), 0);
    assert_int_equal(api_json_string(obj, "name", true, 64, &out, &err), OB_EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, "field 'name' contains a NUL character");
    json_decref(obj);
}

/* ---- members ------------------------------------------------------------------ */

static void test_only_keys(void **state)
{
    static const char *const allowed[] = {"a", "b", NULL};
    static const char *const none[] = {NULL};
    struct ob_error err = {0};
    json_t *root;

    root = parse_ok(JSON_CT, "{\"a\":1,\"b\":2}");
    assert_int_equal(api_json_only_keys(root, allowed, &err), 0);
    json_decref(root);

    root = parse_ok(JSON_CT, "{}");
    assert_int_equal(api_json_only_keys(root, allowed, &err), 0);
    assert_int_equal(api_json_only_keys(root, none, &err), 0);
    json_decref(root);

    root = parse_ok(JSON_CT, "{\"a\":1,\"c\":2}");
    assert_int_equal(api_json_only_keys(root, allowed, &err), OB_EINVAL);
    assert_string_equal(err.msg, "unknown field 'c'");
    json_decref(root);

    /* Keys are compared exactly. */
    root = parse_ok(JSON_CT, "{\"A\":1}");
    assert_int_equal(api_json_only_keys(root, allowed, &err), OB_EINVAL);
    assert_string_equal(err.msg, "unknown field 'A'");
    json_decref(root);

    /* A long unknown key is cut to 64 bytes in the message. */
    {
        char body[256], want[128];
        memset(want, 0, sizeof(want));
        snprintf(body, sizeof(body), "{\"%0100d\":1}", 0);
        root = parse_ok(JSON_CT, body);
        assert_int_equal(api_json_only_keys(root, allowed, &err), OB_EINVAL);
        snprintf(want, sizeof(want), "unknown field '%064d'", 0);
        assert_string_equal(err.msg, want);
        json_decref(root);
    }
}

/* Cutting a long key must not split a UTF-8 character: the message goes into
 * a JSON error body, which must be valid UTF-8. */
static void test_only_keys_message_utf8(void **state)
{
    static const char *const allowed[] = {"a", NULL};
    struct ob_error err = {0};
    char body[256];
    json_t *root;

    /* 63 ASCII bytes, then "é" (2 bytes) straddling the 64-byte cut. */
    snprintf(body, sizeof(body), "{\"%063d\xc3\xa9\":1}", 0);
    root = parse_ok(JSON_CT, body);
    assert_int_equal(api_json_only_keys(root, allowed, &err), OB_EINVAL);
    json_decref(root);
    if (!utf8_valid(err.msg))
        fail_msg("error message is not valid UTF-8 (a character was cut in half)");
}

static void test_json_string(void **state)
{
    struct ob_error err = {0};
    const char *out = "untouched";
    json_t *root = parse_ok(JSON_CT, "{\"s\":\"abc\",\"n\":5,\"z\":null,\"e\":\"\"}");

    assert_int_equal(api_json_string(root, "s", true, 3, &out, &err), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(api_json_string(root, "s", true, 2, &out, &err), OB_EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, "field 's' is longer than 2 bytes");
    assert_int_equal(api_json_string(root, "e", true, 3, &out, &err), 0);
    assert_string_equal(out, "");

    out = "untouched";
    assert_int_equal(api_json_string(root, "missing", false, 3, &out, &err), 0);
    assert_null(out);
    assert_int_equal(api_json_string(root, "z", false, 3, &out, &err), 0);
    assert_null(out);
    assert_int_equal(api_json_string(root, "missing", true, 3, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'missing' is required");
    assert_int_equal(api_json_string(root, "z", true, 3, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'z' is required");
    assert_int_equal(api_json_string(root, "n", true, 3, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'n' must be a string");
    json_decref(root);
}

static void test_json_int(void **state)
{
    struct ob_error err = {0};
    int64_t out = 42;
    json_t *root = parse_ok(JSON_CT, "{\"lo\":60,\"hi\":100,\"under\":59,\"over\":101,"
                                     "\"f\":60.0,\"s\":\"60\",\"b\":true,\"z\":null,"
                                     "\"neg\":-9223372036854775808}");

    assert_int_equal(api_json_int(root, "lo", true, 60, 100, &out, &err), 0);
    assert_int_equal(out, 60);
    assert_int_equal(api_json_int(root, "hi", true, 60, 100, &out, &err), 0);
    assert_int_equal(out, 100);

    out = 42;
    assert_int_equal(api_json_int(root, "under", true, 60, 100, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'under' must be between 60 and 100");
    assert_int_equal(out, 42);
    assert_int_equal(api_json_int(root, "over", true, 60, 100, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'over' must be between 60 and 100");
    assert_int_equal(api_json_int(root, "neg", true, 0, INT64_MAX, &out, &err), OB_EINVAL);
    assert_int_equal(api_json_int(root, "neg", true, INT64_MIN, INT64_MAX, &out, &err), 0);
    assert_true(out == INT64_MIN);

    out = 42;
    assert_int_equal(api_json_int(root, "f", true, 0, 100, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'f' must be an integer");
    assert_int_equal(api_json_int(root, "s", true, 0, 100, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 's' must be an integer");
    assert_int_equal(api_json_int(root, "b", true, 0, 100, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'b' must be an integer");
    assert_int_equal(out, 42);

    /* Absent or null and optional: 0, out untouched. */
    assert_int_equal(api_json_int(root, "missing", false, 0, 100, &out, &err), 0);
    assert_int_equal(api_json_int(root, "z", false, 0, 100, &out, &err), 0);
    assert_int_equal(out, 42);
    assert_int_equal(api_json_int(root, "missing", true, 0, 100, &out, &err), OB_EINVAL);
    assert_string_equal(err.msg, "field 'missing' is required");
    json_decref(root);
}

/* ---- POST /api/v1/tokens -------------------------------------------------------- */

static void test_token_create_full(void **state)
{
    struct token_create_input in;
    struct ob_error err = {0};
    const char *body = "{\"name\":\"ci bot@deploy\",\"scope\":\"write\",\"team\":\"platform\","
                       "\"expires_in_seconds\":3600}";

    assert_int_equal(api_parse_token_create(JSON_CT, body, strlen(body), &in, &err), 0);
    assert_non_null(in.root);
    assert_string_equal(in.name, "ci bot@deploy");
    assert_int_equal(in.scope, SCOPE_WRITE);
    assert_string_equal(in.team, "platform");
    assert_int_equal(in.expires_in_s, 3600);
    token_create_input_release(&in);
    assert_null(in.root);
    assert_null(in.name);
    assert_null(in.team);
    assert_int_equal(in.scope, 0);
    assert_int_equal(in.expires_in_s, 0);
}

static void test_token_create_minimal(void **state)
{
    struct token_create_input in;
    struct ob_error err = {0};
    const char *body = "{\"name\":\"a\",\"scope\":\"admin\"}";
    const char *body2 = "{\"name\":\"r\",\"scope\":\"read\",\"team\":null,"
                        "\"expires_in_seconds\":null}";

    assert_int_equal(
        api_parse_token_create(JSON_CT "; charset=utf-8", body, strlen(body), &in, &err), 0);
    assert_string_equal(in.name, "a");
    assert_int_equal(in.scope, SCOPE_ADMIN);
    assert_null(in.team);
    assert_int_equal(in.expires_in_s, 0);
    token_create_input_release(&in);

    assert_int_equal(api_parse_token_create(JSON_CT, body2, strlen(body2), &in, &err), 0);
    assert_int_equal(in.scope, SCOPE_READ);
    assert_null(in.team);
    assert_int_equal(in.expires_in_s, 0);
    token_create_input_release(&in);
}

static void test_token_create_expiry_bounds(void **state)
{
    struct token_create_input in;
    struct ob_error err = {0};
    const char *lo = "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":60}";
    const char *hi = "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":316224000}";

    assert_int_equal(api_parse_token_create(JSON_CT, lo, strlen(lo), &in, &err), 0);
    assert_int_equal(in.expires_in_s, 60);
    token_create_input_release(&in);
    assert_int_equal(api_parse_token_create(JSON_CT, hi, strlen(hi), &in, &err), 0);
    assert_int_equal(in.expires_in_s, 316224000);
    token_create_input_release(&in);
}

/* The body fails with code and exactly want; in is left zeroed. */
static void token_fails(const char *content_type, const char *body, int code, const char *want)
{
    static const struct token_create_input zero;
    struct token_create_input in;
    struct ob_error err = {0};

    memset(&in, 0x5a, sizeof(in));
    assert_int_equal(api_parse_token_create(content_type, body, strlen(body), &in, &err), code);
    assert_int_equal(err.code, code);
    if (want != NULL)
        assert_string_equal(err.msg, want);
    /* Released (LeakSanitizer checks the root was freed) and zeroed. */
    assert_memory_equal(&in, &zero, sizeof(in));
    /* Releasing a zeroed input again is harmless. */
    token_create_input_release(&in);
}

static void test_token_create_errors(void **state)
{
    static const char name_rule[] =
        "field 'name' must be 1 to 64 characters of letters, digits, space and ._:@-";
    char body[512];

    token_fails("text/plain", "{\"name\":\"a\",\"scope\":\"read\"}", OB_EUNSUPPORTED,
                "Content-Type must be application/json, not text/plain");
    token_fails(NULL, "{\"name\":\"a\",\"scope\":\"read\"}", OB_EUNSUPPORTED, NULL);
    token_fails(JSON_CT, "", OB_EINVAL, "request body is empty; a JSON object is expected");
    token_fails(JSON_CT, "[]", OB_EINVAL, "request body must be a JSON object");
    token_fails(JSON_CT, "{\"name\":\"a\",\"name\":\"b\",\"scope\":\"read\"}", OB_EINVAL, NULL);

    token_fails(JSON_CT, "{\"scope\":\"read\"}", OB_EINVAL, "field 'name' is required");
    token_fails(JSON_CT, "{\"name\":null,\"scope\":\"read\"}", OB_EINVAL,
                "field 'name' is required");
    token_fails(JSON_CT, "{\"name\":7,\"scope\":\"read\"}", OB_EINVAL,
                "field 'name' must be a string");
    token_fails(JSON_CT, "{\"name\":\"bad/name\",\"scope\":\"read\"}", OB_EINVAL, name_rule);
    token_fails(JSON_CT, "{\"name\":\"\",\"scope\":\"read\"}", OB_EINVAL, name_rule);
    token_fails(JSON_CT, "{\"name\":\"tab\\there\",\"scope\":\"read\"}", OB_EINVAL, name_rule);
    token_fails(JSON_CT, "{\"name\":\"J\\u00fcrgen\",\"scope\":\"read\"}", OB_EINVAL, name_rule);
    snprintf(body, sizeof(body), "{\"name\":\"%065d\",\"scope\":\"read\"}", 0);
    token_fails(JSON_CT, body, OB_EINVAL, "field 'name' is longer than 64 bytes");

    token_fails(JSON_CT, "{\"name\":\"a\"}", OB_EINVAL, "field 'scope' is required");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"root\"}", OB_EINVAL,
                "field 'scope' must be read, write or admin");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"READ\"}", OB_EINVAL,
                "field 'scope' must be read, write or admin");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"none\"}", OB_EINVAL,
                "field 'scope' must be read, write or admin");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":3}", OB_EINVAL,
                "field 'scope' must be a string");

    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"team\":5}", OB_EINVAL,
                "field 'team' must be a string");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"team\":[\"x\"]}", OB_EINVAL,
                "field 'team' must be a string");
    snprintf(body, sizeof(body), "{\"name\":\"a\",\"scope\":\"read\",\"team\":\"%065d\"}", 0);
    token_fails(JSON_CT, body, OB_EINVAL, "field 'team' is longer than 64 bytes");

    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":59}", OB_EINVAL,
                "field 'expires_in_seconds' must be between 60 and 316224000");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":0}", OB_EINVAL,
                "field 'expires_in_seconds' must be between 60 and 316224000");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":-60}",
                OB_EINVAL, "field 'expires_in_seconds' must be between 60 and 316224000");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":316224001}",
                OB_EINVAL, "field 'expires_in_seconds' must be between 60 and 316224000");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":3600.5}",
                OB_EINVAL, "field 'expires_in_seconds' must be an integer");
    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"expires_in_seconds\":\"3600\"}",
                OB_EINVAL, "field 'expires_in_seconds' must be an integer");

    token_fails(JSON_CT, "{\"name\":\"a\",\"scope\":\"read\",\"admin\":true}", OB_EINVAL,
                "unknown field 'admin'");
    /* Unknown fields are reported before anything else is looked at. */
    token_fails(JSON_CT, "{\"scope\":\"bogus\",\"expires\":1}", OB_EINVAL,
                "unknown field 'expires'");
}

/* A parse error becomes a JSON {"error": ...} body with the right status. */
static void test_error_reaches_client_as_json(void **state)
{
    struct token_create_input in;
    struct ob_error err = {0};
    struct http_response resp = {0};
    json_t *root;
    const char *body = "{\"name\":\"a\",\"scope\":\"root\"}";

    assert_int_equal(api_parse_token_create(JSON_CT, body, strlen(body), &in, &err), OB_EINVAL);
    http_response_from_error(&resp, &err);
    assert_int_equal(resp.status, 400);
    root = json_loads(resp.body, 0, NULL);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "error")),
                        "field 'scope' must be read, write or admin");
    json_decref(root);
    http_response_release(&resp);

    assert_int_equal(api_parse_token_create("text/html", body, strlen(body), &in, &err),
                     OB_EUNSUPPORTED);
    http_response_from_error(&resp, &err);
    assert_int_equal(resp.status, 415);
    http_response_release(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_type_accepted),
        cmocka_unit_test(test_content_type_refused),
        cmocka_unit_test(test_content_type_bytes_in_message),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_malformed_with_position),
        cmocka_unit_test(test_body_length_respected),
        cmocka_unit_test(test_root_must_be_object),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_only_keys),
        cmocka_unit_test(test_only_keys_message_utf8),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_json_int),
        cmocka_unit_test(test_token_create_full),
        cmocka_unit_test(test_token_create_minimal),
        cmocka_unit_test(test_token_create_expiry_bounds),
        cmocka_unit_test(test_token_create_errors),
        cmocka_unit_test(test_error_reaches_client_as_json),
    };

    return cmocka_run_group_tests_name("api_request", tests, NULL, NULL);
}
