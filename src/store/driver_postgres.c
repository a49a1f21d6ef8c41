/*
 * driver_postgres.c - the shared store for several nodes, through libpq.
 *
 * Parameters go as text. DB_INT64 is typed int8; text and NULL are left
 * untyped so that PostgreSQL infers their type from the statement, the same
 * way whether the value is NULL or not.
 *
 * Prepared statements: each connection prepares a statement the first time
 * it runs it (keyed by its text and its parameters' types) and runs it with
 * PQexecPrepared from then on, so the server parses and plans it once per
 * connection instead of once per call. The SQL of this program comes from
 * a fixed set of texts, so the cache stays small; past PG_STMT_CACHE
 * entries statements simply run unprepared. A reconnect forgets the cache
 * (the server forgot the statements).
 */
#include "store/store_internal.h"
#include "util/error.h"
#include "util/log.h"

#include <inttypes.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_type.oid of int8; the server headers that name it are not needed. */
#define PG_INT8_OID 20
/* Largest parameter count the wire protocol carries (a 16-bit field). */
#define PG_MAX_PARAMS 65535
/* Statements with more parameters than this are never prepared. */
#define PG_SIG_MAX 64
/* Key of the session advisory lock that serialises schema migrations
 * between nodes ("opsbell" in ASCII). */
#define PG_MIGRATION_LOCK "31367363289246828"

/* Statements prepared on one connection. */
#define PG_STMT_CACHE 512

struct pg_stmt {
    uint64_t hash; /* of sql and types */
    char *sql;     /* owned */
    char *types;   /* owned: one 'i' (int8) or 'u' (untyped) per parameter */
    char name[16]; /* "ob_<n>" on the server */
};

struct pg_conn {
    struct store_conn base; /* first: the generic layer holds &base */
    PGconn *pg;
    struct pg_stmt *stmts; /* owned, stmt_count used */
    size_t stmt_count;
    unsigned stmt_serial; /* names are never reused on one session */
};

static void pg_stmts_forget(struct pg_conn *pc)
{
    for (size_t i = 0; i < pc->stmt_count; i++) {
        free(pc->stmts[i].sql);
        free(pc->stmts[i].types);
    }
    free(pc->stmts);
    pc->stmts = NULL;
    pc->stmt_count = 0;
}

static uint64_t pg_stmt_hash(const char *sql, const char *types)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (const char *p = sql; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = types; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/*
 * The name of the statement prepared for sql with these parameter types,
 * preparing it now when new; NULL when it cannot be prepared (cache full,
 * out of memory, or the server refused: then the caller runs it unprepared
 * and gets the server's error the usual way).
 */
static const char *pg_stmt_name(struct pg_conn *pc, const char *sql, const Oid *oids, int n,
                                const char *types)
{
    uint64_t h = pg_stmt_hash(sql, types);
    struct pg_stmt *st;
    PGresult *r;

    for (size_t i = 0; i < pc->stmt_count; i++) {
        st = &pc->stmts[i];
        if (st->hash == h && strcmp(st->types, types) == 0 && strcmp(st->sql, sql) == 0)
            return st->name;
    }
    if (pc->stmt_count == PG_STMT_CACHE)
        return NULL;
    if (pc->stmts == NULL) {
        pc->stmts = calloc(PG_STMT_CACHE, sizeof(*pc->stmts));
        if (pc->stmts == NULL)
            return NULL;
    }
    st = &pc->stmts[pc->stmt_count];
    snprintf(st->name, sizeof(st->name), "ob_%u", pc->stmt_serial++);
    r = PQprepare(pc->pg, st->name, sql, n, oids);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        return NULL;
    }
    PQclear(r);
    st->sql = strdup(sql);
    st->types = strdup(types);
    if (st->sql == NULL || st->types == NULL) {
        free(st->sql);
        free(st->types);
        st->sql = st->types = NULL;
        return NULL; /* the server keeps an unused statement: harmless */
    }
    st->hash = h;
    pc->stmt_count++;
    return st->name;
}

static struct pg_conn *pg_conn_of(struct store_conn *conn)
{
    return (struct pg_conn *)conn;
}

/* libpq messages end with a newline, sometimes several lines: keep the first. */
static void pg_first_line(const char *msg, char *buf, size_t cap)
{
    size_t n = strcspn(msg != NULL ? msg : "", "\r\n");

    if (msg == NULL || n == 0) {
        snprintf(buf, cap, "unknown error");
        return;
    }
    snprintf(buf, cap, "%.*s", (int)n, msg);
}

