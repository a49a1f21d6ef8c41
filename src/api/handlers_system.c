/* handlers_system.c - /healthz, /metrics, whoami and configuration reload. */
#include "api/api.h"
#include "opsbell_version.h"

#include "access/accesslogs.h"
#include "config/config.h"
#include "daemon/app.h"
#include "engine/engine.h"
#include "ingest/ingest.h"
#include "metrics/metrics.h"
#include "notify/notify.h"
#include "store/store.h"
#include "util/error.h"
#include "util/strbuf.h"

#include <string.h>

void api_healthz(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct ob_error err = {0};
    int version = 0;
    int rc = store_ping(app->store, &err);

    if (rc == 0)
        rc = store_schema_version(app->store, &version, &err);
    if (rc != 0) {
        api_reply_json(resp, 503,
                       json_pack("{s:s, s:s, s:s}", "status", "unavailable", "store",
                                 store_driver_name(app->store), "error", err.msg));
        return;
    }
    api_reply_json(resp, 200,
                   json_pack("{s:s, s:s, s:i, s:s, s:I}", "status", "ok", "store",
                             store_driver_name(app->store), "schema_version", version, "version",
                             OPSBELL_VERSION, "uptime_seconds",
                             (json_int_t)((store_now_ms() - app->started_ms) / 1000)));
}

static void render_ingest_metrics(struct ingest *ingest, struct strbuf *out)
{
    struct ingest_stats st;

    ingest_get_stats(ingest, &st);
    strbuf_addf(out, "# HELP opsbell_ingest_events_total Alert events committed, by outcome.\n"
                     "# TYPE opsbell_ingest_events_total counter\n");
    for (int o = 0; o <= INGEST_UNROUTABLE; o++)
        strbuf_addf(out, "opsbell_ingest_events_total{outcome=\"%s\"} %llu\n",
                    ingest_outcome_name((enum ingest_outcome)o),
                    (unsigned long long)st.by_outcome[o]);
    strbuf_addf(out,
                "opsbell_ingest_events_total{outcome=\"failed\"} %llu\n"
                "# HELP opsbell_ingest_commits_total Transactions committed by the alert writer "
                "(events / commits = the group-commit factor).\n"
                "# TYPE opsbell_ingest_commits_total counter\n"
                "opsbell_ingest_commits_total %llu\n",
                (unsigned long long)st.failed_events, (unsigned long long)st.commits);
}

void api_metrics(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct strbuf out = STRBUF_INIT;
    size_t len;
    char *text;

    metrics_render(app->metrics, &out);
    render_ingest_metrics(app->ingest, &out);
    engine_render_metrics(app->engine, &out);
    dispatcher_render_metrics(app->dispatcher, &out);
    accesslogs_render_metrics(&out);
    text = strbuf_detach(&out, &len);
    http_response_take(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void api_whoami(void *app, struct http_request *req, struct http_response *resp)
{
    const struct auth_principal *p = api_principal(req);

    api_reply_json(resp, 200,
                   json_pack("{s:I, s:s, s:s, s:s?}", "token_id", (json_int_t)p->token_id, "name",
                             p->name, "scope", token_scope_name(p->scope), "team",
                             p->team[0] != '\0' ? p->team : NULL));
}

void api_config_reload(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct config_diags diags = {0};
    struct audit_origin origin = api_origin(req);
    json_t *errors;
    int rc;

    rc = app_reload_config(app, &origin, &diags);
    if (rc == 0) {
        api_reply_json(resp, 200, json_pack("{s:s}", "status", "reloaded"));
        goto out;
    }
    errors = json_array();
    for (size_t i = 0; i < diags.count; i++) {
        const struct config_diag *d = &diags.items[i];
        /* A whole-file problem has no position: report the file's start, as check-config does. */
        json_array_append_new(errors, json_pack("{s:s, s:i, s:i, s:s}", "file", d->file, "line",
                                                d->line ? (int)d->line : 1, "column",
                                                d->col ? (int)d->col : 1, "message", d->message));
    }
    api_reply_json(resp, 422,
                   json_pack("{s:s, s:o}", "error",
                             "the new configuration is invalid; the old one stays in force",
                             "errors", errors));
out:
    config_diags_release(&diags);
}
