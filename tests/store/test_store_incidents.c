/*
 * test_store_incidents.c - the incident, alert, timeline, silence and
 * heartbeat queries (schema migration 2), on every driver.
 *
 * Runs against OPSBELL_TEST_STORE_URL, or, when unset, a sqlite: file in a
 * fresh temporary directory.  A PostgreSQL database is wiped first (DROP
 * SCHEMA public CASCADE), so point it only at a throwaway database, e.g.
 *   url=$(scripts/pg-test.sh start /tmp/pg | tail -1)
 *   OPSBELL_TEST_STORE_URL=$url build/dev/tests/store/test_store_incidents
 *   scripts/pg-test.sh stop /tmp/pg
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/incidents.h"
#include "store/store_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------------- */

static void resolve_ok(struct store_conn *conn, int64_t id, int64_t at_ms)
{
    struct ob_error err;

    if (store_incident_set_status(conn, id, "resolved", "cli:root", at_ms, &err) != 0)
        fail_msg("resolve incident %lld: %s", (long long)id, err.msg);
}

/* ---- schema ------------------------------------------------------------------------- */

static void test_open_at_version_2(void **state)
{
    struct ob_error err;
    int version = -1;

    if (store_open(g.url, 2, &g.store, &err) != 0)
        fail_msg("store_open: %s", err.msg);
    assert_int_equal(store_schema_version(g.store, &version, &err), 0);
    assert_true(store_latest_schema_version() >= 2);
    assert_int_equal(version, store_latest_schema_version());
}

/*
 * A database at version 1 (tokens, audit) is migrated to the latest version
 * and keeps its rows. Version 1 is made by undoing the later migrations by
 * hand: they create tables (and their indexes) and add two token columns.
 */
static void test_migrate_from_version_1(void **state)
{
    static const char *const drops[] = {"DROP TABLE grant_hosts",
                                        "DROP TABLE grant_certs",
                                        "DROP TABLE grant_applied",
                                        "DROP TABLE grants",
                                        "DROP TABLE allowlist",
                                        "DROP TABLE allow_links",
                                        "DROP TABLE kv",
                                        "ALTER TABLE api_tokens DROP COLUMN user_name",
                                        "ALTER TABLE api_tokens DROP COLUMN agent_host",
                                        "DROP TABLE ical_feeds",
                                        "DROP TABLE schedule_overrides",
                                        "DROP TABLE contact_verifications",
                                        "DROP TABLE outbox",
                                        "DROP TABLE escalation_steps",
                                        "DROP TABLE escalations",
                                        "DROP TABLE heartbeats",
                                        "DROP TABLE silences",
                                        "DROP TABLE alerts",
                                        "DROP TABLE incident_events",
                                        "DROP TABLE incidents",
                                        "DELETE FROM schema_migrations WHERE version >= 2"};
    struct store_token t = {.name = "before-v2", .scope = "admin", .created_by = "cli:root"};
    struct store_token got;
    struct store_conn *conn = conn_get();
    struct store *again = NULL;
    struct ob_error err;
    char hash[65];
    int version = -1;

    memset(hash, 'e', 64);
    hash[64] = '\0';
    if (store_token_insert(conn, &t, hash, &err) != 0)
        fail_msg("token insert: %s", err.msg);
    for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++)
        exec_ok(conn, drops[i], NULL, 0);
    assert_int_equal(count_rows(conn, "SELECT MAX(version) FROM schema_migrations", NULL, 0), 1);
    conn_put(conn);

    /* Re-open the shared store so that no cached statement on one of its
     * connections refers to a dropped table. */
    store_close(g.store);
    g.store = NULL;
    if (store_open(g.url, 2, &g.store, &err) != 0)
        fail_msg("migrate 1 -> 2: %s", err.msg);
    assert_int_equal(store_schema_version(g.store, &version, &err), 0);
    assert_int_equal(version, store_latest_schema_version());

    conn = conn_get();
    assert_int_equal(store_token_find_by_hash(conn, hash, &got, &err), 0);
    assert_true(got.id == t.id);
    assert_string_equal(got.name, "before-v2");
    store_token_release(&got);
    assert_int_equal(count_rows(conn, "SELECT COUNT(*) FROM incidents", NULL, 0), 0);
    assert_int_equal(count_rows(conn, "SELECT COUNT(*) FROM heartbeats", NULL, 0), 0);
    conn_put(conn);

    /* And again: nothing left to do, nothing recorded twice. */
    if (store_open(g.url, 1, &again, &err) != 0)
        fail_msg("reopen: %s", err.msg);
    assert_int_equal(store_schema_version(again, &version, &err), 0);
    assert_int_equal(version, store_latest_schema_version());
    store_close(again);
    conn = conn_get();
    assert_int_equal(count_rows(conn, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     store_latest_schema_version());
    conn_put(conn);
}

/* ---- incidents ---------------------------------------------------------------------- */

static void test_incident_insert_find_get(void **state)
{
    struct store_conn *conn = conn_get();
    struct incident inc = {.service = "payments",
                           .team = "core",
                           .incident_key = "db-down",
                           .summary = "Database dömn ✓",
                           .severity = "critical",
                           .silenced = true,
                           .alert_count = 2,
                           .open_alerts = 1,
                           .created_at_ms = T0};
    struct incident dup = inc;
    struct incident got;
    struct ob_error err;

    assert_int_equal(store_incident_insert(conn, &inc, "payments\ndb-down", &err), 0);
    assert_true(inc.id > 0);
    assert_true(inc.updated_at_ms == T0);

    assert_int_equal(store_incident_find_open(conn, "payments\ndb-down", &got, &err), 0);
    assert_true(got.id == inc.id);
    assert_string_equal(got.service, "payments");
    assert_string_equal(got.team, "core");
    assert_string_equal(got.incident_key, "db-down");
    assert_string_equal(got.status, "triggered");
    assert_string_equal(got.summary, "Database dömn ✓");
    assert_string_equal(got.severity, "critical");
    assert_true(got.silenced);
    assert_true(got.alert_count == 2);
    assert_true(got.open_alerts == 1);
    assert_true(got.created_at_ms == T0);
    assert_true(got.updated_at_ms == T0);
    assert_true(got.acknowledged_at_ms == 0);
    assert_null(got.acknowledged_by);
    assert_true(got.resolved_at_ms == 0);
    assert_null(got.resolved_by);
    incident_release(&got);

    assert_int_equal(store_incident_get(conn, inc.id, &got, &err), 0);
    assert_true(got.id == inc.id);
    assert_string_equal(got.incident_key, "db-down");
    incident_release(&got);

    assert_int_equal(store_incident_get(conn, inc.id + 1000, &got, &err), OB_ENOTFOUND);
    assert_int_equal(err.code, OB_ENOTFOUND);
    assert_null(got.service);
    assert_int_equal(store_incident_find_open(conn, "payments\nother", &got, &err), OB_ENOTFOUND);

    /* Invalid input. */
    dup.status = "resolved";
    assert_int_equal(store_incident_insert(conn, &dup, "x\ny", &err), OB_EINVAL);
    dup.status = NULL;
    dup.team = NULL;
    assert_int_equal(store_incident_insert(conn, &dup, "x\ny", &err), OB_EINVAL);
    dup.team = "core";
    assert_int_equal(store_incident_insert(conn, &dup, "", &err), OB_EINVAL);
    assert_int_equal(store_incident_insert(conn, &dup, NULL, &err), OB_EINVAL);

    incident_release(NULL);
    incident_array_free(NULL, 0);
    conn_put(conn);
}

