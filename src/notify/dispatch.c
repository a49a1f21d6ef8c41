/*
 * dispatch.c - the dispatcher thread: due outbox rows to providers, in
 * batches of up to DISPATCH_BATCH rows and two transactions per batch (see
 * notify.h).
 *
 * Transaction 1 claims due queued rows (FOR UPDATE SKIP LOCKED on
 * PostgreSQL) and either settles each without a provider (incident no
 * longer triggered: cancelled; no provider: failed-permanent; over the rate
 * limit: failed-permanent) or marks it `sending`, then commits.  The
 * providers are then called with no transaction open and no connection
 * held.  Transaction 2 records the outcomes, each guarded by its attempt
 * number, so that an attempt that another node declared interrupted
 * meanwhile is not recorded twice.
 *
 * The loop sleeps until the earliest queued due_at, the moment the oldest
 * `sending` row's lease runs out, a hint, or the poll interval (rows queued
 * by another node).
 */
#include "notify/notify.h"
#include "notify/tel.h"
#include "notify/verify.h"

#include "config/config.h"
#include "daemon/app.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"
#include "util/strbuf.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DISPATCH_NODE_MAX     128
#define DISPATCH_RETRY_MS     1000 /* after a failed round */
#define DISPATCH_ROUND_MAX    20   /* batches per round before looking at the clock again */
#define DISPATCH_BATCH        50   /* rows claimed, sent and recorded together */
#define DISPATCH_WORKERS      16   /* provider calls at once */
#define DISPATCH_IN_FLIGHT    64   /* rows handed to workers and not yet done */
#define DISPATCH_OUTCOMES     (NOTIFY_OUTCOME_COUNT + 1)
#define DISPATCH_RATE_LIMITED NOTIFY_OUTCOME_COUNT /* outcome index beside enum notify_outcome */
#define LATENCY_BUCKETS       12

/* Metric labels by enum notify_outcome (a pending attempt counts as "placed"). */
static const char *const outcome_labels[DISPATCH_OUTCOMES] = {
    "delivered",        "answered",         "acknowledged", "busy",        "no-answer",
    "failed-temporary", "failed-permanent", "placed",       "rate-limited"};
static const double latency_bounds[LATENCY_BUCKETS] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1.0,  2.5,   5.0,  10,  30,   60};

struct dispatcher {
    struct app *app;
    char node[DISPATCH_NODE_MAX];
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool kicked;
    int64_t wake_at;                /* when the sleeping thread wakes (0 while it works) */
    struct completion *completions; /* outcomes to record, newest first */
    struct job *jobs, *jobs_tail;   /* rows for the workers, oldest first */
    size_t in_flight;               /* jobs queued or being called */
    pthread_cond_t work;            /* signals the workers */
    pthread_t workers[DISPATCH_WORKERS];
    size_t worker_count;

    /* metrics: [provider index, or notify_provider_count = none][outcome] */
    _Atomic uint64_t *outcomes;
    _Atomic uint64_t latency_count;
    _Atomic uint64_t latency_sum_us;
    _Atomic uint64_t latency_buckets[LATENCY_BUCKETS];
};

/* An outcome waiting for the dispatcher thread: from a worker (with the
 * row it sent, the provider and its id) or from notify_complete(). */
