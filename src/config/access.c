/*
 * access.c - the configuration of SSH access: team files' `host_groups:` and
 * `team: breakglass:` (checks and the model built from them), and
 * opsbell.yaml's `allowlist:` section.  teams.c, mainfile.c and config.c
 * call in here; names of host groups are checked for uniqueness with the
 * other named objects in teams.c.
 */
#include "config/internal.h"
#include "config/yamlpos.h"

#include "enforce/enforce.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCESS_BG_DURATION_DEF (3600U)
#define ACCESS_BG_DURATION_MIN (60U)
#define ACCESS_BG_DURATION_MAX (24U * 3600)

#define ACCESS_FRESHNESS_DEF     (12U * 3600)
#define ACCESS_FRESHNESS_MIN     (60U)
#define ACCESS_FRESHNESS_MAX     (30U * 24 * 3600)
#define ACCESS_PER_USER_DEF      5U
#define ACCESS_PER_USER_MAX      100U
#define ACCESS_LINK_TTL_DEF      (600U)
#define ACCESS_LINK_TTL_MIN      (60U)
#define ACCESS_LINK_TTL_MAX      (24U * 3600)
#define ACCESS_LOGS_INTERVAL_DEF (300U)
#define ACCESS_LOGS_INTERVAL_MIN (30U)
#define ACCESS_LOGS_INTERVAL_MAX (24U * 3600)

static const struct raw_team_file *access_raw(const struct cfgfile *f)
{
    return f->raw;
}

static const char *access_team(const struct cfgfile *f)
{
    return f->team != NULL ? f->team : "?";
}

/* A duration at path in [min, max] seconds; 0 or OB_EINVAL (reported, with
 * what starting the message and range ending it). */
static int access_duration(struct cfgctx *c, const struct cfgfile *f, const char *path,
                           const char *what, const char *text, uint32_t min, uint32_t max,
                           const char *range, uint32_t *out)
{
    uint32_t v = 0;

    if (config_parse_duration(text, &v) != 0 || v < min || v > max) {
        diag_report(c, f, path, "%s '%s' is not a duration from %s", what, text, range);
        return OB_EINVAL;
    }
    *out = v;
    return 0;
}

/* ---- host groups ---- */

/* A host of a group, in a table sorted by name, to find duplicates. */
struct access_host {
    const char *name;
    unsigned index;
};

