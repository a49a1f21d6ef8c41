/*
 * serve.c - `opsbell serve`: load the configuration, open the store, start
 * the HTTP server and wait for signals (SIGHUP reloads, SIGINT/SIGTERM stop).
 *
 * Signals are blocked in every thread and taken synchronously with
 * sigwait() by the main thread, so no work ever runs in a signal handler.
 */
#include "daemon/serve.h"
#include "opsbell_version.h"

#include "access/accesslogs.h"
#include "access/aws_sync.h"
#include "api/api.h"
#include "config/config.h"
#include "daemon/app.h"
#include "enforce/aws.h"
#include "engine/engine.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "keys/keys.h"
#include "metrics/metrics.h"
#include "notify/breakglass_chat.h"
#include "notify/notify.h"
#include "notify/provider_sip.h"
#include "store/store.h"
#include "util/error.h"
#include "util/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void format_url(const char *host, uint16_t port, char *out, size_t cap)
{
    if (strchr(host, ':') != NULL)
        snprintf(out, cap, "http://[%s]:%u", host, (unsigned)port);
    else
        snprintf(out, cap, "http://%s:%u", host, (unsigned)port);
}

static struct config *serve_config_get(void *ctx)
{
    return app_config_get(ctx);
}

/* This process's name in the rows it claims: OPSBELL_NODE_ID, else
 * hostname:pid (which changes with every restart). */
static void serve_node_name(char *out, size_t cap)
{
    const char *given = getenv("OPSBELL_NODE_ID");
    char host[64] = "localhost";

    if (given != NULL && given[0] != '\0') {
        snprintf(out, cap, "%s", given);
        return;
    }
    gethostname(host, sizeof(host) - 1);
    snprintf(out, cap, "%s:%ld", host, (long)getpid());
}

/* The ingest writer made something due (an escalation, an alert's end):
 * wake the engine for it. */
static void serve_due_hint(void *ctx, int64_t due_ms)
{
    struct app *app = ctx;

    engine_hint(app->engine, due_ms);
}

static int wait_for_signals(struct app *app, const sigset_t *set)
{
    static const struct audit_origin sighup_origin = {"signal:SIGHUP", "local", NULL};

    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("config", "SIGHUP received; reloading", "file", app->config_path);
            app_reload_config(app, &sighup_origin, NULL);
            continue;
        }
        log_info("daemon", "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
        return 0;
    }
}

