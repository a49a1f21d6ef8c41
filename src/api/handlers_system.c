/* handlers_system.c - /healthz, /metrics, whoami and configuration reload. */
#include "api/api.h"
#include "opsbell_version.h"

#include "config/config.h"
#include "daemon/app.h"
#include "metrics/metrics.h"
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

void api_metrics(void *app_ptr, struct http_request *req, struct http_response *resp)
{
    struct app *app = app_ptr;
    struct strbuf out = STRBUF_INIT;
    size_t len;
    char *text;

    metrics_render(app->metrics, &out);
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
