/* app.c - the configuration in force and its reload. */
#include "daemon/app.h"

#include "auth/auth.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "util/error.h"
#include "util/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct config *app_config_get(struct app *app)
{
    struct config *cfg;

    pthread_mutex_lock(&app->config_lock);
    cfg = config_ref(app->config);
    pthread_mutex_unlock(&app->config_lock);
    return cfg;
}

static void log_diags(const struct config_diags *diags)
{
    for (size_t i = 0; i < diags->count; i++) {
        const struct config_diag *d = &diags->items[i];
        char where[64];
        snprintf(where, sizeof(where), "%u:%u", d->line, d->col);
        log_error("config", "configuration error", "file", d->file, "position", where, "error",
                  d->message);
    }
}

/* Warn about settings that a reload cannot apply. */
static void warn_restart_only(const struct config *old, const struct config *new_cfg)
{
    if (strcmp(old->storage_url, new_cfg->storage_url) != 0)
        log_warn("config", "storage changed; it takes effect after a restart");
    if (strcmp(old->listen_host, new_cfg->listen_host) != 0 ||
        old->listen_port != new_cfg->listen_port)
        log_warn("config", "listen address changed; it takes effect after a restart");
    if (old->http_threads != new_cfg->http_threads ||
        old->max_body_bytes != new_cfg->max_body_bytes)
        log_warn("config", "http settings changed; they take effect after a restart");
}

int app_reload_config(struct app *app, const struct audit_origin *origin,
                      struct config_diags *diags_out)
{
    struct config_diags diags = {0};
    struct config *fresh = NULL, *old;
    char details[128];
    int rc;

    rc = config_load(app->config_path, &fresh, &diags);
    if (rc != 0) {
        log_diags(&diags);
        log_error("config", "reload refused; the previous configuration stays in force", "file",
                  app->config_path);
        metrics_observe_config_reload(app->metrics, false);
        snprintf(details, sizeof(details), "{\"result\":\"refused\",\"errors\":%zu}", diags.count);
        audit_record(app->store, origin, "config.reload", app->config_path, details, NULL);
        if (diags_out != NULL) {
            /* Hand the diagnostics over instead of copying them. */
            config_diags_release(diags_out);
            *diags_out = diags;
        } else {
            config_diags_release(&diags);
        }
        return OB_EINVAL;
    }
    pthread_mutex_lock(&app->config_lock);
    old = app->config;
    app->config = fresh;
    pthread_mutex_unlock(&app->config_lock);
    warn_restart_only(old, fresh);
    log_set_level(fresh->log_level);
    config_unref(old);
    metrics_observe_config_reload(app->metrics, true);
    audit_record(app->store, origin, "config.reload", app->config_path, "{\"result\":\"applied\"}",
                 NULL);
    log_info("config", "configuration reloaded", "file", app->config_path);
    config_diags_release(&diags);
    return 0;
}
