/*
 * test_store_access.c - emergency access as stored (schema migration 8):
 * grants and their state changes, the hosts they open, certificates for the
 * KRL, the allowlist (newest sighting wins, trimming, expiry), one-time
 * links (used once), named values and person/agent tokens, on every driver.
 *
 * Runs against OPSBELL_TEST_STORE_URL, or a sqlite: file in a fresh
 * temporary directory (see store_harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/access.h"
#include "store/store_harness.h"

#include <stdlib.h>
#include <string.h>

static void test_open(void **state)
{
    struct ob_error err;

    if (store_open(g.url, 3, &g.store, &err) != 0)
        fail_msg("store_open %s: %s", g.url, err.msg);
}

static int64_t new_grant(struct store_conn *conn, const char *user, const char *state,
                         const char *const *hosts, size_t nhosts, int64_t now)
{
    struct grant_row gr = {0};

    gr.user_name = (char *)user;
    gr.team = "ops";
    gr.target_kind = "group";
    gr.target = "web";
    gr.cidr = "198.51.100.7/32";
    gr.reason = "disk full";
    gr.state = (char *)state;
    gr.duration_s = 600;
    gr.requested_by = "user:alice";
    gr.requested_at_ms = now;
    gr.pending_until_ms = strcmp(state, GRANT_PENDING) == 0 ? now + 3600000 : 0;
    if (strcmp(state, GRANT_ACTIVE) == 0) {
        gr.approved_by = (char *)user;
        gr.starts_at_ms = now;
        gr.expires_at_ms = now + 600000;
    }
    CHECK_OK(store_grant_insert, conn, &gr, hosts, nhosts);
    assert_true(gr.id > 0);
    return gr.id;
}

static void test_grant_lifecycle(void **state)
{
    static const char *const hosts[] = {"web2", "web1"};
    struct store_conn *conn = conn_get();
    struct grant_row gr = {0}, *rows = NULL;
    struct ob_error err = {0};
    int64_t id, *due = NULL;
    size_t n = 0;

    id = new_grant(conn, "alice", GRANT_PENDING, hosts, 2, T0);
    CHECK_OK(store_grant_get, conn, id, &gr);
    assert_string_equal(gr.state, "pending");
    assert_int_equal(gr.host_count, 2);
    assert_string_equal(gr.hosts[0], "web1"); /* sorted */
    assert_string_equal(gr.hosts[1], "web2");
    assert_int_equal(gr.expires_at_ms, 0);
    grant_row_release(&gr);

    /* Not in force while pending. */
    CHECK_OK(store_grants_in_force, conn, "web1", T0 + 1, &rows, &n);
    assert_int_equal(n, 0);
    grant_row_array_free(rows, n);

    CHECK_OK(store_grant_activate, conn, id, "bob", T0 + 1000);
    assert_int_equal(store_grant_activate(conn, id, "bob", T0 + 2000, &err), OB_ECONFLICT);
    CHECK_OK(store_grant_get, conn, id, &gr);
    assert_string_equal(gr.state, "active");
    assert_string_equal(gr.approved_by, "bob");
    assert_int_equal(gr.starts_at_ms, T0 + 1000);
    assert_int_equal(gr.expires_at_ms, T0 + 1000 + 600000);
    grant_row_release(&gr);

    CHECK_OK(store_grants_in_force, conn, "web2", T0 + 2000, &rows, &n);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, id);
    grant_row_array_free(rows, n);
    CHECK_OK(store_grants_in_force, conn, "db1", T0 + 2000, &rows, &n);
    assert_int_equal(n, 0);
    grant_row_array_free(rows, n);

    /* Due once its time is over, and no longer in force. */
    CHECK_OK(store_grants_due, conn, T0 + 1000 + 599999, &due, &n);
    assert_int_equal(n, 0);
    free(due);
    CHECK_OK(store_grants_due, conn, T0 + 1000 + 600000, &due, &n);
    assert_int_equal(n, 1);
    assert_int_equal(due[0], id);
    free(due);
    CHECK_OK(store_grants_in_force, conn, NULL, T0 + 1000 + 600000, &rows, &n);
    assert_int_equal(n, 0);
    grant_row_array_free(rows, n);

    CHECK_OK(store_grant_end, conn, id, "active", GRANT_EXPIRED, "system", "over", T0 + 700000);
    assert_int_equal(
        store_grant_end(conn, id, "live", GRANT_REVOKED, "bob", NULL, T0 + 700001, &err),
        OB_ECONFLICT);
    CHECK_OK(store_grant_list, conn, "live", NULL, 10, &rows, &n);
    assert_int_equal(n, 0);
    grant_row_array_free(rows, n);
    CHECK_OK(store_grant_list, conn, NULL, "alice", 10, &rows, &n);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].state, "expired");
    assert_string_equal(rows[0].ended_by, "system");
    grant_row_array_free(rows, n);
    conn_put(conn);
}

