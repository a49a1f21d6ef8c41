/*
 * agent_apply.c - make this host match a state: the nftables enforcer, the
 * authorized-keys cache, the TrustedUserCAKeys and RevokedKeys files.
 *
 * Every part is declarative and idempotent, so applying the same state
 * again is how the agent repairs the host (an `nft flush ruleset`, a file
 * removed by hand, a reboot).  Files are compared first and rewritten only
 * when they differ, so a poll that changes nothing writes nothing.
 */
#include "agent/agent.h"

#include "keys/keys.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct agent_applier {
    const struct agent_config *cfg;
    const struct enforcer *enf; /* NULL without an nftables: section */
    void *enf_ctx;
};

int agent_applier_new(const struct agent_config *cfg, struct agent_applier **out,
                      struct ob_error *err)
{
    struct agent_applier *ap = calloc(1, sizeof(*ap));
    struct config view;
    int rc;

    *out = NULL;
    if (ap == NULL)
        return ob_fail(err, OB_ENOMEM, "out of memory");
    ap->cfg = cfg;
    if (cfg->nftables.enabled) {
        agent_config_enforcer_view(cfg, &view);
        rc = enforcer_nftables.create(&view, &ap->enf_ctx, err);
        if (rc != 0) {
            free(ap);
            return rc;
        }
        ap->enf = &enforcer_nftables;
    }
    *out = ap;
    return 0;
}

void agent_applier_free(struct agent_applier *ap)
{
    if (ap == NULL)
        return;
    if (ap->enf != NULL)
        ap->enf->destroy(ap->enf_ctx); /* never flush: the kernel's timeouts close access */
    free(ap);
}

/* 1 when the cache file at path holds exactly want (in cache order). */
static int keys_cache_same(const char *path, const struct keys_entries *want)
{
    struct keys_entries have = {0};
    int same;

    if (keys_cache_read(path, &have, NULL) != 0) {
        keys_entries_release(&have);
        return 0;
    }
    same = have.count == want->count;
    for (size_t i = 0; same && i < have.count; i++)
        same = strcmp(have.items[i].user, want->items[i].user) == 0 &&
               strcmp(have.items[i].key, want->items[i].key) == 0;
    keys_entries_release(&have);
    return same;
}

static int apply_keys(struct agent_applier *ap, const struct agent_state *st, struct ob_error *err)
{
    struct keys_entries want = {0};
    char path[4096];
    int rc;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", ap->cfg->keys_cache_dir, KEYS_CACHE_NAME) >=
        sizeof(path))
        return ob_fail(err, OB_EINVAL, "keys.cache_dir is too long");
    rc = agent_mkdirs(ap->cfg->keys_cache_dir, 0755, err);
    if (rc != 0)
        return rc;
    /* st->keys is in the cache's order already (agent_state_parse sorts). */
    for (size_t i = 0; i < st->key_count; i++) {
        if (keys_entries_add(&want, st->keys[i].login, st->keys[i].line) != 0) {
            keys_entries_release(&want);
            return ob_fail(err, OB_ENOMEM, "out of memory");
        }
    }
    rc = keys_cache_same(path, &want) ? 0 : keys_cache_write(path, &want, err);
    keys_entries_release(&want);
    return rc;
}

static int apply_file(const char *path, const void *data, size_t len, struct ob_error *err)
{
    if (agent_file_equals(path, data, len))
        return 0;
    return agent_write_file(path, data, len, 0644, err);
}

static void keep_first(int *first, struct ob_error *err, int rc, const struct ob_error *sub,
                       const char *part)
{
    if (rc == 0 || *first != 0)
        return;
    *first = rc;
    if (part != NULL && strncmp(sub->msg, part, strlen(part)) != 0)
        ob_fail(err, rc, "%s: %s", part, sub->msg);
    else
        ob_fail(err, rc, "%s", sub->msg);
}

int agent_apply(struct agent_applier *ap, const struct agent_state *st, int64_t now_ms,
                const char ***applied, size_t *applied_count, struct ob_error *err)
{
    const char **ids = NULL;
    struct ob_error sub;
    size_t n = 0;
    int first = 0, rc;

    *applied = NULL;
    *applied_count = 0;
    if (ap->enf != NULL) {
        ob_error_clear(&sub);
        rc = ap->enf->apply(ap->enf_ctx, st->entries, st->entry_count, now_ms, &sub);
        keep_first(&first, err, rc, &sub, "nftables");
        if (rc == 0 && st->entry_count > 0) {
            ids = calloc(st->entry_count, sizeof(*ids));
            if (ids == NULL)
                return ob_fail(err, OB_ENOMEM, "out of memory");
            for (size_t i = 0; i < st->entry_count; i++) {
                if (st->entries[i].expires_at_ms > now_ms)
                    ids[n++] = st->entries[i].id;
            }
        }
    }
    ob_error_clear(&sub);
    rc = apply_keys(ap, st, &sub);
    keep_first(&first, err, rc, &sub, "keys cache");
    if (ap->cfg->trusted_user_ca_keys != NULL) {
        char *line = NULL;
        size_t len = 0;

        if (st->ssh_ca != NULL) {
            len = strlen(st->ssh_ca) + 1;
            line = malloc(len + 1);
            if (line == NULL) {
                free(ids);
                return ob_fail(err, OB_ENOMEM, "out of memory");
            }
            snprintf(line, len + 1, "%s\n", st->ssh_ca);
        }
        ob_error_clear(&sub);
        rc = apply_file(ap->cfg->trusted_user_ca_keys, line != NULL ? line : "", len, &sub);
        keep_first(&first, err, rc, &sub, "ssh.trusted_user_ca_keys");
        free(line);
    }
    if (ap->cfg->revoked_keys != NULL) {
        ob_error_clear(&sub);
        rc = apply_file(ap->cfg->revoked_keys, st->krl != NULL ? (const void *)st->krl : "",
                        st->krl_len, &sub);
        keep_first(&first, err, rc, &sub, "ssh.revoked_keys");
    }
    if (n == 0) {
        free(ids);
        ids = NULL;
    }
    *applied = ids;
    *applied_count = n;
    return first;
}
