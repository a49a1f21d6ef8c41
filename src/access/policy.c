/*
 * policy.c - hosts, host groups and who may do what with a grant, from the
 * configuration (teams' host_groups and breakglass policy).
 */
#include "access/access_internal.h"

#include "config/config.h"
#include "oncall/overrides.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

int access_host_name_ok(const char *host)
{
    size_t n;

    if (host == NULL || host[0] == '\0')
        return 0;
    n = strlen(host);
    if (n > ACCESS_HOST_MAX || host[0] == '.' || host[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int access_group_has_host(const struct config_host_group *g, const char *host)
{
    for (unsigned i = 0; i < g->host_count; i++) {
        if (strcmp(g->hosts[i], host) == 0)
            return 1;
    }
    return 0;
}

int access_host_known(const struct config *cfg, const char *host)
{
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        for (unsigned g = 0; g < team->host_group_count; g++) {
            if (access_group_has_host(&team->host_groups[g], host))
                return 1;
        }
    }
    return 0;
}

int access_team_member(const struct config_team *team, const char *user)
{
    for (unsigned i = 0; user != NULL && i < team->member_count; i++) {
        if (strcmp(team->members[i], user) == 0)
            return 1;
    }
    return 0;
}

static int access_team_has_host(const struct config_team *team, const char *host)
{
    for (unsigned g = 0; g < team->host_group_count; g++) {
        if (access_group_has_host(&team->host_groups[g], host))
            return 1;
    }
    return 0;
}

int token_binding_check(const struct config *cfg, const char *team, const char *user,
                        const char *agent_host, struct ob_error *err)
{
    const struct config_team *t = team != NULL ? config_find_team(cfg, team) : NULL;

    if (user != NULL) {
        if (config_find_user(cfg, user) == NULL)
            return ob_fail(err, OB_EINVAL, "no user named '%s'", user);
        if (t != NULL && !access_team_member(t, user))
            return ob_fail(err, OB_EFORBIDDEN, "%s is not a member of team %s", user, team);
    }
    if (agent_host != NULL) {
        if (!access_host_name_ok(agent_host))
            return ob_fail(err, OB_EINVAL,
                           "agent host '%s' is not a host name (a-z, 0-9, '.', '-')", agent_host);
        if (team != NULL && (t == NULL || !access_team_has_host(t, agent_host)))
            return ob_fail(err, OB_EFORBIDDEN, "host %s is in no host group of team %s", agent_host,
                           team);
    }
    return 0;
}

int access_resolve_target(const struct config *cfg, const char *user, const char *host,
                          const char *group, struct access_target *out, struct ob_error *err)
{
    const struct config_team *first_owner = NULL;

    memset(out, 0, sizeof(*out));
    if ((host == NULL) == (group == NULL))
        return ob_fail(err, OB_EINVAL, "give a host or a group (one of the two)");
    if (group != NULL) {
        const struct config_host_group *g = config_find_host_group(cfg, group);
        if (g == NULL)
            return ob_fail(err, OB_ENOTFOUND, "no host group named '%s'", group);
        if (!access_team_member(g->team, user))
            return ob_fail(err, OB_EFORBIDDEN,
                           "%s is not a member of team %s, which owns host group %s", user,
                           g->team->name, group);
        out->team = g->team;
        out->hosts = (const char *const *)g->hosts;
        out->host_count = g->host_count;
        return 0;
    }
    if (!access_host_name_ok(host))
        return ob_fail(err, OB_EINVAL, "'%s' is not a host name (a-z, 0-9, '.', '-')", host);
    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        if (!access_team_has_host(team, host))
            continue;
        if (first_owner == NULL)
            first_owner = team;
        if (access_team_member(team, user)) {
            out->team = team;
            out->single_host = host;
            out->hosts = &out->single_host;
            out->host_count = 1;
            return 0;
        }
    }
    if (first_owner == NULL)
        return ob_fail(err, OB_ENOTFOUND, "no host group has a host named '%s'", host);
    return ob_fail(err, OB_EFORBIDDEN, "%s is not a member of team %s, which owns host %s", user,
                   first_owner->name, host);
}

static int access_listed(char *const *list, unsigned n, const char *user)
{
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(list[i], user) == 0)
            return 1;
    }
    return 0;
}

/* Is user on call now on one of team's schedules? */
static int access_on_call(struct store_conn *conn, const struct config_team *team, const char *user,
                          int64_t now_ms, int *yes, struct ob_error *err)
{
    *yes = 0;
    for (unsigned s = 0; s < team->schedule_count && !*yes; s++) {
        char *who = NULL;
        int rc = oncall_user_at(conn, &team->schedules[s], now_ms, &who, err);
        if (rc != 0)
            return rc;
        *yes = who != NULL && strcmp(who, user) == 0;
        free(who);
    }
    return 0;
}

int access_may_self_approve(struct store_conn *conn, const struct config_team *team,
                            const char *user, int64_t now_ms, int *yes, struct ob_error *err)
{
    const struct config_breakglass *p = &team->breakglass;

    *yes = 0;
    if ((p->self_approve_members && access_team_member(team, user)) ||
        access_listed(p->self_approve_users, p->self_approve_user_count, user)) {
        *yes = 1;
        return 0;
    }
    if (p->self_approve_oncall)
        return access_on_call(conn, team, user, now_ms, yes, err);
    return 0;
}

int access_may_approve(const struct config_team *team, const char *approver, const char *requester,
                       struct ob_error *err)
{
    const struct config_breakglass *p = &team->breakglass;

    if (strcmp(approver, requester) == 0)
        return ob_fail(err, OB_EFORBIDDEN,
                       "%s asked for this grant and cannot decide on it; another approver of "
                       "team %s must (revoke it to withdraw it)",
                       approver, team->name);
    if (p->approver_count > 0 ? access_listed(p->approvers, p->approver_count, approver)
                              : access_team_member(team, approver))
        return 0;
    return ob_fail(err, OB_EFORBIDDEN, "%s is not an approver of team %s", approver, team->name);
}
