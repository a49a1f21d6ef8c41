/*
 * driver_sqlite.c - the embedded store: one sqlite3 handle per pool slot.
 *
 * Durability: WAL journal with synchronous=FULL, so that a committed
 * transaction (an acknowledged alert) is fsync'd before COMMIT returns.
 * Prepared statements are cached per connection, keyed by the SQL text
 * as the caller wrote it (with $N), because hot paths run the same few
 * statements over and over.
 */
#include "store/store_internal.h"
#include "util/error.h"
#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Writers queue on SQLite's single write lock; wait rather than fail. */
#define SQLITE_BUSY_TIMEOUT_MS 10000
#define SQLITE_CACHE_BUCKETS   64
/* Beyond this many distinct statements, new ones are prepared per call:
 * a caller building SQL from unbounded input must not grow the cache. */
#define SQLITE_CACHE_MAX 256

struct sqlite_cached {
    char *sql; /* the caller's text, the cache key */
    uint64_t hash;
    sqlite3_stmt *stmt;
    struct sqlite_cached *next;
};

/*
 * One per database path in this process: its connections' write
 * transactions take it before BEGIN IMMEDIATE and give it back at COMMIT or
 * ROLLBACK.  Without it, threads of one process (ingest writer, engine,
 * dispatcher, HTTP handlers) queue on SQLite's file lock through its busy
 * handler, which polls with growing sleeps (1, 2, 5, 10, 15, 20, 25, 25,
 * 25, 50, 50, 100 ms ...): a writer that found the lock taken a few times in
 * a row went on sleeping for tens of milliseconds after it was freed.  This
 * lock wakes the next waiter the moment it is given back.  Other processes
 * (the CLI, other nodes) still meet at SQLite's lock and its busy timeout.
 */
struct sqlite_writer_lock {
    struct sqlite_writer_lock *next;
    char *path;
    unsigned refs;
    pthread_mutex_t mutex; /* guards held */
    pthread_cond_t freed;
    bool held; /* by a connection, not a thread: COMMIT may come from another */
};

static pthread_mutex_t sqlite_writer_locks_guard = PTHREAD_MUTEX_INITIALIZER;
static struct sqlite_writer_lock *sqlite_writer_locks;

struct sqlite_conn {
    struct store_conn base; /* first: the generic layer holds &base */
    sqlite3 *db;
    int last_error; /* extended code of the last failure */
    struct sqlite_cached *cache[SQLITE_CACHE_BUCKETS];
    size_t n_cached;
    struct sqlite_writer_lock *writer; /* shared by the connections to this path */
    bool writing;                      /* this connection holds writer */
};

static struct sqlite_conn *sqlite_conn_of(struct store_conn *conn)
{
    return (struct sqlite_conn *)conn;
}

/* ---- $N -> ?N ---------------------------------------------------------------- */

