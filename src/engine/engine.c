/*
 * engine.c - the engine thread: a min-heap of due-time hints, and rounds
 * that take every due escalation step, each batch in one transaction.  The
 * outbox rows a step queues are delivered by the dispatcher's own thread
 * (src/notify/), hinted after the commit, so that a slow provider never
 * delays a step.
 *
 * The loop: run the pipeline's due work (alerts past their end, missed
 * heartbeats), unsilence incidents whose silence ended, take what is due (in
 * batches of ENGINE_BATCH until nothing is left), ask the database for the earliest future due time
 * and push it on the heap, then sleep until the heap's top, a hint earlier than that, or the poll
 * interval (work created by another node).  Hints are only hints: a lost one delays nothing but
 * what the poll finds.
 */
#include "engine/engine_internal.h"

#include "access/access.h"
#include "config/config.h"
#include "daemon/app.h"
#include "ingest/ingest.h"
#include "notify/notify.h"
#include "store/engine.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ENGINE_BATCH     200
#define ENGINE_HEAP_MAX  65536
#define ENGINE_RETRY_MS  1000 /* after a failed round */
#define ENGINE_NODE_MAX  128
#define LATENESS_BUCKETS 10

static const double lateness_bounds[LATENESS_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                                         0.1,   0.25,  0.5,  1.0,   5.0};

struct engine {
    struct app *app;
    char node[ENGINE_NODE_MAX];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool kicked;     /* a hint due now arrived while the thread was busy */
    int64_t wake_at; /* when the sleeping thread wakes (0 while it works) */
    /* The pipeline's due work (engine thread only): when it is next due,
     * when it last ran. */
    int64_t ingest_due;
    int64_t ingest_ran;
    int64_t *heap; /* min-heap of due times (ms) */
    size_t heap_len;
    size_t heap_cap;

    /* metrics (engine thread writes, /metrics reads) */
    _Atomic uint64_t steps;
    _Atomic uint64_t notifications;
    _Atomic uint64_t rounds_failed;
    _Atomic uint64_t lateness_count;
    _Atomic uint64_t lateness_sum_us;
    _Atomic uint64_t lateness_buckets[LATENESS_BUCKETS];
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the hint heap (guarded by eng->lock) ------------------------------------ */

static void heap_push(struct engine *eng, int64_t due)
{
    size_t i;

    if (eng->heap_len == eng->heap_cap) {
        size_t cap = eng->heap_cap ? eng->heap_cap * 2 : 64;
        int64_t *n;
        if (cap > ENGINE_HEAP_MAX)
            return; /* full: the database poll still finds the work */
        n = realloc(eng->heap, cap * sizeof(*n));
        if (n == NULL)
            return;
        eng->heap = n;
        eng->heap_cap = cap;
    }
    i = eng->heap_len++;
    while (i > 0 && eng->heap[(i - 1) / 2] > due) {
        eng->heap[i] = eng->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    eng->heap[i] = due;
}

static void heap_pop(struct engine *eng)
{
    int64_t last;
    size_t i = 0;

    if (eng->heap_len == 0)
        return;
    last = eng->heap[--eng->heap_len];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= eng->heap_len)
            break;
        if (c + 1 < eng->heap_len && eng->heap[c + 1] < eng->heap[c])
            c++;
        if (eng->heap[c] >= last)
            break;
        eng->heap[i] = eng->heap[c];
        i = c;
    }
    if (eng->heap_len > 0)
        eng->heap[i] = last;
}

void engine_hint(struct engine *eng, int64_t due_ms)
{
    if (eng == NULL)
        return;
    pthread_mutex_lock(&eng->lock);
    /* Only a hint earlier than the next wake-up changes anything: the
     * ingest writer hints after every commit, and most are later. */
    if (eng->wake_at == 0 || due_ms < eng->wake_at) {
        heap_push(eng, due_ms);
        if (due_ms <= wall_ms())
            eng->kicked = true;
        pthread_cond_signal(&eng->wake);
    }
    pthread_mutex_unlock(&eng->lock);
}

/* ---- rounds --------------------------------------------------------------------- */

