/*
 * writer.c - group commit: one thread applies every batch that is waiting in
 * one transaction, then wakes each submitter with its results.
 *
 * A submitter's 2xx therefore always follows the commit (and, on SQLite with
 * synchronous=FULL, the fsync) of its events, while N concurrent requests
 * cost one commit instead of N.
 */
#include "ingest/ingest_internal.h"

#include "config/config.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_EVENTS 2048
#define EXPIRY_BATCH       500
#define SILENCE_REFRESH_MS 1000

/* One submitted batch; heap-allocated, freed by the writer after done(). */
struct ingest_request {
    const struct alert_batch *batch;
    struct ingest_result *results;
    ingest_done_fn done;
    void *arg;
    struct ingest_request *next;
};

struct ingest {
    struct ingest_options opts;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the writer: work arrived or stopping */
    struct ingest_request *head, *tail;
    bool stopping; /* the writer finishes the queue and ends */
    bool stopped;  /* ingest_stop() joined the writer (or is joining it) */
    _Atomic uint64_t events, commits, failed_events;
    /* The writer's copy of the silences in force: reloaded when a silence
     * changed here (generation) or after SILENCE_REFRESH_MS (another node). */
    struct silence_cache silences;
    int64_t silences_loaded_ms;
    uint64_t silences_loaded_gen;
    _Atomic uint64_t silences_gen;
    struct pending_counts pending; /* the writer's; see apply_flush_counts */
    _Atomic uint64_t by_outcome[INGEST_UNROUTABLE + 1];
};

static const char *const outcome_names[] = {"created",      "attached", "deduplicated", "resolved",
                                            "acknowledged", "ignored",  "unroutable"};

const char *ingest_outcome_name(enum ingest_outcome outcome)
{
    if ((unsigned)outcome > INGEST_UNROUTABLE)
        return "unknown";
    return outcome_names[outcome];
}

static int64_t now_ms(void)
{
    return store_now_ms();
}

/* Apply one event under a savepoint; a concurrent-writer conflict is retried once. */
static void apply_one(const struct apply_ctx *ctx, const struct alert_event *ev,
                      struct ingest_result *result)
{
    struct ob_error err = {0};
    int rc = 0;

    for (int attempt = 0; attempt < 2; attempt++) {
        ob_error_clear(&err);
        rc = store_savepoint(ctx->conn, &err);
        if (rc != 0)
            break;
        rc = apply_event(ctx, ev, result, &err);
        if (rc == 0) {
            rc = store_savepoint_release(ctx->conn, &err);
            break;
        }
        store_savepoint_rollback(ctx->conn, NULL);
        if (rc != OB_ECONFLICT)
            break;
    }
    if (rc != 0) {
        memset(result, 0, sizeof(*result));
        result->code = rc;
        snprintf(result->message, sizeof(result->message), "%.199s",
                 err.msg[0] != '\0' ? err.msg : ob_strerror(rc));
    }
}

/* Apply every event without savepoints; false as soon as one fails. */
static bool apply_all_optimistic(const struct apply_ctx *ctx, struct ingest_request *list)
{
    for (struct ingest_request *r = list; r != NULL; r = r->next) {
        for (size_t i = 0; i < r->batch->count; i++) {
            if (apply_event(ctx, &r->batch->events[i], &r->results[i], NULL) != 0)
                return false;
        }
    }
    return true;
}

/* Apply every event of the requests in list in one transaction. */
static int commit_requests(struct ingest *ing, struct ingest_request *list, struct ob_error *err)
{
    struct store_conn *conn = NULL;
    struct config *cfg = ing->opts.get_config(ing->opts.config_ctx);
    struct apply_ctx ctx;
    int64_t earliest_due = 0;
    uint64_t n_events = 0;
    int rc;

    rc = store_acquire(ing->opts.store, &conn, err);
    if (rc != 0)
        goto out;
    rc = store_begin(conn, err);
    if (rc != 0)
        goto out;
    ctx.conn = conn;
    ctx.cfg = cfg;
    ctx.now_ms = now_ms();
    if (ing->silences_loaded_gen != atomic_load(&ing->silences_gen) ||
        ctx.now_ms - ing->silences_loaded_ms >= SILENCE_REFRESH_MS ||
        ctx.now_ms < ing->silences_loaded_ms) {
        struct silence_cache fresh;
        uint64_t gen = atomic_load(&ing->silences_gen);
        rc = silence_cache_load(conn, ctx.now_ms, &fresh, err);
        if (rc != 0)
            goto out;
        silence_cache_release(&ing->silences);
        ing->silences = fresh;
        ing->silences_loaded_ms = ctx.now_ms;
        ing->silences_loaded_gen = gen;
    }
    ctx.silences = &ing->silences;
    ctx.pending = &ing->pending;
    ctx.earliest_due = &earliest_due;
    /*
     * Optimistic pass: every event without a savepoint (two statements fewer
     * per event). Events almost never fail; when one does, the transaction
     * is rolled back and the batch applied again with a savepoint per event,
     * so that only the failing event fails.
     */
    ing->pending.count = 0;
    if (!apply_all_optimistic(&ctx, list)) {
        store_rollback(conn);
        ing->pending.count = 0;
        rc = store_begin(conn, err);
        if (rc != 0)
            goto out;
        for (struct ingest_request *r = list; r != NULL; r = r->next) {
            for (size_t i = 0; i < r->batch->count; i++)
                apply_one(&ctx, &r->batch->events[i], &r->results[i]);
        }
    }
    rc = apply_flush_counts(&ctx, err);
    if (rc != 0)
        goto out;
    for (struct ingest_request *r = list; r != NULL; r = r->next)
        n_events += r->batch->count;
    rc = store_commit(conn, err);
    if (rc != 0)
        goto out;
    atomic_fetch_add(&ing->commits, 1);
    atomic_fetch_add(&ing->events, n_events);
    if (earliest_due != 0 && ing->opts.due_hint != NULL)
        ing->opts.due_hint(ing->opts.hint_ctx, earliest_due);
    for (struct ingest_request *r = list; r != NULL; r = r->next) {
        for (size_t i = 0; i < r->batch->count; i++) {
            if (r->results[i].code != 0)
                atomic_fetch_add(&ing->failed_events, 1);
            else
                atomic_fetch_add(&ing->by_outcome[r->results[i].outcome], 1);
        }
    }
out:
    store_release(conn); /* rolls back when the commit was not reached */
    config_unref(cfg);
    return rc;
}

