/*
 * test_aws_sync.c - the plan of one AWS sync run (aws_sync_plan, pure):
 * what is authorized, what is revoked, and what is never touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "access/aws_sync.h"
#include "enforce/aws.h"
#include "enforce/enforce.h"

#include <stdio.h>
#include <string.h>

#define NOW   1764043200000LL /* 2025-11-25T04:00:00Z */
#define LATER (NOW + 1800 * 1000)

static struct access_entry entry(const char *id, const char *cidr, int64_t expires)
{
    struct access_entry e;

    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%s", id);
    snprintf(e.cidr, sizeof(e.cidr), "%s", cidr);
    e.expires_at_ms = expires;
    return e;
}

static struct aws_rule rule(const char *rule_id, const char *cidr, const char *desc, int port)
{
    struct aws_rule r;

    memset(&r, 0, sizeof(r));
    snprintf(r.rule_id, sizeof(r.rule_id), "%s", rule_id);
    snprintf(r.protocol, sizeof(r.protocol), "tcp");
    r.from_port = port;
    r.to_port = port;
    snprintf(r.cidr, sizeof(r.cidr), "%s", cidr);
    snprintf(r.description, sizeof(r.description), "%s", desc);
    return r;
}

static struct aws_rule opsbell_rule(const char *rule_id, const char *cidr, const char *id,
                                    int64_t expires)
{
    char desc[AWS_DESC_MAX + 1];

    assert_int_equal(aws_description_format(id, expires, desc, sizeof(desc)), 0);
    return rule(rule_id, cidr, desc, 22);
}

static void test_missing_entries_are_authorized(void **state)
{
    struct access_entry want[] = {entry("grant:1", "198.51.100.7", LATER),
                                  entry("allow:bob:203.0.113.9/32", "203.0.113.9/32", LATER)};
    struct aws_sync_plan p;

    (void)state;
    assert_int_equal(aws_sync_plan(want, 2, NULL, 0, 22, NOW, &p), 0);
    assert_int_equal(p.revoke_count, 0);
    assert_int_equal(p.authorize_count, 2);
    assert_int_equal(p.authorize[0], 0);
    assert_int_equal(p.authorize[1], 1);
    aws_sync_plan_release(&p);
}

static void test_rules_in_place_are_left_alone(void **state)
{
    struct access_entry want[] = {entry("grant:1", "198.51.100.7/32", LATER)};
    struct aws_rule have[] = {opsbell_rule("sgr-1", "198.51.100.7/32", "grant:1", LATER)};
    struct aws_sync_plan p;

    (void)state;
    assert_int_equal(aws_sync_plan(want, 1, have, 1, 22, NOW, &p), 0);
    assert_int_equal(p.revoke_count, 0);
    assert_int_equal(p.authorize_count, 0);
    assert_int_equal(p.in_place, 1);
    aws_sync_plan_release(&p);
}

static void test_unwanted_opsbell_rules_are_revoked_others_never(void **state)
{
    struct aws_rule have[] = {
        opsbell_rule("sgr-1", "198.51.100.7/32", "grant:1", LATER),     /* revoked grant */
        opsbell_rule("sgr-2", "203.0.113.9/32", "allow:bob:x", LATER),  /* stale entry */
        opsbell_rule("sgr-3", "10.8.8.8/32", "cli:10.8.8.8/32", LATER), /* an operator's */
        rule("sgr-4", "10.9.9.9/32", "office VPN", 22),                 /* someone else's */
        rule("sgr-5", "10.9.9.10/32", "opsbell but not ours", 22),
    };
    struct aws_sync_plan p;

    (void)state;
    assert_int_equal(aws_sync_plan(NULL, 0, have, 5, 22, NOW, &p), 0);
    assert_int_equal(p.authorize_count, 0);
    assert_int_equal(p.revoke_count, 2);
    assert_int_equal(p.revoke[0], 0);
    assert_int_equal(p.revoke[1], 1);
    aws_sync_plan_release(&p);
}