static int pg_fail_result(struct pg_conn *pc, const PGresult *r, struct ob_error *err)
{
    const char *sqlstate = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char line[OB_ERROR_MSG_MAX];
    int code = OB_ESTORE;

    pg_first_line(primary != NULL ? primary : PQerrorMessage(pc->pg), line, sizeof(line));
    if (sqlstate != NULL && strcmp(sqlstate, "23505") == 0) /* unique_violation */
        code = OB_ECONFLICT;
    return ob_fail(err, code, "postgres: %s", line);
}

static void pg_notice(void *arg, const char *message)
{
    char line[OB_ERROR_MSG_MAX];

    /* "relation already exists, skipping" and the like: not worth stderr. */
    pg_first_line(message, line, sizeof(line));
    log_debug("store", "postgres notice", "notice", line);
}

/* ---- exec -------------------------------------------------------------------- */

static int pg_read_rows(const PGresult *r, struct db_result *res)
{
    int n_rows = PQntuples(r);

    for (int row = 0; row < n_rows; row++) {
        for (size_t col = 0; col < res->cols; col++) {
            const char *text = NULL;
            size_t len = 0;

            if (!PQgetisnull(r, row, (int)col)) {
                text = PQgetvalue(r, row, (int)col);
                len = (size_t)PQgetlength(r, row, (int)col);
            }
            if (db_result_push(res, text, len) != 0)
                return OB_ENOMEM;
        }
        db_result_end_row(res);
    }
    return 0;
}

/* Rows changed by the statement; a SELECT reports its row count, which is
 * not a change (SQLite says 0 there too). */
static int64_t pg_affected(const PGresult *r)
{
    const char *tuples = PQcmdTuples((PGresult *)r);

    if (strncmp(PQcmdStatus((PGresult *)r), "SELECT", 6) == 0 || tuples[0] == '\0')
        return 0;
    return (int64_t)strtoll(tuples, NULL, 10);
}

/* Re-dial a connection the server dropped (restart, failover), but never in
 * the middle of a transaction: its work is gone and the caller must know. */
static void pg_revive(struct pg_conn *pc)
{
    if (PQstatus(pc->pg) != CONNECTION_BAD || pc->base.in_tx)
        return;
    log_warn("store", "postgres connection lost; reconnecting");
    pg_stmts_forget(pc);
    PQreset(pc->pg);
}

static int pg_exec(struct store_conn *conn, const char *sql, const struct db_param *params,
                   size_t n_params, struct db_result **res, int64_t *affected, struct ob_error *err)
{
    struct pg_conn *pc = pg_conn_of(conn);
    const char **values = NULL;
    Oid *types = NULL;
    char(*ints)[24] = NULL;
    struct db_result *rows = NULL;
    char type_sig[PG_SIG_MAX + 1];
    const char *stmt = NULL;
    PGresult *r = NULL;
    int rc = 0;

    if (n_params > PG_MAX_PARAMS)
        return ob_fail(err, OB_EINVAL, "postgres: %zu parameters, at most %d", n_params,
                       PG_MAX_PARAMS);
    if (n_params > 0) {
        values = calloc(n_params, sizeof(*values));
        types = calloc(n_params, sizeof(*types));
        ints = calloc(n_params, sizeof(*ints));
        if (values == NULL || types == NULL || ints == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n_params; i++) {
        switch (params[i].type) {
        case DB_TEXT:
            values[i] = params[i].text; /* NULL text is SQL NULL */
            break;
        case DB_INT64:
            snprintf(ints[i], sizeof(ints[i]), "%" PRId64, params[i].i64);
            values[i] = ints[i];
            types[i] = PG_INT8_OID;
            break;
        case DB_NULL:
            break;
        default:
            rc = ob_fail(err, OB_EINVAL, "parameter $%zu has an unknown type", i + 1);
            goto out;
        }
    }

    pg_revive(pc);
    /* An aborted transaction refuses PREPARE too: run it unprepared and let
     * the server say why. */
    if (n_params <= PG_SIG_MAX && PQtransactionStatus(pc->pg) != PQTRANS_INERROR) {
        for (size_t i = 0; i < n_params; i++)
            type_sig[i] = types[i] == PG_INT8_OID ? 'i' : 'u';
        type_sig[n_params] = '\0';
        stmt = pg_stmt_name(pc, sql, types, (int)n_params, type_sig);
    }
    if (stmt != NULL)
        r = PQexecPrepared(pc->pg, stmt, (int)n_params, values, NULL, NULL, 0);
    else
        r = PQexecParams(pc->pg, sql, (int)n_params, types, values, NULL, NULL, 0);
    switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        break;
    case PGRES_EMPTY_QUERY:
        rc = ob_fail(err, OB_ESTORE, "postgres: empty statement");
        goto out;
    default:
        rc = pg_fail_result(pc, r, err);
        goto out;
    }
    if (res != NULL) {
        rows = db_result_new((size_t)PQnfields(r));
        if (rows == NULL || pg_read_rows(r, rows) != 0) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
        *res = rows;
        rows = NULL;
    }
    if (affected != NULL)
        *affected = pg_affected(r);
out:
    db_result_free(rows);
    PQclear(r);
    free(values);
    free(types);
    free(ints);
    return rc;
}

