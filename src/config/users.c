/*
 * users.c - checks of users.yaml (names, nicknames, time zones, chat ids,
 * contact methods, uniqueness) and the users of struct config they fill.
 */
#include "config/internal.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One user in a table sorted by name or nickname, to find duplicates. */
struct users_ref {
    const char *key;
    unsigned index;
    int nickname_given;
};

static void users_contact(struct cfgctx *c, const struct cfgfile *f, const char *user, unsigned ui,
                          unsigned ci, const struct raw_contact *raw,
                          struct config_contact_method *out)
{
    char path[96];
    const char *a = raw->address;
    int ok;

    out->address = cfgctx_dup(c, a);
    snprintf(path, sizeof(path), "users.%u.contact_methods.%u.type", ui, ci);
    if (value_parse_contact_type(raw->type, &out->type) != 0) {
        diag_report(c, f, path,
                    "user '%s' has contact method type '%s' (expected one of voice, sms, sip, "
                    "email, slack, webhook)",
                    user, raw->type);
        return;
    }
    switch (out->type) {
    case CONTACT_VOICE:
    case CONTACT_SMS:
        ok = value_is_e164(a);
        break;
    case CONTACT_SIP:
        ok = value_is_sip_uri(a);
        break;
    case CONTACT_EMAIL:
        ok = value_is_email(a);
        break;
    case CONTACT_WEBHOOK:
        ok = value_is_http_url(a);
        break;
    case CONTACT_SLACK:
    default:
        ok = a[0] != '\0' && !value_has_space(a);
        break;
    }
    if (ok)
        return;
    snprintf(path, sizeof(path), "users.%u.contact_methods.%u.address", ui, ci);
    switch (out->type) {
    case CONTACT_VOICE:
    case CONTACT_SMS:
        diag_report(c, f, path,
                    "user '%s' has %s address '%s' that is not an E.164 number (+ and 8 to 15 "
                    "digits, e.g. +4930123456)",
                    user, contact_type_name(out->type), a);
        break;
    case CONTACT_SIP:
        diag_report(c, f, path, "user '%s' has sip address '%s' that is not a sip: or sips: URI",
                    user, a);
        break;
    case CONTACT_EMAIL:
        diag_report(c, f, path, "user '%s' has email address '%s' that is not an e-mail address",
                    user, a);
        break;
    case CONTACT_WEBHOOK:
        diag_report(c, f, path,
                    "user '%s' has webhook address '%s' that is not an http:// or https:// URL",
                    user, a);
        break;
    case CONTACT_SLACK:
    default:
        diag_report(c, f, path, "user '%s' has an empty or blank slack address", user);
        break;
    }
}

static void users_chat_id(struct cfgctx *c, const struct cfgfile *f, const char *user, unsigned ui,
                          unsigned ci, const struct raw_chat_id *raw, struct config_chat_id *out)
{
    char path[96];

    out->provider = cfgctx_dup(c, raw->provider);
    out->id = cfgctx_dup(c, raw->id);
    if (strcmp(raw->provider, "slack") != 0 && strcmp(raw->provider, "mattermost") != 0) {
        snprintf(path, sizeof(path), "users.%u.chat_ids.%u.provider", ui, ci);
        diag_report(c, f, path,
                    "user '%s' has chat id provider '%s' (expected slack or mattermost)", user,
                    raw->provider);
    }
    if (raw->id[0] == '\0' || value_has_space(raw->id)) {
        snprintf(path, sizeof(path), "users.%u.chat_ids.%u.id", ui, ci);
        diag_report(c, f, path, "user '%s' has an empty or blank %s chat id", user, raw->provider);
    }
}

