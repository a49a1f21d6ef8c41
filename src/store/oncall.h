/*
 * oncall.h - schedule overrides and iCalendar feed tokens as stored (schema
 * migration 3).  See store.h for the conventions (connections, errors,
 * milliseconds).
 *
 * An override says "user covers schedule from starts_at (inclusive) to
 * ends_at (exclusive)".  The overrides of one schedule never overlap:
 * store_override_insert() checks it under a per-schedule lock (PostgreSQL:
 * a transaction advisory lock; SQLite: the write transaction itself), so
 * two nodes cannot both add overlapping ones.  Deleting one marks it
 * (deleted_at, deleted_by): the row stays for the record.
 *
 * An iCal feed is a revocable capability: a URL whose secret names a user
 * (all their shifts) or a schedule.  Only the SHA-256 (hex) of the secret
 * is stored, as for API tokens.
 *
 * Ownership: functions that return rows fill caller-provided structs whose
 * strings are malloc'd; release them with the matching *_release or
 * *_array_free (both accept NULL).  Input structs are borrowed.
 */
#ifndef OPSBELL_STORE_ONCALL_H
#define OPSBELL_STORE_ONCALL_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* ---- schedule overrides ----------------------------------------------------- */

struct override_row {
    int64_t id;
    char *schedule;
    char *user_name;
    int64_t starts_at_ms;
    int64_t ends_at_ms;
    char *reason; /* may be NULL */
    char *created_by;
    int64_t created_at_ms;
    int64_t deleted_at_ms; /* 0 = in force */
    char *deleted_by;      /* NULL unless deleted */
};

/*
 * Insert o (schedule, user_name, starts_at_ms < ends_at_ms, created_by;
 * created_at_ms 0 = now) and set o->id.  OB_ECONFLICT when it overlaps an
 * override of the same schedule that is not deleted; then *conflict_id
 * (may be NULL) receives that override's id and the message names it.
 * Call inside store_begin() so that the check and the insert are one
 * transaction (the caller's audit event goes in the same one).
 */
int store_override_insert(struct store_conn *conn, struct override_row *o, int64_t *conflict_id,
                          struct ob_error *err);
int store_override_get(struct store_conn *conn, int64_t id, struct override_row *out,
                       struct ob_error *err);
/*
 * The overrides not deleted that overlap [from_ms, until_ms), ordered by
 * start; schedule NULL = of every schedule.  At most 10000 rows.
 */
int store_override_list_window(struct store_conn *conn, const char *schedule, int64_t from_ms,
                               int64_t until_ms, struct override_row **out, size_t *count,
                               struct ob_error *err);
/* The overrides of a schedule not deleted that end after now_ms (in force
 * now or still to come), ordered by start. */
int store_override_list_current(struct store_conn *conn, const char *schedule, int64_t now_ms,
                                struct override_row **out, size_t *count, struct ob_error *err);
/* Mark deleted by `by` at now_ms.  OB_ENOTFOUND when absent, OB_ECONFLICT
 * when already deleted. */
int store_override_delete(struct store_conn *conn, int64_t id, const char *by, int64_t now_ms,
                          struct ob_error *err);

void override_row_release(struct override_row *o);
void override_row_array_free(struct override_row *arr, size_t count);

/* ---- iCalendar feeds -------------------------------------------------------------- */

struct ical_feed {
    int64_t id;
    char *kind;    /* "user" | "schedule" */
    char *subject; /* the user's or the schedule's name */
    char *created_by;
    int64_t created_at_ms;
    int64_t revoked_at_ms; /* 0 = active */
};

/* Insert f (kind, subject, created_by; created_at_ms 0 = now) with the
 * 64-hex-digit SHA-256 of its secret; sets f->id.  OB_ECONFLICT when the
 * hash exists. */
int store_ical_feed_insert(struct store_conn *conn, struct ical_feed *f, const char *hash_hex,
                           struct ob_error *err);
/* The active (not revoked) feed with this hash; OB_ENOTFOUND otherwise. */
int store_ical_feed_find_by_hash(struct store_conn *conn, const char *hash_hex,
                                 struct ical_feed *out, struct ob_error *err);
int store_ical_feed_get(struct store_conn *conn, int64_t id, struct ical_feed *out,
                        struct ob_error *err);
/* Every feed, oldest first (revoked ones too). */
int store_ical_feed_list(struct store_conn *conn, struct ical_feed **out, size_t *count,
                         struct ob_error *err);
/* Mark revoked at now_ms.  OB_ENOTFOUND when absent, OB_ECONFLICT when
 * already revoked. */
int store_ical_feed_revoke(struct store_conn *conn, int64_t id, int64_t now_ms,
                           struct ob_error *err);

void ical_feed_release(struct ical_feed *f);
void ical_feed_array_free(struct ical_feed *arr, size_t count);

#endif
