/*
 * store_harness.c - what the store suites share (store_harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store_harness.h"

#include "store/incidents.h"
#include "util/log.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct store_harness g;

/* ---- the database ------------------------------------------------------------ */

static int pick_url(const char *tmp_prefix, const char *db_file)
{
    const char *env = getenv("OPSBELL_TEST_STORE_URL");
    const char *tmp = getenv("TMPDIR");

    if (env != NULL && env[0] != '\0') {
        snprintf(g.url, sizeof(g.url), "%s", env);
        if (strncmp(env, "sqlite:", 7) == 0) {
            /* Start from an empty file, like a fresh PostgreSQL schema. */
            static const char *const suffixes[] = {"", "-wal", "-shm"};

            for (size_t i = 0; i < 3; i++) {
                char path[PATH_MAX + 8];

                snprintf(path, sizeof(path), "%s%s", env + 7, suffixes[i]);
                unlink(path);
            }
        }
        return 0;
    }
    snprintf(g.tmpdir, sizeof(g.tmpdir), "%s/%s-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", tmp_prefix);
    if (mkdtemp(g.tmpdir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(g.url, sizeof(g.url), "sqlite:%s/%s", g.tmpdir, db_file);
    return 0;
}

int store_suite_begin(const char *suite, const char *tmp_prefix, const char *db_file, char *name,
                      size_t name_size)
{
    log_init(LOG_LEVEL_ERROR, 2);
    if (pick_url(tmp_prefix, db_file) != 0)
        return -1;
    snprintf(name, name_size, "%s[%s]", suite, is_postgres() ? "postgres" : "sqlite");
    /* cmocka's default output omits the group name (TAP/XML show it). */
    printf("[ DRIVER   ] %s\n", name);
    fflush(stdout);
    return 0;
}

bool is_postgres(void)
{
    return strncmp(g.url, "postgres", 8) == 0;
}

/* ---- group setup: a clean database ------------------------------------------ */

int group_setup(void **state)
{
    struct store *raw = NULL;
    struct store_conn *conn = NULL;
    struct ob_error err;
    int rc = -1;

    if (is_postgres()) {
        if (store_open_unmigrated(g.url, 1, &raw, &err) != 0) {
            fprintf(stderr, "cannot reach the test database: %s\n", err.msg);
            return -1;
        }
        if (store_acquire(raw, &conn, &err) != 0 ||
            store_exec(conn, "DROP SCHEMA public CASCADE", NULL, 0, NULL, NULL, &err) != 0 ||
            store_exec(conn, "CREATE SCHEMA public", NULL, 0, NULL, NULL, &err) != 0) {
            fprintf(stderr, "cannot reset the test database: %s\n", err.msg);
            goto out;
        }
    }
    rc = 0;
out:
    store_release(conn);
    store_close(raw);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

int group_teardown(void **state)
{
    store_close(g.store);
    g.store = NULL;
    if (g.tmpdir[0] != '\0')
        nftw(g.tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- connections a test holds ----------------------------------------------- */

struct store_conn *conn_get(void)
{
    struct store_conn *conn = NULL;
    struct ob_error err;

    assert_non_null(g.store);
    assert_true(g.n_held < HELD_MAX);
    assert_int_equal(store_acquire(g.store, &conn, &err), 0);
    g.held[g.n_held++] = conn;
    return conn;
}

void conn_put(struct store_conn *conn)
{
    for (size_t i = 0; i < g.n_held; i++) {
        if (g.held[i] == conn) {
            g.held[i] = g.held[--g.n_held];
            break;
        }
    }
    store_release(conn);
}

int test_teardown(void **state)
{
    while (g.n_held > 0)
        conn_put(g.held[g.n_held - 1]);
    return 0;
}

/* ---- SQL and rows ------------------------------------------------------------- */

void exec_ok(struct store_conn *conn, const char *sql, const struct db_param *params, size_t n)
{
    struct ob_error err;
    int rc = store_exec(conn, sql, params, n, NULL, NULL, &err);

    if (rc != 0)
        fail_msg("%s: %s", sql, err.msg);
}

int64_t count_rows(struct store_conn *conn, const char *sql, const struct db_param *params,
                   size_t n)
{
    struct db_result *res = NULL;
    struct ob_error err;
    int64_t v;
    int rc = store_exec(conn, sql, params, n, &res, NULL, &err);

    if (rc != 0)
        fail_msg("%s: %s", sql, err.msg);
    assert_int_equal(db_result_rows(res), 1);
    v = db_result_int64(res, 0, 0);
    db_result_free(res);
    return v;
}

int64_t new_incident(struct store_conn *conn, const char *service, const char *team,
                     const char *key, int64_t at_ms)
{
    struct incident inc = {.service = (char *)service,
                           .team = (char *)team,
                           .incident_key = (char *)key,
                           .summary = "disk full",
                           .severity = "critical",
                           .alert_count = 1,
                           .open_alerts = 1,
                           .created_at_ms = at_ms};
    char open_key[256];
    struct ob_error err;

    snprintf(open_key, sizeof(open_key), "%s\n%s", service, key);
    if (store_incident_insert(conn, &inc, open_key, &err) != 0)
        fail_msg("insert incident %s: %s", open_key, err.msg);
    assert_true(inc.id > 0);
    return inc.id;
}