struct completion {
    struct completion *next;
    int64_t id;
    int64_t attempt;
    enum notify_outcome outcome;
    char detail[512];
    char external_id[128];
    struct job *job; /* the worker's job (row, provider), or NULL */
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *notify_outcome_state(enum notify_outcome outcome)
{
    switch (outcome) {
    case NOTIFY_DELIVERED:
        return "delivered";
    case NOTIFY_ANSWERED:
        return "answered";
    case NOTIFY_ACKNOWLEDGED:
        return "acknowledged";
    case NOTIFY_BUSY:
        return "busy";
    case NOTIFY_NO_ANSWER:
        return "no-answer";
    case NOTIFY_FAILED_TEMPORARY:
        return "failed-temporary";
    case NOTIFY_PENDING:
        return "sending";
    case NOTIFY_FAILED_PERMANENT:
        break;
    }
    return "failed-permanent";
}

int notify_outcome_retried(enum notify_outcome outcome)
{
    return outcome == NOTIFY_BUSY || outcome == NOTIFY_NO_ANSWER ||
           outcome == NOTIFY_FAILED_TEMPORARY;
}

int notify_outcome_reached(enum notify_outcome outcome)
{
    return outcome == NOTIFY_DELIVERED || outcome == NOTIFY_ANSWERED ||
           outcome == NOTIFY_ACKNOWLEDGED;
}

int64_t notify_backoff_ms(int64_t base_ms, int64_t attempt)
{
    int64_t cap = base_ms > NOTIFY_RETRY_CAP_MS ? base_ms : NOTIFY_RETRY_CAP_MS;
    int64_t delay = base_ms;

    for (int64_t i = 1; i < attempt && delay < cap; i++)
        delay *= 2;
    return delay < cap ? delay : cap;
}

int notify_rate_limited(const struct config_notification_limit *limit, int64_t recent)
{
    return limit != NULL && limit->max > 0 && recent >= (int64_t)limit->max;
}

static size_t provider_index(const struct notify_provider *p)
{
    for (size_t i = 0; i < notify_provider_count; i++) {
        if (notify_providers[i] == p)
            return i;
    }
    return notify_provider_count;
}

const struct notify_provider *notify_provider_for(const struct config *cfg, const char *type)
{
    for (size_t i = 0; i < notify_provider_count; i++) {
        if (notify_providers[i]->handles(cfg, type))
            return notify_providers[i];
    }
    return NULL;
}

static const struct notify_provider *provider_named(const char *name)
{
    for (size_t i = 0; name != NULL && i < notify_provider_count; i++) {
        if (strcmp(notify_providers[i]->name, name) == 0)
            return notify_providers[i];
    }
    return NULL;
}

static bool is_update(const struct outbox_row *row)
{
    return row->kind != NULL && strcmp(row->kind, "update") == 0;
}

/* A call on request (notify/tel.h): no incident, no retry, its own next phone. */
static bool is_tel(const struct outbox_row *row)
{
    return row->kind != NULL && strcmp(row->kind, "tel") == 0;
}

static void count_outcome(struct dispatcher *d, const struct notify_provider *p, int outcome)
{
    atomic_fetch_add(&d->outcomes[provider_index(p) * DISPATCH_OUTCOMES + (size_t)outcome], 1);
}

static void observe_latency(struct dispatcher *d, int64_t ms)
{
    double s = ms > 0 ? (double)ms / 1000.0 : 0.0;

    atomic_fetch_add(&d->latency_count, 1);
    atomic_fetch_add(&d->latency_sum_us, (uint64_t)(s * 1e6));
    for (int b = 0; b < LATENCY_BUCKETS; b++) {
        if (s <= latency_bounds[b])
            atomic_fetch_add(&d->latency_buckets[b], 1);
    }
}

static int64_t lease_ms(const struct config *cfg)
{
    return cfg->send_lease_ms != 0 ? (int64_t)cfg->send_lease_ms : NOTIFY_LEASE_MS;
}

static int contact_type_of(const char *name, enum contact_type *out)
{
    for (int t = 0; t < CONTACT_TYPE_COUNT; t++) {
        if (strcmp(contact_type_name((enum contact_type)t), name) == 0) {
            *out = (enum contact_type)t;
            return 0;
        }
    }
    return -1;
}

/* ---- one row's records (inside a transaction) --------------------------------- */

static int timeline(struct store_conn *conn, const struct outbox_row *row, char *kind,
                    const char *provider, const char *state, const char *detail, int64_t now_ms,
                    struct ob_error *err)
{
    char message[768];
    json_t *data;
    char *text = NULL;
    int rc;

    snprintf(message, sizeof(message), "%s to %s (%s) via %s: %s", row->contact_type,
             row->user_name, row->address, provider != NULL ? provider : "nothing", state);
    data = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "notification",
                     (json_int_t)row->id, "user", row->user_name, "type", row->contact_type,
                     "address", row->address, "state", state, "attempt", (json_int_t)row->attempts,
                     "due_at_ms", (json_int_t)row->due_at_ms, "sent_at_ms", (json_int_t)now_ms,
                     "detail", detail != NULL ? detail : "");
    text = data != NULL ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(data);
    {
        struct incident_event ev = {
            .incident_id = row->incident_id,
            .at_ms = now_ms,
            .kind = kind,
            .actor = "engine",
            .message = message,
            .data = text,
        };
        rc = store_incident_event_append(conn, &ev, err);
    }
    free(text);
    return rc;
}

static bool already_tried(const struct outbox_row *rows, size_t count, const struct outbox_row *row,
                          const struct config_contact_method *cm)
{
    for (size_t i = 0; i < count; i++) {
        if (rows[i].seq == row->seq && strcmp(rows[i].user_name, row->user_name) == 0 &&
            strcmp(rows[i].contact_type, contact_type_name(cm->type)) == 0 &&
            strcmp(rows[i].address, cm->address) == 0)
            return true;
    }
    return false;
}

/* After row failed for good: queue the user's next contact method (in the
 * order of `contact_methods`, wrapping) not yet tried for this step, due now. */
