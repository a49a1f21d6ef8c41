/*
 * test_form.c - application/x-www-form-urlencoded parsing: decoding, the
 * order of fields, and every refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/error.h"
#include "util/form.h"

#include <stdio.h>
#include <string.h>

static void parse_ok(const char *body, struct form *f)
{
    struct ob_error err = {0};

    assert_int_equal(form_parse(body, strlen(body), f, &err), 0);
}

static void parse_fails(const char *body, size_t len, const char *why)
{
    struct ob_error err = {0};
    struct form f = {0};

    assert_int_equal(form_parse(body, len, &f, &err), OB_EINVAL);
    assert_non_null(strstr(err.msg, why));
    assert_int_equal(f.count, 0);
    assert_null(f.fields);
}

static void test_decodes_fields_in_order(void **state)
{
    struct form f;

    (void)state;
    parse_ok("CallSid=CA123&Digits=1&From=%2B15550100&SpeechResult=press+one%21", &f);
    assert_int_equal(f.count, 4);
    assert_string_equal(f.fields[0].name, "CallSid");
    assert_string_equal(f.fields[2].value, "+15550100");
    assert_string_equal(form_get(&f, "Digits"), "1");
    assert_string_equal(form_get(&f, "SpeechResult"), "press one!");
    assert_null(form_get(&f, "digits")); /* names are case-sensitive */
    form_release(&f);
}

static void test_empty_fields_and_values(void **state)
{
    struct form f;

    (void)state;
    parse_ok("a=&&b&c=%3D%26=", &f);
    assert_int_equal(f.count, 3);
    assert_string_equal(form_get(&f, "a"), "");
    assert_string_equal(form_get(&f, "b"), "");
    assert_string_equal(form_get(&f, "c"), "=&=");
    form_release(&f);
    parse_ok("", &f);
    assert_int_equal(f.count, 0);
    form_release(&f);
    parse_ok("x=1&x=2", &f);
    assert_string_equal(form_get(&f, "x"), "1"); /* the first */
    form_release(&f);
}

static void test_slack_payload_json_survives(void **state)
{
    struct form f;

    (void)state;
    parse_ok("payload=%7B%22type%22%3A%22block_actions%22%2C%22u%22%3A%22%C3%A9%22%7D", &f);
    assert_string_equal(form_get(&f, "payload"), "{\"type\":\"block_actions\",\"u\":\"\xc3\xa9\"}");
    form_release(&f);
}

static void test_refusals(void **state)
{
    char many[8192];
    size_t len = 0;

    (void)state;
    parse_fails("a=%2", 4, "malformed");
    parse_fails("a=%zz", 5, "malformed");
    parse_fails("a=%", 3, "malformed");
    parse_fails("a=%00", 5, "NUL");
    parse_fails("a=b\0c", 5, "NUL");
    parse_fails("=value", 6, "without a name");
    for (int i = 0; i <= FORM_MAX_FIELDS; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len, "f%d=1&", i);
    parse_fails(many, len, "more than");
}

static void test_release_accepts_null_and_empty(void **state)
{
    struct form f = {0};

    (void)state;
    form_release(NULL);
    form_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_fields_in_order),
        cmocka_unit_test(test_empty_fields_and_values),
        cmocka_unit_test(test_slack_payload_json_survives),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_release_accepts_null_and_empty),
    };
    return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