static int access_host_cmp(const void *a, const void *b)
{
    const struct access_host *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Each host valid, each once (sorted, so that 1000 hosts stay cheap). */
static void access_check_hosts(struct cfgctx *c, const struct cfgfile *f, unsigned gi,
                               const struct raw_host_group *g)
{
    struct access_host *hosts;
    char path[96], where[512];
    unsigned first = 0;

    for (unsigned k = 0; k < g->host_count; k++) {
        if (value_is_host_name(g->hosts[k]))
            continue;
        snprintf(path, sizeof(path), "host_groups.%u.hosts.%u", gi, k);
        diag_report(c, f, path,
                    "host group '%s' has invalid host name '%s' (use 1 to 253 of a-z, 0-9, '.', "
                    "'-', starting with a letter or digit)",
                    g->name, g->hosts[k]);
    }
    if (g->host_count < 2)
        return;
    hosts = calloc(g->host_count, sizeof(*hosts));
    if (hosts == NULL) {
        c->oom = 1;
        return;
    }
    for (unsigned k = 0; k < g->host_count; k++)
        hosts[k] = (struct access_host){g->hosts[k], k};
    qsort(hosts, g->host_count, sizeof(*hosts), access_host_cmp);
    for (unsigned k = 1; k < g->host_count; k++) {
        if (strcmp(hosts[k].name, hosts[first].name) != 0) {
            first = k;
            continue;
        }
        snprintf(path, sizeof(path), "host_groups.%u.hosts.%u", gi, hosts[first].index);
        diag_where(f, path, 0, where, sizeof(where));
        snprintf(path, sizeof(path), "host_groups.%u.hosts.%u", gi, hosts[k].index);
        diag_report(c, f, path, "host group '%s' lists host '%s' twice (first at %s)", g->name,
                    hosts[k].name, where);
    }
    free(hosts);
}

static void access_check_host_group(struct cfgctx *c, const struct cfgfile *f, unsigned i)
{
    const struct raw_host_group *g = &access_raw(f)->host_groups[i];
    char path[64];
    int flag;

    teams_check_name(c, f, "host group", "host_groups", i, g->name);
    teams_check_owner(c, f, "host group", "host_groups", i, g->name, g->team);
    if (g->host_count == 0) {
        snprintf(path, sizeof(path), "host_groups.%u.hosts", i);
        diag_report(c, f, path, "host group '%s' has no hosts (list at least one)", g->name);
    }
    access_check_hosts(c, f, i, g);
    if (g->allowlist != NULL && value_parse_bool(g->allowlist, &flag) != 0) {
        snprintf(path, sizeof(path), "host_groups.%u.allowlist", i);
        diag_report(c, f, path, "host group '%s' has allowlist '%s' (expected true or false)",
                    g->name, g->allowlist);
    }
}

/* ---- team: breakglass: ---- */

static int access_is_keyword(const char *s)
{
    return strcmp(s, "oncall") == 0 || strcmp(s, "members") == 0;
}

static void access_check_breakglass(struct cfgctx *c, const struct cfgfile *f,
                                    const struct raw_breakglass *bg)
{
    const char *team = access_team(f);
    char path[96], what[128];
    uint32_t v;

    for (unsigned k = 0; k < bg->self_approve_count; k++) {
        const char *who = bg->self_approve[k];
        if (access_is_keyword(who) || value_is_name(who))
            continue;
        snprintf(path, sizeof(path), "team.breakglass.self_approve.%u", k);
        diag_report(c, f, path,
                    "team '%s' breakglass self_approve entry '%s' is not oncall, members or a "
                    "user name",
                    team, who);
    }
    for (unsigned k = 0; k < bg->approver_count; k++) {
        if (value_is_name(bg->approvers[k]))
            continue;
        snprintf(path, sizeof(path), "team.breakglass.approvers.%u", k);
        diag_report(c, f, path, "team '%s' breakglass approver '%s' is not a user name", team,
                    bg->approvers[k]);
    }
    if (bg->max_duration != NULL) {
        snprintf(what, sizeof(what), "team '%s' breakglass max_duration", team);
        access_duration(c, f, "team.breakglass.max_duration", what, bg->max_duration,
                        ACCESS_BG_DURATION_MIN, ACCESS_BG_DURATION_MAX, "1m to 24h (e.g. 1h)", &v);
    }
    if (bg->pending_ttl != NULL) {
        snprintf(what, sizeof(what), "team '%s' breakglass pending_ttl", team);
        access_duration(c, f, "team.breakglass.pending_ttl", what, bg->pending_ttl,
                        ACCESS_BG_DURATION_MIN, ACCESS_BG_DURATION_MAX, "1m to 24h (e.g. 1h)", &v);
    }
}

void access_check_file(struct cfgctx *c, const struct cfgfile *f)
{
    const struct raw_team_file *raw = access_raw(f);

    for (unsigned i = 0; i < raw->host_group_count; i++)
        access_check_host_group(c, f, i);
    if (raw->team != NULL && raw->team->breakglass != NULL)
        access_check_breakglass(c, f, raw->team->breakglass);
}

static int access_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int access_user_exists(const char *const *names, size_t n, const char *name)
{
    return bsearch(&name, names, n, sizeof(*names), access_str_cmp) != NULL;
}

void access_check_user_refs(struct cfgctx *c, const struct cfgfile *f, const char *const *names,
                            size_t n)
{
    const struct raw_team_file *raw = access_raw(f);
    const struct raw_breakglass *bg = raw->team != NULL ? raw->team->breakglass : NULL;
    char path[96];

    if (bg == NULL)
        return;
    for (unsigned k = 0; k < bg->self_approve_count; k++) {
        const char *who = bg->self_approve[k];
        if (access_is_keyword(who) || !value_is_name(who) || access_user_exists(names, n, who))
            continue;
        snprintf(path, sizeof(path), "team.breakglass.self_approve.%u", k);
        diag_report(c, f, path, "team '%s' lists unknown user '%s' in breakglass self_approve",
                    access_team(f), who);
    }
    for (unsigned k = 0; k < bg->approver_count; k++) {
        const char *who = bg->approvers[k];
        if (!value_is_name(who) || access_user_exists(names, n, who))
            continue;
        snprintf(path, sizeof(path), "team.breakglass.approvers.%u", k);
        diag_report(c, f, path, "team '%s' lists unknown user '%s' as a breakglass approver",
                    access_team(f), who);
    }
}

void access_check_aws_group(struct cfgctx *c, const struct cfgfile *main_file,
                            const char *host_group, struct cfgfile *const *files, unsigned nfiles)
{
    if (host_group == NULL || !value_is_name(host_group))
        return; /* absent, or reported already */
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = access_raw(files[i]);
        for (unsigned j = 0; j < raw->host_group_count; j++) {
            if (strcmp(raw->host_groups[j].name, host_group) == 0)
                return;
        }
    }
    diag_report(c, main_file, "enforcers.aws.host_group",
                "aws host_group '%s' is not a host group of any team (host_groups: in a team "
                "file)",
                host_group);
}