static int queue_next_contact(struct store_conn *conn, const struct config *cfg,
                              const struct outbox_row *row, int64_t now_ms, struct ob_error *err)
{
    const struct config_user *user = config_find_user(cfg, row->user_name);
    struct outbox_row *rows = NULL;
    size_t count = 0, start = 0;
    enum contact_type type;
    int rc;

    if (user == NULL || user->contact_method_count == 0)
        return 0;
    if (contact_type_of(row->contact_type, &type) == 0) {
        for (unsigned i = 0; i < user->contact_method_count; i++) {
            if (user->contact_methods[i].type == type &&
                strcmp(user->contact_methods[i].address, row->address) == 0) {
                start = i + 1;
                break;
            }
        }
    }
    rc = store_outbox_list(conn, row->incident_id, &rows, &count, err);
    for (unsigned j = 0; rc == 0 && j < user->contact_method_count; j++) {
        unsigned idx = (unsigned)((start + j) % user->contact_method_count);
        const struct config_contact_method *cm = &user->contact_methods[idx];
        struct outbox_row next = {
            .incident_id = row->incident_id,
            .seq = row->seq,
            .user_name = row->user_name,
            .contact_type = (char *)contact_type_name(cm->type),
            .address = cm->address,
            .rule_index = -1 - (int64_t)idx, /* not a rule: the fallback to method idx */
            .due_at_ms = now_ms,
            .created_at_ms = now_ms,
        };
        char detail[512];

        if (already_tried(rows, count, row, cm))
            continue;
        rc = store_outbox_insert(conn, &next, err);
        if (rc != 0)
            break;
        snprintf(detail, sizeof(detail), "after %s to %s failed: next contact method",
                 row->contact_type, row->address);
        rc = timeline(conn, &next, "notification.queued", NULL, "queued", detail, now_ms, err);
        break;
    }
    outbox_row_array_free(rows, count);
    return rc;
}

/* Settle a row that was never handed to a provider (from "queued"). */
static int settle_unsent(struct store_conn *conn, const struct config *cfg,
                         const struct outbox_row *row, const char *state, const char *detail,
                         int64_t now_ms, struct ob_error *err)
{
    int rc = store_outbox_record(conn, row->id, row->attempts, "queued", state, NULL, detail, NULL,
                                 0, 0, now_ms, err);

    if (rc != 0 || strcmp(state, "cancelled") == 0 || is_update(row))
        return rc;
    if (is_tel(row))
        return tel_settled(conn, cfg, row, state, detail, 0, now_ms, err);
    rc = timeline(conn, row, "notification.failed", NULL, state, detail, now_ms, err);
    if (rc == 0)
        rc = queue_next_contact(conn, cfg, row, now_ms, err);
    return rc;
}

static const char *outcome_event_kind(const struct outbox_row *row, enum notify_outcome outcome,
                                      bool retry)
{
    if (outcome == NOTIFY_PENDING)
        return "notification.placed";
    if (retry)
        return "notification.retry";
    if (!notify_outcome_reached(outcome))
        return "notification.failed";
    if (is_update(row))
        return "notification.updated";
    if (outcome == NOTIFY_ANSWERED)
        return "notification.answered";
    if (outcome == NOTIFY_ACKNOWLEDGED)
        return "notification.acknowledged";
    return "notification.delivered";
}

/* The outcome of attempt row->attempts, from "sending". *retry_at = the new
 * due time when it goes back to the queue.  NOTIFY_PENDING keeps the row
 * `sending` and records external_id (may be NULL). */
static int record_outcome(struct store_conn *conn, const struct config *cfg,
                          const struct outbox_row *row, const struct notify_provider *p,
                          enum notify_outcome outcome, const char *detail, const char *external_id,
                          int64_t now_ms, int64_t *retry_at, struct ob_error *err)
{
    uint32_t max = p != NULL && p->max_attempts != NULL ? p->max_attempts(cfg) : 0;
    uint32_t base = p != NULL && p->retry_base_ms != NULL ? p->retry_base_ms(cfg) : 0;
    const char *state = notify_outcome_state(outcome);
    char note[600];
    int64_t due = 0;
    int rc;

    *retry_at = 0;
    if (max == 0)
        max = cfg->max_attempts != 0 ? cfg->max_attempts : NOTIFY_DEFAULT_MAX_ATTEMPTS;
    if (base == 0)
        base = cfg->retry_base_ms != 0 ? cfg->retry_base_ms : NOTIFY_DEFAULT_RETRY_BASE;
    if (is_tel(row))
        max = 1; /* somebody waits: the next phone now rather than this one later */
    snprintf(note, sizeof(note), "attempt %lld: %s", (long long)row->attempts, detail);
    if (notify_outcome_retried(outcome) && row->attempts < (int64_t)max) {
        due = now_ms + notify_backoff_ms(base, row->attempts);
        snprintf(note, sizeof(note), "attempt %lld: %s; retry in %lld ms", (long long)row->attempts,
                 detail, (long long)(due - now_ms));
        state = "queued";
        *retry_at = due;
    }
    rc = store_outbox_record(conn, row->id, row->attempts, "sending", state,
                             p != NULL ? p->name : NULL, note, external_id,
                             notify_outcome_reached(outcome) ? now_ms : 0, due, now_ms, err);
    if (rc != 0)
        return rc;
    if (is_tel(row))
        return outcome == NOTIFY_PENDING
                   ? 0
                   : tel_settled(conn, cfg, row, state, note, notify_outcome_reached(outcome),
                                 now_ms, err);
    rc = timeline(conn, row, (char *)outcome_event_kind(row, outcome, due != 0),
                  p != NULL ? p->name : NULL, notify_outcome_state(outcome), note, now_ms, err);
    /* An update that went out while the incident changed again: send the
     * newer state too. */
    if (rc == 0 && is_update(row) && outcome != NOTIFY_PENDING && due == 0) {
        int requeued = 0;
        rc = store_outbox_requeue_changed(conn, row->id, row->due_at_ms, now_ms, &requeued, err);
        if (rc == 0 && requeued)
            *retry_at = now_ms;
    }
    if (rc == 0 && !notify_outcome_reached(outcome) && outcome != NOTIFY_PENDING && due == 0 &&
        !is_update(row))
        rc = queue_next_contact(conn, cfg, row, now_ms, err);
    return rc;
}