static void test_pending_expires_and_cannot_be_approved_late(void **state)
{
    static const char *const hosts[] = {"db1"};
    struct store_conn *conn = conn_get();
    struct ob_error err = {0};
    int64_t id, *due = NULL;
    size_t n = 0;

    id = new_grant(conn, "carol", GRANT_PENDING, hosts, 1, T0);
    assert_int_equal(store_grant_activate(conn, id, "bob", T0 + 3600000, &err), OB_ECONFLICT);
    CHECK_OK(store_grants_due, conn, T0 + 3600000, &due, &n);
    assert_int_equal(n, 1);
    assert_int_equal(due[0], id);
    free(due);
    CHECK_OK(store_grant_end, conn, id, "live", GRANT_REVOKED, "carol", "not needed", T0 + 10);
    CHECK_OK(store_grants_due, conn, T0 + 3600000, &due, &n);
    assert_int_equal(n, 0);
    free(due);
    conn_put(conn);
}

static void test_applied_once_and_revoked_serials(void **state)
{
    static const char *const hosts[] = {"web1"};
    struct store_conn *conn = conn_get();
    uint64_t *serials = NULL;
    int first = 0;
    size_t n = 0;
    int64_t id = new_grant(conn, "dave", GRANT_ACTIVE, hosts, 1, T0);
    int64_t other = new_grant(conn, "erin", GRANT_ACTIVE, hosts, 1, T0);

    CHECK_OK(store_grant_applied, conn, id, "web1", T0 + 5, &first);
    assert_int_equal(first, 1);
    CHECK_OK(store_grant_applied, conn, id, "web1", T0 + 6, &first);
    assert_int_equal(first, 0);

    CHECK_OK(store_grant_cert_insert, conn, id, UINT64_C(9000000000000000001), "SHA256:x",
             T0 + 600000, T0);
    CHECK_OK(store_grant_cert_insert, conn, id, 42, "SHA256:y", T0 + 600000, T0);
    CHECK_OK(store_grant_cert_insert, conn, other, 7, "SHA256:z", T0 + 600000, T0);
    CHECK_OK(store_revoked_cert_serials, conn, T0 + 1, &serials, &n);
    assert_int_equal(n, 0);
    free(serials);
    CHECK_OK(store_grant_end, conn, id, "live", GRANT_REVOKED, "dave", NULL, T0 + 10);
    CHECK_OK(store_revoked_cert_serials, conn, T0 + 11, &serials, &n);
    assert_int_equal(n, 2);
    assert_true(serials[0] == 42);
    assert_true(serials[1] == UINT64_C(9000000000000000001));
    free(serials);
    /* Past their validity, revoked certificates need no KRL entry. */
    CHECK_OK(store_revoked_cert_serials, conn, T0 + 600000, &serials, &n);
    assert_int_equal(n, 0);
    free(serials);
    conn_put(conn);
}

static void allow(struct store_conn *conn, const char *user, const char *cidr, int64_t seen,
                  int64_t expires, const char *source)
{
    struct allow_row a = {(char *)user, (char *)cidr, (char *)source, seen, seen, expires, NULL};

    CHECK_OK(store_allow_upsert, conn, &a);
}