/* One open incident per key; after resolve, the key opens a new one. */
static void test_incident_open_key_is_unique(void **state)
{
    struct store_conn *conn = conn_get();
    struct incident inc = {.service = "web",
                           .team = "frontend",
                           .incident_key = "5xx",
                           .summary = "errors",
                           .severity = "error",
                           .created_at_ms = T0};
    struct incident got;
    struct ob_error err;
    int64_t first, second;

    assert_int_equal(store_incident_insert(conn, &inc, "web\n5xx", &err), 0);
    first = inc.id;
    inc.id = 0;
    assert_int_equal(store_incident_insert(conn, &inc, "web\n5xx", &err), OB_ECONFLICT);
    assert_int_equal(err.code, OB_ECONFLICT);
    assert_true(inc.id == 0);

    /* The same inside a transaction that the pipeline would run. */
    CHECK_OK(store_begin, conn);
    assert_int_equal(store_incident_insert(conn, &inc, "web\n5xx", &err), OB_ECONFLICT);
    store_rollback(conn);

    resolve_ok(conn, first, T0 + 10);
    assert_int_equal(store_incident_find_open(conn, "web\n5xx", &got, &err), OB_ENOTFOUND);
    /* Re-trigger: a new incident under the same key. */
    assert_int_equal(store_incident_insert(conn, &inc, "web\n5xx", &err), 0);
    second = inc.id;
    assert_true(second > first);
    assert_int_equal(store_incident_find_open(conn, "web\n5xx", &got, &err), 0);
    assert_true(got.id == second);
    incident_release(&got);
    /* The resolved one is still there, keyless. */
    assert_int_equal(store_incident_get(conn, first, &got, &err), 0);
    assert_string_equal(got.status, "resolved");
    incident_release(&got);
    {
        struct db_param p = DB_P_INT(first);

        assert_int_equal(
            count_rows(conn, "SELECT COUNT(*) FROM incidents WHERE id = $1 AND open_key IS NULL",
                       &p, 1),
            1);
    }
    resolve_ok(conn, second, T0 + 20);
    conn_put(conn);
}

static void test_incident_set_status(void **state)
{
    struct store_conn *conn = conn_get();
    int64_t a = new_incident(conn, "api", "core", "latency", T0);
    int64_t b = new_incident(conn, "api", "core", "cpu", T0);
    struct incident got;
    struct ob_error err;

    /* triggered -> acknowledged */
    assert_int_equal(
        store_incident_set_status(conn, a, "acknowledged", "token:alice", T0 + 5, &err), 0);
    assert_int_equal(store_incident_get(conn, a, &got, &err), 0);
    assert_string_equal(got.status, "acknowledged");
    assert_true(got.acknowledged_at_ms == T0 + 5);
    assert_string_equal(got.acknowledged_by, "token:alice");
    assert_true(got.updated_at_ms == T0 + 5);
    assert_true(got.resolved_at_ms == 0);
    assert_null(got.resolved_by);
    incident_release(&got);
    /* still open: find_open sees it */
    assert_int_equal(store_incident_find_open(conn, "api\nlatency", &got, &err), 0);
    assert_true(got.id == a);
    incident_release(&got);

    /* ack twice */
    assert_int_equal(store_incident_set_status(conn, a, "acknowledged", "token:bob", T0 + 6, &err),
                     OB_ECONFLICT);
    assert_non_null(strstr(err.msg, "already acknowledged"));
    /* acknowledged -> resolved */
    assert_int_equal(store_incident_set_status(conn, a, "resolved", "token:bob", T0 + 7, &err), 0);
    assert_int_equal(store_incident_get(conn, a, &got, &err), 0);
    assert_string_equal(got.status, "resolved");
    assert_true(got.resolved_at_ms == T0 + 7);
    assert_string_equal(got.resolved_by, "token:bob");
    assert_true(got.acknowledged_at_ms == T0 + 5); /* kept */
    assert_string_equal(got.acknowledged_by, "token:alice");
    incident_release(&got);
    assert_int_equal(store_incident_find_open(conn, "api\nlatency", &got, &err), OB_ENOTFOUND);

    /* resolve twice, ack after resolve */
    assert_int_equal(store_incident_set_status(conn, a, "resolved", "token:bob", T0 + 8, &err),
                     OB_ECONFLICT);
    assert_non_null(strstr(err.msg, "already resolved"));
    assert_int_equal(store_incident_set_status(conn, a, "acknowledged", "token:bob", T0 + 8, &err),
                     OB_ECONFLICT);
    assert_non_null(strstr(err.msg, "already resolved"));
    /* nothing changed by the refusals */
    assert_int_equal(store_incident_get(conn, a, &got, &err), 0);
    assert_true(got.resolved_at_ms == T0 + 7);
    assert_true(got.updated_at_ms == T0 + 7);
    incident_release(&got);

    /* triggered -> resolved directly */
    assert_int_equal(store_incident_set_status(conn, b, "resolved", "alertmanager", T0 + 9, &err),
                     0);
    assert_int_equal(store_incident_get(conn, b, &got, &err), 0);
    assert_string_equal(got.status, "resolved");
    assert_true(got.acknowledged_at_ms == 0);
    assert_null(got.acknowledged_by);
    incident_release(&got);

    /* unknown id, bad status, no actor */
    assert_int_equal(
        store_incident_set_status(conn, b + 1000, "resolved", "token:bob", T0 + 9, &err),
        OB_ENOTFOUND);
    assert_int_equal(
        store_incident_set_status(conn, b + 1000, "acknowledged", "token:bob", T0 + 9, &err),
        OB_ENOTFOUND);
    assert_int_equal(store_incident_set_status(conn, b, "triggered", "token:bob", T0 + 9, &err),
                     OB_EINVAL);
    assert_int_equal(store_incident_set_status(conn, b, "bogus", "token:bob", T0 + 9, &err),
                     OB_EINVAL);
    assert_int_equal(store_incident_set_status(conn, b, NULL, "token:bob", T0 + 9, &err),
                     OB_EINVAL);
    assert_int_equal(store_incident_set_status(conn, b, "resolved", NULL, T0 + 9, &err), OB_EINVAL);

    /* A refusal inside a transaction does not doom it. */
    CHECK_OK(store_begin, conn);
    assert_int_equal(store_incident_set_status(conn, b, "resolved", "token:bob", T0 + 9, &err),
                     OB_ECONFLICT);
    CHECK_OK(store_commit, conn);
    conn_put(conn);
}