/* ---- rounds ---------------------------------------------------------------------- */

/*
 * Rows left in `sending`: by this node (start-up only, node != NULL) or by
 * anyone past the lease.  Each is a failed-temporary attempt, retried as a
 * new one.  Returns how many, or a negative code.
 */
static int recover_stale(struct dispatcher *d, struct store_conn *conn, const struct config *cfg,
                         const char *node, struct ob_error *err)
{
    struct outbox_row *rows = NULL;
    size_t count = 0;
    int64_t now = wall_ms(), retry_at;
    int rc;

    rc = store_begin(conn, err);
    if (rc != 0)
        return rc;
    rc = store_outbox_claim_stale(conn, node, now - lease_ms(cfg), 100, &rows, &count, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const struct notify_provider *p = notify_provider_for(cfg, rows[i].contact_type);
        char id[24];

        snprintf(id, sizeof(id), "%lld", (long long)rows[i].id);
        log_warn("notify", "attempt interrupted; retrying", "notification", id, "node",
                 rows[i].node != NULL ? rows[i].node : "");
        rc = record_outcome(conn, cfg, &rows[i], p, NOTIFY_FAILED_TEMPORARY,
                            "interrupted (sending when its node stopped, or no outcome in time)",
                            NULL, now, &retry_at, err);
        if (rc == 0)
            count_outcome(d, p, NOTIFY_FAILED_TEMPORARY);
    }
    if (rc == 0)
        rc = store_commit(conn, err);
    else
        store_rollback(conn);
    outbox_row_array_free(rows, count);
    return rc == 0 ? (int)count : rc;
}

/* One claimed row on its way through its attempt: prepared by the
 * dispatcher thread, handed to a worker, which owns it until it queues the
 * outcome. */
struct job {
    struct job *next;
    struct outbox_row row;
    const struct notify_provider *provider; /* NULL: settled in transaction 1 */
    struct incident inc;
    struct config *cfg;            /* the worker's reference */
    struct notify_attempt attempt; /* detail doubles as transaction 1's note */
};

static void job_free(struct job *job)
{
    if (job == NULL)
        return;
    outbox_row_release(&job->row);
    incident_release(&job->inc);
    config_unref(job->cfg);
    free(job);
}

/* Transaction 1 for one claimed row: settle it without a provider, or mark
 * it `sending` (then it->provider is set). */
static int prepare_item(struct dispatcher *d, struct store_conn *conn, const struct config *cfg,
                        struct job *it, int64_t now, struct ob_error *err)
{
    struct outbox_row *row = &it->row;
    const struct notify_provider *p;
    enum contact_type type;
    int64_t recent = 0;
    int attempted = 0, rc;

    char *note = it->attempt.detail;
    size_t note_cap = sizeof(it->attempt.detail);

