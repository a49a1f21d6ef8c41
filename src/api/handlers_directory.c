/*
 * handlers_directory.c - read-only views of the configuration: teams,
 * services, escalation policies and users. A team-limited token sees only
 * its own team's objects; users are a shared directory.  A policy shown
 * alone says who is on call now for each schedule it pages.
 */
#include "api/api.h"

#include "config/config.h"
#include "daemon/app.h"
#include "store/store.h"
#include "util/error.h"

#include <string.h>

/* May the caller see objects of team? (Handlers use it for lists and shows.) */
static bool visible(const struct http_request *req, const char *team)
{
    const struct auth_principal *p = api_principal(req);

    return p->team[0] == '\0' || strcmp(p->team, team) == 0;
}

static json_t *string_array(char *const *items, unsigned count)
{
    json_t *arr = json_array();

    for (unsigned i = 0; i < count; i++)
        json_array_append_new(arr, json_string(items[i]));
    return arr;
}

static json_t *service_json(const struct config_service *svc)
{
    return json_pack("{s:s, s:s, s:s?, s:s?, s:b}", "name", svc->name, "team", svc->team->name,
                     "description", svc->description, "escalation_policy", svc->escalation_policy,
                     "has_integration_key", svc->integration_key != NULL);
}

static json_t *policy_json(const struct config_escalation_policy *pol)
{
    json_t *steps = json_array();

    for (unsigned i = 0; i < pol->step_count; i++) {
        const struct config_escalation_step *st = &pol->steps[i];
        json_array_append_new(steps, json_pack("{s:i, s:o, s:o}", "delay_seconds",
                                               (int)st->delay_seconds, "users",
                                               string_array(st->users, st->user_count), "schedules",
                                               string_array(st->schedules, st->schedule_count)));
    }
    return json_pack("{s:s, s:s, s:s?, s:i, s:o}", "name", pol->name, "team", pol->team->name,
                     "description", pol->description, "repeat", (int)pol->repeat, "steps", steps);
}

static json_t *team_json(const struct config_team *team, bool detail)
{
    json_t *obj = json_pack("{s:s, s:s?, s:s?, s:o, s:i, s:i}", "name", team->name, "description",
                            team->description, "chat_channel", team->chat_channel, "members",
                            string_array(team->members, team->member_count), "service_count",
                            (int)team->service_count, "policy_count", (int)team->policy_count);

    if (detail) {
        json_t *services = json_array(), *policies = json_array();
        for (unsigned i = 0; i < team->service_count; i++)
            json_array_append_new(services, service_json(&team->services[i]));
        for (unsigned i = 0; i < team->policy_count; i++)
            json_array_append_new(policies, policy_json(&team->policies[i]));
        json_object_set_new(obj, "services", services);
        json_object_set_new(obj, "escalation_policies", policies);
    }
    return obj;
}

static json_t *user_json(const struct config_user *user)
{
    json_t *methods = json_array(), *chat = json_array();

    for (unsigned i = 0; i < user->contact_method_count; i++)
        json_array_append_new(methods, json_pack("{s:s, s:s}", "type",
                                                 contact_type_name(user->contact_methods[i].type),
                                                 "address", user->contact_methods[i].address));
    for (unsigned i = 0; i < user->chat_id_count; i++)
        json_array_append_new(chat, json_pack("{s:s, s:s}", "provider", user->chat_ids[i].provider,
                                              "id", user->chat_ids[i].id));
    return json_pack("{s:s, s:s?, s:s, s:s, s:s?, s:o, s:o}", "name", user->name, "full_name",
                     user->full_name, "nickname", user->nickname, "time_zone", user->time_zone,
                     "email", user->email, "contact_methods", methods, "chat_ids", chat);
}

void api_teams_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    json_t *teams = json_array();

    for (unsigned i = 0; i < cfg->team_count; i++) {
        if (visible(req, cfg->teams[i].name))
            json_array_append_new(teams, team_json(&cfg->teams[i], false));
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "teams", teams));
    config_unref(cfg);
}

void api_team_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *name = http_request_param(req, "team");
    const struct config_team *team = config_find_team(cfg, name);

    if (team == NULL)
        http_response_error(resp, 404, "no team named '%s'", name);
    else
        api_reply_json(resp, 200, team_json(team, true));
    config_unref(cfg);
}

void api_team_services(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *name = http_request_param(req, "team");
    const struct config_team *team = config_find_team(cfg, name);
    json_t *services;

    if (team == NULL) {
        http_response_error(resp, 404, "no team named '%s'", name);
        goto out;
    }
    services = json_array();
    for (unsigned i = 0; i < team->service_count; i++)
        json_array_append_new(services, service_json(&team->services[i]));
    api_reply_json(resp, 200, json_pack("{s:o}", "services", services));
out:
    config_unref(cfg);
}

