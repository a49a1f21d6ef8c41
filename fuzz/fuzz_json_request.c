/*
 * fuzz_json_request.c - libFuzzer target for the JSON request parsing of the
 * HTTP API (src/api/request.c).
 *
 * Every input is parsed as a POST /api/v1/tokens body with Content-Type
 * application/json.  It is also given to api_parse_json_object, with a
 * content type chosen by the first byte (see LLVMFuzzerTestOneInput), and
 * when that succeeds the member readers run over the object.  Invariants the API relies on are
 * checked, so that a wrong answer aborts as loudly as a memory error:
 *   - success fills a valid name and scope, and bounded expiry;
 *   - failure leaves the output zeroed, sets err with the same code and a
 *     one-line message;
 *   - every error message can be sent as a JSON error body.
 *
 * Build: make fuzz; run: build/fuzz/fuzz_json_request fuzz/corpus/fuzz_json_request
 */
#include "api/api.h"
#include "auth/auth.h"
#include "http/http.h"
#include "util/error.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json;charset=\"UTF-8\"",
    "application/json; charset=latin1",
    "text/plain",
    "application/jsonx",
    "",
    NULL,
};
#define CONTENT_TYPE_COUNT (sizeof(content_types) / sizeof(content_types[0]))

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* An error must be set, consistent with rc, and on one line. */
static void check_error(int rc, const struct ob_error *err)
{
    CHECK(rc < 0);
    CHECK(err->code == rc);
    CHECK(err->msg[0] != '\0');
    CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    CHECK(strchr(err->msg, '\n') == NULL);
}

/* The error reaches the client as a JSON body; building it must not crash.
 * (Whether the body is valid JSON for every message is checked by the unit
 * tests; here it would stop the fuzzer at the first odd byte.) */
static void render_error(const struct ob_error *err)
{
    struct http_response resp;

    memset(&resp, 0, sizeof(resp));
    http_response_from_error(&resp, err);
    CHECK(resp.status >= 400 && resp.status < 600);
    CHECK(resp.body != NULL);
    http_response_release(&resp);
}

static void fuzz_token_create(const char *body, size_t len)
{
    static const struct token_create_input zero;
    struct token_create_input in;
    struct ob_error err;
    int rc;

    ob_error_clear(&err);
    rc = api_parse_token_create("application/json", body, len, &in, &err);
    if (rc == 0) {
        CHECK(in.root != NULL && json_is_object(in.root));
        CHECK(in.name != NULL && token_name_is_valid(in.name));
        CHECK(in.scope >= SCOPE_READ && in.scope <= SCOPE_ADMIN);
        CHECK(in.team == NULL || strlen(in.team) <= 64);
        CHECK(in.expires_in_s == 0 ||
              (in.expires_in_s >= 60 && in.expires_in_s <= (int64_t)10 * 366 * 24 * 3600));
        token_create_input_release(&in);
        CHECK(memcmp(&in, &zero, sizeof(in)) == 0);
    } else {
        check_error(rc, &err);
        CHECK(memcmp(&in, &zero, sizeof(in)) == 0);
        render_error(&err);
    }
}

static void fuzz_json_object(const char *content_type, const char *body, size_t len)
{
    static const char *const allowed[] = {"name", "scope", "team", "expires_in_seconds", NULL};
    struct ob_error err;
    json_t *root = NULL;
    const char *s;
    int64_t n;
    int rc;

    ob_error_clear(&err);
    rc = api_parse_json_object(content_type, body, len, &root, &err);
    if (rc != 0) {
        check_error(rc, &err);
        CHECK(root == NULL);
        CHECK(rc == OB_EINVAL || rc == OB_EUNSUPPORTED);
        return;
    }
    CHECK(json_is_object(root));

    ob_error_clear(&err);
    rc = api_json_only_keys(root, allowed, &err);
    if (rc != 0)
        check_error(rc, &err);

    /* Every member, read as a string and as an integer, required and not. */
    {
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value)
        {
            for (int required = 0; required <= 1; required++) {
                ob_error_clear(&err);
                rc = api_json_string(root, key, required, 16, &s, &err);
                if (rc == 0) {
                    CHECK(s == NULL || strlen(s) <= 16);
                    CHECK(s != NULL || json_is_null(value));
                } else {
                    check_error(rc, &err);
                    CHECK(s == NULL);
                }
                ob_error_clear(&err);
                n = INT64_MIN + 1;
                rc = api_json_int(root, key, required, -1000, 1000, &n, &err);
                if (rc == 0)
                    CHECK((n >= -1000 && n <= 1000) || (n == INT64_MIN + 1 && json_is_null(value)));
                else
                    check_error(rc, &err);
            }
        }
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;

    fuzz_token_create(body, size);
    /*
     * A first byte below CONTENT_TYPE_COUNT (never the start of a JSON text)
     * selects a content type and is not part of the body; anything else is
     * a whole body sent as the first, accepted, content type.
     */
    if (size > 0 && data[0] < CONTENT_TYPE_COUNT)
        fuzz_json_object(content_types[data[0]], body + 1, size - 1);
    else
        fuzz_json_object(content_types[0], body, size);
    return 0;
}
