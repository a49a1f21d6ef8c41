/*
 * apply.c - one alert event applied to the store inside the writer's
 * transaction: silences, the alert row, the incident it opens or joins, and
 * the incident's timeline.
 *
 *   trigger:  repeat of a firing alert -> refresh it (no new timeline entry);
 *             new alert -> join the open incident with the same incident key,
 *             or open a new incident;
 *   resolve:  resolve the firing alert; when it was the incident's last one
 *             and the service auto-resolves, resolve the incident;
 *   ack:      acknowledge the firing alert's incident.
 */
#include "ingest/ingest_internal.h"

#include "config/config.h"
#include "engine/engine.h"
#include "store/incidents.h"
#include "util/error.h"
#include "util/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNROUTABLE_PREFIX "!unroutable"

/* ---- silences ------------------------------------------------------------- */

static int silence_parse_matchers(const char *text, struct matcher_set *out, struct ob_error *err)
{
    json_t *arr = json_loads(text, 0, NULL);
    json_t *item;
    size_t i;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!json_is_array(arr)) {
        rc = ob_fail(err, OB_EINVAL, "stored matchers are not a JSON array");
        goto out;
    }
    json_array_foreach(arr, i, item)
    {
        struct matcher m;
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *op = json_string_value(json_object_get(item, "op"));
        const char *value = json_string_value(json_object_get(item, "value"));
        enum matcher_op mop;

        if (name == NULL || op == NULL || value == NULL) {
            rc = ob_fail(err, OB_EINVAL, "stored matcher %zu is incomplete", i);
            goto out;
        }
        if (strcmp(op, "=") == 0)
            mop = MATCH_EQUAL;
        else if (strcmp(op, "!=") == 0)
            mop = MATCH_NOT_EQUAL;
        else if (strcmp(op, "=~") == 0)
            mop = MATCH_REGEX;
        else if (strcmp(op, "!~") == 0)
            mop = MATCH_NOT_REGEX;
        else {
            rc = ob_fail(err, OB_EINVAL, "stored matcher %zu has operator '%s'", i, op);
            goto out;
        }
        rc = matcher_init(&m, name, mop, value, err);
        if (rc == 0)
            rc = matcher_set_add(out, &m, err);
        if (rc != 0) {
            matcher_release(&m);
            goto out;
        }
    }
out:
    if (rc != 0)
        matcher_set_release(out);
    json_decref(arr);
    return rc;
}

int silence_cache_load(struct store_conn *conn, int64_t now_ms, struct silence_cache *out,
                       struct ob_error *err)
{
    struct silence *rows = NULL;
    size_t count = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_silence_list(conn, now_ms, 1000, &rows, &count, err);
    if (rc != 0 || count == 0)
        goto out;
    out->items = calloc(count, sizeof(*out->items));
    if (out->items == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        struct ob_error perr = {0};
        struct active_silence *a = &out->items[out->count];
        if (silence_parse_matchers(rows[i].matchers, &a->matchers, &perr) != 0) {
            char id[24];
            snprintf(id, sizeof(id), "%lld", (long long)rows[i].id);
            log_warn("ingest", "skipping a silence whose matchers cannot be read", "silence", id,
                     "error", perr.msg);
            continue;
        }
        a->id = rows[i].id;
        out->count++;
    }
out:
    silence_array_free(rows, count);
    return rc;
}

void silence_cache_release(struct silence_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++)
        matcher_set_release(&cache->items[i].matchers);
    free(cache->items);
    memset(cache, 0, sizeof(*cache));
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct alert_label *)a)->name, ((const struct alert_label *)b)->name);
}

/*
 * The id of the first silence that matches the event, or 0. Besides the
 * alert's own labels, silences may match the synthetic labels
 * opsbell_service and opsbell_team (unless the alert has labels of those
 * names), so that alerts without labels can be silenced by service.
 */