static void test_allowlist(void **state)
{
    struct store_conn *conn = conn_get();
    struct allow_row *rows = NULL;
    struct ob_error err = {0};
    int64_t deleted = 0;
    size_t n = 0;

    allow(conn, "alice", "203.0.113.1/32", T0 + 100, T0 + 1100, "slack");
    /* An older sighting never moves the entry back. */
    allow(conn, "alice", "203.0.113.1/32", T0 + 50, T0 + 1050, "link");
    CHECK_OK(store_allow_list, conn, "alice", T0, &rows, &n);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].last_seen_ms, T0 + 100);
    assert_int_equal(rows[0].first_seen_ms, T0 + 50);
    assert_int_equal(rows[0].expires_at_ms, T0 + 1100);
    assert_string_equal(rows[0].source, "slack");
    allow_row_array_free(rows, n);

    allow(conn, "alice", "203.0.113.2/32", T0 + 200, T0 + 1200, "link");
    allow(conn, "alice", "2001:db8::7/128", T0 + 300, T0 + 1300, "slack");
    allow(conn, "bob", "192.0.2.9/32", T0 + 300, T0 + 400, "slack");
    CHECK_OK(store_allow_trim, conn, "alice", 2);
    CHECK_OK(store_allow_list, conn, "alice", T0, &rows, &n);
    assert_int_equal(n, 2); /* the oldest went */
    assert_string_equal(rows[0].cidr, "2001:db8::7/128");
    assert_string_equal(rows[1].cidr, "203.0.113.2/32");
    allow_row_array_free(rows, n);

    CHECK_OK(store_allow_list, conn, NULL, T0 + 500, &rows, &n);
    assert_int_equal(n, 2); /* bob's expired */
    allow_row_array_free(rows, n);
    CHECK_OK(store_allow_purge, conn, T0 + 500, &deleted);
    assert_int_equal(deleted, 1);
    CHECK_OK(store_allow_delete, conn, "alice", "203.0.113.2/32");
    assert_int_equal(store_allow_delete(conn, "alice", "203.0.113.2/32", &err), OB_ENOTFOUND);
    conn_put(conn);
}

static void test_links_are_used_once(void **state)
{
    struct store_conn *conn = conn_get();
    struct ob_error err = {0};
    char *user = NULL;

    CHECK_OK(store_link_insert, conn, "aa", "alice", "slack:U1", T0, T0 + 600000);
    CHECK_OK(store_link_insert, conn, "bb", "bob", "slack:U2", T0, T0 + 600000);
    CHECK_OK(store_link_use, conn, "aa", "203.0.113.5", T0 + 10, &user);
    assert_string_equal(user, "alice");
    free(user);
    assert_int_equal(store_link_use(conn, "aa", "203.0.113.6", T0 + 20, &user, &err), OB_ECONFLICT);
    assert_null(user);
    assert_int_equal(store_link_use(conn, "bb", "203.0.113.6", T0 + 600000, &user, &err),
                     OB_EUNAUTH);
    assert_int_equal(store_link_use(conn, "cc", "203.0.113.6", T0, &user, &err), OB_ENOTFOUND);
    conn_put(conn);
}

static void test_kv_and_token_bindings(void **state)
{
    struct store_conn *conn = conn_get();
    struct store_token t = {0}, got = {0};
    struct ob_error err = {0};
    char *value = NULL;

    assert_int_equal(store_kv_get(conn, "slack.cursor", &value, &err), OB_ENOTFOUND);
    CHECK_OK(store_kv_set, conn, "slack.cursor", "abc", T0);
    CHECK_OK(store_kv_set, conn, "slack.cursor", "def", T0 + 1);
    CHECK_OK(store_kv_get, conn, "slack.cursor", &value);
    assert_string_equal(value, "def");
    free(value);

    t.name = "web1";
    t.scope = "read";
    t.created_by = "cli:root";
    t.agent_host = "web1";
    CHECK_OK(store_token_insert, conn, &t,
             "0000000000000000000000000000000000000000000000000000000000000001");
    CHECK_OK(store_token_get, conn, t.id, &got);
    assert_string_equal(got.agent_host, "web1");
    assert_null(got.user_name);
    store_token_release(&got);
    conn_put(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_open, test_teardown),
        cmocka_unit_test_teardown(test_grant_lifecycle, test_teardown),
        cmocka_unit_test_teardown(test_pending_expires_and_cannot_be_approved_late, test_teardown),
        cmocka_unit_test_teardown(test_applied_once_and_revoked_serials, test_teardown),
        cmocka_unit_test_teardown(test_allowlist, test_teardown),
        cmocka_unit_test_teardown(test_links_are_used_once, test_teardown),
        cmocka_unit_test_teardown(test_kv_and_token_bindings, test_teardown),
    };
    char name[64];

    if (store_suite_begin("store_access", "opsbell-access", "opsbell.db", name, sizeof(name)) != 0)
        return 1;
    return cmocka_run_group_tests_name(name, tests, group_setup, group_teardown);
}