static void users_one(struct cfgctx *c, const struct cfgfile *f, unsigned i,
                      const struct raw_user *raw, struct config_user *out)
{
    char path[64];
    const char *name = raw->name;

    if (!value_is_name(name)) {
        snprintf(path, sizeof(path), "users.%u.name", i);
        diag_report(c, f, path,
                    "user name '%s' is invalid (use 1 to 63 of a-z, 0-9, '.', '_', '-', "
                    "starting with a letter or digit)",
                    name);
    }
    if (raw->nickname != NULL && !value_is_nickname(raw->nickname)) {
        snprintf(path, sizeof(path), "users.%u.nickname", i);
        diag_report(c, f, path,
                    "user '%s' has nickname '%s' that is invalid (use 1 to 63 letters, digits, "
                    "'.', '_', '-')",
                    name, raw->nickname);
    }
    if (raw->time_zone != NULL && !value_time_zone_exists(raw->time_zone)) {
        snprintf(path, sizeof(path), "users.%u.time_zone", i);
        diag_report(c, f, path,
                    "user '%s' has unknown time zone '%s' (use an IANA name such as "
                    "Europe/Berlin)",
                    name, raw->time_zone);
    }
    if (raw->email != NULL && !value_is_email(raw->email)) {
        snprintf(path, sizeof(path), "users.%u.email", i);
        diag_report(c, f, path, "user '%s' has email '%s' that is not an e-mail address", name,
                    raw->email);
    }
    out->name = cfgctx_dup(c, name);
    out->full_name = cfgctx_dup(c, raw->full_name);
    out->nickname = cfgctx_dup(c, raw->nickname != NULL ? raw->nickname : name);
    out->time_zone = cfgctx_dup(c, raw->time_zone != NULL ? raw->time_zone : "UTC");
    out->email = cfgctx_dup(c, raw->email);
    if (raw->chat_id_count > 0) {
        out->chat_ids = calloc(raw->chat_id_count, sizeof(*out->chat_ids));
        if (out->chat_ids == NULL) {
            c->oom = 1;
            return;
        }
        out->chat_id_count = raw->chat_id_count;
        for (unsigned k = 0; k < raw->chat_id_count; k++)
            users_chat_id(c, f, name, i, k, &raw->chat_ids[k], &out->chat_ids[k]);
    }
    if (raw->contact_method_count > 0) {
        out->contact_methods = calloc(raw->contact_method_count, sizeof(*out->contact_methods));
        if (out->contact_methods == NULL) {
            c->oom = 1;
            return;
        }
        out->contact_method_count = raw->contact_method_count;
        for (unsigned k = 0; k < raw->contact_method_count; k++)
            users_contact(c, f, name, i, k, &raw->contact_methods[k], &out->contact_methods[k]);
    }
}

static int users_ref_cmp(const void *a, const void *b)
{
    const struct users_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int users_ref_casecmp(const void *a, const void *b)
{
    const struct users_ref *x = a, *y = b;
    int c = strcasecmp(x->key, y->key);

    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Sort, then every entry equal to the one before it is a duplicate; it is
 * reported at its own node, naming where the first one is. */
static void users_check_unique(struct cfgctx *c, const struct cfgfile *f,
                               const struct raw_users *raw, int nickname)
{
    struct users_ref *refs = calloc(raw->user_count, sizeof(*refs));
    unsigned first = 0;

    if (refs == NULL) {
        c->oom = 1;
        return;
    }
    for (unsigned i = 0; i < raw->user_count; i++) {
        const struct raw_user *u = &raw->users[i];
        refs[i].index = i;
        refs[i].nickname_given = nickname && u->nickname != NULL;
        refs[i].key = nickname && u->nickname != NULL ? u->nickname : u->name;
    }
    qsort(refs, raw->user_count, sizeof(*refs), nickname ? users_ref_casecmp : users_ref_cmp);
    for (unsigned i = 1; i < raw->user_count; i++) {
        char path[64], where[512];
        int same = nickname ? strcasecmp(refs[i].key, refs[i - 1].key) == 0
                            : strcmp(refs[i].key, refs[i - 1].key) == 0;
        if (!same) {
            first = i;
            continue;
        }
        if (!nickname) {
            snprintf(path, sizeof(path), "users.%u.name", refs[first].index);
            diag_where(f, path, 0, where, sizeof(where));
            snprintf(path, sizeof(path), "users.%u.name", refs[i].index);
            diag_report(c, f, path, "duplicate user name '%s' (first defined at %s)", refs[i].key,
                        where);
            continue;
        }
        /* Two users of the same name were reported as such already. */
        if (strcmp(raw->users[refs[i].index].name, raw->users[refs[first].index].name) == 0)
            continue;
        snprintf(path, sizeof(path), "users.%u.%s", refs[first].index,
                 refs[first].nickname_given ? "nickname" : "name");
        diag_where(f, path, 0, where, sizeof(where));
        snprintf(path, sizeof(path), "users.%u.%s", refs[i].index,
                 refs[i].nickname_given ? "nickname" : "name");
        diag_report(c, f, path,
                    "user '%s' has nickname '%s' already used by user '%s' at %s (nicknames are "
                    "unique regardless of case)",
                    raw->users[refs[i].index].name, refs[i].key, raw->users[refs[first].index].name,
                    where);
    }
    free(refs);
}

void users_convert(struct cfgctx *c, const struct cfgfile *f, const struct raw_users *raw,
                   struct config *cfg)
{
    if (raw->user_count == 0)
        return;
    cfg->users = calloc(raw->user_count, sizeof(*cfg->users));
    if (cfg->users == NULL) {
        c->oom = 1;
        return;
    }
    cfg->user_count = raw->user_count;
    for (unsigned i = 0; i < raw->user_count; i++)
        users_one(c, f, i, &raw->users[i], &cfg->users[i]);
    users_check_unique(c, f, raw, 0);
    users_check_unique(c, f, raw, 1);
}
