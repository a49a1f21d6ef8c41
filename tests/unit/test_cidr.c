/*
 * test_cidr.c - addresses and CIDRs: normalisation, refusals, the too-wide
 * policy, containment and subtraction; entry ids; the entries JSON file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "enforce/enforce.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void norm_is(const char *in, const char *want)
{
    char out[CIDR_TEXT_MAX];
    struct ob_error err = {0};

    assert_int_equal(cidr_normalise(in, out, sizeof(out), &err), 0);
    assert_string_equal(out, want);
}

static void refused(const char *in)
{
    char out[CIDR_TEXT_MAX];
    struct ob_error err = {0};

    assert_int_equal(cidr_normalise(in, out, sizeof(out), &err), OB_EINVAL);
    assert_int_equal(err.code, OB_EINVAL);
    assert_true(err.msg[0] != '\0');
}

static struct cidr parse(const char *in)
{
    struct cidr c;

    assert_int_equal(cidr_parse(in, &c, NULL), 0);
    return c;
}

static void test_normalise(void **state)
{
    (void)state;
    norm_is("203.0.113.7", "203.0.113.7/32");
    norm_is("203.0.113.7/32", "203.0.113.7/32");
    norm_is("10.1.2.3/8", "10.0.0.0/8");
    norm_is("198.51.100.77/24", "198.51.100.0/24");
    norm_is("0.0.0.0/0", "0.0.0.0/0");
    norm_is("2001:db8::1", "2001:db8::1/128");
    norm_is("2001:DB8:0:0::1/128", "2001:db8::1/128");
    norm_is("2001:db8:aaaa:bbbb::1/48", "2001:db8:aaaa::/48");
    norm_is("2001:db8::1/127", "2001:db8::/127");
    norm_is("::/0", "::/0");
    norm_is("::ffff:1.2.3.4", "::ffff:1.2.3.4/128");
    norm_is("10.0.0.1/31", "10.0.0.0/31");
}

static void test_refusals(void **state)
{
    static const char *const bad[] = {
        "",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.4/",
        "1.2.3.4/33",
        "1.2.3.4/024",
        "1.2.3.4/-1",
        "1.2.3.4/+8",
        "1.2.3.4/8/8",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1.2.3.4/ 8",
        "0x01020304",
        "localhost",
        "2001:db8::1/129",
        "2001:db8::1%eth0",
        "2001:db8:::1",
        "fe80::1%1/64",
        "1.2.3.4/1000",
        "12345678901234567890123456789012345678901234567890123456789012345678",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused(bad[i]);
    assert_int_equal(cidr_parse(NULL, &(struct cidr){0}, NULL), OB_EINVAL);
}

static void test_too_wide(void **state)
{
    struct cidr c;

    (void)state;
    c = parse("0.0.0.0/0");
    assert_true(cidr_too_wide(&c, 24, 48));
    assert_true(cidr_too_wide(&c, 0, 0)); /* /0 even when the policy would allow it */
    c = parse("::/0");
    assert_true(cidr_too_wide(&c, 24, 48));
    assert_true(cidr_too_wide(&c, 0, 0));
    c = parse("10.0.0.0/8");
    assert_true(cidr_too_wide(&c, 24, 48));
    assert_false(cidr_too_wide(&c, 8, 48));
    c = parse("10.0.0.0/23");
    assert_true(cidr_too_wide(&c, 24, 48));
    c = parse("10.0.0.0/24");
    assert_false(cidr_too_wide(&c, 24, 48));
    c = parse("203.0.113.7");
    assert_false(cidr_too_wide(&c, 24, 48));
    assert_false(cidr_too_wide(&c, 32, 128));
    c = parse("2001:db8::/47");
    assert_true(cidr_too_wide(&c, 24, 48));
    c = parse("2001:db8::/48");
    assert_false(cidr_too_wide(&c, 24, 48));
    c = parse("2001:db8::1");
    assert_false(cidr_too_wide(&c, 24, 48));
}

static void test_contains_overlaps(void **state)
{
    struct cidr a = parse("10.1.0.0/24"), b = parse("10.1.0.5"), c = parse("10.2.0.0/16");
    struct cidr d = parse("::a01:5"); /* same bits as 10.1.0.5, other family */

    (void)state;
    assert_true(cidr_contains(&a, &b));
    assert_false(cidr_contains(&b, &a));
    assert_true(cidr_contains(&a, &a));
    assert_true(cidr_overlaps(&a, &b));
    assert_true(cidr_overlaps(&b, &a));
    assert_false(cidr_overlaps(&a, &c));
    assert_false(cidr_overlaps(&b, &d));
}

