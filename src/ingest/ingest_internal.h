/*
 * ingest_internal.h - what writer.c and apply.c share; not for other subsystems.
 */
#ifndef OPSBELL_INGEST_INGEST_INTERNAL_H
#define OPSBELL_INGEST_INGEST_INTERNAL_H

#include "ingest/ingest.h"
#include "ingest/matcher.h"

struct store_conn;

/* The silences in force during one commit, matchers compiled. */
struct active_silence {
    int64_t id;
    struct matcher_set matchers;
};

struct silence_cache {
    struct active_silence *items;
    size_t count;
};

/* Load the silences active at now_ms. Unparseable stored matchers are skipped
 * (logged), never fatal: a bad silence must not stop alerts. */
int silence_cache_load(struct store_conn *conn, int64_t now_ms, struct silence_cache *out,
                       struct ob_error *err);
void silence_cache_release(struct silence_cache *cache);
/* The id of the first silence of cache that matches ev (its labels, plus
 * opsbell_service / opsbell_team of svc), or 0 (apply.c). */
int64_t silence_match(const struct silence_cache *cache, const struct alert_event *ev,
                      const struct config_service *svc);

/*
 * Repeats counted on their incidents, added up over a commit and written
 * once per incident just before it (apply_flush_counts), instead of one
 * UPDATE per repeat.
 */
struct pending_count {
    int64_t incident_id;
    int64_t alerts;
};

struct pending_counts {
    struct pending_count *items;
    size_t count, cap;
};

/* Everything one event needs while the transaction is open. */
struct apply_ctx {
    struct store_conn *conn;
    const struct config *cfg;
    const struct silence_cache *silences;
    int64_t now_ms;
    struct pending_counts *pending; /* owned by the writer, emptied per pass */
    int64_t *earliest_due; /* earliest due time this commit created (0 = none): see due_hint */
};

/* Write the pending counts (inside the transaction) and empty them. */
int apply_flush_counts(const struct apply_ctx *ctx, struct ob_error *err);

/*
 * Apply one event inside the open transaction. Returns 0 (result filled) or
 * a negative code; OB_ECONFLICT means another writer opened the same
 * incident or alert concurrently, and the caller retries the event once.
 */
int apply_event(const struct apply_ctx *ctx, const struct alert_event *ev,
                struct ingest_result *result, struct ob_error *err);

/* The writer's store and a new reference to the configuration in force (writer.c). */
struct store *ingest_store(struct ingest *ing);
struct config *ingest_config(struct ingest *ing);

#endif