    rc = is_tel(row) ? 0 : store_incident_get(conn, row->incident_id, &it->inc, err);
    if (rc != 0)
        return rc;
    if (!is_update(row) && !is_tel(row) && strcmp(it->inc.status, "triggered") != 0) {
        snprintf(note, note_cap, "incident is %s", it->inc.status);
        return settle_unsent(conn, cfg, row, "cancelled", note, now, err);
    }
    p = notify_provider_for(cfg, row->contact_type);
    if (p != NULL && is_update(row) && p->update == NULL) {
        snprintf(note, note_cap, "%s sends no updates", p->name);
        return settle_unsent(conn, cfg, row, "cancelled", note, now, err);
    }
    if (p == NULL) {
        snprintf(note, note_cap, "no provider configured for %s", row->contact_type);
        rc = settle_unsent(conn, cfg, row, "failed-permanent", note, now, err);
        if (rc == 0)
            count_outcome(d, NULL, NOTIFY_FAILED_PERMANENT);
        return rc;
    }
    /* A phone number or SIP URI nobody proved to be theirs is not called. */
    if (p->verifies && !is_update(row)) {
        int64_t verified_at = 0;
        int verified = verify_status(conn, row->user_name, row->address, &verified_at, err);

        if (verified < 0)
            return verified;
        if (!verified) {
            snprintf(note, note_cap,
                     "%s is not verified (opsbell contact verify %s %s %s, or an admin's "
                     "opsbell contact trust)",
                     row->address, row->user_name, row->contact_type, row->address);
            rc = settle_unsent(conn, cfg, row, "failed-permanent", note, now, err);
            if (rc == 0)
                count_outcome(d, p, NOTIFY_FAILED_PERMANENT);
            return rc;
        }
    }
    /* Updates follow a page that got through: no rate limit, no latency;
     * calls on request have their own limits (tel.c). */
    if (!is_update(row) && !is_tel(row) && contact_type_of(row->contact_type, &type) == 0) {
        const struct config_notification_limit *limit = &cfg->notification_limits[type];
        if (limit->max > 0) {
            /* Rows marked `sending` earlier in this transaction count too. */
            rc = store_outbox_count_recent(conn, row->contact_type, row->address,
                                           now - (int64_t)limit->per_seconds * 1000, &recent, err);
            if (rc != 0)
                return rc;
            if (notify_rate_limited(limit, recent)) {
                char per[32];
                snprintf(per, sizeof(per), "%um", (unsigned)(limit->per_seconds / 60));
                if (limit->per_seconds % 60 != 0)
                    snprintf(per, sizeof(per), "%us", (unsigned)limit->per_seconds);
                snprintf(note, note_cap, "rate limited: %lld in %s", (long long)recent, per);
                rc = settle_unsent(conn, cfg, row, "failed-permanent", note, now, err);
                if (rc == 0)
                    count_outcome(d, p, DISPATCH_RATE_LIMITED);
                return rc;
            }
        }
    }
    attempted = is_update(row) || is_tel(row);
    if (!attempted)
        rc = store_outbox_incident_attempted(conn, row->incident_id, row->id, &attempted, err);
    if (rc == 0)
        rc = store_outbox_mark_sending(conn, row->id, d->node, now, err);
    if (rc != 0)
        return rc;
    if (!attempted && row->sending_at_ms == 0)
        observe_latency(d, now - it->inc.created_at_ms);
    row->attempts++;
    it->provider = p;
    it->attempt.app = d->app;
    it->attempt.cfg = cfg;
    it->attempt.row = row;
    it->attempt.inc = is_tel(row) ? NULL : &it->inc;
    it->attempt.message = is_tel(row) ? row->message : NULL;
    it->attempt.detail[0] = '\0';
    return 0;
}

/* ---- workers ------------------------------------------------------------------ */

static void push_completion(struct dispatcher *d, struct completion *c)
{
    pthread_mutex_lock(&d->lock);
    c->next = d->completions;
    d->completions = c;
    d->kicked = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

/* A worker: take a job, call its provider, queue the outcome. */
static void *worker_main(void *arg)
{
    struct dispatcher *d = arg;

    for (;;) {
        struct completion *c;
        struct job *job;

        pthread_mutex_lock(&d->lock);
        while (d->jobs == NULL && !d->stopping)
            pthread_cond_wait(&d->work, &d->lock);
        job = d->jobs;
        if (job != NULL) {
            d->jobs = job->next;
            if (d->jobs == NULL)
                d->jobs_tail = NULL;
        }
        pthread_mutex_unlock(&d->lock);
        if (job == NULL)
            break; /* stopping, queue empty */

        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            /* Not even the outcome can be kept: the lease retries the row. */
            job_free(job);
        } else {
            const struct notify_provider *p = job->provider;
            enum notify_outcome outcome =
                is_update(&job->row) ? p->update(&job->attempt) : p->deliver(&job->attempt);
            if (outcome > NOTIFY_PENDING)
                outcome = NOTIFY_FAILED_TEMPORARY; /* a provider bug, not a crash */
            c->id = job->row.id;
            c->attempt = job->row.attempts;
            c->outcome = outcome;
            snprintf(c->detail, sizeof(c->detail), "%s",
                     job->attempt.detail[0] != '\0' ? job->attempt.detail
                                                    : notify_outcome_state(outcome));
            snprintf(c->external_id, sizeof(c->external_id), "%s", job->attempt.external_id);
            c->job = job;
        }
        pthread_mutex_lock(&d->lock);
        d->in_flight--;
        pthread_mutex_unlock(&d->lock);
        if (c != NULL)
            push_completion(d, c);
    }
    return NULL;
}

static void enqueue_job(struct dispatcher *d, struct job *job)
{
    pthread_mutex_lock(&d->lock);
    job->next = NULL;
    if (d->jobs_tail != NULL)
        d->jobs_tail->next = job;
    else
        d->jobs = job;
    d->jobs_tail = job;
    d->in_flight++;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->lock);
}

/*
 * Claim due rows, as many as the workers have room for (at most
 * DISPATCH_BATCH), in one transaction that settles each without a provider
 * or marks it `sending`; after the commit, hand the sending ones to the
 * workers.  Returns how many rows were claimed, or a negative code.
 */
static int dispatch_batch(struct dispatcher *d, struct store_conn *conn, struct config *cfg,
                          struct ob_error *err)
{
    struct job **jobs = NULL;
    struct outbox_row *rows = NULL;
    size_t count = 0, room;
    int64_t now;
    int rc;