static void test_subtract(void **state)
{
    struct cidr outer = parse("10.1.0.0/24"), inner = parse("10.1.0.5"), out[40];
    char text[CIDR_TEXT_MAX];
    size_t n, i, j;

    (void)state;
    assert_int_equal(cidr_subtract(&outer, &inner, out, 40, &n), 0);
    assert_int_equal(n, 8);
    for (i = 0; i < n; i++) {
        assert_true(cidr_contains(&outer, &out[i]));
        assert_false(cidr_overlaps(&out[i], &inner));
        for (j = 0; j < i; j++)
            assert_false(cidr_overlaps(&out[i], &out[j]));
    }
    /* The pieces and the hole add up to the whole /24: 256 addresses. */
    {
        unsigned total = 1;

        for (i = 0; i < n; i++)
            total += 1u << (32 - out[i].prefix);
        assert_int_equal(total, 256);
    }
    cidr_format(&out[0], text, sizeof(text));
    assert_string_equal(text, "10.1.0.128/25");
    /* Disjoint: outer itself. Covered: nothing. */
    inner = parse("10.2.0.1");
    assert_int_equal(cidr_subtract(&outer, &inner, out, 40, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(&out[0], &outer, sizeof(outer));
    inner = parse("10.0.0.0/8");
    assert_int_equal(cidr_subtract(&outer, &inner, out, 40, &n), 0);
    assert_int_equal(n, 0);
    /* Too small an output. */
    inner = parse("10.1.0.5");
    assert_int_equal(cidr_subtract(&outer, &inner, out, 3, &n), OB_ETOOLARGE);
    /* IPv6: a /128 out of a /48 leaves 80 pieces. */
    {
        struct cidr o6 = parse("2001:db8::/48"), i6 = parse("2001:db8::1"), big[128];

        assert_int_equal(cidr_subtract(&o6, &i6, big, 128, &n), 0);
        assert_int_equal(n, 80);
        for (i = 0; i < n; i++)
            assert_false(cidr_overlaps(&big[i], &i6));
    }
}

static void test_entry_ids(void **state)
{
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(access_entry_check_id("grant:42", NULL), 0);
    assert_int_equal(access_entry_check_id("allow:alice:203.0.113.7", NULL), 0);
    assert_int_equal(access_entry_check_id("allow:bob:2001:db8::1/128", NULL), 0);
    assert_int_equal(access_entry_check_id("", &err), OB_EINVAL);
    assert_int_equal(access_entry_check_id("a b", &err), OB_EINVAL);
    assert_int_equal(access_entry_check_id("x\"; flush ruleset", &err), OB_EINVAL);
    assert_int_equal(access_entry_check_id("a\\b", &err), OB_EINVAL);
    assert_int_equal(access_entry_check_id("é", &err), OB_EINVAL);
    assert_int_equal(access_entry_check_id(
                         "0123456789012345678901234567890123456789012345678901234567890123", &err),
                     OB_EINVAL);
}

static void test_entries_json(void **state)
{
    const char *ok = "[{\"id\":\"grant:1\",\"cidr\":\"203.0.113.7\",\"expires_at\":1700000000000,"
                     "\"description\":\"alice\"},"
                     "{\"id\":\"allow:b\",\"cidr\":\"2001:db8::1/64\",\"expires_at\":5}]";
    static const char *const bad[] = {
        "",
        "{}",
        "[1]",
        "[{\"id\":\"g\",\"cidr\":\"1.2.3.4\"}]",
        "[{\"id\":\"g\",\"cidr\":\"1.2.3.4\",\"expires_at\":\"soon\"}]",
        "[{\"id\":\"g\",\"cidr\":\"1.2.3.4\",\"expires_at\":-5}]",
        "[{\"id\":\"g h\",\"cidr\":\"1.2.3.4\",\"expires_at\":5}]",
        "[{\"id\":\"g\",\"cidr\":\"1.2.3.400\",\"expires_at\":5}]",
        "[{\"id\":\"g\",\"cidr\":\"1.2.3.4\\u0000x\",\"expires_at\":5}]",
        "[{\"id\":\"g\",\"cidr\":\"1.2.3.4\",\"expires_at\":5,\"description\":7}]",
        "[{\"id\":\"g\",\"id\":\"h\",\"cidr\":\"1.2.3.4\",\"expires_at\":5}]",
    };
    struct access_entry *e = NULL;
    struct ob_error err = {0};
    size_t n = 0;

    (void)state;
    assert_int_equal(access_entries_from_json(ok, strlen(ok), 10, &e, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].id, "grant:1");
    assert_string_equal(e[0].cidr, "203.0.113.7/32");
    assert_true(e[0].expires_at_ms == 1700000000000LL);
    assert_string_equal(e[0].description, "alice");
    assert_string_equal(e[1].cidr, "2001:db8::/64");
    free(e);
    assert_int_equal(access_entries_from_json(ok, strlen(ok), 1, &e, &n, &err), OB_ETOOLARGE);
    assert_null(e);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(access_entries_from_json(bad[i], strlen(bad[i]), 10, &e, &n, &err),
                         OB_EINVAL);
        assert_null(e);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(access_entries_from_json("[]", 2, 10, &e, &n, &err), 0);
    assert_int_equal(n, 0);
    free(e);
}

static void test_registry(void **state)
{
    (void)state;
    assert_ptr_equal(enforcer_find("nftables"), &enforcer_nftables);
    assert_null(enforcer_find("iptables"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise),    cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_too_wide),     cmocka_unit_test(test_contains_overlaps),
        cmocka_unit_test(test_subtract),     cmocka_unit_test(test_entry_ids),
        cmocka_unit_test(test_entries_json), cmocka_unit_test(test_registry),
    };

    return cmocka_run_group_tests_name("cidr", tests, NULL, NULL);
}