static void observe_lateness(struct engine *eng, int64_t lateness_ms)
{
    double s = lateness_ms > 0 ? (double)lateness_ms / 1000.0 : 0.0;

    atomic_fetch_add(&eng->lateness_count, 1);
    atomic_fetch_add(&eng->lateness_sum_us, (uint64_t)(s * 1e6));
    for (int b = 0; b < LATENESS_BUCKETS; b++) {
        if (s <= lateness_bounds[b])
            atomic_fetch_add(&eng->lateness_buckets[b], 1);
    }
}

/*
 * Take the steps of due[0..count) inside the open transaction. With
 * savepoints, a step that fails on its own is undone alone and its
 * escalation stopped with the reason; without, the first failure stops the
 * pass (returned as OB_EAGAIN) so that the caller can run it again with
 * savepoints. A failure of the database or of memory fails the whole batch.
 */
static int take_steps(struct engine_round *round, const struct escalation *due, size_t count,
                      bool savepoints, int64_t *lateness, size_t *taken, struct ob_error *err)
{
    struct store_conn *conn = round->conn;
    int rc = 0;

    *taken = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        struct ob_error step_err = {0};
        char id[24], reason[600];
        int src;

        round->lateness_ms = -1;
        if (savepoints && (rc = store_savepoint(conn, err)) != 0)
            break;
        src = engine_take_step(round, &due[i], &step_err);
        if (src == 0) {
            if (savepoints)
                rc = store_savepoint_release(conn, err);
            if (round->lateness_ms >= 0)
                lateness[(*taken)++] = round->lateness_ms;
            continue;
        }
        if (src == OB_ESTORE || src == OB_ENOMEM) {
            /* The database or memory failed, not this escalation: give up
             * the whole batch and try again in a moment. */
            rc = ob_fail(err, src, "%s", step_err.msg);
        } else if (!savepoints) {
            rc = ob_fail(err, OB_EAGAIN, "%s", step_err.msg);
        } else if ((rc = store_savepoint_rollback(conn, err)) == 0) {
            snprintf(reason, sizeof(reason), "step failed: %s", step_err.msg);
            snprintf(id, sizeof(id), "%lld", (long long)due[i].incident_id);
            log_warn("engine", "escalation step failed", "incident", id, "error", step_err.msg);
            rc = store_escalation_fail(conn, due[i].incident_id, reason, round->now_ms, err);
        }
        ob_error_clear(&step_err);
    }
    return rc;
}

/*
 * One batch of due escalations in one transaction. Returns how many were
 * claimed (so the caller loops while a batch was full), or a negative code.
 * Steps almost never fail on their own, so the batch first runs without a
 * savepoint per step (two round trips fewer per step on PostgreSQL); when
 * one does fail, the batch is rolled back and run again with savepoints.
 */
static int escalation_batch(struct engine *eng, struct store_conn *conn, const struct config *cfg,
                            int64_t *earliest, struct ob_error *err)
{
    struct engine_round round = {.conn = conn, .cfg = cfg, .node = eng->node};
    struct escalation *due = NULL;
    int64_t *lateness = NULL;
    size_t count = 0, taken = 0;
    int rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        rc = store_begin(conn, err);
        if (rc != 0)
            return rc;
        round.now_ms = wall_ms();
        round.first_due = 0;
        round.queued = 0;
        rc = store_escalation_claim_due(conn, round.now_ms, ENGINE_BATCH, &due, &count, err);
        if (rc == 0 && count > 0 && lateness == NULL) {
            lateness = calloc(ENGINE_BATCH, sizeof(*lateness));
            if (lateness == NULL)
                rc = ob_fail(err, OB_ENOMEM, "out of memory");
        }
        if (rc == 0)
            rc = take_steps(&round, due, count, attempt == 1, lateness, &taken, err);
        if (rc == 0)
            rc = store_commit(conn, err);
        else
            store_rollback(conn);
        if (rc != OB_EAGAIN)
            break;
        ob_error_clear(err);
        escalation_array_free(due, count);
        due = NULL;
        count = 0;
    }
    if (rc == 0) {
        atomic_fetch_add(&eng->steps, taken);
        atomic_fetch_add(&eng->notifications, round.queued);
        for (size_t i = 0; i < taken; i++)
            observe_lateness(eng, lateness[i]);
        if (round.first_due != 0 && (*earliest == 0 || round.first_due < *earliest))
            *earliest = round.first_due;
        /* The rows just queued are the dispatcher's (its own thread). */
        if (round.first_due != 0)
            dispatcher_hint(eng->app->dispatcher, round.first_due);
    }
    free(lateness);
    escalation_array_free(due, count);
    return rc == 0 ? (int)count : rc;
}