    pthread_mutex_lock(&d->lock);
    room = d->in_flight < DISPATCH_IN_FLIGHT ? DISPATCH_IN_FLIGHT - d->in_flight : 0;
    pthread_mutex_unlock(&d->lock);
    if (room == 0)
        return 0; /* a worker's outcome wakes the dispatcher */
    if (room > DISPATCH_BATCH)
        room = DISPATCH_BATCH;
    rc = store_begin(conn, err);
    if (rc != 0)
        return rc;
    now = wall_ms();
    rc = store_outbox_claim_due(conn, now, room, &rows, &count, err);
    if (rc == 0 && count > 0) {
        jobs = calloc(count, sizeof(*jobs));
        if (jobs == NULL)
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        jobs[i] = calloc(1, sizeof(*jobs[i]));
        if (jobs[i] == NULL) {
            rc = ob_fail(err, OB_ENOMEM, "out of memory");
            break;
        }
        jobs[i]->row = rows[i];
        memset(&rows[i], 0, sizeof(rows[i])); /* the job owns it now */
        rc = prepare_item(d, conn, cfg, jobs[i], now, err);
    }
    if (rc == 0)
        rc = store_commit(conn, err);
    else
        store_rollback(conn);
    for (size_t i = 0; i < count; i++) {
        if (jobs == NULL)
            break;
        if (rc == 0 && jobs[i] != NULL && jobs[i]->provider != NULL) {
            jobs[i]->cfg = config_ref(cfg);
            jobs[i]->attempt.cfg = jobs[i]->cfg;
            enqueue_job(d, jobs[i]);
        } else {
            job_free(jobs[i]);
        }
    }
    free(jobs);
    outbox_row_array_free(rows, count);
    return rc < 0 ? rc : (int)count;
}

/* Record one outcome inside the caller's transaction.  A completion whose
 * row moved on meanwhile is dropped (0). */
static int record_completion(struct dispatcher *d, struct store_conn *conn,
                             const struct config *cfg, const struct completion *c,
                             int64_t *earliest_retry, struct ob_error *err)
{
    struct outbox_row fetched = {0};
    const struct outbox_row *row;
    const struct notify_provider *p;
    int64_t retry_at = 0;
    char id[24];
    int rc = 0;

    snprintf(id, sizeof(id), "%lld", (long long)c->id);
    if (c->job != NULL) {
        row = &c->job->row;
        p = c->job->provider;
    } else {
        rc = store_outbox_get(conn, c->id, &fetched, err);
        if (rc != 0)
            goto out;
        row = &fetched;
        if (fetched.attempts != c->attempt || strcmp(fetched.state, "sending") != 0) {
            log_warn("notify", "late outcome dropped: the notification moved on", "notification",
                     id, "outcome", notify_outcome_state(c->outcome));
            goto out;
        }
        p = provider_named(fetched.provider);
        if (p == NULL)
            p = notify_provider_for(cfg, fetched.contact_type);
    }
    rc = record_outcome(conn, cfg, row, p, c->outcome, c->detail, c->external_id, wall_ms(),
                        &retry_at, err);
    if (rc == 0) {
        count_outcome(d, p, (int)c->outcome);
        if (retry_at != 0 && (*earliest_retry == 0 || retry_at < *earliest_retry))
            *earliest_retry = retry_at;
    }
out:
    /* Moved on meanwhile (another node recovered the attempt, a newer
     * attempt is out): its outcome is not ours to record.  The guarded
     * update changed no row and is the first statement: nothing to undo. */
    if (rc == OB_ENOTFOUND || rc == OB_ECONFLICT) {
        log_warn("notify", "outcome not recorded: the notification moved on", "notification", id,
                 "error", err->msg);
        ob_error_clear(err);
        rc = 0;
    }
    outbox_row_release(&fetched);
    return rc;
}

/* Record every queued outcome, oldest first, in one transaction.  When the
 * transaction fails they go back to the queue for the next round. */
static int record_completions(struct dispatcher *d, struct store_conn *conn,
                              const struct config *cfg, struct ob_error *err)
{
    struct completion *list, *oldest_first = NULL, *c;
    int64_t earliest_retry = 0;
    int rc;

    pthread_mutex_lock(&d->lock);
    list = d->completions;
    d->completions = NULL;
    pthread_mutex_unlock(&d->lock);
    if (list == NULL)
        return 0;
    while (list != NULL) {
        c = list->next;
        list->next = oldest_first;
        oldest_first = list;
        list = c;
    }
    rc = store_begin(conn, err);
    for (c = oldest_first; rc == 0 && c != NULL; c = c->next)
        rc = record_completion(d, conn, cfg, c, &earliest_retry, err);
    if (rc == 0)
        rc = store_commit(conn, err);
    else
        store_rollback(conn);
    if (rc != 0) {
        /* Back to the queue (newest first, as it is kept), after any that
         * arrived meanwhile. */
        pthread_mutex_lock(&d->lock);
        while (oldest_first != NULL) {
            c = oldest_first->next;
            oldest_first->next = d->completions;
            d->completions = oldest_first;
            oldest_first = c;
        }
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    while (oldest_first != NULL) {
        c = oldest_first->next;
        job_free(oldest_first->job);
        free(oldest_first);
        oldest_first = c;
    }
    if (earliest_retry != 0)
        dispatcher_hint(d, earliest_retry);
    return 0;
}

void notify_complete(struct app *app, int64_t notification_id, int64_t attempt,
                     enum notify_outcome outcome, const char *detail)
{
    struct dispatcher *d = app != NULL ? app->dispatcher : NULL;
    struct completion *c;

    if (d == NULL || notification_id <= 0 || outcome == NOTIFY_PENDING)
        return;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error("notify", "out of memory: outcome lost (the lease will retry it)");
        return;
    }
    c->id = notification_id;
    c->attempt = attempt;
    c->outcome = outcome;
    snprintf(c->detail, sizeof(c->detail), "%s",
             detail != NULL ? detail : notify_outcome_state(outcome));
    push_completion(d, c);
}

