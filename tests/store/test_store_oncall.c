/*
 * test_store_oncall.c - schedule overrides and iCal feed tokens (schema
 * migration 3), on every driver.
 *
 * Runs against OPSBELL_TEST_STORE_URL, or, when unset, a sqlite: file in a
 * fresh temporary directory.  A PostgreSQL database is wiped first (DROP
 * SCHEMA public CASCADE), so point it only at a throwaway database, e.g.
 *   url=$(scripts/pg-test.sh start /tmp/pg | tail -1)
 *   OPSBELL_TEST_STORE_URL=$url build/dev/tests/store/test_store_oncall
 *   scripts/pg-test.sh stop /tmp/pg
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/oncall.h"
#include "store/store_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOUR INT64_C(3600000)

/* ---- helpers ----------------------------------------------------------------- */

/* Insert an override in its own transaction; returns the store's code. */
static int add_override(const char *schedule, const char *user, int64_t from, int64_t until,
                        int64_t *id, int64_t *conflict, struct ob_error *err)
{
    struct override_row o = {.schedule = (char *)schedule,
                             .user_name = (char *)user,
                             .starts_at_ms = from,
                             .ends_at_ms = until,
                             .reason = "swap",
                             .created_by = "token:test",
                             .created_at_ms = T0};
    struct store_conn *conn = conn_get();
    int rc = store_begin(conn, err);

    if (rc == 0)
        rc = store_override_insert(conn, &o, conflict, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    else
        store_rollback(conn);
    conn_put(conn);
    if (id != NULL)
        *id = o.id;
    return rc;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_open(void **state)
{
    struct ob_error err;
    int version = -1;

    if (store_open(g.url, 3, &g.store, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    assert_int_equal(store_schema_version(g.store, &version, &err), 0);
    assert_true(version >= 3);
}

static void test_override_insert_get(void **state)
{
    struct override_row got;
    struct store_conn *conn;
    struct ob_error err;
    int64_t id = 0;

    assert_int_equal(add_override("ops-primary", "ann", T0 + HOUR, T0 + 3 * HOUR, &id, NULL, &err),
                     0);
    assert_true(id > 0);
    conn = conn_get();
    CHECK_OK(store_override_get, conn, id, &got);
    assert_string_equal(got.schedule, "ops-primary");
    assert_string_equal(got.user_name, "ann");
    assert_true(got.starts_at_ms == T0 + HOUR);
    assert_true(got.ends_at_ms == T0 + 3 * HOUR);
    assert_string_equal(got.reason, "swap");
    assert_string_equal(got.created_by, "token:test");
    assert_true(got.created_at_ms == T0);
    assert_true(got.deleted_at_ms == 0);
    assert_null(got.deleted_by);
    override_row_release(&got);

    assert_int_equal(store_override_get(conn, id + 1000, &got, &err), OB_ENOTFOUND);
    conn_put(conn);
}

static void test_override_refuses_bad_input(void **state)
{
    struct override_row o = {.schedule = "ops-primary",
                             .user_name = "ann",
                             .starts_at_ms = T0 + 5 * HOUR,
                             .ends_at_ms = T0 + 5 * HOUR,
                             .created_by = "token:test"};
    struct store_conn *conn = conn_get();
    struct ob_error err;

    /* Inverted (or empty) is refused before the database sees it... */
    assert_int_equal(store_override_insert(conn, &o, NULL, &err), OB_EINVAL);
    o.ends_at_ms = T0 + 6 * HOUR;
    o.user_name = "";
    assert_int_equal(store_override_insert(conn, &o, NULL, &err), OB_EINVAL);
    o.user_name = "ann";
    o.schedule = NULL;
    assert_int_equal(store_override_insert(conn, &o, NULL, &err), OB_EINVAL);
    /* ...and by the schema itself. */
    {
        struct db_param p[2] = {DB_P_INT(T0 + 2 * HOUR), DB_P_INT(T0 + HOUR)};
        assert_int_not_equal(store_exec(conn,
                                        "INSERT INTO schedule_overrides (schedule, user_name, "
                                        "starts_at, ends_at, created_by, created_at) VALUES "
                                        "('x', 'ann', $1, $2, 'me', 0)",
                                        p, 2, NULL, NULL, &err),
                             0);
    }
    conn_put(conn);
}

static void test_override_overlap(void **state)
{
    struct ob_error err;
    int64_t first = 0, id = 0, conflict = 0;

    assert_int_equal(add_override("db-primary", "bob", T0, T0 + 4 * HOUR, &first, NULL, &err), 0);
    /* Overlapping on either side or inside: refused, naming the other one. */
    assert_int_equal(
        add_override("db-primary", "carl", T0 + 3 * HOUR, T0 + 5 * HOUR, &id, &conflict, &err),
        OB_ECONFLICT);
    assert_true(conflict == first);
    {
        char want[32];
        snprintf(want, sizeof(want), "override %lld", (long long)first);
        assert_non_null(strstr(err.msg, want));
    }
    conflict = 0;
    assert_int_equal(add_override("db-primary", "carl", T0 - HOUR, T0 + HOUR, &id, &conflict, &err),
                     OB_ECONFLICT);
    assert_true(conflict == first);
    assert_int_equal(add_override("db-primary", "carl", T0 + HOUR, T0 + 2 * HOUR, &id, NULL, &err),
                     OB_ECONFLICT);
    /* Touching is not overlapping: [from, until). */
    assert_int_equal(
        add_override("db-primary", "carl", T0 + 4 * HOUR, T0 + 5 * HOUR, &id, NULL, &err), 0);
    assert_int_equal(add_override("db-primary", "carl", T0 - HOUR, T0, &id, NULL, &err), 0);
    /* Another schedule is another timeline. */
    assert_int_equal(add_override("db-secondary", "carl", T0, T0 + 4 * HOUR, &id, NULL, &err), 0);
}

static void test_override_lists_and_delete(void **state)
{
    struct override_row *rows = NULL, got;
    struct store_conn *conn;
    struct ob_error err;
    size_t n = 0;
    int64_t a = 0, b = 0, c = 0;

    assert_int_equal(add_override("web", "ann", T0, T0 + HOUR, &a, NULL, &err), 0);
    assert_int_equal(add_override("web", "bob", T0 + 2 * HOUR, T0 + 3 * HOUR, &b, NULL, &err), 0);
    assert_int_equal(add_override("web", "carl", T0 - 3 * HOUR, T0 - 2 * HOUR, &c, NULL, &err), 0);
    conn = conn_get();

    /* The window [T0 + 30m, T0 + 2h) sees only the first (ends at T0 + 1h;
     * the second starts exactly at the window's end). */
    CHECK_OK(store_override_list_window, conn, "web", T0 + HOUR / 2, T0 + 2 * HOUR, &rows, &n);
    assert_int_equal(n, 1);
    assert_true(rows[0].id == a);
    override_row_array_free(rows, n);
    CHECK_OK(store_override_list_window, conn, "web", T0 - 10 * HOUR, T0 + 10 * HOUR, &rows, &n);
    assert_int_equal(n, 3);
    assert_true(rows[0].id == c && rows[1].id == a && rows[2].id == b); /* by start */
    override_row_array_free(rows, n);
    /* Every schedule's: "web" and the ones of earlier tests. */
    CHECK_OK(store_override_list_window, conn, NULL, T0 - 10 * HOUR, T0 + 10 * HOUR, &rows, &n);
    assert_true(n > 3);
    for (size_t i = 1; i < n; i++)
        assert_true(rows[i - 1].starts_at_ms <= rows[i].starts_at_ms);
    override_row_array_free(rows, n);

    /* Current at T0 + 30m: the one in force and the one to come. */
    CHECK_OK(store_override_list_current, conn, "web", T0 + HOUR / 2, &rows, &n);
    assert_int_equal(n, 2);
    assert_true(rows[0].id == a && rows[1].id == b);
    override_row_array_free(rows, n);
    assert_int_equal(store_override_list_current(conn, NULL, T0, &rows, &n, &err), OB_EINVAL);

    /* Delete: marked, kept, gone from the lists; twice is a conflict. */
    CHECK_OK(store_override_delete, conn, a, "token:ops", T0 + 100);
    assert_int_equal(store_override_delete(conn, a, "token:ops", T0 + 200, &err), OB_ECONFLICT);
    assert_int_equal(store_override_delete(conn, a + 1000, "token:ops", T0, &err), OB_ENOTFOUND);
    CHECK_OK(store_override_get, conn, a, &got);
    assert_true(got.deleted_at_ms == T0 + 100);
    assert_string_equal(got.deleted_by, "token:ops");
    override_row_release(&got);
    CHECK_OK(store_override_list_current, conn, "web", T0 + HOUR / 2, &rows, &n);
    assert_int_equal(n, 1);
    assert_true(rows[0].id == b);
    override_row_array_free(rows, n);
    conn_put(conn);

    /* A deleted override no longer blocks its time. */
    assert_int_equal(add_override("web", "dan", T0, T0 + HOUR, NULL, NULL, &err), 0);
}

static void test_ical_feeds(void **state)
{
    struct ical_feed u = {.kind = "user", .subject = "ann", .created_by = "token:test"};
    struct ical_feed s = {.kind = "schedule", .subject = "web", .created_by = "token:test"};
    struct ical_feed bad = {.kind = "team", .subject = "x", .created_by = "token:test"};
    struct ical_feed got, *rows = NULL;
    struct store_conn *conn = conn_get();
    struct ob_error err;
    char h1[65], h2[65], upper[65];
    size_t n = 0;

    memset(h1, 'a', 64);
    h1[64] = '\0';
    memset(h2, 'b', 64);
    h2[64] = '\0';
    CHECK_OK(store_ical_feed_insert, conn, &u, h1);
    CHECK_OK(store_ical_feed_insert, conn, &s, h2);
    assert_true(u.id > 0 && s.id > u.id);
    assert_int_equal(store_ical_feed_insert(conn, &u, h1, &err), OB_ECONFLICT);
    assert_int_equal(store_ical_feed_insert(conn, &bad, h1, &err), OB_EINVAL);
    assert_int_equal(store_ical_feed_insert(conn, &s, "abc", &err), OB_EINVAL);

    /* Found by hash (in either case), not by anything else. */
    memset(upper, 'A', 64);
    upper[64] = '\0';
    CHECK_OK(store_ical_feed_find_by_hash, conn, upper, &got);
    assert_true(got.id == u.id);
    assert_string_equal(got.kind, "user");
    assert_string_equal(got.subject, "ann");
    assert_string_equal(got.created_by, "token:test");
    assert_true(got.revoked_at_ms == 0);
    ical_feed_release(&got);
    memset(upper, 'c', 64);
    assert_int_equal(store_ical_feed_find_by_hash(conn, upper, &got, &err), OB_ENOTFOUND);

    CHECK_OK(store_ical_feed_list, conn, &rows, &n);
    assert_int_equal(n, 2);
    assert_true(rows[0].id == u.id && rows[1].id == s.id);
    assert_string_equal(rows[1].kind, "schedule");
    ical_feed_array_free(rows, n);

    /* Revoked: not found by hash any more, still listed. */
    CHECK_OK(store_ical_feed_revoke, conn, s.id, T0);
    assert_int_equal(store_ical_feed_revoke(conn, s.id, T0, &err), OB_ECONFLICT);
    assert_int_equal(store_ical_feed_revoke(conn, s.id + 100, T0, &err), OB_ENOTFOUND);
    assert_int_equal(store_ical_feed_find_by_hash(conn, h2, &got, &err), OB_ENOTFOUND);
    CHECK_OK(store_ical_feed_get, conn, s.id, &got);
    assert_true(got.revoked_at_ms == T0);
    ical_feed_release(&got);
    CHECK_OK(store_ical_feed_list, conn, &rows, &n);
    assert_int_equal(n, 2);
    ical_feed_array_free(rows, n);
    conn_put(conn);
}

/* An override and whatever else the caller wrote go or stay together. */
static void test_override_rolls_back(void **state)
{
    struct override_row o = {.schedule = "rollback",
                             .user_name = "ann",
                             .starts_at_ms = T0,
                             .ends_at_ms = T0 + HOUR,
                             .created_by = "token:test"};
    struct override_row *rows = NULL;
    struct store_conn *conn = conn_get();
    struct ob_error err;
    size_t n = 0;

    CHECK_OK(store_begin, conn);
    CHECK_OK(store_override_insert, conn, &o, NULL);
    store_rollback(conn);
    CHECK_OK(store_override_list_window, conn, "rollback", 0, INT64_MAX, &rows, &n);
    assert_int_equal(n, 0);
    override_row_array_free(rows, n);
    conn_put(conn);
    assert_int_equal(add_override("rollback", "bob", T0, T0 + HOUR, NULL, NULL, &err), 0);
}

/* ---- main -------------------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_open, test_teardown),
        cmocka_unit_test_teardown(test_override_insert_get, test_teardown),
        cmocka_unit_test_teardown(test_override_refuses_bad_input, test_teardown),
        cmocka_unit_test_teardown(test_override_overlap, test_teardown),
        cmocka_unit_test_teardown(test_override_lists_and_delete, test_teardown),
        cmocka_unit_test_teardown(test_ical_feeds, test_teardown),
        cmocka_unit_test_teardown(test_override_rolls_back, test_teardown),
    };
    char name[64];

    if (store_suite_begin("store_oncall", "opsbell-oncall", "opsbell.db", name, sizeof(name)) != 0)
        return 1;
    return cmocka_run_group_tests_name(name, tests, group_setup, group_teardown);
}