/* Incidents whose silence ended start paging (ingest/unsilence.c); their
 * escalations are due at once and taken by the batches that follow. */
static int silence_batch(struct store_conn *conn, const struct config *cfg, int64_t *next_end,
                         struct ob_error *err)
{
    int started = 0, n, rc;

    rc = store_begin(conn, err);
    if (rc != 0)
        return rc;
    n = ingest_silences_sweep(conn, cfg, wall_ms(), &started, next_end, err);
    if (n < 0) {
        store_rollback(conn);
        return n;
    }
    return store_commit(conn, err);
}

/*
 * Take everything that is due now. Returns 0 and *next_due (the earliest
 * future due time in the database, 0 when none), or a negative code.
 */
static int engine_round(struct engine *eng, int64_t poll_ms, int64_t *next_due,
                        struct ob_error *err)
{
    struct config *cfg = app_config_get(eng->app);
    struct store_conn *conn = NULL;
    int64_t earliest = 0, due_esc = 0, due_silence = 0, due_ingest = 0;
    int n, rc;

    /* Alerts past their end and missed heartbeats first: they may open
     * incidents whose escalations are then due in this very round. */
    if (eng->app->ingest != NULL &&
        (wall_ms() >= eng->ingest_due || wall_ms() - eng->ingest_ran >= poll_ms)) {
        eng->ingest_ran = wall_ms();
        rc = ingest_due_work(eng->app->ingest, eng->ingest_ran, &due_ingest, err);
        if (rc != 0)
            goto out;
        eng->ingest_due = due_ingest != 0 ? due_ingest : INT64_MAX;
    } else {
        due_ingest = eng->ingest_due != INT64_MAX ? eng->ingest_due : 0;
    }
    /* Grants whose time is over are marked expired (and announced); the
     * firewalls closed them on time by themselves. */
    rc = access_grants_expire(eng->app->store, cfg, wall_ms(), NULL, err);
    if (rc != 0)
        goto out;
    rc = store_acquire(eng->app->store, &conn, err);
    if (rc != 0)
        goto out;
    rc = silence_batch(conn, cfg, &due_silence, err);
    if (rc != 0)
        goto out;
    for (int guard = 0; guard < 10000; guard++) {
        int progressed = 0;
        n = escalation_batch(eng, conn, cfg, &earliest, err);
        if (n < 0) {
            rc = n;
            goto out;
        }
        progressed |= n == ENGINE_BATCH;
        if (!progressed)
            break;
    }
    rc = store_escalation_next_due(conn, &due_esc, err);
    if (rc != 0)
        goto out;
    *next_due = due_esc;
    if (due_silence != 0 && (*next_due == 0 || due_silence < *next_due))
        *next_due = due_silence;
    if (due_ingest != 0 && (*next_due == 0 || due_ingest < *next_due))
        *next_due = due_ingest;
out:
    store_release(conn);
    config_unref(cfg);
    return rc;
}