static bool sqlite_is_ident_char(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Skip from an opening quote to just past its closing one. A doubled quote
 * ('it''s') is simply two quoted runs back to back, which is equivalent. */
static char *sqlite_skip_quoted(char *p, char close)
{
    p++;
    while (*p != '\0' && *p != close)
        p++;
    return *p != '\0' ? p + 1 : p;
}

size_t sqlite_rewrite_placeholders(char *sql)
{
    size_t n = 0;
    char *p = sql;

    while (*p != '\0') {
        unsigned char c = (unsigned char)*p;

        if (c == '\'' || c == '"' || c == '`') {
            p = sqlite_skip_quoted(p, (char)c);
        } else if (c == '[') {
            p = sqlite_skip_quoted(p, ']');
        } else if (c == '-' && p[1] == '-') {
            while (*p != '\0' && *p != '\n')
                p++;
        } else if (c == '/' && p[1] == '*') {
            char *end = strstr(p + 2, "*/");

            p = end != NULL ? end + 2 : p + strlen(p);
        } else if (c == '$' && isdigit((unsigned char)p[1])) {
            *p++ = '?';
            n++;
            while (isdigit((unsigned char)*p))
                p++;
        } else if (sqlite_is_ident_char(c)) {
            /* A '$' inside an identifier (a$1) is part of its name. */
            while (sqlite_is_ident_char((unsigned char)*p))
                p++;
        } else {
            p++;
        }
    }
    return n;
}

/* ---- errors ---------------------------------------------------------------- */

static int sqlite_fail(struct sqlite_conn *sc, int src, struct ob_error *err)
{
    int code = OB_ESTORE;

    sc->last_error = src;
    if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
        code = OB_ECONFLICT;
    else if (src == SQLITE_NOMEM)
        code = OB_ENOMEM;
    return ob_fail(err, code, "sqlite: %s", sqlite3_errmsg(sc->db));
}

/* ---- statement cache ------------------------------------------------------- */

static uint64_t sqlite_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Prepare sql (rewritten to ?N). *persistent says whether it may be cached. */
static int sqlite_prepare(struct sqlite_conn *sc, const char *sql, bool persistent,
                          sqlite3_stmt **stmt, struct ob_error *err)
{
    char *text = strdup(sql);
    const char *tail = NULL;
    int src;
    int rc = 0;

    *stmt = NULL;
    if (text == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    sqlite_rewrite_placeholders(text);
    src = sqlite3_prepare_v3(sc->db, text, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, stmt,
                             &tail);
    if (src != SQLITE_OK) {
        rc = sqlite_fail(sc, src, err);
        goto out;
    }
    if (*stmt == NULL) {
        rc = ob_fail(err, OB_ESTORE, "sqlite: empty statement");
        goto out;
    }
    /* PostgreSQL refuses several statements in one call; so do we, rather
     * than silently ignoring the rest. */
    while (tail != NULL && (isspace((unsigned char)*tail) || *tail == ';'))
        tail++;
    if (tail != NULL && *tail != '\0') {
        rc = ob_fail(err, OB_ESTORE, "sqlite: several statements in one store_exec call");
        goto out;
    }
out:
    if (rc != 0) {
        sqlite3_finalize(*stmt);
        *stmt = NULL;
    }
    free(text);
    return rc;
}

/* Find or prepare sql's statement; *cached is false when the caller must
 * finalize it after use. */
static int sqlite_stmt_get(struct sqlite_conn *sc, const char *sql, sqlite3_stmt **stmt,
                           bool *cached, struct ob_error *err)
{
    uint64_t hash = sqlite_hash(sql);
    struct sqlite_cached **bucket = &sc->cache[hash % SQLITE_CACHE_BUCKETS];
    struct sqlite_cached *entry;
    bool cacheable = sc->n_cached < SQLITE_CACHE_MAX;
    int rc;

    for (entry = *bucket; entry != NULL; entry = entry->next) {
        if (entry->hash == hash && strcmp(entry->sql, sql) == 0) {
            *stmt = entry->stmt;
            *cached = true;
            return 0;
        }
    }
    rc = sqlite_prepare(sc, sql, cacheable, stmt, err);
    if (rc != 0)
        return rc;
    *cached = false;
    if (!cacheable)
        return 0;
    entry = calloc(1, sizeof(*entry));
    if (entry == NULL)
        return 0; /* run uncached */
    entry->sql = strdup(sql);
    if (entry->sql == NULL) {
        free(entry);
        return 0;
    }
    entry->hash = hash;
    entry->stmt = *stmt;
    entry->next = *bucket;
    *bucket = entry;
    sc->n_cached++;
    *cached = true;
    return 0;
}

static void sqlite_cache_clear(struct sqlite_conn *sc)
{
    for (size_t i = 0; i < SQLITE_CACHE_BUCKETS; i++) {
        struct sqlite_cached *entry = sc->cache[i];

        while (entry != NULL) {
            struct sqlite_cached *next = entry->next;

            sqlite3_finalize(entry->stmt);
            free(entry->sql);
            free(entry);
            entry = next;
        }
        sc->cache[i] = NULL;
    }
    sc->n_cached = 0;
}

/* ---- exec -------------------------------------------------------------------- */

static int sqlite_bind(struct sqlite_conn *sc, sqlite3_stmt *stmt, const struct db_param *params,
                       size_t n_params, struct ob_error *err)
{
    int want = sqlite3_bind_parameter_count(stmt);

    if ((size_t)want != n_params)
        return ob_fail(err, OB_ESTORE, "sqlite: statement has %d parameters, %zu given", want,
                       n_params);
    for (size_t i = 0; i < n_params; i++) {
        int idx = (int)i + 1;
        int src;

        switch (params[i].type) {
        case DB_TEXT:
            /* Borrowed: bindings are cleared before store_exec returns. */
            src = params[i].text != NULL
                      ? sqlite3_bind_text(stmt, idx, params[i].text, -1, SQLITE_STATIC)
                      : sqlite3_bind_null(stmt, idx);
            break;
        case DB_INT64:
            src = sqlite3_bind_int64(stmt, idx, params[i].i64);
            break;
        case DB_NULL:
            src = sqlite3_bind_null(stmt, idx);
            break;
        default:
            return ob_fail(err, OB_EINVAL, "parameter $%d has an unknown type", idx);
        }
        if (src != SQLITE_OK)
            return sqlite_fail(sc, src, err);
    }
    return 0;
}

static int sqlite_read_row(sqlite3 *db, sqlite3_stmt *stmt, struct db_result *res)
{
    for (size_t col = 0; col < res->cols; col++) {
        const unsigned char *text;
        int rc;

        if (sqlite3_column_type(stmt, (int)col) == SQLITE_NULL) {
            rc = db_result_push(res, NULL, 0);
        } else {
            /* Text first, then its length, as SQLite documents. NULL here is
             * either out of memory or an empty BLOB. */
            text = sqlite3_column_text(stmt, (int)col);
            if (text == NULL && sqlite3_errcode(db) == SQLITE_NOMEM)
                return OB_ENOMEM;
            if (text == NULL)
                text = (const unsigned char *)"";
            rc = db_result_push(res, (const char *)text,
                                (size_t)sqlite3_column_bytes(stmt, (int)col));
        }
        if (rc != 0)
            return rc;
    }
    db_result_end_row(res);
    return 0;
}

static int sqlite_exec(struct store_conn *conn, const char *sql, const struct db_param *params,
                       size_t n_params, struct db_result **res, int64_t *affected,
                       struct ob_error *err)
{
    struct sqlite_conn *sc = sqlite_conn_of(conn);
    struct db_result *rows = NULL;
    sqlite3_stmt *stmt = NULL;
    sqlite3_int64 changes_before;
    bool cached = false;
    int src;
    int rc;

    rc = sqlite_stmt_get(sc, sql, &stmt, &cached, err);
    if (rc != 0)
        return rc;
    rc = sqlite_bind(sc, stmt, params, n_params, err);
    if (rc != 0)
        goto out;
    if (res != NULL) {
        rows = db_result_new((size_t)sqlite3_column_count(stmt));
        if (rows == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    changes_before = sqlite3_total_changes64(sc->db);
    while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (rows != NULL && sqlite_read_row(sc->db, stmt, rows) != 0) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (src != SQLITE_DONE) {
        rc = sqlite_fail(sc, src, err);
        goto out;
    }
    /* sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE, even
     * after a SELECT; only trust it when this statement changed something. */
    if (affected != NULL && sqlite3_total_changes64(sc->db) != changes_before)
        *affected = sqlite3_changes64(sc->db);
    if (res != NULL) {
        *res = rows;
        rows = NULL;
    }
out:
    db_result_free(rows);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    if (!cached)
        sqlite3_finalize(stmt);
    return rc;
}

static int sqlite_exec_script(struct store_conn *conn, const char *sql, struct ob_error *err)
{
    struct sqlite_conn *sc = sqlite_conn_of(conn);
    int src = sqlite3_exec(sc->db, sql, NULL, NULL, NULL);

    return src == SQLITE_OK ? 0 : sqlite_fail(sc, src, err);
}

/* ---- transactions ------------------------------------------------------------ */

static struct sqlite_writer_lock *sqlite_writer_lock_get(const char *path)
{
    struct sqlite_writer_lock *l;

    pthread_mutex_lock(&sqlite_writer_locks_guard);
    for (l = sqlite_writer_locks; l != NULL; l = l->next) {
        if (strcmp(l->path, path) == 0)
            break;
    }
    if (l == NULL && (l = calloc(1, sizeof(*l))) != NULL) {
        l->path = strdup(path);
        if (l->path == NULL) {
            free(l);
            l = NULL;
        } else {
            pthread_mutex_init(&l->mutex, NULL);
            pthread_cond_init(&l->freed, NULL);
            l->next = sqlite_writer_locks;
            sqlite_writer_locks = l;
        }
    }
    if (l != NULL)
        l->refs++;
    pthread_mutex_unlock(&sqlite_writer_locks_guard);
    return l;
}

static void sqlite_writer_lock_put(struct sqlite_writer_lock *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&sqlite_writer_locks_guard);
    if (--l->refs == 0) {
        struct sqlite_writer_lock **p = &sqlite_writer_locks;
        while (*p != l)
            p = &(*p)->next;
        *p = l->next;
        pthread_cond_destroy(&l->freed);
        pthread_mutex_destroy(&l->mutex);
        free(l->path);
        free(l);
    }
    pthread_mutex_unlock(&sqlite_writer_locks_guard);
}

/* Wait for this process's other write transactions on the database, as long
 * as SQLite's busy timeout would have: a thread that already holds a
 * transaction on another connection fails the same way as before, in time. */
static int sqlite_writer_enter(struct sqlite_conn *sc, struct ob_error *err)
{
    struct sqlite_writer_lock *l = sc->writer;
    struct timespec until;
    int e = 0;

    if (l == NULL || sc->writing)
        return 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SQLITE_BUSY_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&l->mutex);
    while (l->held && e == 0)
        e = pthread_cond_timedwait(&l->freed, &l->mutex, &until);
    if (!l->held) {
        l->held = true;
        e = 0;
    }
    pthread_mutex_unlock(&l->mutex);
    if (e != 0)
        return ob_fail(err, OB_ESTORE, "sqlite: database is locked (%s)",
                       e == ETIMEDOUT ? "a write transaction of this process held it too long"
                                      : strerror(e));
    sc->writing = true;
    return 0;
}

static void sqlite_writer_leave(struct sqlite_conn *sc)
{
    struct sqlite_writer_lock *l = sc->writer;

    if (!sc->writing)
        return;
    sc->writing = false;
    pthread_mutex_lock(&l->mutex);
    l->held = false;
    pthread_cond_signal(&l->freed);
    pthread_mutex_unlock(&l->mutex);
}

static bool sqlite_in_transaction(struct store_conn *conn)
{
    return sqlite3_get_autocommit(sqlite_conn_of(conn)->db) == 0;
}

static int sqlite_begin(struct store_conn *conn, struct ob_error *err)
{
    /* IMMEDIATE takes the write lock now (waiting up to busy_timeout): a
     * deferred transaction that reads then writes can fail with SQLITE_BUSY
     * without waiting, which callers could not sensibly handle. */
    struct sqlite_conn *sc = sqlite_conn_of(conn);
    int rc = sqlite_writer_enter(sc, err);

    if (rc == 0)
        rc = sqlite_exec(conn, "BEGIN IMMEDIATE", NULL, 0, NULL, NULL, err);
    if (rc != 0)
        sqlite_writer_leave(sc);
    return rc;
}

static void sqlite_rollback(struct store_conn *conn)
{
    struct sqlite_conn *sc = sqlite_conn_of(conn);
    struct ob_error e;

    /* Some errors (SQLITE_FULL, ...) already rolled the transaction back. */
    if (sqlite_in_transaction(conn) && sqlite_exec(conn, "ROLLBACK", NULL, 0, NULL, NULL, &e) != 0)
        log_error("store", "rollback failed", "error", e.msg);
    if (!sqlite_in_transaction(conn))
        sqlite_writer_leave(sc);
}

static int sqlite_commit(struct store_conn *conn, struct ob_error *err)
{
    int rc = sqlite_exec(conn, "COMMIT", NULL, 0, NULL, NULL, err);

    /* A COMMIT that failed (SQLITE_BUSY, I/O) leaves the transaction open. */
    if (rc != 0)
        sqlite_rollback(conn);
    else
        sqlite_writer_leave(sqlite_conn_of(conn));
    return rc;
}

/* Migrations run each in BEGIN IMMEDIATE, which already serialises them. */
static int sqlite_lock_schema(struct store_conn *conn, struct ob_error *err)
{
    return 0;
}

static void sqlite_unlock_schema(struct store_conn *conn)
{
}

/* ---- open / close ------------------------------------------------------------ */

/* mkdir -p the directories above path. */
static int sqlite_make_parents(const char *path, struct ob_error *err)
{
    char *dir = strdup(path);
    int rc = 0;

    if (dir == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        /* 0700: the database holds token hashes and the audit log. */
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = ob_fail(err, OB_ESTORE, "sqlite: cannot create directory %s: %s", dir,
                         strerror(errno));
            goto out;
        }
        *p = '/';
    }
out:
    free(dir);
    return rc;
}

/*
 * Create the file ourselves so that it is 0600 whatever the umask; SQLite
 * gives the -wal and -shm files the same mode. Only a file that does not
 * exist yet is touched: close() on any descriptor of the database file
 * drops every POSIX lock this process holds on it, including the locks of
 * pool connections already open, and then two processes can write the WAL
 * at once and lose each other's commits.
 */
static int sqlite_precreate(const char *path, struct ob_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0 && errno == EEXIST)
        return 0;
    if (fd < 0)
        return ob_fail(err, OB_ESTORE, "sqlite: cannot create %s: %s", path, strerror(errno));
    close(fd);
    return 0;
}