static int dispatch_round(struct dispatcher *d, int64_t *next_due, struct ob_error *err)
{
    struct config *cfg = app_config_get(d->app);
    struct store_conn *conn = NULL;
    int64_t due = 0, sending = 0;
    int rc, n;

    *next_due = 0;
    rc = store_acquire(d->app->store, &conn, err);
    if (rc != 0)
        goto out;
    rc = record_completions(d, conn, cfg, err);
    if (rc != 0)
        goto out;
    rc = recover_stale(d, conn, cfg, NULL, err);
    if (rc < 0)
        goto out;
    rc = 0;
    for (int i = 0; i < DISPATCH_ROUND_MAX; i++) {
        bool stopping;
        pthread_mutex_lock(&d->lock);
        stopping = d->stopping;
        pthread_mutex_unlock(&d->lock);
        if (stopping)
            break;
        n = dispatch_batch(d, conn, cfg, err);
        if (n < 0) {
            rc = n;
            goto out;
        }
        if (n < DISPATCH_BATCH)
            break;
    }
    rc = store_outbox_next_due(conn, &due, err);
    if (rc == 0)
        rc = store_outbox_oldest_sending(conn, &sending, err);
    if (rc != 0)
        goto out;
    *next_due = due;
    if (sending != 0) {
        int64_t expiry = sending + lease_ms(cfg) + 1;
        if (*next_due == 0 || expiry < *next_due)
            *next_due = expiry;
    }
out:
    store_release(conn);
    config_unref(cfg);
    return rc;
}

