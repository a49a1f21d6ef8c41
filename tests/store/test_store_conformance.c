/*
 * test_store_conformance.c - one suite, every driver.
 *
 * Runs against OPSBELL_TEST_STORE_URL, or, when unset, a sqlite: file in a
 * fresh temporary directory.  A PostgreSQL database is wiped first (DROP
 * SCHEMA public CASCADE), so point it only at a throwaway database, e.g.
 *   url=$(scripts/pg-test.sh start /tmp/pg | tail -1)
 *   OPSBELL_TEST_STORE_URL=$url build/dev/tests/store/test_store_conformance
 *   scripts/pg-test.sh stop /tmp/pg
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store_harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POOL_SIZE    2
#define POOL_THREADS 8
#define POOL_OPS     50

/* ---- helpers ----------------------------------------------------------------- */

/* DB_P_TEXT on a char array trips gcc's -Waddress (its NULL test is always
 * true); through a pointer it does not. */
static struct db_param text_param(const char *s)
{
    return DB_P_TEXT(s);
}

/* A connection the test gives back itself, with store_release. */
static struct store_conn *conn_acquire(void)
{
    struct store_conn *conn = NULL;
    struct ob_error err;

    assert_non_null(g.store);
    assert_int_equal(store_acquire(g.store, &conn, &err), 0);
    return conn;
}

static int64_t count_key(struct store_conn *conn, const char *key)
{
    struct db_param p = DB_P_TEXT(key);

    return count_rows(conn, "SELECT COUNT(*) FROM conf_kv WHERE k = $1", &p, 1);
}

static void insert_kv(struct store_conn *conn, const char *key)
{
    struct db_param p[2] = {DB_P_TEXT(key), DB_P_INT(1)};

    exec_ok(conn, "INSERT INTO conf_kv (k, i) VALUES ($1, $2)", p, 2);
}

/* ---- lifecycle and migrations ------------------------------------------------- */

struct opener {
    pthread_t thread;
    struct store *store;
    struct ob_error err;
    int rc;
};

static void *opener_run(void *arg)
{
    struct opener *o = arg;

    o->rc = store_open(g.url, POOL_SIZE, &o->store, &o->err);
    return NULL;
}

/* Nodes starting together must not trip over each other's migrations. */
static void test_open_migrate_concurrently(void **state)
{
    struct opener openers[3];
    int version = -1;
    struct ob_error err;

    for (size_t i = 0; i < 3; i++) {
        memset(&openers[i], 0, sizeof(openers[i]));
        assert_int_equal(pthread_create(&openers[i].thread, NULL, opener_run, &openers[i]), 0);
    }
    for (size_t i = 0; i < 3; i++)
        pthread_join(openers[i].thread, NULL);
    /* Keep one store for the tests that follow, even if another failed. */
    for (size_t i = 0; i < 3; i++) {
        if (g.store == NULL)
            g.store = openers[i].store;
        else
            store_close(openers[i].store);
    }
    for (size_t i = 0; i < 3; i++) {
        if (openers[i].rc != 0)
            fail_msg("store_open #%zu: %s", i, openers[i].err.msg);
    }

    assert_int_equal(store_schema_version(g.store, &version, &err), 0);
    assert_int_equal(version, store_latest_schema_version());
    assert_true(store_latest_schema_version() >= 1);
}