static void *engine_main(void *arg)
{
    struct engine *eng = arg;

    pthread_mutex_lock(&eng->lock);
    while (!eng->stopping) {
        struct ob_error err = {0};
        int64_t next_due = 0, now, wake_at;
        struct config *cfg;
        uint32_t poll_ms;
        int rc;

        eng->kicked = false;
        eng->wake_at = 0;
        now = wall_ms();
        while (eng->heap_len > 0 && eng->heap[0] <= now)
            heap_pop(eng);
        pthread_mutex_unlock(&eng->lock);

        cfg = app_config_get(eng->app);
        poll_ms = cfg->engine_poll_ms != 0 ? cfg->engine_poll_ms : 1000;
        config_unref(cfg);
        rc = engine_round(eng, poll_ms, &next_due, &err);
        if (rc != 0 && rc != OB_EUNAVAILABLE) {
            atomic_fetch_add(&eng->rounds_failed, 1);
            log_warn("engine", "round failed; retrying", "error", err.msg);
        }
        ob_error_clear(&err);

        pthread_mutex_lock(&eng->lock);
        if (next_due != 0)
            heap_push(eng, next_due);
        now = wall_ms();
        wake_at = now + (rc != 0 ? ENGINE_RETRY_MS : (int64_t)poll_ms);
        if (rc == 0 && eng->heap_len > 0 && eng->heap[0] < wake_at)
            wake_at = eng->heap[0];
        eng->wake_at = wake_at;
        while (!eng->stopping && !eng->kicked && wake_at > wall_ms()) {
            struct timespec until = {.tv_sec = wake_at / 1000,
                                     .tv_nsec = (long)(wake_at % 1000) * 1000000L};
            pthread_cond_timedwait(&eng->wake, &eng->lock, &until);
            if (eng->heap_len > 0 && eng->heap[0] < wake_at && rc == 0)
                wake_at = eng->heap[0];
            eng->wake_at = wake_at;
        }
    }
    pthread_mutex_unlock(&eng->lock);
    return NULL;
}

int engine_start(struct app *app, const char *node_id, struct engine **out, struct ob_error *err)
{
    struct engine *eng = calloc(1, sizeof(*eng));

    *out = NULL;
    if (eng == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    eng->app = app;
    snprintf(eng->node, sizeof(eng->node), "%s", node_id);
    pthread_mutex_init(&eng->lock, NULL);
    pthread_cond_init(&eng->wake, NULL);
    if (pthread_create(&eng->thread, NULL, engine_main, eng) != 0) {
        pthread_cond_destroy(&eng->wake);
        pthread_mutex_destroy(&eng->lock);
        free(eng);
        return ob_fail(err, OB_ENOMEM, "cannot start the engine thread");
    }
    *out = eng;
    return 0;
}

void engine_stop(struct engine *eng)
{
    if (eng == NULL)
        return;
    pthread_mutex_lock(&eng->lock);
    eng->stopping = true;
    pthread_cond_signal(&eng->wake);
    pthread_mutex_unlock(&eng->lock);
    pthread_join(eng->thread, NULL);
    pthread_cond_destroy(&eng->wake);
    pthread_mutex_destroy(&eng->lock);
    free(eng->heap);
    free(eng);
}

void engine_render_metrics(struct engine *eng, struct strbuf *out)
{
    uint64_t count;

    if (eng == NULL)
        return;
    strbuf_addf(
        out,
        "# HELP opsbell_engine_steps_total Escalation steps taken by this node.\n"
        "# TYPE opsbell_engine_steps_total counter\n"
        "opsbell_engine_steps_total %llu\n"
        "# HELP opsbell_engine_notifications_total Outbox rows queued by this node's steps.\n"
        "# TYPE opsbell_engine_notifications_total counter\n"
        "opsbell_engine_notifications_total %llu\n"
        "# HELP opsbell_engine_rounds_failed_total Engine rounds rolled back and retried.\n"
        "# TYPE opsbell_engine_rounds_failed_total counter\n"
        "opsbell_engine_rounds_failed_total %llu\n"
        "# HELP opsbell_engine_step_lateness_seconds How late escalation steps were "
        "taken, against their due time.\n"
        "# TYPE opsbell_engine_step_lateness_seconds histogram\n",
        (unsigned long long)atomic_load(&eng->steps),
        (unsigned long long)atomic_load(&eng->notifications),
        (unsigned long long)atomic_load(&eng->rounds_failed));
    for (int b = 0; b < LATENESS_BUCKETS; b++)
        strbuf_addf(out, "opsbell_engine_step_lateness_seconds_bucket{le=\"%g\"} %llu\n",
                    lateness_bounds[b], (unsigned long long)atomic_load(&eng->lateness_buckets[b]));
    count = atomic_load(&eng->lateness_count);
    strbuf_addf(out,
                "opsbell_engine_step_lateness_seconds_bucket{le=\"+Inf\"} %llu\n"
                "opsbell_engine_step_lateness_seconds_sum %.6f\n"
                "opsbell_engine_step_lateness_seconds_count %llu\n",
                (unsigned long long)count, (double)atomic_load(&eng->lateness_sum_us) / 1e6,
                (unsigned long long)count);
}
