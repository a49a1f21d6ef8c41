/*
 * store.c - the generic layer: URL -> driver, the connection pool,
 * transactions, store_exec and materialised results.
 */
#include "store/store.h"

#include "store/store_internal.h"
#include "util/error.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Generous, but finite: a thread that holds one connection while waiting
 * for another would otherwise hang the daemon silently. */
#define STORE_ACQUIRE_TIMEOUT_S 30
#define STORE_POOL_MAX          256

struct store {
    const struct store_driver *driver;
    pthread_mutex_t lock;
    pthread_cond_t idle_cond;  /* signalled when a connection is released */
    struct store_conn **conns; /* every connection, for store_close */
    struct store_conn **idle;  /* stack of connections not borrowed */
    size_t n_conns;
    size_t n_idle;
};

/* ---- URL ----------------------------------------------------------------- */

static bool store_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Pick the driver for url; *target is what the driver's open() receives. */
static int store_parse_url(const char *url, const struct store_driver **driver, const char **target,
                           struct ob_error *err)
{
    if (url == NULL || url[0] == '\0')
        return ob_fail(err, OB_EINVAL, "empty storage URL (want sqlite:PATH or postgres://...)");
    if (store_has_prefix(url, "postgres://") || store_has_prefix(url, "postgresql://")) {
        *driver = &store_driver_postgres;
        *target = url;
        return 0;
    }
    if (store_has_prefix(url, "sqlite:")) {
        const char *path = url + strlen("sqlite:");

        if (path[0] == '\0')
            return ob_fail(err, OB_EINVAL, "storage URL 'sqlite:' names no file");
        /* Each pooled connection would get its own private database. */
        if (strcmp(path, ":memory:") == 0)
            return ob_fail(err, OB_EINVAL, "sqlite::memory: is not supported, use a file");
        /* "sqlite://host/x" looks like a URL with a host, which we have no use
         * for; "sqlite:///abs/path" is accepted (it is an absolute path). */
        if (store_has_prefix(path, "//") && path[2] != '/')
            return ob_fail(err, OB_EINVAL, "storage URL '%s': want sqlite:PATH", url);
        *driver = &store_driver_sqlite;
        *target = path;
        return 0;
    }
    /* Do not echo the URL: it may carry a password. */
    return ob_fail(err, OB_EINVAL,
                   "unsupported storage URL scheme (want sqlite:PATH or postgres://...)");
}

/* ---- pool ---------------------------------------------------------------- */

static void store_free(struct store *store)
{
    for (size_t i = 0; i < store->n_conns; i++)
        store->driver->close(store->conns[i]);
    pthread_cond_destroy(&store->idle_cond);
    pthread_mutex_destroy(&store->lock);
    free(store->conns);
    free(store->idle);
    free(store);
}

static int store_alloc(const struct store_driver *driver, unsigned pool_size, struct store **out,
                       struct ob_error *err)
{
    struct store *store;
    pthread_condattr_t attr;

