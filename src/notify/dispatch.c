/*
 * dispatch.c - due outbox rows to providers.
 *
 * A row whose incident is no longer triggered is cancelled (an ack or a
 * resolve cancels queued rows in its own transaction; this catches rows
 * that became due in between).  A row no provider can deliver fails
 * permanently with a reason, so that nothing waits forever.
 */
#include "notify/notify.h"

#include "config/config.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *outcome_state(enum notify_outcome outcome)
{
    switch (outcome) {
    case NOTIFY_DELIVERED:
        return "delivered";
    case NOTIFY_FAILED_TEMPORARY:
        return "failed-temporary";
    case NOTIFY_FAILED_PERMANENT:
        break;
    }
    return "failed-permanent";
}

static const struct notify_provider *provider_for(const struct config *cfg, const char *type)
{
    for (size_t i = 0; i < notify_provider_count; i++) {
        if (notify_providers[i]->handles(cfg, type))
            return notify_providers[i];
    }
    return NULL;
}

static int dispatch_one(struct store_conn *conn, const struct config *cfg,
                        const struct outbox_row *row, int64_t now_ms, struct ob_error *err)
{
    const struct notify_provider *provider;
    struct incident inc;
    char detail[256] = "", message[512];
    const char *state;
    json_t *data = NULL;
    char *data_text = NULL;
    int rc;

    rc = store_incident_get(conn, row->incident_id, &inc, err);
    if (rc != 0)
        return rc;
    if (strcmp(inc.status, "triggered") != 0) {
        snprintf(detail, sizeof(detail), "incident is %s", inc.status);
        rc = store_outbox_finish(conn, row->id, "cancelled", NULL, detail, 0, now_ms, err);
        goto out;
    }
    provider = provider_for(cfg, row->contact_type);
    if (provider == NULL) {
        snprintf(detail, sizeof(detail), "no provider configured for %s", row->contact_type);
        state = "failed-permanent";
    } else {
        state = outcome_state(provider->deliver(cfg, row, &inc, detail, sizeof(detail)));
    }
    rc = store_outbox_finish(conn, row->id, state, provider != NULL ? provider->name : NULL, detail,
                             now_ms, now_ms, err);
    if (rc != 0)
        goto out;
    snprintf(message, sizeof(message), "%s to %s (%s) via %s: %s", row->contact_type,
             row->user_name, row->address, provider != NULL ? provider->name : "nothing", state);
    data =
        json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:s}", "notification", (json_int_t)row->id,
                  "user", row->user_name, "type", row->contact_type, "state", state, "due_at_ms",
                  (json_int_t)row->due_at_ms, "sent_at_ms", (json_int_t)now_ms, "detail", detail);
    data_text = data != NULL ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    {
        struct incident_event ev = {
            .incident_id = row->incident_id,
            .at_ms = now_ms,
            .kind =
                strcmp(state, "delivered") == 0 ? "notification.delivered" : "notification.failed",
            .actor = "engine",
            .message = message,
            .data = data_text,
        };
        rc = store_incident_event_append(conn, &ev, err);
    }
out:
    json_decref(data);
    free(data_text);
    incident_release(&inc);
    return rc;
}

int notify_dispatch_due(struct store_conn *conn, const struct config *cfg, int64_t now_ms,
                        size_t limit, struct ob_error *err)
{
    struct outbox_row *rows = NULL;
    size_t count = 0;
    int rc;

    rc = store_outbox_claim_due(conn, now_ms, limit, &rows, &count, err);
    for (size_t i = 0; rc == 0 && i < count; i++)
        rc = dispatch_one(conn, cfg, &rows[i], now_ms, err);
    outbox_row_array_free(rows, count);
    return rc == 0 ? (int)count : rc;
}
