/*
 * users.c - checks of users.yaml (names, nicknames, time zones, chat ids,
 * contact methods, logins, uniqueness) and the users of struct config they
 * fill.
 */
#include "config/internal.h"
#include "config/yamlpos.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USERS_RULE_AFTER_MAX (24U * 3600)

/* Used when opsbell.yaml has no notification_rules: chat, e-mail and web
 * hooks at once, the phone a minute later. */
static const struct config_notification_rule users_default_rules[] = {
    {CONTACT_SLACK, 0}, {CONTACT_EMAIL, 0},  {CONTACT_WEBHOOK, 0},
    {CONTACT_SMS, 60},  {CONTACT_VOICE, 60}, {CONTACT_SIP, 60},
};

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

void users_convert_rules(struct cfgctx *c, const struct cfgfile *f, const char *prefix,
                         const char *who, const struct raw_notification_rule *raw, unsigned n,
                         struct config_notification_rule **out, unsigned *count)
{
    *count = 0;
    *out = calloc(n > 0 ? n : 1, sizeof(**out));
    if (*out == NULL) {
        c->oom = 1;
        return;
    }
    *count = n;
    for (unsigned k = 0; k < n; k++) {
        char path[128];
        if (value_parse_contact_type(raw[k].type, &(*out)[k].type) != 0) {
            snprintf(path, sizeof(path), "%s.%u.type", prefix, k);
            diag_report(c, f, path,
                        "%s notification rule %u has type '%s' (expected one of voice, sms, sip, "
                        "email, slack, webhook)",
                        who, k + 1, raw[k].type);
        }
        snprintf(path, sizeof(path), "%s.%u.after", prefix, k);
        if (config_parse_duration(raw[k].after, &(*out)[k].after_seconds) != 0)
            diag_report(c, f, path,
                        "%s notification rule %u has after '%s' that is not a duration (use e.g. "
                        "0m, 90s or 5m)",
                        who, k + 1, raw[k].after);
        else if ((*out)[k].after_seconds > USERS_RULE_AFTER_MAX)
            diag_report(c, f, path, "%s notification rule %u has after '%s' outside 0s to 1d", who,
                        k + 1, raw[k].after);
    }
}

static int users_has_type(const struct config_user *u, enum contact_type type)
{
    for (unsigned i = 0; i < u->contact_method_count; i++) {
        if (u->contact_methods[i].type == type)
            return 1;
    }
    return 0;
}

/* The user's own rules (each type must be one the user can be reached by),
 * else the defaults the user can use. */
static void users_rules(struct cfgctx *c, const struct cfgfile *f, unsigned i,
                        const struct raw_user *raw, const struct config *cfg,
                        struct config_user *out)
{
    const struct config_notification_rule *defs = cfg->default_notification_rules;
    unsigned ndefs = cfg->default_notification_rule_count;
    char prefix[64], who[96];

    if (raw->notification_rules != NULL) {
        snprintf(prefix, sizeof(prefix), "users.%u.notification_rules", i);
        snprintf(who, sizeof(who), "user '%s'", raw->name);
        users_convert_rules(c, f, prefix, who, raw->notification_rules,
                            raw->notification_rule_count, &out->notification_rules,
                            &out->notification_rule_count);
        for (unsigned k = 0; out->notification_rules != NULL && k < out->notification_rule_count;
             k++) {
            char path[128];
            enum contact_type type;
            if (value_parse_contact_type(raw->notification_rules[k].type, &type) != 0 ||
                users_has_type(out, type))
                continue;
            snprintf(path, sizeof(path), "%s.%u.type", prefix, k);
            diag_report(c, f, path,
                        "user '%s' notification rule %u is for %s but the user has no %s "
                        "contact method",
                        raw->name, k + 1, contact_type_name(type), contact_type_name(type));
        }
        return;
    }
    if (defs == NULL) {
        defs = users_default_rules;
        ndefs = sizeof(users_default_rules) / sizeof(users_default_rules[0]);
    }
    out->notification_rules = calloc(ndefs > 0 ? ndefs : 1, sizeof(*out->notification_rules));
    if (out->notification_rules == NULL) {
        c->oom = 1;
        return;
    }
    for (unsigned k = 0; k < ndefs; k++) {
        if (users_has_type(out, defs[k].type))
            out->notification_rules[out->notification_rule_count++] = defs[k];
    }
}

/* `logins`: each a valid login, each once; absent = [name] when the name is
 * a valid login, else none (an empty list written is refused). */
static void users_logins(struct cfgctx *c, const struct cfgfile *f, unsigned i,
                         const struct raw_user *raw, struct config_user *out)
{
    char path[96], first_path[96], where[512];
    unsigned line, col;

    snprintf(path, sizeof(path), "users.%u.logins", i);
    if (raw->login_count == 0) {
        if (f->pos != NULL && yamlpos_find(f->pos, path, &line, &col) == 0) {
            diag_report(c, f, path,
                        "user '%s' has an empty logins list (list at least one, or leave logins "
                        "out for [%s])",
                        raw->name, raw->name);
            return;
        }
        /* A name that is no login name (it starts with a digit, is too
         * long...) publishes nothing: configurations from before logins
         * existed keep loading. */
        if (!value_is_login(raw->name))
            return;
        out->logins = calloc(1, sizeof(*out->logins));
        if (out->logins == NULL) {
            c->oom = 1;
            return;
        }
        out->logins[0] = cfgctx_dup(c, raw->name);
        out->login_count = 1;
        return;
    }
    out->logins = calloc(raw->login_count, sizeof(*out->logins));
    if (out->logins == NULL) {
        c->oom = 1;
        return;
    }
    out->login_count = raw->login_count;
    for (unsigned k = 0; k < raw->login_count; k++) {
        const char *login = raw->logins[k];
        unsigned first = k;

        out->logins[k] = cfgctx_dup(c, login);
        snprintf(path, sizeof(path), "users.%u.logins.%u", i, k);
        if (!value_is_login(login)) {
            diag_report(c, f, path,
                        "user '%s' has login '%s' that is invalid (use 1 to 32 of a-z, 0-9, '_', "
                        "'.', '-', starting with a letter or '_')",
                        raw->name, login);
            continue;
        }
        for (unsigned j = 0; j < k && first == k; j++) {
            if (strcmp(raw->logins[j], login) == 0)
                first = j;
        }
        if (first == k)
            continue;
        snprintf(first_path, sizeof(first_path), "users.%u.logins.%u", i, first);
        diag_where(f, first_path, 0, where, sizeof(where));
        diag_report(c, f, path, "user '%s' lists login '%s' twice (first at %s)", raw->name, login,
                    where);
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
    users_logins(c, f, i, raw, out);
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
    for (unsigned i = 0; i < raw->user_count; i++) {
        users_one(c, f, i, &raw->users[i], &cfg->users[i]);
        users_rules(c, f, i, &raw->users[i], cfg, &cfg->users[i]);
    }
    users_check_unique(c, f, raw, 0);
    users_check_unique(c, f, raw, 1);
}
