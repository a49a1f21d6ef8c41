/*
 * test_router.c - route matching ({param} captures, 404 vs 405 with Allow,
 * HEAD as GET, route indexes) and response building (JSON error bodies,
 * error code -> HTTP status).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"
#include "util/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static void h_dummy(void *app, struct http_request *req, struct http_response *resp)
{
}

static const struct route routes[] = {
    {"GET", "/healthz", h_dummy, 0, NULL, 0},                          /* 0 */
    {"GET", "/api/v1/teams", h_dummy, 1, NULL, 0},                     /* 1 */
    {"GET", "/api/v1/teams/{team}", h_dummy, 1, "team", 0},            /* 2 */
    {"GET", "/api/v1/teams/{team}/services", h_dummy, 1, "team", 0},   /* 3 */
    {"GET", "/api/v1/tokens", h_dummy, 3, NULL, 0},                    /* 4 */
    {"POST", "/api/v1/tokens", h_dummy, 3, NULL, 0},                   /* 5 */
    {"DELETE", "/api/v1/tokens/{id}", h_dummy, 3, NULL, 0},            /* 6 */
    {"GET", "/api/v1/things/{ident}/parts/{id}", h_dummy, 1, NULL, 0}, /* 7 */
    {"PUT", "/put-only", h_dummy, 0, NULL, 0},                         /* 8 */
};
#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

static struct router *router;

static int setup(void **state)
{
    router = router_new(routes, ROUTE_COUNT);
    return router != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    router_free(router);
    router = NULL;
    return 0;
}

/* Match; on ROUTER_FOUND check the route index. Leaves params in req. */
static enum router_match match(const char *method, const char *path, struct http_request *req,
                               const struct route **route, char *allow, size_t cap)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = path;
    return router_match(router, method, path, req, route, allow, cap);
}

static void expect_found(const char *method, const char *path, size_t index)
{
    struct http_request req;
    const struct route *route = (const struct route *)1;
    char allow[64];

    assert_int_equal(match(method, path, &req, &route, allow, sizeof(allow)), ROUTER_FOUND);
    assert_ptr_equal(route, &routes[index]);
    http_request_release_params(&req);
}

static void expect_not_found(const char *method, const char *path)
{
    struct http_request req;
    const struct route *route = (const struct route *)1;
    char allow[64];

    assert_int_equal(match(method, path, &req, &route, allow, sizeof(allow)), ROUTER_NOT_FOUND);
    assert_null(route);
    assert_int_equal(req.param_count, 0);
    assert_string_equal(allow, "");
}

static void test_literal(void **state)
{
    expect_found("GET", "/healthz", 0);
    expect_found("GET", "/api/v1/teams", 1);
    expect_found("GET", "/api/v1/tokens", 4);
    expect_found("POST", "/api/v1/tokens", 5);
    expect_not_found("GET", "/");
    expect_not_found("GET", "");
    expect_not_found("GET", "/health");
    expect_not_found("GET", "/healthzz");
    expect_not_found("GET", "/HEALTHZ");
    expect_not_found("GET", "/api/v1/team");
    expect_not_found("GET", "/api/v2/teams");
}

static void test_trailing_slash_and_extra_segments(void **state)
{
    expect_not_found("GET", "/healthz/");
    expect_not_found("GET", "/api/v1/teams/");
    expect_not_found("GET", "/healthz/extra");
    expect_not_found("GET", "/api/v1/teams/platform/services/x");
    expect_not_found("GET", "/api/v1/teams/platform/services/");
    expect_not_found("GET", "//healthz");
    expect_not_found("GET", "healthz");
}

static void test_param_match(void **state)
{
    struct http_request req;
    const struct route *route = NULL;
    char allow[64];

    assert_int_equal(match("GET", "/api/v1/teams/platform", &req, &route, allow, sizeof(allow)),
                     ROUTER_FOUND);
    assert_ptr_equal(route, &routes[2]);
    assert_int_equal(req.param_count, 1);
    assert_non_null(http_request_param(&req, "team"));
    assert_string_equal(http_request_param(&req, "team"), "platform");
    assert_null(http_request_param(&req, "tea"));
    assert_null(http_request_param(&req, "teams"));
    assert_null(http_request_param(&req, "id"));
    http_request_release_params(&req);
    assert_int_equal(req.param_count, 0);
    assert_null(req.param_values[0]);

    assert_int_equal(
        match("GET", "/api/v1/teams/payments-eu/services", &req, &route, allow, sizeof(allow)),
        ROUTER_FOUND);
    assert_ptr_equal(route, &routes[3]);
    assert_int_equal(req.param_count, 1);
    assert_string_equal(http_request_param(&req, "team"), "payments-eu");
    http_request_release_params(&req);

    assert_int_equal(match("DELETE", "/api/v1/tokens/42", &req, &route, allow, sizeof(allow)),
                     ROUTER_FOUND);
    assert_ptr_equal(route, &routes[6]);
    assert_string_equal(http_request_param(&req, "id"), "42");
    http_request_release_params(&req);

    /* A single character is a segment too. */
    expect_found("GET", "/api/v1/teams/x", 2);
}