static int pg_exec_script(struct store_conn *conn, const char *sql, struct ob_error *err)
{
    struct pg_conn *pc = pg_conn_of(conn);
    PGresult *r;
    int rc = 0;

    pg_revive(pc);
    /* PQexec (simple protocol) runs several statements, and $$-quoted
     * function bodies, in one call. */
    r = PQexec(pc->pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pg_fail_result(pc, r, err);
    PQclear(r);
    return rc;
}

/* ---- transactions ------------------------------------------------------------ */

static bool pg_in_transaction(struct store_conn *conn)
{
    PGTransactionStatusType st = PQtransactionStatus(pg_conn_of(conn)->pg);

    return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

static int pg_begin(struct store_conn *conn, struct ob_error *err)
{
    return pg_exec(conn, "BEGIN", NULL, 0, NULL, NULL, err);
}

static void pg_rollback(struct store_conn *conn)
{
    struct ob_error e;

    if (!pg_in_transaction(conn))
        return;
    if (pg_exec_script(conn, "ROLLBACK", &e) != 0)
        log_error("store", "rollback failed", "error", e.msg);
}

static int pg_commit(struct store_conn *conn, struct ob_error *err)
{
    struct pg_conn *pc = pg_conn_of(conn);
    PGresult *r;
    int rc = 0;

    r = PQexec(pc->pg, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_fail_result(pc, r, err);
    else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0)
        /* COMMIT of a failed transaction "succeeds" by rolling back. */
        rc = ob_fail(err, OB_ESTORE, "postgres: transaction was rolled back by the server");
    PQclear(r);
    if (rc != 0)
        pg_rollback(conn);
    return rc;
}

/* A session-level advisory lock: held across the per-migration
 * transactions, released by unlock or when the connection closes. */
static int pg_lock_schema(struct store_conn *conn, struct ob_error *err)
{
    return pg_exec_script(conn, "SELECT pg_advisory_lock(" PG_MIGRATION_LOCK ")", err);
}

static void pg_unlock_schema(struct store_conn *conn)
{
    struct ob_error e;

    if (pg_exec_script(conn, "SELECT pg_advisory_unlock(" PG_MIGRATION_LOCK ")", &e) != 0)
        log_warn("store", "releasing the migration lock failed", "error", e.msg);
}

/* ---- open / close ------------------------------------------------------------ */

static void pg_close(struct store_conn *conn)
{
    struct pg_conn *pc = pg_conn_of(conn);

    if (pc == NULL)
        return;
    PQfinish(pc->pg);
    pg_stmts_forget(pc);
    free(pc);
}

static int pg_open(const char *url, struct store_conn **out, struct ob_error *err)
{
    /*
     * The URL is expanded by libpq exactly as PQconnectdb would. Keywords
     * before "dbname" are defaults the URL may override; those after it
     * are forced: we always exchange UTF-8.
     */
    static const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                       "client_encoding", NULL};
    const char *values[] = {"10", "opsbell", url, "UTF8", NULL};
    struct pg_conn *pc;
    char line[OB_ERROR_MSG_MAX];
    int rc = 0;

    *out = NULL;
    pc = calloc(1, sizeof(*pc));
    if (pc == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    pc->pg = PQconnectdbParams(keys, values, 1);
    if (pc->pg == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    if (PQstatus(pc->pg) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        pg_first_line(PQerrorMessage(pc->pg), line, sizeof(line));
        rc = ob_fail(err, OB_ESTORE, "postgres: cannot connect: %s", line);
        goto out;
    }
    PQsetNoticeProcessor(pc->pg, pg_notice, NULL);
    *out = &pc->base;
    pc = NULL;
out:
    if (pc != NULL)
        pg_close(&pc->base);
    return rc;
}

const struct store_driver store_driver_postgres = {
    .name = "postgres",
    .dialect = STORE_DIALECT_POSTGRES,
    .ddl_id = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    .ddl_blob = "BYTEA",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .in_transaction = pg_in_transaction,
    .lock_schema = pg_lock_schema,
    .unlock_schema = pg_unlock_schema,
};