/* Run a PRAGMA and, when want is not NULL, check the value it reports. */
static int sqlite_pragma(struct sqlite_conn *sc, const char *sql, const char *want,
                         struct ob_error *err)
{
    struct db_result *res = NULL;
    const char *got;
    int rc;

    rc = sqlite_exec(&sc->base, sql, NULL, 0, &res, NULL, err);
    if (rc != 0 || want == NULL)
        goto out;
    got = db_result_text(res, 0, 0);
    if (got == NULL || strcmp(got, want) != 0)
        rc = ob_fail(err, OB_ESTORE, "sqlite: %s reported '%s', want '%s'", sql,
                     got != NULL ? got : "", want);
out:
    db_result_free(res);
    return rc;
}

/*
 * Turning a new database to WAL takes an exclusive lock, and SQLite does
 * not call the busy handler for it: when several connections (or nodes'
 * processes) open a fresh file at once, some get SQLITE_BUSY at once.
 * Retry for as long as the busy timeout would have waited.
 */
static int sqlite_enable_wal(struct sqlite_conn *sc, struct ob_error *err)
{
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    int rc = 0;

    for (int waited_ms = 0; waited_ms <= SQLITE_BUSY_TIMEOUT_MS; waited_ms += 10) {
        sc->last_error = SQLITE_OK;
        rc = sqlite_pragma(sc, "PRAGMA journal_mode=WAL", "wal", err);
        if (rc == 0 || (sc->last_error & 0xff) != SQLITE_BUSY)
            break;
        nanosleep(&pause, NULL);
    }
    return rc;
}

