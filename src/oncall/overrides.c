/*
 * overrides.c - overrides from the store, in schedule.h's shape.
 */
#include "oncall/overrides.h"

#include "config/config.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int override_set_load(struct store_conn *conn, const char *schedule, int64_t from_ms,
                      int64_t until_ms, struct override_set *set, struct ob_error *err)
{
    int rc;

    memset(set, 0, sizeof(*set));
    rc =
        store_override_list_window(conn, schedule, from_ms, until_ms, &set->rows, &set->count, err);
    if (rc != 0 || set->count == 0)
        return rc;
    set->view = calloc(set->count, sizeof(*set->view));
    if (set->view == NULL) {
        override_set_release(set);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < set->count; i++)
        set->view[i] =
            (struct schedule_override){set->rows[i].id, set->rows[i].user_name,
                                       set->rows[i].starts_at_ms, set->rows[i].ends_at_ms};
    return 0;
}

void override_set_release(struct override_set *set)
{
    if (set == NULL)
        return;
    free(set->view);
    override_row_array_free(set->rows, set->count);
    memset(set, 0, sizeof(*set));
}

int oncall_user_at(struct store_conn *conn, const struct config_schedule *sched, int64_t at_ms,
                   char **who, struct ob_error *err)
{
    struct override_set set;
    const char *user = NULL;
    int rc;

    *who = NULL;
    rc = override_set_load(conn, sched->name, at_ms, at_ms + 1, &set, err);
    if (rc == 0)
        rc = schedule_user_at(sched, set.view, set.count, at_ms, &user, err);
    if (rc == 0 && user != NULL) {
        *who = strdup(user); /* user may borrow from the set */
        if (*who == NULL)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    override_set_release(&set);
    return rc;
}