    store = calloc(1, sizeof(*store));
    if (store == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    store->driver = driver;
    store->conns = calloc(pool_size, sizeof(*store->conns));
    store->idle = calloc(pool_size, sizeof(*store->idle));
    if (store->conns == NULL || store->idle == NULL) {
        free(store->conns);
        free(store->idle);
        free(store);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&store->lock, NULL);
    /* Wait deadlines on the monotonic clock: wall-clock jumps must not
     * shorten or stretch them. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&store->idle_cond, &attr);
    pthread_condattr_destroy(&attr);
    *out = store;
    return 0;
}

static int store_open_pool(const char *url, unsigned pool_size, bool migrate, struct store **out,
                           struct ob_error *err)
{
    const struct store_driver *driver = NULL;
    const char *target = NULL;
    struct store *store = NULL;
    int version = 0;
    int rc;

    *out = NULL;
    rc = store_parse_url(url, &driver, &target, err);
    if (rc != 0)
        return rc;
    if (pool_size < 1 || pool_size > STORE_POOL_MAX)
        return ob_fail(err, OB_EINVAL, "store pool size %u out of range 1..%d", pool_size,
                       STORE_POOL_MAX);
    rc = store_alloc(driver, pool_size, &store, err);
    if (rc != 0)
        return rc;

    for (unsigned i = 0; i < pool_size; i++) {
        struct store_conn *conn;

        rc = driver->open(target, &conn, err);
        if (rc != 0)
            goto out;
        conn->driver = driver;
        conn->store = store;
        store->conns[store->n_conns++] = conn;
        store->idle[store->n_idle++] = conn;
        /* Migrate through the first connection before opening the others,
         * so that a refused schema fails fast. */
        if (i == 0 && migrate) {
            rc = migrations_apply(conn, err);
            if (rc == 0)
                rc = migrations_current(conn, &version, err);
            if (rc != 0)
                goto out;
        }
    }
    if (migrate) {
        char pool_str[16], version_str[16];

        snprintf(pool_str, sizeof(pool_str), "%u", pool_size);
        snprintf(version_str, sizeof(version_str), "%d", version);
        log_info("store", "store opened", "driver", driver->name, "pool", pool_str,
                 "schema_version", version_str);
    }
    *out = store;
    store = NULL;
    rc = 0;
out:
    if (store != NULL)
        store_free(store);
    return rc;
}

int store_open(const char *url, unsigned pool_size, struct store **out, struct ob_error *err)
{
    return store_open_pool(url, pool_size, true, out, err);
}

int store_open_unmigrated(const char *url, unsigned pool_size, struct store **out,
                          struct ob_error *err)
{
    return store_open_pool(url, pool_size, false, out, err);
}

void store_close(struct store *store)
{
    if (store == NULL)
        return;
    if (store->n_idle != store->n_conns)
        OB_BUG("store_close with %zu of %zu connections still borrowed",
               store->n_conns - store->n_idle, store->n_conns);
    store_free(store);
}

const char *store_driver_name(const struct store *store)
{
    return store->driver->name;
}

int store_acquire(struct store *store, struct store_conn **conn, struct ob_error *err)
{
    struct timespec deadline;
    int rc = 0;

    *conn = NULL;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += STORE_ACQUIRE_TIMEOUT_S;

    pthread_mutex_lock(&store->lock);
    while (store->n_idle == 0 && rc == 0)
        rc = pthread_cond_timedwait(&store->idle_cond, &store->lock, &deadline);
    if (store->n_idle > 0) {
        *conn = store->idle[--store->n_idle];
        rc = 0;
    }
    pthread_mutex_unlock(&store->lock);
    if (*conn == NULL)
        return ob_fail(err, OB_EUNAVAILABLE, "all %zu database connections busy for %d s",
                       store->n_conns, STORE_ACQUIRE_TIMEOUT_S);
    return 0;
}

void store_release(struct store_conn *conn)
{
    struct store *store;

    if (conn == NULL)
        return;
    /* Callers rely on this on their error paths (store.h promises it), so
     * it is not worth more than a debug line. */
    if (conn->in_tx || conn->driver->in_transaction(conn)) {
        log_debug("store", "connection released inside a transaction; rolling back");
        store_rollback(conn);
    }
    store = conn->store;
    pthread_mutex_lock(&store->lock);
    if (store->n_idle >= store->n_conns)
        OB_BUG("store_release: connection released twice");
    store->idle[store->n_idle++] = conn;
    pthread_cond_signal(&store->idle_cond);
    pthread_mutex_unlock(&store->lock);
}

/* ---- transactions ---------------------------------------------------------- */

int store_begin(struct store_conn *conn, struct ob_error *err)
{
    int rc;

    if (conn->in_tx)
        return ob_fail(err, OB_EINVAL, "store_begin: a transaction is already open");
    rc = conn->driver->begin(conn, err);
    if (rc != 0)
        return rc;
    conn->in_tx = true;
    conn->tx_failed = false;
    return 0;
}