/* Take requests from the queue up to the per-commit event budget (at least one). */
static struct ingest_request *take_requests(struct ingest *ing)
{
    struct ingest_request *first = ing->head, *last = NULL, *r = ing->head;
    size_t events = 0;

    while (r != NULL &&
           (last == NULL || events + r->batch->count <= ing->opts.max_events_per_commit)) {
        events += r->batch->count;
        last = r;
        r = r->next;
    }
    if (last == NULL)
        return NULL;
    ing->head = last->next;
    if (ing->head == NULL)
        ing->tail = NULL;
    last->next = NULL;
    return first;
}

int ingest_expire_now(struct ingest *ing, int64_t at_ms, struct ob_error *err)
{
    struct alert_row *rows = NULL;
    struct store_conn *conn = NULL;
    struct alert_batch batch = {0};
    struct ingest_result *results = NULL;
    size_t count = 0;
    int rc;

    rc = store_acquire(ing->opts.store, &conn, err);
    if (rc == 0)
        rc = store_alert_list_expired(conn, at_ms, EXPIRY_BATCH, &rows, &count, err);
    store_release(conn);
    if (rc != 0 || count == 0)
        goto out;
    /* Resolve them through the normal path: same keys, same timeline, same commit. */
    batch.events = calloc(count, sizeof(*batch.events));
    results = calloc(count, sizeof(*results));
    if (batch.events == NULL || results == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        struct alert_event *ev = &batch.events[batch.count++];
        ev->source = SOURCE_ALERTMANAGER_API;
        ev->action = ALERT_RESOLVE;
        ev->service = rows[i].service != NULL ? strdup(rows[i].service) : NULL;
        ev->dedup_key = strdup(rows[i].dedup_key != NULL ? rows[i].dedup_key : rows[i].fingerprint);
        ev->summary = strdup(rows[i].summary);
        ev->source_name = strdup("expiry");
        ev->ends_at_ms = rows[i].ends_at_ms;
        snprintf(ev->fingerprint, sizeof(ev->fingerprint), "%s", rows[i].fingerprint);
        if ((rows[i].service != NULL && ev->service == NULL) || ev->dedup_key == NULL ||
            ev->summary == NULL || ev->source_name == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = ingest_submit(ing, &batch, results, err);
    if (rc == 0)
        rc = (int)count;
out:
    alert_batch_release(&batch);
    free(results);
    alert_row_array_free(rows, count);
    return rc;
}

static void *writer_main(void *arg)
{
    struct ingest *ing = arg;

    pthread_mutex_lock(&ing->lock);
    for (;;) {
        struct ingest_request *list;
        struct ob_error err = {0};
        int rc;

        while (ing->head == NULL && !ing->stopping)
            pthread_cond_wait(&ing->wake, &ing->lock);
        if (ing->head == NULL) /* stopping, and everything queued is done */
            break;
        list = take_requests(ing);
        pthread_mutex_unlock(&ing->lock);

        rc = commit_requests(ing, list, &err);
        if (rc != 0)
            log_error("ingest", "commit failed; the batch was not accepted", "error", err.msg);

        /* done() is the last use of each request: the submitter may free
         * what it lent us as soon as it is called. */
        for (struct ingest_request *r = list; r != NULL;) {
            struct ingest_request *next = r->next;
            r->done(r->arg, rc, rc != 0 ? &err : NULL);
            free(r);
            r = next;
        }
        pthread_mutex_lock(&ing->lock);
    }
    pthread_mutex_unlock(&ing->lock);
    return NULL;
}

int ingest_submit_async(struct ingest *ing, const struct alert_batch *batch,
                        struct ingest_result *results, ingest_done_fn done, void *arg,
                        struct ob_error *err)
{
    struct ingest_request *req;

    if (batch->count == 0) {
        done(arg, 0, NULL);
        return 0;
    }
    req = calloc(1, sizeof(*req));
    if (req == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    req->batch = batch;
    req->results = results;
    req->done = done;
    req->arg = arg;
    pthread_mutex_lock(&ing->lock);
    if (ing->stopping) {
        pthread_mutex_unlock(&ing->lock);
        free(req);
        return ob_fail(err, OB_EUNAVAILABLE, "shutting down");
    }
    if (ing->tail != NULL)
        ing->tail->next = req;
    else
        ing->head = req;
    ing->tail = req;
    pthread_cond_signal(&ing->wake);
    pthread_mutex_unlock(&ing->lock);
    return 0;
}

/* ingest_submit() waits for its own request with one of these. */
struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    struct ob_error err;
};

static void sync_done(void *arg, int rc, const struct ob_error *err)
{
    struct sync_wait *w = arg;

    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    if (err != NULL)
        w->err = *err;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int ingest_submit(struct ingest *ing, const struct alert_batch *batch,
                  struct ingest_result *results, struct ob_error *err)
{
    struct sync_wait w = {.done = false};
    int rc;

    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    rc = ingest_submit_async(ing, batch, results, sync_done, &w, err);
    if (rc == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        rc = w.rc;
        if (rc != 0 && err != NULL)
            *err = w.err;
    }
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    return rc;
}

int ingest_start(const struct ingest_options *opts, struct ingest **out, struct ob_error *err)
{
    struct ingest *ing = calloc(1, sizeof(*ing));

    *out = NULL;
    if (ing == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    ing->opts = *opts;
    if (ing->opts.max_events_per_commit == 0)
        ing->opts.max_events_per_commit = DEFAULT_MAX_EVENTS;
    atomic_store(&ing->silences_gen, 1); /* loaded_gen 0: the first commit loads them */
    pthread_mutex_init(&ing->lock, NULL);
    pthread_cond_init(&ing->wake, NULL);
    if (pthread_create(&ing->thread, NULL, writer_main, ing) != 0) {
        pthread_mutex_destroy(&ing->lock);
        pthread_cond_destroy(&ing->wake);
        free(ing);
        return ob_fail(err, OB_EINTERNAL, "cannot start the ingest writer thread");
    }
    *out = ing;
    return 0;
}

void ingest_stop(struct ingest *ing)
{
    if (ing == NULL)
        return;
    pthread_mutex_lock(&ing->lock);
    if (ing->stopped) {
        pthread_mutex_unlock(&ing->lock);
        return;
    }
    ing->stopping = true;
    ing->stopped = true;
    pthread_cond_broadcast(&ing->wake);
    pthread_mutex_unlock(&ing->lock);
    pthread_join(ing->thread, NULL);
}

void ingest_free(struct ingest *ing)
{
    if (ing == NULL)
        return;
    ingest_stop(ing);
    silence_cache_release(&ing->silences);
    free(ing->pending.items);
    pthread_mutex_destroy(&ing->lock);
    pthread_cond_destroy(&ing->wake);
    free(ing);
}

int ingest_due_work(struct ingest *ing, int64_t now_ms, int64_t *next_due_ms, struct ob_error *err)
{
    struct store_conn *conn = NULL;
    int64_t heartbeat_due = 0;
    int rc, n;

    *next_due_ms = 0;
    do { /* a full batch may leave more behind */
        n = ingest_expire_now(ing, now_ms, err);
    } while (n == EXPIRY_BATCH);
    if (n < 0)
        return n;
    rc = heartbeat_check(ing, now_ms, &heartbeat_due, err);
    if (rc != 0)
        return rc;
    rc = store_acquire(ing->opts.store, &conn, err);
    if (rc == 0)
        rc = store_alert_next_end(conn, now_ms, next_due_ms, err);
    store_release(conn);
    if (heartbeat_due != 0 && (*next_due_ms == 0 || heartbeat_due < *next_due_ms))
        *next_due_ms = heartbeat_due;
    return rc;
}

void ingest_silences_changed(struct ingest *ing)
{
    if (ing != NULL)
        atomic_fetch_add(&ing->silences_gen, 1);
}

struct store *ingest_store(struct ingest *ing)
{
    return ing->opts.store;
}

struct config *ingest_config(struct ingest *ing)
{
    return ing->opts.get_config(ing->opts.config_ctx);
}

void ingest_get_stats(struct ingest *ing, struct ingest_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (ing == NULL)
        return;
    out->events = atomic_load(&ing->events);
    out->commits = atomic_load(&ing->commits);
    out->failed_events = atomic_load(&ing->failed_events);
    for (int i = 0; i <= INGEST_UNROUTABLE; i++)
        out->by_outcome[i] = atomic_load(&ing->by_outcome[i]);
}