/* ---- building the model ---- */

static int access_dup_list(char *const *list, unsigned n, char ***out, unsigned *count)
{
    *out = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    *out = calloc(n, sizeof(**out));
    if (*out == NULL)
        return OB_ENOMEM;
    *count = n;
    for (unsigned i = 0; i < n; i++) {
        (*out)[i] = strdup(list[i]);
        if ((*out)[i] == NULL)
            return OB_ENOMEM;
    }
    return 0;
}

static int access_build_host_group(const struct raw_host_group *raw, const struct config_team *team,
                                   struct config_host_group *out)
{
    out->team = team;
    out->name = strdup(raw->name);
    if (out->name == NULL ||
        access_dup_list(raw->hosts, raw->host_count, &out->hosts, &out->host_count) != 0)
        return OB_ENOMEM;
    if (raw->allowlist != NULL && value_parse_bool(raw->allowlist, &out->allowlist) != 0)
        return OB_EINTERNAL; /* the checks let it through: a bug */
    return out->host_count > 0 ? 0 : OB_EINTERNAL;
}

/* f holds the team: section raw->team (for where self_approve is). */
static int access_build_breakglass(const struct cfgfile *f, const struct raw_breakglass *raw,
                                   struct config_breakglass *out)
{
    unsigned line, col, nusers = 0;
    int rc;

    if (raw->max_duration != NULL &&
        config_parse_duration(raw->max_duration, &out->max_duration_seconds) != 0)
        return OB_EINTERNAL;
    if (raw->pending_ttl != NULL &&
        config_parse_duration(raw->pending_ttl, &out->pending_ttl_seconds) != 0)
        return OB_EINTERNAL;
    rc =
        access_dup_list(raw->approvers, raw->approver_count, &out->approvers, &out->approver_count);
    if (rc != 0)
        return rc;
    /* Absent: the default [oncall]; written, even empty: exactly that. */
    if (raw->self_approve_count == 0 &&
        (f->pos == NULL || yamlpos_find(f->pos, "team.breakglass.self_approve", &line, &col) != 0))
        return 0;
    out->self_approve_oncall = 0;
    for (unsigned k = 0; k < raw->self_approve_count; k++) {
        if (!access_is_keyword(raw->self_approve[k]))
            nusers++;
    }
    if (nusers > 0) {
        out->self_approve_users = calloc(nusers, sizeof(*out->self_approve_users));
        if (out->self_approve_users == NULL)
            return OB_ENOMEM;
    }
    for (unsigned k = 0; k < raw->self_approve_count; k++) {
        const char *who = raw->self_approve[k];
        if (strcmp(who, "oncall") == 0) {
            out->self_approve_oncall = 1;
        } else if (strcmp(who, "members") == 0) {
            out->self_approve_members = 1;
        } else {
            char *copy = strdup(who);
            if (copy == NULL)
                return OB_ENOMEM;
            out->self_approve_users[out->self_approve_user_count++] = copy;
        }
    }
    return 0;
}