static void test_foreign_rule_for_the_address_counts_as_open(void **state)
{
    struct access_entry want[] = {entry("grant:2", "10.9.9.9/32", LATER)};
    struct aws_rule have[] = {rule("sgr-4", "10.9.9.9/32", "office VPN", 22)};
    struct aws_sync_plan p;

    (void)state;
    assert_int_equal(aws_sync_plan(want, 1, have, 1, 22, NOW, &p), 0);
    assert_int_equal(p.authorize_count, 0);
    assert_int_equal(p.revoke_count, 0);
    assert_int_equal(p.in_place, 1);
    aws_sync_plan_release(&p);
}

static void test_earlier_rule_is_extended_and_other_ports_do_not_count(void **state)
{
    struct access_entry want[] = {entry("allow:bob:203.0.113.9/32", "203.0.113.9/32", LATER),
                                  entry("grant:3", "192.0.2.1/32", LATER)};
    struct aws_rule have[] = {
        opsbell_rule("sgr-1", "203.0.113.9/32", "allow:bob:203.0.113.9/32", NOW + 60 * 1000),
        rule("sgr-2", "192.0.2.1/32", "web", 443)};
    struct aws_sync_plan p;

    (void)state;
    assert_int_equal(aws_sync_plan(want, 2, have, 2, 22, NOW, &p), 0);
    assert_int_equal(p.revoke_count, 0);
    assert_int_equal(p.authorize_count, 2);
    aws_sync_plan_release(&p);
}

static void test_one_address_is_opened_once_by_the_latest_entry(void **state)
{
    struct access_entry want[] = {entry("grant:4", "198.51.100.7/32", LATER),
                                  entry("grant:5", "198.51.100.7/32", LATER + 60 * 1000),
                                  entry("grant:6", "198.51.100.8/32", NOW - 1)}; /* expired */
    struct aws_sync_plan p;

    (void)state;
    assert_int_equal(aws_sync_plan(want, 3, NULL, 0, 22, NOW, &p), 0);
    assert_int_equal(p.authorize_count, 1);
    assert_int_equal(p.authorize[0], 1);
    aws_sync_plan_release(&p);
}

static void test_revoked_rule_of_a_shared_address_is_replaced(void **state)
{
    /* grant:7 was revoked; bob's allowlist entry wants the same address. */
    struct access_entry want[] = {entry("allow:bob:198.51.100.7/32", "198.51.100.7/32", LATER)};
    struct aws_rule have[] = {opsbell_rule("sgr-1", "198.51.100.7/32", "grant:7", LATER)};
    struct aws_sync_plan p;

    (void)state;
    assert_int_equal(aws_sync_plan(want, 1, have, 1, 22, NOW, &p), 0);
    assert_int_equal(p.revoke_count, 1);
    assert_int_equal(p.authorize_count, 1);
    aws_sync_plan_release(&p);
}

static void test_managed_ids(void **state)
{
    (void)state;
    assert_true(aws_sync_managed_id("grant:1"));
    assert_true(aws_sync_managed_id("allow:bob:2001:db8::1/128"));
    assert_false(aws_sync_managed_id("cli:10.0.0.1/32"));
    assert_false(aws_sync_managed_id("grantx"));
    assert_false(aws_sync_managed_id(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_entries_are_authorized),
        cmocka_unit_test(test_rules_in_place_are_left_alone),
        cmocka_unit_test(test_unwanted_opsbell_rules_are_revoked_others_never),
        cmocka_unit_test(test_foreign_rule_for_the_address_counts_as_open),
        cmocka_unit_test(test_earlier_rule_is_extended_and_other_ports_do_not_count),
        cmocka_unit_test(test_one_address_is_opened_once_by_the_latest_entry),
        cmocka_unit_test(test_revoked_rule_of_a_shared_address_is_replaced),
        cmocka_unit_test(test_managed_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