/* Two parameters whose names share a prefix: "ident" and "id". */
static void test_param_prefix_names(void **state)
{
    struct http_request req;
    const struct route *route = NULL;
    char allow[64];

    assert_int_equal(
        match("GET", "/api/v1/things/thing-7/parts/p9", &req, &route, allow, sizeof(allow)),
        ROUTER_FOUND);
    assert_ptr_equal(route, &routes[7]);
    assert_int_equal(req.param_count, 2);
    assert_string_equal(http_request_param(&req, "ident"), "thing-7");
    assert_string_equal(http_request_param(&req, "id"), "p9");
    assert_null(http_request_param(&req, "i"));
    assert_null(http_request_param(&req, "iden"));
    assert_null(http_request_param(&req, "identity"));
    assert_null(http_request_param(&req, ""));
    http_request_release_params(&req);
}

static void test_empty_segment_is_not_a_param(void **state)
{
    expect_not_found("GET", "/api/v1/teams//services");
    expect_not_found("DELETE", "/api/v1/tokens/");
    expect_not_found("GET", "/api/v1/things//parts/p9");
    expect_not_found("GET", "/api/v1/things/t/parts/");
}

/* A capture is one segment: a slash never ends up inside a value. */
static void test_param_does_not_span_segments(void **state)
{
    struct http_request req;
    const struct route *route = NULL;
    char allow[64];

    expect_not_found("DELETE", "/api/v1/tokens/4/2");
    assert_int_equal(match("GET", "/api/v1/teams/a/services", &req, &route, allow, sizeof(allow)),
                     ROUTER_FOUND);
    assert_ptr_equal(route, &routes[3]);
    assert_string_equal(http_request_param(&req, "team"), "a");
    http_request_release_params(&req);
}