int access_build_team(struct config_team *team, struct cfgfile *const *files, unsigned nfiles)
{
    unsigned n = 0, gi = 0;
    int section_seen = 0;
    int rc;

    team->breakglass.self_approve_oncall = 1;
    team->breakglass.max_duration_seconds = ACCESS_BG_DURATION_DEF;
    team->breakglass.pending_ttl_seconds = ACCESS_BG_DURATION_DEF;
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = access_raw(files[i]);
        if (strcmp(files[i]->team, team->name) != 0)
            continue;
        n += raw->host_group_count;
        if (raw->team != NULL && !section_seen) {
            section_seen = 1;
            if (raw->team->breakglass != NULL) {
                rc = access_build_breakglass(files[i], raw->team->breakglass, &team->breakglass);
                if (rc != 0)
                    return rc;
            }
        }
    }
    team->host_groups = calloc(n > 0 ? n : 1, sizeof(*team->host_groups));
    if (team->host_groups == NULL)
        return OB_ENOMEM;
    team->host_group_count = n;
    for (unsigned i = 0; i < nfiles; i++) {
        const struct raw_team_file *raw = access_raw(files[i]);
        if (strcmp(files[i]->team, team->name) != 0)
            continue;
        for (unsigned j = 0; j < raw->host_group_count; j++) {
            rc = access_build_host_group(&raw->host_groups[j], team, &team->host_groups[gi++]);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- opsbell.yaml allowlist: ---- */

static void access_trusted_proxies(struct cfgctx *c, const struct cfgfile *f,
                                   const struct raw_allowlist *raw, struct config_allowlist *out)
{
    if (raw->trusted_proxy_count == 0)
        return;
    out->trusted_proxies = calloc(raw->trusted_proxy_count, sizeof(*out->trusted_proxies));
    if (out->trusted_proxies == NULL) {
        c->oom = 1;
        return;
    }
    out->trusted_proxy_count = raw->trusted_proxy_count;
    for (unsigned k = 0; k < raw->trusted_proxy_count; k++) {
        char text[CIDR_TEXT_MAX], path[64];
        struct ob_error err;

        ob_error_clear(&err);
        if (cidr_normalise(raw->trusted_proxies[k], text, sizeof(text), &err) == 0) {
            out->trusted_proxies[k] = cfgctx_dup(c, text);
            continue;
        }
        snprintf(path, sizeof(path), "allowlist.trusted_proxies.%u", k);
        diag_report(c, f, path,
                    "allowlist trusted_proxies entry '%s' is not an address or CIDR: %s",
                    raw->trusted_proxies[k], err.msg[0] != '\0' ? err.msg : "cannot parse it");
    }
}

void access_convert_allowlist(struct cfgctx *c, const struct cfgfile *f,
                              const struct raw_allowlist *raw, struct config_allowlist *out)
{
    const struct raw_access_logs *logs;
    uint64_t v;

    out->freshness_seconds = ACCESS_FRESHNESS_DEF;
    out->max_per_user = ACCESS_PER_USER_DEF;
    out->link_ttl_seconds = ACCESS_LINK_TTL_DEF;
    out->access_logs_interval_seconds = ACCESS_LOGS_INTERVAL_DEF;
    if (raw == NULL)
        return;
    if (raw->freshness != NULL)
        access_duration(c, f, "allowlist.freshness", "allowlist freshness", raw->freshness,
                        ACCESS_FRESHNESS_MIN, ACCESS_FRESHNESS_MAX, "1m to 30d (e.g. 12h)",
                        &out->freshness_seconds);
    if (raw->max_per_user != NULL) {
        if (value_parse_uint(raw->max_per_user, 1, ACCESS_PER_USER_MAX, &v) == 0)
            out->max_per_user = (uint32_t)v;
        else
            diag_report(c, f, "allowlist.max_per_user",
                        "allowlist max_per_user '%s' is not a number from 1 to %u",
                        raw->max_per_user, ACCESS_PER_USER_MAX);
    }
    if (raw->link_ttl != NULL)
        access_duration(c, f, "allowlist.link_ttl", "allowlist link_ttl", raw->link_ttl,
                        ACCESS_LINK_TTL_MIN, ACCESS_LINK_TTL_MAX, "1m to 1d (e.g. 10m)",
                        &out->link_ttl_seconds);
    access_trusted_proxies(c, f, raw, out);
    logs = raw->slack_access_logs;
    if (logs == NULL)
        return;
    out->access_logs_enabled = 1;
    mainfile_secret(c, f, "allowlist.slack_access_logs.token", "allowlist slack_access_logs token",
                    logs->token, &out->access_logs_token);
    if (logs->interval != NULL)
        access_duration(c, f, "allowlist.slack_access_logs.interval",
                        "allowlist slack_access_logs interval", logs->interval,
                        ACCESS_LOGS_INTERVAL_MIN, ACCESS_LOGS_INTERVAL_MAX, "30s to 1d (e.g. 5m)",
                        &out->access_logs_interval_seconds);
}
