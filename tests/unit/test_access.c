/*
 * test_access.c - the break-glass policy (src/access/policy.c): which team
 * decides for a host or group, who may self-approve and approve, token
 * bindings; and the client address behind trusted proxies (allow.c).
 * Against tests/unit/fixtures/config/access_ok (run from the repository root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "access/access_internal.h"
#include "config/config.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static struct config *cfg;

static int load(void **state)
{
    struct config_diags diags = {0};

    (void)state;
    setenv("OPSBELL_TEST_ADMIN_TOKEN", "xoxp-test", 1);
    if (config_load("tests/unit/fixtures/config/access_ok/opsbell.yaml", &cfg, &diags) != 0) {
        config_diags_print(&diags, stderr);
        config_diags_release(&diags);
        return -1;
    }
    return 0;
}

static int unload(void **state)
{
    (void)state;
    config_unref(cfg);
    return 0;
}

static void test_host_names(void **state)
{
    (void)state;
    assert_true(access_host_name_ok("web1"));
    assert_true(access_host_name_ok("db1.internal"));
    assert_false(access_host_name_ok(""));
    assert_false(access_host_name_ok("Web1"));
    assert_false(access_host_name_ok("-web"));
    assert_false(access_host_name_ok("web 1"));
    assert_false(access_host_name_ok("web;rm"));
    assert_true(access_host_known(cfg, "web2.example.com"));
    assert_false(access_host_known(cfg, "web3"));
}

static void test_target_of_a_host(void **state)
{
    struct access_target t;
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(access_resolve_target(cfg, "ann", "web1", NULL, &t, &err), 0);
    assert_string_equal(t.team->name, "ops");
    assert_int_equal(t.host_count, 1);
    assert_string_equal(t.hosts[0], "web1");

    /* dev1 is in two groups of team dev; cid is its member. */
    assert_int_equal(access_resolve_target(cfg, "cid", "dev1", NULL, &t, &err), 0);
    assert_string_equal(t.team->name, "dev");

    assert_int_equal(access_resolve_target(cfg, "ann", "dev1", NULL, &t, &err), OB_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "not a member of team dev"));
    assert_int_equal(access_resolve_target(cfg, "ann", "web9", NULL, &t, &err), OB_ENOTFOUND);
    assert_int_equal(access_resolve_target(cfg, "ann", "WEB1", NULL, &t, &err), OB_EINVAL);
    assert_int_equal(access_resolve_target(cfg, "ann", "web1", "web-prod", &t, &err), OB_EINVAL);
    assert_int_equal(access_resolve_target(cfg, "ann", NULL, NULL, &t, &err), OB_EINVAL);
}

static void test_target_of_a_group(void **state)
{
    struct access_target t;
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(access_resolve_target(cfg, "cid", NULL, "dev-db", &t, &err), 0);
    assert_string_equal(t.team->name, "dev");
    assert_int_equal(t.host_count, 2);
    assert_string_equal(t.hosts[0], "db1");
    assert_string_equal(t.hosts[1], "dev1");
    assert_int_equal(access_resolve_target(cfg, "bob", NULL, "dev-db", &t, &err), OB_EFORBIDDEN);
    assert_int_equal(access_resolve_target(cfg, "bob", NULL, "nope", &t, &err), OB_ENOTFOUND);
    /* A group of a team without members: nobody may ask. */
    assert_int_equal(access_resolve_target(cfg, "ann", NULL, "lab", &t, &err), OB_EFORBIDDEN);
}

static void test_self_approval(void **state)
{
    const struct config_team *ops = config_find_team(cfg, "ops");
    const struct config_team *dev = config_find_team(cfg, "dev");
    struct ob_error err = {0};
    int yes = -1;

    (void)state;
    /* ops: self_approve [members, cid]; no "oncall", so no database is asked. */
    assert_int_equal(access_may_self_approve(NULL, ops, "ann", 0, &yes, &err), 0);
    assert_int_equal(yes, 1);
    assert_int_equal(access_may_self_approve(NULL, ops, "cid", 0, &yes, &err), 0);
    assert_int_equal(yes, 1); /* named, though not a member */
    /* dev: self_approve [] - everyone needs an approver. */
    assert_int_equal(access_may_self_approve(NULL, dev, "cid", 0, &yes, &err), 0);
    assert_int_equal(yes, 0);
}

