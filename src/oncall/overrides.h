/*
 * overrides.h - a schedule's overrides loaded from the store in the shape
 * schedule.h takes, for everything that answers "who is on call" against
 * the database (the API, the engine).
 *
 * Ownership: an override_set owns its rows and its view; the view's user
 * strings borrow from the rows.  Release with override_set_release().
 */
#ifndef OPSBELL_ONCALL_OVERRIDES_H
#define OPSBELL_ONCALL_OVERRIDES_H

#include "oncall/schedule.h"
#include "store/oncall.h"

#include <stddef.h>
#include <stdint.h>

struct override_set {
    struct override_row *rows;      /* as stored */
    struct schedule_override *view; /* rows[i] as schedule.h takes it */
    size_t count;
};

/* The overrides of schedule (NULL = every schedule) not deleted that overlap
 * [from_ms, until_ms). On failure *set is empty. */
int override_set_load(struct store_conn *conn, const char *schedule, int64_t from_ms,
                      int64_t until_ms, struct override_set *set, struct ob_error *err);
void override_set_release(struct override_set *set); /* accepts NULL */

/* Who is on call on sched at at_ms, overrides included: *who is a malloc'd
 * user name, NULL when nobody is. */
int oncall_user_at(struct store_conn *conn, const struct config_schedule *sched, int64_t at_ms,
                   char **who, struct ob_error *err);

#endif