int store_commit(struct store_conn *conn, struct ob_error *err)
{
    int rc;

    if (!conn->in_tx)
        return ob_fail(err, OB_EINVAL, "store_commit: no transaction is open");
    if (conn->tx_failed) {
        store_rollback(conn);
        return ob_fail(err, OB_ESTORE, "transaction aborted by an earlier error; rolled back");
    }
    rc = conn->driver->commit(conn, err);
    conn->in_tx = false;
    return rc;
}

void store_rollback(struct store_conn *conn)
{
    conn->driver->rollback(conn);
    conn->in_tx = false;
    conn->tx_failed = false;
}

/* ---- queries ----------------------------------------------------------------- */

int store_exec(struct store_conn *conn, const char *sql, const struct db_param *params,
               size_t n_params, struct db_result **res, int64_t *affected, struct ob_error *err)
{
    int rc;

    if (res != NULL)
        *res = NULL;
    if (affected != NULL)
        *affected = 0;
    if (conn->tx_failed)
        return ob_fail(err, OB_ESTORE,
                       "current transaction is aborted by an earlier error; "
                       "roll it back");
    rc = conn->driver->exec(conn, sql, params, n_params, res, affected, err);
    if (rc != 0 && conn->in_tx)
        conn->tx_failed = true;
    return rc;
}

int store_savepoint(struct store_conn *conn, struct ob_error *err)
{
    if (!conn->in_tx)
        return ob_fail(err, OB_EINVAL, "store_savepoint: no transaction is open");
    return store_exec(conn, "SAVEPOINT ob_item", NULL, 0, NULL, NULL, err);
}

int store_savepoint_release(struct store_conn *conn, struct ob_error *err)
{
    return store_exec(conn, "RELEASE SAVEPOINT ob_item", NULL, 0, NULL, NULL, err);
}

int store_savepoint_rollback(struct store_conn *conn, struct ob_error *err)
{
    int rc;

    if (!conn->in_tx)
        return ob_fail(err, OB_EINVAL, "store_savepoint_rollback: no transaction is open");
    /* Straight to the driver: this is the statement that un-dooms the transaction. */
    rc = conn->driver->exec(conn, "ROLLBACK TO SAVEPOINT ob_item", NULL, 0, NULL, NULL, err);
    if (rc == 0)
        rc = conn->driver->exec(conn, "RELEASE SAVEPOINT ob_item", NULL, 0, NULL, NULL, err);
    if (rc != 0) {
        conn->tx_failed = true;
        return rc;
    }
    conn->tx_failed = false;
    return 0;
}

int store_ping(struct store *store, struct ob_error *err)
{
    struct store_conn *conn;
    struct db_result *res = NULL;
    int rc;

    rc = store_acquire(store, &conn, err);
    if (rc != 0)
        return rc;
    rc = store_exec(conn, "SELECT 1", NULL, 0, &res, NULL, err);
    if (rc == 0 && (db_result_rows(res) != 1 || db_result_int64(res, 0, 0) != 1))
        rc = ob_fail(err, OB_ESTORE, "SELECT 1 returned an unexpected result");
    db_result_free(res);
    store_release(conn);
    return rc;
}

int store_schema_version(struct store *store, int *version, struct ob_error *err)
{
    struct store_conn *conn;
    int rc;

    *version = 0;
    rc = store_acquire(store, &conn, err);
    if (rc != 0)
        return rc;
    rc = migrations_current(conn, version, err);
    store_release(conn);
    return rc;
}

int64_t store_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- results ---------------------------------------------------------------- */

struct db_result *db_result_new(size_t cols)
{
    struct db_result *res = calloc(1, sizeof(*res));

    if (res == NULL)
        return NULL;
    res->cols = cols;
    strbuf_init(&res->data);
    return res;
}