static void test_incident_count_alerts(void **state)
{
    struct store_conn *conn = conn_get();
    int64_t id = new_incident(conn, "queue", "core", "backlog", T0); /* 1 alert, 1 open */
    int64_t open = -1;
    struct incident got;
    struct ob_error err;

    assert_int_equal(store_incident_count_alerts(conn, id, 1, 1, T0 + 1, &open, &err), 0);
    assert_true(open == 2);
    assert_int_equal(store_incident_count_alerts(conn, id, 3, 0, T0 + 2, &open, &err), 0);
    assert_true(open == 2);
    assert_int_equal(store_incident_count_alerts(conn, id, 0, -1, T0 + 3, &open, &err), 0);
    assert_true(open == 1);
    assert_int_equal(store_incident_count_alerts(conn, id, 1, 0, T0 + 4, NULL, &err), 0);
    assert_int_equal(store_incident_get(conn, id, &got, &err), 0);
    assert_true(got.alert_count == 6);
    assert_true(got.open_alerts == 1);
    assert_true(got.updated_at_ms == T0 + 4);
    incident_release(&got);
    assert_int_equal(store_incident_count_alerts(conn, id, 0, -1, T0 + 5, &open, &err), 0);
    assert_true(open == 0);

    /* Below zero is refused and changes nothing. */
    assert_int_equal(store_incident_count_alerts(conn, id, 0, -1, T0 + 6, &open, &err),
                     OB_ECONFLICT);
    assert_int_equal(store_incident_get(conn, id, &got, &err), 0);
    assert_true(got.open_alerts == 0);
    assert_true(got.alert_count == 6);
    assert_true(got.updated_at_ms == T0 + 5);
    incident_release(&got);

    assert_int_equal(store_incident_count_alerts(conn, id + 1000, 1, 1, T0, &open, &err),
                     OB_ENOTFOUND);
    resolve_ok(conn, id, T0 + 7);
    conn_put(conn);
}

static void test_incident_list(void **state)
{
    struct store_conn *conn = conn_get();
    struct incident_filter f;
    struct incident *list = NULL;
    size_t count = 0;
    int64_t ids[12];
    struct ob_error err;

    /* Start from an empty table: earlier tests left incidents behind. */
    exec_ok(conn, "DELETE FROM incident_events", NULL, 0);
    exec_ok(conn, "DELETE FROM incidents", NULL, 0);

    /* svc-a/team-x: 0..5, svc-b/team-y: 6..11; every third resolved, 4 and 10 acked. */
    for (int i = 0; i < 12; i++) {
        char key[32];

        snprintf(key, sizeof(key), "k%d", i);
        ids[i] =
            new_incident(conn, i < 6 ? "svc-a" : "svc-b", i < 6 ? "team-x" : "team-y", key, T0 + i);
        if (i > 0)
            assert_true(ids[i] > ids[i - 1]);
    }
    for (int i = 0; i < 12; i += 3)
        resolve_ok(conn, ids[i], T0 + 100);
    CHECK_OK(store_incident_set_status, conn, ids[4], "acknowledged", "u", T0 + 100);
    CHECK_OK(store_incident_set_status, conn, ids[10], "acknowledged", "u", T0 + 100);

    /* All, newest first. */
    assert_int_equal(store_incident_list(conn, NULL, &list, &count, &err), 0);
    assert_int_equal(count, 12);
    for (size_t i = 0; i < count; i++)
        assert_true(list[i].id == ids[11 - i]);
    incident_array_free(list, count);

    memset(&f, 0, sizeof(f));
    f.status = "resolved"; /* 0, 3, 6, 9 */
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 4);
    assert_true(list[0].id == ids[9]);
    assert_true(list[3].id == ids[0]);
    incident_array_free(list, count);

    f.status = "acknowledged";
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_true(list[0].id == ids[10]);
    assert_true(list[1].id == ids[4]);
    incident_array_free(list, count);

    f.status = "triggered"; /* 1, 2, 5, 7, 8, 11 */
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 6);
    incident_array_free(list, count);

    f.status = "open"; /* triggered + acknowledged */
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 8);
    for (size_t i = 0; i < count; i++)
        assert_string_not_equal(list[i].status, "resolved");
    incident_array_free(list, count);

    f.team = "team-x"; /* open in 0..5: 1, 2, 4, 5 */
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 4);
    assert_true(list[0].id == ids[5]);
    assert_true(list[1].id == ids[4]);
    assert_true(list[2].id == ids[2]);
    assert_true(list[3].id == ids[1]);
    incident_array_free(list, count);

    f.status = NULL;
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 6);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(list[i].team, "team-x");
    incident_array_free(list, count);

    f.team = NULL;
    f.service = "svc-b";
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 6);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(list[i].service, "svc-b");
    incident_array_free(list, count);

    f.team = "team-x"; /* svc-b is team-y's */
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_null(list);

    /* Paging: 5 at a time, following before_id. */
    memset(&f, 0, sizeof(f));
    f.limit = 5;
    for (int page = 0, seen = 0; page < 3; page++) {
        assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
        assert_int_equal(count, page < 2 ? 5 : 2);
        for (size_t i = 0; i < count; i++)
            assert_true(list[i].id == ids[11 - seen - (int)i]);
        seen += (int)count;
        f.before_id = list[count - 1].id;
        incident_array_free(list, count);
    }
    /* Paging with a filter. */
    f.before_id = ids[8];
    f.status = "open"; /* below 8: 7, 5, 4, 2, 1 */
    f.limit = 3;
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_true(list[0].id == ids[7]);
    assert_true(list[2].id == ids[4]);
    incident_array_free(list, count);

    f.status = "closed";
    assert_int_equal(store_incident_list(conn, &f, &list, &count, &err), OB_EINVAL);
    assert_null(list);
    conn_put(conn);
}

