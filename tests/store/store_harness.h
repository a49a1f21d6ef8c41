/*
 * store_harness.h - what the store suites (tests/store/test_*) share: the
 * database they run against, the connections a test holds, and a few
 * assertions over SQL.
 *
 * A suite runs against OPSBELL_TEST_STORE_URL, or, when unset, a sqlite:
 * file in a fresh temporary directory.  A PostgreSQL database is wiped first
 * (DROP SCHEMA public CASCADE), so point it only at a throwaway database.
 *
 * Include <cmocka.h> (after <setjmp.h>, <stdarg.h>, <stddef.h>) first.
 */
#ifndef OPSBELL_TESTS_STORE_HARNESS_H
#define OPSBELL_TESTS_STORE_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/error.h"

/* A fixed clock, so that times compare exactly. */
#define T0       INT64_C(1700000000000)
#define HELD_MAX 4

/* The suite's state: g.store is opened by the suite's first test. */
struct store_harness {
    char url[PATH_MAX + 64];
    char tmpdir[PATH_MAX]; /* "" unless we made one */
    struct store *store;
    struct store_conn *held[HELD_MAX];
    size_t n_held;
};

extern struct store_harness g;

/* Call fn(args..., &err) and fail with the store's message, not just the code. */
#define CHECK_OK(fn, ...)                                                                          \
    do {                                                                                           \
        struct ob_error err_;                                                                      \
        int rc_;                                                                                   \
                                                                                                   \
        ob_error_clear(&err_);                                                                     \
        rc_ = fn(__VA_ARGS__, &err_);                                                              \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #fn, rc_, err_.msg);                                             \
    } while (0)

/*
 * Pick the database (see above), log errors only and print the suite's
 * name, "<suite>[sqlite]" or "<suite>[postgres]", into name for
 * cmocka_run_group_tests_name.  A temporary directory is named
 * "<tmp_prefix>-XXXXXX" and holds the SQLite file at db_file, a path
 * relative to it.  Returns 0, or -1 when no directory could be made.
 */
int store_suite_begin(const char *suite, const char *tmp_prefix, const char *db_file, char *name,
                      size_t name_size);

bool is_postgres(void);

/* Group setup: a clean database (PostgreSQL's schema dropped and created
 * again).  Group teardown: close g.store, remove the temporary directory. */
int group_setup(void **state);
int group_teardown(void **state);

/* Connections a test holds: a failed assertion leaves the test at once, so
 * test_teardown gives back what it did not (else store_close aborts). */
struct store_conn *conn_get(void);
void conn_put(struct store_conn *conn);
int test_teardown(void **state);

/* Run sql, failing the test with the store's message. */
void exec_ok(struct store_conn *conn, const char *sql, const struct db_param *params, size_t n);

/* The one integer a query such as SELECT COUNT(*) returns. */
int64_t count_rows(struct store_conn *conn, const char *sql, const struct db_param *params,
                   size_t n);

/* An incident for service/team with open key "<service>\n<key>". */
int64_t new_incident(struct store_conn *conn, const char *service, const char *team,
                     const char *key, int64_t at_ms);

#endif
