/*
 * store_tokens.c - API tokens as stored: metadata and the SHA-256 of the
 * secret, never the secret itself.  Times of 0 in struct store_token are
 * NULL in the table.
 */
#include "store/store.h"

#include "store/store_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define TOKENS_COLUMNS                                                                             \
    "id, name, scope, team, created_by, created_at, expires_at, revoked_at, last_used_at, "        \
    "user_name, agent_host"

/* Uses are recorded at most this often per token: each write is an fsync. */
#define TOKENS_TOUCH_INTERVAL_MS 60000

static bool tokens_valid_scope(const char *scope)
{
    return scope != NULL && (strcmp(scope, "read") == 0 || strcmp(scope, "write") == 0 ||
                             strcmp(scope, "admin") == 0);
}

/* Copy a 64-hex-digit hash to out in lowercase, the form stored, so that a
 * caller printing uppercase hex still finds its token. */
static bool tokens_normalize_hash(const char *hash_hex, char out[65])
{
    if (hash_hex == NULL || strlen(hash_hex) != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        char c = hash_hex[i];

        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[64] = '\0';
    return true;
}

/* 0 means "none" in the struct, NULL in the table. */
static struct db_param tokens_time_param(int64_t ms)
{
    return ms != 0 ? DB_P_INT(ms) : DB_P_NULL;
}

/* Fill t from a row selected with TOKENS_COLUMNS. */
static int tokens_from_row(const struct db_result *res, size_t row, void *item,
                           struct ob_error *err)
{
    struct store_token *t = item;
    bool ok = true;

    memset(t, 0, sizeof(*t));
    t->id = db_result_int64(res, row, 0);
    t->name = db_result_dup(res, row, 1, &ok);
    t->scope = db_result_dup(res, row, 2, &ok);
    t->team = db_result_dup(res, row, 3, &ok);
    t->created_by = db_result_dup(res, row, 4, &ok);
    t->created_at_ms = db_result_int64(res, row, 5);
    t->expires_at_ms = db_result_int64(res, row, 6);
    t->revoked_at_ms = db_result_int64(res, row, 7);
    t->last_used_at_ms = db_result_int64(res, row, 8);
    t->user_name = db_result_dup(res, row, 9, &ok);
    t->agent_host = db_result_dup(res, row, 10, &ok);
    if (!ok) {
        store_token_release(t);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void tokens_release_item(void *item)
{
    store_token_release(item);
}

int store_token_insert(struct store_conn *conn, struct store_token *t, const char *hash_hex,
                       struct ob_error *err)
{
    struct db_result *res = NULL;
    struct db_param params[10];
    char hash[65];
    int rc;

    if (t->name == NULL || t->name[0] == '\0')
        return ob_fail(err, OB_EINVAL, "token name is empty");
    if (!tokens_valid_scope(t->scope))
        return ob_fail(err, OB_EINVAL, "token scope must be read, write or admin");
    if (t->created_by == NULL || t->created_by[0] == '\0')
        return ob_fail(err, OB_EINVAL, "token creator is empty");
    if (!tokens_normalize_hash(hash_hex, hash))
        return ob_fail(err, OB_EINVAL, "token hash must be 64 hex digits");
    if (t->created_at_ms == 0)
        t->created_at_ms = store_now_ms();

    params[0] = DB_P_TEXT(t->name);
    params[1] = DB_P_TEXT(t->scope);
    params[2] = DB_P_TEXT(t->team);
    /* Not DB_P_TEXT: on an array, its NULL test trips -Waddress. */
    params[3] = (struct db_param){.type = DB_TEXT, .text = hash};
    params[4] = DB_P_TEXT(t->created_by);
    params[5] = DB_P_INT(t->created_at_ms);
    params[6] = tokens_time_param(t->expires_at_ms);
    params[7] = tokens_time_param(t->revoked_at_ms);
    params[8] = DB_P_TEXT(t->user_name);
    params[9] = DB_P_TEXT(t->agent_host);
    rc = store_exec(conn,
                    "INSERT INTO api_tokens (name, scope, team, token_hash, created_by, "
                    "created_at, expires_at, revoked_at, user_name, agent_host) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    params, 10, &res, NULL, err);
    if (rc == 0)
        t->id = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

/* The one token that sql (with $1 = param) selects. */
static int tokens_get_one(struct store_conn *conn, const char *sql, struct db_param param,
                          struct store_token *out, struct ob_error *err)
{
    return store_select_one(conn, sql, param, "no such token", sizeof(*out), tokens_from_row, out,
                            err);
}

int store_token_find_by_hash(struct store_conn *conn, const char *hash_hex, struct store_token *out,
                             struct ob_error *err)
{
    char hash[65];

    if (!tokens_normalize_hash(hash_hex, hash)) {
        memset(out, 0, sizeof(*out));
        return ob_fail(err, OB_EINVAL, "token hash must be 64 hex digits");
    }
    return tokens_get_one(conn, "SELECT " TOKENS_COLUMNS " FROM api_tokens WHERE token_hash = $1",
                          (struct db_param){.type = DB_TEXT, .text = hash}, out, err);
}

int store_token_get(struct store_conn *conn, int64_t id, struct store_token *out,
                    struct ob_error *err)
{
    return tokens_get_one(conn, "SELECT " TOKENS_COLUMNS " FROM api_tokens WHERE id = $1",
                          DB_P_INT(id), out, err);
}

int store_token_list(struct store_conn *conn, struct store_token **out, size_t *count,
                     struct ob_error *err)
{
    struct db_result *res = NULL;
    void *items = NULL;
    int rc;

    *out = NULL;
    *count = 0;
    rc = store_exec(conn, "SELECT " TOKENS_COLUMNS " FROM api_tokens ORDER BY id", NULL, 0, &res,
                    NULL, err);
    if (rc == 0)
        rc = store_rows_collect(res, sizeof(**out), tokens_from_row, tokens_release_item, &items,
                                count, err);
    if (rc == 0)
        *out = items;
    db_result_free(res);
    return rc;
}

int store_token_revoke(struct store_conn *conn, int64_t id, int64_t now_ms, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(id), DB_P_INT(now_ms)};
    struct store_token t;
    int64_t affected = 0;
    int rc;

    rc = store_exec(conn,
                    "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                    params, 2, NULL, &affected, err);
    if (rc != 0 || affected > 0)
        return rc;
    /* Nothing changed: tell "absent" from "already revoked". */
    rc = store_token_get(conn, id, &t, err);
    if (rc != 0)
        return rc;
    store_token_release(&t);
    return ob_fail(err, OB_ECONFLICT, "token %lld is already revoked", (long long)id);
}

int store_token_touch(struct store_conn *conn, int64_t id, int64_t now_ms, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_INT(id), DB_P_INT(now_ms),
                                 DB_P_INT(now_ms - TOKENS_TOUCH_INTERVAL_MS)};

    /* The condition makes most calls read-only (no write, no fsync); an
     * absent token is not an error here: the caller just found it. */
    return store_exec(conn,
                      "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 "
                      "AND (last_used_at IS NULL OR last_used_at <= $3)",
                      params, 3, NULL, NULL, err);
}

void store_token_release(struct store_token *t)
{
    if (t == NULL)
        return;
    free(t->name);
    free(t->scope);
    free(t->team);
    free(t->created_by);
    free(t->user_name);
    free(t->agent_host);
    memset(t, 0, sizeof(*t));
}

void store_token_array_free(struct store_token *arr, size_t count)
{
    if (arr == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        store_token_release(&arr[i]);
    free(arr);
}
