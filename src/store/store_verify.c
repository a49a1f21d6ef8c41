/*
 * store_verify.c - contact-method verifications (schema migration 6).
 */
#include "store/verify.h"

#include "store/store_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define VERIFY_COLUMNS                                                                             \
    "id, user_name, address, contact_type, code_hash, expires_at, failures, verified_at, "         \
    "created_at, created_by"

static int verification_from_row(const struct db_result *res, size_t row, void *item,
                                 struct ob_error *err)
{
    struct verification_row *v = item;
    bool ok = true;

    memset(v, 0, sizeof(*v));
    v->id = db_result_int64(res, row, 0);
    v->user_name = db_result_dup(res, row, 1, &ok);
    v->address = db_result_dup(res, row, 2, &ok);
    v->contact_type = db_result_dup(res, row, 3, &ok);
    v->code_hash = db_result_dup(res, row, 4, &ok);
    v->expires_at_ms = db_result_int64(res, row, 5);
    v->failures = db_result_int64(res, row, 6);
    v->verified_at_ms = db_result_int64(res, row, 7);
    v->created_at_ms = db_result_int64(res, row, 8);
    v->created_by = db_result_dup(res, row, 9, &ok);
    if (!ok) {
        verification_release(v);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    return 0;
}

static void verification_release_item(void *item)
{
    verification_release(item);
}

int store_verification_insert(struct store_conn *conn, struct verification_row *v,
                              struct ob_error *err)
{
    struct db_param params[8] = {
        DB_P_TEXT(v->user_name),
        DB_P_TEXT(v->address),
        DB_P_TEXT(v->contact_type),
        v->code_hash != NULL ? DB_P_TEXT(v->code_hash) : DB_P_NULL,
        DB_P_INT(v->expires_at_ms),
        v->verified_at_ms != 0 ? DB_P_INT(v->verified_at_ms) : DB_P_NULL,
        DB_P_INT(v->created_at_ms),
        DB_P_TEXT(v->created_by),
    };
    struct db_result *res = NULL;
    int rc;

    if (v->user_name == NULL || v->address == NULL || v->contact_type == NULL ||
        v->created_by == NULL)
        return ob_fail(err, OB_EINVAL, "verification without user, address, type or author");
    rc = store_exec(conn,
                    "INSERT INTO contact_verifications (user_name, address, contact_type, "
                    "code_hash, expires_at, verified_at, created_at, created_by) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                    params, 8, &res, NULL, err);
    if (rc == 0)
        v->id = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

int store_verification_pending(struct store_conn *conn, const char *user, const char *address,
                               int64_t now_ms, struct verification_row *out, struct ob_error *err)
{
    struct db_param params[3] = {DB_P_TEXT(user), DB_P_TEXT(address), DB_P_INT(now_ms)};
    struct verification_row *rows = NULL;
    size_t count = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_select_all(conn,
                          "SELECT " VERIFY_COLUMNS " FROM contact_verifications "
                          "WHERE user_name = $1 AND address = $2 AND verified_at IS NULL "
                          "AND code_hash IS NOT NULL AND expires_at > $3 ORDER BY id DESC LIMIT 1",
                          params, 3, sizeof(*rows), verification_from_row,
                          verification_release_item, (void **)&rows, &count, err);
    if (rc == 0 && count == 0)
        rc = ob_fail(err, OB_ENOTFOUND, "no code is pending for %s", address);
    if (rc == 0) {
        *out = rows[0];
        memset(&rows[0], 0, sizeof(rows[0]));
    }
    for (size_t i = 0; i < count; i++)
        verification_release(&rows[i]);
    free(rows);
    return rc;
}

static int update_one(struct store_conn *conn, const char *sql, const struct db_param *params,
                      size_t n, int64_t id, struct ob_error *err)
{
    int64_t affected = 0;
    int rc = store_exec(conn, sql, params, n, NULL, &affected, err);

    if (rc == 0 && affected != 1)
        rc = ob_fail(err, OB_ENOTFOUND, "no verification %lld", (long long)id);
    return rc;
}

int store_verification_failed(struct store_conn *conn, int64_t id, struct ob_error *err)
{
    struct db_param param = DB_P_INT(id);

    return update_one(conn,
                      "UPDATE contact_verifications SET failures = failures + 1 WHERE id = $1",
                      &param, 1, id, err);
}

int store_verification_verified(struct store_conn *conn, int64_t id, int64_t now_ms,
                                struct ob_error *err)
{
    struct db_param params[2] = {DB_P_INT(id), DB_P_INT(now_ms)};

    return update_one(conn,
                      "UPDATE contact_verifications SET verified_at = $2 "
                      "WHERE id = $1 AND verified_at IS NULL",
                      params, 2, id, err);
}

int store_contact_verified_at(struct store_conn *conn, const char *user, const char *address,
                              int64_t *verified_at_ms, struct ob_error *err)
{
    struct db_param params[2] = {DB_P_TEXT(user), DB_P_TEXT(address)};
    struct db_result *res = NULL;
    int rc = store_exec(conn,
                        "SELECT MIN(verified_at) FROM contact_verifications "
                        "WHERE user_name = $1 AND address = $2 AND verified_at IS NOT NULL",
                        params, 2, &res, NULL, err);

    *verified_at_ms = 0;
    if (rc == 0 && db_result_rows(res) == 1)
        *verified_at_ms = db_result_int64(res, 0, 0);
    db_result_free(res);
    return rc;
}

void verification_release(struct verification_row *v)
{
    if (v == NULL)
        return;
    free(v->user_name);
    free(v->address);
    free(v->contact_type);
    free(v->code_hash);
    free(v->created_by);
    memset(v, 0, sizeof(*v));
}