/* ---- timeline ----------------------------------------------------------------------- */

static void test_incident_timeline(void **state)
{
    static const char *const kinds[] = {"incident.triggered", "alert.attached", "ack", "note",
                                        "resolve"};
    struct store_conn *conn = conn_get();
    int64_t id = new_incident(conn, "tl", "core", "timeline", T0);
    int64_t other = new_incident(conn, "tl", "core", "other", T0);
    struct incident_event *list = NULL;
    struct incident_event ev;
    size_t count = 0;
    int64_t ev_ids[5];
    struct ob_error err;

    for (int i = 0; i < 5; i++) {
        memset(&ev, 0, sizeof(ev));
        ev.incident_id = id;
        /* Same timestamp for two of them: order is by id, the append order. */
        ev.at_ms = i == 2 ? T0 + 1 : T0 + i;
        ev.kind = (char *)kinds[i];
        ev.actor = i == 0 ? NULL : "token:alice";
        ev.message = i == 3 ? "looking into it — ça marche" : NULL;
        ev.data = i == 1 ? "{\"alert_id\": 7}" : NULL;
        assert_int_equal(store_incident_event_append(conn, &ev, &err), 0);
        ev_ids[i] = ev.id;
        if (i > 0)
            assert_true(ev_ids[i] > ev_ids[i - 1]);
    }
    memset(&ev, 0, sizeof(ev));
    ev.incident_id = other;
    ev.kind = "note";
    assert_int_equal(store_incident_event_append(conn, &ev, &err), 0);
    assert_true(ev.at_ms > 0); /* filled in */

    assert_int_equal(store_incident_events(conn, id, 0, &list, &count, &err), 0);
    assert_int_equal(count, 5);
    for (size_t i = 0; i < count; i++) {
        assert_true(list[i].id == ev_ids[i]);
        assert_true(list[i].incident_id == id);
        assert_string_equal(list[i].kind, kinds[i]);
    }
    assert_true(list[0].at_ms == T0);
    assert_null(list[0].actor);
    assert_null(list[0].message);
    assert_null(list[0].data);
    assert_string_equal(list[1].data, "{\"alert_id\": 7}");
    assert_string_equal(list[3].message, "looking into it — ça marche");
    assert_string_equal(list[4].actor, "token:alice");
    incident_event_array_free(list, count);

    /* Oldest first, at most limit. */
    assert_int_equal(store_incident_events(conn, id, 2, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_true(list[0].id == ev_ids[0]);
    assert_true(list[1].id == ev_ids[1]);
    incident_event_array_free(list, count);

    assert_int_equal(store_incident_events(conn, other, 0, &list, &count, &err), 0);
    assert_int_equal(count, 1);
    incident_event_array_free(list, count);
    assert_int_equal(store_incident_events(conn, other + 1000, 0, &list, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_null(list);

    /* Unknown incident, missing kind. */
    memset(&ev, 0, sizeof(ev));
    ev.incident_id = other + 1000;
    ev.kind = "note";
    assert_int_equal(store_incident_event_append(conn, &ev, &err), OB_ENOTFOUND);
    ev.incident_id = id;
    ev.kind = NULL;
    assert_int_equal(store_incident_event_append(conn, &ev, &err), OB_EINVAL);
    ev.incident_id = 0;
    ev.kind = "note";
    assert_int_equal(store_incident_event_append(conn, &ev, &err), OB_EINVAL);

    incident_event_release(NULL);
    incident_event_array_free(NULL, 0);
    resolve_ok(conn, id, T0 + 10);
    resolve_ok(conn, other, T0 + 10);
    conn_put(conn);
}

/* ---- alerts ------------------------------------------------------------------------- */

static struct alert_row alert_template(int64_t incident_id, const char *service,
                                       const char *fingerprint)
{
    struct alert_row a = {.incident_id = incident_id,
                          .service = (char *)service,
                          .source = "alertmanager_api",
                          .fingerprint = (char *)fingerprint,
                          .summary = "High latency",
                          .severity = "warning",
                          .labels = "{\"alertname\":\"HighLatency\",\"job\":\"api\"}",
                          .annotations = "{\"summary\":\"High latency\"}",
                          .source_name = "prometheus",
                          .generator_url = "http://prom:9090/graph?g0.expr=up",
                          .starts_at_ms = T0,
                          .received_at_ms = T0 + 1};

    return a;
}

static void test_alert_lifecycle(void **state)
{
    struct store_conn *conn = conn_get();
    int64_t inc = new_incident(conn, "api", "core", "alerts", T0);
    struct alert_row a = alert_template(inc, "api", "fp1");
    struct alert_row got;
    struct alert_row *list = NULL;
    struct alert_filter f;
    size_t count = 0;
    int64_t first;
    struct ob_error err;

    a.dedup_key = "lat";
    a.details = "{\"x\":1}";
    a.ends_at_ms = T0 + 300000;
    assert_int_equal(store_alert_insert(conn, &a, "api\nlat", &err), 0);
    assert_true(a.id > 0);
    first = a.id;
    assert_true(a.event_count == 1);
    assert_true(a.updated_at_ms == T0 + 1);

    assert_int_equal(store_alert_find_firing(conn, "api\nlat", &got, &err), 0);
    assert_true(got.id == first);
    assert_true(got.incident_id == inc);
    assert_string_equal(got.service, "api");
    assert_string_equal(got.source, "alertmanager_api");
    assert_string_equal(got.status, "firing");
    assert_string_equal(got.fingerprint, "fp1");
    assert_string_equal(got.dedup_key, "lat");
    assert_string_equal(got.summary, "High latency");
    assert_string_equal(got.severity, "warning");
    assert_string_equal(got.labels, "{\"alertname\":\"HighLatency\",\"job\":\"api\"}");
    assert_string_equal(got.annotations, "{\"summary\":\"High latency\"}");
    assert_string_equal(got.details, "{\"x\":1}");
    assert_string_equal(got.source_name, "prometheus");
    assert_string_equal(got.generator_url, "http://prom:9090/graph?g0.expr=up");
    assert_true(got.starts_at_ms == T0);
    assert_true(got.ends_at_ms == T0 + 300000);
    assert_true(got.received_at_ms == T0 + 1);
    assert_true(got.updated_at_ms == T0 + 1);
    assert_true(got.event_count == 1);
    assert_true(got.silenced_by == 0);
    alert_row_release(&got);

    /* A second firing alert with the key is a conflict. */
    assert_int_equal(store_alert_insert(conn, &a, "api\nlat", &err), OB_ECONFLICT);

    /* Repeats: event_count grows, the rest follows the latest event. */
    assert_int_equal(store_alert_refresh(conn, first, "Very high latency",
                                         "{\"summary\":\"Very high latency\"}", 0, 42, T0 + 10,
                                         &err),
                     0);
    assert_int_equal(store_alert_refresh(conn, first, NULL, NULL, T0 + 600000, 0, T0 + 20, &err),
                     0);
    assert_int_equal(store_alert_find_firing(conn, "api\nlat", &got, &err), 0);
    assert_true(got.event_count == 3);
    assert_string_equal(got.summary, "Very high latency"); /* NULL keeps it */
    assert_string_equal(got.annotations, "{\"summary\":\"Very high latency\"}");
    assert_true(got.ends_at_ms == T0 + 600000);
    assert_true(got.updated_at_ms == T0 + 20);
    assert_true(got.silenced_by == 0);
    assert_true(got.starts_at_ms == T0); /* unchanged */
    alert_row_release(&got);
    assert_int_equal(store_alert_refresh(conn, first, "s", "{}", 0, 42, T0 + 30, &err), 0);
    assert_int_equal(store_alert_find_firing(conn, "api\nlat", &got, &err), 0);
    assert_true(got.event_count == 4);
    assert_true(got.ends_at_ms == 0); /* open-ended again */
    assert_true(got.silenced_by == 42);
    alert_row_release(&got);

    /* Resolve: no longer firing; the key fires anew as a new alert. */
    assert_int_equal(store_alert_resolve(conn, first, T0 + 40, &err), 0);
    assert_int_equal(store_alert_find_firing(conn, "api\nlat", &got, &err), OB_ENOTFOUND);
    assert_null(got.fingerprint);
    assert_int_equal(store_alert_resolve(conn, first, T0 + 50, &err), OB_ECONFLICT);
    assert_int_equal(store_alert_refresh(conn, first, "s", "{}", 0, 0, T0 + 50, &err),
                     OB_ECONFLICT);
    assert_int_equal(store_alert_resolve(conn, first + 1000, T0 + 50, &err), OB_ENOTFOUND);
    assert_int_equal(store_alert_refresh(conn, first + 1000, "s", "{}", 0, 0, T0 + 50, &err),
                     OB_ENOTFOUND);

    a.id = 0;
    a.event_count = 0;
    a.received_at_ms = T0 + 60;
    a.updated_at_ms = 0;
    a.starts_at_ms = 0; /* = received */
    a.ends_at_ms = 0;
    a.details = NULL;
    a.dedup_key = NULL;
    a.generator_url = NULL;
    assert_int_equal(store_alert_insert(conn, &a, "api\nlat", &err), 0);
    assert_true(a.id > first);
    assert_int_equal(store_alert_find_firing(conn, "api\nlat", &got, &err), 0);
    assert_true(got.id == a.id);
    assert_true(got.event_count == 1);
    assert_true(got.starts_at_ms == T0 + 60);
    assert_true(got.ends_at_ms == 0);
    assert_null(got.details);
    assert_null(got.dedup_key);
    assert_null(got.generator_url);
    alert_row_release(&got);

    /* Both in the incident's list, newest first; the old one resolved. */
    memset(&f, 0, sizeof(f));
    f.incident_id = inc;
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_true(list[0].id == a.id);
    assert_string_equal(list[0].status, "firing");
    assert_true(list[1].id == first);
    assert_string_equal(list[1].status, "resolved");
    assert_true(list[1].ends_at_ms == T0 + 40);
    assert_true(list[1].updated_at_ms == T0 + 40);
    assert_true(list[1].event_count == 4);
    alert_row_array_free(list, count);
    f.status = "resolved";
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_true(list[0].id == first);
    alert_row_array_free(list, count);

    /* Resolving at a time before the last update keeps updated_at. */
    assert_int_equal(store_alert_resolve(conn, a.id, T0 + 1, &err), 0);
    f.status = NULL;
    f.limit = 1;
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_true(list[0].id == a.id);
    assert_true(list[0].ends_at_ms == T0 + 1);
    assert_true(list[0].updated_at_ms == T0 + 60);
    alert_row_array_free(list, count);

    /* Invalid input. */
    a.status = "resolved";
    assert_int_equal(store_alert_insert(conn, &a, "api\nx", &err), OB_EINVAL);
    a.status = NULL;
    a.fingerprint = NULL;
    assert_int_equal(store_alert_insert(conn, &a, "api\nx", &err), OB_EINVAL);
    a.fingerprint = "fp1";
    assert_int_equal(store_alert_insert(conn, &a, NULL, &err), OB_EINVAL);
    assert_int_equal(store_alert_find_firing(conn, "", &got, &err), OB_EINVAL);
    memset(&f, 0, sizeof(f));
    f.status = "pending";
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), OB_EINVAL);

    alert_row_release(NULL);
    alert_row_array_free(NULL, 0);
    resolve_ok(conn, inc, T0 + 70);
    conn_put(conn);
}

static void test_alert_list_expired(void **state)
{
    struct store_conn *conn = conn_get();
    struct alert_row *list = NULL;
    size_t count = 0;
    int64_t ids[5];
    struct ob_error err;
    /* ends_at: 0 (open-ended), T0+300, T0+100, T0+200, T0+100 (resolved below) */
    static const int64_t ends[] = {0, 300, 100, 200, 100};

    exec_ok(conn, "DELETE FROM alerts", NULL, 0);
    for (int i = 0; i < 5; i++) {
        struct alert_row a = alert_template(0, NULL, "fp-exp");
        char key[32];

        snprintf(key, sizeof(key), "!unroutable\nexp%d", i);
        a.ends_at_ms = ends[i] != 0 ? T0 + ends[i] : 0;
        assert_int_equal(store_alert_insert(conn, &a, key, &err), 0);
        ids[i] = a.id;
    }
    assert_int_equal(store_alert_resolve(conn, ids[4], T0 + 50, &err), 0);

    assert_int_equal(store_alert_list_expired(conn, T0 + 99, 0, &list, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_null(list);
    assert_int_equal(store_alert_list_expired(conn, T0 + 100, 0, &list, &count, &err), 0);
    assert_int_equal(count, 1); /* <= now */
    assert_true(list[0].id == ids[2]);
    alert_row_array_free(list, count);
    /* Oldest ends_at first. */
    assert_int_equal(store_alert_list_expired(conn, T0 + 1000, 0, &list, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_true(list[0].id == ids[2]);
    assert_true(list[1].id == ids[3]);
    assert_true(list[2].id == ids[1]);
    alert_row_array_free(list, count);
    assert_int_equal(store_alert_list_expired(conn, T0 + 1000, 2, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_true(list[1].id == ids[3]);
    alert_row_array_free(list, count);

    /* The sweep resolves them; then nothing is left but the open-ended one. */
    assert_int_equal(store_alert_resolve(conn, ids[1], T0 + 300, &err), 0);
    assert_int_equal(store_alert_resolve(conn, ids[2], T0 + 100, &err), 0);
    assert_int_equal(store_alert_resolve(conn, ids[3], T0 + 200, &err), 0);
    assert_int_equal(store_alert_list_expired(conn, INT64_MAX, 0, &list, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_alert_resolve(conn, ids[0], T0 + 1000, &err), 0);
    conn_put(conn);
}

static void test_alert_unroutable(void **state)
{
    struct store_conn *conn = conn_get();
    int64_t inc = new_incident(conn, "db", "core", "unroutable-test", T0);
    struct alert_row routed = alert_template(inc, "db", "fp-r");
    struct alert_row lost1 = alert_template(0, NULL, "fp-u1");
    struct alert_row lost2 = alert_template(0, NULL, "fp-u2");
    struct alert_row *list = NULL;
    struct alert_filter f;
    size_t count = 0;
    struct ob_error err;

    exec_ok(conn, "DELETE FROM alerts", NULL, 0);
    lost1.labels = NULL; /* stored as {} */
    lost1.annotations = NULL;
    assert_int_equal(store_alert_insert(conn, &lost1, "!unroutable\nfp-u1", &err), 0);
    assert_int_equal(store_alert_insert(conn, &routed, "db\nfp-r", &err), 0);
    assert_int_equal(store_alert_insert(conn, &lost2, "!unroutable\nfp-u2", &err), 0);

    memset(&f, 0, sizeof(f));
    f.unroutable_only = true;
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_true(list[0].id == lost2.id);
    assert_true(list[1].id == lost1.id);
    assert_true(list[1].incident_id == 0);
    assert_null(list[1].service);
    assert_string_equal(list[1].labels, "{}");
    assert_string_equal(list[1].annotations, "{}");
    alert_row_array_free(list, count);

    f.status = "firing";
    assert_int_equal(store_alert_resolve(conn, lost2.id, T0 + 5, &err), 0);
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_true(list[0].id == lost1.id);
    alert_row_array_free(list, count);

    /* Everything, and paging. */
    memset(&f, 0, sizeof(f));
    assert_int_equal(store_alert_list(conn, NULL, &list, &count, &err), 0);
    assert_int_equal(count, 3);
    alert_row_array_free(list, count);
    f.limit = 2;
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_true(list[0].id == lost2.id);
    assert_true(list[1].id == routed.id);
    f.before_id = list[1].id;
    alert_row_array_free(list, count);
    assert_int_equal(store_alert_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_true(list[0].id == lost1.id);
    alert_row_array_free(list, count);

    /* An alert cannot point at an incident that does not exist. */
    {
        struct alert_row bad = alert_template(inc + 1000, "db", "fp-bad");

        assert_int_equal(store_alert_insert(conn, &bad, "db\nfp-bad", &err), OB_ESTORE);
    }
    conn_put(conn);
}

/* ---- silences ----------------------------------------------------------------------- */

static void test_silences(void **state)
{
    static const char matchers[] = "[{\"name\":\"service\",\"op\":\"=\",\"value\":\"db\"}]";
    struct store_conn *conn = conn_get();
    struct silence past = {.matchers = (char *)matchers,
                           .starts_at_ms = T0 - 2000,
                           .ends_at_ms = T0 - 1000,
                           .comment = "old maintenance",
                           .created_by = "token:alice",
                           .created_at_ms = T0 - 3000};
    struct silence now = {.matchers = (char *)matchers,
                          .starts_at_ms = T0 - 100,
                          .ends_at_ms = T0 + 3600000,
                          .comment = "db upgrade",
                          .created_by = "token:bob",
                          .created_at_ms = T0 - 100};
    struct silence later = {.matchers = (char *)matchers,
                            .starts_at_ms = T0 + 1000,
                            .ends_at_ms = T0 + 2000,
                            .comment = "",
                            .created_by = "cli:root",
                            .created_at_ms = T0};
    struct silence bad;
    struct silence got;
    struct silence *list = NULL;
    size_t count = 0;
    struct ob_error err;

    assert_int_equal(store_silence_insert(conn, &past, &err), 0);
    assert_int_equal(store_silence_insert(conn, &now, &err), 0);
    assert_int_equal(store_silence_insert(conn, &later, &err), 0);
    assert_true(past.id > 0 && now.id > past.id && later.id > now.id);

    assert_int_equal(store_silence_get(conn, now.id, &got, &err), 0);
    assert_true(got.id == now.id);
    assert_string_equal(got.matchers, matchers);
    assert_true(got.starts_at_ms == T0 - 100);
    assert_true(got.ends_at_ms == T0 + 3600000);
    assert_string_equal(got.comment, "db upgrade");
    assert_string_equal(got.created_by, "token:bob");
    assert_true(got.created_at_ms == T0 - 100);
    assert_true(got.expired_at_ms == 0);
    silence_release(&got);
    assert_int_equal(store_silence_get(conn, later.id + 1000, &got, &err), OB_ENOTFOUND);

    /* Active at T0: only "now". At T0+1000: "now" and "later" (start is inclusive). */
    assert_int_equal(store_silence_list(conn, T0, 0, &list, &count, &err), 0);
    assert_int_equal(count, 1);
    assert_true(list[0].id == now.id);
    silence_array_free(list, count);
    assert_int_equal(store_silence_list(conn, T0 + 1000, 0, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_true(list[0].id == later.id);
    assert_true(list[1].id == now.id);
    silence_array_free(list, count);
    /* End is exclusive. */
    assert_int_equal(store_silence_list(conn, T0 + 2000, 0, &list, &count, &err), 0);
    assert_int_equal(count, 1);
    silence_array_free(list, count);
    /* All, newest first, with a limit. */
    assert_int_equal(store_silence_list(conn, 0, 0, &list, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_true(list[0].id == later.id);
    assert_true(list[2].id == past.id);
    assert_string_equal(list[0].comment, "");
    silence_array_free(list, count);
    assert_int_equal(store_silence_list(conn, 0, 2, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    silence_array_free(list, count);

    /* Expire: in force -> ends now; twice -> conflict. */
    assert_int_equal(store_silence_expire(conn, now.id, T0 + 10, &err), 0);
    assert_int_equal(store_silence_get(conn, now.id, &got, &err), 0);
    assert_true(got.expired_at_ms == T0 + 10);
    assert_true(got.ends_at_ms == T0 + 10);
    assert_true(got.starts_at_ms == T0 - 100);
    silence_release(&got);
    assert_int_equal(store_silence_expire(conn, now.id, T0 + 20, &err), OB_ECONFLICT);
    assert_int_equal(err.code, OB_ECONFLICT);
    assert_int_equal(store_silence_list(conn, T0 + 10, 0, &list, &count, &err), 0);
    assert_int_equal(count, 0);
    /* One that already ended on its own cannot be expired either. */
    assert_int_equal(store_silence_expire(conn, past.id, T0, &err), OB_ECONFLICT);
    assert_int_equal(store_silence_expire(conn, later.id + 1000, T0, &err), OB_ENOTFOUND);
    /* One still to come becomes empty. */
    assert_int_equal(store_silence_expire(conn, later.id, T0 + 20, &err), 0);
    assert_int_equal(store_silence_get(conn, later.id, &got, &err), 0);
    assert_true(got.starts_at_ms == T0 + 20);
    assert_true(got.ends_at_ms == T0 + 20);
    silence_release(&got);
    assert_int_equal(store_silence_list(conn, T0 + 1500, 0, &list, &count, &err), 0);
    assert_int_equal(count, 0);

    /* Invalid input. */
    bad = later;
    bad.id = 0;
    bad.ends_at_ms = bad.starts_at_ms;
    assert_int_equal(store_silence_insert(conn, &bad, &err), OB_EINVAL);
    bad = later;
    bad.matchers = NULL;
    assert_int_equal(store_silence_insert(conn, &bad, &err), OB_EINVAL);
    bad = later;
    bad.created_by = "";
    assert_int_equal(store_silence_insert(conn, &bad, &err), OB_EINVAL);

    silence_release(NULL);
    silence_array_free(NULL, 0);
    conn_put(conn);
}

/* ---- heartbeats --------------------------------------------------------------------- */

static void test_heartbeats(void **state)
{
    struct store_conn *conn = conn_get();
    struct heartbeat_state got;
    struct heartbeat_state *list = NULL;
    size_t count = 0;
    struct ob_error err;

    assert_int_equal(store_heartbeat_list(conn, &list, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_null(list);
    assert_int_equal(store_heartbeat_get(conn, "nightly-backup", &got, &err), OB_ENOTFOUND);
    assert_null(got.name);

    /* First check-in creates it, seen and ok. */
    assert_int_equal(store_heartbeat_checkin(conn, "nightly-backup", T0, &err), 0);
    assert_int_equal(store_heartbeat_get(conn, "nightly-backup", &got, &err), 0);
    assert_string_equal(got.name, "nightly-backup");
    assert_true(got.last_seen_at_ms == T0);
    assert_string_equal(got.state, "ok");
    assert_true(got.updated_at_ms == T0);
    heartbeat_state_release(&got);

    /* Missed (last_seen_at kept), then a check-in: ok again. */
    assert_int_equal(store_heartbeat_set_state(conn, "nightly-backup", "missed", T0 + 10, &err), 0);
    assert_int_equal(store_heartbeat_get(conn, "nightly-backup", &got, &err), 0);
    assert_string_equal(got.state, "missed");
    assert_true(got.last_seen_at_ms == T0);
    assert_true(got.updated_at_ms == T0 + 10);
    heartbeat_state_release(&got);
    assert_int_equal(store_heartbeat_checkin(conn, "nightly-backup", T0 + 20, &err), 0);
    assert_int_equal(store_heartbeat_get(conn, "nightly-backup", &got, &err), 0);
    assert_true(got.last_seen_at_ms == T0 + 20);
    assert_string_equal(got.state, "ok");
    assert_true(got.updated_at_ms == T0 + 20);
    heartbeat_state_release(&got);
    assert_int_equal(store_heartbeat_set_state(conn, "nightly-backup", "ok", T0 + 21, &err), 0);
    assert_int_equal(store_heartbeat_get(conn, "nightly-backup", &got, &err), 0);
    assert_string_equal(got.state, "ok");
    assert_true(got.last_seen_at_ms == T0 + 20); /* kept */
    assert_true(got.updated_at_ms == T0 + 21);
    heartbeat_state_release(&got);

    /* First sight by the monitor: "waiting", never seen; the clock starts at updated_at. */
    assert_int_equal(store_heartbeat_set_state(conn, "cron-b", "waiting", T0 + 25, &err), 0);
    assert_int_equal(store_heartbeat_get(conn, "cron-b", &got, &err), 0);
    assert_string_equal(got.state, "waiting");
    assert_true(got.last_seen_at_ms == 0);
    assert_true(got.updated_at_ms == T0 + 25);
    heartbeat_state_release(&got);
    assert_int_equal(store_heartbeat_checkin(conn, "cron-b", T0 + 26, &err), 0);
    assert_int_equal(store_heartbeat_get(conn, "cron-b", &got, &err), 0);
    assert_string_equal(got.state, "ok");
    assert_true(got.last_seen_at_ms == T0 + 26);
    heartbeat_state_release(&got);

    /* set_state on a heartbeat never seen creates it. */
    assert_int_equal(store_heartbeat_set_state(conn, "cron-a", "missed", T0 + 30, &err), 0);
    assert_int_equal(store_heartbeat_get(conn, "cron-a", &got, &err), 0);
    assert_true(got.last_seen_at_ms == 0);
    assert_string_equal(got.state, "missed");
    heartbeat_state_release(&got);

    assert_int_equal(store_heartbeat_list(conn, &list, &count, &err), 0);
    assert_int_equal(count, 3);
    assert_string_equal(list[0].name, "cron-a"); /* by name */
    assert_string_equal(list[1].name, "cron-b");
    assert_string_equal(list[2].name, "nightly-backup");
    heartbeat_state_array_free(list, count);

    /* Invalid input. */
    assert_int_equal(store_heartbeat_set_state(conn, "cron-a", "late", T0, &err), OB_EINVAL);
    assert_int_equal(store_heartbeat_set_state(conn, "cron-a", NULL, T0, &err), OB_EINVAL);
    assert_int_equal(store_heartbeat_set_state(conn, "", "ok", T0, &err), OB_EINVAL);
    assert_int_equal(store_heartbeat_checkin(conn, NULL, T0, &err), OB_EINVAL);

    heartbeat_state_release(NULL);
    heartbeat_state_array_free(NULL, 0);
    conn_put(conn);
}

/* ---- a pipeline-shaped transaction ----------------------------------------------------- */

/* Trigger + attach + count + timeline in one transaction, rolled back: none of it stays. */
static void test_transaction_rolls_back_everything(void **state)
{
    struct store_conn *conn = conn_get();
    struct incident inc = {.service = "tx",
                           .team = "core",
                           .incident_key = "k",
                           .summary = "s",
                           .severity = "info",
                           .created_at_ms = T0};
    struct alert_row a = alert_template(0, "tx", "fp-tx");
    struct incident_event ev = {.kind = "incident.triggered", .at_ms = T0};
    struct incident got;
    struct alert_row got_a;
    struct ob_error err;
    int64_t open = 0;

    CHECK_OK(store_begin, conn);
    assert_int_equal(store_incident_insert(conn, &inc, "tx\nk", &err), 0);
    a.incident_id = inc.id;
    assert_int_equal(store_alert_insert(conn, &a, "tx\nfp-tx", &err), 0);
    assert_int_equal(store_incident_count_alerts(conn, inc.id, 1, 1, T0, &open, &err), 0);
    assert_true(open == 1);
    ev.incident_id = inc.id;
    assert_int_equal(store_incident_event_append(conn, &ev, &err), 0);
    store_rollback(conn);

    assert_int_equal(store_incident_find_open(conn, "tx\nk", &got, &err), OB_ENOTFOUND);
    assert_int_equal(store_alert_find_firing(conn, "tx\nfp-tx", &got_a, &err), OB_ENOTFOUND);
    assert_int_equal(store_incident_get(conn, inc.id, &got, &err), OB_ENOTFOUND);

    /* And committed, it all stays. */
    inc.id = 0;
    CHECK_OK(store_begin, conn);
    assert_int_equal(store_incident_insert(conn, &inc, "tx\nk", &err), 0);
    a.incident_id = inc.id;
    assert_int_equal(store_alert_insert(conn, &a, "tx\nfp-tx", &err), 0);
    ev.incident_id = inc.id;
    assert_int_equal(store_incident_event_append(conn, &ev, &err), 0);
    CHECK_OK(store_commit, conn);
    assert_int_equal(store_alert_find_firing(conn, "tx\nfp-tx", &got_a, &err), 0);
    assert_true(got_a.incident_id == inc.id);
    alert_row_release(&got_a);
    conn_put(conn);
}

/* ---- main -------------------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_open_at_version_2, test_teardown),
        cmocka_unit_test_teardown(test_migrate_from_version_1, test_teardown),
        cmocka_unit_test_teardown(test_incident_insert_find_get, test_teardown),
        cmocka_unit_test_teardown(test_incident_open_key_is_unique, test_teardown),
        cmocka_unit_test_teardown(test_incident_set_status, test_teardown),
        cmocka_unit_test_teardown(test_incident_count_alerts, test_teardown),
        cmocka_unit_test_teardown(test_incident_list, test_teardown),
        cmocka_unit_test_teardown(test_incident_timeline, test_teardown),
        cmocka_unit_test_teardown(test_alert_lifecycle, test_teardown),
        cmocka_unit_test_teardown(test_alert_list_expired, test_teardown),
        cmocka_unit_test_teardown(test_alert_unroutable, test_teardown),
        cmocka_unit_test_teardown(test_silences, test_teardown),
        cmocka_unit_test_teardown(test_heartbeats, test_teardown),
        cmocka_unit_test_teardown(test_transaction_rolls_back_everything, test_teardown),
    };
    char name[64];

    if (store_suite_begin("store_incidents", "opsbell-incidents", "opsbell.db", name,
                          sizeof(name)) != 0)
        return 1;
    return cmocka_run_group_tests_name(name, tests, group_setup, group_teardown);
}
