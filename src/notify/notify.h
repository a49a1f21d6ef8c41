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
 * Threads: one dispatcher thread per process, which runs the providers of
 * a batch on up to DISPATCH_WORKERS threads at once.  dispatcher_hint()
 * and notify_complete() may be called from any thread.
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
    NOTIFY_DELIVERED,        /* handed over: chat message, mail, webhook, SMS */
    NOTIFY_ANSWERED,         /* a call was answered; nobody acknowledged from it */
    NOTIFY_ACKNOWLEDGED,     /* a call answered and the incident acknowledged from it */
    NOTIFY_BUSY,             /* busy or declined: retried like a temporary failure */
    NOTIFY_NO_ANSWER,        /* rang out: retried like a temporary failure */
    NOTIFY_FAILED_TEMPORARY, /* 5xx, timeouts, no response: retried with backoff */
    NOTIFY_FAILED_PERMANENT, /* retrying cannot help: the next contact method */
    NOTIFY_PENDING,          /* placed; the outcome comes later through notify_complete() */
};
#define NOTIFY_OUTCOME_COUNT 8

/* One attempt handed to a provider. */
struct notify_attempt {
    struct app *app;              /* for providers that act on incidents later */
    const struct config *cfg;     /* the configuration in force */
    const struct outbox_row *row; /* row->id: the notification; row->attempts: this attempt
                                     (from 1); row->kind "page", "update" or "verify"; for
                                     an update, row->external_id is what the page recorded */
    const struct incident *inc;   /* the incident, as it is now; NULL for "verify" */
    const char *message;          /* "verify" only: the text to say or send (the code); the
                                     row is not stored (id 0): its completion is dropped */
    char external_id[128];        /* out: the provider's id of the message or call ("" none);
                                     kept on the row; a page with one gets update rows */
    char detail[512];             /* out: a short note ("HTTP 503", "486 Busy Here") */
};

struct notify_provider {
    const char *name;
    /* 1 when this provider delivers contact type `type` (contact_type_name()) under cfg. */
    int (*handles)(const struct config *cfg, const char *type);
    /* Deliver one notification.  Called with no transaction open and no
     * store connection held, on a dispatcher worker thread (several run at
     * once: a provider is thread-safe); may block, bounded by its own
     * timeouts.  NOTIFY_PENDING leaves the row `sending` until
     * notify_complete() (at most `engine.send_lease`). */
    enum notify_outcome (*deliver)(struct notify_attempt *a);
    /* Optional: a row of kind "update": the incident changed state since
     * the page a->row->external_id names; edit or follow up on it.  NULL:
     * this provider sends no updates. */
    enum notify_outcome (*update)(struct notify_attempt *a);
    /* 1: an address must be verified (a code sent through this provider
     * and confirmed) before it is paged: phone numbers, SIP URIs. */
    int verifies;
    /* Optional: attempts per notification and the first retry delay (ms)
     * under cfg; NULL or 0 = `engine.max_attempts` / `engine.retry_base`. */
    uint32_t (*max_attempts)(const struct config *cfg);
    uint32_t (*retry_base_ms)(const struct config *cfg);
};

extern const struct notify_provider *const notify_providers[];
extern const size_t notify_provider_count;
/* The first provider that delivers contact type `type` under cfg; NULL when none. */
const struct notify_provider *notify_provider_for(const struct config *cfg, const char *type);

/* The state an outcome leaves on its row: "delivered", "answered",
 * "acknowledged", "busy", "no-answer", "failed-temporary",
 * "failed-permanent" ("sending" for NOTIFY_PENDING). */
const char *notify_outcome_state(enum notify_outcome outcome);
/* 1 for outcomes retried with backoff: busy, no-answer, failed-temporary. */
int notify_outcome_retried(enum notify_outcome outcome);
/* 1 for outcomes that reached the person: delivered, answered, acknowledged. */
int notify_outcome_reached(enum notify_outcome outcome);

/*
 * The outcome of attempt `attempt` of notification `notification_id`,
 * whose deliver() returned NOTIFY_PENDING.  Any thread; never blocks on
 * the database: queued and recorded by the dispatcher thread, which drops
 * it when the row has moved on (another attempt, recovered meanwhile).
 * detail may be NULL.  A no-op when app has no dispatcher.
 */
void notify_complete(struct app *app, int64_t notification_id, int64_t attempt,
                     enum notify_outcome outcome, const char *detail);

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