int db_result_push(struct db_result *res, const char *text, size_t len)
{
    if (res->n_cells == res->offs_cap) {
        size_t cap = res->offs_cap < 16 ? 16 : res->offs_cap * 2;
        size_t *offs;

        if (cap > SIZE_MAX / sizeof(*offs))
            return OB_ENOMEM;
        offs = realloc(res->offs, cap * sizeof(*offs));
        if (offs == NULL)
            return OB_ENOMEM;
        res->offs = offs;
        res->offs_cap = cap;
    }
    if (text == NULL) {
        res->offs[res->n_cells++] = SIZE_MAX;
        return 0;
    }
    res->offs[res->n_cells++] = res->data.len;
    /* Each cell keeps its own NUL so that db_result_text can lend it. */
    strbuf_add(&res->data, text, len);
    strbuf_addch(&res->data, '\0');
    return 0;
}

void db_result_end_row(struct db_result *res)
{
    res->rows++;
    if (res->n_cells != res->rows * res->cols)
        OB_BUG("db_result row %zu has %zu cells, want %zu", res->rows,
               res->n_cells - (res->rows - 1) * res->cols, res->cols);
}

size_t db_result_rows(const struct db_result *res)
{
    return res != NULL ? res->rows : 0;
}

size_t db_result_cols(const struct db_result *res)
{
    return res != NULL ? res->cols : 0;
}

static bool db_result_cell(const struct db_result *res, size_t row, size_t col, size_t *off)
{
    if (res == NULL || row >= res->rows || col >= res->cols)
        return false;
    *off = res->offs[row * res->cols + col];
    return *off != SIZE_MAX;
}

bool db_result_is_null(const struct db_result *res, size_t row, size_t col)
{
    size_t off;

    return !db_result_cell(res, row, col, &off);
}

const char *db_result_text(const struct db_result *res, size_t row, size_t col)
{
    size_t off;

    if (!db_result_cell(res, row, col, &off))
        return NULL;
    return res->data.buf + off;
}

int64_t db_result_int64(const struct db_result *res, size_t row, size_t col)
{
    const char *text = db_result_text(res, row, col);
    char *end;
    long long v;

    if (text == NULL || text[0] == '\0')
        return 0;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    return (int64_t)v;
}

int store_select_one(struct store_conn *conn, const char *sql, struct db_param param,
                     const char *what, size_t item_size, store_row_fn from_row, void *out,
                     struct ob_error *err)
{
    struct db_result *res = NULL;
    int rc;

    memset(out, 0, item_size);
    rc = store_exec(conn, sql, &param, 1, &res, NULL, err);
    if (rc == 0 && db_result_rows(res) == 0)
        rc = ob_fail(err, OB_ENOTFOUND, "%s", what);
    if (rc == 0)
        rc = from_row(res, 0, out, err);
    db_result_free(res);
    return rc;
}

int store_select_all(struct store_conn *conn, const char *sql, const struct db_param *params,
                     size_t n_params, size_t item_size, store_row_fn from_row,
                     store_item_release_fn release, void **items, size_t *count,
                     struct ob_error *err)
{
    struct db_result *res = NULL;
    int rc;

    *items = NULL;
    *count = 0;
    rc = store_exec(conn, sql, params, n_params, &res, NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, item_size, from_row, release, items, count, err);
    db_result_free(res);
    return rc;
}

int store_rows_collect(const struct db_result *res, size_t item_size, store_row_fn from_row,
                       store_item_release_fn release, void **items, size_t *count,
                       struct ob_error *err)
{
    size_t rows = db_result_rows(res), n = 0;
    char *arr;
    int rc = 0;

    *items = NULL;
    *count = 0;
    if (rows == 0)
        return 0;
    arr = calloc(rows, item_size);
    if (arr == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    for (; n < rows; n++) {
        rc = from_row(res, n, arr + n * item_size, err);
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            release(arr + i * item_size);
        free(arr);
        return rc;
    }
    *items = arr;
    *count = rows;
    return 0;
}

char *db_result_dup(const struct db_result *res, size_t row, size_t col, bool *ok)
{
    const char *text = db_result_text(res, row, col);
    char *copy;

    if (text == NULL)
        return NULL;
    copy = strdup(text);
    if (copy == NULL)
        *ok = false;
    return copy;
}

void db_result_free(struct db_result *res)
{
    if (res == NULL)
        return;
    free(res->offs);
    strbuf_release(&res->data);
    free(res);
}