int serve_run(const char *config_path, const char *listen_override)
{
    struct app app = {0};
    struct config_diags diags = {0};
    struct http_server_options opts = {0};
    struct ob_error err = {0};
    struct config *cfg = NULL;
    struct keys_syncer *keys_syncer = NULL;
    struct accesslogs_poller *access_logs = NULL;
    struct aws_sweeper *aws_sweeper = NULL;
    struct aws_sync *aws_sync = NULL;
    sigset_t set;
    char url[128], node[128];
    int rc = 1;

    if (config_load(config_path, &cfg, &diags) != 0) {
        config_diags_print(&diags, stderr);
        fprintf(stderr, "opsbell: configuration %s is invalid; not starting\n", config_path);
        config_diags_release(&diags);
        return 1;
    }
    log_set_level(cfg->log_level);

    /* Block the signals before any thread starts so that every thread inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_mutex_init(&app.config_lock, NULL);
    app.config = cfg;
    app.config_path = strdup(config_path);
    app.started_ms = store_now_ms();
    if (app.config_path == NULL)
        goto out;

    if (store_open(cfg->storage_url, cfg->http_threads + 3, &app.store, &err) != 0) {
        log_error("store", "cannot open the store", "error", err.msg);
        goto out;
    }
    {
        struct ingest_options iopts = {
            .store = app.store,
            .get_config = serve_config_get,
            .config_ctx = &app,
            .due_hint = serve_due_hint,
            .hint_ctx = &app,
        };
        if (ingest_start(&iopts, &app.ingest, &err) != 0) {
            log_error("ingest", "cannot start the alert pipeline", "error", err.msg);
            goto out;
        }
    }
    serve_node_name(node, sizeof(node));
    /* The SIP agent before the dispatcher, which may place a call at once. */
    if (provider_sip_start(&app, &err) != 0) {
        log_error("sip", "cannot start the SIP agent", "error", err.msg);
        goto out;
    }
    if (dispatcher_start(&app, node, &app.dispatcher, &err) != 0) {
        log_error("notify", "cannot start the dispatcher", "error", err.msg);
        goto out;
    }
    if (engine_start(&app, node, &app.engine, &err) != 0) {
        log_error("engine", "cannot start the engine", "error", err.msg);
        goto out;
    }
    if (keys_syncer_start(serve_config_get, &app, &keys_syncer, &err) != 0) {
        log_error("keys", "cannot start the keys sync thread", "error", err.msg);
        goto out;
    }
    /* The security group follows the grants (aws_sync.h); the sweeper closes
     * expired opsbell rules, also those of a crashed run or another node. */
    if (cfg->enforcers.aws.enabled) {
        const struct config_enforcer_aws *a = &cfg->enforcers.aws;
        struct aws_params ap = {
            .region = a->region,
            .security_group_id = a->security_group_id,
            .endpoint = a->endpoint,
            .access_key_id = a->access_key_id,
            .secret_access_key = a->secret_access_key.value,
            .secret_access_key_len = a->secret_access_key.len,
            .session_token = a->session_token.value,
            .port = a->port,
        };
        if (aws_sweeper_start(&ap, a->sweep_interval_s, &aws_sweeper, &err) != 0) {
            log_error("aws", "cannot start the AWS sweeper", "error", err.msg);
            goto out;
        }
        if (aws_sync_start(app.store, serve_config_get, &app, AWS_SYNC_INTERVAL_S, &aws_sync,
                           &err) != 0) {
            log_error("aws", "cannot start the AWS sync thread", "error", err.msg);
            goto out;
        }
    }
    /* Grants' events go to the team's Slack channel (queued, never blocking). */
    breakglass_chat_install(&app);
    if (accesslogs_start(&app, &access_logs, &err) != 0) {
        log_error("allowlist", "cannot start the slack access logs poller", "error", err.msg);
        goto out;
    }
    app.router = router_new(api_routes, api_route_count);
    app.metrics = app.router != NULL ? metrics_new(app.router) : NULL;
    if (app.metrics == NULL) {
        log_error("daemon", "out of memory");
        goto out;
    }

    opts.host = cfg->listen_host;
    opts.port = cfg->listen_port;
    if (listen_override != NULL) {
        /* A "host:port" given on the command line wins over the file. */
        static char host_buf[64];
        const char *colon = strrchr(listen_override, ':');
        char *end = NULL;
        long port;
        if (colon == NULL || (size_t)(colon - listen_override) >= sizeof(host_buf)) {
            fprintf(stderr, "opsbell: --listen must be HOST:PORT\n");
            goto out;
        }
        port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end != '\0' || port < 0 || port > 65535) {
            fprintf(stderr, "opsbell: --listen must be HOST:PORT\n");
            goto out;
        }
        snprintf(host_buf, sizeof(host_buf), "%.*s", (int)(colon - listen_override),
                 listen_override);
        if (host_buf[0] == '[') { /* [::1]:8080 */
            memmove(host_buf, host_buf + 1, strlen(host_buf));
            host_buf[strcspn(host_buf, "]")] = '\0';
        }
        opts.host = host_buf;
        opts.port = (uint16_t)port;
    }
    opts.threads = cfg->http_threads;
    opts.max_body_bytes = cfg->max_body_bytes;
    opts.router = app.router;
    opts.dispatch = api_dispatch;
    opts.app = &app;
    opts.metrics = app.metrics;
    if (http_server_start(&opts, &app.http, &err) != 0) {
        log_error("http", "cannot start the HTTP server", "error", err.msg);
        goto out;
    }
    format_url(opts.host, http_server_port(app.http), url, sizeof(url));
    log_info("daemon", "listening", "url", url, "config", config_path, "version", OPSBELL_VERSION);
    rc = wait_for_signals(&app, &set);
out:
    /* Take no new connections, let the writer finish (it resumes every request
     * still waiting for a commit), then stop HTTP. */
    http_server_quiesce(app.http);
    ingest_stop(app.ingest); /* kept until nothing uses it (the engine, handlers) */
    engine_stop(app.engine);
    keys_syncer_stop(keys_syncer);
    accesslogs_stop(access_logs);
    aws_sync_stop(aws_sync);
    aws_sweeper_stop(aws_sweeper);
    /* Calls still up end here and report through the dispatcher. */
    provider_sip_stop(&app);
    dispatcher_stop(app.dispatcher);
    provider_sip_free(&app);
    http_server_stop(app.http);
    breakglass_chat_uninstall(); /* nothing notifies any more */
    ingest_free(app.ingest);
    metrics_free(app.metrics);
    router_free(app.router);
    store_close(app.store);
    config_unref(app.config);
    free(app.config_path);
    pthread_mutex_destroy(&app.config_lock);
    return rc;
}
