/*
 * app.h - the running daemon's shared state, handed to every HTTP handler.
 *
 * The configuration is swapped on reload: readers take a reference with
 * app_config_get() and drop it with config_unref() when their request is
 * done, so a reload never frees a configuration that is still being read.
 */
#ifndef OPSBELL_DAEMON_APP_H
#define OPSBELL_DAEMON_APP_H

#include <pthread.h>
#include <stdint.h>

struct audit_origin;
struct config;
struct config_diags;
struct dispatcher;
struct engine;
struct http_server;
struct ingest;
struct metrics;
struct router;
struct sip_agent;
struct sip_voice;
struct store;

struct app {
    char *config_path;             /* owned */
    struct store *store;           /* owned */
    struct metrics *metrics;       /* owned */
    struct router *router;         /* owned */
    struct http_server *http;      /* owned */
    struct ingest *ingest;         /* owned: the alert pipeline's writer */
    struct engine *engine;         /* owned: escalations, queueing notifications; NULL in tools */
    struct dispatcher *dispatcher; /* owned: delivers queued notifications; NULL in tools */
    struct sip_agent *sip_agent;   /* owned: the SIP user agent (sip/sip.h); NULL unless
                                      providers.sip was configured at start-up */
    struct sip_voice *sip_voice;   /* owned: the sip provider's key worker (provider_sip.h) */
    int64_t started_ms;

    pthread_mutex_t config_lock; /* guards config (the pointer, not its contents) */
    struct config *config;       /* one reference held by the app */
};

/* A new reference to the configuration in force. Never NULL while serving. */
struct config *app_config_get(struct app *app);

/*
 * Load the configuration file again. On success the new configuration
 * replaces the old one and 0 is returned; otherwise the old one stays in
 * force, the errors are logged (and appended to diags when not NULL) and
 * OB_EINVAL is returned. Either way the attempt is audited as
 * "config.reload" and counted in the metrics. Settings that need a restart
 * (listen, storage) are reported and left as they were.
 */
int app_reload_config(struct app *app, const struct audit_origin *origin,
                      struct config_diags *diags);

#endif