void api_services_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *only_team = http_request_query(req, "team");
    json_t *services = json_array();

    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        if (!visible(req, team->name) || (only_team != NULL && strcmp(only_team, team->name)))
            continue;
        for (unsigned i = 0; i < team->service_count; i++)
            json_array_append_new(services, service_json(&team->services[i]));
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "services", services));
    config_unref(cfg);
}

void api_service_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *name = http_request_param(req, "service");
    const struct config_service *svc = config_find_service(cfg, name);

    if (svc == NULL)
        http_response_error(resp, 404, "no service named '%s'", name);
    else if (!visible(req, svc->team->name))
        http_response_error(resp, 403, "service '%s' belongs to team %s, not %s", name,
                            svc->team->name, api_principal(req)->team);
    else
        api_reply_json(resp, 200, service_json(svc));
    config_unref(cfg);
}

void api_policies_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *only_team = http_request_query(req, "team");
    json_t *policies = json_array();

    for (unsigned t = 0; t < cfg->team_count; t++) {
        const struct config_team *team = &cfg->teams[t];
        if (!visible(req, team->name) || (only_team != NULL && strcmp(only_team, team->name)))
            continue;
        for (unsigned i = 0; i < team->policy_count; i++)
            json_array_append_new(policies, policy_json(&team->policies[i]));
    }
    api_reply_json(resp, 200, json_pack("{s:o}", "escalation_policies", policies));
    config_unref(cfg);
}

/*
 * Each step's schedule targets with who is on call for them now:
 * steps[i].oncall = [{schedule, team, at, oncall, next}, ...].  A schedule
 * of another team is shown too: the policy pages whoever is on call there.
 */
static int policy_add_oncall(struct app *app, const struct config_escalation_policy *pol,
                             json_t *obj, struct ob_error *err)
{
    json_t *steps = json_object_get(obj, "steps");
    struct store_conn *conn = NULL;
    int64_t now = store_now_ms();
    int rc = store_acquire(app->store, &conn, err);

    for (unsigned i = 0; rc == 0 && i < pol->step_count; i++) {
        const struct config_escalation_step *st = &pol->steps[i];
        json_t *arr = json_array();

        json_object_set_new(json_array_get(steps, i), "oncall", arr);
        for (unsigned k = 0; k < st->schedule_count; k++) {
            const struct config_schedule *sched =
                st->schedule_refs != NULL ? st->schedule_refs[k] : NULL;
            json_t *entry;

            if (sched == NULL) {
                json_array_append_new(
                    arr, json_pack("{s:s, s:n}", "schedule", st->schedules[k], "oncall"));
                continue;
            }
            entry = api_oncall_json(conn, sched, now, err);
            if (entry == NULL) {
                rc = err->code != 0 ? err->code : OB_EINTERNAL;
                break;
            }
            json_array_append_new(arr, entry);
        }
    }
    store_release(conn);
    return rc;
}

void api_policy_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *name = http_request_param(req, "policy");
    const struct config_escalation_policy *pol = config_find_policy(cfg, name);
    struct ob_error err = {0};
    json_t *obj;

    if (pol == NULL) {
        http_response_error(resp, 404, "no escalation policy named '%s'", name);
    } else if (!visible(req, pol->team->name)) {
        http_response_error(resp, 403, "escalation policy '%s' belongs to team %s, not %s", name,
                            pol->team->name, api_principal(req)->team);
    } else {
        obj = policy_json(pol);
        if (policy_add_oncall(app, pol, obj, &err) != 0) {
            json_decref(obj);
            http_response_from_error(resp, &err);
        } else {
            api_reply_json(resp, 200, obj);
        }
    }
    config_unref(cfg);
}

void api_users_list(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    json_t *users = json_array();

    for (unsigned i = 0; i < cfg->user_count; i++)
        json_array_append_new(users, user_json(&cfg->users[i]));
    api_reply_json(resp, 200, json_pack("{s:o}", "users", users));
    config_unref(cfg);
}

void api_user_show(void *app, struct http_request *req, struct http_response *resp)
{
    struct config *cfg = app_config_get(app);
    const char *name = http_request_param(req, "user");
    const struct config_user *user = config_find_user(cfg, name);

    if (user == NULL)
        http_response_error(resp, 404, "no user named '%s'", name);
    else
        api_reply_json(resp, 200, user_json(user));
    config_unref(cfg);
}
