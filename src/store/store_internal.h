/*
 * store_internal.h - what the generic store layer, the drivers and the
 * migrations share.  Not for use outside src/store/ (and the store tests).
 *
 * A driver is a `const struct store_driver`: adding a database is adding a
 * file and one line in store.c's URL table.  A driver's connection embeds
 * `struct store_conn` as its first member (h2o style), so the generic layer
 * holds `struct store_conn *` and each driver casts back to its own type.
 *
 * Parameter types on PostgreSQL: DB_INT64 is sent as int8; DB_TEXT and
 * DB_NULL are sent untyped, so the server infers their type from context
 * (the same way whether the value is NULL or not).  Where there is no
 * context (`SELECT $1`, `$1 IS NULL` alone) write CAST($1 AS TEXT): that is
 * valid on both drivers.
 *
 * Transactions: after any failed statement inside store_begin()..commit,
 * the transaction is doomed on both drivers (PostgreSQL behaves so natively;
 * the generic layer enforces it for SQLite): later statements fail and
 * store_commit() rolls back and returns OB_ESTORE.  SQLite's store_begin()
 * is BEGIN IMMEDIATE, so a transaction never fails half-way on a lock
 * upgrade.
 */
#ifndef OPSBELL_STORE_STORE_INTERNAL_H
#define OPSBELL_STORE_STORE_INTERNAL_H

#include "store/store.h"
#include "util/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_dialect { STORE_DIALECT_SQLITE, STORE_DIALECT_POSTGRES };

struct store_driver;

/* The part of a connection the generic layer owns; first member of each
 * driver's connection struct. */
struct store_conn {
    const struct store_driver *driver;
    struct store *store; /* the pool it returns to; NULL while opening */
    bool in_tx;          /* between store_begin and commit/rollback */
    bool tx_failed;      /* a statement failed inside the transaction */
};

struct store_driver {
    const char *name; /* "sqlite" | "postgres" */
    enum store_dialect dialect;
    /* Column type of a surrogate key, for the "{{ID}}" DDL token. */
    const char *ddl_id;
    /* Binary column type, for the "{{BLOB}}" DDL token. */
    const char *ddl_blob;

    /* target: the URL without the "sqlite:" prefix, or the whole postgres URL. */
    int (*open)(const char *target, struct store_conn **out, struct ob_error *err);
    void (*close)(struct store_conn *conn);
    /* One statement with $N placeholders; see store_exec(). */
    int (*exec)(struct store_conn *conn, const char *sql, const struct db_param *params,
                size_t n_params, struct db_result **res, int64_t *affected, struct ob_error *err);
    /* Several ;-separated statements without parameters (migrations). */
    int (*exec_script)(struct store_conn *conn, const char *sql, struct ob_error *err);
    int (*begin)(struct store_conn *conn, struct ob_error *err);
    /* On failure the transaction is no longer open. */
    int (*commit)(struct store_conn *conn, struct ob_error *err);
    /* Quiet when no transaction is open. */
    void (*rollback)(struct store_conn *conn);
    /* What the database itself says (also catches a BEGIN sent by hand). */
    bool (*in_transaction)(struct store_conn *conn);
    /* Serialise schema migrations between processes/nodes (may be no-ops). */
    int (*lock_schema)(struct store_conn *conn, struct ob_error *err);
    void (*unlock_schema)(struct store_conn *conn);
};

extern const struct store_driver store_driver_sqlite;
extern const struct store_driver store_driver_postgres;

/*
 * Like store_open() but without touching the schema: for tests and tools
 * that must see the database as it is (e.g. to reset a test database).
 */
int store_open_unmigrated(const char *url, unsigned pool_size, struct store **out,
                          struct ob_error *err);

/* ---- results (store.c), filled by the drivers ---------------------------- */

/* Cells live in one byte arena; offs[i] is SIZE_MAX for SQL NULL. */
struct db_result {
    size_t rows;
    size_t cols;
    size_t *offs;   /* one offset into data per cell, row by row */
    size_t n_cells; /* cells pushed, including a row still being built */
    size_t offs_cap;
    struct strbuf data;
};

/* A result with cols columns and no rows, or NULL when out of memory. */
struct db_result *db_result_new(size_t cols);
/* Append the next cell, row by row (text NULL = SQL NULL). 0 or OB_ENOMEM. */
int db_result_push(struct db_result *res, const char *text, size_t len);
/* Count a row whose cols cells were pushed. */
void db_result_end_row(struct db_result *res);

/* ---- migrations (migrations.c) ------------------------------------------ */

/* Apply every pending migration through conn. Refuses (OB_ESTORE) a schema
 * newer than this binary knows. */
int migrations_apply(struct store_conn *conn, struct ob_error *err);
/* Highest applied version, 0 for an empty database. */
int migrations_current(struct store_conn *conn, int *version, struct ob_error *err);
/* Replace {{ID}} / {{BLOB}} in sql for a driver; the result goes to out. */
int migrations_render(const struct store_driver *driver, const char *sql, struct strbuf *out,
                      struct ob_error *err);

/* ---- SQLite helpers exposed for unit tests (driver_sqlite.c) ------------- */

/*
 * Rewrite $N placeholders to ?N in place (same length), leaving string
 * literals, quoted identifiers, comments and identifiers containing '$'
 * alone. Returns the number of placeholders rewritten.
 */
size_t sqlite_rewrite_placeholders(char *sql);

/*
 * Every row of res into a calloc'd array of item_size-byte items, each
 * filled by from_row (which leaves nothing to free when it fails). Returns
 * 0 with *items (NULL when there are no rows; the caller frees it with the
 * type's *_array_free) and *count; on failure everything is released.
 */
typedef void (*store_item_release_fn)(void *item);
typedef int (*store_row_fn)(const struct db_result *res, size_t row, void *item,
                            struct ob_error *err);

/*
 * The one row that sql (with $1 = param) selects, filled into out
 * (item_size bytes, zeroed first) by from_row; OB_ENOTFOUND with the
 * message `what` when there is none.
 */
int store_select_one(struct store_conn *conn, const char *sql, struct db_param param,
                     const char *what, size_t item_size, store_row_fn from_row, void *out,
                     struct ob_error *err);
/* Every row that sql (with params) selects, as store_rows_collect makes them. */
int store_select_all(struct store_conn *conn, const char *sql, const struct db_param *params,
                     size_t n_params, size_t item_size, store_row_fn from_row,
                     store_item_release_fn release, void **items, size_t *count,
                     struct ob_error *err);
int store_rows_collect(const struct db_result *res, size_t item_size, store_row_fn from_row,
                       store_item_release_fn release, void **items, size_t *count,
                       struct ob_error *err);

#endif
