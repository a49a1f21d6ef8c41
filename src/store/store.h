/*
 * store.h - the database layer: one API, two drivers (SQLite and PostgreSQL).
 *
 * A `struct store` is a small pool of connections to one database, named by a
 * storage URL:
 *   sqlite:PATH            embedded, WAL mode, the default
 *   postgres://...         (or postgresql://...) through libpq; several nodes
 *
 * store_open() applies the versioned schema migrations (idempotent; on
 * PostgreSQL guarded by an advisory lock so that several nodes may start at
 * once).  SQL is written once, with $1, $2 ... placeholders; the SQLite driver
 * rewrites them.  Timestamps are BIGINT milliseconds since the Unix epoch, UTC.
 * Booleans are INTEGER 0/1.
 *
 * Threads: a struct store may be used from any thread.  A struct store_conn is
 * borrowed by one thread at a time, between store_acquire() and
 * store_release().  Domain functions take a connection so that callers can
 * put several of them (a state change and its audit event) in one
 * transaction.
 *
 * Errors: 0 or a negative OB_* code; OB_ESTORE for database failures (message
 * from the driver), OB_ENOTFOUND when a looked-up row is absent,
 * OB_ECONFLICT for unique-constraint violations.
 */
#ifndef OPSBELL_STORE_STORE_H
#define OPSBELL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ob_error;
struct store;
struct store_conn;

/* ---- lifecycle --------------------------------------------------------------- */

/*
 * Open a pool of pool_size (>= 1) connections and migrate the schema.
 * For sqlite:PATH, missing parent directories are created.
 * Returns 0 and *out, or a negative code (OB_EINVAL for a malformed or
 * unsupported URL, OB_ESTORE when the database refuses).
 */
int store_open(const char *url, unsigned pool_size, struct store **out, struct ob_error *err);
/* Close every connection. All connections must have been released. Accepts NULL. */
void store_close(struct store *store);

/* "sqlite" or "postgres". */
const char *store_driver_name(const struct store *store);
/* The schema version after migrations (the highest applied migration). */
int store_schema_version(struct store *store, int *version, struct ob_error *err);
/* The number of migrations compiled into this binary. */
int store_latest_schema_version(void);

/* Borrow a connection (waits while all are in use). Returns 0 or OB_EUNAVAILABLE. */
int store_acquire(struct store *store, struct store_conn **conn, struct ob_error *err);
/* Give it back. A transaction still open is rolled back. Accepts NULL. */
void store_release(struct store_conn *conn);

int store_begin(struct store_conn *conn, struct ob_error *err);
int store_commit(struct store_conn *conn, struct ob_error *err);
/* Never fails in a way the caller can act on; errors are logged. */
void store_rollback(struct store_conn *conn);

/*
 * One savepoint inside an open transaction, for work that may fail on its own
 * (one event of a batch): store_savepoint() marks it, then either
 * store_savepoint_release() keeps the work or store_savepoint_rollback()
 * undoes it and lets the transaction go on (even after a failed statement).
 * Not nestable.
 */
int store_savepoint(struct store_conn *conn, struct ob_error *err);
int store_savepoint_release(struct store_conn *conn, struct ob_error *err);
int store_savepoint_rollback(struct store_conn *conn, struct ob_error *err);

/* Quick liveness check for /healthz ("SELECT 1"). */
int store_ping(struct store *store, struct ob_error *err);

/* ---- generic queries ------------------------------------------------------- */

enum db_type { DB_NULL = 0, DB_TEXT, DB_INT64 };

struct db_param {
    enum db_type type;
    const char *text; /* borrowed, for DB_TEXT */
    int64_t i64;      /* for DB_INT64 */
};

#define DB_P_TEXT(s)                                                                               \
    ((struct db_param){.type = ((const char *)(s) != NULL) ? DB_TEXT : DB_NULL, .text = (s)})
#define DB_P_INT(v) ((struct db_param){.type = DB_INT64, .i64 = (v)})
#define DB_P_NULL   ((struct db_param){.type = DB_NULL})

/* Rows fully read into memory; owned by the caller, freed by db_result_free. */
struct db_result;

/*
 * Run one statement with $1..$n bound to params[0..n-1]. When res is not
 * NULL, the rows are returned in *res (possibly zero rows). affected (may be
 * NULL) receives the number of rows changed.
 */