int64_t silence_match(const struct silence_cache *cache, const struct alert_event *ev,
                      const struct config_service *svc)
{
    struct alert_label labels[ALERT_MAX_LABELS + 2];
    size_t n = ev->label_count;

    if (cache->count == 0)
        return 0;
    if (n > 0)
        memcpy(labels, ev->labels, n * sizeof(labels[0]));
    if (svc != NULL) {
        if (alert_label_get(ev->labels, ev->label_count, "opsbell_service") == NULL)
            labels[n++] = (struct alert_label){"opsbell_service", svc->name};
        if (alert_label_get(ev->labels, ev->label_count, "opsbell_team") == NULL)
            labels[n++] = (struct alert_label){"opsbell_team", svc->team->name};
        qsort(labels, n, sizeof(labels[0]), label_cmp);
    }
    for (size_t i = 0; i < cache->count; i++) {
        if (matcher_set_matches(&cache->items[i].matchers, labels, n))
            return cache->items[i].id;
    }
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static char *labels_json(const struct alert_label *labels, size_t count)
{
    json_t *obj = json_object();
    char *text;

    for (size_t i = 0; i < count; i++)
        json_object_set_new(obj, labels[i].name, json_string(labels[i].value));
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    return text;
}

static int timeline(const struct apply_ctx *ctx, int64_t incident_id, const char *kind,
                    const char *actor, const char *message, struct ob_error *err)
{
    struct incident_event ev = {
        .incident_id = incident_id,
        .at_ms = ctx->now_ms,
        .kind = (char *)kind,
        .actor = (char *)actor,
        .message = (char *)message,
    };

    return store_incident_event_append(ctx->conn, &ev, err);
}

/* Remember that this commit makes something due at due_ms (the engine is
 * hinted after the commit). */
static void note_due(const struct apply_ctx *ctx, int64_t due_ms)
{
    if (ctx->earliest_due != NULL && due_ms != 0 &&
        (*ctx->earliest_due == 0 || due_ms < *ctx->earliest_due))
        *ctx->earliest_due = due_ms;
}

static void open_key(const struct config_service *svc, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s\n%s", svc != NULL ? svc->name : UNROUTABLE_PREFIX, key);
}

/* ---- the three actions --------------------------------------------------------- */

static int apply_new_alert(const struct apply_ctx *ctx, const struct alert_event *ev,
                           const struct config_service *svc, const char *alert_open_key,
                           int64_t silenced_by, struct ingest_result *result, struct ob_error *err)
{
    struct alert_row row = {0};
    struct incident inc = {0};
    char *labels = labels_json(ev->labels, ev->label_count);
    char *annotations = labels_json(ev->annotations, ev->annotation_count);
    char incident_key[ALERT_DEDUP_KEY_MAX + 1], inc_open_key[ALERT_DEDUP_KEY_MAX + 80];
    int rc = 0;

    if (labels == NULL || annotations == NULL) {
        rc = ob_fail(err, OB_ENOMEM, "out of memory");
        goto out;
    }
    if (svc != NULL) {
        route_incident_key(svc, ev, incident_key, sizeof(incident_key));
        open_key(svc, incident_key, inc_open_key, sizeof(inc_open_key));
        rc = store_incident_find_open(ctx->conn, inc_open_key, &inc, err);
        if (rc == OB_ENOTFOUND) {
            incident_release(&inc);
            inc.service = svc->name;
            inc.team = svc->team->name;
            inc.incident_key = incident_key;
            inc.summary = ev->summary;
            inc.severity = (char *)alert_severity_name(ev->severity);
            inc.silenced = silenced_by != 0;
            inc.created_at_ms = ctx->now_ms;
            inc.updated_at_ms = ctx->now_ms;
            rc = store_incident_insert(ctx->conn, &inc, inc_open_key, err);
            if (rc == 0)
                rc = timeline(ctx, inc.id, "incident.triggered", ev->source_name, ev->summary, err);
            if (rc == 0 && !inc.silenced) {
                int started = 0;
                rc = engine_escalation_begin(ctx->conn, svc, inc.id, ctx->now_ms, &started, err);
                if (started)
                    note_due(ctx, ctx->now_ms);
            }
            result->outcome = INGEST_CREATED;
            /* The strings above are borrowed: forget them before release. */
            inc.service = inc.team = inc.incident_key = inc.summary = inc.severity = NULL;
        } else if (rc == 0) {
            result->outcome = INGEST_ATTACHED;
            rc = timeline(ctx, inc.id, "alert.attached", ev->source_name, ev->summary, err);
        }
        if (rc != 0)
            goto out;
    } else {
        result->outcome = INGEST_UNROUTABLE;
    }

    row.incident_id = inc.id;
    row.service = svc != NULL ? svc->name : NULL;
    row.source = (char *)alert_source_name(ev->source);
    row.status = "firing";
    row.fingerprint = (char *)ev->fingerprint;
    row.dedup_key = ev->dedup_key;
    row.summary = ev->summary;
    row.severity = (char *)alert_severity_name(ev->severity);
    row.labels = labels;
    row.annotations = annotations;
    row.details = ev->details_json;
    row.source_name = ev->source_name;
    row.generator_url = ev->generator_url;
    row.starts_at_ms = ev->starts_at_ms != 0 ? ev->starts_at_ms : ctx->now_ms;
    row.ends_at_ms = ev->ends_at_ms;
    row.received_at_ms = ctx->now_ms;
    row.updated_at_ms = ctx->now_ms;
    row.event_count = 1;
    row.silenced_by = silenced_by;
    rc = store_alert_insert(ctx->conn, &row, alert_open_key, err);
    if (rc != 0)
        goto out;
    result->alert_id = row.id;
    result->incident_id = inc.id;
    if (inc.id != 0)
        rc = store_incident_count_alerts(ctx->conn, inc.id, 1, 1, ctx->now_ms, NULL, err);
out:
    incident_release(&inc);
    free(labels);
    free(annotations);
    return rc;
}

/* Count one repeat on incident_id, to be written by apply_flush_counts. */
static int pending_add(struct pending_counts *p, int64_t incident_id, struct ob_error *err)
{
    for (size_t i = 0; i < p->count; i++) {
        if (p->items[i].incident_id == incident_id) {
            p->items[i].alerts++;
            return 0;
        }
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        struct pending_count *n = realloc(p->items, cap * sizeof(*n));
        if (n == NULL)
            return ob_fail(err, OB_ENOMEM, "out of memory");
        p->items = n;
        p->cap = cap;
    }
    p->items[p->count++] = (struct pending_count){incident_id, 1};
    return 0;
}

int apply_flush_counts(const struct apply_ctx *ctx, struct ob_error *err)
{
    int rc = 0;

    for (size_t i = 0; i < ctx->pending->count && rc == 0; i++)
        rc = store_incident_count_alerts(ctx->conn, ctx->pending->items[i].incident_id,
                                         ctx->pending->items[i].alerts, 0, ctx->now_ms, NULL, err);
    ctx->pending->count = 0;
    return rc;
}

static int apply_trigger(const struct apply_ctx *ctx, const struct alert_event *ev,
                         const struct config_service *svc, const char *alert_open_key,
                         struct ingest_result *result, struct ob_error *err)
{
    int64_t silenced_by = silence_match(ctx->silences, ev, svc);
    int64_t alert_id = 0, incident_id = 0;
    char *annotations = labels_json(ev->annotations, ev->annotation_count);
    int rc;

    result->silenced = silenced_by != 0;
    if (annotations == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    note_due(ctx, ev->ends_at_ms); /* the alert expires then unless refreshed */
    /* The common case, a repeat of a firing alert, is one statement. */
    rc = store_alert_refresh_by_key(ctx->conn, alert_open_key, ev->summary, annotations,
                                    ev->ends_at_ms, silenced_by, ctx->now_ms, &alert_id,
                                    &incident_id, err);
    free(annotations);
    if (rc == OB_ENOTFOUND) {
        ob_error_clear(err);
        return apply_new_alert(ctx, ev, svc, alert_open_key, silenced_by, result, err);
    }
    if (rc != 0)
        return rc;
    if (incident_id != 0)
        rc = pending_add(ctx->pending, incident_id, err);
    result->outcome = incident_id != 0 ? INGEST_DEDUPLICATED : INGEST_UNROUTABLE;
    result->alert_id = alert_id;
    result->incident_id = incident_id;
    return rc;
}

static int apply_resolve(const struct apply_ctx *ctx, const struct alert_event *ev,
                         const struct config_service *svc, const char *alert_open_key,
                         struct ingest_result *result, struct ob_error *err)
{
    struct alert_row row = {0};
    int64_t open_after = 0;
    int rc;

    rc = store_alert_find_firing(ctx->conn, alert_open_key, &row, err);
    if (rc == OB_ENOTFOUND) {
        result->outcome = INGEST_IGNORED;
        snprintf(result->message, sizeof(result->message), "no firing alert with that key");
        alert_row_release(&row);
        return 0;
    }
    if (rc != 0)
        goto out;
    result->alert_id = row.id;
    result->incident_id = row.incident_id;
    result->outcome = INGEST_RESOLVED;
    rc = store_alert_resolve(
        ctx->conn, row.id,
        ev->ends_at_ms != 0 && ev->ends_at_ms <= ctx->now_ms ? ev->ends_at_ms : ctx->now_ms, err);
    if (rc != 0 || row.incident_id == 0)
        goto out;
    rc = store_incident_count_alerts(ctx->conn, row.incident_id, 0, -1, ctx->now_ms, &open_after,
                                     err);
    if (rc == 0)
        rc = timeline(ctx, row.incident_id, "alert.resolved", ev->source_name, row.summary, err);
    if (rc != 0 || open_after > 0 || svc == NULL || !svc->auto_resolve)
        goto out;
    rc = store_incident_set_status(ctx->conn, row.incident_id, "resolved", "auto-resolve",
                                   ctx->now_ms, err);
    if (rc == OB_ECONFLICT) { /* resolved by a person already: nothing to do */
        ob_error_clear(err);
        rc = 0;
        goto out;
    }
    if (rc == 0)
        rc = timeline(ctx, row.incident_id, "incident.resolved", "auto-resolve",
                      "every alert resolved", err);
out:
    alert_row_release(&row);
    return rc;
}

static int apply_acknowledge(const struct apply_ctx *ctx, const struct alert_event *ev,
                             const char *alert_open_key, struct ingest_result *result,
                             struct ob_error *err)
{
    struct alert_row row = {0};
    char actor[160];
    int rc;

    rc = store_alert_find_firing(ctx->conn, alert_open_key, &row, err);
    if (rc == OB_ENOTFOUND || (rc == 0 && row.incident_id == 0)) {
        result->outcome = INGEST_IGNORED;
        snprintf(result->message, sizeof(result->message), "no open incident for that key");
        alert_row_release(&row);
        ob_error_clear(err);
        return 0;
    }
    if (rc != 0)
        goto out;
    result->alert_id = row.id;
    result->incident_id = row.incident_id;
    result->outcome = INGEST_ACKNOWLEDGED;
    snprintf(actor, sizeof(actor), "%s:%s", alert_source_name(ev->source),
             ev->source_name != NULL ? ev->source_name : "unknown");
    rc = store_incident_set_status(ctx->conn, row.incident_id, "acknowledged", actor, ctx->now_ms,
                                   err);
    if (rc == OB_ECONFLICT) { /* already acknowledged or resolved */
        ob_error_clear(err);
        rc = 0;
        goto out;
    }
    if (rc == 0)
        rc = timeline(ctx, row.incident_id, "incident.acknowledged", actor, NULL, err);
out:
    alert_row_release(&row);
    return rc;
}

int apply_event(const struct apply_ctx *ctx, const struct alert_event *ev,
                struct ingest_result *result, struct ob_error *err)
{
    struct route_decision route;
    char key[ALERT_DEDUP_KEY_MAX + 1], alert_open_key[ALERT_DEDUP_KEY_MAX + 80];
    int rc;

    memset(result, 0, sizeof(*result));
    rc = route_event(ctx->cfg, ev, &route, err);
    if (rc != 0)
        return rc;
    route_alert_key(ev, key, sizeof(key));
    snprintf(result->dedup_key, sizeof(result->dedup_key), "%s", key);
    if (route.service != NULL)
        snprintf(result->service, sizeof(result->service), "%s", route.service->name);
    open_key(route.service, key, alert_open_key, sizeof(alert_open_key));

    switch (ev->action) {
    case ALERT_TRIGGER:
        return apply_trigger(ctx, ev, route.service, alert_open_key, result, err);
    case ALERT_RESOLVE:
        return apply_resolve(ctx, ev, route.service, alert_open_key, result, err);
    case ALERT_ACKNOWLEDGE:
        return apply_acknowledge(ctx, ev, alert_open_key, result, err);
    }
    return ob_fail(err, OB_EINVAL, "unknown event action");
}
