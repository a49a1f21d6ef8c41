/*
 * notify.h - the dispatcher: its own thread hands due outbox rows to
 * providers and records each outcome on the row and on the incident's
 * timeline.
 *
 * Guarantees (see dispatch.c): an attempt is committed as `sending`
 * (attempts + 1, sending_at, node) before its provider is called, outside
 * any transaction; the outcome is recorded by a second transaction.  A
 * temporary failure goes back to `queued` with an exponential backoff until
 * the provider's max attempts; after a permanent failure or the last retry,
 * the user's next contact method is paged.  A row left in `sending` by a
 * crash (this node at start-up, any node after `engine.send_lease`) is counted
 * as a failed attempt ("interrupted") and retried as a new one.  Per-address
 * rate limits (config `notification_limits`) stop storms.
 *
 * Providers are a `const` table of function pointers (provider.c): adding
 * one is a file and one line.  A provider says which contact types it can
 * deliver under the configuration in force, and delivers one notification.
 *
 * Threads: one dispatcher thread per process.  dispatcher_hint() may be
 * called from any thread after the transaction that queued rows committed.
 */
#ifndef OPSBELL_NOTIFY_NOTIFY_H
#define OPSBELL_NOTIFY_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct config;
struct config_notification_limit;
struct dispatcher;
struct incident;
struct ob_error;
struct outbox_row;
struct strbuf;

#define NOTIFY_DEFAULT_MAX_ATTEMPTS 3
#define NOTIFY_DEFAULT_RETRY_BASE   30000        /* ms */
#define NOTIFY_RETRY_CAP_MS         (10 * 60000) /* backoff never exceeds this */
#define NOTIFY_LEASE_MS             (5 * 60000)  /* default `engine.send_lease` */

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
    /* Deliver one notification about inc (row->attempts is this attempt's
     * number, from 1); detail (cap bytes) gets a short human-readable note
     * ("appended to /var/log/x", "HTTP 503").  Called with no transaction
     * open and no store connection held; may block (bounded by its own
     * timeouts). */
    enum notify_outcome (*deliver)(const struct config *cfg, const struct outbox_row *row,
                                   const struct incident *inc, char *detail, size_t cap);
    /* Optional: attempts per notification and the first retry delay (ms)
     * under cfg; NULL or 0 = `engine.max_attempts` / `engine.retry_base`. */
    uint32_t (*max_attempts)(const struct config *cfg);
    uint32_t (*retry_base_ms)(const struct config *cfg);
};

extern const struct notify_provider *const notify_providers[];
extern const size_t notify_provider_count;

/* The state an outcome leaves on its row: "delivered", "failed-temporary", "failed-permanent". */
const char *notify_outcome_state(enum notify_outcome outcome);

/* Delay before retry number `attempt` (>= 1) failed: base, 2 base, 4 base ...
 * capped at NOTIFY_RETRY_CAP_MS (or base, when base is larger). */
int64_t notify_backoff_ms(int64_t base_ms, int64_t attempt);

/* 1 when a page to an address that already had `recent` attempts within
 * limit->per_seconds must not be sent (limit->max 0: never). */
int notify_rate_limited(const struct config_notification_limit *limit, int64_t recent);

/* Start the dispatcher thread for app (which must outlive it). node_id
 * names this process on the rows it sends (serve.c: OPSBELL_NODE_ID or
 * hostname:pid); a
 * stable node id (OPSBELL_NODE_ID) lets a restarted node recover its own
 * interrupted attempts at once instead of after the lease. */
int dispatcher_start(struct app *app, const char *node_id, struct dispatcher **out,
                     struct ob_error *err);
/* Stop the thread (after the provider call in progress) and free. Accepts NULL. */
void dispatcher_stop(struct dispatcher *d);
/* "A row is due at due_ms". Accepts NULL. */
void dispatcher_hint(struct dispatcher *d, int64_t due_ms);
/* opsbell_notifications_total{provider,outcome} and the first-attempt
 * latency histogram. Accepts NULL. */
void dispatcher_render_metrics(struct dispatcher *d, struct strbuf *out);

#endif