static void test_method_not_allowed(void **state)
{
    struct http_request req;
    const struct route *route = (const struct route *)1;
    char allow[64];

    assert_int_equal(match("DELETE", "/api/v1/tokens", &req, &route, allow, sizeof(allow)),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_null(route);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(req.param_count, 0);

    assert_int_equal(match("POST", "/healthz", &req, &route, allow, sizeof(allow)),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET");

    assert_int_equal(match("GET", "/put-only", &req, &route, allow, sizeof(allow)),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "PUT");

    /* A parameterised path gets 405 too, and no parameter is left behind. */
    assert_int_equal(match("GET", "/api/v1/tokens/42", &req, &route, allow, sizeof(allow)),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "DELETE");
    assert_int_equal(req.param_count, 0);

    /* Method names are case-sensitive (RFC 9110). */
    assert_int_equal(match("get", "/healthz", &req, &route, allow, sizeof(allow)),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET");
}

static void test_allow_buffer_small(void **state)
{
    struct http_request req;
    const struct route *route = NULL;
    char allow[8];

    /* Room for "GET" only: the list is cut at a whole method, NUL-terminated. */
    memset(allow, 'X', sizeof(allow));
    assert_int_equal(match("DELETE", "/api/v1/tokens", &req, &route, allow, sizeof(allow)),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET");

    /* cap 0: nothing is written. */
    assert_int_equal(match("DELETE", "/api/v1/tokens", &req, &route, NULL, 0),
                     ROUTER_METHOD_NOT_ALLOWED);
}

static void test_head_matches_get(void **state)
{
    struct http_request req;
    const struct route *route = NULL;
    char allow[64];

    expect_found("HEAD", "/healthz", 0);
    assert_int_equal(match("HEAD", "/api/v1/teams/platform", &req, &route, allow, sizeof(allow)),
                     ROUTER_FOUND);
    assert_ptr_equal(route, &routes[2]);
    assert_string_equal(http_request_param(&req, "team"), "platform");
    http_request_release_params(&req);

    /* HEAD is not GET's stand-in for other methods. */
    assert_int_equal(match("HEAD", "/put-only", &req, &route, allow, sizeof(allow)),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "PUT");
}

static void test_route_index(void **state)
{
    assert_int_equal(router_route_count(router), ROUTE_COUNT);
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        assert_int_equal(router_route_index(router, &routes[i]), i);
        assert_ptr_equal(router_route_at(router, i), &routes[i]);
    }
    assert_int_equal(router_route_index(router, NULL), ROUTE_COUNT);
    assert_null(router_route_at(router, ROUTE_COUNT));
    assert_null(router_route_at(router, (size_t)-1));
}

static void test_empty_router(void **state)
{
    struct router *empty = router_new(routes, 0);
    struct http_request req = {0};
    const struct route *route = (const struct route *)1;
    char allow[16];

    assert_non_null(empty);
    assert_int_equal(router_match(empty, "GET", "/healthz", &req, &route, allow, sizeof(allow)),
                     ROUTER_NOT_FOUND);
    assert_null(route);
    assert_int_equal(router_route_count(empty), 0);
    assert_int_equal(router_route_index(empty, NULL), 0);
    router_free(empty);
    router_free(NULL);
}

/* ---- responses ---------------------------------------------------------------- */

/* Parse resp's body as JSON {"error": "..."} and return the message (static copy). */
static const char *error_text(const struct http_response *resp)
{
    static char text[2048];
    json_error_t jerr;
    json_t *root;
    json_t *msg;

    assert_non_null(resp->body);
    assert_int_equal(strlen(resp->body), resp->body_len);
    assert_string_equal(resp->content_type, "application/json");
    root = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        fail_msg("body is not JSON (%s): %s", jerr.text, resp->body);
    assert_true(json_is_object(root));
    assert_int_equal(json_object_size(root), 1);
    msg = json_object_get(root, "error");
    assert_non_null(msg);
    assert_true(json_is_string(msg));
    snprintf(text, sizeof(text), "%s", json_string_value(msg));
    json_decref(root);
    return text;
}

static void test_response_error_json(void **state)
{
    struct http_response resp = {0};

    http_response_error(&resp, 400, "field '%s' is required", "name");
    assert_int_equal(resp.status, 400);
    assert_string_equal(resp.body, "{\"error\":\"field 'name' is required\"}");
    assert_string_equal(error_text(&resp), "field 'name' is required");
    http_response_release(&resp);
    assert_null(resp.body);
    assert_int_equal(resp.status, 0);
}

static void test_response_error_escaping(void **state)
{
    struct http_response resp = {0};

    http_response_error(&resp, 422, "say \"%s\"\nthen \\ %s\t%c", "hi", "bye", 1);
    assert_int_equal(resp.status, 422);
    assert_string_equal(resp.body, "{\"error\":\"say \\\"hi\\\"\\nthen \\\\ bye\\t\\u0001\"}");
    assert_string_equal(error_text(&resp), "say \"hi\"\nthen \\ bye\t\x01");
    http_response_release(&resp);
}

static void test_response_error_invalid_utf8(void **state)
{
    struct http_response resp = {0};

    char *body;
    size_t body_len;
    json_t *root, *msg;
    char shown[128];

    /* A lone continuation byte and a truncated sequence. */
    http_response_error(&resp, 400, "unknown team '%s'", "bad\x80\xc3");
    assert_int_equal(resp.status, 400);
    assert_string_equal(resp.content_type, "application/json");
    /* Whatever the text becomes, the body is one JSON object with "error". */
    body = resp.body;
    body_len = resp.body_len;
    resp.body = NULL;
    http_response_release(&resp);
    assert_non_null(body);
    assert_int_equal(strlen(body), body_len);
    root = json_loadb(body, body_len, 0, NULL);
    snprintf(shown, sizeof(shown), "%s", body);
    free(body);
    if (root == NULL)
        fail_msg("error body is not valid JSON: %s", shown);
    msg = json_object_get(root, "error");
    assert_true(json_is_string(msg));
    assert_true(json_string_length(msg) > 0);
    json_decref(root);
}

static void test_response_error_long_message(void **state)
{
    struct http_response resp = {0};
    char big[3000];

    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    http_response_error(&resp, 400, "%s", big);
    assert_int_equal(strlen(error_text(&resp)), 1023);
    http_response_release(&resp);
}

static void expect_status(int code, int want_status)
{
    struct http_response resp = {0};
    struct ob_error err;

    ob_fail(&err, code, "reason %d", code);
    http_response_from_error(&resp, &err);
    assert_int_equal(resp.status, want_status);
    {
        char want[32];
        snprintf(want, sizeof(want), "reason %d", code);
        assert_string_equal(error_text(&resp), want);
    }
    http_response_release(&resp);
}

static void test_response_from_error(void **state)
{
    expect_status(OB_EINVAL, 400);
    expect_status(OB_EUNAUTH, 401);
    expect_status(OB_EFORBIDDEN, 403);
    expect_status(OB_ENOTFOUND, 404);
    expect_status(OB_ECONFLICT, 409);
    expect_status(OB_ETOOLARGE, 413);
    expect_status(OB_EUNSUPPORTED, 415);
    expect_status(OB_ESTORE, 500);
    expect_status(OB_EIO, 500);
    expect_status(OB_ENOMEM, 500);
    expect_status(OB_EINTERNAL, 500);
    expect_status(OB_EUNAVAILABLE, 503);
}

static void test_response_from_empty_error(void **state)
{
    struct http_response resp = {0};
    struct ob_error err;

    /* No code and no message: a 500 with the generic text, never an empty body. */
    ob_error_clear(&err);
    http_response_from_error(&resp, &err);
    assert_int_equal(resp.status, 500);
    assert_string_equal(error_text(&resp), "internal error");
    http_response_release(&resp);

    /* A code without a message: the code's name. */
    err.code = OB_ENOTFOUND;
    err.msg[0] = '\0';
    http_response_from_error(&resp, &err);
    assert_int_equal(resp.status, 404);
    assert_string_equal(error_text(&resp), "not found");
    http_response_release(&resp);
}

static void test_response_set_take_headers(void **state)
{
    struct http_response resp = {0};
    char *owned = strdup("{\"ok\":true}");

    http_response_set(&resp, 200, "text/plain", "abc\0def", 7);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.body_len, 7);
    assert_memory_equal(resp.body, "abc\0def\0", 8);
    assert_string_equal(resp.content_type, "text/plain");

    /* Replacing the body frees the old one (ASan would see a leak). */
    assert_non_null(owned);
    http_response_take(&resp, 201, "application/json", owned, strlen(owned));
    assert_ptr_equal(resp.body, owned);
    assert_int_equal(resp.status, 201);

    http_response_set(&resp, 204, "text/plain", NULL, 0);
    assert_int_equal(resp.body_len, 0);
    assert_string_equal(resp.body, "");

    http_response_add_header(&resp, "WWW-Authenticate", "Bearer realm=\"opsbell\"");
    http_response_add_header(&resp, "Allow", "GET, POST");
    assert_int_equal(resp.header_count, 2);
    assert_string_equal(resp.header_names[0], "WWW-Authenticate");
    assert_string_equal(resp.header_values[0], "Bearer realm=\"opsbell\"");
    assert_string_equal(resp.header_names[1], "Allow");
    assert_string_equal(resp.header_values[1], "GET, POST");
    http_response_release(&resp);
    assert_int_equal(resp.header_count, 0);
    assert_null(resp.header_names[0]);
    assert_null(resp.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal),
        cmocka_unit_test(test_trailing_slash_and_extra_segments),
        cmocka_unit_test(test_param_match),
        cmocka_unit_test(test_param_prefix_names),
        cmocka_unit_test(test_empty_segment_is_not_a_param),
        cmocka_unit_test(test_param_does_not_span_segments),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_allow_buffer_small),
        cmocka_unit_test(test_head_matches_get),
        cmocka_unit_test(test_route_index),
        cmocka_unit_test(test_empty_router),
        cmocka_unit_test(test_response_error_json),
        cmocka_unit_test(test_response_error_escaping),
        cmocka_unit_test(test_response_error_invalid_utf8),
        cmocka_unit_test(test_response_error_long_message),
        cmocka_unit_test(test_response_from_error),
        cmocka_unit_test(test_response_from_empty_error),
        cmocka_unit_test(test_response_set_take_headers),
    };

    return cmocka_run_group_tests_name("router", tests, setup, teardown);
}
