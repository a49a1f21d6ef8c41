/*
 * syncer.c - `opsbell serve`'s keys sync thread: keys_sync every
 * keys.sync_interval, on a thread of its own because a fetch waits on the
 * network (libgit2 is blocking).  The thread owns nothing but its timing;
 * the configuration is taken anew (a reference) before each sync.
 */
#include "keys/keys.h"

#include "config/config.h"
#include "util/error.h"
#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SYNCER_IDLE_S 30 /* without a keys: section, look again this often */

struct keys_syncer {
    keys_config_fn get_config;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    volatile int stopping;
};

static void syncer_log(const struct keys_sync_report *r)
{
    char users[32], keys[32], added[32], removed[32];

    for (size_t i = 0; i < r->problem_count; i++)
        log_warn("keys", "key problem", "problem", r->problems[i].message);
    for (size_t i = 0; i < r->added.count; i++)
        log_info("keys", "key added", "user", r->added.items[i].user, "key", r->added.items[i].key);
    for (size_t i = 0; i < r->removed.count; i++)
        log_info("keys", "key removed", "user", r->removed.items[i].user, "key",
                 r->removed.items[i].key);
    snprintf(users, sizeof(users), "%zu", r->users);
    snprintf(keys, sizeof(keys), "%zu", r->keys);
    snprintf(added, sizeof(added), "%zu", r->added.count);
    snprintf(removed, sizeof(removed), "%zu", r->removed.count);
    if (r->added.count > 0 || r->removed.count > 0)
        log_info("keys", "keys synced", "commit", r->commit, "users", users, "keys", keys, "added",
                 added, "removed", removed);
    else
        log_debug("keys", "keys synced", "commit", r->commit, "users", users, "keys", keys);
}

static void *syncer_main(void *arg)
{
    struct keys_syncer *s = arg;

    while (!s->stopping) {
        struct config *cfg = s->get_config(s->ctx);
        unsigned wait_s = SYNCER_IDLE_S;
        struct timespec until;

        if (cfg != NULL && cfg->keys.enabled) {
            struct keys_sync_report r;
            struct ob_error err = {0};
            wait_s = cfg->keys.sync_interval_seconds;
            if (keys_sync_cancelable(cfg, &s->stopping, &r, &err) == 0)
                syncer_log(&r);
            else if (!s->stopping)
                log_error("keys", "keys sync failed; the previous cache stays in force", "error",
                          err.msg);
            keys_sync_report_release(&r);
        }
        config_unref(cfg);

        pthread_mutex_lock(&s->lock);
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_s;
        while (!s->stopping) {
            if (pthread_cond_timedwait(&s->wake, &s->lock, &until) != 0)
                break; /* timed out: sync again */
        }
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

int keys_syncer_start(keys_config_fn get_config, void *ctx, struct keys_syncer **out,
                      struct ob_error *err)
{
    struct keys_syncer *s = calloc(1, sizeof(*s));
    pthread_condattr_t attr;

    *out = NULL;
    if (s == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    s->get_config = get_config;
    s->ctx = ctx;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&s->thread, NULL, syncer_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return ob_fail(err, OB_EINTERNAL, "cannot start the keys sync thread");
    }
    *out = s;
    return 0;
}

void keys_syncer_stop(struct keys_syncer *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