int store_exec(struct store_conn *conn, const char *sql, const struct db_param *params,
               size_t n_params, struct db_result **res, int64_t *affected, struct ob_error *err);

size_t db_result_rows(const struct db_result *res);
size_t db_result_cols(const struct db_result *res);
bool db_result_is_null(const struct db_result *res, size_t row, size_t col);
/* Text of a cell (borrowed from res); NULL for SQL NULL. */
const char *db_result_text(const struct db_result *res, size_t row, size_t col);
/* Integer value of a cell; 0 for NULL or non-numeric text. */
int64_t db_result_int64(const struct db_result *res, size_t row, size_t col);
/* A malloc'd copy of a cell's text (the caller frees it); NULL for SQL NULL.
 * When the copy cannot be made, *ok is set to false (never set to true). */
char *db_result_dup(const struct db_result *res, size_t row, size_t col, bool *ok);
/* Accepts NULL. */
void db_result_free(struct db_result *res);

/* ---- domain: API tokens ---------------------------------------------------- */

/* A token as stored: never the secret, only its SHA-256 (hex). */
struct store_token {
    int64_t id;
    char *name;       /* owned */
    char *scope;      /* owned: "read" | "write" | "admin" */
    char *team;       /* owned; NULL = every team */
    char *created_by; /* owned: actor that created it */
    int64_t created_at_ms;
    int64_t expires_at_ms;   /* 0 = never */
    int64_t revoked_at_ms;   /* 0 = active */
    int64_t last_used_at_ms; /* 0 = never used */
    char *user_name;         /* owned; a person's token: the API acts as this user; NULL = none */
    char *agent_host;        /* owned; a host agent's token (only the agent endpoints, this host) */
};

/* Insert; hash_hex is the 64-character hex SHA-256 of the secret.
 * Sets t->id on success. OB_ECONFLICT when the hash already exists. */
int store_token_insert(struct store_conn *conn, struct store_token *t, const char *hash_hex,
                       struct ob_error *err);
/* Find by hash (active or not: the caller checks revoked/expired). */
int store_token_find_by_hash(struct store_conn *conn, const char *hash_hex, struct store_token *out,
                             struct ob_error *err);
int store_token_get(struct store_conn *conn, int64_t id, struct store_token *out,
                    struct ob_error *err);
/* Every token, oldest first. *out is an owned array of *count tokens, freed
 * with store_token_array_free. */
int store_token_list(struct store_conn *conn, struct store_token **out, size_t *count,
                     struct ob_error *err);
/* Mark revoked at now_ms. OB_ENOTFOUND when absent, OB_ECONFLICT when already revoked. */
int store_token_revoke(struct store_conn *conn, int64_t id, int64_t now_ms, struct ob_error *err);
/* Record a use (best effort: at most one write per token per minute is enough). */
int store_token_touch(struct store_conn *conn, int64_t id, int64_t now_ms, struct ob_error *err);
/* Free what t owns (not t). Accepts NULL. */
void store_token_release(struct store_token *t);
void store_token_array_free(struct store_token *arr, size_t count);

/* ---- domain: audit log (append-only: UPDATE and DELETE are refused by the schema) */

struct audit_event {
    int64_t id;
    int64_t at_ms;
    char *actor;       /* "token:ci-bot", "cli:root", "slack:U123" */
    char *action;      /* "token.create", "config.reload" ... */
    char *target;      /* "token:12"; may be NULL */
    char *remote_addr; /* "127.0.0.1", "local"; may be NULL */
    char *request_id;  /* may be NULL */
    char *details;     /* JSON object text; may be NULL */
};

struct audit_filter {
    int64_t before_id;  /* 0 = from the newest */
    size_t limit;       /* 0 = 100; capped at 1000 */
    const char *actor;  /* NULL = any */
    const char *action; /* NULL = any */
};

/* Append one event; id is assigned (and written back to ev->id). */
int store_audit_append(struct store_conn *conn, struct audit_event *ev, struct ob_error *err);
/* Newest first. *out is an owned array freed with audit_event_array_free. */
int store_audit_list(struct store_conn *conn, const struct audit_filter *filter,
                     struct audit_event **out, size_t *count, struct ob_error *err);
void audit_event_release(struct audit_event *ev);
void audit_event_array_free(struct audit_event *arr, size_t count);

/* Milliseconds since the epoch, from CLOCK_REALTIME. */
int64_t store_now_ms(void);

#endif
