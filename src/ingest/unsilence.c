/*
 * unsilence.c - when a silence ends, the incidents it held start paging.
 *
 * An incident opened while silenced has no escalation.  Its alerts keep the
 * id of the silence that matched them (silenced_by).  Once that silence has
 * ended, each firing alert is matched again against the silences in force
 * (another silence may still cover it); when none of the incident's firing
 * alerts is silenced any more, the incident is unsilenced and its
 * escalation begins.  The engine runs this each round; the ends of the
 * silences involved are its due times.
 */
#include "ingest/ingest_internal.h"

#include "config/config.h"
#include "engine/engine.h"
#include "store/engine.h"
#include "store/incidents.h"
#include "util/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_LIMIT 200

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct alert_label *)a)->name, ((const struct alert_label *)b)->name);
}

/* The silence (or 0) that holds one stored alert now. */
static int64_t rematch(const struct silence_cache *cache, const char *labels_text,
                       const struct config_service *svc)
{
    struct alert_label labels[ALERT_MAX_LABELS];
    struct alert_event ev = {0};
    json_t *obj = json_loads(labels_text != NULL ? labels_text : "{}", 0, NULL);
    const char *name;
    json_t *value;
    int64_t id;

    if (obj == NULL)
        return 0;
    json_object_foreach(obj, name, value)
    {
        if (ev.label_count == ALERT_MAX_LABELS || !json_is_string(value))
            continue;
        labels[ev.label_count++] =
            (struct alert_label){(char *)name, (char *)json_string_value(value)};
    }
    qsort(labels, ev.label_count, sizeof(labels[0]), label_cmp);
    ev.labels = labels;
    id = silence_match(cache, &ev, svc);
    json_decref(obj);
    return id;
}

static int unsilence_one(struct store_conn *conn, const struct config *cfg,
                         const struct silence_cache *cache, int64_t incident_id,
                         const char *service, int64_t now_ms, int *started, struct ob_error *err)
{
    const struct config_service *svc = config_find_service(cfg, service);
    struct alert_filter filter = {.status = "firing", .incident_id = incident_id, .limit = 10000};
    struct alert_row *alerts = NULL;
    size_t count = 0;
    bool still_silenced = false;
    int rc, begun = 0;

    rc = store_alert_list(conn, &filter, &alerts, &count, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        int64_t by = rematch(cache, alerts[i].labels, svc);

        if (by != 0)
            still_silenced = true;
        if (by != alerts[i].silenced_by)
            rc = store_alert_set_silenced_by(conn, alerts[i].id, by, err);
    }
    alert_row_array_free(alerts, count);
    if (rc != 0 || still_silenced)
        return rc < 0 ? rc : 0;
    {
        struct incident_event ev = {.incident_id = incident_id,
                                    .at_ms = now_ms,
                                    .kind = "incident.unsilenced",
                                    .actor = "engine",
                                    .message = "the silence ended while its alerts still fire"};
        rc = store_incident_unsilence(conn, incident_id, now_ms, err);
        if (rc == 0)
            rc = store_incident_event_append(conn, &ev, err);
    }
    if (rc == 0) {
        struct escalation esc;
        rc = store_escalation_get(conn, incident_id, &esc, err);
        escalation_release(&esc);
        if (rc == OB_ENOTFOUND) { /* else an escalate request began it already */
            ob_error_clear(err);
            rc = engine_escalation_begin(conn, svc, incident_id, now_ms, &begun, err);
        }
    }
    *started += begun;
    return rc == 0 ? 1 : rc;
}

int ingest_silences_sweep(struct store_conn *conn, const struct config *cfg, int64_t now_ms,
                          int *started, int64_t *next_end_ms, struct ob_error *err)
{
    struct silence_cache cache = {0};
    struct incident *held = NULL;
    size_t count = 0;
    int rc, unsilenced = 0;

    *started = 0;
    *next_end_ms = 0;
    rc = store_incident_list_silence_ended(conn, now_ms, SWEEP_LIMIT, &held, &count, err);
    if (rc == 0 && count > 0)
        rc = silence_cache_load(conn, now_ms, &cache, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        int n = unsilence_one(conn, cfg, &cache, held[i].id, held[i].service, now_ms, started, err);
        if (n < 0)
            rc = n;
        else
            unsilenced += n;
    }
    incident_array_free(held, count);
    silence_cache_release(&cache);
    if (rc == 0)
        rc = store_silence_next_end_holding(conn, now_ms, next_end_ms, err);
    return rc == 0 ? unsilenced : rc;
}
