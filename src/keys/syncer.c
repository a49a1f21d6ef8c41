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
#include "util/periodic.h"

#include <stdio.h>
#include <stdlib.h>

#define SYNCER_IDLE_S 30 /* without a keys: section, look again this often */

struct keys_syncer {
    keys_config_fn get_config;
    void *ctx;
    struct periodic *thread;
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

/* One sync (when the configuration has a keys: section); the wait before the next. */
static unsigned syncer_run(void *arg, const volatile int *stopping)
{
    struct keys_syncer *s = arg;
    struct config *cfg = s->get_config(s->ctx);
    unsigned wait_s = SYNCER_IDLE_S;

    if (cfg != NULL && cfg->keys.enabled) {
        struct keys_sync_report r;
        struct ob_error err = {0};
        wait_s = cfg->keys.sync_interval_seconds;
        if (keys_sync_cancelable(cfg, stopping, &r, &err) == 0)
            syncer_log(&r);
        else if (!*stopping)
            log_error("keys", "keys sync failed; the previous cache stays in force", "error",
                      err.msg);
        keys_sync_report_release(&r);
    }
    config_unref(cfg);
    return wait_s;
}

int keys_syncer_start(keys_config_fn get_config, void *ctx, struct keys_syncer **out,
                      struct ob_error *err)
{
    struct keys_syncer *s = calloc(1, sizeof(*s));
    int rc;

    *out = NULL;
    if (s == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    s->get_config = get_config;
    s->ctx = ctx;
    rc = periodic_start(syncer_run, s, "keys sync", &s->thread, err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void keys_syncer_stop(struct keys_syncer *s)
{
    if (s == NULL)
        return;
    periodic_stop(s->thread);
    free(s);
}