static void test_reopen_is_idempotent(void **state)
{
    struct store *again = NULL;
    struct store_conn *conn;
    struct ob_error err;
    int version = -1;

    if (store_open(g.url, 1, &again, &err) != 0)
        fail_msg("reopen: %s", err.msg);
    assert_int_equal(store_schema_version(again, &version, &err), 0);
    assert_int_equal(version, store_latest_schema_version());
    assert_int_equal(store_acquire(again, &conn, &err), 0);
    /* Each migration recorded once, not once per open. */
    assert_int_equal(count_rows(conn, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     store_latest_schema_version());
    store_release(conn);
    store_close(again);
}

static void test_newer_schema_is_refused(void **state)
{
    struct store_conn *conn = conn_acquire();
    struct store *other = NULL;
    struct db_param p[3] = {DB_P_INT(store_latest_schema_version() + 1000),
                            DB_P_TEXT("from the future"), DB_P_INT(store_now_ms())};
    struct ob_error err;
    int rc;

    exec_ok(conn, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            p, 3);
    rc = store_open(g.url, 1, &other, &err);
    assert_int_equal(rc, OB_ESTORE);
    assert_null(other);
    assert_non_null(strstr(err.msg, "newer"));

    exec_ok(conn, "DELETE FROM schema_migrations WHERE version = $1", p, 1);
    store_release(conn);
    if (store_open(g.url, 1, &other, &err) != 0)
        fail_msg("open after cleanup: %s", err.msg);
    store_close(other);
}

static void test_bad_urls(void **state)
{
    static const char *const urls[] = {"mysql://x",       "sqlite:",          "",       "postgres",
                                       "sqlite::memory:", "sqlite://host/db", "file:/x"};
    struct store *store = NULL;
    struct ob_error err;

    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        store = NULL;
        assert_int_equal(store_open(urls[i], 1, &store, &err), OB_EINVAL);
        assert_null(store);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(store_open(NULL, 1, &store, &err), OB_EINVAL);
    assert_int_equal(store_open(g.url, 0, &store, &err), OB_EINVAL);
    assert_null(store);
}

static void test_ping_and_names(void **state)
{
    struct ob_error err;

    assert_non_null(g.store);
    assert_int_equal(store_ping(g.store, &err), 0);
    assert_string_equal(store_driver_name(g.store), is_postgres() ? "postgres" : "sqlite");
    /* After 2020-01-01, before 2100-01-01. */
    assert_true(store_now_ms() > INT64_C(1577836800000));
    assert_true(store_now_ms() < INT64_C(4102444800000));
}

/* ---- generic queries ---------------------------------------------------------- */

static void test_exec_param_types(void **state)
{
    static const char odd[] = "it's \"quoted\" $1 ?1 \\ héllo ✓ 日本語 🚀";
    struct store_conn *conn = conn_acquire();
    struct db_result *res = NULL;
    struct ob_error err;
    int64_t affected = -1;
    struct db_param p[3];

    exec_ok(conn, "CREATE TABLE conf_kv (k TEXT PRIMARY KEY, i BIGINT, t TEXT)", NULL, 0);

    p[0] = DB_P_TEXT("max");
    p[1] = DB_P_INT(INT64_MAX);
    p[2] = text_param(odd);
    assert_int_equal(store_exec(conn, "INSERT INTO conf_kv (k, i, t) VALUES ($1, $2, $3)", p, 3,
                                NULL, &affected, &err),
                     0);
    assert_int_equal(affected, 1);
    p[0] = DB_P_TEXT("min");
    p[1] = DB_P_INT(INT64_MIN);
    p[2] = DB_P_NULL;
    exec_ok(conn, "INSERT INTO conf_kv (k, i, t) VALUES ($1, $2, $3)", p, 3);
    p[0] = DB_P_TEXT("nulls");
    p[1] = DB_P_NULL;
    p[2] = DB_P_TEXT(NULL); /* a NULL string is SQL NULL */
    exec_ok(conn, "INSERT INTO conf_kv (k, i, t) VALUES ($1, $2, $3)", p, 3);
    p[0] = DB_P_TEXT("empty");
    p[1] = DB_P_INT(0);
    p[2] = DB_P_TEXT("");
    exec_ok(conn, "INSERT INTO conf_kv (k, i, t) VALUES ($1, $2, $3)", p, 3);

    /* A literal that looks like a placeholder stays a literal. */
    affected = -1;
    if (store_exec(conn, "SELECT k, i, t, '$1 it''s' FROM conf_kv ORDER BY k", NULL, 0, &res,
                   &affected, &err) != 0)
        fail_msg("select: %s", err.msg);
    assert_int_equal(affected, 0);
    assert_int_equal(db_result_rows(res), 4);
    assert_int_equal(db_result_cols(res), 4);
    /* empty, max, min, nulls */
    assert_string_equal(db_result_text(res, 0, 0), "empty");
    assert_string_equal(db_result_text(res, 0, 2), "");
    assert_false(db_result_is_null(res, 0, 2));
    assert_string_equal(db_result_text(res, 0, 3), "$1 it's");
    assert_true(db_result_int64(res, 1, 1) == INT64_MAX);
    assert_string_equal(db_result_text(res, 1, 2), odd);
    assert_true(db_result_int64(res, 2, 1) == INT64_MIN);
    assert_true(db_result_is_null(res, 2, 2));
    assert_null(db_result_text(res, 2, 2));
    assert_true(db_result_is_null(res, 3, 1));
    assert_int_equal(db_result_int64(res, 3, 1), 0);
    assert_true(db_result_is_null(res, 3, 2));
    /* Out of range reads are NULL, not crashes. */
    assert_true(db_result_is_null(res, 4, 0));
    assert_true(db_result_is_null(res, 0, 4));
    assert_int_equal(db_result_int64(res, 0, 0), 0); /* non-numeric text */
    db_result_free(res);
    res = NULL;

    /* Zero rows is a result, not an error. */
    p[0] = DB_P_TEXT("absent");
    assert_int_equal(store_exec(conn, "SELECT k FROM conf_kv WHERE k = $1", p, 1, &res, NULL, &err),
                     0);
    assert_non_null(res);
    assert_int_equal(db_result_rows(res), 0);
    db_result_free(res);
    db_result_free(NULL);
    store_release(conn);
}

static void test_exec_placeholder_order(void **state)
{
    struct store_conn *conn = conn_acquire();
    struct db_result *res = NULL;
    struct ob_error err;
    struct db_param p[2] = {DB_P_TEXT("order"), DB_P_TEXT("second")};
    int64_t affected = 0;

    /* $2 before $1. */
    exec_ok(conn, "INSERT INTO conf_kv (t, k) VALUES ($2, $1)", p, 2);
    p[1] = DB_P_INT(42);
    assert_int_equal(
        store_exec(conn, "UPDATE conf_kv SET i = $2 WHERE k = $1", p, 2, NULL, &affected, &err), 0);
    assert_int_equal(affected, 1);
    /* One parameter used twice. */
    if (store_exec(conn, "SELECT t, i FROM conf_kv WHERE k = $1 AND $1 = k", p, 1, &res, NULL,
                   &err) != 0)
        fail_msg("select: %s", err.msg);
    assert_int_equal(db_result_rows(res), 1);
    assert_string_equal(db_result_text(res, 0, 0), "second");
    assert_int_equal(db_result_int64(res, 0, 1), 42);
    db_result_free(res);
    store_release(conn);
}

static void test_unique_violation_is_conflict(void **state)
{
    struct store_conn *conn = conn_acquire();
    struct db_param p[2] = {DB_P_TEXT("dup"), DB_P_INT(1)};
    struct ob_error err;

    exec_ok(conn, "INSERT INTO conf_kv (k, i) VALUES ($1, $2)", p, 2);
    assert_int_equal(
        store_exec(conn, "INSERT INTO conf_kv (k, i) VALUES ($1, $2)", p, 2, NULL, NULL, &err),
        OB_ECONFLICT);
    assert_int_equal(err.code, OB_ECONFLICT);
    /* The connection is still usable. */
    assert_int_equal(count_key(conn, "dup"), 1);
    store_release(conn);
}

static void test_syntax_error(void **state)
{
    struct store_conn *conn = conn_acquire();
    struct ob_error err;

    assert_int_equal(store_exec(conn, "SELEKT 1", NULL, 0, NULL, NULL, &err), OB_ESTORE);
    assert_non_null(strstr(err.msg, "syntax error"));
    assert_non_null(strstr(err.msg, store_driver_name(g.store)));
    assert_int_equal(store_exec(conn, "SELECT nope FROM no_such_table", NULL, 0, NULL, NULL, &err),
                     OB_ESTORE);
    /* Parameter count mismatch is an error on both drivers. */
    assert_int_equal(
        store_exec(conn, "SELECT k FROM conf_kv WHERE k = $1", NULL, 0, NULL, NULL, &err),
        OB_ESTORE);
    store_release(conn);
}

/* ---- transactions ----------------------------------------------------------------- */

static void test_transactions(void **state)
{
    struct store_conn *a = conn_acquire();
    struct store_conn *b = conn_acquire();
    struct db_param dup[2] = {DB_P_TEXT("dup"), DB_P_INT(1)};
    struct ob_error err;

    /* Commit: invisible to others until committed. */
    assert_int_equal(store_begin(a, &err), 0);
    assert_int_equal(store_begin(a, &err), OB_EINVAL); /* no nesting */
    insert_kv(a, "tx-commit");
    assert_int_equal(count_key(a, "tx-commit"), 1);
    assert_int_equal(count_key(b, "tx-commit"), 0);
    assert_int_equal(store_commit(a, &err), 0);
    assert_int_equal(count_key(b, "tx-commit"), 1);
    assert_int_equal(store_commit(a, &err), OB_EINVAL); /* nothing open */

    /* Rollback: gone. */
    assert_int_equal(store_begin(a, &err), 0);
    insert_kv(a, "tx-rollback");
    store_rollback(a);
    assert_int_equal(count_key(a, "tx-rollback"), 0);
    assert_int_equal(count_key(b, "tx-rollback"), 0);

    /* A failed statement dooms the transaction on every driver. */
    assert_int_equal(store_begin(a, &err), 0);
    insert_kv(a, "tx-doomed");
    assert_int_equal(
        store_exec(a, "INSERT INTO conf_kv (k, i) VALUES ($1, $2)", dup, 2, NULL, NULL, &err),
        OB_ECONFLICT);
    assert_int_equal(store_exec(a, "SELECT 1", NULL, 0, NULL, NULL, &err), OB_ESTORE);
    assert_int_equal(store_commit(a, &err), OB_ESTORE);
    assert_int_equal(count_key(b, "tx-doomed"), 0);
    assert_int_equal(count_key(a, "tx-doomed"), 0); /* a is usable again */

    store_release(b);
    store_release(a);
}

static void test_release_rolls_back(void **state)
{
    struct store_conn *conn = conn_acquire();
    struct ob_error err;

    assert_int_equal(store_begin(conn, &err), 0);
    insert_kv(conn, "released-open");
    store_release(conn);

    /* Also a transaction opened by hand, behind the store's back. */
    conn = conn_acquire();
    exec_ok(conn, "BEGIN", NULL, 0);
    insert_kv(conn, "released-manual");
    store_release(conn);

    conn = conn_acquire();
    assert_int_equal(count_key(conn, "released-open"), 0);
    assert_int_equal(count_key(conn, "released-manual"), 0);
    store_release(conn);
    store_release(NULL);
}

/* A connection the server dropped (restart, failover, idle timeout) fails
 * the statement that finds out, and works again from the next one: never
 * a silent retry, which could run a statement twice. */
static void test_reconnect_after_server_drop(void **state)
{
    struct store_conn *a, *b;
    struct db_param pid;
    struct ob_error err;

    if (!is_postgres())
        skip(); /* an embedded database has no server to drop us */
    a = conn_acquire();
    b = conn_acquire();
    pid = DB_P_INT(count_rows(a, "SELECT pg_backend_pid()", NULL, 0));
    /* The timeout makes it wait until the backend is gone. */
    assert_int_equal(count_rows(b,
                                "SELECT CAST(pg_terminate_backend(CAST($1 AS INTEGER), 5000) "
                                "AS INTEGER)",
                                &pid, 1),
                     1);
    assert_int_equal(store_exec(a, "SELECT 1", NULL, 0, NULL, NULL, &err), OB_ESTORE);
    assert_int_equal(count_rows(a, "SELECT 1", NULL, 0), 1);
    store_release(b);
    store_release(a);
    assert_int_equal(store_ping(g.store, &err), 0);
}

/* ---- pool ------------------------------------------------------------------------- */

struct worker {
    pthread_t thread;
    int id;
    int failures;
    char first_error[OB_ERROR_MSG_MAX];
};

static void worker_fail(struct worker *w, const struct ob_error *err)
{
    if (w->failures++ == 0)
        snprintf(w->first_error, sizeof(w->first_error), "%s", err->msg);
}

/* No cmocka asserts here: they longjmp, which is only safe on the main thread. */
static void *worker_run(void *arg)
{
    struct worker *w = arg;

    for (int op = 0; op < POOL_OPS; op++) {
        struct store_conn *conn = NULL;
        struct ob_error err;
        char key[64];
        struct db_param p[2];

        snprintf(key, sizeof(key), "pool-%d-%d", w->id, op);
        p[0] = text_param(key);
        p[1] = DB_P_INT(op);
        if (store_acquire(g.store, &conn, &err) != 0) {
            worker_fail(w, &err);
            continue;
        }
        if (store_begin(conn, &err) != 0 ||
            store_exec(conn, "INSERT INTO conf_kv (k, i) VALUES ($1, $2)", p, 2, NULL, NULL,
                       &err) != 0 ||
            store_exec(conn, "SELECT i FROM conf_kv WHERE k = $1", p, 1, NULL, NULL, &err) != 0 ||
            store_commit(conn, &err) != 0)
            worker_fail(w, &err);
        store_release(conn);
    }
    return NULL;
}

static void test_pool_more_threads_than_connections(void **state)
{
    struct worker workers[POOL_THREADS];
    struct store_conn *conn;

    assert_non_null(g.store);
    for (int i = 0; i < POOL_THREADS; i++) {
        memset(&workers[i], 0, sizeof(workers[i]));
        workers[i].id = i;
        assert_int_equal(pthread_create(&workers[i].thread, NULL, worker_run, &workers[i]), 0);
    }
    for (int i = 0; i < POOL_THREADS; i++)
        pthread_join(workers[i].thread, NULL);
    for (int i = 0; i < POOL_THREADS; i++) {
        if (workers[i].failures != 0)
            fail_msg("worker %d: %d failures, first: %s", i, workers[i].failures,
                     workers[i].first_error);
    }
    conn = conn_acquire();
    assert_int_equal(
        count_rows(conn, "SELECT COUNT(*) FROM conf_kv WHERE k LIKE 'pool-%'", NULL, 0),
        POOL_THREADS * POOL_OPS);
    store_release(conn);
}

/* ---- tokens ------------------------------------------------------------------------ */

static void hash_of(char c, char out[65])
{
    memset(out, c, 64);
    out[64] = '\0';
}

static void test_tokens(void **state)
{
    struct store_conn *conn = conn_acquire();
    struct store_token t1 = {.name = "ci-bot",
                             .scope = "write",
                             .created_by = "cli:root",
                             .expires_at_ms = INT64_C(4102444800000)};
    struct store_token t2 = {
        .name = "team-ro", .scope = "read", .team = "payments", .created_by = "token:admin"};
    struct store_token bad = {.name = "x", .scope = "root", .created_by = "cli:root"};
    struct store_token got;
    struct store_token *list = NULL;
    size_t count = 0;
    char h1[65], h2[65], h3[65], upper[65];
    int64_t used;
    struct ob_error err;

    hash_of('a', h1);
    hash_of('b', h2);
    hash_of('c', h3);
    assert_int_equal(store_token_insert(conn, &t1, h1, &err), 0);
    assert_true(t1.id > 0);
    assert_true(t1.created_at_ms > 0);
    assert_int_equal(store_token_insert(conn, &t2, h2, &err), 0);
    assert_true(t2.id > t1.id);
    assert_int_equal(store_token_insert(conn, &t2, h1, &err), OB_ECONFLICT);
    assert_int_equal(store_token_insert(conn, &bad, h3, &err), OB_EINVAL);
    assert_int_equal(store_token_insert(conn, &t2, "abc", &err), OB_EINVAL);

    /* find_by_hash, also from uppercase hex. */
    hash_of('A', upper);
    assert_int_equal(store_token_find_by_hash(conn, upper, &got, &err), 0);
    assert_true(got.id == t1.id);
    assert_string_equal(got.name, "ci-bot");
    assert_string_equal(got.scope, "write");
    assert_null(got.team);
    assert_string_equal(got.created_by, "cli:root");
    assert_true(got.created_at_ms == t1.created_at_ms);
    assert_true(got.expires_at_ms == INT64_C(4102444800000));
    assert_true(got.revoked_at_ms == 0);
    assert_true(got.last_used_at_ms == 0);
    store_token_release(&got);
    assert_int_equal(store_token_find_by_hash(conn, h3, &got, &err), OB_ENOTFOUND);

    assert_int_equal(store_token_get(conn, t2.id, &got, &err), 0);
    assert_string_equal(got.team, "payments");
    assert_true(got.expires_at_ms == 0);
    store_token_release(&got);
    assert_int_equal(store_token_get(conn, t2.id + 1000, &got, &err), OB_ENOTFOUND);
    assert_int_equal(err.code, OB_ENOTFOUND);

    assert_int_equal(store_token_list(conn, &list, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_string_equal(list[0].name, "ci-bot"); /* oldest first */
    assert_string_equal(list[1].name, "team-ro");
    store_token_array_free(list, count);

    assert_int_equal(store_token_revoke(conn, t1.id, 1000, &err), 0);
    assert_int_equal(store_token_revoke(conn, t1.id, 2000, &err), OB_ECONFLICT);
    assert_int_equal(store_token_revoke(conn, t2.id + 1000, 2000, &err), OB_ENOTFOUND);
    assert_int_equal(store_token_get(conn, t1.id, &got, &err), 0);
    assert_true(got.revoked_at_ms == 1000);
    store_token_release(&got);

    /* touch: recorded, then at most once a minute. */
    used = store_now_ms();
    assert_int_equal(store_token_touch(conn, t2.id, used, &err), 0);
    assert_int_equal(store_token_touch(conn, t2.id, used + 1000, &err), 0);
    assert_int_equal(store_token_get(conn, t2.id, &got, &err), 0);
    assert_true(got.last_used_at_ms == used);
    store_token_release(&got);
    assert_int_equal(store_token_touch(conn, t2.id, used + 61000, &err), 0);
    assert_int_equal(store_token_get(conn, t2.id, &got, &err), 0);
    assert_true(got.last_used_at_ms == used + 61000);
    store_token_release(&got);

    store_token_release(NULL);
    store_token_array_free(NULL, 0);
    store_release(conn);
}

/* ---- audit ------------------------------------------------------------------------- */

static void test_audit(void **state)
{
    static const char *const actors[] = {"token:ci-bot", "cli:root", "slack:U123"};
    static const char *const actions[] = {"token.create", "config.reload"};
    struct store_conn *conn = conn_acquire();
    struct audit_event *list = NULL;
    struct audit_filter f;
    int64_t ids[30];
    size_t count = 0;
    struct ob_error err;

    for (int i = 0; i < 30; i++) {
        char target[32];
        struct audit_event ev = {.actor = (char *)actors[i % 3],
                                 .action = (char *)actions[i % 2],
                                 .remote_addr = i == 0 ? NULL : "127.0.0.1",
                                 .details = i == 0 ? NULL : "{\"n\": \"ünï\"}"};

        snprintf(target, sizeof(target), "token:%d", i);
        ev.target = target;
        ev.request_id = i == 0 ? NULL : target;
        assert_int_equal(store_audit_append(conn, &ev, &err), 0);
        assert_true(ev.at_ms > 0);
        ids[i] = ev.id;
        if (i > 0)
            assert_true(ids[i] > ids[i - 1]);
    }
    {
        struct audit_event bad = {.action = "x"};

        assert_int_equal(store_audit_append(conn, &bad, &err), OB_EINVAL);
    }

    /* Everything, newest first. */
    assert_int_equal(store_audit_list(conn, NULL, &list, &count, &err), 0);
    assert_int_equal(count, 30);
    assert_true(list[0].id == ids[29]);
    assert_true(list[29].id == ids[0]);
    assert_null(list[29].remote_addr);
    assert_null(list[29].details);
    assert_null(list[29].request_id);
    assert_string_equal(list[29].target, "token:0");
    assert_string_equal(list[0].details, "{\"n\": \"ünï\"}");
    assert_string_equal(list[0].remote_addr, "127.0.0.1");
    audit_event_array_free(list, count);

    /* Filters. */
    memset(&f, 0, sizeof(f));
    f.actor = "cli:root";
    assert_int_equal(store_audit_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 10);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(list[i].actor, "cli:root");
    audit_event_array_free(list, count);
    f.action = "config.reload"; /* i % 3 == 1 and i % 2 == 1: i = 1, 7, 13, 19, 25 */
    assert_int_equal(store_audit_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 5);
    assert_true(list[0].id == ids[25]);
    audit_event_array_free(list, count);
    f.actor = NULL;
    assert_int_equal(store_audit_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 15);
    audit_event_array_free(list, count);
    f.action = "no.such.action";
    assert_int_equal(store_audit_list(conn, &f, &list, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_null(list);

    /* Paging: 7 at a time, following before_id. */
    memset(&f, 0, sizeof(f));
    f.limit = 7;
    for (int page = 0, seen = 0; page < 5; page++) {
        assert_int_equal(store_audit_list(conn, &f, &list, &count, &err), 0);
        assert_int_equal(count, page < 4 ? 7 : 2);
        for (size_t i = 0; i < count; i++)
            assert_true(list[i].id == ids[29 - seen - (int)i]);
        seen += (int)count;
        f.before_id = list[count - 1].id;
        audit_event_array_free(list, count);
    }
    store_release(conn);
}

static void test_audit_is_append_only(void **state)
{
    struct store_conn *conn = conn_acquire();
    struct ob_error err;
    int64_t before = count_rows(conn, "SELECT COUNT(*) FROM audit_events", NULL, 0);

    assert_true(before > 0);
    assert_int_equal(
        store_exec(conn, "UPDATE audit_events SET actor = 'mallory'", NULL, 0, NULL, NULL, &err),
        OB_ESTORE);
    assert_non_null(strstr(err.msg, "append-only"));
    assert_int_equal(store_exec(conn, "DELETE FROM audit_events", NULL, 0, NULL, NULL, &err),
                     OB_ESTORE);
    assert_non_null(strstr(err.msg, "append-only"));
    assert_int_equal(count_rows(conn, "SELECT COUNT(*) FROM audit_events", NULL, 0), before);
    assert_int_equal(
        count_rows(conn, "SELECT COUNT(*) FROM audit_events WHERE actor = 'mallory'", NULL, 0), 0);
    store_release(conn);
}

/* ---- main -------------------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_migrate_concurrently),
        cmocka_unit_test(test_reopen_is_idempotent),
        cmocka_unit_test(test_newer_schema_is_refused),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_ping_and_names),
        cmocka_unit_test(test_exec_param_types),
        cmocka_unit_test(test_exec_placeholder_order),
        cmocka_unit_test(test_unique_violation_is_conflict),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_release_rolls_back),
        cmocka_unit_test(test_reconnect_after_server_drop),
        cmocka_unit_test(test_pool_more_threads_than_connections),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_audit),
        cmocka_unit_test(test_audit_is_append_only),
    };
    char name[64];

    /* Nested directories that do not exist yet: store_open creates them. */
    if (store_suite_begin("store_conformance", "opsbell-store", "a/b/opsbell.db", name,
                          sizeof(name)) != 0)
        return 1;
    return cmocka_run_group_tests_name(name, tests, group_setup, group_teardown);
}