static void *dispatcher_main(void *arg)
{
    struct dispatcher *d = arg;
    bool recovered = false;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct ob_error err = {0};
        int64_t next_due = 0, wake_at;
        struct config *cfg;
        uint32_t poll_ms;
        int rc = 0;

        d->kicked = false;
        d->wake_at = 0;
        pthread_mutex_unlock(&d->lock);

        cfg = app_config_get(d->app);
        poll_ms = cfg->engine_poll_ms != 0 ? cfg->engine_poll_ms : 1000;
        if (!recovered) {
            /* Nothing of ours is in flight yet: whatever `sending` row
             * bears our node id was interrupted by our own crash. */
            struct store_conn *conn = NULL;
            rc = store_acquire(d->app->store, &conn, &err);
            if (rc == 0)
                rc = recover_stale(d, conn, cfg, d->node, &err);
            store_release(conn);
            recovered = rc >= 0;
            rc = rc < 0 ? rc : 0;
        }
        config_unref(cfg);
        if (rc == 0)
            rc = dispatch_round(d, &next_due, &err);
        if (rc != 0 && rc != OB_EUNAVAILABLE)
            log_warn("notify", "dispatch round failed; retrying", "error", err.msg);
        ob_error_clear(&err);

        pthread_mutex_lock(&d->lock);
        wake_at = wall_ms() + (rc != 0 ? DISPATCH_RETRY_MS : (int64_t)poll_ms);
        if (rc == 0 && next_due != 0 && next_due < wake_at)
            wake_at = next_due;
        if (d->wake_at != 0 && d->wake_at < wake_at) /* a hint while we worked */
            wake_at = d->wake_at;
        d->wake_at = wake_at;
        while (!d->stopping && !d->kicked && d->wake_at > wall_ms()) {
            struct timespec until = {.tv_sec = d->wake_at / 1000,
                                     .tv_nsec = (long)(d->wake_at % 1000) * 1000000L};
            pthread_cond_timedwait(&d->wake, &d->lock, &until);
        }
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

void dispatcher_hint(struct dispatcher *d, int64_t due_ms)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    if (due_ms <= wall_ms())
        d->kicked = true;
    else if (d->wake_at == 0 || due_ms < d->wake_at)
        d->wake_at = due_ms;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

int dispatcher_start(struct app *app, const char *node_id, struct dispatcher **out,
                     struct ob_error *err)
{
    struct dispatcher *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    d->outcomes = calloc((notify_provider_count + 1) * DISPATCH_OUTCOMES, sizeof(*d->outcomes));
    if (d->outcomes == NULL) {
        free(d);
        return ob_fail(err, OB_ENOMEM, "out of memory");
    }
    d->app = app;
    snprintf(d->node, sizeof(d->node), "%s", node_id);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    pthread_cond_init(&d->work, NULL);
    for (size_t i = 0; i < DISPATCH_WORKERS; i++) {
        if (pthread_create(&d->workers[i], NULL, worker_main, d) != 0)
            break;
        d->worker_count++;
    }
    if (d->worker_count == 0 || pthread_create(&d->thread, NULL, dispatcher_main, d) != 0) {
        d->thread_started = false;
        dispatcher_stop(d);
        return ob_fail(err, OB_ENOMEM, "cannot start the dispatcher threads");
    }
    d->thread_started = true;
    *out = d;
    return 0;
}

/* At shutdown: rows handed to no worker yet go back to the queue (the next
 * node to run sends them) instead of waiting for the lease. */
static void requeue_unstarted(struct dispatcher *d)
{
    struct job *jobs;
    struct store_conn *conn = NULL;
    struct ob_error err = {0};
    int64_t now = wall_ms();
    int rc;

    pthread_mutex_lock(&d->lock);
    jobs = d->jobs;
    d->jobs = d->jobs_tail = NULL;
    pthread_mutex_unlock(&d->lock);
    if (jobs == NULL)
        return;
    rc = store_acquire(d->app->store, &conn, &err);
    if (rc == 0)
        rc = store_begin(conn, &err);
    for (struct job *j = jobs; rc == 0 && j != NULL; j = j->next) {
        rc = store_outbox_record(conn, j->row.id, j->row.attempts, "sending", "queued", NULL,
                                 "not sent: the node stopped first", NULL, 0, now, now, &err);
        if (rc == OB_ECONFLICT) {
            ob_error_clear(&err);
            rc = 0;
        }
    }
    if (rc == 0)
        rc = store_commit(conn, &err);
    if (rc != 0)
        log_warn("notify", "unsent rows left in sending; the lease retries them", "error", err.msg);
    store_release(conn);
    while (jobs != NULL) {
        struct job *next = jobs->next;
        job_free(jobs);
        jobs = next;
    }
}

void dispatcher_stop(struct dispatcher *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = true;
    pthread_cond_signal(&d->wake);
    pthread_cond_broadcast(&d->work);
    pthread_mutex_unlock(&d->lock);
    if (d->thread_started)
        pthread_join(d->thread, NULL);
    requeue_unstarted(d);
    /* Workers finish the calls in progress (bounded by the providers'
     * timeouts), whose outcomes are recorded here. */
    for (size_t i = 0; i < d->worker_count; i++)
        pthread_join(d->workers[i], NULL);
    if (d->thread_started) {
        struct config *cfg = app_config_get(d->app);
        struct store_conn *conn = NULL;
        struct ob_error err = {0};
        if (store_acquire(d->app->store, &conn, &err) != 0 ||
            record_completions(d, conn, cfg, &err) != 0)
            log_warn("notify", "outcomes at shutdown not recorded; the lease retries them", "error",
                     err.msg);
        store_release(conn);
        config_unref(cfg);
    }
    while (d->completions != NULL) { /* their rows stay `sending`: the lease retries them */
        struct completion *c = d->completions;
        d->completions = c->next;
        job_free(c->job);
        free(c);
    }
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d->outcomes);
    free(d);
}

void dispatcher_render_metrics(struct dispatcher *d, struct strbuf *out)
{
    uint64_t count;

    if (d == NULL)
        return;
    strbuf_adds(out, "# HELP opsbell_notifications_total Notification attempts by provider and "
                     "outcome.\n"
                     "# TYPE opsbell_notifications_total counter\n");
    for (size_t p = 0; p <= notify_provider_count; p++) {
        for (int o = 0; o < DISPATCH_OUTCOMES; o++) {
            uint64_t n = atomic_load(&d->outcomes[p * DISPATCH_OUTCOMES + (size_t)o]);
            if (n == 0)
                continue;
            strbuf_addf(out, "opsbell_notifications_total{outcome=\"%s\",provider=\"%s\"} %llu\n",
                        outcome_labels[o],
                        p < notify_provider_count ? notify_providers[p]->name : "none",
                        (unsigned long long)n);
        }
    }
    strbuf_adds(out, "# HELP opsbell_notification_first_attempt_seconds From incident creation "
                     "to its first notification handed to a provider.\n"
                     "# TYPE opsbell_notification_first_attempt_seconds histogram\n");
    for (int b = 0; b < LATENCY_BUCKETS; b++)
        strbuf_addf(out, "opsbell_notification_first_attempt_seconds_bucket{le=\"%g\"} %llu\n",
                    latency_bounds[b], (unsigned long long)atomic_load(&d->latency_buckets[b]));
    count = atomic_load(&d->latency_count);
    strbuf_addf(out,
                "opsbell_notification_first_attempt_seconds_bucket{le=\"+Inf\"} %llu\n"
                "opsbell_notification_first_attempt_seconds_sum %.6f\n"
                "opsbell_notification_first_attempt_seconds_count %llu\n",
                (unsigned long long)count, (double)atomic_load(&d->latency_sum_us) / 1e6,
                (unsigned long long)count);
}