static void test_approvers(void **state)
{
    const struct config_team *ops = config_find_team(cfg, "ops");
    const struct config_team *dev = config_find_team(cfg, "dev");
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(access_may_approve(ops, "bob", "ann", &err), 0);
    assert_int_equal(access_may_approve(ops, "ann", "cid", &err), OB_EFORBIDDEN); /* not listed */
    assert_non_null(strstr(err.msg, "not an approver of team ops"));
    assert_int_equal(access_may_approve(ops, "bob", "bob", &err), OB_EFORBIDDEN); /* own */
    assert_non_null(strstr(err.msg, "cannot decide on it"));
    /* dev lists no approvers: any member but the requester. */
    assert_int_equal(access_may_approve(dev, "cid", "ann", &err), 0);
    assert_int_equal(access_may_approve(dev, "ann", "cid", &err), OB_EFORBIDDEN);
}

static void test_token_bindings(void **state)
{
    struct ob_error err = {0};

    (void)state;
    assert_int_equal(token_binding_check(cfg, NULL, "ann", NULL, &err), 0);
    assert_int_equal(token_binding_check(cfg, NULL, "zed", NULL, &err), OB_EINVAL);
    assert_int_equal(token_binding_check(cfg, "ops", "cid", NULL, &err), OB_EFORBIDDEN);
    assert_int_equal(token_binding_check(cfg, NULL, NULL, "any-host", &err), 0);
    assert_int_equal(token_binding_check(cfg, NULL, NULL, "Bad Host", &err), OB_EINVAL);
    assert_int_equal(token_binding_check(cfg, "ops", NULL, "web1", &err), 0);
    assert_int_equal(token_binding_check(cfg, "ops", NULL, "dev1", &err), OB_EFORBIDDEN);
}

static void test_client_address(void **state)
{
    char out[64];

    (void)state;
    /* trusted_proxies: 127.0.0.1, 10.0.0.0/8, 2001:db8::/64 */
    access_client_addr(cfg, "127.0.0.1", NULL, out, sizeof(out));
    assert_string_equal(out, "127.0.0.1");
    access_client_addr(cfg, "127.0.0.1", "203.0.113.9", out, sizeof(out));
    assert_string_equal(out, "203.0.113.9");
    /* Right to left, skipping trusted hops. */
    access_client_addr(cfg, "127.0.0.1", "198.51.100.1, 203.0.113.9, 10.9.9.9", out, sizeof(out));
    assert_string_equal(out, "203.0.113.9");
    /* An untrusted peer's header is not believed. */
    access_client_addr(cfg, "192.0.2.7", "203.0.113.9", out, sizeof(out));
    assert_string_equal(out, "192.0.2.7");
    /* Garbage stops the walk at the last trusted answer. */
    access_client_addr(cfg, "127.0.0.1", "not-an-ip", out, sizeof(out));
    assert_string_equal(out, "127.0.0.1");
    access_client_addr(cfg, "2001:db8::5", "2001:db8:1::9", out, sizeof(out));
    assert_string_equal(out, "2001:db8:1::9");
    /* Only trusted hops: the first one is the client. */
    access_client_addr(cfg, "127.0.0.1", "10.1.1.1", out, sizeof(out));
    assert_string_equal(out, "10.1.1.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_names),        cmocka_unit_test(test_target_of_a_host),
        cmocka_unit_test(test_target_of_a_group), cmocka_unit_test(test_self_approval),
        cmocka_unit_test(test_approvers),         cmocka_unit_test(test_token_bindings),
        cmocka_unit_test(test_client_address),
    };

    return cmocka_run_group_tests_name("access", tests, load, unload);
}
