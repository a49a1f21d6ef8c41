/*
 * route.c - which service an alert belongs to, and the keys that identify it
 * (one alert) and group it (one incident).
 */
#include "ingest/ingest.h"

#include "config/config.h"
#include "ingest/matcher.h"
#include "util/error.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int route_event(const struct config *cfg, const struct alert_event *ev, struct route_decision *out,
                struct ob_error *err)
{
    out->service = NULL;
    out->reason = "unroutable: no service matched";
    if (ev->integration_key != NULL) {
        out->service = config_find_service_by_key(cfg, ev->integration_key);
        if (out->service == NULL)
            return ob_fail(err, OB_ENOTFOUND, "unknown integration key");
        out->reason = "integration key";
        return 0;
    }
    if (ev->service != NULL) {
        out->service = config_find_service(cfg, ev->service);
        if (out->service == NULL)
            return ob_fail(err, OB_ENOTFOUND, "no service named '%s'", ev->service);
        out->reason = "service";
        return 0;
    }
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned s = 0; s < team->service_count; s++) {
            const struct config_service *svc = &team->services[s];
            if (svc->match.count > 0 &&
                matcher_set_matches(&svc->match, ev->labels, ev->label_count)) {
                out->service = svc;
                out->reason = "matchers";
                return 0;
            }
        }
    }
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        if (team->fallback_service != NULL && team->match.count > 0 &&
            matcher_set_matches(&team->match, ev->labels, ev->label_count)) {
            out->service = team->fallback_service;
            out->reason = "team fallback";
            return 0;
        }
    }
    return 0;
}

void route_alert_key(const struct alert_event *ev, char *out, size_t cap)
{
    snprintf(out, cap, "%s", ev->dedup_key != NULL ? ev->dedup_key : ev->fingerprint);
}

void route_incident_key(const struct config_service *svc, const struct alert_event *ev, char *out,
                        size_t cap)
{
    struct alert_label subset[ALERT_MAX_LABELS];
    size_t n = 0;

    if (ev->dedup_key != NULL || svc == NULL || svc->dedup_label_count == 0) {
        route_alert_key(ev, out, cap);
        return;
    }
    /* Labels stay sorted: the event's labels are, and we keep their order. */
    for (size_t i = 0; i < ev->label_count; i++) {
        for (unsigned d = 0; d < svc->dedup_label_count; d++) {
            if (strcmp(ev->labels[i].name, svc->dedup_labels[d]) == 0) {
                subset[n++] = ev->labels[i];
                break;
            }
        }
    }
    {
        char fp[17];
        alert_fingerprint(subset, n, fp);
        snprintf(out, cap, "%s", fp);
    }
}

void route_prepare_event(struct alert_event *ev)
{
    if (ev->dedup_key != NULL)
        return;
    if (ev->source == SOURCE_PAGERDUTY && ev->action == ALERT_TRIGGER) {
        /* PagerDuty generates a key for a trigger without one: each such
         * trigger is a new alert, and the key is returned to the sender. */
        unsigned char raw[16];
        char key[33];
        if (RAND_bytes(raw, sizeof(raw)) == 1) {
            for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(key + 2 * i, 3, "%02x", raw[i]);
            ev->dedup_key = strdup(key);
        }
        return;
    }
    if (ev->source == SOURCE_GENERIC && ev->label_count == 0) {
        /* Without labels, identical summaries are the same alert. */
        struct alert_label summary = {"summary", ev->summary};
        alert_fingerprint(&summary, 1, ev->fingerprint);
    }
}
