/*
 * notify.h - the dispatcher: hands due outbox rows to providers and records
 * the outcome on the row and on the incident's timeline.
 *
 * Providers are a `const` table of function pointers (provider.c): adding
 * one is a file and one line.  A provider says which contact types it can
 * deliver under the configuration in force, and delivers one notification.
 *
 * Threads: notify_dispatch_due() runs on the engine thread.
 */
#ifndef OPSBELL_NOTIFY_NOTIFY_H
#define OPSBELL_NOTIFY_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct incident;
struct ob_error;
struct outbox_row;
struct store_conn;

/* What a provider reports for one attempt. */
enum notify_outcome {
    NOTIFY_DELIVERED,
    NOTIFY_FAILED_TEMPORARY,
    NOTIFY_FAILED_PERMANENT,
};

struct notify_provider {
    const char *name;
    /* 1 when this provider delivers contact type `type` (contact_type_name()) under cfg. */
    int (*handles)(const struct config *cfg, const char *type);
    /* Deliver one notification about inc; detail (cap bytes) gets a short
     * human-readable note ("appended to /var/log/x"). */
    enum notify_outcome (*deliver)(const struct config *cfg, const struct outbox_row *row,
                                   const struct incident *inc, char *detail, size_t cap);
};

extern const struct notify_provider *const notify_providers[];
extern const size_t notify_provider_count;

/*
 * Inside the caller's transaction: claim up to limit queued rows due at or
 * before now_ms, deliver each (cancel it when its incident is no longer
 * triggered) and record outcomes.  Returns how many rows were handled, or a
 * negative code.
 */
int notify_dispatch_due(struct store_conn *conn, const struct config *cfg, int64_t now_ms,
                        size_t limit, struct ob_error *err);

#endif