static void sqlite_close(struct store_conn *conn)
{
    struct sqlite_conn *sc = sqlite_conn_of(conn);

    if (sc == NULL)
        return;
    sqlite_cache_clear(sc);
    if (sc->db != NULL && sqlite3_close(sc->db) != SQLITE_OK)
        log_error("store", "sqlite close failed", "error", sqlite3_errmsg(sc->db));
    sqlite_writer_leave(sc);
    sqlite_writer_lock_put(sc->writer);
    free(sc);
}

static int sqlite_open(const char *path, struct store_conn **out, struct ob_error *err)
{
    struct sqlite_conn *sc;
    int src;
    int rc;

    *out = NULL;
    /* Connections are used by one thread at a time; no per-handle mutex
     * needed, but the library itself must be thread-safe. */
    if (sqlite3_threadsafe() == 0)
        return ob_fail(err, OB_ESTORE, "sqlite: library built without thread support");
    sc = calloc(1, sizeof(*sc));
    if (sc == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    rc = sqlite_make_parents(path, err);
    if (rc == 0)
        rc = sqlite_precreate(path, err);
    if (rc != 0)
        goto out;
    src = sqlite3_open_v2(path, &sc->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = ob_fail(err, OB_ESTORE, "sqlite: cannot open %s: %s", path,
                     sc->db != NULL ? sqlite3_errmsg(sc->db) : sqlite3_errstr(src));
        goto out;
    }
    sc->writer = sqlite_writer_lock_get(path); /* NULL (out of memory): SQLite's lock alone */
    /* Extended codes tell a UNIQUE violation from other constraints. */
    sqlite3_extended_result_codes(sc->db, 1);
    sqlite3_busy_timeout(sc->db, SQLITE_BUSY_TIMEOUT_MS);
    rc = sqlite_enable_wal(sc, err);
    if (rc == 0)
        rc = sqlite_pragma(sc, "PRAGMA synchronous=FULL", NULL, err);
    if (rc == 0)
        rc = sqlite_pragma(sc, "PRAGMA foreign_keys=ON", NULL, err);
    if (rc != 0)
        goto out;
    *out = &sc->base;
    sc = NULL;
out:
    if (sc != NULL)
        sqlite_close(&sc->base);
    return rc;
}

const struct store_driver store_driver_sqlite = {
    .name = "sqlite",
    .dialect = STORE_DIALECT_SQLITE,
    .ddl_id = "INTEGER PRIMARY KEY AUTOINCREMENT",
    .ddl_blob = "BLOB",
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .in_transaction = sqlite_in_transaction,
    .lock_schema = sqlite_lock_schema,
    .unlock_schema = sqlite_unlock_schema,
};
