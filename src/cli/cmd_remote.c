/*
 * cmd_remote.c - commands that talk to a running server through its HTTP
 * API ($OPSBELL_URL, $OPSBELL_TOKEN): whoami, team, service, user, audit and
 * config reload.
 */
#include "cli/cli.h"

#include "util/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_whoami(int argc, char **argv);
int cmd_team_list(int argc, char **argv);
int cmd_team_show(int argc, char **argv);
int cmd_service_list(int argc, char **argv);
int cmd_user_list(int argc, char **argv);
int cmd_audit_list(int argc, char **argv);
int cmd_config_reload(int argc, char **argv);

/* Options every client command accepts, plus at most a few of its own. */
struct client_opts {
    int json;
    const char *team;
    const char *actor;
    const char *action;
    const char *limit;
    const char *before;
    const char *positional; /* the one positional argument, when wanted */
};

/*
 * Parse argv for command `display` (group, name for help). wants_positional:
 * 0 = none allowed, 1 = exactly one required. `extra` lists which of
 * t(eam)/a(ctor)/A(ction)/l(imit)/b(efore) the command takes.
 * Returns -1 to go on, or the exit status to return now.
 */
static int parse_client_opts(int argc, char **argv, const char *group, const char *name,
                             const char *extra, int wants_positional, struct client_opts *o)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},        {"team", required_argument, NULL, 't'},
        {"actor", required_argument, NULL, 'a'}, {"action", required_argument, NULL, 'A'},
        {"limit", required_argument, NULL, 'l'}, {"before", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    char display[64];
    int c;

    snprintf(display, sizeof(display), "%s%s%s", group, name != NULL ? " " : "",
             name != NULL ? name : "");
    memset(o, 0, sizeof(*o));
    cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "jt:a:A:l:b:h", opts, NULL)) != -1) {
        if (c != 'j' && c != 'h' && c != '?' && c != ':' && strchr(extra, c) == NULL) {
            /* Name the option as it was typed: "-t x" leaves optind past "x". */
            const char *typed = argv[optind - 1];
            if (typed[0] != '-' && optind >= 2)
                typed = argv[optind - 2];
            return cli_usage_error(display, "option '%.*s' does not apply here",
                                   (int)strcspn(typed, "="), typed);
        }
        switch (c) {
        case 'j':
            o->json = 1;
            break;
        case 't':
            o->team = optarg;
            break;
        case 'a':
            o->actor = optarg;
            break;
        case 'A':
            o->action = optarg;
            break;
        case 'l':
            o->limit = optarg;
            break;
        case 'b':
            o->before = optarg;
            break;
        case 'h':
            cli_print_usage(cli_find(group, name), stdout);
            return EXIT_OK;
        default:
            return cli_usage_error(display, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (wants_positional) {
        if (optind >= argc)
            return cli_usage_error(display, "an argument is missing");
        o->positional = argv[optind++];
    }
    if (optind < argc)
        return cli_usage_error(display, "unexpected argument '%s'", argv[optind]);
    return -1;
}

static const char *str_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void int_member(json_t *obj, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, cap, "-");
}

/* Join the string members `key` of the objects in arr (or the strings themselves). */
static void join_strings(json_t *arr, const char *key, char *out, size_t cap)
{
    size_t i, used = 0;
    json_t *item;

    out[0] = '\0';
    json_array_foreach(arr, i, item)
    {
        const char *s = key ? str_member(item, key) : json_string_value(item);
        int n;
        if (s == NULL)
            continue;
        n = snprintf(out + used, cap - used, "%s%s", used ? "," : "", s);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

/* Call and report: returns EXIT_OK with *out, or prints the error. */
static int call(const char *method, const char *path, json_t **out)
{
    struct ob_error err = {0};

    if (client_call(method, path, NULL, out, &err) != 0) {
        json_decref(*out);
        *out = NULL;
        return cli_fail("%s", err.msg);
    }
    return EXIT_OK;
}

int cmd_whoami(int argc, char **argv)
{
    struct client_opts o;
    json_t *reply = NULL;
    char id[24];
    int rc = parse_client_opts(argc, argv, "whoami", NULL, "", 0, &o);

    if (rc >= 0)
        return rc;
    if ((rc = call("GET", "/api/v1/whoami", &reply)) != EXIT_OK)
        return rc;
    if (o.json) {
        cli_print_json(reply);
    } else {
        int_member(reply, "token_id", id, sizeof(id));
        printf("token %s '%s', scope %s, team %s\n", id, str_member(reply, "name"),
               str_member(reply, "scope"),
               str_member(reply, "team") ? str_member(reply, "team") : "all");
    }
    json_decref(reply);
    return EXIT_OK;
}

int cmd_team_list(int argc, char **argv)
{
    static const char *const headers[] = {"TEAM",     "MEMBERS", "SERVICES",
                                          "POLICIES", "CHANNEL", "DESCRIPTION"};
    struct client_opts o;
    json_t *reply = NULL, *team;
    struct table table;
    size_t i;
    int rc = parse_client_opts(argc, argv, "team", "list", "", 0, &o);

    if (rc >= 0)
        return rc;
    if ((rc = call("GET", "/api/v1/teams", &reply)) != EXIT_OK)
        return rc;
    if (o.json) {
        cli_print_json(json_object_get(reply, "teams"));
        json_decref(reply);
        return EXIT_OK;
    }
    table_init(&table, 6, headers);
    json_array_foreach(json_object_get(reply, "teams"), i, team)
    {
        char members[256], services[16], policies[16];
        join_strings(json_object_get(team, "members"), NULL, members, sizeof(members));
        int_member(team, "service_count", services, sizeof(services));
        int_member(team, "policy_count", policies, sizeof(policies));
        const char *row[] = {str_member(team, "name"),
                             members,
                             services,
                             policies,
                             str_member(team, "chat_channel"),
                             str_member(team, "description")};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
    json_decref(reply);
    return EXIT_OK;
}

static void print_services(json_t *services)
{
    static const char *const headers[] = {"SERVICE", "TEAM", "POLICY", "DESCRIPTION"};
    struct table table;
    json_t *svc;
    size_t i;

    table_init(&table, 4, headers);
    json_array_foreach(services, i, svc)
    {
        const char *row[] = {str_member(svc, "name"), str_member(svc, "team"),
                             str_member(svc, "escalation_policy"), str_member(svc, "description")};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
}

int cmd_team_show(int argc, char **argv)
{
    struct client_opts o;
    json_t *reply = NULL;
    char path[256], escaped[192], members[512];
    int rc = parse_client_opts(argc, argv, "team", "show", "", 1, &o);

    if (rc >= 0)
        return rc;
    client_escape(o.positional, escaped, sizeof(escaped));
    snprintf(path, sizeof(path), "/api/v1/teams/%s", escaped);
    if ((rc = call("GET", path, &reply)) != EXIT_OK)
        return rc;
    if (o.json) {
        cli_print_json(reply);
    } else {
        join_strings(json_object_get(reply, "members"), NULL, members, sizeof(members));
        printf("team:        %s\ndescription: %s\nchannel:     %s\nmembers:     %s\n\n",
               str_member(reply, "name"),
               str_member(reply, "description") ? str_member(reply, "description") : "-",
               str_member(reply, "chat_channel") ? str_member(reply, "chat_channel") : "-",
               members[0] ? members : "-");
        print_services(json_object_get(reply, "services"));
    }
    json_decref(reply);
    return EXIT_OK;
}

int cmd_service_list(int argc, char **argv)
{
    struct client_opts o;
    json_t *reply = NULL;
    char path[256], escaped[192];
    int rc = parse_client_opts(argc, argv, "service", "list", "t", 0, &o);

    if (rc >= 0)
        return rc;
    if (o.team != NULL) {
        client_escape(o.team, escaped, sizeof(escaped));
        snprintf(path, sizeof(path), "/api/v1/services?team=%s", escaped);
    } else {
        snprintf(path, sizeof(path), "/api/v1/services");
    }
    if ((rc = call("GET", path, &reply)) != EXIT_OK)
        return rc;
    if (o.json)
        cli_print_json(json_object_get(reply, "services"));
    else
        print_services(json_object_get(reply, "services"));
    json_decref(reply);
    return EXIT_OK;
}

int cmd_user_list(int argc, char **argv)
{
    static const char *const headers[] = {"USER", "NICKNAME", "NAME", "TIME ZONE", "CONTACT"};
    struct client_opts o;
    json_t *reply = NULL, *user;
    struct table table;
    size_t i;
    int rc = parse_client_opts(argc, argv, "user", "list", "", 0, &o);

    if (rc >= 0)
        return rc;
    if ((rc = call("GET", "/api/v1/users", &reply)) != EXIT_OK)
        return rc;
    if (o.json) {
        cli_print_json(json_object_get(reply, "users"));
        json_decref(reply);
        return EXIT_OK;
    }
    table_init(&table, 5, headers);
    json_array_foreach(json_object_get(reply, "users"), i, user)
    {
        char methods[256];
        join_strings(json_object_get(user, "contact_methods"), "type", methods, sizeof(methods));
        const char *row[] = {str_member(user, "name"), str_member(user, "nickname"),
                             str_member(user, "full_name"), str_member(user, "time_zone"), methods};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
    json_decref(reply);
    return EXIT_OK;
}

int cmd_audit_list(int argc, char **argv)
{
    static const char *const headers[] = {"ID", "TIME", "ACTOR", "ACTION", "TARGET", "FROM"};
    struct client_opts o;
    json_t *reply = NULL, *ev;
    struct table table;
    char path[512], esc[160];
    size_t i, used;
    int rc = parse_client_opts(argc, argv, "audit", "list", "aAlb", 0, &o);

    if (rc >= 0)
        return rc;
    used =
        (size_t)snprintf(path, sizeof(path), "/api/v1/audit?limit=%s", o.limit != NULL ? "" : "50");
    if (o.limit != NULL) {
        client_escape(o.limit, esc, sizeof(esc));
        used += (size_t)snprintf(path + used, sizeof(path) - used, "%s", esc);
    }
    if (o.before != NULL) {
        client_escape(o.before, esc, sizeof(esc));
        used += (size_t)snprintf(path + used, sizeof(path) - used, "&before=%s", esc);
    }
    if (o.actor != NULL) {
        client_escape(o.actor, esc, sizeof(esc));
        used += (size_t)snprintf(path + used, sizeof(path) - used, "&actor=%s", esc);
    }
    if (o.action != NULL) {
        client_escape(o.action, esc, sizeof(esc));
        snprintf(path + used, sizeof(path) - used, "&action=%s", esc);
    }
    if ((rc = call("GET", path, &reply)) != EXIT_OK)
        return rc;
    if (o.json) {
        cli_print_json(reply);
        json_decref(reply);
        return EXIT_OK;
    }
    table_init(&table, 6, headers);
    json_array_foreach(json_object_get(reply, "events"), i, ev)
    {
        char id[24], when[32];
        json_t *at = json_object_get(ev, "at_ms");
        time_t secs = json_is_integer(at) ? (time_t)(json_integer_value(at) / 1000) : 0;
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        int_member(ev, "id", id, sizeof(id));
        const char *row[] = {id,
                             when,
                             str_member(ev, "actor"),
                             str_member(ev, "action"),
                             str_member(ev, "target"),
                             str_member(ev, "remote_addr")};
        table_add_row(&table, row);
    }
    table_print(&table, stdout);
    table_release(&table);
    json_decref(reply);
    return EXIT_OK;
}

int cmd_config_reload(int argc, char **argv)
{
    struct client_opts o;
    struct ob_error err = {0};
    json_t *reply = NULL, *d;
    size_t i;
    int rc = parse_client_opts(argc, argv, "config", "reload", "", 0, &o);

    if (rc >= 0)
        return rc;
    if (client_call("POST", "/api/v1/config/reload", NULL, &reply, &err) != 0) {
        /* A refused configuration comes back with every error: print them like check-config. */
        json_array_foreach(json_object_get(reply, "errors"), i, d)
        {
            fprintf(stderr, "%s:%lld:%lld: %s\n", str_member(d, "file"),
                    (long long)json_integer_value(json_object_get(d, "line")),
                    (long long)json_integer_value(json_object_get(d, "column")),
                    str_member(d, "message"));
        }
        json_decref(reply);
        return cli_fail("%s", err.msg);
    }
    if (o.json)
        cli_print_json(reply);
    else
        printf("configuration reloaded\n");
    json_decref(reply);
    return EXIT_OK;
}
